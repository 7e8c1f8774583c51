//! psql scripts: the forward script (phase by phase, stopping at every deploy gate) and the
//! rollback script (phases in reverse). Statements that cannot run in a transaction are never
//! wrapped in one.

use super::{checks, step_script, step_text};
use crate::estimate::BATCH_PAUSE_MS;
use crate::model::{completion_checks, Plan, Run, Step};
use crate::request::Engine;
use std::fmt::Write;

fn mysql_family(plan: &Plan) -> bool {
    plan.engine != "postgresql"
}

/// The plan's engine as a type (the plan names it as the `db` parameter spells it).
fn engine(plan: &Plan) -> Engine {
    match plan.engine.as_str() {
        "mariadb" => Engine::Mariadb,
        "mysql" => Engine::Mysql,
        _ => Engine::Postgresql,
    }
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

/// How the forward script treats its checks, and how to skip one knowingly.
fn checks_header(plan: &Plan) -> String {
    let skip = if mysql_family(plan) {
        "mysql --init-command='SET @lockstep_skip_<phase>_<check>=1' ..."
    } else {
        "psql -X -v lockstep_skip_<phase>_<check>=1 -f <this file>"
    };
    format!(
        "-- Checks: a check marked \"Stops the script\" ends it, before the next step, when its result\n-- differs from what it expects, printing what it found and what to do. To skip one check\n-- knowingly, set its variable (named at the check): {skip}\n-- A check marked \"Informs only\" shows its result and the script goes on.\n"
    )
}

/// A pause until the operator presses Enter: psql's `\prompt`, or the mysql client's
/// `system` command reading from the terminal. The mysql client ends a `system` line at its
/// first `;`, quoted or not: the message never carries one.
fn pause(plan: &Plan, message: &str) -> String {
    if mysql_family(plan) {
        format!(
            "system read -r -p {} lockstep_gate < /dev/tty",
            crate::quote::shell(&format!("{} ", message.replace(';', ","))),
        )
    } else {
        format!(
            "\\prompt {} lockstep_gate",
            crate::quote::literal(&format!("{message} "))
        )
    }
}

/// A batch the operator repeats until it is done (a backfill on PostgreSQL 10, a MySQL batched
/// copy). psql 17+ repeats it itself with `\watch ... min_rows=1` (the batch returns no row
/// once done); an older psql, or the mysql client, runs it once and pauses for the operator, so
/// the script never goes on with the copy unfinished.
fn repeated(plan: &Plan, step: &Step) -> String {
    let ask = |message: &str| pause(plan, message);
    if mysql_family(plan) {
        return format!(
            "{}\n{}",
            step_text(step),
            ask("That was one batch: repeat the statements above until the last one prints 0 (the runbook gives a shell loop), then press Enter")
        );
    }
    let script = step_script(step);
    let watched = format!(
        "{} \\watch i={} min_rows=1",
        script.trim_end().trim_end_matches(';'),
        BATCH_PAUSE_MS as f64 / 1000.0
    );
    format!(
        "SELECT :VERSION_NUM >= 170000 AS lockstep_psql_watch \\gset\n\\if :lockstep_psql_watch\n{watched}\n\\else\n{script}\n{}\n\\endif",
        ask("That was one batch: repeat the statement above until it returns no row (psql 17 does it for you; the runbook gives a shell loop), then press Enter")
    )
}

/// The whole forward runbook. Each deploy gate pauses for the operator.
pub fn forward(plan: &Plan) -> String {
    let mut out = header(plan, "forward script");
    out.push_str(&checks_header(plan));
    if plan.rerun_safe && !mysql_family(plan) {
        out.push_str(&checks::pg_already_applied(&completion_checks(
            &plan.phases,
        )));
    }
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
                None if step.run == Run::UntilDone => {
                    let _ = writeln!(out, "\n-- {}\n{}", step.title, repeated(plan, step));
                }
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
        for (j, check) in phase.checks.iter().enumerate() {
            let number = format!("{}.{}", i + 1, j + 1);
            out.push_str(&if mysql_family(plan) {
                checks::mysql(&number, check, engine(plan))
            } else {
                checks::pg(&number, check)
            });
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

#[cfg(test)]
mod tests {
    use super::{forward, rollback};
    use crate::request::params::Params;

    fn script(db: &str, change: &[(&str, &str)]) -> String {
        forward(&crate::plan(&Params::zero_budget(db, "orders", change)).unwrap())
    }

    #[test]
    fn a_repeated_batch_never_lets_the_script_go_on_unfinished() {
        // PostgreSQL 10: psql 17 repeats the batch itself; an older psql runs it once and waits.
        let s = script(
            "postgresql@10.23",
            &[
                ("change", "add-column"),
                ("column", "flag"),
                ("type", "boolean"),
                ("default", "false"),
            ],
        );
        let watch = s
            .find("SELECT :VERSION_NUM >= 170000 AS lockstep_psql_watch \\gset\n\\if :lockstep_psql_watch\n")
            .unwrap();
        let rest = &s[watch..];
        assert!(rest.contains("HAVING count(*) > 0 \\watch i=0.05 min_rows=1\n\\else\n"));
        let prompt = rest.find("\\prompt 'That was one batch").unwrap();
        let endif = rest.find("\\endif").unwrap();
        let drop = rest
            .find("DROP TABLE IF EXISTS lockstep_backfill_orders_flag")
            .unwrap();
        assert!(prompt < endif && endif < drop, "{rest}");
        // 11+: one DO block that loops by itself, no pause.
        let s = script(
            "postgresql@16",
            &[
                ("change", "add-column"),
                ("column", "flag"),
                ("type", "uuid"),
                ("default", "gen_random_uuid()"),
            ],
        );
        assert!(!s.contains("\\watch") && !s.contains("That was one batch"));
        // MySQL's batched copy: the client cannot loop, so the script waits.
        let s = script(
            "mariadb@10.11",
            &[
                ("change", "split-table"),
                ("columns", "email,note"),
                ("new-table", "order_contacts"),
            ],
        );
        // MariaDB: the batch runs behind its guard (prepared statements), then the pause.
        let batch = s.find("'SELECT @lockstep_n AS rows_in_batch'").unwrap();
        assert!(
            s[batch..].contains(
                "EXECUTE lockstep_stmt;\nDEALLOCATE PREPARE lockstep_stmt;\nsystem read -r -p 'That was one batch"
            ),
            "{s}"
        );
    }

    #[test]
    fn mysql_pauses_never_hold_a_semicolon() {
        // The mysql client cuts a `system` line at its first `;` and sends the rest to the
        // server as SQL: the script stopped with a syntax error at its first shell step.
        for change in [
            vec![
                ("change", "add-column"),
                ("column", "token"),
                ("type", "char(36)"),
                ("default", "(uuid())"),
            ],
            vec![
                ("change", "rename-column"),
                ("column", "note"),
                ("new-name", "remark"),
                ("type", "text"),
            ],
        ] {
            let p = crate::plan(&{
                let mut p = crate::request::params::Params::new()
                    .with("db", "mariadb@10.11")
                    .with("table", "orders")
                    .with("rows", "500M")
                    .with("size", "120GB")
                    .with("max-downtime", "0");
                for (k, v) in &change {
                    p.set(k, *v);
                }
                p
            })
            .unwrap();
            let forward = forward(&p);
            assert!(forward.contains("\nsystem read"), "{forward}");
            for text in [forward, rollback(&p)] {
                for line in text.lines().filter(|l| l.starts_with("system ")) {
                    assert!(!line.contains(';'), "{line}");
                }
            }
        }
    }
}
