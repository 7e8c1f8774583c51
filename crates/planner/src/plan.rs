//! What the planner answers: `Plan > Phase > Step`, with locks, durations, rollbacks and checks.

use serde::{Serialize, Serializer};

/// PostgreSQL table-level lock modes, weakest first (PostgreSQL docs, "Explicit Locking" 13.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lock {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl Lock {
    /// The mode as the documentation and `LOCK TABLE ... IN ... MODE` spell it.
    pub fn name(self) -> &'static str {
        match self {
            Lock::AccessShare => "ACCESS SHARE",
            Lock::RowShare => "ROW SHARE",
            Lock::RowExclusive => "ROW EXCLUSIVE",
            Lock::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Lock::Share => "SHARE",
            Lock::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Lock::Exclusive => "EXCLUSIVE",
            Lock::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// The mode as `pg_locks.mode` shows it.
    pub fn pg_locks_mode(self) -> &'static str {
        match self {
            Lock::AccessShare => "AccessShareLock",
            Lock::RowShare => "RowShareLock",
            Lock::RowExclusive => "RowExclusiveLock",
            Lock::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            Lock::Share => "ShareLock",
            Lock::ShareRowExclusive => "ShareRowExclusiveLock",
            Lock::Exclusive => "ExclusiveLock",
            Lock::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// What ordinary traffic this mode stops: SELECT takes ACCESS SHARE, INSERT/UPDATE/DELETE
    /// take ROW EXCLUSIVE (the conflict table of "Explicit Locking").
    pub fn blocks(self) -> Blocks {
        match self {
            Lock::AccessShare
            | Lock::RowShare
            | Lock::RowExclusive
            | Lock::ShareUpdateExclusive => Blocks::Nothing,
            Lock::Share | Lock::ShareRowExclusive | Lock::Exclusive => Blocks::Writes,
            Lock::AccessExclusive => Blocks::ReadsAndWrites,
        }
    }
}

impl Serialize for Lock {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
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
    #[serde(rename = "estimate_seconds")]
    pub estimate: Estimate,
    /// How long this step stops the blocked traffic (0 when it blocks nothing).
    pub blocking_seconds: Estimate,
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    /// What to do when the step fails or times out.
    pub retry: String,
    pub notes: Vec<String>,
}

fn join_statements<S: Serializer>(sql: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&sql.join("\n"))
}

/// A statement that returns a phase to the state before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackStep {
    pub sql: String,
    pub note: Option<String>,
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
    pub table: String,
    pub change: String,
    pub summary: String,
    pub strategy: Strategy,
    pub max_downtime_ms: u64,
    /// The longest time any step of the chosen path blocks traffic.
    pub longest_blocking_seconds: f64,
    pub phases: Vec<Phase>,
    pub alternative: Option<Alternative>,
    pub warnings: Vec<Warning>,
    pub assumptions: Vec<Assumption>,
}

impl Plan {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.phases.iter().flat_map(|p| p.steps.iter())
    }
}

/// The longest blocking time of any step in `phases`.
pub fn longest_blocking(phases: &[Phase]) -> f64 {
    phases
        .iter()
        .flat_map(|p| p.steps.iter())
        .map(|s| s.blocking_seconds.high)
        .fold(0.0, f64::max)
}
