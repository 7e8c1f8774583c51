//! `lockstep check`: a migration file's statements with their verdicts. Exit 0 when none is
//! unsafe, 1 when some is, 2 on bad input.

use clap::ArgMatches;
use lockstep_planner::request::parse_database;
use lockstep_sqlfile::check::{check, Options};
use lockstep_sqlfile::render;
use lockstep_sqlfile::sizes::{self, Sizes};
use std::io::{Read, Write};
use std::process::ExitCode;

const UNSAFE_EXIT: u8 = 1;
const USAGE_EXIT: u8 = 2;

pub fn run(m: &ArgMatches) -> ExitCode {
    match report(m) {
        Ok((text, unsafe_found)) => {
            print(&text);
            ExitCode::from(if unsafe_found { UNSAFE_EXIT } else { 0 })
        }
        Err(message) => {
            eprintln!("lockstep: {message}");
            ExitCode::from(USAGE_EXIT)
        }
    }
}

/// Prints `text` ending in a newline; a reader that stops early (`| head`) is not an error
/// (`print!` would panic on the closed pipe).
pub fn print(text: &str) {
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    let _ = write!(std::io::stdout().lock(), "{text}{newline}");
}

/// The rendered report and whether some statement is unsafe, or the message of a bad input.
fn report(m: &ArgMatches) -> Result<(String, bool), String> {
    let db = m.get_one::<String>("db").map_or("", String::as_str);
    if m.get_flag("sizes-query") {
        let parsed = parse_database(db).map_err(|e| format!("--db: {e}"))?;
        return Ok((
            sizes::query(parsed.engine.is_mysql_family()).to_string(),
            false,
        ));
    }
    let file = m.get_one::<String>("file").map_or("-", String::as_str);
    let source = read(file)?;
    let options = Options {
        db: db.to_string(),
        max_downtime: m
            .get_one::<String>("max-downtime")
            .map_or("0", String::as_str)
            .to_string(),
        sizes: table_sizes(m)?,
    };
    let report = check(&source, &options).map_err(|e| format!("{file}: {e}"))?;
    let text = match m
        .get_one::<String>("format")
        .map_or("markdown", String::as_str)
    {
        "json" => render::to_json(&report),
        "github" => render::to_github(&report, file),
        _ => render::to_markdown(&report),
    };
    Ok((text, report.any_unsafe()))
}

fn read(file: &str) -> Result<String, String> {
    let bytes = if file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("standard input: {e}"))?;
        buf
    } else {
        std::fs::read(file).map_err(|e| format!("{file}: {e}"))?
    };
    String::from_utf8(bytes).map_err(|e| format!("{file}: not UTF-8 text ({e})"))
}

/// `--sizes` first, then `--rows` and `--size` over it.
fn table_sizes(m: &ArgMatches) -> Result<Sizes, String> {
    let mut sizes = Sizes::default();
    if let Some(path) = m.get_one::<String>("sizes") {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--sizes {path}: {e}"))?;
        sizes
            .read_catalog(&text)
            .map_err(|e| format!("--sizes {path}: {e}"))?;
    }
    for raw in m.get_many::<String>("rows").into_iter().flatten() {
        if !raw.contains('=') {
            sizes.set_every_table(Some(raw), None);
            continue;
        }
        let (table, rows) = Sizes::pair(raw).map_err(|e| format!("--rows: {e}"))?;
        sizes.set_rows(&table, &rows);
    }
    for raw in m.get_many::<String>("size").into_iter().flatten() {
        if !raw.contains('=') {
            sizes.set_every_table(None, Some(raw));
            continue;
        }
        let (table, size) = Sizes::pair(raw).map_err(|e| format!("--size: {e}"))?;
        sizes.set_size(&table, &size);
    }
    Ok(sizes)
}
