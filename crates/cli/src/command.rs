//! The `lockstep` command line, built from the planner's parameter list.
//!
//! Each parameter of [`FIELDS`] becomes the flag of its share-link name with its "accepts"
//! sentence as help, so the page's form, the share link and the command line cannot drift
//! apart: a new parameter is a new flag, in `--help` and in the shell completions, by itself.
//! Values stay raw text: the planner validates them and names the flag in its messages.

use clap::builder::{PossibleValue, PossibleValuesParser, StringValueParser, TypedValueParser};
use clap::{Arg, ArgAction, ArgMatches, Command};
use clap_complete::Shell;
use lockstep_planner::request::params::{
    Field, COMMON_FIELDS, FIELDS, OPTION_FIELDS, SWITCH_FIELDS,
};
use lockstep_planner::request::CHANGE_KINDS;
use std::ffi::OsStr;

/// `--format` values; `md` is accepted for `markdown`.
pub const FORMATS: &[&str] = &["markdown", "sql", "rollback-sql", "json", "link"];

const PLAN_USAGE: &str = "\
lockstep plan --db <DB> --change <CHANGE> --table <TABLE> [the change's flags] \\
                     --rows <ROWS> --size <SIZE> --max-downtime <DURATION> [--format <FORMAT>]
       lockstep plan --link <URL> [flags overriding the link's] [--format <FORMAT>]";

const PLAN_AFTER: &str = "\
Examples:
  lockstep plan --db postgresql@16 --change add-index --table orders --columns customer_id \\
    --rows 500M --size 120GB --max-downtime 0
  lockstep plan --db mysql@8.0.35 --change change-type --table orders --column id \\
    --from-type int --to-type 'bigint NOT NULL AUTO_INCREMENT' \\
    --rows 500M --size 120GB --max-downtime 0
  lockstep plan --link '<share link copied from the page>' --format json

Flags are the share link's parameter names: a link copied from the page and explicit flags \
mix freely (flags win). A yes/no flag alone means true (--unique), or takes true or false.

Exit status: 0 with a plan, 2 when an input is rejected (the message names the flag and what \
it accepts).";

/// The whole `lockstep` command: `plan` and `completions`.
pub fn lockstep() -> Command {
    Command::new("lockstep")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Zero-downtime migration runbooks for PostgreSQL, MySQL and MariaDB tables.")
        .max_term_width(100)
        .subcommand(plan())
        .subcommand(check())
        .subcommand(completions())
}

/// `check --format` values.
pub const CHECK_FORMATS: &[&str] = &["markdown", "json", "github"];

const CHECK_AFTER: &str = "\
Examples:
  lockstep check migration.sql --db postgresql@16.4 --max-downtime 0 --rows orders=500M --size orders=120GB
  lockstep check --sizes-query --db postgresql@16   # prints the catalog query whose output --sizes reads
  lockstep check migration.sql --db mysql@8.0.35 --sizes sizes.txt --format github

Each statement is read with sqlparser (PostgreSQL or MySQL, from --db) and becomes one of \
Lockstep's changes, planned on its own for its table's size: safe as written (the plan is this \
statement, within the budget), unsafe (the plan needs the online path: what the statement \
blocks and for how long), or unknown (why). The plans are per change, in file order, not merged.

Exit status: 0 when no statement is unsafe, 1 when some statement is unsafe, 2 on bad input.";

/// `lockstep check`: a migration file's statements, each with its verdict.
fn check() -> Command {
    Command::new("check")
        .about("Reads a migration file and says, per statement, whether it is safe to run as written.")
        .after_help(CHECK_AFTER)
        .arg(Arg::new("file").value_name("FILE").help("the migration file (SQL); - reads standard input").required_unless_present("sizes-query"))
        .arg(Arg::new("db").long("db").value_name("DB").required(true).help(lockstep_planner::request::params::accepts("db")))
        .arg(Arg::new("max-downtime").long("max-downtime").value_name("DURATION").default_value("0").help(lockstep_planner::request::params::accepts("max-downtime")))
        .arg(Arg::new("rows").long("rows").value_name("TABLE=ROWS").action(ArgAction::Append).help("row count of a table, e.g. orders=500M (repeat per table); 500M alone: every table not named"))
        .arg(Arg::new("size").long("size").value_name("TABLE=SIZE").action(ArgAction::Append).help("size of a table on disk, e.g. orders=120GB (repeat per table); 120GB alone: every table not named"))
        .arg(Arg::new("sizes").long("sizes").value_name("FILE").help("every table's rows and size: the output of the query --sizes-query prints"))
        .arg(Arg::new("sizes-query").long("sizes-query").action(ArgAction::SetTrue).help("print the one-line catalog query (for --db's engine) whose output --sizes reads, and exit"))
        .arg(
            Arg::new("format")
                .long("format")
                .value_name("FORMAT")
                .help("markdown (verdicts, then each change's runbook), json, github (workflow annotations)")
                .value_parser(PossibleValuesParser::new(CHECK_FORMATS.iter().map(|f| match *f {
                    "markdown" => PossibleValue::new("markdown").alias("md"),
                    other => PossibleValue::new(other),
                })))
                .default_value("markdown"),
        )
}

/// `lockstep plan`: one flag per planner parameter, plus `--format` and `--link`.
fn plan() -> Command {
    let fields = FIELDS.iter().map(field_flag);
    Command::new("plan")
        .about("A zero-downtime migration runbook for a PostgreSQL, MySQL or MariaDB table.")
        .override_usage(PLAN_USAGE)
        .after_help(PLAN_AFTER)
        // A flag given twice keeps its last value, as when a flag overrides a link.
        .args_override_self(true)
        .args(fields)
        .arg(
            Arg::new("format")
                .long("format")
                .value_name("FORMAT")
                .help_heading("Output")
                .help("markdown (the runbook), sql (forward script), rollback-sql, json, link (the share link's query)")
                .value_parser(PossibleValuesParser::new(FORMATS.iter().map(|f| match *f {
                    "markdown" => PossibleValue::new("markdown").alias("md"),
                    other => PossibleValue::new(other),
                })))
                .default_value("markdown"),
        )
        .arg(
            Arg::new("link")
                .long("link")
                .value_name("URL")
                .help_heading("Output")
                .help("a share link copied from the page (or its query string); explicit flags override its values"),
        )
}

/// The flag of one parameter: `--<share-link name>`, its "accepts" sentence as help.
fn field_flag(field: &Field) -> Arg {
    let arg = Arg::new(field.name)
        .long(field.name)
        .help(field.accepts)
        .help_heading(heading(field.name))
        .action(ArgAction::Set)
        .value_parser(Raw(candidates(field.name)))
        .hide_possible_values(true);
    if SWITCH_FIELDS.contains(&field.name) {
        arg.value_name("true|false")
            .num_args(0..=1)
            .default_missing_value("true")
    } else {
        // A value may start with '-' (`--default -1`); a flag taken as a value is refused
        // afterwards by `flag_taken_as_value`.
        arg.value_name("VALUE").allow_hyphen_values(true)
    }
}

/// The values a shell completes for a parameter (any other text still reaches the planner).
fn candidates(name: &str) -> &'static [&'static str] {
    match name {
        "change" => CHANGE_KINDS,
        _ if SWITCH_FIELDS.contains(&name) => &["true", "false"],
        _ => &[],
    }
}

/// A parameter's value as typed. Clap does not check it against the candidates, which only
/// feed the completions: the planner validates every value, so its message, naming the flag and
/// what it accepts, is the one the user reads.
#[derive(Clone)]
struct Raw(&'static [&'static str]);

impl TypedValueParser for Raw {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        match self.0 {
            [] => None,
            values => Some(Box::new(values.iter().copied().map(PossibleValue::new))),
        }
    }
}

/// The help section a parameter is listed under, as the page groups its form.
fn heading(name: &str) -> &'static str {
    if COMMON_FIELDS.contains(&name) {
        "Every change"
    } else if OPTION_FIELDS.contains(&name) {
        "More options (facts about the server, model overrides)"
    } else {
        "Per change type"
    }
}

/// `lockstep completions <shell>`.
fn completions() -> Command {
    Command::new("completions")
        .about("Prints a shell completion script for lockstep")
        .after_help(
            "bash: lockstep completions bash > ~/.local/share/bash-completion/completions/lockstep\n\
             zsh:  lockstep completions zsh > ~/.zfunc/_lockstep (with ~/.zfunc in fpath)\n\
             fish: lockstep completions fish > ~/.config/fish/completions/lockstep.fish",
        )
        .arg(
            Arg::new("shell")
                .required(true)
                .value_parser(clap::value_parser!(Shell)),
        )
}

/// The first parameter whose value is another flag of `plan` (`--default --unique`: the value
/// was forgotten), as the message to print. Catching it keeps the flag from being swallowed.
pub fn flag_taken_as_value(matches: &ArgMatches) -> Option<String> {
    let plan = plan();
    let is_flag = |word: &str| {
        plan.get_arguments()
            .filter_map(Arg::get_long)
            .chain(["help"])
            .any(|long| long == word)
    };
    FIELDS.iter().find_map(|f| {
        let value = matches.get_one::<String>(f.name)?;
        let word = value.strip_prefix("--")?;
        let word = word.split_once('=').map_or(word, |(w, _)| w);
        is_flag(word).then(|| {
            format!(
                "--{} needs a value (got the flag --{word}); accepts {}",
                f.name, f.accepts
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flags of `plan` are exactly the planner's parameters, in the share link's order,
    /// then `--format` and `--link`.
    #[test]
    fn plan_flags_are_the_share_link_parameters() {
        let plan = plan();
        let flags: Vec<&str> = plan.get_arguments().filter_map(Arg::get_long).collect();
        let mut expected: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        expected.extend(["format", "link"]);
        assert_eq!(flags, expected);
        for f in FIELDS {
            let arg = plan.get_arguments().find(|a| a.get_id() == f.name).unwrap();
            assert_eq!(
                arg.get_help().map(ToString::to_string).as_deref(),
                Some(f.accepts)
            );
        }
    }

    #[test]
    fn the_command_is_well_formed() {
        lockstep().debug_assert();
    }
}
