//! `lockstep-verify`: runs Lockstep's plans on real PostgreSQL 10-18 and MariaDB servers and
//! checks every claim (statements, locks, rewrites, blocking, data, rollbacks, checks). See
//! `--help`.

mod bench;
mod cluster;
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

use report::Report;
use runner::Options;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const ALL_MAJORS: [u32; 9] = [10, 11, 12, 13, 14, 15, 16, 17, 18];

const HELP: &str =
    "lockstep-verify: checks Lockstep's plans on real PostgreSQL and MariaDB servers.

USAGE
  lockstep-verify [--engines postgresql,mariadb] [--versions 10,11,...|all]
                  [--changes add-index,...|all] [--rows 200000]
                  [--jobs 2] [--stall-ms 200] [--step-timeout S] [--no-rollback] [--verbose]
  lockstep-verify bench-live [--versions 16] [--rows 1000000]

PostgreSQL servers come from .tools/pg/<major> (scripts/setup-postgres.sh installs them),
MariaDB from Debian's mariadb-server (scripts/setup-mariadb.sh). Each run starts throwaway
servers under target/verify/ and always stops and removes them. The matrix is printed and
written to target/verify/report.md; the exit status is 1 when any claim is false.

  --engines   postgresql, mariadb or both (default both); --versions picks PostgreSQL majors
  --changes   change types (add-index) or single cases (add-index/online); default all
  --jobs      PostgreSQL versions verified at the same time (default 2); MariaDB runs
              first, alone
  --stall-ms  longest acceptable writer/reader stall for steps claiming to block nothing
              (MariaDB: and for INSTANT, LOCK=NONE and brief metadata-lock steps)
  --step-timeout  seconds after which a step still running is cancelled and fails
              (default 30 per 200k rows)
  --tools     directory holding <major>/bin (default .tools/pg in the workspace)
  --out       directory for clusters and the report (default target/verify in the workspace)
";

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

fn parse(args: &[String]) -> Result<Args, String> {
    let root = workspace_root();
    let mut a = Args {
        postgresql: true,
        mariadb: true,
        majors: ALL_MAJORS.to_vec(),
        changes: Vec::new(),
        rows: None,
        jobs: 2,
        stall_ms: 200,
        step_timeout_s: None,
        rollback: true,
        verbose: false,
        tools: root.join(".tools/pg"),
        out: root.join("target/verify"),
    };
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (flag, None),
        };
        let mut value = || -> Result<String, String> {
            if let Some(v) = &inline {
                return Ok(v.clone());
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match name {
            "--engines" => {
                let v = value()?;
                a.postgresql = false;
                a.mariadb = false;
                for e in v.split(',').map(str::trim) {
                    match e {
                        "postgresql" | "postgres" | "pg" => a.postgresql = true,
                        "mariadb" => a.mariadb = true,
                        "all" => {
                            a.postgresql = true;
                            a.mariadb = true;
                        }
                        other => {
                            return Err(format!(
                                "--engines: {other:?} is not an engine; accepts postgresql, mariadb"
                            ))
                        }
                    }
                }
            }
            "--versions" => {
                let v = value()?;
                a.majors = if v == "all" {
                    ALL_MAJORS.to_vec()
                } else {
                    v.split(',')
                        .map(|m| {
                            m.trim()
                                .parse::<u32>()
                                .ok()
                                .filter(|m| ALL_MAJORS.contains(m))
                                .ok_or_else(|| {
                                    format!("--versions: {m:?} is not a major version 10..18")
                                })
                        })
                        .collect::<Result<_, _>>()?
                };
            }
            "--changes" => {
                let v = value()?;
                a.changes = if v == "all" {
                    Vec::new()
                } else {
                    v.split(',').map(|s| s.trim().to_string()).collect()
                };
            }
            "--rows" => {
                a.rows = Some(
                    value()?
                        .replace('_', "")
                        .parse()
                        .map_err(|_| "--rows accepts a number".to_string())?,
                )
            }
            "--jobs" => {
                a.jobs = value()?
                    .parse::<usize>()
                    .map_err(|_| "--jobs accepts a number".to_string())?
                    .max(1)
            }
            "--stall-ms" => {
                a.stall_ms = value()?
                    .parse()
                    .map_err(|_| "--stall-ms accepts a number".to_string())?
            }
            "--step-timeout" => {
                a.step_timeout_s = Some(
                    value()?
                        .parse()
                        .map_err(|_| "--step-timeout accepts seconds".to_string())?,
                )
            }
            "--no-rollback" => a.rollback = false,
            "--verbose" | "-v" => a.verbose = true,
            "--tools" => a.tools = PathBuf::from(value()?),
            "--out" => a.out = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
        i += 1;
    }
    Ok(a)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.iter().any(|a| a == "--help" || a == "-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    let bench = argv.first().map(String::as_str) == Some("bench-live");
    let rest = if bench { &argv[1..] } else { &argv[..] };
    let args = match parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("lockstep-verify: {e}");
            return ExitCode::from(2);
        }
    };
    cluster::install_cleanup_handlers();
    if let Err(e) = std::fs::create_dir_all(&args.out) {
        eprintln!("lockstep-verify: {}: {e}", args.out.display());
        return ExitCode::from(2);
    }
    cluster::sweep_stale(&args.out, &args.tools);
    if bench {
        let majors = if rest.iter().any(|a| a.starts_with("--versions")) {
            args.majors.clone()
        } else {
            vec![16]
        };
        return bench::run(
            &args.out,
            &args.tools,
            &majors,
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
