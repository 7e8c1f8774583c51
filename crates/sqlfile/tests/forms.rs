//! Statements already in the online form are recognised as such, not re-planned: the same
//! statement written plainly is unsafe on the same table.

use lockstep_sqlfile::check::{check, Options, Report, Verdict};
use lockstep_sqlfile::sizes::Sizes;

fn run(sql: &str) -> Report {
    let mut sizes = Sizes::default();
    sizes.set_every_table(Some("500M"), Some("120GB"));
    let options = Options {
        db: "postgresql@16.4".into(),
        max_downtime: "0".into(),
        sizes,
    };
    check(sql, &options).unwrap()
}

fn verdicts(report: &Report) -> Vec<(Option<&'static str>, Verdict)> {
    report
        .statements
        .iter()
        .map(|s| (s.change, s.verdict))
        .collect()
}

#[test]
fn not_valid_then_validate_is_the_online_form_of_one_change() {
    let report = run("ALTER TABLE orders ADD CONSTRAINT orders_c_fk FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT orders_c_fk;");
    assert_eq!(
        verdicts(&report),
        [
            (Some("add-foreign-key"), Verdict::Safe),
            (Some("add-foreign-key"), Verdict::Safe)
        ]
    );
    assert!(report.statements.iter().all(|s| s.online_form));
    assert_eq!(report.statements[0].plan, report.statements[1].plan);
    assert_eq!(report.plans.len(), 1);
    let plain = run("ALTER TABLE orders ADD CONSTRAINT orders_c_fk FOREIGN KEY (customer_id) REFERENCES customers (id);");
    assert_eq!(
        verdicts(&plain),
        [(Some("add-foreign-key"), Verdict::Unsafe)]
    );
}

#[test]
fn a_check_not_valid_is_safe_and_plain_is_unsafe() {
    let online = run("ALTER TABLE orders ADD CONSTRAINT pos CHECK (amount > 0) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT pos;");
    assert_eq!(
        verdicts(&online),
        [
            (Some("add-check"), Verdict::Safe),
            (Some("add-check"), Verdict::Safe)
        ]
    );
    let plain = run("ALTER TABLE orders ADD CONSTRAINT pos CHECK (amount > 0);");
    assert_eq!(verdicts(&plain), [(Some("add-check"), Verdict::Unsafe)]);
}

#[test]
fn validate_of_a_constraint_the_file_did_not_add_is_unknown() {
    let report = run("ALTER TABLE orders VALIDATE CONSTRAINT elsewhere;");
    assert_eq!(verdicts(&report), [(None, Verdict::Unknown)]);
}

#[test]
fn concurrently_is_the_online_form_and_plain_create_index_is_not() {
    let report = run("CREATE INDEX CONCURRENTLY i ON orders (a);\nCREATE INDEX j ON orders (a);");
    assert_eq!(
        verdicts(&report),
        [
            (Some("add-index"), Verdict::Safe),
            (Some("add-index"), Verdict::Unsafe)
        ]
    );
    assert_eq!(
        report.statements[0].blocks,
        Some(lockstep_planner::model::Blocks::Nothing)
    );
    assert!(report.statements[1].blocking_seconds.unwrap() > 60.0);
}

#[test]
fn unquoted_names_fold_to_lower_case_on_postgresql_and_quoted_ones_keep_theirs() {
    let report = run("ALTER TABLE Orders ADD COLUMN Note text;\nALTER TABLE \"Orders\" ADD COLUMN \"Note\" text;");
    let first = &report.plans[report.statements[0].plan.unwrap()].params;
    assert_eq!(first.get("table"), Some("orders"));
    assert_eq!(first.get("column"), Some("note"));
    let second = &report.plans[report.statements[1].plan.unwrap()].params;
    assert_eq!(second.get("table"), Some("Orders"));
    assert_eq!(second.get("column"), Some("Note"));
}
