//! What the planner answers: `Plan > Phase > Step`, with locks, durations, rollbacks and checks.

use super::db::Engine;
use serde::{Serialize, Serializer};

/// The lock a step takes on the table it changes, in its engine's own terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Pg(PgLock),
    Mysql(MysqlLock),
}

impl Lock {
    /// The lock as the engine's documentation spells it: `ACCESS EXCLUSIVE`,
    /// `ALGORITHM=INPLACE, LOCK=NONE`.
    pub fn name(self) -> String {
        match self {
            Lock::Pg(l) => l.name().to_string(),
            Lock::Mysql(l) => l.name(),
        }
    }

    /// What ordinary traffic the lock stops while it is held.
    pub fn blocks(self) -> Blocks {
        match self {
            Lock::Pg(l) => l.blocks(),
            Lock::Mysql(l) => l.blocks(),
        }
    }

    pub fn pg(self) -> Option<PgLock> {
        match self {
            Lock::Pg(l) => Some(l),
            Lock::Mysql(_) => None,
        }
    }

    pub fn mysql(self) -> Option<MysqlLock> {
        match self {
            Lock::Mysql(l) => Some(l),
            Lock::Pg(_) => None,
        }
    }
}

impl From<PgLock> for Lock {
    fn from(l: PgLock) -> Self {
        Lock::Pg(l)
    }
}

impl From<MysqlLock> for Lock {
    fn from(l: MysqlLock) -> Self {
        Lock::Mysql(l)
    }
}

impl Serialize for Lock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// InnoDB online DDL algorithms (MySQL manual, "Online DDL Operations"; MariaDB KB,
/// "InnoDB Online DDL Overview").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Only the data dictionary changes.
    Instant,
    /// Built inside the storage engine, possibly rebuilding the table; DML may continue.
    Inplace,
    /// MariaDB only (10.3.7+): in place, and refused rather than rebuilding the table
    /// ("ALGORITHM=NOCOPY is not supported ... Try ALGORITHM=INPLACE"); MariaDB KB, "InnoDB
    /// Online DDL Operations with the NOCOPY Alter Algorithm".
    Nocopy,
    /// A full copy into a new table; DML is blocked while it runs.
    Copy,
}

/// The `LOCK=` clause of ALTER TABLE: what concurrent DML may do while the ALTER runs.
/// With an explicit clause the server refuses an operation it cannot do at that level
/// instead of silently taking a stronger lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockClause {
    /// No clause written: MySQL refuses any LOCK clause next to ALGORITHM=INSTANT.
    Default,
    None,
    Shared,
    Exclusive,
}

/// What a MySQL-family step locks. Every ALTER takes an exclusive metadata lock (MDL) for a
/// moment at its start and its end; between, the LOCK clause decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MysqlLock {
    Alter {
        algorithm: Algorithm,
        lock: LockClause,
    },
    /// An exclusive metadata lock for a moment: RENAME TABLE, CREATE/DROP TRIGGER, the
    /// cut-over of an online-schema-change tool.
    MetadataExclusive,
}

impl MysqlLock {
    pub const INSTANT: MysqlLock = MysqlLock::Alter {
        algorithm: Algorithm::Instant,
        lock: LockClause::Default,
    };
    pub const INPLACE_NONE: MysqlLock = MysqlLock::Alter {
        algorithm: Algorithm::Inplace,
        lock: LockClause::None,
    };
    /// MariaDB's in-place without a rebuild: the server refuses rather than rebuild.
    pub const NOCOPY_NONE: MysqlLock = MysqlLock::Alter {
        algorithm: Algorithm::Nocopy,
        lock: LockClause::None,
    };

    /// `ALGORITHM=INPLACE, LOCK=NONE`, or the metadata lock in words.
    pub fn name(self) -> String {
        match self {
            MysqlLock::Alter { algorithm, lock } => {
                let alg = match algorithm {
                    Algorithm::Instant => "INSTANT",
                    Algorithm::Inplace => "INPLACE",
                    Algorithm::Nocopy => "NOCOPY",
                    Algorithm::Copy => "COPY",
                };
                match lock {
                    LockClause::Default => format!("ALGORITHM={alg}"),
                    LockClause::None => format!("ALGORITHM={alg}, LOCK=NONE"),
                    LockClause::Shared => format!("ALGORITHM={alg}, LOCK=SHARED"),
                    LockClause::Exclusive => format!("ALGORITHM={alg}, LOCK=EXCLUSIVE"),
                }
            }
            MysqlLock::MetadataExclusive => "exclusive metadata lock (brief)".to_string(),
        }
    }

    /// The clause as written in the statement (`ALGORITHM=INSTANT` or
    /// `ALGORITHM=INPLACE, LOCK=NONE`); empty for a metadata lock.
    pub fn clause(self) -> String {
        match self {
            MysqlLock::Alter { .. } => self.name(),
            MysqlLock::MetadataExclusive => String::new(),
        }
    }

    /// What DML waits for. INSTANT and LOCK=NONE still take the exclusive metadata lock for a
    /// moment at start and end, which stops reads and writes then (and for as long as the
    /// ALTER waits for it): reported as reads-and-writes for a catalog-only moment.
    pub fn blocks(self) -> Blocks {
        match self {
            MysqlLock::Alter {
                lock: LockClause::Shared,
                ..
            }
            | MysqlLock::Alter {
                algorithm: Algorithm::Copy,
                lock: LockClause::Default,
            } => Blocks::Writes,
            _ => Blocks::ReadsAndWrites,
        }
    }

    /// True when an online ALTER waits for the exclusive metadata lock twice: at its start
    /// (prepare) and again at its end (commit), each time queueing the traffic behind it for
    /// up to lock_wait_timeout. INSTANT, RENAME and triggers need it once.
    pub fn waits_twice(self) -> bool {
        matches!(
            self,
            MysqlLock::Alter {
                algorithm: Algorithm::Inplace | Algorithm::Nocopy | Algorithm::Copy,
                ..
            }
        )
    }

    /// True when DML continues for the whole run except the metadata-lock moments.
    pub fn dml_continues(self) -> bool {
        match self {
            MysqlLock::Alter { algorithm, lock } => {
                algorithm == Algorithm::Instant || lock == LockClause::None
            }
            MysqlLock::MetadataExclusive => true,
        }
    }
}

/// PostgreSQL table-level lock modes, weakest first (PostgreSQL docs, "Explicit Locking" 13.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PgLock {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl PgLock {
    /// The mode as the documentation and `LOCK TABLE ... IN ... MODE` spell it.
    pub fn name(self) -> &'static str {
        match self {
            PgLock::AccessShare => "ACCESS SHARE",
            PgLock::RowShare => "ROW SHARE",
            PgLock::RowExclusive => "ROW EXCLUSIVE",
            PgLock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            PgLock::Share => "SHARE",
            PgLock::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            PgLock::Exclusive => "EXCLUSIVE",
            PgLock::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// The mode as `pg_locks.mode` shows it.
    pub fn pg_locks_mode(self) -> &'static str {
        match self {
            PgLock::AccessShare => "AccessShareLock",
            PgLock::RowShare => "RowShareLock",
            PgLock::RowExclusive => "RowExclusiveLock",
            PgLock::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            PgLock::Share => "ShareLock",
            PgLock::ShareRowExclusive => "ShareRowExclusiveLock",
            PgLock::Exclusive => "ExclusiveLock",
            PgLock::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// What ordinary traffic this mode stops: SELECT takes ACCESS SHARE, INSERT/UPDATE/DELETE
    /// take ROW EXCLUSIVE (the conflict table of "Explicit Locking").
    pub fn blocks(self) -> Blocks {
        match self {
            PgLock::AccessShare
            | PgLock::RowShare
            | PgLock::RowExclusive
            | PgLock::ShareUpdateExclusive => Blocks::Nothing,
            PgLock::Share | PgLock::ShareRowExclusive | PgLock::Exclusive => Blocks::Writes,
            PgLock::AccessExclusive => Blocks::ReadsAndWrites,
        }
    }
}

/// What a step stops while it holds its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocks {
    Nothing,
    Writes,
    ReadsAndWrites,
}

impl Blocks {
    pub fn describe(self) -> &'static str {
        match self {
            Blocks::Nothing => "nothing: reads and writes continue",
            Blocks::Writes => "writes (reads continue)",
            Blocks::ReadsAndWrites => "reads and writes",
        }
    }
}

/// A duration range in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub low: f64,
    pub high: f64,
}

impl Estimate {
    pub const ZERO: Estimate = Estimate {
        low: 0.0,
        high: 0.0,
    };

    pub fn new(low: f64, high: f64) -> Self {
        Self { low, high }
    }

    pub fn plus(self, other: Estimate) -> Estimate {
        Estimate::new(self.low + other.low, self.high + other.high)
    }

    /// `2 ms – 50 ms`, `3 min – 12 min`.
    pub fn describe(self) -> String {
        if self.high <= 0.0 {
            return "instant".to_string();
        }
        format!("{} – {}", human_seconds(self.low), human_seconds(self.high))
    }
}

/// Seconds as a short human duration.
pub fn human_seconds(s: f64) -> String {
    if s <= 0.0 {
        "0 s".to_string()
    } else if s < 1.0 {
        format!("{} ms", (s * 1000.0).round().max(1.0))
    } else if s < 120.0 {
        format!("{:.0} s", s)
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.1} h", s / 3600.0)
    } else {
        format!("{:.1} days", s / 86400.0)
    }
}

/// A worst case as a short human duration, never rounded down: `150 ms`, `1.1 s` for 1.05 s
/// (a limit the reader relies on must not be understated).
pub fn human_seconds_up(s: f64) -> String {
    if s <= 0.0 || s >= 120.0 {
        human_seconds(s)
    } else if s < 1.0 {
        format!("{} ms", (s * 1000.0 - 1e-6).ceil().max(1.0))
    } else if s < 10.0 {
        let tenths = (s * 10.0 - 1e-6).ceil() / 10.0;
        format!("{} s", tenths)
    } else {
        format!("{} s", (s - 1e-6).ceil())
    }
}

/// One thing an operator runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub title: String,
    /// The statements, each complete and ending in `;`, without the session settings.
    #[serde(serialize_with = "join_statements")]
    pub sql: Vec<String>,
    /// Strongest table lock the step requests on the target table; `None` for plain DML/queries
    /// whose only locks are the ordinary ROW EXCLUSIVE / ACCESS SHARE of traffic.
    pub lock: Option<Lock>,
    pub blocks: Blocks,
    pub rewrites_table: bool,
    pub scans_table: bool,
    /// True: the statements run together in one transaction (BEGIN ... COMMIT).
    /// False: each statement runs on its own, outside any transaction block.
    pub in_transaction: bool,
    /// A query returning one boolean: run the step only when it returns true (psql: `\gset`
    /// then `\if`). Makes steps such as "drop the INVALID index a failed build left" re-runnable.
    pub only_if: Option<String>,
    /// The psql variable that holds the `only_if` result: `\gset` names it after the query's
    /// one column, `\if` reads it. Set with [`Step::run_only_if`] (PostgreSQL steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard_var: Option<String>,
    #[serde(rename = "estimate_seconds")]
    pub estimate: Estimate,
    /// How long this step stops the traffic it blocks, in the worst case: the wait for its lock
    /// ([`Step::lock_wait_seconds`]) plus the time it holds it ([`Step::hold_seconds`]); `low`
    /// is a hold with no wait. 0 when it blocks nothing. Set with [`Step::set_blocking`].
    pub blocking_seconds: Estimate,
    /// The longest time the step may wait for its lock while the traffic it blocks queues
    /// behind the waiting request: its lock timeout (MySQL: lock_wait_timeout in whole
    /// seconds) when its lock conflicts with ordinary reads or writes, else 0.
    pub lock_wait_seconds: f64,
    /// How long the step holds its lock once granted, stopping the traffic it blocks.
    pub hold_seconds: Estimate,
    /// A stall of the whole server that no table lock explains, in the worst case: InnoDB's
    /// DROP TABLE of a table that held data stalls every writer and reader for a moment,
    /// whichever table they use (the estimate model's `drop_stall`). `None`: the step
    /// stalls nothing beyond what `blocks` and `blocking_seconds` say. The live verifier
    /// holds the load's longest stall during the step to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_stall_seconds: Option<Estimate>,
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    /// What to do when the step fails or times out.
    pub retry: String,
    pub notes: Vec<String>,
    /// The errors the application's writes meet more often while this step runs, which it
    /// must retry (pt-online-schema-change's triggers and chunk copy: deadlocks, lock wait
    /// timeouts). The live verifier excuses exactly these, during exactly these steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub app_retries: Vec<AppRetry>,
    /// A command run from a shell instead of SQL (an online-schema-change tool such as
    /// gh-ost or pt-online-schema-change); `sql` is then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// Set when the step's claims come from the documentation and are not checked by
    /// Lockstep's live verification (MySQL-only behaviour; tools not installed there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unverified: Option<String>,
    /// How often the operator runs the statements: once, repeated until done, or once per
    /// row the query returns. Machines (the live verifier, the psql script) read this field.
    pub run: Run,
    /// What running the step again does once it has completed (a re-run of forward.sql after
    /// an interruption). The runbook and the page say "safe to re-run" from this field only.
    pub rerun: Rerun,
    /// The engine the step runs on: decides how its session settings are written.
    #[serde(skip)]
    pub engine: Engine,
}

/// An error the application must retry, named by kind; its code per engine below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppRetry {
    /// MySQL/MariaDB error 1213 (ER_LOCK_DEADLOCK).
    Deadlock,
    /// MySQL/MariaDB error 1205 (ER_LOCK_WAIT_TIMEOUT).
    LockWaitTimeout,
}

impl AppRetry {
    /// The MySQL/MariaDB error number the client reports.
    pub fn mysql_code(self) -> u16 {
        match self {
            AppRetry::Deadlock => 1213,
            AppRetry::LockWaitTimeout => 1205,
        }
    }
}

/// How a step is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Run {
    Once,
    /// One batch per run: repeat until the last statement returns no row, or a single 0.
    UntilDone,
    /// The query writes the statements to run, one per returned row (psql's `\gexec`).
    EachRow,
}

/// What running a completed step again does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rerun {
    /// Nothing: `IF [NOT] EXISTS` or its `only_if` guard skips the work. The live verifier runs
    /// each case's downloaded forward.sql a second time on the migrated database and requires
    /// it to exit 0 with schema and data unchanged.
    Safe,
    /// It fails or does its work again (an online-schema-change tool run, a table copy): the
    /// operator skips it when the checks after it already pass.
    SkipWhenDone,
    /// Not established by a second run here (an engine the verifier does not run the whole
    /// script twice on): the runbook claims nothing.
    Unproven,
}

impl Rerun {
    /// The sentence the runbook and the page add to a step's retry advice, if any.
    pub fn sentence(self) -> Option<&'static str> {
        match self {
            Rerun::Safe => Some(
                "Safe to re-run: once it has completed, running it again changes nothing (verified by running forward.sql a second time on the migrated database).",
            ),
            Rerun::SkipWhenDone => Some(
                "Not safe to re-run once it has completed (it would fail or do its work again): when re-running the script, skip it if the checks after it already pass.",
            ),
            Rerun::Unproven => None,
        }
    }
}

impl Run {
    /// True when the rows a run returned say the repetition is over: no row, or one `0`.
    pub fn finished(rows: &[Vec<Option<String>>]) -> bool {
        rows.is_empty()
            || (rows.len() == 1 && rows[0].first().cloned().flatten().as_deref() == Some("0"))
    }
}

impl Step {
    /// A step with everything the engine's builder does not decide at its neutral value: no
    /// guard, no shell command, run once, re-run unproven, blocking nothing until
    /// [`Step::set_blocking`]. Each engine's `Ctx` sets its transaction, timeouts and retry.
    pub fn new(
        engine: Engine,
        title: &str,
        sql: Vec<String>,
        lock: Option<Lock>,
        blocks: Blocks,
        estimate: Estimate,
    ) -> Step {
        Step {
            title: title.to_string(),
            sql,
            lock,
            blocks,
            rewrites_table: false,
            scans_table: false,
            in_transaction: true,
            only_if: None,
            guard_var: None,
            estimate,
            blocking_seconds: Estimate::ZERO,
            lock_wait_seconds: 0.0,
            hold_seconds: Estimate::ZERO,
            server_stall_seconds: None,
            lock_timeout_ms: None,
            statement_timeout_ms: None,
            retry: String::new(),
            notes: Vec::new(),
            app_retries: Vec::new(),
            shell: None,
            unverified: None,
            run: Run::Once,
            rerun: Rerun::Unproven,
            engine,
        }
    }

    /// Sets the blocking time from its two parts, so that `blocking_seconds.high` is always
    /// `lock_wait_seconds + hold_seconds.high`.
    pub fn set_blocking(&mut self, lock_wait_seconds: f64, hold: Estimate) {
        self.lock_wait_seconds = lock_wait_seconds;
        self.hold_seconds = hold;
        // Rounded to the microsecond: 0.15, not 0.15000000000000002, in the JSON.
        let high = ((hold.high + lock_wait_seconds) * 1e6).round() / 1e6;
        self.blocking_seconds = Estimate::new(hold.low, high);
    }

    /// Runs the step only while `condition` (an SQL boolean) is true: `only_if` selects it as
    /// `column`, and `guard_var` names the psql variable `\gset lockstep_guard_` sets from it.
    pub fn run_only_if(&mut self, column: &str, condition: &str) {
        self.only_if = Some(format!("SELECT {condition} AS {column};"));
        self.guard_var = Some(format!("lockstep_guard_{column}"));
    }

    /// The PostgreSQL lock mode, when the step is a PostgreSQL step that takes one.
    pub fn pg_lock(&self) -> Option<PgLock> {
        self.lock.and_then(Lock::pg)
    }
}

fn join_statements<S: Serializer>(sql: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&sql.join("\n"))
}

/// A statement that returns a phase to the state before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackStep {
    pub sql: String,
    pub note: Option<String>,
    /// A command run from a shell instead of SQL (an online-schema-change tool run with the
    /// inverse change); `sql` is then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// How many of the phases just before this one the rollback also undoes (dropping a
    /// validated constraint also undoes the phase that added it NOT VALID). 0: only its own.
    #[serde(skip_serializing_if = "is_zero")]
    pub also_undoes: usize,
    /// What the rollback leaves different from the schema before the phase, on purpose.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leaves: Vec<Leftover>,
    /// The errors the application must retry while this rollback runs ([`Step::app_retries`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub app_retries: Vec<AppRetry>,
}

impl RollbackStep {
    /// The rollback also undoes the `n` phases just before its own.
    pub fn undoing_previous(mut self, n: usize) -> Self {
        self.also_undoes = n;
        self
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A difference a rollback leaves behind on purpose, predicted by the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Leftover {
    /// pt-online-schema-change's `--alter-foreign-keys-method=rebuild_constraints` re-creates
    /// the child tables' foreign keys under new names: one more leading underscore per run.
    ChildForeignKeysRenamed,
    /// A whole table the rollback creates and keeps (its exact name).
    Table(String),
}

/// A query proving the phase worked, and what it must return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub description: String,
    pub sql: String,
    /// What the query must return, in words for the operator.
    pub expect: String,
    /// The same, for machines: the live verifier runs the query and compares.
    pub expected: Expected,
    /// What a result other than `expected` does to the forward script: stop it before the
    /// next step, or only inform the operator. `Expected::Manual` checks always inform.
    pub on_fail: OnFail,
    /// True when the query reads the whole table (a count of NULLs, duplicates, orphans):
    /// slow on a big table, and it can be run on a replica first.
    pub scans_table: bool,
    /// The client variable that skips this check knowingly when set (`lockstep_skip_1_6`):
    /// psql `-v lockstep_skip_1_6=1`, mysql `--init-command='SET @lockstep_skip_1_6=1'`.
    /// Set on every stopping check of the plan's phases when the plan is assembled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_var: Option<String>,
    /// A query returning 1 or 0: the check applies only while it returns 1. A check of a
    /// transition state (both column names exist) names objects a completed plan has removed:
    /// a re-run of the script skips it there, as it skips the phase's guarded steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_if: Option<String>,
    /// The precondition the check proves, when it is one a machine names (the live
    /// verifier's cases that must stop at it): stable, unlike the description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precondition: Option<Precondition>,
}

/// A precondition of a change, proved by a preflight check that stops the script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Precondition {
    /// Every function and type the change's SQL names exists on the server.
    NamedObjectsExist,
    /// No row holds NULL in the column.
    NoNulls,
    /// No two rows share the key.
    NoDuplicates,
    /// Every child key exists in the parent.
    NoOrphans,
    /// No row violates the CHECK expression.
    NoViolatingRows,
    /// MySQL family: the MODIFY restates every attribute the column has.
    ColumnKeepsAttributes,
    /// MySQL family: the table is not ROW_FORMAT=COMPRESSED (INSTANT column changes are refused).
    NotCompressed,
    /// MySQL family: no FULLTEXT index (nor MariaDB's leftover FTS_DOC_ID) refuses INSTANT.
    NoFulltextIndex,
    /// MySQL family: the column's character set puts the VARCHAR length-prefix boundary where
    /// the plan assumes.
    CharsetAsPlanned,
    /// The index to rebuild backs no constraint (PostgreSQL 10-11 swap a copy in).
    IndexBacksNoConstraint,
    /// No foreign key of another table references the table to drop.
    NotReferenced,
}

/// What a failed check does to the forward script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    /// The next step is unsafe when the check fails: the script stops before it.
    Stop,
    /// The result is for the operator to judge: the script shows it and goes on.
    Inform,
}

impl Check {
    /// The check only informs: its result does not decide whether the next step is safe.
    pub fn informs(mut self) -> Self {
        self.on_fail = OnFail::Inform;
        self
    }

    /// The check reads the whole table.
    pub fn scanning(mut self) -> Self {
        self.scans_table = true;
        self
    }

    /// The check proves `p`.
    pub fn proving(mut self, p: Precondition) -> Self {
        self.precondition = Some(p);
        self
    }

    /// True when the forward script stops on this check's failure.
    pub fn stops(&self) -> bool {
        self.on_fail == OnFail::Stop && self.expected != Expected::Manual
    }
}

/// A check's result as PostgreSQL's text output gives it (`t`/`f` for booleans), so the
/// verifier can compare exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "rows", rename_all = "snake_case")]
pub enum Expected {
    NoRows,
    /// Exactly these rows, each a list of column values in text form.
    Rows(Vec<Vec<String>>),
    /// Depends on the environment (server version, free disk, replicas): judged by the operator.
    Manual,
}

impl Expected {
    /// One row of the given text values.
    pub fn row(values: &[&str]) -> Expected {
        Expected::Rows(vec![values.iter().map(|v| v.to_string()).collect()])
    }
}

/// A named stage of the runbook; the application may have to deploy before the next one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub name: String,
    pub purpose: String,
    /// What the application must deploy before this phase starts, if anything.
    pub app_change: Option<String>,
    pub steps: Vec<Step>,
    pub rollback: Vec<RollbackStep>,
    /// Set when the phase cannot be undone, saying why.
    pub irreversible: Option<String>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: String,
    pub message: String,
}

/// One assumption of the duration model, printed with the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assumption {
    pub name: String,
    pub value: String,
    pub overridden_by: String,
}

/// Which path the plan recommends and the rule that decided, in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Strategy {
    /// `direct` or `online`.
    pub chosen: String,
    pub rule: String,
}

/// The path not recommended, shown beside the plan: the simple direct statement when the
/// online path was chosen for safety, or the online path when the direct one fits the budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alternative {
    pub label: String,
    pub why: String,
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub engine: String,
    pub version: String,
    /// The table, quoted and qualified as the engine writes it (`public.orders`, `` `orders` ``).
    pub table: String,
    /// The table's own name, unquoted and without its schema, for file names.
    #[serde(skip)]
    pub table_name: String,
    pub change: String,
    pub summary: String,
    pub strategy: Strategy,
    pub max_downtime_ms: u64,
    /// The longest time any step of the chosen path blocks traffic, its lock wait included.
    pub longest_blocking_seconds: f64,
    pub phases: Vec<Phase>,
    pub alternative: Option<Alternative>,
    pub warnings: Vec<Warning>,
    pub assumptions: Vec<Assumption>,
    /// True when forward.sql first asks whether the plan is already complete (the last phase's
    /// stopping checks all pass) and then ends without changing anything: a re-run of the
    /// finished script is a no-op (the live verifier runs every PostgreSQL forward.sql twice).
    pub rerun_safe: bool,
    /// True when, after forward.sql stopped between two phases (a failed step, a failed check
    /// fixed since), running it again passes the preflight despite what the earlier run did
    /// and completes the plan (verified live at every phase boundary). False: the preflight
    /// stops the re-run before any change, and the remaining phases are run by hand.
    pub resumes: bool,
}

impl Phase {
    /// How many of the phases just before this one its rollback also undoes.
    pub fn rollback_also_undoes(&self) -> usize {
        self.rollback
            .iter()
            .map(|r| r.also_undoes)
            .max()
            .unwrap_or(0)
    }
}

impl Plan {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.phases.iter().flat_map(|p| p.steps.iter())
    }
}

/// Names the skip variable of every stopping check after its place: `lockstep_skip_<phase>_<n>`
/// (1-based), so the script and the runbook name the same variable.
pub fn name_skip_vars(phases: &mut [Phase]) {
    for (pi, phase) in phases.iter_mut().enumerate() {
        for (ci, check) in phase.checks.iter_mut().enumerate() {
            check.skip_var = check
                .stops()
                .then(|| format!("lockstep_skip_{}_{}", pi + 1, ci + 1));
        }
    }
}

/// The checks that say the plan is complete: the stopping checks of its last phase with
/// checks. Empty when that phase has none a machine can decide.
pub fn completion_checks(phases: &[Phase]) -> Vec<&Check> {
    phases
        .iter()
        .rev()
        .find(|p| !p.checks.is_empty())
        .map(|p| p.checks.iter().filter(|c| c.stops()).collect())
        .unwrap_or_default()
}

/// The longest blocking time of any step in `phases`.
pub fn longest_blocking(phases: &[Phase]) -> f64 {
    phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .map(|s| s.blocking_seconds.high)
        .fold(0.0, f64::max)
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
