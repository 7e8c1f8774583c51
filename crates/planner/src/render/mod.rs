//! Plans as text: Markdown runbook, psql scripts, JSON. The session settings and transaction
//! wrapping of a step are rendered here, once, for every format.

pub mod checks;
pub mod json;
pub mod markdown;
pub mod sql;

use crate::model::{human_seconds_up, Run, Step};
use crate::request::Engine;

/// `2s`, `500ms`, `10min`: the unit PostgreSQL accepts for timeouts.
pub fn timeout_value(ms: u64) -> String {
    if ms == 0 {
        "0".to_string()
    } else if ms.is_multiple_of(60_000) {
        format!("'{}min'", ms / 60_000)
    } else if ms.is_multiple_of(1_000) {
        format!("'{}s'", ms / 1_000)
    } else {
        format!("'{ms}ms'")
    }
}

/// How long a step stops the traffic it blocks, in words, from its typed parts: "up to 500 ms
/// while it waits for its lock, then 50 ms". Empty when it blocks nothing. The hold is marked
/// "not the whole run" when it is shorter than the step (MySQL's metadata-lock moments at the
/// start and end of an online ALTER).
pub fn blocked_for(step: &Step) -> String {
    if step.blocks == crate::model::Blocks::Nothing || step.blocking_seconds.high <= 0.0 {
        return String::new();
    }
    let hold = step.hold_seconds;
    let partial = if hold.high < step.estimate.high {
        " (not the whole run)"
    } else {
        ""
    };
    let twice = step
        .lock
        .and_then(crate::model::Lock::mysql)
        .is_some_and(|l| l.waits_twice() && l.dml_continues());
    if step.lock_wait_seconds > 0.0 {
        format!(
            "up to {} while it waits for its lock, then {}{}{partial}",
            human_seconds_up(step.lock_wait_seconds),
            human_seconds_up(hold.high),
            if twice {
                ", at its start and again at its end"
            } else {
                ""
            }
        )
    } else if partial.is_empty() {
        hold.describe()
    } else {
        format!("up to {}{partial}", human_seconds_up(hold.high))
    }
}

/// The server-wide stall a step claims beyond its locks ([`Step::server_stall_seconds`]), in
/// words: "stalls every query on the server for up to 55 ms (no lock)". Empty when none.
pub fn server_stall(step: &Step) -> String {
    match step.server_stall_seconds {
        Some(stall) if stall.high > 0.0 => format!(
            "stalls every query on the server for up to {} (no lock)",
            human_seconds_up(stall.high)
        ),
        _ => String::new(),
    }
}

/// The session settings a step runs under.
pub fn settings(step: &Step) -> Vec<String> {
    if step.engine.is_mysql_family() {
        return mysql_settings(step);
    }
    let mut lines = Vec::new();
    if let Some(ms) = step.lock_timeout_ms {
        lines.push(format!("SET lock_timeout = {};", timeout_value(ms)));
    }
    if let Some(ms) = step.statement_timeout_ms {
        lines.push(format!("SET statement_timeout = {};", timeout_value(ms)));
    }
    lines
}

/// MySQL and MariaDB: `lock_wait_timeout` in whole seconds; MariaDB also bounds a blocking
/// statement with `max_statement_time` (MySQL has no such bound for DDL).
fn mysql_settings(step: &Step) -> Vec<String> {
    let mut lines = Vec::new();
    if step.shell.is_some() {
        return lines;
    }
    if let Some(ms) = step.lock_timeout_ms {
        lines.push(format!(
            "SET SESSION lock_wait_timeout = {};",
            crate::quote::mysql::lock_wait_seconds(ms)
        ));
    }
    if step.engine == Engine::Mariadb {
        if let Some(ms) = step.statement_timeout_ms {
            lines.push(format!(
                "SET SESSION max_statement_time = {};",
                ms as f64 / 1000.0
            ));
        }
    }
    lines
}

/// A step as a human runs it: settings, then the statements, wrapped in BEGIN/COMMIT when the
/// step is one transaction of several statements.
pub fn step_script(step: &Step) -> String {
    // Each renderer marks a shell command its own way (forward.sql comments it out, the
    // runbook fences it as `sh`, the page marks it `# shell`), from `Step::shell`.
    if let Some(command) = &step.shell {
        return command.clone();
    }
    let mut lines = settings(step);
    let wrap = step.in_transaction && step.sql.len() > 1;
    if wrap {
        lines.push("BEGIN;".to_string());
    }
    lines.extend(step.sql.iter().cloned());
    // psql runs each row a generator query returns as a statement when it ends in \gexec.
    if step.run == Run::EachRow && !step.engine.is_mysql_family() {
        if let Some(last) = lines.last_mut() {
            *last = format!("{} \\gexec", last.trim_end().trim_end_matches(';'));
        }
    }
    if wrap {
        lines.push("COMMIT;".to_string());
    }
    lines.join("\n")
}

/// A step as its client runs it, its `only_if` guard included so the script stays
/// re-runnable. psql: `\gset` + `\if`. MariaDB: the guard's value chooses, per statement, a
/// prepared statement or `DO 0` (the mysql client has no conditional). MySQL cannot prepare
/// CREATE TRIGGER: the guard is written as a comment for the operator.
pub fn step_text(step: &Step) -> String {
    let Some(guard) = &step.only_if else {
        return step_script(step);
    };
    let guard = guard.trim_end().trim_end_matches(';');
    match step.engine {
        Engine::Mariadb if step.shell.is_none() => mariadb_guarded(step, guard),
        Engine::Mariadb | Engine::Mysql => format!(
            "-- Run only when this returns 1 (on a re-run it is 0 once the plan has gone past this step): {guard};\n{}",
            step_script(step)
        ),
        // A guard without its variable is a planner bug: psql stops at the unset variable
        // (`\if` needs a boolean) instead of running the step unguarded.
        Engine::Postgresql => format!(
            "{guard} \\gset lockstep_guard_\n\\if :{var}\n{body}\n\\endif",
            var = step.guard_var.as_deref().unwrap_or("lockstep_guard_missing"),
            body = step_script(step)
        ),
    }
}

/// The MariaDB form of a guarded step: the guard read once into `@lockstep_run`, then each
/// statement run through PREPARE when it is 1, `DO 0` when it is 0.
fn mariadb_guarded(step: &Step, guard: &str) -> String {
    let mut lines = settings(step);
    lines.push(format!("SET @lockstep_run = ({guard});"));
    for stmt in &step.sql {
        let stmt = stmt.trim_end().trim_end_matches(';');
        lines.push(format!(
            "SET @lockstep_sql = IF(@lockstep_run, {}, 'DO 0');",
            crate::quote::mysql::literal(stmt)
        ));
        lines.push("PREPARE lockstep_stmt FROM @lockstep_sql;".to_string());
        lines.push("EXECUTE lockstep_stmt;".to_string());
        lines.push("DEALLOCATE PREPARE lockstep_stmt;".to_string());
    }
    lines.join("\n")
}
