//! One file per change type. Each builds the paths it knows (the direct statement, the online
//! phases); [`choose`] picks one from the downtime budget and says which rule decided.

use facts::Statement;

pub mod facts;
use crate::estimate::{Model, CATALOG_ONLY};
use crate::model::human_bytes;
use crate::model::{Blocks, Check, Estimate, Expected, Phase, Plan, RollbackStep, Step, Warning};
use crate::quote;
use crate::request::{Change, FieldError, Request, Version};
use crate::strategy::{check, choose, rollback, Paths};

mod shared;
use shared::{backfill, catalog_names, constraint};

mod add_check;
mod add_column;
mod add_enum_value;
mod add_foreign_key;
mod add_index;
mod add_not_null;
mod add_unique;
mod change_type;
mod drop_column;
mod drop_default;
mod drop_index;
mod drop_not_null;
mod drop_table;
mod reindex;
mod rename_column;
mod rename_enum_value;
mod rename_table;
mod set_default;
mod split_table;

use crate::change_dispatch;
crate::for_each_change_kind!(change_dispatch);

/// Plans a PostgreSQL request for exactly the version it names.
pub fn plan_request(req: &Request) -> Result<Plan, FieldError> {
    let ctx = Ctx::new(req);
    let paths = kind_paths(&ctx, &req.change)?;
    let mut plan = choose(req, &ctx.model, paths)?;
    if plan.strategy.chosen == "online" && online_stops_on_resume(&req.change) {
        plan.resumes = false;
    }
    let extra = environment_warnings(&ctx, &plan.phases);
    plan.warnings.extend(extra);
    Ok(plan)
}

/// The online paths whose forward.sql, re-run after it stopped between two phases, stops in
/// the preflight (its checks describe the table before the plan: the view in the table's place,
/// the added column or table, the swapped type) instead of resuming; the live verifier proves
/// both behaviours at every phase boundary.
fn online_stops_on_resume(change: &Change) -> bool {
    matches!(
        change,
        Change::RenameColumn(_)
            | Change::RenameTable(_)
            | Change::ChangeType(_)
            | Change::SplitTable(_)
    )
}

/// What the optional environment facts change: a write rate that competes with a backfill,
/// and pg_repack for reclaiming the space dropped columns leave behind.
fn environment_warnings(ctx: &Ctx, phases: &[Phase]) -> Vec<Warning> {
    let mut warnings = Vec::new();
    // Batched DML that walks the table: a backfill or a copy.
    let walks_table = phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .any(|s| s.lock.is_none() && s.scans_table && !s.in_transaction);
    if let Some(rate) = ctx.req.env.write_rate {
        if walks_table && rate as f64 > ctx.model.backfill_rows_per_sec as f64 * 0.5 {
            warnings.push(Warning {
                code: "write-rate".to_string(),
                message: format!(
                    "At {rate} rows/s of writes, the batched backfill ({} rows/s assumed) competes with the application for the same rows and WAL, and the trigger this plan installs adds work to every write. Run it off-peak, lower {}, and watch replication lag and lock waits (pg_stat_activity.wait_event) while it runs.",
                    ctx.model.backfill_rows_per_sec,
                    crate::request::params::flag("batch-size")
                ),
            });
        }
    }
    if ctx.req.env.pg_repack
        && matches!(
            ctx.req.change,
            Change::DropColumn(_) | Change::SplitTable(_)
        )
    {
        warnings.push(Warning {
            code: "pg-repack".to_string(),
            message: format!(
                "DROP COLUMN leaves the column's bytes in every row until rows are rewritten. pg_repack is available: after the last phase, `pg_repack --no-order --table {} <connection options>` rewrites the table online (ACCESS EXCLUSIVE only briefly at its start and end; it needs a primary key or a unique NOT NULL index, and free disk for a full copy).",
                quote::shell(&ctx.table())
            ),
        });
    }
    warnings
}

/// What every change needs: the request, the duration model and the SQL helpers.
pub struct Ctx<'a> {
    pub req: &'a Request,
    pub model: Model,
}

/// Shortest lock_timeout of plain DML and queries (a backfill batch): their waits are for
/// rows an application transaction holds, and queue no table traffic, so a zero budget's
/// 100 ms would only make batches fail for nothing.
pub const DML_LOCK_TIMEOUT_MS: u64 = 500;

/// lock_timeout of steps whose lock blocks no traffic (SHARE UPDATE EXCLUSIVE).
pub const NON_BLOCKING_LOCK_TIMEOUT_MS: u64 = 10 * 60 * 1000;

/// The default retry advice for a DDL statement guarded by lock_timeout.
pub const RETRY_LOCK_TIMEOUT: &str = "If it fails with \"canceling statement due to lock timeout\", traffic was never blocked for longer than the lock_timeout: wait and run it again, backing off (5 s, 15 s, 60 s). Before retrying, look for the blocker with the preflight's long-transaction query. Safe to re-run.";

impl<'a> Ctx<'a> {
    pub fn new(req: &'a Request) -> Self {
        Ctx {
            req,
            model: Model::for_request(req),
        }
    }

    pub fn version(&self) -> Version {
        self.req.db.version
    }

    /// The target table, quoted and qualified.
    pub fn table(&self) -> String {
        quote::qualified(self.req.schema.as_deref(), &self.req.table)
    }

    /// Another table in the same schema, quoted and qualified.
    pub fn sibling(&self, name: &str) -> String {
        quote::qualified(self.req.schema.as_deref(), name)
    }

    /// `'<qualified name>'::regclass`, for catalog queries.
    pub fn regclass(&self) -> String {
        format!("{}::regclass", quote::literal(&self.table()))
    }

    /// `'<qualified name>'::regclass` for another relation of the same schema.
    pub fn regclass_of(&self, name: &str) -> String {
        format!("{}::regclass", quote::literal(&self.sibling(name)))
    }

    /// A DDL step: lock from the statement kind, and a lock_timeout and statement_timeout from
    /// the budget. A step whose lock stops reads or writes (SHARE and stronger) also stops
    /// them while it waits: PostgreSQL queues every later conflicting request behind the
    /// waiting one. Its blocking time is that wait (its lock_timeout, which the budget sets
    /// from `duration`, the hold) plus the hold.
    pub fn ddl(&self, title: &str, sql: Vec<String>, stmt: Statement, duration: Estimate) -> Step {
        let lock = stmt.lock();
        let blocks = lock.map_or(Blocks::Nothing, |l| l.blocks());
        let blocking = blocks != Blocks::Nothing;
        // A waiting SHARE UPDATE EXCLUSIVE request queues only other DDL and autovacuum,
        // never reads or writes, so a non-blocking step may wait much longer for its lock
        // (CREATE INDEX CONCURRENTLY also waits out older transactions under lock_timeout).
        let lock_timeout_ms = if blocking {
            self.model.lock_timeout_for(duration)
        } else if lock.is_none() {
            // Plain DML and queries queue no table traffic; their lock waits are row waits.
            self.model
                .lock_timeout_override_ms
                .unwrap_or(self.model.lock_timeout_ms.max(DML_LOCK_TIMEOUT_MS))
        } else {
            NON_BLOCKING_LOCK_TIMEOUT_MS
        };
        let mut step = Step::new(
            crate::request::Engine::Postgresql,
            title,
            sql,
            lock,
            blocks,
            duration,
        );
        step.lock_timeout_ms = Some(lock_timeout_ms);
        step.statement_timeout_ms = Some(if blocking {
            self.model.blocking_statement_timeout_ms(lock_timeout_ms)
        } else {
            0
        });
        step.retry = RETRY_LOCK_TIMEOUT.to_string();
        // The PostgreSQL second run of forward.sql decides which steps are proven.
        if blocking {
            step.set_blocking(self.model.lock_wait_seconds(lock_timeout_ms), duration);
        }
        step
    }

    /// A catalog-only DDL step (brief lock).
    pub fn brief(&self, title: &str, sql: Vec<String>, stmt: Statement) -> Step {
        self.ddl(title, sql, stmt, CATALOG_ONLY)
    }

    /// A read-only query step (preflight, verification): no lock beyond ACCESS SHARE.
    pub fn query(&self, title: &str, sql: Vec<String>) -> Step {
        let mut step = self.ddl(title, sql, Statement::Dml, Estimate::new(0.001, 1.0));
        step.retry = "Read-only: safe to re-run at any time.".to_string();
        step
    }

    /// A rollback statement run under the plan's lock_timeout, for rollbacks that take a lock
    /// (a queued ACCESS EXCLUSIVE request blocks traffic even while it waits).
    pub fn rollback_ddl(&self, sql: impl Into<String>, note: Option<&str>) -> RollbackStep {
        let timeout = crate::render::timeout_value(self.model.lock_timeout_ms);
        rollback(
            format!("SET lock_timeout = {timeout};\n{}", sql.into()),
            note,
        )
    }

    /// The preflight phase every plan starts with: version hazards, long transactions that
    /// would make a DDL queue (and so block everyone), replication lag and disk headroom.
    pub fn preflight(&self, needs_free_bytes: Option<u64>, extra_checks: Vec<Check>) -> Phase {
        let v = self.version();
        let mut checks = vec![
            check(
                "The server is the major version this plan was made for, and not an older minor release",
                format!(
                    "SELECT current_setting('server_version_num')::int / 10000 AS major, current_setting('server_version_num')::int >= {} AS not_older;",
                    facts::version_num(v)
                ),
                &format!(
                    "{}, t (the plan was made for {v}; an older minor release lacks fixes the plan relies on)",
                    v.major
                ),
                Expected::row(&[&v.major.to_string(), "t"]),
            ),
            check(
                "No long-running transaction holds locks a DDL statement would queue behind",
                "SELECT pid, state, now() - xact_start AS xact_age, left(query, 60) AS query FROM pg_stat_activity WHERE xact_start < now() - interval '1 minute' AND pid <> pg_backend_pid() AND datname = current_database() ORDER BY xact_start;",
                "no rows (end or wait out any listed transaction first)",
                Expected::NoRows,
            ),
            check(
                "Nothing already holds or waits for a strong lock on the table",
                format!(
                    "SELECT l.pid, l.mode, l.granted, a.state, left(a.query, 60) AS query FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.relation = {} AND l.pid <> pg_backend_pid() AND (NOT l.granted OR l.mode NOT IN ('AccessShareLock', 'RowShareLock', 'RowExclusiveLock'));",
                    self.regclass()
                ),
                "no rows",
                Expected::NoRows,
            ),
        ];
        if self.req.env.replicas {
            checks.push(check(
                "Replicas are caught up",
                "SELECT application_name, state, replay_lag FROM pg_stat_replication;",
                "every replica streaming, replay_lag under a few seconds",
                Expected::Manual,
            ));
        }
        if let Some(bytes) = needs_free_bytes {
            checks.push(check(
                "Disk headroom for what this change writes",
                format!(
                    "SELECT pg_size_pretty(pg_total_relation_size({})) AS table_with_indexes;",
                    self.regclass()
                ),
                &format!(
                    "free space on the data volume (df) above {} plus WAL headroom",
                    human_bytes(bytes)
                ),
                Expected::Manual,
            ));
        }
        checks.extend(extra_checks);
        Phase {
            name: "preflight".to_string(),
            purpose:
                "Confirm the server and the traffic are what this plan assumes. Changes nothing."
                    .to_string(),
            app_change: None,
            steps: Vec::new(),
            rollback: Vec::new(),
            irreversible: None,
            checks,
        }
    }

    /// Warnings that depend only on the version.
    pub fn version_warnings(&self, uses_concurrent_index: bool) -> Vec<Warning> {
        let mut warnings = Vec::new();
        let v = self.version();
        if uses_concurrent_index && facts::CONCURRENT_INDEX_CORRUPTION.holds(v) {
            warnings.push(Warning {
                code: "pg14-cic-corruption".to_string(),
                message: format!(
                    "PostgreSQL {v}: CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY can build corrupt indexes before 14.4. Upgrade to the latest 14.x minor release first{}.",
                    if v.minor.is_none() { " (no minor version was given, so 14.0-14.3 is assumed possible)" } else { "" }
                ),
            });
        }
        warnings
    }
}
#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Plan};
    use crate::render::markdown;
    use crate::request::params::Params;

    fn plan(db: &str, budget: &str, extra: &[(&str, &str)]) -> Result<Plan, String> {
        let mut p = Params::new()
            .with("db", db)
            .with("change", "add-column")
            .with("table", "orders")
            .with("column", "note")
            .with("type", "text")
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", budget);
        for (k, v) in extra {
            p = p.with(k, *v);
        }
        crate::plan(&p).map_err(|e| e[0].message.clone())
    }

    fn blocking_step(plan: &Plan) -> &crate::model::Step {
        plan.steps().find(|s| s.blocks != Blocks::Nothing).unwrap()
    }

    /// Issue 10, item 6: the wait behind a long transaction is part of "blocked for".
    #[test]
    fn blocking_time_includes_the_lock_wait() {
        let p = plan("postgres@16", "0", &[("lock-timeout", "500ms")]).unwrap();
        let add = blocking_step(&p);
        assert_eq!(add.lock_wait_seconds, 0.5);
        assert_eq!(add.hold_seconds.high, 0.05);
        assert!((add.blocking_seconds.high - 0.55).abs() < 1e-9);
        assert!((p.longest_blocking_seconds - 0.55).abs() < 1e-9);
        let md = markdown::render(&p, &Params::new());
        assert!(md.contains("up to 500 ms while it waits for its lock, then 50 ms"));
        assert!(md.contains("Longest blocking step: up to 550 ms"));
    }

    #[test]
    fn the_lock_timeout_follows_the_budget() {
        let zero = plan("postgres@16", "0", &[]).unwrap();
        let short = plan("postgres@16", "200ms", &[]).unwrap();
        let two = plan("postgres@16", "2s", &[]).unwrap();
        let timeout = |p: &Plan| blocking_step(p).lock_timeout_ms.unwrap();
        assert_eq!(timeout(&zero), 100);
        assert_eq!(timeout(&short), 150);
        assert_eq!(timeout(&two), 1950);
        assert!((short.longest_blocking_seconds - 0.2).abs() < 1e-9);
        // Zero budget: the plan exists and says what zero downtime means.
        assert!(zero
            .strategy
            .rule
            .contains("a catalog-only moment plus at most 100 ms of queueing"));
        assert!(!short.strategy.rule.contains("catalog-only moment plus"));
        let maria = plan("mariadb@10.11", "200ms", &[]).unwrap();
        assert_eq!(blocking_step(&maria).lock_wait_seconds, 1.0);
        assert!(maria
            .strategy
            .rule
            .contains("a catalog-only moment plus at most 1 s of queueing"));
    }

    /// An online ALTER on MariaDB waits for its metadata lock at its start and at its end.
    #[test]
    fn online_alter_says_both_lock_waits() {
        let p = crate::plan(
            &Params::new()
                .with("db", "mariadb@10.11")
                .with("change", "add-index")
                .with("table", "orders")
                .with("columns", "customer_id")
                .with("rows", "50M")
                .with("size", "20GB")
                .with("max-downtime", "0"),
        )
        .unwrap();
        let build = blocking_step(&p);
        assert_eq!(build.lock_wait_seconds, 1.0);
        assert_eq!(
            crate::render::blocked_for(build),
            "up to 1 s while it waits for its lock, then 50 ms, at its start and again at its end (not the whole run)"
        );
    }

    /// A rewrite fits only when its hold leaves room for the shortest lock timeout; the
    /// refusal names a budget at which the plan exists.
    #[test]
    fn a_rewrite_must_leave_room_for_its_lock_wait() {
        let volatile = [("generated", "length(status)")];
        let p = plan("postgres@16", "10m", &volatile).unwrap();
        let hold = blocking_step(&p).hold_seconds.high;
        let at_hold = format!("{}ms", (hold * 1000.0).ceil() as u64);
        let message = plan("postgres@16", &at_hold, &volatile).unwrap_err();
        assert!(message.contains("raise it to at least"), "{message}");
        let suggested = crate::postgres::tests::suggested(&message);
        let fitted = plan("postgres@16", &suggested, &volatile).unwrap();
        let step = blocking_step(&fitted);
        assert!(step.blocking_seconds.high <= fitted.max_downtime_ms as f64 / 1000.0 + 1e-9);
    }

    /// The budget a refusal names, in milliseconds, as the user would type it.
    fn suggested(message: &str) -> String {
        let rest = message.split("at least ").nth(1).unwrap();
        let mut words = rest.split_whitespace();
        let value: f64 = words.next().unwrap().parse().unwrap();
        let unit = words
            .next()
            .unwrap()
            .trim_end_matches(|c: char| !c.is_alphabetic());
        let ms = match unit {
            "ms" => value,
            "s" => value * 1000.0,
            "min" => value * 60_000.0,
            other => panic!("unit {other}"),
        };
        format!("{}ms", ms.ceil() as u64)
    }
}
