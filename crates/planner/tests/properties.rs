//! Properties every plan keeps, over change type x version x size x budget x identifiers:
//! a plan or a clear error (never a panic), no plan over its budget (zero included), every
//! lock-taking step guarded by lock_timeout, and generated names (common::names) always quoted
//! where they need it in every statement and in the rendered scripts, which lex cleanly.

use lockstep_planner::estimate::CATALOG_ONLY;
use lockstep_planner::model::{Blocks, Plan, Step};
use lockstep_planner::quote::Dialect;
use lockstep_planner::render::{json, markdown, sql};
use lockstep_planner::request::params::{change_fields, FIELDS};
use lockstep_planner::request::CHANGE_KINDS;
use lockstep_planner::Params;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::cell::Cell;

mod common;
use common::{
    check_one_statement, check_sql, fields_of_invalid, name_field, names, table_field, Name, Names,
};

const PG: Dialect = Dialect::Postgres;

/// A table name that ends the statement if pasted raw.
const HOSTILE: &str = "orders\"; drop table x; --";

/// Plausible values for each change-specific field that takes no name.
fn value_for(field: &str) -> String {
    match field {
        "type" => "boolean".into(),
        "default" => "false".into(),
        "from-type" => "integer".into(),
        "to-type" => "bigint".into(),
        "check" => "amount >= 0".into(),
        "value" => "cancelled".into(),
        "new-value" => "canceled".into(),
        "method" => "btree".into(),
        _ => String::new(),
    }
}

fn request(
    kind: &str,
    major: u32,
    minor: Option<u32>,
    rows: u64,
    budget_ms: u64,
    names: &Names,
    pk: bool,
) -> Params {
    let mut p = Params::new()
        .with(
            "db",
            match minor {
                Some(m) => format!("postgresql@{major}.{m}"),
                None => format!("postgresql@{major}"),
            },
        )
        .with("change", kind)
        .with("table", table_field(&names[0].text, PG))
        .with("rows", rows.to_string())
        .with("size", format!("{}B", rows.saturating_mul(200)))
        .with("max-downtime", format!("{budget_ms}ms"));
    if !pk {
        p.set("primary-key", "none");
    }
    for field in change_fields(kind) {
        let v = name_field(field, kind, names, PG).map_or_else(|| value_for(field), |(v, _)| v);
        if !v.is_empty() {
            p.set(field, v);
        }
    }
    p
}

/// Every statement, guard, rollback and check of `phases`, and the scripts, lexed.
fn check_sql_of(plan: &Plan, names: &[&str]) {
    let ok = |sql: &str| check_sql(sql, PG, names).unwrap_or_else(|e| panic!("{e}"));
    for phase in plan
        .phases
        .iter()
        .chain(plan.alternative.iter().flat_map(|a| &a.phases))
    {
        for step in &phase.steps {
            for statement in &step.sql {
                ok(statement);
                check_one_statement(statement, PG).unwrap_or_else(|e| panic!("{e}"));
            }
            step.only_if.as_deref().map(ok);
        }
        phase.rollback.iter().for_each(|r| ok(&r.sql));
        phase.checks.iter().for_each(|c| ok(&c.sql));
    }
    ok(&sql::forward(plan));
    ok(&sql::rollback(plan));
}

/// Blocking time is the wait for the lock plus the hold. A step fits the budget with its wait
/// included, or is a catalog-only moment whose lock timeout is already the shortest the
/// planner sets (`shortest_wait`): the zero-downtime floor.
fn check_blocking(step: &Step, budget_ms: u64, shortest_wait: f64) {
    let b = step.blocking_seconds.high;
    assert!(
        (b - step.lock_wait_seconds - step.hold_seconds.high).abs() < 1e-6,
        "{}: blocking time is not wait + hold",
        step.title
    );
    if step.blocks == Blocks::Nothing {
        assert_eq!(
            b, 0.0,
            "{}: blocks nothing but has a blocking time",
            step.title
        );
        return;
    }
    assert!(
        step.lock_wait_seconds > 0.0,
        "{}: blocks traffic, so traffic also queues while it waits for its lock",
        step.title
    );
    if b > budget_ms as f64 / 1000.0 + 1e-6 {
        assert!(
            step.hold_seconds.high <= CATALOG_ONLY.high,
            "{} blocks over budget",
            step.title
        );
        assert!(
            step.lock_wait_seconds <= shortest_wait + 1e-9,
            "{}: over the budget with a lock timeout longer than the shortest",
            step.title
        );
    }
}

fn check_plan(plan: &Plan, params: &Params, budget_ms: u64, names: &[&str]) {
    check_sql_of(plan, names);
    // Every stopping check has its own skip variable; a check judged by the operator informs.
    let mut vars = std::collections::HashSet::new();
    let alternative = plan.alternative.iter().flat_map(|a| &a.phases);
    for check in alternative.flat_map(|p| &p.checks) {
        assert_eq!(
            check.stops(),
            check.skip_var.is_some(),
            "{}",
            check.description
        );
    }
    for check in plan.phases.iter().flat_map(|p| &p.checks) {
        assert_eq!(
            check.stops(),
            check.skip_var.is_some(),
            "{}",
            check.description
        );
        if check.expected == lockstep_planner::model::Expected::Manual {
            assert!(
                !check.stops(),
                "{}: a manual check cannot stop the script",
                check.description
            );
        }
        if let Some(v) = &check.skip_var {
            assert!(vars.insert(v.clone()), "{v} named twice");
        }
    }
    // Every PostgreSQL forward script can tell that it already ran (the verifier proves it),
    // but a rebuild, which leaves nothing that tells a finished run from one not started.
    let rebuild = params.get("change") == Some("reindex");
    assert!(
        plan.rerun_safe != rebuild,
        "already-applied test: {}",
        plan.rerun_safe
    );
    assert!(!plan.resumes || plan.rerun_safe);

    for phase in &plan.phases {
        for step in &phase.steps {
            // PostgreSQL: the shortest lock_timeout the planner sets is 100 ms.
            check_blocking(step, budget_ms, 0.1);
            // psql's \if reads the guard's variable: typed with the guard, never parsed.
            assert_eq!(
                step.only_if.is_some(),
                step.guard_var.is_some(),
                "{}: a guard without its variable",
                step.title
            );
            if step.lock.is_some() {
                assert!(
                    step.lock_timeout_ms.is_some_and(|t| t > 0),
                    "{}: lock without lock_timeout",
                    step.title
                );
            }
            assert!(
                step.statement_timeout_ms.is_some(),
                "{}: no explicit statement_timeout",
                step.title
            );
            assert!(step.estimate.low <= step.estimate.high && step.estimate.low >= 0.0);
            if step.sql.iter().any(|s| s.contains("CONCURRENTLY")) {
                assert!(
                    !step.in_transaction,
                    "{}: CONCURRENTLY inside a transaction",
                    step.title
                );
            }
            if let Some(guard) = &step.only_if {
                assert!(
                    guard.contains(" AS "),
                    "guard must name its column for \\gset: {guard}"
                );
            }
        }
        let changes_schema = phase.steps.iter().any(|s| s.lock.is_some());
        assert!(
            !changes_schema || phase.irreversible.is_some() || !phase.rollback.is_empty(),
            "phase {} changes the schema but has neither rollback nor an irreversible reason",
            phase.name
        );
    }
    let md = markdown::render(plan, params);
    assert!(md.starts_with("# Lockstep runbook"));
    let doc: serde_json::Value = serde_json::from_str(&json::render(plan, params)).unwrap();
    for key in ["engine", "version", "phases", "warnings"] {
        assert!(doc.get(key).is_some(), "json lacks {key}");
    }
    for phase in doc["phases"].as_array().unwrap() {
        for key in ["name", "app_change", "steps", "rollback", "checks"] {
            assert!(phase.get(key).is_some(), "json phase lacks {key}");
        }
        for step in phase["steps"].as_array().unwrap() {
            for key in [
                "title",
                "sql",
                "lock",
                "blocks",
                "rewrites_table",
                "in_transaction",
                "estimate_seconds",
            ] {
                assert!(step.get(key).is_some(), "json step lacks {key}");
            }
        }
    }
}

/// One generated request.
#[derive(Debug, Clone)]
struct Case {
    kind: &'static str,
    major: u32,
    minor: Option<u32>,
    rows: u64,
    budget_ms: u64,
    names: Names,
    pk: bool,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        prop::sample::select(CHANGE_KINDS),
        10u32..=18,
        prop::option::of(0u32..30),
        prop_oneof![Just(0u64), 1u64..100_000, 100_000u64..10_000_000_000],
        prop_oneof![
            Just(0u64),
            Just(500),
            Just(30_000),
            Just(300_000),
            0u64..3_600_000
        ],
        [names(PG), names(PG), names(PG)],
        prop::bool::weighted(0.75),
    )
        .prop_map(|(kind, major, minor, rows, budget_ms, names, pk)| Case {
            kind,
            major,
            minor,
            rows,
            budget_ms,
            names,
            pk,
        })
}

/// Share of ordinary requests (valid names, a primary key) that must plan: the rest are
/// refused for what the change or the version needs (distinct names), each error naming
/// its field.
const MUST_PLAN: f64 = 0.97;

#[test]
fn every_request_plans_or_explains() {
    let (valid, planned) = (Cell::new(0u32), Cell::new(0u32));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 1500,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&cases(), |case| {
        let params = request(
            case.kind,
            case.major,
            case.minor,
            case.rows,
            case.budget_ms,
            &case.names,
            case.pk,
        );
        let invalid = fields_of_invalid(case.kind, &case.names, PG);
        let ordinary = invalid.is_empty() && case.pk;
        valid.set(valid.get() + u32::from(ordinary));
        match lockstep_planner::plan(&params) {
            Ok(plan) => {
                prop_assert!(
                    invalid.is_empty(),
                    "planned with a refused name in {:?}",
                    invalid
                );
                planned.set(planned.get() + u32::from(ordinary));
                let texts: Vec<&str> = case.names.iter().map(|n: &Name| n.text.as_str()).collect();
                check_plan(&plan, &params, case.budget_ms, &texts);
            }
            Err(errors) => {
                for e in &errors {
                    prop_assert!(
                        FIELDS.iter().any(|f| f.name == e.field),
                        "unknown field {}",
                        e.field
                    );
                }
                let reasons: Vec<&str> = case.names.iter().filter_map(|n| n.refused_for).collect();
                if !invalid.is_empty() {
                    prop_assert!(
                        errors.iter().any(|e| invalid.contains(&e.field.as_str())
                            && reasons.iter().any(|r| e.message.contains(r))),
                        "{:?} refused without naming {:?} for {:?}",
                        errors,
                        invalid,
                        reasons
                    );
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let share = f64::from(planned.get()) / f64::from(valid.get());
    assert!(
        share >= MUST_PLAN,
        "only {} of {} ordinary requests planned",
        planned.get(),
        valid.get()
    );
}

#[test]
fn the_63_byte_limit_is_enforced_with_a_clear_message() {
    let ok = "a".repeat(63);
    let long = "a".repeat(64);
    let base = request("add-index", 16, None, 1000, 0, &plain("orders"), true);
    assert!(lockstep_planner::plan(&base.clone().with("table", ok.as_str())).is_ok());
    let errors = lockstep_planner::plan(&base.with("table", long.as_str())).unwrap_err();
    assert_eq!(errors[0].field, "table");
    assert!(errors[0].message.contains("63 bytes"));
}

#[test]
fn hostile_table_name_is_one_quoted_identifier() {
    let mut names = plain("customer_id");
    names[0].text = HOSTILE.to_string();
    let params = request("add-index", 16, Some(4), 1000, 0, &names, true);
    let plan = lockstep_planner::plan(&params).unwrap();
    let build = plan
        .steps()
        .find(|s| s.sql[0].starts_with("CREATE INDEX CONCURRENTLY"))
        .unwrap();
    assert!(
        build.sql[0].contains(" ON \"orders\"\"; drop table x; --\" USING btree"),
        "{}",
        build.sql[0]
    );
}

fn plain(table: &str) -> Names {
    [table, "email", "orders_new"].map(|n| Name {
        text: n.to_string(),
        refused_for: None,
    })
}

/// Not left to the draw: every change kind, on every PostgreSQL major, at a zero and a
/// generous budget, writes each guard with the variable psql's `\if` reads (a guard built
/// without it renders `\if :lockstep_guard_missing`, which stops the script).
#[test]
fn every_guard_has_its_variable_on_every_kind_and_version() {
    let plain = |field: &str| -> String {
        match field {
            "column" | "columns" => "note".into(),
            "new-name" => "memo".into(),
            "index" => "orders_note_idx".into(),
            "references" => "customers(id)".into(),
            "new-table" => "order_notes".into(),
            "type-name" => "order_status".into(),
            other => value_for(other),
        }
    };
    let mut planned = 0;
    for kind in CHANGE_KINDS {
        for major in 10..=18 {
            for budget in ["0", "10m"] {
                let mut p = Params::new()
                    .with("db", format!("postgresql@{major}"))
                    .with("change", *kind)
                    .with("table", "orders")
                    .with("rows", "50M")
                    .with("size", "10GB")
                    .with("max-downtime", budget);
                for field in change_fields(kind) {
                    let v = plain(field);
                    if !v.is_empty() {
                        p.set(field, v);
                    }
                }
                let Ok(plan) = lockstep_planner::plan(&p) else {
                    continue;
                };
                planned += 1;
                let phases = plan
                    .phases
                    .iter()
                    .chain(plan.alternative.iter().flat_map(|a| &a.phases));
                for step in phases.flat_map(|p| &p.steps) {
                    assert_eq!(
                        step.only_if.is_some(),
                        step.guard_var.is_some(),
                        "{kind} on {major}: {}: a guard without its variable",
                        step.title
                    );
                }
            }
        }
    }
    assert!(planned >= CHANGE_KINDS.len() * 9, "only {planned} plans");
}
