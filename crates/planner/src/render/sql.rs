//! psql scripts: the forward script (phase by phase, stopping at every deploy gate) and the
//! rollback script (phases in reverse). Statements that cannot run in a transaction are never
//! wrapped in one.

use super::step_text;
use crate::plan::Plan;
use std::fmt::Write;

fn mysql_family(plan: &Plan) -> bool {
    plan.engine != "postgresql"
}

fn header(plan: &Plan, what: &str) -> String {
    if mysql_family(plan) {
        let label = if plan.engine == "mariadb" {
            "MariaDB"
        } else {
            "MySQL"
        };
        return format!(
            "-- Lockstep {what}: {}\n-- {label} {}, table {}\n-- Run with: mysql --show-warnings <connection options> <database> < <this file>\n-- (the client stops at the first error; deploy gates pause with the client's `system` command, Unix only)\n",
            plan.summary, plan.version, plan.table
        );
    }
    format!(
        "-- Lockstep {what}: {}\n-- PostgreSQL {}, table {}\n-- Run with: psql -X -f <this file>\n\\set ON_ERROR_STOP on\n\\set VERBOSITY verbose\n",
        plan.summary, plan.version, plan.table
    )
}

/// A pause until the operator presses Enter: psql's `\prompt`, or the mysql client's
/// `system` command reading from the terminal.
fn pause(plan: &Plan, message: &str) -> String {
    if mysql_family(plan) {
        format!(
            "system read -r -p {} lockstep_gate < /dev/tty",
            crate::quote::shell(&format!("{message} ")),
        )
    } else {
        format!(
            "\\prompt {} lockstep_gate",
            crate::quote::literal(&format!("{message} "))
        )
    }
}

/// The whole forward runbook. Each deploy gate pauses for the operator.
pub fn forward(plan: &Plan) -> String {
    let mut out = header(plan, "forward script");
    for (i, phase) in plan.phases.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n-- ===== Phase {}: {} =====\n-- {}",
            i + 1,
            phase.name,
            phase.purpose
        );
        if let Some(app) = &phase.app_change {
            let _ = writeln!(out, "-- DEPLOY GATE: {app}");
            let _ = writeln!(
                out,
                "{}",
                pause(
                    plan,
                    &format!(
                        "Deploy gate before phase {}: confirm the application change is live, then press Enter",
                        i + 1
                    )
                )
            );
        }
        for step in &phase.steps {
            match &step.shell {
                None => {
                    let _ = writeln!(out, "\n-- {}\n{}", step.title, step_text(step));
                }
                Some(command) => {
                    let _ = writeln!(out, "\n-- {}\n-- Run in a shell:", step.title);
                    for line in command.lines() {
                        let _ = writeln!(out, "--   {line}");
                    }
                    let _ = writeln!(
                        out,
                        "{}",
                        pause(
                            plan,
                            "Run the command above in a shell; when it has finished, press Enter"
                        )
                    );
                }
            }
        }
        for check in &phase.checks {
            let _ = writeln!(
                out,
                "\n-- Check: {} (expect {})\n{}",
                check.description, check.expect, check.sql
            );
        }
    }
    out
}

/// The rollback runbook: run the sections of the phases that completed, latest first.
pub fn rollback(plan: &Plan) -> String {
    let mut out = header(plan, "rollback script");
    out.push_str("-- Run only the sections of phases that ran, starting from the latest.\n");
    for (i, phase) in plan.phases.iter().enumerate().rev() {
        if phase.rollback.is_empty() && phase.irreversible.is_none() {
            continue;
        }
        let _ = writeln!(out, "\n-- ===== Undo phase {}: {} =====", i + 1, phase.name);
        if let Some(why) = &phase.irreversible {
            let _ = writeln!(out, "-- Cannot be rolled back: {why}");
        }
        for r in &phase.rollback {
            if let Some(note) = &r.note {
                let _ = writeln!(out, "-- {note}");
            }
            match &r.shell {
                None => {
                    let _ = writeln!(out, "{}", r.sql);
                }
                Some(command) => {
                    let _ = writeln!(out, "-- Run in a shell:");
                    for line in command.lines() {
                        let _ = writeln!(out, "--   {line}");
                    }
                    let _ = writeln!(
                        out,
                        "{}",
                        pause(
                            plan,
                            "Run the command above in a shell; when it has finished, press Enter"
                        )
                    );
                }
            }
        }
    }
    out
}
