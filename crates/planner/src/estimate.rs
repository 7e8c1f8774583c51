//! The duration model: every estimate in a plan comes from here, from stated assumptions the
//! user can override (the `*-per-sec` parameters). Ranges run from half to twice the nominal
//! figure: the same statement on the same table varies that much with cache, I/O and load.

use crate::input::{Engine, Request};
use crate::plan::{Assumption, Estimate};

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
    pub lock_timeout_ms: u64,
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
            // A waiting DDL blocks every later query on the table, so the wait itself is
            // downtime: bounded by the budget, but never so short that it cannot succeed.
            lock_timeout_ms: o
                .lock_timeout_ms
                .unwrap_or(req.max_downtime_ms.clamp(500, 5_000)),
            max_downtime_ms: req.max_downtime_ms,
            engine: req.db.engine,
        }
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

    /// A keyset-paginated backfill of every row, with its pauses.
    pub fn backfill(&self) -> Estimate {
        let batches = (self.rows as f64 / self.batch_size as f64).ceil();
        let work = self.rows as f64 / self.backfill_rows_per_sec as f64;
        let pauses = batches * self.batch_pause_ms as f64 / 1000.0;
        Self::range(work).plus(Estimate::new(pauses, pauses))
    }

    /// The statement_timeout of a step that blocks traffic: the lock wait plus the budget, so a
    /// step that runs longer than promised aborts instead of extending the outage.
    pub fn blocking_statement_timeout_ms(&self) -> u64 {
        self.lock_timeout_ms + self.max_downtime_ms.max(1_000)
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
            if mysql {
                a(
                    "lock_wait_timeout",
                    format!(
                        "{} s per DDL statement ({} ms rounded up to whole seconds)",
                        crate::mysql::lock_wait_seconds(self.lock_timeout_ms),
                        self.lock_timeout_ms
                    ),
                    "lock-timeout",
                )
            } else {
                a(
                    "lock_timeout",
                    format!("{} ms per DDL statement", self.lock_timeout_ms),
                    "lock-timeout",
                )
            },
            a("ranges", "half to twice the nominal figure".to_string(), ""),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::{Model, MYSQL_BATCH_ROWS, PG_BATCH_ROWS};
    use crate::input::Request;
    use crate::params::Params;

    fn model(db: &str, batch: Option<&str>) -> Model {
        let mut p = Params::new()
            .with("db", db)
            .with("change", "add-column")
            .with("table", "orders")
            .with("column", "note")
            .with("type", "text")
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", "0");
        if let Some(b) = batch {
            p = p.with("batch-size", b);
        }
        Model::for_request(&Request::from_params(&p).unwrap())
    }

    #[test]
    fn batch_size_by_engine_unless_overridden() {
        assert_eq!(model("postgres@16", None).batch_size, PG_BATCH_ROWS);
        assert_eq!(model("mariadb@10.11", None).batch_size, MYSQL_BATCH_ROWS);
        assert_eq!(model("mysql@8.0.35", None).batch_size, 1_000);
        assert_eq!(model("mysql@8.0.35", Some("250")).batch_size, 250);
        assert_eq!(model("postgres@16", Some("250")).batch_size, 250);
    }
}
