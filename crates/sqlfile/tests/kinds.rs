//! Every change kind of the planner's one list is read from SQL, or says why it cannot be:
//! the test is derived from `CHANGE_KINDS`, so a new kind fails here until it has a sample.

use lockstep_planner::request::CHANGE_KINDS;
use lockstep_sqlfile::check::{check, Options};
use lockstep_sqlfile::recognise::written_as;
use lockstep_sqlfile::sizes::Sizes;

/// A statement per kind (PostgreSQL 16 unless it names MySQL), the file's earlier lines
/// included where the change needs them (a column's current type).
const SAMPLES: &[(&str, &str, &str)] = &[
    (
        "add-column",
        "postgresql@16.4",
        "ALTER TABLE orders ADD COLUMN note text;",
    ),
    (
        "drop-column",
        "postgresql@16.4",
        "ALTER TABLE orders DROP COLUMN note;",
    ),
    (
        "rename-column",
        "postgresql@16.4",
        "ALTER TABLE orders RENAME COLUMN note TO memo;",
    ),
    (
        "rename-table",
        "postgresql@16.4",
        "ALTER TABLE orders RENAME TO purchases;",
    ),
    (
        "change-type",
        "postgresql@16.4",
        "ALTER TABLE orders ADD COLUMN n int;\nALTER TABLE orders ALTER COLUMN n TYPE bigint;",
    ),
    (
        "add-index",
        "postgresql@16.4",
        "CREATE INDEX orders_n ON orders (n);",
    ),
    (
        "drop-index",
        "mysql@8.0.35",
        "DROP INDEX orders_n ON orders;",
    ),
    (
        "add-not-null",
        "postgresql@16.4",
        "ALTER TABLE orders ALTER COLUMN n SET NOT NULL;",
    ),
    (
        "add-unique",
        "postgresql@16.4",
        "ALTER TABLE orders ADD CONSTRAINT orders_n_key UNIQUE (n);",
    ),
    (
        "add-foreign-key",
        "postgresql@16.4",
        "ALTER TABLE orders ADD CONSTRAINT orders_c_fk FOREIGN KEY (c) REFERENCES customers (id);",
    ),
    (
        "add-check",
        "postgresql@16.4",
        "ALTER TABLE orders ADD CONSTRAINT orders_n_pos CHECK (n > 0);",
    ),
    (
        "set-default",
        "postgresql@16.4",
        "ALTER TABLE orders ALTER COLUMN n SET DEFAULT 0;",
    ),
    (
        "drop-default",
        "postgresql@16.4",
        "ALTER TABLE orders ALTER COLUMN n DROP DEFAULT;",
    ),
    (
        "drop-not-null",
        "postgresql@16.4",
        "ALTER TABLE orders ALTER COLUMN n DROP NOT NULL;",
    ),
    ("drop-table", "postgresql@16.4", "DROP TABLE orders;"),
];

/// Kinds the reader does not make from one statement, with why.
const NOT_ONE_STATEMENT: &[(&str, &str)] = &[
    (
        "split-table",
        "a new table, a copy and a drop: several statements",
    ),
    (
        "rename-enum-value",
        "ALTER TYPE … RENAME VALUE names no table to size the plan by",
    ),
    (
        "add-enum-value",
        "ALTER TYPE … ADD VALUE names no table to size the plan by",
    ),
    (
        "reindex",
        "the SQL parser (sqlparser) reads no REINDEX statement: it is reported unknown",
    ),
];

#[test]
fn every_change_kind_is_read_from_sql_or_says_why_not() {
    for kind in CHANGE_KINDS {
        if NOT_ONE_STATEMENT.iter().any(|(k, _)| k == kind) {
            continue;
        }
        let (_, db, sql) = SAMPLES
            .iter()
            .find(|(k, _, _)| k == kind)
            .unwrap_or_else(|| panic!("{kind}: no SQL sample; add one to SAMPLES (and its mapping in recognise.rs) or to NOT_ONE_STATEMENT with why"));
        let mut sizes = Sizes::default();
        sizes.set_every_table(Some("1M"), Some("200MB"));
        let options = Options {
            db: db.to_string(),
            max_downtime: "5s".to_string(),
            sizes,
        };
        let report = check(sql, &options).unwrap();
        let last = report.statements.last().unwrap();
        assert_eq!(last.change, Some(*kind), "{sql}: {}", last.reason);
        let index = last
            .plan
            .unwrap_or_else(|| panic!("{kind}: not planned: {}", last.reason));
        let plan = &report.plans[index];
        let change = lockstep_planner::Request::from_params(&plan.params)
            .unwrap()
            .change;
        assert!(written_as(&change).is_some(), "{kind}");
    }
}

#[test]
fn mysql_rename_table_statement_is_a_rename_per_pair() {
    let mut sizes = Sizes::default();
    sizes.set_every_table(Some("1M"), Some("200MB"));
    let options = Options {
        db: "mysql@8.0.35".to_string(),
        max_downtime: "5s".to_string(),
        sizes,
    };
    let report = check("RENAME TABLE a TO a_old, b TO b_old;", &options).unwrap();
    let kinds: Vec<_> = report.statements.iter().map(|s| s.change).collect();
    assert_eq!(kinds, [Some("rename-table"), Some("rename-table")]);
    assert_eq!(report.plans[0].params.get("new-name"), Some("a_old"));
}
