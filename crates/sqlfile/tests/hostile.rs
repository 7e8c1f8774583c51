//! Hostile files: a clear message or a report, never a panic.

use lockstep_sqlfile::check::{check, Options, Verdict};
use lockstep_sqlfile::sizes::Sizes;
use proptest::prelude::*;

fn options(db: &str) -> Options {
    let mut sizes = Sizes::default();
    sizes.set_every_table(Some("1M"), Some("200MB"));
    Options {
        db: db.to_string(),
        max_downtime: "0".to_string(),
        sizes,
    }
}

const FRAGMENTS: &[&str] = &[
    "ALTER TABLE orders ",
    "ADD COLUMN a int",
    "DROP COLUMN b",
    "CREATE INDEX CONCURRENTLY i ON orders (a)",
    "DROP INDEX CONCURRENTLY i",
    "ALTER COLUMN a SET NOT NULL",
    "MODIFY a int NOT NULL",
    "`t`",
    "\"q\"\"x\"",
    "'",
    "''",
    "$$",
    "$tag$",
    "--",
    "/*",
    "*/",
    "\\",
    "\\connect db\n",
    ";",
    ",",
    "(",
    ")",
    "\n",
    " ",
    "é",
    "NOT VALID",
    "VALIDATE CONSTRAINT c",
    "UPDATE orders SET a = 1",
    "E'\\''",
    "ADD CONSTRAINT c CHECK (a > 0)",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_mix_of_fragments_is_reported_or_refused_with_a_line(
        picks in proptest::collection::vec(0..FRAGMENTS.len(), 0..40),
        mysql in any::<bool>(),
    ) {
        let sql: String = picks.iter().map(|&i| FRAGMENTS[i]).collect();
        let db = if mysql { "mysql@8.0.35" } else { "postgresql@16.4" };
        match check(&sql, &options(db)) {
            Ok(report) => {
                let lines = sql.lines().count().max(1) as u64;
                for s in &report.statements {
                    prop_assert!(s.line >= 1 && s.line <= lines, "line {} of {}", s.line, lines);
                    prop_assert!(!s.reason.is_empty());
                }
            }
            Err(message) => prop_assert!(message.starts_with("line "), "{}", message),
        }
    }
}

#[test]
fn unterminated_quotes_and_dollar_quotes_name_their_line() {
    for sql in [
        "SELECT 1;\nSELECT 'abc",
        "SELECT 1;\nDO $$ BEGIN",
        "SELECT 1;\n/* never closed",
        "SELECT 1;\nSELECT \"abc",
    ] {
        let message = check(sql, &options("postgresql@16.4")).unwrap_err();
        assert!(message.starts_with("line 2"), "{sql:?}: {message}");
    }
}

#[test]
fn a_megabyte_file_is_read_whole() {
    let statement = "ALTER TABLE orders ADD COLUMN note text DEFAULT 'a long enough default value to fill the line';\n";
    let mut sql = String::from("-- header\n");
    while sql.len() < 1 << 20 {
        sql.push_str(statement);
        sql.push_str("SELECT 1; -- comment ; with semicolons\n");
    }
    let report = check(&sql, &options("postgresql@16.4")).unwrap();
    assert!(report.statements.len() > 10_000);
    // The same change planned once, whatever how often it is written.
    assert_eq!(report.plans.len(), 1);
}

#[test]
fn a_psql_meta_command_is_listed_not_dropped() {
    let report = check(
        "\\set ON_ERROR_STOP on\n\\i other.sql\nALTER TABLE orders DROP COLUMN a;",
        &options("postgresql@16.4"),
    )
    .unwrap();
    assert_eq!(report.statements.len(), 3);
    assert!(report.statements[0].reason.contains("meta-command"));
    assert_eq!(report.statements[2].line, 3);
}

#[test]
fn mysql_syntax_in_a_postgresql_file_is_unknown_with_the_parser_message() {
    let report = check(
        "ALTER TABLE orders ADD COLUMN a int, ALGORITHM=INSTANT, FOO;",
        &options("postgresql@16.4"),
    )
    .unwrap();
    assert!(
        report.statements[0]
            .reason
            .contains("not read as PostgreSQL SQL"),
        "{}",
        report.statements[0].reason
    );
}

#[test]
fn a_bad_db_or_budget_is_refused_naming_the_flag() {
    let mut o = options("oracle@19");
    assert!(check("SELECT 1;", &o).unwrap_err().starts_with("--db"));
    o.db = "postgresql@16".into();
    o.max_downtime = "soon".into();
    assert!(check("SELECT 1;", &o)
        .unwrap_err()
        .starts_with("--max-downtime"));
}

#[test]
fn a_safe_action_beside_an_unsafe_one_in_one_statement_is_unsafe() {
    let report = check(
        "ALTER TABLE orders ADD COLUMN note text, ALTER COLUMN a SET NOT NULL;",
        &options("postgresql@16.4"),
    )
    .unwrap();
    assert_eq!(report.statements.len(), 2);
    assert!(report
        .statements
        .iter()
        .all(|s| s.verdict == Verdict::Unsafe));
    assert_eq!(
        report.statements[0].blocking_seconds,
        report.statements[1].blocking_seconds
    );
}

#[test]
fn inside_a_transaction_block_a_brief_lock_or_concurrently_is_not_judged_safe() {
    let sql = "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nCREATE INDEX CONCURRENTLY i ON orders (a);\nCOMMIT;\nALTER TABLE orders ADD COLUMN memo text;";
    let report = check(sql, &options("postgresql@16.4")).unwrap();
    let verdicts: Vec<Verdict> = report.statements.iter().map(|s| s.verdict).collect();
    assert_eq!(
        verdicts,
        [
            Verdict::Unknown,
            Verdict::Unknown,
            Verdict::Unknown,
            Verdict::Unknown,
            Verdict::Safe
        ]
    );
    assert!(report.statements[1].reason.contains("line 1"));
}

#[test]
fn mysql_algorithm_copy_is_not_judged_by_the_online_plan() {
    let report = check(
        "ALTER TABLE orders ADD INDEX i (a), ALGORITHM=COPY;",
        &options("mysql@8.0.35"),
    )
    .unwrap();
    assert_eq!(report.statements[0].verdict, Verdict::Unknown);
    assert!(report.statements[0].reason.contains("ALGORITHM"));
    let report = check(
        "ALTER TABLE orders ADD INDEX i (a), ALGORITHM=INPLACE, LOCK=NONE;",
        &options("mysql@8.0.35"),
    )
    .unwrap();
    assert_eq!(report.statements[0].change, Some("add-index"));
}
