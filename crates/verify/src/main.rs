//! `lockstep-verify`: runs Lockstep's plans on real PostgreSQL 10-18 and MariaDB servers and
//! checks every claim (statements, locks, rewrites, blocking, data, rollbacks, checks). See
//! `--help`.

mod bench;
mod cluster;
#[cfg(test)]
mod fact_docs;
mod load;
mod lockwaits;
mod mariadb;
mod queue;
mod report;
mod runner;
mod scenarios;
mod script;
mod sql;
mod walk;

use clap::{Parser, Subcommand};
use report::Report;
use runner::Options;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const ALL_MAJORS: [u32; 9] = [10, 11, 12, 13, 14, 15, 16, 17, 18];

const ABOUT: &str = "Checks Lockstep's plans on real PostgreSQL and MariaDB servers.";

const LONG_ABOUT: &str = "\
Checks Lockstep's plans on real PostgreSQL and MariaDB servers.

PostgreSQL servers come from .tools/pg/<major> (scripts/setup-postgres.sh installs them),
MariaDB from Debian's mariadb-server (scripts/setup-mariadb.sh). Each run starts throwaway
servers under target/verify/ and always stops and removes them. The matrix is printed and
written to target/verify/report.md; the exit status is 1 when any claim is false, 2 when an
argument is rejected.";

/// The command line. Every flag is global, so `bench-live` reads the same ones after it.
#[derive(Parser)]
#[command(
    name = "lockstep-verify",
    about = ABOUT,
    long_about = LONG_ABOUT,
    args_override_self = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    mode: Option<Mode>,
    #[command(flatten)]
    flags: Flags,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Longest write stall, naive single statement vs Lockstep's plan, on real servers
    /// (default --versions 16, --rows 1000000)
    BenchLive,
}

#[derive(clap::Args)]
struct Flags {
    /// Engines to verify: postgresql (or postgres, pg), mariadb, all; comma-separated
    /// [default: all]
    #[arg(long, global = true, value_name = "ENGINES", value_parser = parse_engines)]
    engines: Option<Engines>,
    /// PostgreSQL majors 10..18, comma-separated, or all [default: all]
    #[arg(long, global = true, value_name = "10,11,...|all", value_parser = parse_majors)]
    versions: Option<Majors>,
    /// Change types (add-index) or single cases (add-index/online), comma-separated, or all
    /// [default: all]
    #[arg(long, global = true, value_name = "CHANGES", value_parser = parse_changes)]
    changes: Option<Changes>,
    /// Rows in each case's table [default: 200000]; 1_000_000 is read as 1000000
    #[arg(long, global = true, value_parser = parse_rows)]
    rows: Option<u64>,
    /// PostgreSQL versions verified at the same time (MariaDB runs first, alone)
    #[arg(long, global = true, default_value_t = 2)]
    jobs: usize,
    /// Longest acceptable writer/reader stall, in ms, for steps claiming to block nothing
    /// (MariaDB: and for INSTANT, LOCK=NONE and brief metadata-lock steps)
    #[arg(long, global = true, default_value_t = 200)]
    stall_ms: u64,
    /// Seconds after which a step still running is cancelled and fails [default: 30 per 200k
    /// rows]
    #[arg(long = "step-timeout", global = true, value_name = "SECONDS")]
    step_timeout_s: Option<u64>,
    /// Do not run and check each phase's rollback
    #[arg(long, global = true)]
    no_rollback: bool,
    /// Print every claim as it is checked (a false one is always printed)
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Directory holding <major>/bin [default: .tools/pg in the workspace]
    #[arg(long, global = true, value_name = "DIR")]
    tools: Option<PathBuf>,
    /// Directory for clusters and the report [default: target/verify in the workspace]
    #[arg(long, global = true, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// Which engines `--engines` picked.
#[derive(Clone, Copy)]
struct Engines {
    postgresql: bool,
    mariadb: bool,
}

/// PostgreSQL majors from `--versions`.
#[derive(Clone)]
struct Majors(Vec<u32>);

/// `--changes` filters: empty for all.
#[derive(Clone)]
struct Changes(Vec<String>);

fn parse_engines(v: &str) -> Result<Engines, String> {
    let mut e = Engines {
        postgresql: false,
        mariadb: false,
    };
    for name in v.split(',').map(str::trim) {
        match name {
            "postgresql" | "postgres" | "pg" => e.postgresql = true,
            "mariadb" => e.mariadb = true,
            "all" => {
                e.postgresql = true;
                e.mariadb = true;
            }
            other => {
                return Err(format!(
                    "{other:?} is not an engine; accepts postgresql, mariadb"
                ))
            }
        }
    }
    Ok(e)
}

fn parse_majors(v: &str) -> Result<Majors, String> {
    if v == "all" {
        return Ok(Majors(ALL_MAJORS.to_vec()));
    }
    v.split(',')
        .map(|m| {
            m.trim()
                .parse::<u32>()
                .ok()
                .filter(|m| ALL_MAJORS.contains(m))
                .ok_or_else(|| format!("{m:?} is not a major version 10..18"))
        })
        .collect::<Result<_, _>>()
        .map(Majors)
}

fn parse_changes(v: &str) -> Result<Changes, String> {
    Ok(Changes(if v == "all" {
        Vec::new()
    } else {
        v.split(',').map(|s| s.trim().to_string()).collect()
    }))
}

fn parse_rows(v: &str) -> Result<u64, String> {
    v.replace('_', "")
        .parse()
        .map_err(|_| "accepts a number".to_string())
}

/// A run's settings: the flags with their defaults filled in.
struct Args {
    postgresql: bool,
    mariadb: bool,
    majors: Vec<u32>,
    changes: Vec<String>,
    rows: Option<u64>,
    jobs: usize,
    stall_ms: u64,
    step_timeout_s: Option<u64>,
    rollback: bool,
    verbose: bool,
    tools: PathBuf,
    out: PathBuf,
}

fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(manifest)
}

impl From<Flags> for Args {
    fn from(f: Flags) -> Args {
        let root = workspace_root();
        let engines = f.engines.unwrap_or(Engines {
            postgresql: true,
            mariadb: true,
        });
        Args {
            postgresql: engines.postgresql,
            mariadb: engines.mariadb,
            majors: f.versions.map_or_else(|| ALL_MAJORS.to_vec(), |m| m.0),
            changes: f.changes.map(|c| c.0).unwrap_or_default(),
            rows: f.rows,
            jobs: f.jobs.max(1),
            stall_ms: f.stall_ms,
            step_timeout_s: f.step_timeout_s,
            rollback: !f.no_rollback,
            verbose: f.verbose,
            tools: f.tools.unwrap_or_else(|| root.join(".tools/pg")),
            out: f.out.unwrap_or_else(|| root.join("target/verify")),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help prints to stdout and exits 0; a rejected argument exits 2.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    // bench-live measures PostgreSQL 16 unless --versions says otherwise.
    let bench_majors = cli
        .flags
        .versions
        .as_ref()
        .map_or(vec![16], |m| m.0.clone());
    let args = Args::from(cli.flags);
    cluster::install_cleanup_handlers();
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("lockstep-verify: {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    cluster::sweep_stale(&args.out, &args.tools);
    if cli.mode == Some(Mode::BenchLive) {
        return bench::run(
            &args.out,
            &args.tools,
            &bench_majors,
            args.rows.unwrap_or(1_000_000),
        );
    }
    verify(args)
}

fn matches_filter(changes: &[String], change: &str, name: &str) -> bool {
    changes.is_empty()
        || changes
            .iter()
            .any(|f| f == change || *f == format!("{change}/{name}"))
}

fn verify(args: Args) -> ExitCode {
    let cases: Vec<scenarios::Case> = if args.postgresql {
        scenarios::all_cases()
            .into_iter()
            .filter(|c| matches_filter(&args.changes, c.change, c.name))
            .collect()
    } else {
        Vec::new()
    };
    let my_cases: Vec<scenarios::Case> = if args.mariadb {
        mariadb::scenarios::all_cases()
            .into_iter()
            .filter(|c| matches_filter(&args.changes, c.change, c.name))
            .collect()
    } else {
        Vec::new()
    };
    if cases.is_empty() && my_cases.is_empty() {
        eprintln!(
            "lockstep-verify: no case matches --changes {}; accepts: {}",
            args.changes.join(","),
            scenarios::change_kinds().join(", ")
        );
        return ExitCode::from(2);
    }
    let opts = Options {
        rows: args.rows.unwrap_or(200_000),
        stall_threshold: Duration::from_millis(args.stall_ms),
        rollback: args.rollback,
        think: Duration::from_millis(5),
        verbose: args.verbose,
        step_timeout: Duration::from_secs(args.step_timeout_s.unwrap_or_else(|| {
            // A correct 200k-row backfill takes ~5 s here: 30 s per 200k rows is generous.
            (args.rows.unwrap_or(200_000) * 30 / 200_000).max(30)
        })),
    };
    let started = Instant::now();
    let jobs = args.jobs.min(args.majors.len()).max(1);
    eprintln!(
        "lockstep-verify: {} PostgreSQL case(s) x {} version(s) ({} at a time), {} MariaDB case(s), {} rows",
        cases.len(),
        if cases.is_empty() { 0 } else { args.majors.len() },
        jobs,
        my_cases.len(),
        opts.rows,
    );
    let results = Mutex::new(Vec::new());
    // MariaDB alone, before the PostgreSQL versions: beside them, its server and
    // pt-online-schema-change took enough of the 2 cores to push batch stalls of both engines
    // over the threshold.
    if !my_cases.is_empty() {
        let rs = mariadb::runner::verify_server(&my_cases, &opts, &args.out);
        results.lock().unwrap_or_else(|p| p.into_inner()).extend(rs);
    }
    let queue = Mutex::new(if cases.is_empty() {
        Vec::new()
    } else {
        args.majors.clone()
    });
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let next = {
                    let mut q = queue.lock().unwrap_or_else(|p| p.into_inner());
                    if q.is_empty() {
                        None
                    } else {
                        Some(q.remove(0))
                    }
                };
                let Some(major) = next else { break };
                let rs = verify_version(major, &cases, &opts, &args);
                results.lock().unwrap_or_else(|p| p.into_inner()).extend(rs);
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    let order = |r: &report::CaseResult| {
        let list = if r.engine == "PostgreSQL" {
            &cases
        } else {
            &my_cases
        };
        (
            r.engine != "PostgreSQL",
            r.major,
            list.iter()
                .position(|c| c.change == r.change && c.name == r.case)
                .unwrap_or(0),
        )
    };
    results.sort_by_key(order);
    let mut changes: Vec<&'static str> = scenarios::change_kinds()
        .into_iter()
        .filter(|k| cases.iter().chain(my_cases.iter()).any(|c| c.change == *k))
        .collect();
    changes.dedup();
    let mut columns: Vec<(&'static str, u32)> = Vec::new();
    if !cases.is_empty() {
        columns.extend(args.majors.iter().map(|m| ("PostgreSQL", *m)));
    }
    if !my_cases.is_empty() {
        columns.push(("MariaDB", mariadb::runner::MAJOR));
    }
    let report = Report {
        results,
        columns,
        changes,
        rows: opts.rows,
        threshold_ms: opts.stall_threshold.as_millis(),
        wall_seconds: started.elapsed().as_secs_f64(),
        jobs,
    };
    let md = report.markdown();
    let path = args.out.join("report.md");
    if let Err(e) = std::fs::write(&path, &md) {
        eprintln!("lockstep-verify: {}: {e}", path.display());
    }
    println!("{}", report.matrix());
    let failures: Vec<String> = report
        .results
        .iter()
        .filter(|r| r.failed())
        .map(|r| {
            format!(
                "{} {} {}/{}: {}",
                r.engine,
                r.version,
                r.change,
                r.case,
                r.summary()
            )
        })
        .collect();
    for f in &failures {
        println!("{f}");
    }
    let engine_seconds = |engine: &str| -> f64 {
        report
            .results
            .iter()
            .filter(|r| r.engine == engine)
            .map(|r| r.seconds)
            .sum()
    };
    if !my_cases.is_empty() {
        let mine = report.results.iter().filter(|r| r.engine == "MariaDB");
        println!(
            "lockstep-verify: MariaDB: {} claims checked, {} false, in {:.0} s",
            mine.clone().map(|r| r.claims.len()).sum::<usize>(),
            mine.map(|r| r.claims.iter().filter(|c| !c.ok).count())
                .sum::<usize>(),
            engine_seconds("MariaDB")
        );
    }
    println!(
        "lockstep-verify: {} claims checked, {} false, in {:.0} s; report: {}",
        report.results.iter().map(|r| r.claims.len()).sum::<usize>(),
        report
            .results
            .iter()
            .map(|r| r.claims.iter().filter(|c| !c.ok).count())
            .sum::<usize>(),
        report.wall_seconds,
        path.display()
    );
    if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn verify_version(
    major: u32,
    cases: &[scenarios::Case],
    opts: &Options,
    args: &Args,
) -> Vec<report::CaseResult> {
    let t0 = Instant::now();
    let mut cluster = match cluster::Cluster::start(&args.out, &args.tools, major) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("[pg{major}] {e}");
            return cases
                .iter()
                .map(|c| {
                    let mut r = report::CaseResult::new(c, major, &major.to_string());
                    r.status = report::CaseStatus::HarnessError(e.clone());
                    r
                })
                .collect();
        }
    };
    eprintln!(
        "[pg{major}] PostgreSQL {} on 127.0.0.1:{} ({:.1}s)",
        cluster.version,
        cluster.port,
        t0.elapsed().as_secs_f64()
    );
    let mut out = Vec::new();
    for case in cases {
        let r = runner::run_case(&cluster, case, opts);
        eprintln!(
            "[pg{major}] {}/{}: {} ({:.1}s)",
            case.change,
            case.name,
            r.summary(),
            r.seconds
        );
        out.push(r);
    }
    cluster.stop();
    eprintln!("[pg{major}] done in {:.0}s", t0.elapsed().as_secs_f64());
    out
}

#[cfg(test)]
mod flag_tests {
    use super::*;
    use clap::CommandFactory;

    fn args(argv: &[&str]) -> Result<(Option<Mode>, Args), String> {
        let cli =
            Cli::try_parse_from(std::iter::once("lockstep-verify").chain(argv.iter().copied()))
                .map_err(|e| e.to_string())?;
        Ok((cli.mode, Args::from(cli.flags)))
    }

    #[test]
    fn the_command_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_verify_every_engine_version_and_change() {
        let (mode, a) = args(&[]).unwrap();
        assert!(mode.is_none());
        assert!(a.postgresql && a.mariadb && a.rollback && !a.verbose);
        assert_eq!(a.majors, ALL_MAJORS);
        assert!(a.changes.is_empty());
        assert_eq!(
            (a.rows, a.jobs, a.stall_ms, a.step_timeout_s),
            (None, 2, 200, None)
        );
        assert!(a.tools.ends_with(".tools/pg") && a.out.ends_with("target/verify"));
    }

    /// The invocations of the Makefile and of the notes, flag for flag.
    #[test]
    fn every_flag_keeps_its_meaning() {
        let (_, a) = args(&["--engines", "postgresql,mariadb", "--versions", "all"]).unwrap();
        assert!(a.postgresql && a.mariadb);
        assert_eq!(a.majors, ALL_MAJORS);
        let (_, a) = args(&[
            "--engines",
            "postgresql",
            "--versions",
            "12, 16",
            "--changes",
            "add-not-null,add-index/online",
            "--jobs",
            "0",
            "--rows=1_000_000",
            "--stall-ms",
            "300",
            "--step-timeout",
            "90",
            "--no-rollback",
            "-v",
            "--tools",
            "/t",
            "--out",
            "/o",
        ])
        .unwrap();
        assert!(a.postgresql && !a.mariadb && !a.rollback && a.verbose);
        assert_eq!(a.majors, [12, 16]);
        assert_eq!(a.changes, ["add-not-null", "add-index/online"]);
        assert_eq!(
            (a.rows, a.jobs, a.stall_ms, a.step_timeout_s),
            (Some(1_000_000), 1, 300, Some(90))
        );
        assert_eq!((a.tools, a.out), (PathBuf::from("/t"), PathBuf::from("/o")));
        let (_, a) = args(&[
            "--engines",
            "mariadb",
            "--changes",
            "all",
            "--engines",
            "pg",
        ])
        .unwrap();
        assert!(a.postgresql && !a.mariadb, "the last --engines wins");
        assert!(a.changes.is_empty());
    }

    #[test]
    fn bench_live_reads_the_same_flags_after_it() {
        let (mode, a) = args(&["bench-live"]).unwrap();
        assert!(mode == Some(Mode::BenchLive) && a.rows.is_none());
        let (mode, a) = args(&["bench-live", "--versions", "17", "--rows", "2000000"]).unwrap();
        assert!(mode == Some(Mode::BenchLive));
        assert_eq!((a.majors, a.rows), (vec![17], Some(2_000_000)));
    }

    #[test]
    fn a_bad_flag_is_refused_naming_it() {
        let err = args(&["--engines", "oracle"]).err().unwrap();
        assert!(
            err.contains("--engines")
                && err.contains("\"oracle\" is not an engine; accepts postgresql, mariadb"),
            "{err}"
        );
        let err = args(&["--versions", "9"]).err().unwrap();
        assert!(
            err.contains("--versions") && err.contains("\"9\" is not a major version 10..18"),
            "{err}"
        );
        let err = args(&["--rows", "lots"]).err().unwrap();
        assert!(
            err.contains("--rows") && err.contains("accepts a number"),
            "{err}"
        );
        let err = args(&["--job", "2"]).err().unwrap();
        assert!(err.contains("a similar argument exists: '--jobs'"), "{err}");
    }
}
