//! The worst case of a blocking step: its wait for the lock, with the traffic queued behind it.
//!
//! A step whose lock conflicts with reads or writes makes every later query on the table queue
//! behind its waiting request, for up to its lock timeout; the plan counts that wait in
//! `blocking_seconds.high` (`lock_wait_seconds` + `hold_seconds.high`). The proof: a session
//! holds a lock that conflicts with the step's (an open transaction that read or wrote the
//! table) for longer than the lock timeout; the step, run with the plan's settings while the
//! load runs, must give up (the runbook's retry path), and the longest wait of the traffic
//! queued behind it must stay within the stated worst case plus [`TOLERANCE`].

use crate::sql::{exec, sqlstate, text_value};
use lockstep_planner::model::{Blocks, PgLock, Step};
use postgres::Client;
use std::time::{Duration, Instant};

/// The machine's share of a measured wait: scheduling and round trips on a shared 2-core
/// machine, and the load's own pause between two operations.
pub const TOLERANCE: Duration = Duration::from_millis(500);

/// A step worth one blocked attempt: its lock conflicts with ordinary traffic, so the plan
/// claims a lock wait. PostgreSQL: one transaction (a failed attempt leaves nothing behind).
pub fn pg_kind(step: &Step) -> Option<PgLock> {
    let lock = step.pg_lock()?;
    (step.lock_wait_seconds > 0.0
        && step.blocks != Blocks::Nothing
        && step.in_transaction
        && step.run == lockstep_planner::model::Run::Once
        && lock.blocks() != Blocks::Nothing)
        .then_some(lock)
}

/// The lock the long transaction holds: ACCESS SHARE (it read the table) against an ACCESS
/// EXCLUSIVE step, ROW EXCLUSIVE (it wrote) against SHARE and stronger. Neither stops the load.
pub fn blocker_mode(step_lock: PgLock) -> &'static str {
    if step_lock == PgLock::AccessExclusive {
        "ACCESS SHARE"
    } else {
        "ROW EXCLUSIVE"
    }
}

/// The lock of a query arriving behind the waiting step: a read when the step blocks reads,
/// else a write.
pub fn arriving_mode(step: &Step) -> &'static str {
    if step.blocks == Blocks::ReadsAndWrites {
        "ACCESS SHARE"
    } else {
        "ROW EXCLUSIVE"
    }
}

/// What one blocked attempt showed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Attempt {
    /// The step's error (`None`: it ran to its end, despite the conflicting lock).
    pub error: Option<String>,
    /// How long the step ran before it gave up.
    pub step_ms: f64,
    /// How long a query arriving behind the waiting step waited (`None`: the step gave up
    /// before it was seen waiting).
    pub arriving_ms: Option<f64>,
    /// The load's longest wait over the attempt: from the server log (PostgreSQL) or its
    /// longest stall (MariaDB).
    pub load_ms: f64,
}

/// The claim on one attempt: (ok, claimed, observed). `gave_up` tells the engine's lock
/// timeout error apart from any other.
pub fn judge(step: &Step, attempt: &Attempt, gave_up: bool) -> (bool, String, String) {
    let bound_ms = step.blocking_seconds.high * 1000.0 + TOLERANCE.as_millis() as f64;
    let waits = [
        attempt.step_ms,
        attempt.load_ms,
        attempt.arriving_ms.unwrap_or(0.0),
    ];
    let within = waits.iter().all(|w| *w <= bound_ms);
    let claimed = format!(
        "gives up after its lock timeout ({:.0} ms); the traffic queued behind it waits at most the stated {:.0} ms (+{} ms for the machine)",
        step.lock_wait_seconds * 1000.0,
        step.blocking_seconds.high * 1000.0,
        TOLERANCE.as_millis()
    );
    let arriving = attempt.arriving_ms.map_or(String::new(), |ms| {
        format!("a query arriving behind it waited {ms:.0} ms; ")
    });
    let observed = match &attempt.error {
        Some(e) => format!(
            "gave up after {:.0} ms ({e}); {arriving}the load's longest wait {:.0} ms",
            attempt.step_ms, attempt.load_ms
        ),
        None => format!(
            "ran to its end after {:.0} ms despite the transaction holding a conflicting lock",
            attempt.step_ms
        ),
    };
    (gave_up && within, claimed, observed)
}

/// The PostgreSQL sessions of one attempt: `a` holds the conflicting lock, `b` runs the step
/// (its settings already set), `c` watches `pg_locks`, `p` arrives behind the waiting step.
pub struct Sessions<'s> {
    pub a: &'s mut Client,
    pub b: &'s mut Client,
    pub c: &'s mut Client,
    pub p: &'s mut Client,
    pub b_pid: &'s str,
}

/// Runs the step's statements on `b` in one transaction, rolled back, while `a` holds
/// `blocker_mode` on `tables`; `p` queues behind it with `arriving_mode` and is timed.
/// Returns the attempt (without the load's wait) and its window.
pub fn pg_attempt(
    s: Sessions,
    tables: &[String],
    step: &Step,
    lock: PgLock,
) -> Result<(Attempt, Instant, Instant), String> {
    exec(s.a, "BEGIN")?;
    for t in tables {
        if let Err(e) = exec(
            s.a,
            &format!("LOCK TABLE {t} IN {} MODE", blocker_mode(lock)),
        ) {
            let _ = exec(s.a, "ROLLBACK");
            return Err(format!("the blocking transaction could not lock {t}: {e}"));
        }
    }
    let start = Instant::now();
    let b = s.b;
    let statements = &step.sql;
    let (result, arriving_ms) = std::thread::scope(|scope| {
        let runner = scope.spawn(move || {
            let r = (|| {
                exec(b, "BEGIN")?;
                for stmt in statements {
                    exec(b, stmt)?;
                }
                Ok::<(), String>(())
            })();
            let _ = exec(b, "ROLLBACK");
            (r, start.elapsed())
        });
        let waiting = format!(
            "SELECT count(*) FROM pg_locks WHERE pid = {} AND NOT granted",
            s.b_pid
        );
        let mut arriving_ms = None;
        while !runner.is_finished() && start.elapsed() < Duration::from_secs(60) {
            if text_value(s.c, &waiting).ok().flatten().as_deref() != Some("0") {
                arriving_ms = arrive(s.p, &tables[0], arriving_mode(step));
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let (r, elapsed) = runner
            .join()
            .unwrap_or((Err("runner thread died".to_string()), Duration::ZERO));
        ((r, elapsed), arriving_ms)
    });
    let end = Instant::now();
    let _ = exec(s.a, "COMMIT");
    let (r, elapsed) = result;
    Ok((
        Attempt {
            error: r.err(),
            step_ms: elapsed.as_secs_f64() * 1000.0,
            arriving_ms,
            load_ms: 0.0,
        },
        start,
        end,
    ))
}

/// A query arriving behind the waiting step: how long its lock took, in ms.
fn arrive(p: &mut Client, table: &str, mode: &str) -> Option<f64> {
    exec(p, "BEGIN; SET LOCAL lock_timeout = '30s'").ok()?;
    let t = Instant::now();
    let r = exec(p, &format!("LOCK TABLE {table} IN {mode} MODE"));
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let _ = exec(p, "ROLLBACK");
    r.ok().map(|_| ms)
}

/// PostgreSQL's lock timeout error.
pub fn pg_gave_up(error: Option<&str>) -> bool {
    error.and_then(sqlstate) == Some("55P03")
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_planner::model::Estimate;

    fn step(wait: f64, hold: f64) -> Step {
        let p = lockstep_planner::Params::new()
            .with("db", "postgresql@16")
            .with("change", "add-column")
            .with("table", "orders")
            .with("column", "note")
            .with("type", "text")
            .with("rows", "1000")
            .with("size", "1MB")
            .with("max-downtime", "0");
        let plan = lockstep_planner::plan(&p).unwrap();
        let mut s = plan
            .steps()
            .find(|s| s.blocks != Blocks::Nothing)
            .unwrap()
            .clone();
        s.set_blocking(wait, Estimate::new(0.001, hold));
        s
    }

    #[test]
    fn the_queue_may_wait_the_stated_worst_case_and_no_longer() {
        let s = step(0.5, 0.05);
        let attempt = |step_ms, arriving, load_ms, error: Option<&str>| Attempt {
            error: error.map(str::to_string),
            step_ms,
            arriving_ms: arriving,
            load_ms,
        };
        let timeout = Some("ERROR 55P03: canceling statement due to lock timeout");
        let ok = |a: &Attempt| judge(&s, a, pg_gave_up(a.error.as_deref())).0;
        assert!(ok(&attempt(510.0, Some(480.0), 470.0, timeout)));
        // Within the tolerance of 550 ms + 500 ms.
        assert!(ok(&attempt(510.0, Some(1040.0), 0.0, timeout)));
        assert!(!ok(&attempt(510.0, Some(1100.0), 0.0, timeout)));
        assert!(!ok(&attempt(510.0, None, 1200.0, timeout)));
        // It must give up: running to its end behind the lock is no lock wait at all.
        assert!(!ok(&attempt(20.0, Some(5.0), 0.0, None)));
        assert!(!ok(&attempt(
            20.0,
            Some(5.0),
            0.0,
            Some("ERROR 42P01: no such table")
        )));
    }

    #[test]
    fn blocked_attempts_only_for_steps_that_queue_traffic() {
        let s = step(0.1, 0.05);
        assert_eq!(pg_kind(&s), Some(PgLock::AccessExclusive));
        assert_eq!(blocker_mode(PgLock::AccessExclusive), "ACCESS SHARE");
        assert_eq!(blocker_mode(PgLock::Share), "ROW EXCLUSIVE");
        let mut quiet = s.clone();
        quiet.blocks = Blocks::Nothing;
        assert_eq!(pg_kind(&quiet), None);
        let mut alone = s.clone();
        alone.in_transaction = false;
        assert_eq!(pg_kind(&alone), None);
    }
}
