//! Properties every MySQL and MariaDB plan keeps, over change type x engine x version x size x
//! budget x identifiers: a plan or a clear error naming a field (never a panic), no plan over
//! its budget, every DDL written with its ALGORITHM (and LOCK=NONE where it claims writes
//! continue) and guarded by lock_wait_timeout, hostile names always inside backquotes.

use lockstep_planner::estimate::CATALOG_ONLY;
use lockstep_planner::input::CHANGE_KINDS;
use lockstep_planner::params::{change_fields, FIELDS};
use lockstep_planner::plan::{Algorithm, Blocks, LockClause, MysqlLock, Plan, Step};
use lockstep_planner::render::{json, markdown, sql};
use lockstep_planner::Params;
use proptest::prelude::*;

/// Names that end the statement, or open a comment or a string, if pasted raw.
const HOSTILE: &str = "orders`; drop table x; --";
const NAMES: &[&str] = &[
    "orders",
    HOSTILE,
    "Order Items",
    "select",
    "zählung",
    "a'b",
    "back\\slash",
    "hash#tag",
];

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

fn value_for(field: &str, name: &str) -> String {
    match field {
        "column" => name.to_string(),
        "columns" => format!("{name}, customer_id"),
        "type" => "int".into(),
        "default" => "0".into(),
        "from-type" => "int".into(),
        "to-type" => "bigint".into(),
        "references" => "customers(id)".into(),
        "check" => "amount >= 0".into(),
        "new-name" => format!("{name}_new"),
        "new-table" => format!("{name}_details"),
        "index" => format!("{name}_idx"),
        _ => String::new(),
    }
}

/// Splits MySQL text into backquoted identifiers, string literals and the bare text between.
#[derive(Debug)]
enum Token {
    Quoted,
    Bare(String),
}

fn lex(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut bare = String::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' || c == '\'' {
            tokens.push(Token::Bare(std::mem::take(&mut bare)));
            i += 1;
            loop {
                assert!(i < chars.len(), "unclosed {c} in {sql}");
                // A backslash escapes the next character in a MySQL string literal: the planner
                // must never rely on that (its literals are mode-independent), so treat it as
                // an error when it precedes the closing quote.
                if c == '\'' && chars[i] == '\\' {
                    panic!("backslash inside a string literal (depends on NO_BACKSLASH_ESCAPES) in {sql}");
                }
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
            tokens.push(Token::Quoted);
        } else {
            bare.push(c);
            i += 1;
        }
    }
    tokens.push(Token::Bare(bare));
    tokens
}

fn assert_harmless(sql: &str) {
    for token in lex(sql) {
        if let Token::Bare(text) = token {
            assert!(
                !text.contains("drop table x"),
                "hostile name outside quotes in:\n{sql}"
            );
            assert!(!text.contains("--"), "comment outside quotes in:\n{sql}");
            assert!(!text.contains('#'), "# comment outside quotes in:\n{sql}");
            assert!(
                !text.contains('"'),
                "double quote outside quotes in:\n{sql}"
            );
        }
    }
}

fn assert_one_statement(sql: &str) {
    let semicolons: usize = lex(sql)
        .iter()
        .map(|t| match t {
            Token::Bare(text) => text.matches(';').count(),
            Token::Quoted => 0,
        })
        .sum();
    assert_eq!(semicolons, 1, "expected exactly one statement:\n{sql}");
}

/// `ALGORITHM=NOCOPY` is MariaDB's (MySQL has INSTANT, INPLACE and COPY only): a MySQL plan
/// never writes it outside quotes.
fn assert_algorithm_exists(engine: &str, sql: &str) {
    if engine != "mysql" {
        return;
    }
    for token in lex(sql) {
        if let Token::Bare(text) = token {
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
fn assert_restatements_proven(phases: &[lockstep_planner::plan::Phase]) {
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
                    && c.expected == lockstep_planner::plan::Expected::NoRows),
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

fn check_plan(plan: &Plan, params: &Params, budget_ms: u64) {
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
        if check.expected == lockstep_planner::plan::Expected::Manual {
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
            for statement in &step.sql {
                assert_harmless(statement);
                assert_one_statement(statement);
                assert_algorithm_exists(&plan.engine, statement);
            }
        }
        for r in &phase.rollback {
            assert_harmless(&r.sql);
            assert_algorithm_exists(&plan.engine, &r.sql);
        }
        for c in &phase.checks {
            assert_harmless(&c.sql);
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
    let _ = sql::rollback(plan);
    let doc: serde_json::Value = serde_json::from_str(&json::render(plan, params)).unwrap();
    assert!(doc["engine"] == "mysql" || doc["engine"] == "mariadb");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_mysql_request_plans_or_explains(
        kind in prop::sample::select(CHANGE_KINDS),
        db in prop::sample::select(SERVERS),
        rows in prop_oneof![Just(0u64), 1u64..100_000, 100_000u64..10_000_000_000],
        budget_ms in prop_oneof![Just(0u64), Just(500), Just(30_000), Just(300_000), 0u64..3_600_000],
        name in prop::sample::select(NAMES),
        pk in any::<bool>(),
        fks in any::<bool>(),
        replicas in any::<bool>(),
        tools in prop::sample::select(&["", "gh-ost", "pt-online-schema-change", "spirit", "gh-ost,spirit"][..]),
    ) {
        let mut params = Params::new()
            .with("db", db)
            .with("change", kind)
            .with("table", name)
            .with("rows", rows.to_string())
            .with("size", format!("{}B", rows.saturating_mul(200)))
            .with("max-downtime", format!("{budget_ms}ms"))
            .with("foreign-keys", fks.to_string())
            .with("replicas", replicas.to_string())
            .with("osc-tools", tools);
        if !pk {
            params.set("primary-key", "none");
        }
        for field in change_fields(kind) {
            // add-index reads keys (`created_at DESC`, `lower(email)`): a name is quoted there.
        let v = if kind == "add-index" && *field == "columns" {
            format!("\"{}\", customer_id", name.replace('"', "\"\""))
        } else {
            value_for(field, name)
        };
            if !v.is_empty() {
                params.set(field, v);
            }
        }
        match lockstep_planner::plan(&params) {
            Ok(plan) => check_plan(&plan, &params, budget_ms),
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert!(FIELDS.iter().any(|f| f.name == e.field), "unknown field {}", e.field);
                    prop_assert!(e.message.len() > 10, "vague message {:?}", e.message);
                    prop_assert!(!e.message.contains("not planned for"), "{} on {}: {}", kind, db, e.message);
                }
            }
        }
    }
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
