//! The MySQL and MariaDB planner: one file per change type, as for PostgreSQL in
//! [`crate::changes`], sharing its `Plan` shape and its budget rule ([`choose`]). Version rules
//! live in [`crate::mysql::facts`]; online-schema-change tools in [`tools`].

use crate::estimate::{Model, CATALOG_ONLY};
use crate::model::human_bytes;
use crate::model::{
    Blocks, Check, Estimate, Expected, Lock, MysqlLock, Phase, Plan, Precondition, RollbackStep,
    Step,
};
use crate::mysql::facts::{Server, UNVERIFIED};
use crate::quote::mysql as quote;
use crate::request::{FieldError, Request};
use crate::strategy::{check, choose, Paths};

pub mod facts;
pub mod shared;
use shared::{definition, enum_list, environment, instant_bugs};
pub use shared::{rerun, tools};

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
/// Plans a validated MySQL or MariaDB request.
pub fn plan_request(req: &Request) -> Result<Plan, FieldError> {
    let ctx = Ctx::new(req);
    if let Some(first_ga) = ctx.server.pre_ga_release_of() {
        return Err(FieldError::new(
            "db",
            format!(
                "{} {} is a pre-release build: the plans write ALGORITHM=INSTANT and NOCOPY, which {first_ga} (the first GA release of {}.{}) introduced. Accepts a GA release, e.g. {}@{first_ga} or later",
                req.db.engine.label(),
                req.db.version,
                req.db.version.major,
                req.db.version.minor.unwrap_or(0),
                req.db.engine.name(),
            ),
        ));
    }
    let paths = kind_paths(&ctx, &req.change)?;
    let mut plan = choose(req, &ctx.model, paths)?;
    let extra = environment::warnings(&ctx, &plan.phases);
    plan.warnings.extend(extra);
    let defects = instant_bugs::warnings(&ctx, &plan.phases);
    plan.warnings.extend(defects);
    rerun::apply(&mut plan);
    Ok(plan)
}

/// What every MySQL-family change needs: the request, the server's rules, the duration model
/// and the SQL helpers.
pub struct Ctx<'a> {
    pub req: &'a Request,
    pub server: Server,
    pub model: Model,
}

/// Retry advice for a DDL statement guarded by lock_wait_timeout.
pub const RETRY_LOCK_WAIT: &str = "If it fails with \"Lock wait timeout exceeded\", the ALTER gave up waiting for the metadata lock and traffic was blocked for at most lock_wait_timeout: find the blocker with the preflight's long-transaction query, then run it again, backing off (5 s, 15 s, 60 s).";

impl<'a> Ctx<'a> {
    pub fn new(req: &'a Request) -> Self {
        Ctx {
            req,
            server: Server {
                engine: req.db.engine,
                version: req.db.version,
            },
            model: Model::for_request(req),
        }
    }

    /// The target table, quoted and qualified.
    pub fn table(&self) -> String {
        quote::qualified(self.req.schema.as_deref(), &self.req.table)
    }

    /// Another table in the same schema, quoted and qualified.
    pub fn sibling(&self, name: &str) -> String {
        quote::qualified(self.req.schema.as_deref(), name)
    }

    /// The schema as an `information_schema` predicate value: the named one or `DATABASE()`.
    pub fn schema_value(&self) -> String {
        self.req
            .schema
            .as_deref()
            .map_or("DATABASE()".to_string(), quote::literal)
    }

    /// `table_schema = ... AND table_name = '...'` for `information_schema` queries about
    /// the target table (or a sibling).
    pub fn where_table(&self, name: &str) -> String {
        format!(
            "table_schema = {} AND table_name = {}",
            self.schema_value(),
            quote::literal(name)
        )
    }

    /// `ALTER TABLE <table> <clauses>, ALGORITHM=..., LOCK=...;` as one step. Steps whose DML
    /// continues block traffic only for the metadata-lock moments at start and end.
    pub fn alter(
        &self,
        title: &str,
        clauses: &[String],
        lock: MysqlLock,
        duration: Estimate,
    ) -> Step {
        self.alter_on(title, &self.table(), clauses, lock, duration)
    }

    /// [`Ctx::alter`] on another table.
    pub fn alter_on(
        &self,
        title: &str,
        table: &str,
        clauses: &[String],
        lock: MysqlLock,
        duration: Estimate,
    ) -> Step {
        let lock = self.as_written(lock);
        let sql = format!(
            "ALTER TABLE {table} {}{};",
            clauses.join(", "),
            self.lock_clause(lock)
        );
        self.step(title, vec![sql], Some(lock), duration)
    }

    /// The lock as this server's statement spells it: MariaDB takes `LOCK=NONE` next to
    /// `ALGORITHM=INSTANT` (an extra guard), MySQL refuses any LOCK clause there.
    pub fn as_written(&self, lock: MysqlLock) -> MysqlLock {
        if lock == MysqlLock::INSTANT && facts::LOCK_CLAUSE_WITH_INSTANT.holds(self.server) {
            MysqlLock::Alter {
                algorithm: crate::model::Algorithm::Instant,
                lock: crate::model::LockClause::None,
            }
        } else {
            lock
        }
    }

    /// `, ALGORITHM=INSTANT` (MySQL) or `, ALGORITHM=INSTANT, LOCK=NONE` (MariaDB):
    /// written every time so the server refuses rather than silently copying the table.
    pub fn lock_clause(&self, lock: MysqlLock) -> String {
        let clause = self.as_written(lock).clause();
        if clause.is_empty() {
            clause
        } else {
            format!(", {clause}")
        }
    }

    /// A step with the given lock (none for queries and DML), bounded by lock_wait_timeout.
    /// Every ALTER, RENAME and CREATE/DROP TRIGGER waits for an exclusive metadata lock, and
    /// while it waits every later query on the table queues behind it (INSTANT and LOCK=NONE
    /// too, at their start and again at their end): the step's blocking time is that wait (its
    /// lock_wait_timeout, set from the budget and the hold) plus the hold, which is a
    /// catalog-only moment when DML continues and the whole run otherwise.
    pub fn step(
        &self,
        title: &str,
        sql: Vec<String>,
        lock: Option<MysqlLock>,
        duration: Estimate,
    ) -> Step {
        let (blocks, hold) = match lock {
            None => (Blocks::Nothing, Estimate::ZERO),
            Some(l) if l.dml_continues() => (l.blocks(), CATALOG_ONLY),
            Some(l) => (l.blocks(), duration),
        };
        let blocking_long = lock.is_some_and(|l| !l.dml_continues());
        let lock_timeout_ms = if lock.is_some() {
            self.model.lock_timeout_for(hold)
        } else {
            self.model.lock_timeout_ms
        };
        let mut step = Step::new(
            self.req.db.engine,
            title,
            sql,
            lock.map(Lock::Mysql),
            blocks,
            duration,
        );
        // MySQL commits implicitly before and after every DDL statement.
        step.in_transaction = false;
        step.lock_timeout_ms = Some(lock_timeout_ms);
        step.statement_timeout_ms = Some(if blocking_long {
            self.model.blocking_statement_timeout_ms(lock_timeout_ms)
        } else {
            0
        });
        step.retry = RETRY_LOCK_WAIT.to_string();
        // Re-run safety is set for the finished plan by [`rerun::apply`].
        if blocks != Blocks::Nothing {
            step.set_blocking(self.model.lock_wait_seconds(lock_timeout_ms), hold);
        }
        step
    }

    /// How long dropping an InnoDB table of `bytes` stalls every query on this server, no lock
    /// involved ([`crate::estimate::Model::drop_stall`]).
    pub fn drop_stall(&self, bytes: u64) -> Estimate {
        self.model.drop_stall(
            bytes,
            facts::DROP_TABLE_WALKS_CACHED_PAGES.holds(self.server),
        )
    }

    /// Claims on `step`, the DROP TABLE of a table that holds (almost) nothing, the moment its
    /// commit stalls the server: a stall, not a lock.
    pub fn small_drop_stall(&self, step: &mut Step) {
        step.server_stall_seconds = Some(self.drop_stall(0));
        step.notes.push(format!(
            "No lock stops the traffic, but InnoDB's commit of the drop stalls every query on the server for a moment (up to {} here).",
            crate::model::human_seconds_up(self.drop_stall(0).high)
        ));
    }

    /// A read-only query step.
    pub fn query(&self, title: &str, sql: Vec<String>) -> Step {
        let mut step = self.step(title, sql, None, Estimate::new(0.001, 1.0));
        step.retry = "Read-only: run it again at any time.".to_string();
        step
    }

    /// Marks a step whose claims are MySQL-only (not checked on MariaDB here).
    pub fn documented(&self, mut step: Step) -> Step {
        if !self.server.verified_here() {
            step.unverified = Some(UNVERIFIED.to_string());
        }
        step
    }

    /// A rollback statement under the plan's lock_wait_timeout.
    pub fn rollback_ddl(&self, sql: impl Into<String>, note: Option<&str>) -> RollbackStep {
        RollbackStep {
            sql: format!(
                "SET SESSION lock_wait_timeout = {};\n{}",
                lock_wait_seconds(self.model.lock_timeout_ms),
                sql.into()
            ),
            note: note.map(str::to_string),
            shell: None,
            also_undoes: 0,
            leaves: Vec::new(),
            app_retries: Vec::new(),
        }
    }

    /// An `only_if` guard: 1 while `column` is still a column of table `name`, 0 once a
    /// completed plan has dropped it (a re-run then skips the step).
    pub fn column_present(&self, name: &str, column: &str) -> String {
        format!(
            "SELECT COUNT(*) > 0 AS present FROM information_schema.columns WHERE {} AND column_name = {};",
            self.where_table(name),
            quote::literal(column)
        )
    }

    /// An `only_if` guard: 1 while a table or view is named `name`.
    pub fn relation_present(&self, name: &str) -> String {
        format!(
            "SELECT COUNT(*) > 0 AS present FROM information_schema.tables WHERE {};",
            self.where_table(name)
        )
    }

    /// An `only_if` guard: 1 while `name` is still a base table (not yet renamed away and
    /// replaced by a view).
    pub fn base_table_present(&self, name: &str) -> String {
        format!(
            "SELECT COUNT(*) > 0 AS present FROM information_schema.tables WHERE {} AND table_type = 'BASE TABLE';",
            self.where_table(name)
        )
    }

    /// The column as `information_schema.columns` shows it: one row `name, type, nullable,
    /// default` when present; used by checks on every column change.
    pub fn column_check(
        &self,
        description: &str,
        column: &str,
        expect: &str,
        expected: Expected,
    ) -> Check {
        check(
            description,
            format!(
                "SELECT COUNT(*) AS present FROM information_schema.columns WHERE {} AND column_name = {};",
                self.where_table(&self.req.table),
                quote::literal(column)
            ),
            expect,
            expected,
        )
    }

    /// The preflight phase: version, long transactions and metadata-lock waits that would make
    /// an ALTER queue (and so block everyone), replication, disk headroom.
    /// MySQL 8.0.29+ gives a table at most 64 row versions, one per INSTANT ADD or DROP
    /// COLUMN statement, and refuses the next one (ERROR 4092) until a rebuild resets the count
    /// (manual, "Online DDL Operations", column operations). The preflight check that `table`
    /// has room for the `statements` INSTANT ADD/DROP COLUMN statements this plan runs, saying
    /// what to do otherwise; `None` where the server has no such limit.
    pub fn row_version_room(&self, table: &str, statements: u32, otherwise: &str) -> Option<Check> {
        let limit = self.server.instant_row_version_limit()?;
        Some(check(
            &format!("Room for {statements} more row version(s) (MySQL 8.0.29+: at most {limit} INSTANT ADD/DROP COLUMN statements per table)"),
            format!(
                "SELECT total_row_versions + {statements} <= {limit} AS room FROM information_schema.innodb_tables WHERE name = CONCAT({}, '/', {});",
                self.schema_value(),
                quote::literal(table)
            ),
            &format!("1 (0: the INSTANT statement would be refused with ERROR 4092; {otherwise})"),
            Expected::row(&["1"]),
        ))
    }

    /// What refuses ALGORITHM=INSTANT ADD/DROP COLUMN on every version, as stopping preflight
    /// checks on `table` for a plan that adds `added` columns (0: drops only), `otherwise`
    /// naming the in-place statement to run instead. Both engines refuse it on
    /// `ROW_FORMAT=COMPRESSED` and with a FULLTEXT index (MySQL manual, "Online DDL
    /// Operations", "Adding a column" and "Dropping a column"; MariaDB KB, "InnoDB Online DDL
    /// Operations with the INSTANT Alter Algorithm": a hidden FTS_DOC_ID column refuses it,
    /// and it stays after the FULLTEXT index is dropped; all seen on MariaDB 10.11). With a
    /// FULLTEXT index the in-place rebuild refuses LOCK=NONE too ("Fulltext index creation
    /// requires a lock", seen on 10.11). MySQL also caps the columns
    /// ([`Server::instant_column_cap`]).
    pub fn instant_column_limits(&self, table: &str, added: u32, otherwise: &str) -> Vec<Check> {
        let where_t = self.where_table(table);
        let mut checks = vec![
            check(
                "The table is not ROW_FORMAT=COMPRESSED (INSTANT ADD/DROP COLUMN is refused there)",
                format!("SELECT COUNT(*) = 0 AS not_compressed FROM information_schema.tables WHERE {where_t} AND row_format = 'Compressed';"),
                &format!("1 (0: the INSTANT statement would be refused; {otherwise})"),
                Expected::row(&["1"]),
            )
            .proving(Precondition::NotCompressed),
            check(
                "The table has no FULLTEXT index (INSTANT ADD/DROP COLUMN is refused with one)",
                self.fulltext_count_sql(table),
                "1 (0: the INSTANT statement would be refused, and the in-place rebuild refuses LOCK=NONE too (\"Fulltext index creation requires a lock\"): copy the table with an online-schema-change tool instead, or run the in-place ALTER with LOCK=SHARED where writes may wait for the whole rebuild)",
                Expected::row(&["1"]),
            )
            .proving(Precondition::NoFulltextIndex),
        ];
        if let Some(cap) = self.server.instant_column_cap().filter(|_| added > 0) {
            checks.push(check(
                &format!("Room for {added} more column(s) under MySQL's INSTANT cap ({cap} columns in InnoDB's representation, the 3 hidden ones included)"),
                format!(
                    "SELECT n_cols + {added} <= {cap} AS room FROM information_schema.innodb_tables WHERE name = CONCAT({}, '/', {});",
                    self.schema_value(),
                    quote::literal(table)
                ),
                &format!("1 (0: the INSTANT statement would be refused with ERROR 4158; {otherwise})"),
                Expected::row(&["1"]),
            ));
        }
        checks
    }

    /// 1 when `table` has no FULLTEXT index (and, on MariaDB, no hidden FTS_DOC_ID column
    /// left behind by a dropped one; `information_schema.innodb_sys_columns` shows it there).
    fn fulltext_count_sql(&self, table: &str) -> String {
        let leftover = if self.server.is_mariadb() {
            format!(
                " + (SELECT COUNT(*) FROM information_schema.innodb_sys_columns c JOIN information_schema.innodb_sys_tables t ON t.table_id = c.table_id WHERE t.name = CONCAT({}, '/', {}) AND c.name = 'FTS_DOC_ID')",
                self.schema_value(),
                quote::literal(table)
            )
        } else {
            String::new()
        };
        format!(
            "SELECT (SELECT COUNT(*) FROM information_schema.statistics WHERE {} AND index_type = 'FULLTEXT'){leftover} = 0 AS no_fulltext;",
            self.where_table(table)
        )
    }

    pub fn preflight(&self, needs_free_bytes: Option<u64>, extra_checks: Vec<Check>) -> Phase {
        let v = self.req.db.version;
        let mut checks = vec![
            check(
                "The server is the series this plan was made for, and not an older release of it",
                format!("SELECT {} AS same_version;", version_predicate(v)),
                &format!(
                    "1 (the plan was made for {} {v}; an older release lacks what the plan relies on)",
                    self.req.db.engine.label()
                ),
                Expected::row(&["1"]),
            ),
            check(
                "No long-running transaction holds a metadata lock an ALTER would queue behind",
                "SELECT trx_mysql_thread_id, trx_started, LEFT(trx_query, 60) AS query FROM information_schema.innodb_trx WHERE trx_started < NOW() - INTERVAL 1 MINUTE ORDER BY trx_started;",
                "no rows (end or wait out any listed transaction first)",
                Expected::NoRows,
            ),
            check(
                "Nothing is already waiting for a metadata lock",
                "SELECT id, user, time, state, LEFT(info, 60) AS query FROM information_schema.processlist WHERE state LIKE 'Waiting for%metadata lock%';",
                "no rows",
                Expected::NoRows,
            ),
        ];
        if facts::METADATA_LOCKS_TABLE.holds(self.server) {
            checks.push(check(
                "No session holds or waits for a strong metadata lock on the table (MySQL 8.0+)",
                format!(
                    "SELECT owner_thread_id, lock_type, lock_status FROM performance_schema.metadata_locks WHERE object_schema = {} AND object_name = {} AND (lock_status = 'PENDING' OR lock_type IN ('EXCLUSIVE', 'SHARED_NO_WRITE', 'SHARED_NO_READ_WRITE', 'SHARED_UPGRADABLE'));",
                    self.schema_value(),
                    quote::literal(&self.req.table)
                ),
                "no rows",
                Expected::NoRows,
            ));
        }
        if self.req.env.replicas {
            checks.push(check(
                "Replicas are caught up (run on each replica)",
                format!("{};", self.server.replica_status()),
                "replication threads running, Seconds_Behind_Master / Seconds_Behind_Source under a few seconds",
                Expected::Manual,
            ));
        }
        if let Some(bytes) = needs_free_bytes {
            checks.push(check(
                "Disk headroom for what this change writes",
                format!(
                    "SELECT ROUND((data_length + index_length) / 1048576) AS table_mb FROM information_schema.tables WHERE {};",
                    self.where_table(&self.req.table)
                ),
                &format!(
                    "free space on the data volume (df) above {} plus binlog headroom",
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
}

/// True on a server of `v`'s series no older than `v`: `VERSION()` is `8.0.35`,
/// `8.0.35-log` or `10.11.6-MariaDB-log`, so the patch is the last dotted number before any
/// `-`. Without a patch only the series is compared.
pub fn version_predicate(v: crate::request::Version) -> String {
    let series = match v.minor {
        Some(minor) => format!("{}.{minor}.%", v.major),
        None => format!("{}.%", v.major),
    };
    let same_series = format!("VERSION() LIKE {}", quote::literal(&series));
    match v.patch {
        Some(patch) => format!(
            "{same_series} AND CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(VERSION(), '-', 1), '.', -1) AS UNSIGNED) >= {patch}"
        ),
        None => same_series,
    }
}

pub use crate::quote::mysql::lock_wait_seconds;

/// Paths with just a summary, for changes to fill in.
pub fn summary_paths(summary: String) -> Paths {
    Paths {
        summary,
        ..Paths::default()
    }
}

/// MySQL 8.0.29+ refuses an INSTANT ADD COLUMN that would let a row outgrow the permissible
/// size ([`crate::mysql::facts::Server::instant_add_checks_row_size`]); the maximum
/// possible row size is not in `information_schema`, so the plan says what to do instead.
pub(crate) fn row_size_warning(inplace: &str) -> crate::model::Warning {
    crate::model::Warning {
        code: "mysql-instant-row-size".to_string(),
        message: format!("MySQL 8.0.29+ refuses ALGORITHM=INSTANT ADD COLUMN when the table's maximum possible row size with the new column would cross the permissible row size (ERROR 4092, nothing changed). The preflight cannot compute that size; on a wide table, if the server refuses, {inplace}"),
    }
}
