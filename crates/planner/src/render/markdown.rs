//! The runbook a human follows at 3 a.m.: phases in order, every step with its lock, what it
//! blocks, how long, how to retry; deploy gates, rollback and checks per phase.

use super::step_text;
use crate::model::{human_seconds_up, Check, Phase, Plan};
use crate::request::params::Params;
use crate::request::Engine;
use std::fmt::Write;

pub fn render(plan: &Plan, params: &Params) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# Lockstep runbook: {}\n", plan.summary);
    let label = match plan.engine.as_str() {
        "mysql" => "MySQL",
        "mariadb" => "MariaDB",
        _ => "PostgreSQL",
    };
    let _ = writeln!(w, "- Database: {label} {}", plan.version);
    // A MySQL name carries backquotes: a double-backtick code span keeps them visible.
    if plan.table.contains('`') {
        let _ = writeln!(w, "- Table: `` {} ``", plan.table);
    } else {
        let _ = writeln!(w, "- Table: `{}`", plan.table);
    }
    for (name, label) in [
        ("rows", "Rows"),
        ("size", "Size"),
        ("max-downtime", "Downtime budget"),
    ] {
        if let Some(v) = params.get(name) {
            let _ = writeln!(w, "- {label}: {v}");
        }
    }
    let _ = writeln!(
        w,
        "- Longest blocking step: {}",
        blocking_text(plan.longest_blocking_seconds)
    );
    let _ = writeln!(w, "- Re-running forward.sql: {}", rerun_text(plan));
    let _ = writeln!(
        w,
        "- After forward.sql stopped between phases: {}",
        resume_text(plan)
    );
    let _ = writeln!(
        w,
        "\n**Strategy ({}):** {}\n",
        plan.strategy.chosen, plan.strategy.rule
    );
    if !plan.warnings.is_empty() {
        let _ = writeln!(w, "## Warnings\n");
        for warning in &plan.warnings {
            let _ = writeln!(w, "- **{}**: {}", warning.code, warning.message);
        }
        let _ = writeln!(w);
    }
    for (i, phase) in plan.phases.iter().enumerate() {
        render_phase(w, i + 1, phase, plan.engine != "postgresql");
    }
    if let Some(alt) = &plan.alternative {
        let _ = writeln!(w, "## Alternative: {}\n\n{}\n", alt.label, alt.why);
        for phase in alt.phases.iter().filter(|p| !p.steps.is_empty()) {
            for step in &phase.steps {
                let _ = writeln!(
                    w,
                    "- {} — lock {}, blocks {} for {} (runs {})",
                    step.title,
                    lock_text(step.lock),
                    step.blocks.describe(),
                    blocked_for(step),
                    step.estimate.describe()
                );
                let _ = writeln!(w, "\n{}", fenced(step));
            }
        }
    }
    let _ = writeln!(w, "## Assumptions of the duration estimates\n");
    for a in &plan.assumptions {
        let flag = if a.overridden_by.is_empty() {
            String::new()
        } else {
            format!(" (override: `--{}`)", a.overridden_by)
        };
        let _ = writeln!(w, "- {}: {}{}", a.name, a.value, flag);
    }
    out
}

/// Whether a re-run of the whole forward script is known to be a no-op.
fn rerun_text(plan: &Plan) -> &'static str {
    if plan.rerun_safe {
        "safe once it has finished: it first asks whether the plan is already applied (the last phase's checks) and then ends without changing anything (verified: the live verifier runs every PostgreSQL forward.sql twice)"
    } else {
        "not proven a no-op for this plan: after it has finished, do not run it again"
    }
}

/// What a re-run does after the script stopped part-way.
fn resume_text(plan: &Plan) -> &'static str {
    if plan.resumes {
        "fix what stopped it and run it again: it passes the preflight despite what the earlier run did, skips what is done and completes the plan (verified at every phase boundary)"
    } else if plan.rerun_safe {
        "its preflight describes the table before the plan and stops a re-run before any change (verified): run the remaining phases by hand from this runbook"
    } else {
        "run the remaining phases by hand from this runbook (a re-run of the whole script is not proven to resume)"
    }
}

/// What a failed check does, and how to skip it knowingly.
fn check_effect(check: &Check, mysql_family: bool) -> String {
    let mut out = match check.skip_var.as_deref().filter(|_| check.stops()) {
        Some(var) if mysql_family => format!("Stops forward.sql when the result differs (to go on knowingly: `mysql --init-command='SET @{var}=1' ...`)."),
        Some(var) => format!("Stops forward.sql when the result differs (to go on knowingly: `psql -X -v {var}=1 -f forward.sql`)."),
        None => "Informs only: forward.sql shows the result and goes on; judge it yourself.".to_string(),
    };
    if check.scans_table {
        out.push_str(" Reads the whole table: on a big table run it on a replica first.");
    }
    out
}

fn blocking_text(seconds: f64) -> String {
    if seconds <= 0.0 {
        "none".to_string()
    } else {
        format!("up to {}", human_seconds_up(seconds))
    }
}

/// How long the step stops the traffic it blocks ([`super::blocked_for`]) and the server-wide
/// stall it claims ([`super::server_stall`]); "—" for neither.
fn blocked_for(step: &crate::model::Step) -> String {
    let text = [super::blocked_for(step), super::server_stall(step)]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if text.is_empty() {
        "—".to_string()
    } else {
        text
    }
}

/// A step's text in a fenced block: `sh` for a tool's command line, `sql` otherwise.
fn fenced(step: &crate::model::Step) -> String {
    match &step.shell {
        Some(command) => format!("```sh\n{command}\n```\n"),
        None => format!("```sql\n{}\n```\n", step_text(step)),
    }
}

fn lock_text(lock: Option<crate::model::Lock>) -> String {
    lock.map_or("none beyond ordinary row locks".to_string(), |l| l.name())
}

fn render_phase(w: &mut String, number: usize, phase: &Phase, mysql_family: bool) {
    let _ = writeln!(
        w,
        "## Phase {number}: {}\n\n{}\n",
        phase.name, phase.purpose
    );
    if let Some(app) = &phase.app_change {
        let _ = writeln!(w, "> **Deploy gate — before this phase:** {app}\n");
    }
    for (j, step) in phase.steps.iter().enumerate() {
        render_step(w, number, j + 1, step);
    }
    render_checks(w, &phase.checks, mysql_family);
    render_rollback(w, phase);
}

/// A step: its lock table, its guard, its statements, then notes, retry and re-run advice.
fn render_step(w: &mut String, number: usize, j: usize, step: &crate::model::Step) {
    let _ = writeln!(w, "### Step {number}.{j}: {}\n", step.title);
    let _ = writeln!(
        w,
        "| lock | blocks | blocked for | duration | table | transaction |"
    );
    let _ = writeln!(w, "|---|---|---|---|---|---|");
    let table = match (step.rewrites_table, step.scans_table) {
        (true, _) => "rewritten",
        (false, true) => "scanned",
        _ => "untouched",
    };
    let _ = writeln!(
        w,
        "| {} | {} | {} | {} | {} | {} |\n",
        lock_text(step.lock),
        step.blocks.describe(),
        blocked_for(step),
        step.estimate.describe(),
        table,
        if step.in_transaction {
            "inside one"
        } else {
            "outside any (run each statement on its own)"
        }
    );
    if let Some(guard) = &step.only_if {
        let (yes, client) = match step.engine {
            Engine::Postgresql => ("t", "the psql form below checks it for you"),
            Engine::Mariadb => ("1", "the script form below checks it for you"),
            Engine::Mysql => ("1", "check it yourself before running the statements"),
        };
        let _ = writeln!(
            w,
            "Run only when this returns `{yes}` ({client}):\n\n```sql\n{guard}\n```\n"
        );
    }
    let _ = writeln!(w, "{}", fenced(step));
    if let Some(why) = &step.unverified {
        let _ = writeln!(w, "- Verification: {why}");
    }
    for note in &step.notes {
        let _ = writeln!(w, "- {note}");
    }
    let _ = writeln!(w, "- Retry: {}", step.retry);
    if let Some(rerun) = step.rerun.sentence() {
        let _ = writeln!(w, "- Re-run: {rerun}");
    }
    let _ = writeln!(w);
}

fn render_checks(w: &mut String, checks: &[Check], mysql_family: bool) {
    if checks.is_empty() {
        return;
    }
    let _ = writeln!(w, "**Checks**\n");
    for check in checks {
        let _ = writeln!(
            w,
            "- {} — expect {}\n\n  {}\n\n  ```sql\n  {}\n  ```\n",
            check.description,
            check.expect,
            check_effect(check, mysql_family),
            check.sql
        );
        if let Some(guard) = &check.only_if {
            let _ = writeln!(
                w,
                "  Only while this returns 1 (a re-run skips it once the plan has gone past this phase; the script checks it for you on MariaDB):\n\n  ```sql\n  {guard}\n  ```\n"
            );
        }
    }
}

fn render_rollback(w: &mut String, phase: &Phase) {
    if let Some(why) = &phase.irreversible {
        let _ = writeln!(w, "**Rollback:** cannot be rolled back: {why}\n");
        return;
    }
    if phase.rollback.is_empty() {
        return;
    }
    let _ = writeln!(w, "**Rollback**\n");
    for r in &phase.rollback {
        match &r.shell {
            Some(command) => {
                let _ = writeln!(w, "```sh\n{command}\n```\n");
            }
            None => {
                let _ = writeln!(w, "```sql\n{}\n```\n", r.sql);
            }
        }
        if let Some(note) = &r.note {
            let _ = writeln!(w, "{note}\n");
        }
    }
}
