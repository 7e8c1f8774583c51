//! One small snapshot per MySQL/MariaDB change type and strategy: the strategy, each phase's
//! name, each step's title, lock and what it blocks, and its SQL or shell command (no prose,
//! checks or rollback, which the property tests and the runbook snapshots cover). Servers whose
//! plans are the same share one snapshot, named after all of them, so a change in where the
//! strategy differs between versions shows as a renamed snapshot.

use lockstep_planner::model::{Phase, Plan};
use lockstep_planner::request::CHANGE_KINDS;
use lockstep_planner::Params;
use std::fmt::Write;

const SERVERS: &[&str] = &[
    "mysql@8.0.35",
    "mysql@8.4",
    "mysql@5.7",
    "mariadb@10.11",
    "mariadb@10.3",
];

/// Table sizes: a large table at zero downtime, and a small one with seconds to spare.
const SIZES: &[(&str, &str, &str, &str)] = &[
    ("large", "50M", "20GB", "0s"),
    ("small", "1000", "1MB", "5s"),
];

fn request(kind: &str, db: &str, rows: &str, size: &str, budget: &str) -> Params {
    let mut p = Params::new()
        .with("db", db)
        .with("change", kind)
        .with("table", "orders")
        .with("rows", rows)
        .with("size", size)
        .with("max-downtime", budget);
    let fields: &[(&str, &str)] = match kind {
        "add-column" => &[("column", "note"), ("type", "varchar(64)")],
        "drop-column" => &[("column", "note")],
        "add-not-null" => &[("column", "note"), ("type", "varchar(64)")],
        "rename-column" => &[
            ("column", "note"),
            ("new-name", "comment"),
            ("type", "varchar(64)"),
        ],
        "rename-table" => &[("new-name", "purchases")],
        "change-type" => &[
            ("column", "qty"),
            ("from-type", "int"),
            ("to-type", "bigint"),
        ],
        "add-index" | "add-unique" => &[("columns", "email")],
        "drop-index" | "reindex" => &[("index", "orders_email_idx")],
        "add-foreign-key" => &[("column", "customer_id"), ("references", "customers(id)")],
        "add-check" => &[("check", "amount >= 0")],
        "split-table" => &[("columns", "note"), ("new-table", "order_notes")],
        "set-default" => &[("column", "status"), ("default", "'new'")],
        "drop-default" => &[("column", "status")],
        "drop-not-null" => &[("column", "status"), ("type", "varchar(16) DEFAULT 'new'")],
        "add-enum-value" => &[
            ("column", "status"),
            (
                "type",
                "enum('new','paid','cancelled') NOT NULL DEFAULT 'new'",
            ),
            ("value", "refunded"),
        ],
        "rename-enum-value" => &[
            ("column", "status"),
            (
                "type",
                "enum('new','paid','cancelled') NOT NULL DEFAULT 'new'",
            ),
            ("value", "cancelled"),
            ("new-value", "canceled"),
        ],
        _ => &[],
    };
    for (field, value) in fields {
        p.set(field, *value);
    }
    p
}

fn phases(out: &mut String, phases: &[Phase]) {
    for phase in phases {
        let _ = writeln!(out, "phase: {}", phase.name);
        for step in &phase.steps {
            let lock = step.lock.map_or("none".to_string(), |l| l.name());
            let _ = writeln!(
                out,
                "  step: {} [{lock}; blocks {:?}]",
                step.title, step.blocks
            );
            for statement in &step.sql {
                let _ = writeln!(out, "    {}", statement.replace('\n', "\n    "));
            }
            if let Some(shell) = &step.shell {
                let _ = writeln!(out, "    $ {}", tool_and_alter(shell));
            }
        }
    }
}

/// A tool's command line cut to what decides the change: its name and its `--alter`.
fn tool_and_alter(shell: &str) -> String {
    let tool = shell.split_whitespace().next().unwrap_or_default();
    let alter = shell
        .lines()
        .map(|l| l.trim().trim_end_matches('\\').trim())
        .filter(|l| l.starts_with("--alter"))
        .collect::<Vec<_>>()
        .join(" ");
    format!("{tool} {alter}")
}

/// The plan's shape: strategy, phases, steps, locks, statements.
fn compact(plan: &Plan) -> String {
    let mut out = format!("strategy: {}\n", plan.strategy.chosen);
    phases(&mut out, &plan.phases);
    if let Some(alternative) = &plan.alternative {
        let _ = writeln!(out, "alternative: {}", alternative.label);
        phases(&mut out, &alternative.phases);
    }
    out
}

/// The plan's shape, or the refusal, for one request.
fn outcome(params: &Params) -> String {
    match lockstep_planner::plan(params) {
        Ok(plan) => compact(&plan),
        Err(errors) => errors
            .iter()
            .map(|e| format!("refused: {}: {}\n", e.field, e.message))
            .collect(),
    }
}

#[test]
fn mysql_and_mariadb_plan_shapes() {
    for kind in CHANGE_KINDS {
        for (label, rows, size, budget) in SIZES {
            let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
            for db in SERVERS {
                let text = outcome(&request(kind, db, rows, size, budget));
                match groups.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, dbs)) => dbs.push(db),
                    None => groups.push((text, vec![db])),
                }
            }
            for (text, dbs) in groups {
                let servers = dbs.join("_").replace(['@', '.'], "-");
                insta::assert_snapshot!(format!("{kind}_{label}_{servers}"), text);
            }
        }
    }
}
