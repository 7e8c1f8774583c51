//! Parse and plan time of a 200-statement migration file (`make bench`); prints, never fails.

use lockstep_sqlfile::check::{check, Options};
use lockstep_sqlfile::sizes::Sizes;
use std::time::Instant;

fn main() {
    let kinds = [
        "ALTER TABLE t{i} ADD COLUMN c{i} boolean DEFAULT false;",
        "CREATE INDEX CONCURRENTLY t{i}_c ON t{i} (c);",
        "ALTER TABLE t{i} ALTER COLUMN c SET NOT NULL;",
        "ALTER TABLE t{i} ADD CONSTRAINT t{i}_pos CHECK (c > 0) NOT VALID;",
    ];
    let sql: String = (0..200)
        .map(|i| kinds[i % kinds.len()].replace("{i}", &i.to_string()) + "\n")
        .collect();
    let mut sizes = Sizes::default();
    sizes.set_every_table(Some("500M"), Some("120GB"));
    let options = Options {
        db: "postgresql@16.4".into(),
        max_downtime: "0".into(),
        sizes,
    };
    let runs = 10;
    let start = Instant::now();
    for _ in 0..runs {
        let report = check(&sql, &options).expect("the bench file checks");
        assert_eq!(report.statements.len(), 200);
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / runs as f64;
    println!("lockstep check: 200-statement file, parse + plan: {ms:.1} ms");
}
