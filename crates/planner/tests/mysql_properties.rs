//! Properties every MySQL and MariaDB plan keeps, over change type x engine x version x size x
//! budget x identifiers: a plan or a clear error naming a field (never a panic), no plan over
//! its budget, every DDL written with its ALGORITHM (and LOCK=NONE where it claims writes
//! continue) and guarded by lock_wait_timeout, generated names (common::names) always inside
//! backquotes in every statement and in the rendered scripts, which lex cleanly.

use lockstep_planner::estimate::CATALOG_ONLY;
use lockstep_planner::model::{Algorithm, Blocks, LockClause, MysqlLock, Plan, Step};
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

const MY: Dialect = Dialect::Mysql;

const SERVERS: &[&str] = &[
    "mysql@5.7",
    "mysql@5.7.44",
    "mysql@8.0",
    "mysql@8.0.11",
    "mysql@8.0.12",
    "mysql@8.0.28",
    "mysql@8.0.29",
    "mysql@8.0.31",
    "mysql@8.0.35",
    "mysql@8.4",
    "mysql@8.4.3",
    "mariadb@10.3",
    "mariadb@10.4",
    "mariadb@10.5",
    "mariadb@10.6",
    "mariadb@10.11",
    "mariadb@10.11.6",
    "mariadb@11.4",
];

/// Plausible values for each change-specific field that takes no name.
fn value_for(field: &str) -> String {
    match field {
        "type" => "int".into(),
        "default" => "0".into(),
        "from-type" => "int".into(),
        "to-type" => "bigint".into(),
        "check" => "amount >= 0".into(),
        "value" => "cancelled".into(),
        "new-value" => "canceled".into(),
        _ => String::new(),
    }
}

/// Every statement, rollback and check of the plan, and the scripts, lexed.
fn check_sql_of(plan: &Plan, names: &[&str]) {
    let ok = |sql: &str| check_sql(sql, MY, names).unwrap_or_else(|e| panic!("{e}"));
    for phase in plan
        .phases
        .iter()
        .chain(plan.alternative.iter().flat_map(|a| &a.phases))
    {
        for step in &phase.steps {
            for statement in &step.sql {
                ok(statement);
                check_one_statement(statement, MY).unwrap_or_else(|e| panic!("{e}"));
                assert_algorithm_exists(&plan.engine, statement);
            }
        }
        phase.rollback.iter().for_each(|r| {
            ok(&r.sql);
            assert_algorithm_exists(&plan.engine, &r.sql);
        });
        phase.checks.iter().for_each(|c| ok(&c.sql));
    }
    ok(&sql::forward(plan));
    ok(&sql::rollback(plan));
}

/// `ALGORITHM=NOCOPY` is MariaDB's (MySQL has INSTANT, INPLACE and COPY only): a MySQL plan
/// never writes it outside quotes.
fn assert_algorithm_exists(engine: &str, sql: &str) {
    if engine != "mysql" {
        return;
    }
    for token in lockstep_planner::lex::tokens(sql, MY).unwrap_or_default() {
        if let lockstep_planner::lex::Token::Bare(text) = token {
            assert!(
                !text.to_ascii_uppercase().contains("NOCOPY"),
                "MySQL has no ALGORITHM=NOCOPY:\n{sql}"
            );
        }
    }
}

/// A MODIFY or CHANGE restates the whole column and drops what it does not say: every path that
/// writes one (statement, rollback, a tool's --alter) proves in its preflight that nothing the
/// column has would be lost.
fn assert_restatements_proven(phases: &[lockstep_planner::model::Phase]) {
    let texts = phases.iter().flat_map(|p| {
        p.steps
            .iter()
            .flat_map(|s| s.sql.iter().chain(s.shell.iter()))
            .chain(
                p.rollback
                    .iter()
                    .flat_map(|r| std::iter::once(&r.sql).chain(r.shell.iter())),
            )
    });
    let restates = texts
        .into_iter()
        .any(|t| t.contains(" MODIFY ") || t.contains("'MODIFY ") || t.contains("CHANGE COLUMN "));
    if restates {
        assert!(
            phases[0]
                .checks
                .iter()
                .any(|c| c.sql.contains("would_be_dropped")
                    && c.expected == lockstep_planner::model::Expected::NoRows),
            "a MODIFY/CHANGE without the lost-attributes check in its preflight"
        );
    }
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

    for phase in &plan.phases {
        for step in &phase.steps {
            // MySQL's lock_wait_timeout is at least 1 s; gh-ost's cut-over waits up to three times it.
            check_blocking(step, budget_ms, 3.0);
            assert!(step.estimate.low <= step.estimate.high && step.estimate.low >= 0.0);
            assert!(
                step.pg_lock().is_none(),
                "{}: a PostgreSQL lock in a MySQL plan",
                step.title
            );
            let mysql_lock = step.lock.and_then(|l| l.mysql());
            if let Some(lock) = mysql_lock {
                assert!(step.lock_timeout_ms.is_some_and(|t| t > 0));
                if let MysqlLock::Alter {
                    algorithm,
                    lock: clause,
                } = lock
                {
                    let alters: Vec<&String> = step
                        .sql
                        .iter()
                        .filter(|s| s.starts_with("ALTER TABLE"))
                        .collect();
                    for statement in &alters {
                        let alg = match algorithm {
                            Algorithm::Instant => "ALGORITHM=INSTANT",
                            Algorithm::Inplace => "ALGORITHM=INPLACE",
                            Algorithm::Nocopy => "ALGORITHM=NOCOPY",
                            Algorithm::Copy => "ALGORITHM=COPY",
                        };
                        assert!(
                            statement.contains(alg),
                            "{}: {statement} lacks {alg}",
                            step.title
                        );
                        if clause == LockClause::None {
                            assert!(statement.contains("LOCK=NONE"), "{statement}");
                        }
                        if algorithm == Algorithm::Instant && plan.engine == "mysql" {
                            assert!(
                                !statement.contains("LOCK="),
                                "MySQL refuses LOCK with INSTANT: {statement}"
                            );
                        }
                    }
                }
            }
            if step.shell.is_some() {
                assert!(step.sql.is_empty(), "{}: shell step with SQL", step.title);
            }
            if plan.engine == "mysql" && mysql_lock.is_some() {
                assert!(
                    step.unverified.is_some(),
                    "{}: a MySQL DDL claim not marked as documented-only",
                    step.title
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
    assert_restatements_proven(&plan.phases);
    if let Some(alternative) = &plan.alternative {
        assert_restatements_proven(&alternative.phases);
    }
    assert!(markdown::render(plan, params).starts_with("# Lockstep runbook"));
    let forward = sql::forward(plan);
    assert!(!forward.contains("\\prompt") && !forward.contains("SET lock_timeout"));
    let doc: serde_json::Value = serde_json::from_str(&json::render(plan, params)).unwrap();
    assert!(doc["engine"] == "mysql" || doc["engine"] == "mariadb");
}

/// One generated request.
#[derive(Debug, Clone)]
struct Case {
    kind: &'static str,
    db: &'static str,
    rows: u64,
    budget_ms: u64,
    names: Names,
    pk: bool,
    fks: bool,
    replicas: bool,
    tools: &'static str,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        (
            prop::sample::select(CHANGE_KINDS),
            prop::sample::select(SERVERS),
            prop_oneof![Just(0u64), 1u64..100_000, 100_000u64..10_000_000_000],
            prop_oneof![Just(0u64), Just(500), Just(30_000), Just(300_000), 0u64..3_600_000],
        ),
        [names(MY), names(MY), names(MY)],
        (prop::bool::weighted(0.75), any::<bool>(), any::<bool>()),
        prop_oneof![
            3 => Just(""),
            2 => prop::sample::select(&["gh-ost", "pt-online-schema-change", "spirit", "gh-ost,spirit"][..]),
        ],
    )
        .prop_map(|((kind, db, rows, budget_ms), names, (pk, fks, replicas), tools)| Case {
            kind,
            db,
            rows,
            budget_ms,
            names,
            pk,
            fks,
            replicas,
            tools,
        })
}

fn request(case: &Case) -> Params {
    let mut params = Params::new()
        .with("db", case.db)
        .with("change", case.kind)
        .with("table", table_field(&case.names[0].text, MY))
        .with("rows", case.rows.to_string())
        .with("size", format!("{}B", case.rows.saturating_mul(200)))
        .with("max-downtime", format!("{}ms", case.budget_ms))
        .with("foreign-keys", case.fks.to_string())
        .with("replicas", case.replicas.to_string())
        .with("osc-tools", case.tools);
    if !case.pk {
        params.set("primary-key", "none");
    }
    for field in change_fields(case.kind) {
        let v = name_field(field, case.kind, &case.names, MY).map_or_else(
            || match (case.kind, *field) {
                // The column's current ENUM, holding the label renamed.
                ("rename-enum-value", "type") => "enum('new','cancelled') NOT NULL".to_string(),
                ("add-enum-value", "type") => "enum('new','paid') NOT NULL".to_string(),
                _ => value_for(field),
            },
            |(v, _)| v,
        );
        if !v.is_empty() {
            params.set(field, v);
        }
    }
    params
}

/// Share of ordinary requests (valid names, a primary key, every tool allowed) that must plan: the rest are
/// refused for what the change or the version needs (distinct names, CHECK on MySQL before 8.0.16), each error naming
/// its field.
const MUST_PLAN: f64 = 0.9;

#[test]
fn every_mysql_request_plans_or_explains() {
    let (valid, planned) = (Cell::new(0u32), Cell::new(0u32));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&cases(), |case| {
        let params = request(&case);
        let invalid = fields_of_invalid(case.kind, &case.names, MY);
        let ordinary = invalid.is_empty() && case.pk && case.tools.is_empty();
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
fn the_64_character_limit_is_enforced_with_a_clear_message() {
    let base = Params::new()
        .with("db", "mariadb@10.11")
        .with("change", "add-column")
        .with("column", "c")
        .with("type", "int")
        .with("rows", "1000")
        .with("size", "1MB")
        .with("max-downtime", "0");
    let ok = "é".repeat(64);
    assert!(lockstep_planner::plan(&base.clone().with("table", ok.as_str())).is_ok());
    let errors = lockstep_planner::plan(&base.with("table", "é".repeat(65).as_str())).unwrap_err();
    assert_eq!(errors[0].field, "table");
    assert!(errors[0].message.contains("64"), "{}", errors[0].message);
}
