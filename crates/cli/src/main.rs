//! `lockstep`: the planner on a terminal and in CI pipelines.
//!
//! Flag names are the share-link parameter names, so `--link '<url copied from the page>'`
//! and explicit flags mix freely (flags win). The command line is clap's, built from the
//! planner's parameter list ([`command`]).

mod check;
mod command;

use clap::ArgMatches;
use clap_complete::Shell;
use lockstep_planner::render::{json, markdown, sql};
use lockstep_planner::request::params::{Params, FIELDS};
use lockstep_planner::request::share;
use std::process::ExitCode;

/// A rejected input: exit status 2.
const USAGE_EXIT: u8 = 2;

fn main() -> ExitCode {
    let mut cli = command::lockstep();
    let matches = match cli.try_get_matches_from_mut(std::env::args_os()) {
        Ok(m) => m,
        // Help and --version print to stdout and exit 0; a usage error exits 2.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(USAGE_EXIT));
        }
    };
    match matches.subcommand() {
        Some(("plan", m)) => match run_plan(m) {
            Ok(text) => {
                check::print(&text);
                ExitCode::SUCCESS
            }
            Err(messages) => {
                for m in messages {
                    eprintln!("lockstep: {m}");
                }
                ExitCode::from(USAGE_EXIT)
            }
        },
        Some(("check", m)) => check::run(m),
        Some(("completions", m)) => {
            let shell = *m.get_one::<Shell>("shell").expect("shell is required");
            clap_complete::generate(shell, &mut cli, "lockstep", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        _ => {
            let _ = cli.print_help();
            ExitCode::SUCCESS
        }
    }
}

/// Plans and renders from `plan`'s flags (over a `--link`'s parameters), or returns the
/// messages to print, each naming its flag.
fn run_plan(m: &ArgMatches) -> Result<String, Vec<String>> {
    if let Some(message) = command::flag_taken_as_value(m) {
        return Err(vec![message]);
    }
    let mut params = match m.get_one::<String>("link") {
        Some(link) => share::from_link(link).map_err(|e| vec![format!("--{e}")])?,
        None => Params::new(),
    };
    for f in FIELDS {
        if let Some(value) = m.get_one::<String>(f.name) {
            params.set(f.name, value.as_str());
        }
    }
    let format = m
        .get_one::<String>("format")
        .map_or("markdown", String::as_str);
    if format == "link" {
        return Ok(format!("?{}", share::to_query(&params)));
    }
    let plan = lockstep_planner::plan(&params)
        .map_err(|errors| errors.iter().map(|e| format!("--{e}")).collect::<Vec<_>>())?;
    Ok(match format {
        "sql" => sql::forward(&plan),
        "rollback-sql" => sql::rollback(&plan),
        "json" => json::render(&plan, &params),
        _ => markdown::render(&plan, &params),
    })
}
