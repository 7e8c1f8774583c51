//! Properties every plan keeps, over change type x version x size x budget x identifiers:
//! a plan or a clear error (never a panic), no plan over its budget (zero included), every
//! lock-taking step guarded by lock_timeout, and hostile identifiers always harmless.

use lockstep_planner::estimate::CATALOG_ONLY;
use lockstep_planner::input::CHANGE_KINDS;
use lockstep_planner::params::{change_fields, FIELDS};
use lockstep_planner::plan::{Blocks, Plan, Step};
use lockstep_planner::render::{json, markdown, sql};
use lockstep_planner::Params;
use proptest::prelude::*;

/// A table name that ends the statement if pasted raw.
const HOSTILE: &str = "orders\"; drop table x; --";
const NAMES: &[&str] = &[
    "orders",
    HOSTILE,
    "Order Items",
    "user",
    "zählung",
    "select",
    "a\"b",
];

/// Plausible values for each change-specific field.
fn value_for(field: &str, name: &str) -> String {
    match field {
        "column" => name.to_string(),
        "columns" => format!("{name}, customer_id"),
        "type" => "boolean".into(),
        "default" => "false".into(),
        "from-type" => "integer".into(),
        "to-type" => "bigint".into(),
        "references" => "customers(id)".into(),
        "check" => "amount >= 0".into(),
        "new-name" => format!("{name}_new"),
        "new-table" => format!("{name}_details"),
        "index" => format!("{name}_idx"),
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
    name: &str,
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
        .with("table", name)
        .with("rows", rows.to_string())
        .with("size", format!("{}B", rows.saturating_mul(200)))
        .with("max-downtime", format!("{budget_ms}ms"));
    if !pk {
        p.set("primary-key", "none");
    }
    for field in change_fields(kind) {
        // add-index reads keys (`created_at DESC`, `lower(email)`): a name is quoted there.
        let v = if kind == "add-index" && *field == "columns" {
            format!("\"{}\", customer_id", name.replace('"', "\"\""))
        } else {
            value_for(field, name)
        };
        if !v.is_empty() {
            p.set(field, v);
        }
    }
    p
}

/// Splits SQL into tokens that matter here: quoted identifiers, string literals, dollar-quoted
/// bodies, and the bare text between them.
#[derive(Debug)]
enum Token {
    Ident,
    Literal,
    Body(String),
    Bare(String),
}

fn lex(sql: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut bare = String::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            tokens.push(Token::Bare(std::mem::take(&mut bare)));
            i += 1;
            loop {
                assert!(i < chars.len(), "unclosed {c} in {sql}");
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
            tokens.push(if c == '"' {
                Token::Ident
            } else {
                Token::Literal
            });
        } else if c == '$' && !(i > 0 && chars[i - 1].is_alphanumeric()) {
            // Dollar quote: $$ or $tag$.
            let rest: String = chars[i + 1..].iter().collect();
            let tag = rest.find('$').map(|end| &rest[..end]);
            let Some(tag) = tag.filter(|t| t.chars().all(|t| t.is_alphanumeric() || t == '_'))
            else {
                bare.push(c);
                i += 1;
                continue;
            };
            let delimiter = format!("${tag}$");
            let body_start = i + delimiter.chars().count();
            let after: String = chars[body_start..].iter().collect();
            let close = after
                .find(&delimiter)
                .unwrap_or_else(|| panic!("unclosed {delimiter} in {sql}"));
            tokens.push(Token::Bare(std::mem::take(&mut bare)));
            tokens.push(Token::Body(after[..close].to_string()));
            i = body_start + after[..close].chars().count() + delimiter.chars().count();
        } else {
            bare.push(c);
            i += 1;
        }
    }
    tokens.push(Token::Bare(bare));
    tokens
}

/// The hostile text may only appear inside quotes; bodies are checked recursively.
fn assert_harmless(sql: &str) {
    for token in lex(sql) {
        match token {
            Token::Bare(text) => {
                assert!(
                    !text.contains("drop table x"),
                    "hostile name outside quotes in:\n{sql}"
                );
                assert!(!text.contains("--"), "comment outside quotes in:\n{sql}");
            }
            Token::Body(body) => assert_harmless(&body),
            Token::Ident | Token::Literal => {}
        }
    }
}

/// One statement: the only `;` outside quotes is the last character.
fn assert_one_statement(sql: &str) {
    let semicolons: usize = lex(sql)
        .iter()
        .map(|t| match t {
            Token::Bare(text) => text.matches(';').count(),
            _ => 0,
        })
        .sum();
    assert_eq!(semicolons, 1, "expected exactly one statement:\n{sql}");
    assert!(
        sql.trim_end().ends_with(';'),
        "statement must end with ;:\n{sql}"
    );
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
    // Every PostgreSQL forward script can tell that it already ran (the verifier proves it).
    assert!(plan.rerun_safe, "no already-applied test");
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
            for statement in &step.sql {
                assert_harmless(statement);
                assert_one_statement(statement);
                if statement.contains("CONCURRENTLY") {
                    assert!(
                        !step.in_transaction,
                        "{}: CONCURRENTLY inside a transaction",
                        step.title
                    );
                }
            }
            if let Some(guard) = &step.only_if {
                assert_harmless(guard);
                assert!(
                    guard.contains(" AS "),
                    "guard must name its column for \\gset: {guard}"
                );
            }
        }
        for r in &phase.rollback {
            assert_harmless(&r.sql);
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
    let md = markdown::render(plan, params);
    assert!(md.starts_with("# Lockstep runbook"));
    let _ = sql::forward(plan);
    let _ = sql::rollback(plan);
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn every_request_plans_or_explains(
        kind in prop::sample::select(CHANGE_KINDS),
        major in 10u32..=18,
        minor in prop::option::of(0u32..30),
        rows in prop_oneof![Just(0u64), 1u64..100_000, 100_000u64..10_000_000_000],
        budget_ms in prop_oneof![Just(0u64), Just(500), Just(30_000), Just(300_000), 0u64..3_600_000],
        name in prop::sample::select(NAMES),
        pk in any::<bool>(),
    ) {
        let params = request(kind, major, minor, rows, budget_ms, name, pk);
        match lockstep_planner::plan(&params) {
            Ok(plan) => check_plan(&plan, &params, budget_ms),
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for e in errors {
                    prop_assert!(FIELDS.iter().any(|f| f.name == e.field), "unknown field {}", e.field);
                    prop_assert!(e.message.len() > 10, "vague message {:?}", e.message);
                    prop_assert!(!e.message.contains("not planned by this build"), "{} is still a placeholder", kind);
                }
            }
        }
    }
}

#[test]
fn the_63_byte_limit_is_enforced_with_a_clear_message() {
    let ok = "a".repeat(63);
    let long = "a".repeat(64);
    let base = request("add-index", 16, None, 1000, 0, "orders", true);
    assert!(lockstep_planner::plan(&base.clone().with("table", ok.as_str())).is_ok());
    let errors = lockstep_planner::plan(&base.with("table", long.as_str())).unwrap_err();
    assert_eq!(errors[0].field, "table");
    assert!(errors[0].message.contains("63 bytes"));
}

#[test]
fn hostile_table_name_is_one_quoted_identifier() {
    let params = request("add-index", 16, Some(4), 1000, 0, HOSTILE, true);
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
