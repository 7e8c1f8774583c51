//! The duration model: every estimate in a plan comes from here, from stated assumptions the
//! user can override (the `*-per-sec` parameters). Ranges run from half to twice the nominal
//! figure: the same statement on the same table varies that much with cache, I/O and load.

use crate::model::{Assumption, Estimate};
use crate::request::{Engine, Request};

/// Pause between two batches of a backfill, so replicas and autovacuum keep up.
pub const BATCH_PAUSE_MS: u64 = 50;

const MB: f64 = 1024.0 * 1024.0;

/// Time a catalog-only statement holds its lock once granted.
pub const CATALOG_ONLY: Estimate = Estimate {
    low: 0.001,
    high: 0.05,
};

/// Rows per backfill batch on PostgreSQL, unless `--batch-size` says otherwise.
pub const PG_BATCH_ROWS: u64 = 5_000;

/// Rows per backfill batch on MySQL and MariaDB, unless `--batch-size` says otherwise. Each
/// UPDATE batch holds its rows' locks (and fires the table's triggers) until it commits, and a
/// writer touching one of those rows waits: 5000-row batches stalled a concurrent writer about
/// 230 ms on MariaDB 10.11 (Lockstep's live verifier). 1000 is also the default chunk of
/// pt-online-schema-change and gh-ost.
pub const MYSQL_BATCH_ROWS: u64 = 1_000;

/// How fast the filesystem deletes a dropped table's file, nominal: ext4 and XFS free a file's
/// extents at gigabytes per second (ext3's block maps are far slower). While it does, every
/// other writer's commit waits for the same filesystem journal.
pub const DROP_FILE_GB_PER_SEC: f64 = 20.0;

/// How fast a DROP TABLE that walks the buffer pool for the table's pages (or drops their
/// adaptive hash index entries) gets through it, nominal: about 1 s per 32 GB of buffer pool
/// (Shattered Silicon, "MySQL Drop Truncate Lock Bug", MySQL bug #98869, MDEV-9459). Counted
/// for a buffer pool as large as the table: a larger one stalls longer.
pub const DROP_CACHED_PAGES_GB_PER_SEC: f64 = 32.0;

/// The shortest lock timeout the planner chooses by itself (PostgreSQL): long enough to be
/// granted between the short queries of a busy table, short enough that the queries queued
/// behind a waiting DDL barely notice. A timeout is no failure: the runbook retries with backoff.
pub const MIN_LOCK_TIMEOUT_MS: u64 = 100;

/// The longest lock timeout chosen from a budget: past a few seconds, retrying later beats
/// holding the queue.
pub const MAX_LOCK_TIMEOUT_MS: u64 = 5_000;

/// The assumptions behind every estimate of one plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub rows: u64,
    pub bytes: u64,
    pub batch_size: u64,
    pub backfill_rows_per_sec: u64,
    pub rewrite_mb_per_sec: u64,
    pub scan_mb_per_sec: u64,
    pub index_mb_per_sec: u64,
    /// Pause between backfill batches, so replicas and autovacuum keep up.
    pub batch_pause_ms: u64,
    /// The lock timeout of a catalog-only step, and of rollbacks and tool cut-overs:
    /// [`Model::lock_timeout_for`] a catalog-only hold.
    pub lock_timeout_ms: u64,
    /// `--lock-timeout`: when given, every blocking step uses it, whatever the budget.
    pub lock_timeout_override_ms: Option<u64>,
    pub max_downtime_ms: u64,
    /// The engine: the assumptions are worded in its terms.
    pub engine: Engine,
}

impl Model {
    pub fn for_request(req: &Request) -> Model {
        let o = &req.overrides;
        Model {
            rows: req.rows,
            bytes: req.bytes,
            batch_size: o.batch_size.unwrap_or(if req.db.engine.is_mysql_family() {
                MYSQL_BATCH_ROWS
            } else {
                PG_BATCH_ROWS
            }),
            backfill_rows_per_sec: o.backfill_rows_per_sec.unwrap_or(20_000),
            rewrite_mb_per_sec: o.rewrite_mb_per_sec.unwrap_or(60),
            scan_mb_per_sec: o.scan_mb_per_sec.unwrap_or(250),
            index_mb_per_sec: o.index_mb_per_sec.unwrap_or(40),
            batch_pause_ms: BATCH_PAUSE_MS,
            lock_timeout_ms: 0,
            lock_timeout_override_ms: o.lock_timeout_ms,
            max_downtime_ms: req.max_downtime_ms,
            engine: req.db.engine,
        }
        .with_catalog_lock_timeout()
    }

    fn with_catalog_lock_timeout(mut self) -> Model {
        self.lock_timeout_ms = self.lock_timeout_for(CATALOG_ONLY);
        self
    }

    /// The lock timeout of a step that stops traffic and holds its lock for up to `hold.high`.
    /// A waiting DDL makes every later query on the table queue behind it, so the wait is
    /// downtime too: the step gets the part of the budget its hold leaves, between
    /// [`MIN_LOCK_TIMEOUT_MS`] (also the zero-budget value: zero downtime is a catalog-only
    /// moment plus at most that much queueing) and [`MAX_LOCK_TIMEOUT_MS`]. So a 200 ms budget
    /// gives a catalog-only step 150 ms, a 2 s budget 1950 ms. MySQL and MariaDB count
    /// lock_wait_timeout in whole seconds, at least 1: rounded down to fit, never below 1 s.
    /// `--lock-timeout` overrides it for every step.
    pub fn lock_timeout_for(&self, hold: Estimate) -> u64 {
        if let Some(ms) = self.lock_timeout_override_ms {
            return ms;
        }
        let hold_ms = (hold.high * 1000.0).ceil() as u64;
        let left = self.max_downtime_ms.saturating_sub(hold_ms);
        let ms = left.clamp(MIN_LOCK_TIMEOUT_MS, MAX_LOCK_TIMEOUT_MS);
        if self.engine.is_mysql_family() {
            (ms / 1000).max(1) * 1000
        } else {
            ms
        }
    }

    /// How long a request under `lock_timeout_ms` may wait, as the server counts it: MySQL's
    /// lock_wait_timeout takes whole seconds (rounded up, at least 1).
    pub fn lock_wait_seconds(&self, lock_timeout_ms: u64) -> f64 {
        if self.engine.is_mysql_family() {
            crate::quote::mysql::lock_wait_seconds(lock_timeout_ms) as f64
        } else {
            lock_timeout_ms as f64 / 1000.0
        }
    }

    /// The worst case of a step that stops traffic and holds its lock for `hold`: the whole
    /// lock timeout of queueing, then the hold.
    pub fn worst_case(&self, hold: Estimate) -> f64 {
        self.lock_wait_seconds(self.lock_timeout_for(hold)) + hold.high
    }

    /// The budget rule for one step: it fits when its worst case (the wait, then the hold) is
    /// within the budget, or when it holds its lock for a catalog-only moment. That moment plus
    /// its lock timeout of queueing is what "zero downtime" can promise: every online path
    /// needs one to publish its catalog change, so an online plan exists at any budget, with
    /// the lock timeout as short as the planner makes it (or as `--lock-timeout` says).
    pub fn fits(&self, hold: Estimate, blocking_high: f64) -> bool {
        hold.high <= CATALOG_ONLY.high || blocking_high <= self.budget_seconds() + 1e-6
    }

    /// [`Model::fits`] for a step not built yet, that would hold its lock for `hold`.
    pub fn fits_hold(&self, hold: Estimate) -> bool {
        self.fits(hold, self.worst_case(hold))
    }

    pub fn budget_seconds(&self) -> f64 {
        self.max_downtime_ms as f64 / 1000.0
    }

    fn range(nominal: f64) -> Estimate {
        Estimate::new(nominal * 0.5, nominal * 2.0)
    }

    fn mb(&self) -> f64 {
        self.bytes as f64 / MB
    }

    /// One sequential scan of the table (VALIDATE CONSTRAINT, SET NOT NULL's check).
    pub fn scan(&self) -> Estimate {
        Self::range(self.mb() / self.scan_mb_per_sec as f64).plus(CATALOG_ONLY)
    }

    /// A full rewrite of the table and its indexes (ALTER COLUMN TYPE, volatile default).
    pub fn rewrite(&self) -> Estimate {
        Self::range(self.mb() / self.rewrite_mb_per_sec as f64).plus(CATALOG_ONLY)
    }

    /// A plain CREATE INDEX: a scan plus a sort of the indexed values.
    pub fn index_build(&self) -> Estimate {
        Self::range(self.mb() / self.index_mb_per_sec as f64).plus(CATALOG_ONLY)
    }

    /// CREATE INDEX CONCURRENTLY: two scans plus waits for older transactions; ~2-3x a plain build.
    pub fn concurrent_index_build(&self) -> Estimate {
        let plain = self.index_build();
        Estimate::new(plain.low * 2.0, plain.high * 3.0)
    }

    /// How long InnoDB's DROP TABLE of a table of `bytes` stalls every writer and reader on
    /// the server, whatever table they use (no lock involved): the drop's commit (a
    /// catalog-only moment: 35 ms seen on MariaDB 10.11 under load), the deletion of its file
    /// ([`DROP_FILE_GB_PER_SEC`]) and, where the server walks the buffer pool for its pages
    /// (`walks_cached_pages`, the MySQL facts' `DROP_TABLE_WALKS_CACHED_PAGES`),
    /// that pass ([`DROP_CACHED_PAGES_GB_PER_SEC`]).
    pub fn drop_stall(&self, bytes: u64, walks_cached_pages: bool) -> Estimate {
        let gb = bytes as f64 / MB / 1024.0;
        let mut nominal = gb / DROP_FILE_GB_PER_SEC;
        if walks_cached_pages {
            nominal += gb / DROP_CACHED_PAGES_GB_PER_SEC;
        }
        Self::range(nominal).plus(CATALOG_ONLY)
    }

    /// A keyset-paginated backfill of every row, with its pauses.
    pub fn backfill(&self) -> Estimate {
        let batches = (self.rows as f64 / self.batch_size as f64).ceil();
        let work = self.rows as f64 / self.backfill_rows_per_sec as f64;
        let pauses = batches * self.batch_pause_ms as f64 / 1000.0;
        Self::range(work).plus(Estimate::new(pauses, pauses))
    }

    /// The statement_timeout of a step that blocks traffic: its lock wait plus the budget, so a
    /// step that runs longer than promised aborts instead of extending the outage.
    pub fn blocking_statement_timeout_ms(&self, lock_timeout_ms: u64) -> u64 {
        lock_timeout_ms + self.max_downtime_ms.max(1_000)
    }

    /// The lock timeout assumption in words: the override, or the rule that derives it from
    /// the budget. A waiting DDL makes the queries behind it queue, so it counts as downtime.
    fn lock_timeout_text(&self) -> String {
        let value = if self.engine.is_mysql_family() {
            format!(
                "{} s",
                crate::quote::mysql::lock_wait_seconds(self.lock_timeout_ms)
            )
        } else {
            format!("{} ms", self.lock_timeout_ms)
        };
        if self.lock_timeout_override_ms.is_some() {
            return format!("{value} per DDL statement (given); the traffic queued behind a waiting statement waits up to that long, counted in each step's blocking time");
        }
        let min = if self.engine.is_mysql_family() {
            "1 s (whole seconds)".to_string()
        } else {
            format!("{MIN_LOCK_TIMEOUT_MS} ms")
        };
        format!("{value} for a catalog-only statement: the budget less the time a step holds its lock, at least {min} and at most {} s; the traffic queued behind a waiting statement waits up to that long, counted in each step's blocking time", MAX_LOCK_TIMEOUT_MS / 1000)
    }

    pub fn assumptions(&self) -> Vec<Assumption> {
        let a = |name: &str, value: String, flag: &str| Assumption {
            name: name.to_string(),
            value,
            overridden_by: flag.to_string(),
        };
        let mysql = self.engine.is_mysql_family();
        vec![
            a(
                if mysql {
                    "backfill and online-schema-change copy throughput"
                } else {
                    "backfill throughput"
                },
                format!("{} rows/s", self.backfill_rows_per_sec),
                "backfill-rows-per-sec",
            ),
            a(
                "backfill batch",
                format!(
                    "{} rows, {} ms pause between batches",
                    self.batch_size, self.batch_pause_ms
                ),
                "batch-size",
            ),
            a(
                "table rewrite",
                format!("{} MB/s (table and its indexes)", self.rewrite_mb_per_sec),
                "rewrite-mb-per-sec",
            ),
            a(
                "sequential scan",
                format!("{} MB/s", self.scan_mb_per_sec),
                "scan-mb-per-sec",
            ),
            a(
                "index build",
                if mysql {
                    format!(
                        "{} MB of table per second (ALGORITHM=INPLACE, LOCK=NONE)",
                        self.index_mb_per_sec
                    )
                } else {
                    format!(
                        "{} MB of table per second; CONCURRENTLY takes 2-3x",
                        self.index_mb_per_sec
                    )
                },
                "index-mb-per-sec",
            ),
            a(
                "catalog-only statement",
                "1-50 ms once its lock is granted".to_string(),
                "",
            ),
            a(
                if mysql {
                    "lock_wait_timeout"
                } else {
                    "lock_timeout"
                },
                self.lock_timeout_text(),
                "lock-timeout",
            ),
            a("ranges", "half to twice the nominal figure".to_string(), ""),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::{Model, CATALOG_ONLY, MYSQL_BATCH_ROWS, PG_BATCH_ROWS};
    use crate::model::Estimate;
    use crate::request::params::Params;
    use crate::request::Request;

    /// The model of an add-column on a 1M-row, 1 GB table, with `extra` parameters set.
    fn model_with(db: &str, extra: &[(&str, &str)]) -> Model {
        let mut p = Params::new()
            .with("db", db)
            .with("change", "add-column")
            .with("table", "orders")
            .with("column", "note")
            .with("type", "text")
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", "0");
        for (k, v) in extra {
            p.set(k, *v);
        }
        Model::for_request(&Request::from_params(&p).unwrap())
    }

    fn batch_model(db: &str, batch: Option<&str>) -> Model {
        model_with(
            db,
            &batch
                .map(|b| ("batch-size", b))
                .into_iter()
                .collect::<Vec<_>>(),
        )
    }

    fn model(db: &str, budget: &str, lock_timeout: Option<&str>) -> Model {
        let mut extra = vec![("max-downtime", budget)];
        extra.extend(lock_timeout.map(|t| ("lock-timeout", t)));
        model_with(db, &extra)
    }

    #[test]
    fn batch_size_by_engine_unless_overridden() {
        assert_eq!(batch_model("postgres@16", None).batch_size, PG_BATCH_ROWS);
        assert_eq!(
            batch_model("mariadb@10.11", None).batch_size,
            MYSQL_BATCH_ROWS
        );
        assert_eq!(batch_model("mysql@8.0.35", None).batch_size, 1_000);
        assert_eq!(batch_model("mysql@8.0.35", Some("250")).batch_size, 250);
        assert_eq!(batch_model("postgres@16", Some("250")).batch_size, 250);
    }

    #[test]
    fn the_budget_sets_the_lock_timeout() {
        let catalog = |db, budget| model(db, budget, None).lock_timeout_for(CATALOG_ONLY);
        assert_eq!(catalog("postgres@16", "0"), 100);
        assert_eq!(catalog("postgres@16", "200ms"), 150);
        assert_eq!(catalog("postgres@16", "2s"), 1950);
        assert_eq!(catalog("postgres@16", "10m"), 5000);
        // Whole seconds on MySQL and MariaDB, rounded down to fit, at least 1.
        assert_eq!(catalog("mariadb@10.11", "0"), 1000);
        assert_eq!(catalog("mariadb@10.11", "2s"), 1000);
        assert_eq!(catalog("mysql@8.0.35", "3500ms"), 3000);
        // A longer hold leaves less of the budget for the wait.
        let m = model("postgres@16", "2s", None);
        assert_eq!(m.lock_timeout_for(Estimate::new(0.5, 1.5)), 500);
        assert_eq!(m.lock_timeout_for(Estimate::new(1.0, 1.95)), 100);
        // --lock-timeout wins over the budget.
        assert_eq!(
            model("postgres@16", "0", Some("500ms")).lock_timeout_for(CATALOG_ONLY),
            500
        );
    }

    #[test]
    fn a_drop_stalls_for_its_commit_then_in_proportion_to_the_table() {
        let m = model_with("mariadb@10.11", &[("size", "10MB")]);
        let small = m.drop_stall(m.bytes, false);
        assert_eq!(m.drop_stall(0, false), CATALOG_ONLY);
        assert!(
            small.high > CATALOG_ONLY.high && small.high < 0.052,
            "{small:?}"
        );
        // 120 GB: 6 s nominal to delete the file, 12 s at worst.
        let big = model_with("mariadb@10.11", &[("size", "120GB")]);
        let bytes = big.bytes;
        assert!((big.drop_stall(bytes, false).high - (12.0 + CATALOG_ONLY.high)).abs() < 1e-6);
        // Walking the buffer pool for its pages adds 120/32 s nominal, 7.5 s at worst.
        let walked = big.drop_stall(bytes, true).high - big.drop_stall(bytes, false).high;
        assert!((walked - 7.5).abs() < 1e-6, "{walked}");
    }

    #[test]
    fn worst_case_is_the_wait_then_the_hold() {
        let m = model("postgres@16", "2s", None);
        assert!((m.worst_case(CATALOG_ONLY) - 2.0).abs() < 1e-9);
        let hold = Estimate::new(0.5, 1.5);
        assert!((m.worst_case(hold) - 2.0).abs() < 1e-9);
        assert!(m.fits_hold(hold));
        // 1.95 s of hold leaves less than the shortest lock timeout: over the budget.
        assert!(!m.fits_hold(Estimate::new(1.0, 1.95)));
        // A catalog-only moment fits any budget, with its lock timeout of queueing.
        let zero = model("postgres@16", "0", None);
        assert!((zero.worst_case(CATALOG_ONLY) - 0.15).abs() < 1e-9);
        assert!(zero.fits_hold(CATALOG_ONLY));
        assert!(!zero.fits_hold(Estimate::new(0.01, 0.06)));
        let maria = model("mariadb@10.11", "0", None);
        assert!((maria.worst_case(CATALOG_ONLY) - 1.05).abs() < 1e-9);
    }
}
