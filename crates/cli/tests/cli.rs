//! The `lockstep` binary end to end: formats, share links, exit codes and messages.

use std::process::{Command, Output};

fn lockstep(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockstep"))
        .args(args)
        .output()
        .expect("lockstep runs")
}

const INDEX: &[&str] = &[
    "plan",
    "--db",
    "postgresql@16.4",
    "--change",
    "add-index",
    "--table",
    "orders",
    "--columns",
    "customer_id",
    "--rows",
    "500M",
    "--size",
    "120GB",
    "--max-downtime",
    "0s",
];

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    INDEX.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn markdown_runbook() {
    let out = lockstep(&with(&["--format", "markdown"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("# Lockstep runbook: Add btree index orders_customer_id_idx"));
    assert!(text.contains("CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON orders USING btree (customer_id);"));
    assert!(text.contains("SHARE UPDATE EXCLUSIVE"));
}

#[test]
fn sql_script_keeps_concurrently_outside_transactions() {
    let out = lockstep(&with(&["--format", "sql"]));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\\set ON_ERROR_STOP on"));
    let build = text.find("CREATE INDEX CONCURRENTLY").unwrap();
    assert!(
        !text[..build].contains("BEGIN;"),
        "no transaction may be open around CONCURRENTLY"
    );
    let rollback =
        String::from_utf8(lockstep(&with(&["--format", "rollback-sql"])).stdout).unwrap();
    assert!(rollback.contains("DROP INDEX CONCURRENTLY IF EXISTS orders_customer_id_idx;"));
}

#[test]
fn json_has_the_stable_core() {
    let out = lockstep(&with(&["--format", "json"]));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["engine"], "postgresql");
    assert_eq!(doc["version"], "16.4");
    let step = &doc["phases"][1]["steps"][1];
    assert_eq!(step["lock"], "SHARE UPDATE EXCLUSIVE");
    assert_eq!(step["blocks"], "nothing");
    assert_eq!(step["in_transaction"], false);
    assert!(step["estimate_seconds"]["low"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_share_link_reproduces_the_plan_and_flags_override_it() {
    let link = String::from_utf8(lockstep(&with(&["--format", "link"])).stdout).unwrap();
    let url = format!("http://127.0.0.1:8080/{}", link.trim());
    let from_link = lockstep(&["plan", "--link", &url, "--format", "json"]);
    let direct = lockstep(&with(&["--format", "json"]));
    assert_eq!(from_link.stdout, direct.stdout);
    let overridden = lockstep(&["plan", "--link", &url, "--db", "postgresql@14.2"]);
    assert!(String::from_utf8(overridden.stdout)
        .unwrap()
        .contains("pg14-cic-corruption"));
}

#[test]
fn bad_input_exits_2_naming_the_flag() {
    let out = lockstep(&with(&["--rows", "lots"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(
            "--rows: \"lots\" is not a number; accepts a count such as 500000, 500_000, 1,000,000, 10k, 500M or 1.2B"
        ),
        "{err}"
    );

    let out = lockstep(&with(&["--size", "200"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--size: \"200\" has no unit; accepts a size with its unit, such as 120GB, 1.5 TB, 800 MiB"),
        "{err}"
    );
    let out = lockstep(&with(&["--size", "1,5TB"]));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("--size: \"1,5TB\" is ambiguous"));

    let out = lockstep(&with(&["--format", "yaml"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("--format"));

    let out = lockstep(&with(&["--colour", "red"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("--colour is not a flag"));

    let out = lockstep(&["plan", "--link", "https://x/?v=9&db=postgresql@16"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("--link: is share-link version 9"));
}

#[test]
fn help_lists_every_flag() {
    let out = lockstep(&["plan", "--help"]);
    let text = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--db",
        "--change",
        "--columns",
        "--references",
        "--new-table",
        "--max-downtime",
        "--link",
        "--format",
    ] {
        assert!(text.contains(flag), "help lacks {flag}");
    }
}

#[test]
fn mariadb_plan_as_json_and_mysql_script() {
    let args = [
        "plan",
        "--db",
        "mariadb@10.11.6",
        "--change",
        "add-column",
        "--table",
        "orders`; drop table x; --",
        "--column",
        "flag",
        "--type",
        "tinyint(1)",
        "--default",
        "0",
        "--rows",
        "500M",
        "--size",
        "120GB",
        "--max-downtime",
        "0",
    ];
    let json = lockstep(&[&args[..], &["--format", "json"]].concat());
    assert!(
        json.status.success(),
        "{}",
        String::from_utf8_lossy(&json.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(doc["engine"], "mariadb");
    let step = &doc["phases"][1]["steps"][0];
    assert_eq!(step["lock"], "ALGORITHM=INSTANT, LOCK=NONE");
    assert!(step["sql"]
        .as_str()
        .unwrap()
        .starts_with("ALTER TABLE `orders``; drop table x; --` ADD COLUMN IF NOT EXISTS `flag`"));
    // What a re-run of the completed step does, as a typed field.
    assert_eq!(step["rerun"], "safe");
    let script = lockstep(&[&args[..], &["--format", "sql"]].concat());
    let text = String::from_utf8(script.stdout).unwrap();
    assert!(
        text.contains("SET SESSION lock_wait_timeout = 1;"),
        "{text}"
    );
    assert!(!text.contains("\\set ON_ERROR_STOP"), "{text}");
}

#[test]
fn unsupported_mysql_version_names_the_db_flag() {
    let out = lockstep(&[
        "plan",
        "--db",
        "mysql@8.1",
        "--change",
        "drop-index",
        "--table",
        "t",
        "--index",
        "i",
        "--rows",
        "1",
        "--size",
        "1MB",
        "--max-downtime",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("db") && err.contains("mysql@8.4"), "{err}");
}

/// Issue 10 item 2: a primary key given as a bare type would lose AUTO_INCREMENT; the command
/// refuses, naming the flag and the definition it accepts.
#[test]
fn bare_primary_key_type_on_mysql_is_refused() {
    let args = [
        "plan",
        "--db",
        "mysql@5.7.44",
        "--change",
        "change-type",
        "--table",
        "orders",
        "--column",
        "id",
        "--from-type",
        "int",
        "--to-type",
        "bigint",
        "--rows",
        "500M",
        "--size",
        "200GB",
        "--max-downtime",
        "0",
    ];
    let out = lockstep(&args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--to-type: gives only a type for the primary key `id`")
            && err.contains("--to-type 'bigint NOT NULL AUTO_INCREMENT'"),
        "{err}"
    );
    let mut full = args.to_vec();
    full[12] = "bigint NOT NULL AUTO_INCREMENT";
    let out = lockstep(&full);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("--alter='MODIFY `id` bigint NOT NULL AUTO_INCREMENT'"));
    assert!(!text.contains("modify-restates-column"));
}

#[test]
fn databases_as_engineers_write_them_and_the_link_is_canonical() {
    let mut args = with(&["--format", "link"]);
    args[2] = "PostgreSQL 16.4";
    let link = String::from_utf8(lockstep(&args).stdout).unwrap();
    assert!(link.starts_with("?v=1&db=postgresql@16.4&"), "{link}");
    args[2] = "16";
    args.truncate(args.len() - 2);
    let out = lockstep(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("--db: \"16\" has no database name: did you mean postgresql@16?"));
}

#[test]
fn a_series_without_its_patch_names_the_boundary_first() {
    let out = lockstep(&[
        "plan",
        "--db",
        "mysql 8.0",
        "--change",
        "add-column",
        "--table",
        "shop.orders",
        "--column",
        "note",
        "--type",
        "text",
        "--rows",
        "500M",
        "--size",
        "120GB",
        "--max-downtime",
        "0",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["table"], "`shop`.`orders`");
    assert_eq!(doc["warnings"][0]["code"], "version-boundary");
    let message = doc["warnings"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("from 8.0.12, a step takes ALGORITHM=INSTANT"),
        "{message}"
    );
}

#[test]
fn long_values_are_cut_in_messages() {
    let long = "x".repeat(10_000);
    let mut args = with(&[]);
    args[12] = long.as_str(); // the --size value
    let out = lockstep(&args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("lockstep: --size: \"xxx"), "{err}");
    assert!(
        err.contains("…\" (10000 characters)") && err.len() < 400,
        "{err}"
    );
}
