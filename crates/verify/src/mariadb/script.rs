//! forward.sql, the file a user downloads for MariaDB, run the way its header says
//! (`mysql --show-warnings <connection options> <database> < forward.sql`) on a fresh copy of
//! the seeded database, then run a second time on the migrated database.
//!
//! The deploy gates pause with `system read ... < /dev/tty`: the client runs under `script`
//! so it has a terminal, and the verifier presses Enter through it. At each pause it does what
//! the operator is told to: nothing at a deploy gate; at a shell step ("run the command above
//! in a shell"), it runs the step's typed `shell` command against this database, as the
//! step-by-step run does; at a repeated batch, it repeats the step until it reports done.
//!
//! The second run must exit 0 and change nothing: schema (SHOW CREATE of every table and view,
//! triggers) and data (CHECKSUM TABLE of every table) are compared before and after. At a
//! shell step whose `rerun` is not `Safe` the operator is told to skip it once done, and the
//! verifier does so.

use super::runner::{connect_shell, schema_dump_of};
use super::{exec, text_rows, Server};
use crate::report::{CaseResult, Claim, Kind};
use lockstep_planner::model::{Expected, Plan, Precondition, Rerun, Run, Step};
use lockstep_planner::render;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The database the script runs in, next to the case's own.
const DB: &str = "app_script";

/// The longest a whole run may take (the pt-online-schema-change copies included).
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// What the client waits at, in the order forward.sql pauses (see `render::sql::forward`).
enum Pause<'a> {
    Gate,
    Shell(&'a Step),
    Batch(&'a Step),
}

fn pauses(plan: &Plan) -> Vec<Pause<'_>> {
    let mut out = Vec::new();
    for phase in &plan.phases {
        if phase.app_change.is_some() {
            out.push(Pause::Gate);
        }
        for step in &phase.steps {
            match &step.shell {
                Some(_) => out.push(Pause::Shell(step)),
                None if step.run == Run::UntilDone => out.push(Pause::Batch(step)),
                None => {}
            }
        }
    }
    out
}

/// Runs `plan`'s forward.sql twice on a fresh database made as the case's was (`seed`: the
/// seed and the case's own set-up, in order); records the claims of both runs and of the
/// checks on the migrated database.
pub fn forward_script_claims(server: &Server, plan: &Plan, seed: &[&str], result: &mut CaseResult) {
    let started = Instant::now();
    let outcome = (|| -> Result<(), String> {
        let mut conn = fresh(server, seed)?;
        let path = script_file(server, plan)?;
        let first = run(server, plan, &path, true);
        let ok = first.is_ok();
        result.claims.push(Claim::new(
            Kind::Statement,
            "forward.sql",
            "runs from start to end in the mysql client, every pause answered",
            "mysql exits 0 (it stops at the first error)",
            &first
                .clone()
                .map_or_else(|e| e, |_| "mysql exited 0".to_string()),
            ok,
        ));
        if ok {
            rerun_claims(server, plan, &path, &mut conn, result)?;
        }
        let _ = std::fs::remove_file(&path);
        Ok(())
    })();
    if let Err(e) = outcome {
        result.claims.push(Claim::new(
            Kind::Statement,
            "forward.sql",
            "runs whole, twice",
            "the harness prepares and runs it",
            &e,
            false,
        ));
    }
    result.notes.push(format!(
        "forward.sql run whole twice (seed, first run, second run) in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
}

/// A case whose preflight check must stop the migration: forward.sql run whole must stop (the
/// client exits non-zero, or a step at a pause fails) with the database as it was seeded.
pub fn stopped_script_claim(
    server: &Server,
    plan: &Plan,
    seed: &[&str],
    check: Precondition,
    result: &mut CaseResult,
) {
    let check = plan
        .phases
        .iter()
        .flat_map(|p| p.checks.iter())
        .find(|c| c.precondition == Some(check))
        .map_or(format!("(none proves {check:?})"), |c| {
            c.description.clone()
        });
    let outcome = (|| -> Result<(bool, String), String> {
        let mut conn = fresh(server, seed)?;
        let path = script_file(server, plan)?;
        let before = fingerprint(&mut conn)?;
        let run = run(server, plan, &path, true);
        let after = fingerprint(&mut conn)?;
        let _ = std::fs::remove_file(&path);
        Ok(match run {
            Ok(_) => (false, "mysql exited 0: the script carried on".to_string()),
            Err(e) if before == after => (true, format!("stopped, nothing changed: {e}")),
            Err(e) => (
                false,
                format!(
                    "stopped ({e}) after changing the database: {}",
                    crate::walk::schema_difference(&before, &after)
                ),
            ),
        })
    })();
    let (ok, observed) = outcome.unwrap_or_else(|e| (false, e));
    result.claims.push(Claim::new(
        Kind::Statement,
        "forward.sql",
        &format!("stops at the failing check '{check}' before changing anything"),
        "the client stops (non-zero exit) with schema and data unchanged",
        &observed,
        ok,
    ));
}

/// A fresh script database made with `seed`, and a connection to it.
fn fresh(server: &Server, seed: &[&str]) -> Result<mysql::Conn, String> {
    let mut admin = server.connect("mysql")?;
    exec(
        &mut admin,
        &format!("DROP DATABASE IF EXISTS {DB}; CREATE DATABASE {DB}"),
    )?;
    let mut conn = server.connect(DB)?;
    for sql in seed.iter().filter(|s| !s.trim().is_empty()) {
        exec(&mut conn, sql).map_err(|e| format!("seeding {DB}: {e}"))?;
    }
    Ok(conn)
}

/// forward.sql written to a file named for this server.
fn script_file(server: &Server, plan: &Plan) -> Result<String, String> {
    let path = std::env::temp_dir().join(format!(
        "lockstep-{}-{}-forward.sql",
        std::process::id(),
        server.port
    ));
    std::fs::write(&path, render::sql::forward(plan)).map_err(|e| e.to_string())?;
    Ok(path.display().to_string())
}

/// The second run: exit 0 and nothing changed; the plan's checks hold on the migrated
/// database or are skipped there by their guard (a re-run must not be stopped by them).
fn rerun_claims(
    server: &Server,
    plan: &Plan,
    path: &str,
    conn: &mut mysql::Conn,
    result: &mut CaseResult,
) -> Result<(), String> {
    completed_state_claims(plan, conn, result);
    let before = fingerprint(conn)?;
    let second = run(server, plan, path, false);
    let after = fingerprint(conn)?;
    let observed = match &second {
        Err(e) => e.clone(),
        Ok(skipped) if before == after => format!(
            "mysql exited 0; schema and data unchanged{}",
            if *skipped > 0 {
                format!(" ({skipped} shell step(s) skipped as their rerun field says)")
            } else {
                String::new()
            }
        ),
        Ok(_) => format!(
            "mysql exited 0 but the database changed: {}",
            crate::walk::schema_difference(&before, &after)
        ),
    };
    result.claims.push(Claim::new(
        Kind::Statement,
        "forward.sql (second run, on the migrated database)",
        "re-running the completed script changes nothing",
        "mysql exits 0; SHOW CREATE TABLE of every table, triggers and CHECKSUM TABLE unchanged",
        &observed,
        second.is_ok() && before == after,
    ));
    Ok(())
}

/// Each check with an exact expected result must hold on the migrated database, or be skipped
/// there by its `only_if` guard: a re-run of the script runs them all, and a failed check
/// stops it.
fn completed_state_claims(plan: &Plan, conn: &mut mysql::Conn, result: &mut CaseResult) {
    for (i, phase) in plan.phases.iter().enumerate() {
        for check in &phase.checks {
            let want = match &check.expected {
                Expected::Manual => continue,
                Expected::NoRows => Vec::new(),
                Expected::Rows(rows) => rows.clone(),
            };
            let place = format!(
                "forward.sql re-run: phase {} check '{}'",
                i + 1,
                check.description
            );
            if let Some(guard) = &check.only_if {
                match super::text_value(conn, guard) {
                    Ok(Some(v)) if v == "0" => continue,
                    Ok(Some(v)) if v == "1" => {}
                    other => {
                        result.claims.push(Claim::new(
                            Kind::Check,
                            &place,
                            "only_if guard",
                            "1 or 0",
                            &format!("{other:?}"),
                            false,
                        ));
                        continue;
                    }
                }
            }
            let (text, ok) = match text_rows(conn, &check.sql) {
                Ok(rows) => {
                    let rows: Vec<Vec<String>> = rows
                        .into_iter()
                        .map(|r| {
                            r.into_iter()
                                .map(|v| v.unwrap_or_else(|| "NULL".to_string()))
                                .collect()
                        })
                        .collect();
                    (format!("{rows:?}"), rows == want)
                }
                Err(e) => (e, false),
            };
            result.claims.push(Claim::new(
                Kind::Check,
                &place,
                "holds on the migrated database (or its guard skips it)",
                &format!("{want:?}"),
                &text,
                ok,
            ));
        }
    }
}

/// Schema and data of the script's database.
fn fingerprint(conn: &mut mysql::Conn) -> Result<String, String> {
    let mut out = schema_dump_of(conn, DB)?;
    let tables = text_rows(
        conn,
        &format!("SELECT table_name FROM information_schema.tables WHERE table_schema = '{DB}' AND table_type = 'BASE TABLE' ORDER BY table_name"),
    )?;
    for t in tables {
        let name = t.into_iter().next().flatten().unwrap_or_default();
        let sum = text_rows(
            conn,
            &format!("CHECKSUM TABLE `{DB}`.`{}`", name.replace('`', "``")),
        )?;
        let value = sum
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().nth(1).flatten())
            .unwrap_or_default();
        out.push_str(&format!("\nchecksum {name}: {value}"));
    }
    Ok(out)
}

/// One whole run of the file at `path`; returns how many shell steps it skipped.
fn run(server: &Server, plan: &Plan, path: &str, first: bool) -> Result<usize, String> {
    let defaults = server.defaults_file.display().to_string();
    let client = format!(
        "mysql --defaults-file={} --show-warnings {DB} < {}",
        lockstep_planner::quote::shell(&defaults),
        lockstep_planner::quote::shell(path)
    );
    let mut child = Command::new("script")
        .args(["-qec", &client, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("script (util-linux) could not start: {e}"))?;
    let output = spawn_reader(&mut child);
    let mut seen = String::new();
    let mut answered = 0;
    let mut skipped = 0;
    let pauses = pauses(plan);
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        match output.recv_timeout(Duration::from_millis(200)) {
            Ok(chunk) => seen.push_str(&chunk),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!(
                "did not finish within {} s: {}",
                RUN_LIMIT.as_secs(),
                tail(&seen)
            ));
        }
        while seen.matches("press Enter").count() > answered {
            let outcome = match pauses.get(answered) {
                None => Err("a pause the plan does not have".to_string()),
                Some(Pause::Gate) => Ok(()),
                Some(Pause::Shell(step)) if !first && step.rerun != Rerun::Safe => {
                    skipped += 1;
                    Ok(())
                }
                Some(Pause::Shell(step)) => run_shell(server, step),
                Some(Pause::Batch(step)) => repeat_batch(server, step),
            };
            if let Err(e) = outcome {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("at pause {}: {e}", answered + 1));
            }
            answered += 1;
            if let Some(stdin) = child.stdin.as_mut() {
                let _ = stdin.write_all(b"\n");
                let _ = stdin.flush();
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!(
            "mysql exited {}: {}",
            status.code().unwrap_or(-1),
            tail(&seen)
        ));
    }
    if answered != pauses.len() {
        return Err(format!(
            "mysql exited 0 after {answered} of the plan's {} pauses",
            pauses.len()
        ));
    }
    Ok(skipped)
}

/// The client's terminal output, chunk by chunk, until it closes.
fn spawn_reader(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut out) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
    }
    rx
}

/// The first error the client printed and what follows, or the last lines.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let shown: Vec<&str> = match lines.iter().position(|l| l.contains("ERROR")) {
        Some(i) => lines[i..].iter().take(3).copied().collect(),
        None => lines.iter().rev().take(3).rev().copied().collect(),
    };
    shown.join(" | ")
}

/// The step's shell command, pointed at the script's database.
fn run_shell(server: &Server, step: &Step) -> Result<(), String> {
    let Some(cmd) = &step.shell else {
        return Ok(());
    };
    let cmd = connect_shell(cmd, &server.defaults_file.display().to_string(), DB);
    let out = Command::new("bash")
        .arg("-c")
        .arg(&cmd)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("bash: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Err(format!(
        "'{}' exited {}: {}",
        step.title,
        out.status,
        text.lines().rev().take(4).collect::<Vec<_>>().join(" | ")
    ))
}

/// The operator's loop: the step as the script writes it (settings, guard), repeated until
/// its last statement reports that nothing is left.
fn repeat_batch(server: &Server, step: &Step) -> Result<(), String> {
    let mut conn = server.connect(DB)?;
    let sql = render::step_text(step);
    for _ in 0..1_000_000 {
        let rows = text_rows(&mut conn, &sql).map_err(|e| format!("'{}': {e}", step.title))?;
        if Run::finished(&rows) {
            return Ok(());
        }
    }
    Err(format!("'{}' never reported done", step.title))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_expects_every_pause_forward_sql_makes() {
        for case in super::super::scenarios::all_cases() {
            let params = super::super::runner::params_for(&case, "10.11.6", 200_000, 40_000_000);
            let Ok(plan) = lockstep_planner::plan(&params) else {
                continue;
            };
            let script = render::sql::forward(&plan);
            assert_eq!(
                pauses(&plan).len(),
                script.matches("press Enter").count(),
                "{}/{}",
                case.change,
                case.name
            );
        }
    }
}
