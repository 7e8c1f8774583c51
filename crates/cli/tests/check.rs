//! `lockstep check`: exit statuses, formats and sizes.

use std::process::{Command, Output};

fn lockstep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .output()
        .expect("runs")
}

fn file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("lockstep-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn an_unsafe_statement_exits_1_with_a_github_error_on_its_line() {
    let f = file(
        "unsafe.sql",
        "-- add an index\n\nCREATE INDEX orders_c ON orders (customer_id);\n",
    );
    let out = lockstep(&[
        "check",
        &f,
        "--db",
        "postgresql@16.4",
        "--rows",
        "orders=500M",
        "--size",
        "orders=120GB",
        "--format",
        "github",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("::error file={f},line=3,")),
        "{text}"
    );
}

#[test]
fn a_safe_file_exits_0_and_json_has_the_documented_core() {
    let f = file("safe.sql", "CREATE INDEX CONCURRENTLY orders_c ON orders (customer_id);\nALTER TABLE orders ADD COLUMN note text;\n");
    let out = lockstep(&[
        "check",
        &f,
        "--db",
        "postgresql@16.4",
        "--max-downtime",
        "0",
        "--rows",
        "500M",
        "--size",
        "120GB",
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let first = &doc["statements"][0];
    for key in [
        "line",
        "sql",
        "change",
        "verdict",
        "reason",
        "blocks",
        "blocking_seconds",
    ] {
        assert!(first.get(key).is_some(), "{key}");
    }
    assert_eq!(first["verdict"], "safe");
    assert_eq!(first["change"], "add-index");
    assert_eq!(doc["plan"]["merged"], false);
    assert_eq!(doc["plan"]["changes"].as_array().unwrap().len(), 2);
}

#[test]
fn sizes_from_the_catalog_query_output_fill_each_table() {
    let sizes = file(
        "sizes.txt",
        "public.orders\t500000000\t128849018880\npublic.customers\t1000\t81920\n",
    );
    let f = file("two.sql", "ALTER TABLE orders ALTER COLUMN c SET NOT NULL;\nALTER TABLE customers ALTER COLUMN c SET NOT NULL;\n");
    let out = lockstep(&[
        "check",
        &f,
        "--db",
        "postgresql@16.4",
        "--max-downtime",
        "5s",
        "--sizes",
        &sizes,
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["statements"][0]["verdict"], "unsafe");
    assert_eq!(doc["statements"][1]["verdict"], "safe");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn the_sizes_query_is_printed_per_engine() {
    let pg = lockstep(&["check", "--sizes-query", "--db", "postgresql@16"]);
    assert!(String::from_utf8(pg.stdout)
        .unwrap()
        .contains("pg_table_size"));
    let my = lockstep(&["check", "--sizes-query", "--db", "mariadb@10.11"]);
    assert!(String::from_utf8(my.stdout)
        .unwrap()
        .contains("information_schema.tables"));
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let f = file("bad.sql", "SELECT 1;\nSELECT 'never closed\n");
    let out = lockstep(&["check", &f, "--db", "postgresql@16.4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("line 2"));
    let out = lockstep(&["check", "/nonexistent.sql", "--db", "postgresql@16.4"]);
    assert_eq!(out.status.code(), Some(2));
    let ok = file("ok.sql", "SELECT 1;\n");
    let out = lockstep(&["check", &ok, "--db", "postgresql@16.4", "--rows", "orders="]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--rows"));
}

#[test]
fn a_reader_that_closes_early_is_not_a_panic() {
    use std::io::Read;
    use std::process::Stdio;
    let statements: String = (0..3000).map(|i| format!("SELECT {i};\n")).collect();
    let f = file("long.sql", &statements);
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(["check", &f, "--db", "postgresql@16.4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn plan_output_to_a_closed_pipe_is_not_a_panic() {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args([
            "plan",
            "--db",
            "postgresql@16",
            "--change",
            "add-index",
            "--table",
            "orders",
            "--columns",
            "a",
            "--rows",
            "500M",
            "--size",
            "120GB",
            "--max-downtime",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
}
