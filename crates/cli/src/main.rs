//! `lockstep`: the planner on a terminal and in CI pipelines.
//!
//! Flag names are the share-link parameter names, so `--link '<url copied from the page>'`
//! and explicit flags mix freely (flags win).

use lockstep_planner::input::shown;
use lockstep_planner::params::{Params, FIELDS, SWITCH_FIELDS as SWITCHES};
use lockstep_planner::render::{json, markdown, sql};
use lockstep_planner::share;
use std::process::ExitCode;

const FORMATS: &str = "markdown, sql, rollback-sql, json, link";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("plan") => match run_plan(&args[1..]) {
            Ok(text) => {
                print!("{text}");
                if !text.ends_with('\n') {
                    println!();
                }
                ExitCode::SUCCESS
            }
            Err(Failure::Usage(messages)) => {
                for m in messages {
                    eprintln!("lockstep: {m}");
                }
                ExitCode::from(2)
            }
            Err(Failure::Help) => {
                print!("{}", help());
                ExitCode::SUCCESS
            }
        },
        Some("--help") | Some("-h") | Some("help") | None => {
            print!("{}", help());
            ExitCode::SUCCESS
        }
        Some("--version") => {
            println!("lockstep {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!(
                "lockstep: unknown command {}; accepts: plan (see lockstep --help)",
                shown(other)
            );
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Usage(Vec<String>),
    Help,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::Usage(vec![message.into()])
}

/// Parses `plan` arguments into parameters and a format, then plans and renders.
fn run_plan(args: &[String]) -> Result<String, Failure> {
    let mut from_flags = Params::new();
    let mut link = None;
    let mut format = "markdown".to_string();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--help" || arg == "-h" {
            return Err(Failure::Help);
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(usage(format!(
                "unexpected argument {}; flags look like --table orders",
                shown(arg)
            )));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        let next_is_value = args.get(i + 1).is_some_and(|n| !n.starts_with("--"));
        let value = match inline {
            Some(v) => v,
            None if SWITCHES.contains(&name.as_str()) && !next_is_value => "true".to_string(),
            None if next_is_value => {
                i += 1;
                args[i].clone()
            }
            None => return Err(usage(format!("--{name} needs a value"))),
        };
        match name.as_str() {
            "format" => format = value,
            "link" => link = Some(value),
            _ if FIELDS.iter().any(|f| f.name == name) => from_flags.set(&name, value),
            _ => {
                return Err(usage(format!(
                    "--{name} is not a flag of lockstep plan; see lockstep plan --help"
                )))
            }
        }
        i += 1;
    }
    let mut params = match link {
        Some(l) => share::from_link(&l).map_err(|e| usage(format!("--{e}")))?,
        None => Params::new(),
    };
    for (name, value) in from_flags.iter() {
        params.set(name, value);
    }
    if format == "link" {
        return Ok(format!("?{}", share::to_query(&params)));
    }
    let plan = lockstep_planner::plan(&params)
        .map_err(|errors| Failure::Usage(errors.iter().map(|e| format!("--{e}")).collect()))?;
    match format.as_str() {
        "markdown" | "md" => Ok(markdown::render(&plan, &params)),
        "sql" => Ok(sql::forward(&plan)),
        "rollback-sql" => Ok(sql::rollback(&plan)),
        "json" => Ok(json::render(&plan, &params)),
        other => Err(usage(format!(
            "--format: {} is not a format; accepts {FORMATS}",
            shown(other)
        ))),
    }
}

fn help() -> String {
    let mut out = String::from(
        "lockstep plan: a zero-downtime migration runbook for a PostgreSQL, MySQL or MariaDB table.\n\n\
         Usage: lockstep plan --db postgresql@16 --change add-index --table orders --columns customer_id \\\n\
         \x20                    --rows 500M --size 120GB --max-downtime 0 [--format markdown]\n\
         \x20      lockstep plan --db mysql@8.0.35 --change change-type --table orders --column id \\\n\
         \x20                    --from-type int --to-type 'bigint NOT NULL AUTO_INCREMENT' --rows 500M --size 120GB --max-downtime 0\n\
         \x20      lockstep plan --link '<share link copied from the page>' [--format json]\n\n\
         Flags (the same names as the share link's parameters):\n",
    );
    for f in FIELDS {
        out.push_str(&format!("  --{:<22} {}\n", f.name, f.accepts));
    }
    out.push_str(&format!(
        "  --{:<22} output: {FORMATS} (default markdown)\n  --{:<22} a share link; explicit flags override its values\n\n\
         Exit status: 0 with a plan, 2 when an input is rejected (the message names the flag).\n",
        "format", "link"
    ));
    out
}
