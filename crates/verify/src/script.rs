//! forward.sql, the file a user downloads, run the way the runbook says: `psql -X -f`, from the
//! first line to the last, on a fresh copy of the case's seeded database, with Enter answered
//! at every deploy gate and pause. The step-by-step run proves each claim; this proves that the
//! script around them (settings, transactions, `\gset`/`\if` guards, `\gexec` generators,
//! gates) parses and runs as one file, and that
//! - a second run on the migrated database exits 0 and changes nothing (schema and data);
//! - its "already applied" test is false before the plan and true after it;
//! - with a guarded precondition broken (a NULL row for add-not-null, a duplicate, an orphan,
//!   a violating row), the script stops at the check that guards it, before the first change,
//!   and the check's skip variable lets it go on; once the row is repaired, a re-run passes
//!   the preflight despite what the failed run left and completes the plan.

use crate::cluster::Cluster;
use crate::report::{CaseResult, Claim, Kind};
use crate::runner::SCHEMA_DUMP_SQL;
use crate::scenarios::Violation;
use crate::sql::{exec, text_rows, text_value};
use lockstep_planner::model::{completion_checks, Check, Expected, Plan, Run};
use lockstep_planner::render;
use postgres::Client;
use std::io::Write;
use std::process::{Command, Stdio};

/// How one psql run of forward.sql ended.
struct Outcome {
    success: bool,
    /// `psql exited 0`, or the exit code with psql's own error report.
    report: String,
    stderr: String,
}

/// Runs `plan`'s forward script on fresh copies of `template` (database `db`): once, a second
/// time on the migrated database, and, when `violation` is given, on a copy where it broke a
/// precondition.
pub fn forward_script_claims(
    cluster: &Cluster,
    plan: &Plan,
    violation: Option<Violation>,
    db: &str,
    seed: (&str, &str),
    result: &mut CaseResult,
) {
    // A batch the operator repeats needs psql 17's \watch or the operator's own loop; the
    // psql here is older, and the step-by-step run already repeats it.
    if plan.steps().any(|s| s.run == Run::UntilDone) {
        result.notes.push(
            "forward.sql not run whole: its repeated batch needs psql 17 (\\watch min_rows) or the operator's loop"
                .to_string(),
        );
        return;
    }
    let script = render::sql::forward(plan);
    if let Err(e) = twice(cluster, plan, &script, db, seed, result) {
        result.claims.push(Claim::new(
            Kind::Statement,
            "forward.sql",
            "runs from start to end in psql -X -f, Enter answered at every pause",
            "psql exits 0 (ON_ERROR_STOP)",
            &e,
            false,
        ));
    }
    if let Err(e) = resumes(cluster, plan, &script, db, seed, result) {
        result.claims.push(Claim::new(
            Kind::Statement,
            "forward.sql after a stop between phases",
            "set-up",
            "the database is prepared",
            &e,
            false,
        ));
    }
    if let Some(violation) = violation {
        if let Err(e) = stops_on_violation(cluster, plan, &script, &violation, db, seed, result) {
            result.claims.push(Claim::new(
                Kind::Check,
                "forward.sql with a broken precondition",
                "set-up",
                "the database is prepared",
                &e,
                false,
            ));
        }
    }
}

/// The first run (exit 0), the already-applied test around it, and the re-run (a no-op).
fn twice(
    cluster: &Cluster,
    plan: &Plan,
    script: &str,
    db: &str,
    seed: (&str, &str),
    result: &mut CaseResult,
) -> Result<(), String> {
    let admin = fresh_copy(cluster, db, seed)?;
    let mut conn = cluster.connect(db)?;
    let outcome = (|| {
        let done = completion_checks(&plan.phases);
        if plan.rerun_safe {
            let before = already_applied(&mut conn, &done)?;
            result.claims.push(Claim::new(
                Kind::Statement,
                "forward.sql",
                "its already-applied test before the plan ran",
                "false (the script goes on to the plan)",
                &before.to_string(),
                !before,
            ));
        }
        let first = psql(cluster, db, script, &[])?;
        result.claims.push(Claim::new(
            Kind::Statement,
            "forward.sql",
            "runs from start to end in psql -X -f, Enter answered at every pause",
            "psql exits 0 (ON_ERROR_STOP)",
            &first.report,
            first.success,
        ));
        if !first.success {
            return Ok(());
        }
        if plan.rerun_safe {
            let after = already_applied(&mut conn, &done)?;
            result.claims.push(Claim::new(
                Kind::Statement,
                "forward.sql",
                "its already-applied test after the script ran",
                "true (a re-run ends at once)",
                &after.to_string(),
                after,
            ));
        }
        let before = fingerprint(&mut conn)?;
        let second = psql(cluster, db, script, &[])?;
        let changed = fingerprint(&mut conn)? != before;
        result.claims.push(Claim::new(
            Kind::Statement,
            "forward.sql re-run",
            "a second run on the migrated database",
            "psql exits 0 and the schema and data are unchanged",
            &format!(
                "{}; {}",
                second.report,
                if changed { "changed" } else { "unchanged" }
            ),
            second.success && !changed,
        ));
        Ok(())
    })();
    drop(conn);
    drop_database(admin, db);
    outcome
}

/// A run that stopped after phase `j` (the script of phases 1..=j, run to its end), then the
/// whole script: it must pass the preflight and every check on the way despite what the
/// earlier run did, and complete the plan. One claim per phase boundary.
fn resumes(
    cluster: &Cluster,
    plan: &Plan,
    script: &str,
    db: &str,
    seed: (&str, &str),
    result: &mut CaseResult,
) -> Result<(), String> {
    let last = plan.phases.len().saturating_sub(1);
    for j in (0..last).filter(|&j| !plan.phases[j].steps.is_empty()) {
        let db = format!("{db}_r{}", j + 1);
        let admin = fresh_copy(cluster, &db, seed)?;
        let mut conn = cluster.connect(&db)?;
        let outcome = (|| {
            let mut partial = plan.clone();
            partial.phases.truncate(j + 1);
            // Its own already-applied test (the checks of phase j) may hold before it ran.
            partial.rerun_safe = false;
            let first = psql(cluster, &db, &render::sql::forward(&partial), &[])?;
            if !first.success {
                return Err(format!("phases 1-{} alone: {}", j + 1, first.report));
            }
            let what = format!(
                "the whole script run again after it stopped past phase {} '{}'",
                j + 1,
                plan.phases[j].name
            );
            let before = fingerprint(&mut conn)?;
            let rest = psql(cluster, &db, script, &[])?;
            if plan.resumes {
                let complete = already_applied(&mut conn, &completion_checks(&plan.phases))?;
                result.claims.push(Claim::new(
                    Kind::Statement,
                    "forward.sql after a stop between phases",
                    &what,
                    "psql exits 0 and the plan is complete (its already-applied test is true)",
                    &format!("{}; complete: {complete}", rest.report),
                    rest.success && complete,
                ));
            } else {
                // The plan says it does not resume: the preflight must stop it, changing nothing.
                let untouched = fingerprint(&mut conn)? == before;
                let preflight = plan.phases[0]
                    .checks
                    .iter()
                    .filter_map(|c| c.skip_var.as_deref());
                let mut stopped_at = preflight.clone().filter(|v| rest.stderr.contains(v));
                let ok = !rest.success && untouched && stopped_at.next().is_some();
                result.claims.push(Claim::new(
                    Kind::Statement,
                    "forward.sql after a stop between phases",
                    &what,
                    "the plan does not resume: a preflight check stops it, the database untouched",
                    &format!(
                        "{}; {}",
                        rest.report,
                        if untouched { "untouched" } else { "changed" }
                    ),
                    ok,
                ));
            }
            Ok(())
        })();
        drop(conn);
        drop_database(admin, &db);
        outcome?;
    }
    Ok(())
}

/// The seeded violation must make at least one stopping preflight check fail; the script must
/// then stop at the first of them, before any change; with their skip variables set it goes on.
fn stops_on_violation(
    cluster: &Cluster,
    plan: &Plan,
    script: &str,
    violation: &Violation,
    db: &str,
    seed: (&str, &str),
    result: &mut CaseResult,
) -> Result<(), String> {
    let db = format!("{db}_pre");
    let admin = fresh_copy(cluster, &db, seed)?;
    let mut conn = cluster.connect(&db)?;
    let outcome = (|| {
        exec(&mut conn, violation.breaks)?;
        let failing = failing_preflight_checks(&mut conn, plan)?;
        let place = "forward.sql with a broken precondition";
        result.claims.push(Claim::new(
            Kind::Check,
            place,
            &format!("a stopping preflight check guards `{}`", violation.breaks),
            "at least one stopping check before the first step fails",
            &failing
                .iter()
                .map(|c| c.description.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            !failing.is_empty(),
        ));
        let Some(first) = failing.first() else {
            return Ok(());
        };
        let var = first.skip_var.clone().unwrap_or_default();
        let before = fingerprint(&mut conn)?;
        let stopped = psql(cluster, &db, script, &[])?;
        let untouched = fingerprint(&mut conn)? == before;
        result.claims.push(Claim::new(
            Kind::Check,
            place,
            &format!("stops at check '{}'", first.description),
            &format!("psql exits non-zero naming {var}, the database untouched"),
            &format!(
                "{}; {}",
                stopped.report,
                if untouched { "untouched" } else { "changed" }
            ),
            !stopped.success && stopped.stderr.contains(&var) && untouched,
        ));
        let skips: Vec<(String, String)> = failing
            .iter()
            .filter_map(|c| c.skip_var.clone())
            .map(|v| (v, "1".to_string()))
            .collect();
        // Past the skipped checks, the script either ends or fails in a step (the NULL row is
        // still there): no stopping check of the plan may be what ended it.
        let skipped = psql(cluster, &db, script, &skips)?;
        let mut vars = plan
            .phases
            .iter()
            .flat_map(|p| &p.checks)
            .filter_map(|c| c.skip_var.as_deref());
        let went_on = skipped.success || !vars.any(|v| skipped.stderr.contains(v));
        result.claims.push(Claim::new(
            Kind::Check,
            place,
            "the skip variables let the script go on",
            &format!(
                "with {} set, the script passes the checks: it ends, or a step fails, never a check",
                skips
                    .iter()
                    .map(|(v, _)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            &skipped.report,
            went_on,
        ));
        // What the skipped run left (a NOT VALID constraint, an INVALID index) is this plan's
        // own: once the row is repaired, a re-run must pass the preflight and complete.
        exec(&mut conn, violation.repairs)?;
        let resumed = psql(cluster, &db, script, &[])?;
        let done = completion_checks(&plan.phases);
        let complete = already_applied(&mut conn, &done)?;
        result.claims.push(Claim::new(
            Kind::Check,
            place,
            "a re-run after the partial failure, once the row is repaired",
            "psql exits 0 and the plan is complete (its already-applied test is true)",
            &format!("{}; complete: {complete}", resumed.report),
            resumed.success && complete,
        ));
        Ok(())
    })();
    drop(conn);
    drop_database(admin, &db);
    outcome
}

/// The stopping checks the script runs before its first step whose result differs from what
/// they expect, in script order.
fn failing_preflight_checks<'p>(
    conn: &mut Client,
    plan: &'p Plan,
) -> Result<Vec<&'p Check>, String> {
    let mut failing = Vec::new();
    for phase in &plan.phases {
        if !phase.steps.is_empty() {
            break;
        }
        for check in phase.checks.iter().filter(|c| c.stops()) {
            let want = match &check.expected {
                Expected::Rows(rows) => rows.clone(),
                Expected::NoRows | Expected::Manual => Vec::new(),
            };
            let rows: Vec<Vec<String>> = text_rows(conn, &check.sql)?
                .into_iter()
                .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
                .collect();
            if rows != want {
                failing.push(check);
            }
        }
    }
    Ok(failing)
}

/// The script's own already-applied test, run on `conn`.
fn already_applied(conn: &mut Client, done: &[&Check]) -> Result<bool, String> {
    Ok(text_value(conn, &render::checks::pg_all_pass(done))?.as_deref() == Some("t"))
}

/// The schema dump of `public` and every user table's rows, as one text to compare.
fn fingerprint(conn: &mut Client) -> Result<String, String> {
    let mut out = text_value(conn, SCHEMA_DUMP_SQL)?.unwrap_or_default();
    let tables = text_rows(
        conn,
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1",
    )?;
    for table in tables
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        let rows = text_value(
            conn,
            &format!("SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM {table} t"),
        )?;
        out.push_str(&format!("\n{table}: {}", rows.unwrap_or_default()));
    }
    Ok(out)
}

/// A fresh copy `db` of the case's seeded database (`seed.0`) with the case's set-up SQL
/// (`seed.1`) run on it; returns the admin connection that drops it afterwards.
fn fresh_copy(
    cluster: &Cluster,
    db: &str,
    (template, setup): (&str, &str),
) -> Result<Client, String> {
    let admin = cluster.fresh_database(db, template)?;
    if !setup.is_empty() {
        exec(&mut cluster.connect(db)?, setup)?;
    }
    Ok(admin)
}

fn drop_database(mut admin: Client, db: &str) {
    let _ = exec(&mut admin, &format!("DROP DATABASE IF EXISTS {db}"));
}

/// One psql run of `script` on `db`, with `vars` set by `-v`.
fn psql(
    cluster: &Cluster,
    db: &str,
    script: &str,
    vars: &[(String, String)],
) -> Result<Outcome, String> {
    // Clusters run side by side with the same database names: the port keeps the files apart.
    let path = std::env::temp_dir().join(format!(
        "lockstep-{}-{}-{db}.sql",
        std::process::id(),
        cluster.port
    ));
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    let outcome = (|| {
        let mut cmd = Command::new("psql");
        cmd.args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .args(["-p", &cluster.port.to_string(), "-d", db]);
        for (name, value) in vars {
            cmd.arg("-v").arg(format!("{name}={value}"));
        }
        let mut child = cmd
            .arg("-f")
            .arg(&path)
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                format!("psql could not start ({e}): scripts/setup.sh postgres installs postgresql-client")
            })?;
        // Enter for every \prompt (psql -f reads it from standard input).
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all("\n".repeat(200).as_bytes());
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        Ok(Outcome {
            success: out.status.success(),
            report: report(out.status.code(), &stderr),
            stderr,
        })
    })();
    let _ = std::fs::remove_file(&path);
    outcome
}

/// `psql exited 0`, or the exit code and psql's own report ("psql:<file>:<line>: ERROR: ..."
/// and the lines after it).
fn report(code: Option<i32>, stderr: &str) -> String {
    if code == Some(0) {
        return "psql exited 0".to_string();
    }
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("press Enter"))
        .collect();
    let first = lines
        .iter()
        .position(|l| l.contains("ERROR") || l.contains("error:"));
    let shown = match first {
        Some(i) => lines[i..].iter().take(4).copied().collect::<Vec<_>>(),
        None => lines.iter().rev().take(3).rev().copied().collect(),
    };
    format!("psql exited {}: {}", code.unwrap_or(-1), shown.join(" | "))
}
