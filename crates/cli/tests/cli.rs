//! The `lockstep` binary end to end: formats, share links, exit codes and messages.

use lockstep_planner::request::params::{FIELDS, SWITCH_FIELDS};
use lockstep_planner::request::share;
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
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("'yaml' for '--format")
            && err.contains("[possible values: markdown, sql, rollback-sql, json, link]"),
        "{err}"
    );

    // clap's wording for a flag that does not exist (was "--colour is not a flag").
    let out = lockstep(&with(&["--colour", "red"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unexpected argument '--colour' found"),
        "{err}"
    );

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

fn stdout(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Whitespace runs as one space: help text wraps at the terminal's width.
fn unwrapped(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every parameter of the planner's list is in `lockstep plan --help`, with what it accepts:
/// a new parameter appears there by itself.
#[test]
fn help_lists_every_parameter_with_what_it_accepts() {
    let help = unwrapped(&stdout(lockstep(&["plan", "--help"])));
    for f in FIELDS {
        assert!(
            help.contains(&format!("--{} ", f.name)),
            "help lacks --{}",
            f.name
        );
        assert!(
            help.contains(&unwrapped(f.accepts)),
            "help lacks {}",
            f.accepts
        );
    }
    let top = stdout(lockstep(&["--help"]));
    assert!(top.contains("plan") && top.contains("completions"), "{top}");
    assert_eq!(stdout(lockstep(&[])), top, "no command prints the help");
    assert_eq!(
        stdout(lockstep(&["help", "plan"])),
        stdout(lockstep(&["plan", "-h"]))
    );
}

/// A misspelt flag or command is refused (exit 2) with the closest real one suggested.
#[test]
fn a_misspelt_flag_gets_a_suggestion() {
    let out = lockstep(&with(&["--max-downtme", "0"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unexpected argument '--max-downtme'")
            && err.contains("a similar argument exists: '--max-downtime'"),
        "{err}"
    );
    let out = lockstep(&["pla", "--db", "postgresql@16"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("a similar subcommand exists: 'plan'"), "{err}");
}

/// A share link's parameters are the flags, one to one: every parameter given as a flag comes
/// back in the link under the same name with the same value, and a link's parameters given as
/// flags plan exactly as the link does. Derived from the parameter list.
#[test]
fn share_link_parameters_map_one_to_one_to_flags() {
    // Values with the characters a query string encodes; yes/no flags given bare.
    let value = |name: &str| match name {
        "db" => "postgresql@16.4".to_string(),
        _ => format!("{name} = a&b %\"q\" -x"),
    };
    let mut args = vec!["plan".to_string()];
    for f in FIELDS {
        args.push(format!("--{}", f.name));
        if !SWITCH_FIELDS.contains(&f.name) {
            args.push(value(f.name));
        }
    }
    args.extend(["--format".into(), "link".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let link = stdout(lockstep(&args));
    let params = share::from_link(link.trim()).expect("the CLI writes a valid link");
    let got: Vec<(&str, &str)> = params.iter().collect();
    let expected: Vec<(&str, String)> = FIELDS
        .iter()
        .map(|f| match SWITCH_FIELDS.contains(&f.name) {
            true => (f.name, "true".to_string()),
            false => (f.name, value(f.name)),
        })
        .collect();
    let expected: Vec<(&str, &str)> = expected.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(got, expected);
    // Replaying that link's parameters as flags writes the same link.
    let mut replay = vec!["plan".to_string()];
    for (name, value) in params.iter() {
        replay.push(format!("--{name}={value}"));
    }
    replay.extend(["--format".into(), "link".into()]);
    let replay: Vec<&str> = replay.iter().map(String::as_str).collect();
    assert_eq!(stdout(lockstep(&replay)), link);

    // And a real plan's link, as flags, plans exactly as the link.
    let link = stdout(lockstep(&with(&["--unique", "--format", "link"])));
    let mut flags = vec!["plan".to_string()];
    for (name, value) in share::from_link(link.trim()).unwrap().iter() {
        flags.extend([format!("--{name}"), value.to_string()]);
    }
    flags.extend(["--format".into(), "json".into()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let from_flags = stdout(lockstep(&flags));
    let from_link = stdout(lockstep(&[
        "plan",
        "--link",
        link.trim(),
        "--format",
        "json",
    ]));
    assert_eq!(from_flags, from_link);
    assert!(
        from_flags.contains("CREATE UNIQUE INDEX CONCURRENTLY"),
        "{from_flags}"
    );
}

/// A value may start with '-' (a negative default), but a flag right after a flag that needs a
/// value is not swallowed as that value: the value was forgotten.
#[test]
fn a_flag_is_never_taken_as_a_missing_value() {
    let link = stdout(lockstep(&with(&["--default", "-1", "--format", "link"])));
    assert!(link.contains("&default=-1&"), "{link}");
    let out = lockstep(&with(&["--name", "--unique"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("lockstep: --name needs a value (got the flag --unique); accepts name of"),
        "{err}"
    );
    let out = lockstep(&with(&["--name"]));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("a value is required for '--name <VALUE>'"),
        "{err}"
    );
    // A flag given twice keeps its last value, like a flag over a link.
    let link = stdout(lockstep(&with(&["--table", "other", "--format", "link"])));
    assert!(link.contains("&table=other&"), "{link}");
}

/// `lockstep completions <shell>` writes a script completing every flag of `plan`.
#[test]
fn completions_cover_every_flag() {
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(lockstep(&["completions", shell]));
        for f in FIELDS.iter().map(|f| f.name).chain(["format", "link"]) {
            let flag = match shell {
                "fish" => format!("-l {f} "),
                _ => format!("--{f}"),
            };
            assert!(script.contains(&flag), "{shell} script lacks {flag}");
        }
    }
    let out = lockstep(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("[possible values: bash, elvish, fish, powershell, zsh]"));
}

/// The bash script, loaded in bash, completes a flag's prefix, change types and formats.
#[test]
fn bash_completes_flags_and_formats() {
    let script = stdout(lockstep(&["completions", "bash"]));
    let complete = |words: &str| {
        let program = format!(
            "{script}\nCOMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _lockstep lockstep \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        let out = Command::new("bash")
            .args(["--norc", "-c", &program])
            .output()
            .expect("bash runs");
        String::from_utf8(out.stdout).unwrap()
    };
    let flags = complete("lockstep plan --max-d");
    assert_eq!(flags.trim(), "--max-downtime", "{flags}");
    // Change types come from the planner's list; a yes/no flag offers true and false.
    let kinds = complete("lockstep plan --change add-f");
    assert_eq!(kinds.trim(), "add-foreign-key", "{kinds}");
    let switch = complete("lockstep plan --unique ''");
    assert_eq!(
        switch.split_whitespace().collect::<Vec<_>>(),
        ["true", "false"]
    );
    let formats = complete("lockstep plan --format ''");
    assert_eq!(
        formats.split_whitespace().collect::<Vec<_>>(),
        ["markdown", "sql", "rollback-sql", "json", "link"]
    );
}
