//! forward.sql, the file a user downloads, run the way the runbook says: `psql -X -f`, from the
//! first line to the last, on a fresh copy of the case's seeded database, with Enter answered
//! at every deploy gate and pause. The step-by-step run proves each claim; this proves that the
//! script around them (settings, transactions, `\gset`/`\if` guards, `\gexec` generators,
//! gates) parses and runs as one file.

use crate::cluster::Cluster;
use crate::report::{CaseResult, Claim, Kind};
use crate::sql::exec;
use lockstep_planner::plan::{Plan, Run};
use lockstep_planner::render;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `plan`'s forward script on database `db`, a fresh copy of `template` with the case's
/// `setup` SQL run on it.
pub fn forward_script_claim(
    cluster: &Cluster,
    plan: &Plan,
    db: &str,
    (template, setup): (&str, &str),
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
    let (ok, observed) = match run(cluster, plan, db, template, setup) {
        Ok(()) => (true, "psql exited 0".to_string()),
        Err(e) => (false, e),
    };
    result.claims.push(Claim::new(
        Kind::Statement,
        "forward.sql",
        "runs from start to end in psql -X -f, Enter answered at every pause",
        "psql exits 0 (ON_ERROR_STOP)",
        &observed,
        ok,
    ));
}

fn run(
    cluster: &Cluster,
    plan: &Plan,
    db: &str,
    template: &str,
    setup: &str,
) -> Result<(), String> {
    let mut admin = cluster.fresh_database(db, template)?;
    if !setup.is_empty() {
        exec(&mut cluster.connect(db)?, setup)?;
    }
    // Clusters run side by side with the same database names: the port keeps the files apart.
    let path = std::env::temp_dir().join(format!(
        "lockstep-{}-{}-{db}.sql",
        std::process::id(),
        cluster.port
    ));
    let outcome = (|| {
        std::fs::write(&path, render::sql::forward(plan)).map_err(|e| e.to_string())?;
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &cluster.port.to_string(), "-d", db, "-f"])
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
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            // psql's own report: "psql:<file>:<line>: ERROR: ..." and the lines after it.
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
            Err(format!(
                "psql exited {}: {}",
                out.status.code().unwrap_or(-1),
                shown.join(" | ")
            ))
        }
    })();
    let _ = std::fs::remove_file(&path);
    let _ = exec(&mut admin, &format!("DROP DATABASE IF EXISTS {db}"));
    outcome
}
