//! One file per change type. Each builds the paths it knows (the direct statement, the online
//! phases); [`choose`] picks one from the downtime budget and says which rule decided.

use crate::engines::postgres::{self, Statement};
use crate::estimate::{Model, CATALOG_ONLY};
use crate::input::{Change, FieldError, Request, Version};
use crate::plan::{
    human_seconds, longest_blocking, Alternative, Blocks, Check, Estimate, Expected, OnFail, Phase,
    Plan, RollbackStep, Step, Strategy, Warning,
};
use crate::quote;

mod add_check;
mod add_column;
mod add_foreign_key;
mod add_index;
mod add_not_null;
mod add_unique;
mod backfill;
mod change_type;
mod constraint;
mod drop_column;
mod drop_index;
mod rename_column;
mod rename_table;
mod split_table;

/// Plans a validated request: MySQL and MariaDB in [`crate::mysql`], PostgreSQL here.
pub fn plan_request(req: &Request) -> Result<Plan, FieldError> {
    if req.db.engine.is_mysql_family() {
        return crate::mysql::plan_request(req);
    }
    let ctx = Ctx::new(req);
    let paths = match &req.change {
        Change::AddColumn { .. } => add_column::paths(&ctx)?,
        Change::DropColumn { .. } => drop_column::paths(&ctx)?,
        Change::RenameColumn { .. } => rename_column::paths(&ctx)?,
        Change::RenameTable { .. } => rename_table::paths(&ctx)?,
        Change::ChangeType { .. } => change_type::paths(&ctx)?,
        Change::AddIndex { .. } => add_index::paths(&ctx)?,
        Change::DropIndex { .. } => drop_index::paths(&ctx)?,
        Change::AddNotNull { .. } => add_not_null::paths(&ctx)?,
        Change::AddUnique { .. } => add_unique::paths(&ctx)?,
        Change::AddForeignKey { .. } => add_foreign_key::paths(&ctx)?,
        Change::AddCheck { .. } => add_check::paths(&ctx)?,
        Change::SplitTable { .. } => split_table::paths(&ctx)?,
    };
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
        Change::RenameColumn { .. }
            | Change::RenameTable { .. }
            | Change::ChangeType { .. }
            | Change::SplitTable { .. }
    )
}

/// The ways a change can be made. A change fills in what exists for it.
#[derive(Debug, Default)]
pub struct Paths {
    /// One line saying what the change does, for the plan's heading.
    pub summary: String,
    /// The plain statement(s), as a developer would write them, with preflight.
    pub direct: Option<Vec<Phase>>,
    /// The phased path that keeps traffic flowing.
    pub online: Option<Vec<Phase>>,
    /// Set when the online path must be used even where the direct one fits the budget
    /// (a rename breaks every client still using the old name, whatever its lock).
    pub online_required: Option<String>,
    pub warnings: Vec<Warning>,
}

/// Picks the path: the direct statement when its longest blocking fits the budget (with the
/// online path offered beside it), otherwise the online path (with the direct one shown as
/// what not to do). Fails, naming `max-downtime`, when no path fits.
/// Shared by every engine: the rule is about blocking time, not about how a lock is named.
pub fn choose(req: &Request, model: &Model, paths: Paths) -> Result<Plan, FieldError> {
    let budget_s = req.max_downtime_ms as f64 / 1000.0;
    let budget = human_budget(req.max_downtime_ms);
    let direct_blocking = paths.direct.as_deref().map(longest_blocking);
    let online_blocking = paths.online.as_deref().map(longest_blocking);
    let (chosen, rule, phases, alternative) = match (paths.direct, paths.online) {
        (Some(direct), Some(online)) => {
            let d = direct_blocking.unwrap_or(0.0);
            if let Some(reason) = &paths.online_required {
                let rule = format!("Online path required: {reason}");
                let alt = Alternative {
                    label: "The single statement (only when every client is stopped)".to_string(),
                    why: format!(
                        "It blocks traffic for up to {}, but {reason}",
                        human_seconds(d)
                    ),
                    phases: direct,
                };
                ("online", rule, online, Some(alt))
            } else if d <= budget_s {
                let rule = format!(
                    "The direct statement blocks traffic for at most {} (estimated), within the {budget} budget, so it is the simple path; the online path beside it blocks for at most {}.",
                    human_seconds(d),
                    human_seconds(online_blocking.unwrap_or(0.0))
                );
                let o = online_blocking.unwrap_or(0.0);
                let alt = if o <= CATALOG_ONLY.high {
                    Alternative {
                        label: "Online path (if you would rather block nothing)".to_string(),
                        why: "More steps, but no step blocks traffic beyond a catalog-only moment."
                            .to_string(),
                        phases: online,
                    }
                } else {
                    // Some online paths end with an optional blocking step that fits the budget
                    // (SET NOT NULL on 10/11): say so rather than promise no blocking.
                    Alternative {
                        label: "Online path".to_string(),
                        why: format!(
                            "More steps; its longest blocking step is {} (see each step).",
                            human_seconds(o)
                        ),
                        phases: online,
                    }
                };
                ("direct", rule, direct, Some(alt))
            } else {
                let rule = format!(
                    "The direct statement would block traffic for up to {} (estimated), over the {budget} budget, so the online path is the plan; its longest blocking step is {}.",
                    human_seconds(d),
                    human_seconds(online_blocking.unwrap_or(0.0))
                );
                let alt = Alternative {
                    label: "Do NOT run this on a live table".to_string(),
                    why: format!(
                        "It blocks traffic for up to {} on a table of this size.",
                        human_seconds(d)
                    ),
                    phases: direct,
                };
                ("online", rule, online, Some(alt))
            }
        }
        (Some(direct), None) => {
            let rule = format!(
                "There is one way to make this change; it blocks traffic for at most {} (estimated), within the {budget} budget.",
                human_seconds(direct_blocking.unwrap_or(0.0))
            );
            ("direct", rule, direct, None)
        }
        (None, Some(online)) => {
            let rule = "Only the online path is offered for this change.".to_string();
            ("online", rule, online, None)
        }
        (None, None) => {
            return Err(FieldError::new(
                "change",
                "no path was built for this change",
            ));
        }
    };
    let mut phases = phases;
    crate::plan::name_skip_vars(&mut phases);
    // The other path's script would number its checks the same way.
    let mut alternative = alternative;
    if let Some(alt) = &mut alternative {
        crate::plan::name_skip_vars(&mut alt.phases);
    }
    let rerun_safe =
        !req.db.engine.is_mysql_family() && !crate::plan::completion_checks(&phases).is_empty();
    let resumes = rerun_safe;
    let longest = longest_blocking(&phases);
    // A catalog-only moment under lock_timeout is what "zero downtime" can promise: every
    // online path needs one to publish its catalog change.
    if longest > budget_s.max(CATALOG_ONLY.high) {
        return Err(FieldError::new(
            "max-downtime",
            format!(
                "{budget} is too short: on {} {} the shortest path for this change blocks traffic for up to {}. Accepts a duration such as 0, 500ms, 30s or 5m; raise it to at least {}{}",
                req.db.engine.label(),
                req.db.version,
                human_seconds(longest),
                human_seconds(longest),
                paths.online_required.map(|r| format!(" ({r})")).unwrap_or_default()
            ),
        ));
    }
    Ok(Plan {
        engine: req.db.engine.name().to_string(),
        version: req.db.version.to_string(),
        table: if req.db.engine.is_mysql_family() {
            quote::mysql::qualified(req.schema.as_deref(), &req.table)
        } else {
            quote::qualified(req.schema.as_deref(), &req.table)
        },
        change: req.change.kind().to_string(),
        summary: paths.summary,
        strategy: Strategy {
            chosen: chosen.to_string(),
            rule,
        },
        max_downtime_ms: req.max_downtime_ms,
        longest_blocking_seconds: longest,
        phases,
        alternative,
        warnings: paths.warnings,
        assumptions: model.assumptions(),
        rerun_safe,
        resumes,
    })
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
                    "At {rate} rows/s of writes, the batched backfill ({} rows/s assumed) competes with the application for the same rows and WAL, and the trigger this plan installs adds work to every write. Run it off-peak, lower --batch-size, and watch replication lag and lock waits (pg_stat_activity.wait_event) while it runs.",
                    ctx.model.backfill_rows_per_sec
                ),
            });
        }
    }
    if ctx.req.env.pg_repack
        && matches!(
            ctx.req.change,
            Change::DropColumn { .. } | Change::SplitTable { .. }
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

fn human_budget(ms: u64) -> String {
    if ms == 0 {
        "zero-downtime".to_string()
    } else {
        human_seconds(ms as f64 / 1000.0)
    }
}

/// What every change needs: the request, the duration model and the SQL helpers.
pub struct Ctx<'a> {
    pub req: &'a Request,
    pub model: Model,
}

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

    /// A DDL step: lock from the statement kind, lock_timeout from the model, and a
    /// statement_timeout that bounds blocking steps by the budget.
    pub fn ddl(&self, title: &str, sql: Vec<String>, stmt: Statement, duration: Estimate) -> Step {
        let lock = stmt.lock();
        let blocks = lock.map_or(Blocks::Nothing, |l| l.blocks());
        let blocking = blocks != Blocks::Nothing;
        Step {
            title: title.to_string(),
            sql,
            lock,
            blocks,
            rewrites_table: false,
            scans_table: false,
            in_transaction: true,
            only_if: None,
            estimate: duration,
            blocking_seconds: if blocking {
                duration
            } else {
                Estimate::new(0.0, 0.0)
            },
            // A waiting SHARE UPDATE EXCLUSIVE request queues only other DDL and autovacuum,
            // never reads or writes, so a non-blocking step may wait much longer for its lock
            // (CREATE INDEX CONCURRENTLY also waits out older transactions under lock_timeout).
            lock_timeout_ms: Some(if blocking || lock.is_none() {
                self.model.lock_timeout_ms
            } else {
                NON_BLOCKING_LOCK_TIMEOUT_MS
            }),
            statement_timeout_ms: Some(if blocking {
                self.model.blocking_statement_timeout_ms()
            } else {
                0
            }),
            retry: RETRY_LOCK_TIMEOUT.to_string(),
            notes: Vec::new(),
            shell: None,
            unverified: None,
            run: crate::plan::Run::Once,
            engine: crate::input::Engine::Postgresql,
        }
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
                "The server is the major version this plan was made for",
                "SELECT current_setting('server_version_num')::int / 10000 AS major;",
                &format!("{} (the plan was made for {v})", v.major),
                Expected::row(&[&v.major.to_string()]),
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
        if uses_concurrent_index && postgres::concurrent_index_corruption_bug(v) {
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

/// A rollback statement.
pub fn rollback(sql: impl Into<String>, note: Option<&str>) -> RollbackStep {
    RollbackStep {
        sql: sql.into(),
        note: note.map(str::to_string),
        shell: None,
    }
}

/// A validation query: what it must return in words, and the same for the verifier.
pub fn check(description: &str, sql: impl Into<String>, expect: &str, expected: Expected) -> Check {
    Check {
        description: description.to_string(),
        sql: sql.into(),
        expect: expect.to_string(),
        on_fail: if expected == Expected::Manual {
            OnFail::Inform
        } else {
            OnFail::Stop
        },
        expected,
        scans_table: false,
        skip_var: None,
    }
}

/// Bytes as a short human size.
pub fn human_bytes(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}
