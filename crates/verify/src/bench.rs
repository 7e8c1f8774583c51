//! `bench-live`: for the same table and the same writer/reader workload, the naive single
//! statement against Lockstep's plan, printing the longest write stall of each and their ratio.
//! A benchmark prints numbers; it asserts nothing (the exit status is 0 unless the harness fails).

use crate::cluster::Cluster;
use crate::load::{AppStage, Load, Role};
use crate::runner::{ensure_template, params_for};
use crate::scenarios::all_cases;
use crate::sql::{exec, split_statements, text_value};
use lockstep_planner::model::Plan;
use lockstep_planner::render;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Bench {
    label: &'static str,
    change: &'static str,
    case: &'static str,
    naive: &'static str,
}

const BENCHES: [Bench; 3] = [
    Bench {
        label: "int -> bigint primary key",
        change: "change-type",
        case: "int-pk-to-bigint",
        naive: "ALTER TABLE orders ALTER COLUMN id TYPE bigint",
    },
    Bench {
        label: "add index (customer_id, created_at)",
        change: "add-index",
        case: "online",
        naive: "CREATE INDEX orders_customer_id_created_at_idx ON orders (customer_id, created_at)",
    },
    Bench {
        label: "NOT NULL on email",
        change: "add-not-null",
        case: "online",
        naive: "ALTER TABLE orders ALTER COLUMN email SET NOT NULL",
    },
];

struct Measured {
    write_stall: Duration,
    read_stall: Duration,
    seconds: f64,
    errors: usize,
}

pub fn run(out: &Path, tools: &Path, majors: &[u32], rows: u64) -> ExitCode {
    println!("bench-live: {rows} rows, a writer and a reader running throughout; longest stall = longest single write (or read) during the migration");
    let mut failed = false;
    for &major in majors {
        let cluster = match Cluster::start(out, tools, major) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("bench-live: {e}");
                failed = true;
                continue;
            }
        };
        println!("\nPostgreSQL {}", cluster.version);
        println!(
            "| change | naive: longest write stall | Lockstep: longest write stall | ratio | naive: longest read stall | Lockstep: longest read stall | naive total | Lockstep total |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        for b in &BENCHES {
            match bench_one(&cluster, b, rows) {
                Ok((naive, Err(e))) => println!(
                    "| {} | {} ms | {e} | | {} ms | | {:.1} s | |",
                    b.label,
                    naive.write_stall.as_millis(),
                    naive.read_stall.as_millis(),
                    naive.seconds
                ),
                Ok((naive, Ok(plan))) => {
                    let ratio = naive.write_stall.as_secs_f64()
                        / plan.write_stall.as_secs_f64().max(0.000_001);
                    println!(
                        "| {} | {} ms | {} ms | {:.0}x | {} ms | {} ms | {:.1} s | {:.1} s{} |",
                        b.label,
                        naive.write_stall.as_millis(),
                        plan.write_stall.as_millis(),
                        ratio,
                        naive.read_stall.as_millis(),
                        plan.read_stall.as_millis(),
                        naive.seconds,
                        plan.seconds,
                        if naive.errors + plan.errors > 0 {
                            format!(" ({} traffic errors)", naive.errors + plan.errors)
                        } else {
                            String::new()
                        }
                    );
                }
                Err(e) => println!("| {} | {e} | | | | | | |", b.label),
            }
        }
        drop(cluster);
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn fresh_db(cluster: &Cluster, rows: u64, int_id: bool, name: &str) -> Result<(), String> {
    let template = ensure_template(cluster, rows, int_id)?;
    let mut admin = cluster.connect("postgres")?;
    exec(&mut admin, &format!("DROP DATABASE IF EXISTS {name}"))?;
    exec(
        &mut admin,
        &format!("CREATE DATABASE {name} TEMPLATE {template}"),
    )
}

type Outcome = (Measured, Result<Measured, String>);

fn bench_one(cluster: &Cluster, b: &Bench, rows: u64) -> Result<Outcome, String> {
    let case = all_cases()
        .into_iter()
        .find(|c| c.change == b.change && c.name == b.case)
        .ok_or("no such case")?;

    // The naive statement.
    fresh_db(cluster, rows, case.int_id, "bench_naive")?;
    let mut s = cluster.connect("bench_naive")?;
    let size: u64 = text_value(&mut s, "SELECT pg_total_relation_size('orders')")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let load = Load::start(
        || cluster.connect("bench_naive"),
        vec![AppStage::plain()],
        rows,
        Duration::from_millis(5),
        "bench-naive",
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    exec(&mut s, b.naive)?;
    let t1 = Instant::now();
    load.settle(t1, Duration::from_secs(30));
    let naive = Measured {
        write_stall: load.max_stall(Role::Writer, t0, t1),
        read_stall: load.max_stall(Role::Reader, t0, t1),
        seconds: (t1 - t0).as_secs_f64(),
        errors: load.errors_between(t0, Instant::now()).len(),
    };
    drop(load);
    drop(s);

    // Lockstep's plan for the same table.
    let params = params_for(&case, &cluster.version, rows, size);
    let plan = match lockstep_planner::plan(&params) {
        Ok(plan) => plan,
        Err(e) => {
            let msg = e
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return Ok((naive, Err(format!("no plan: {msg}"))));
        }
    };
    fresh_db(cluster, rows, case.int_id, "bench_plan")?;
    let mut s = cluster.connect("bench_plan")?;
    let load = Load::start(
        || cluster.connect("bench_plan"),
        case.stages.clone(),
        rows,
        Duration::from_millis(5),
        "bench-plan",
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let t0 = Instant::now();
    // A plan step that never ends (a backfill chasing new rows) is cancelled, and reported.
    let limit = Duration::from_secs(60 + rows / 10_000);
    let cancel = s.cancel_token();
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let finished = std::sync::Arc::clone(&finished);
        std::thread::spawn(move || {
            while t0.elapsed() < limit {
                if finished.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = cancel.cancel_query(postgres::NoTls);
        })
    };
    let outcome = run_plan_plain(&mut s, &plan, &load, t0 + limit);
    finished.store(true, std::sync::atomic::Ordering::SeqCst);
    let _ = watchdog.join();
    if let Err(e) = outcome {
        drop(load);
        return Ok((
            naive,
            Err(format!(
                "the plan did not complete within {} s: {e}",
                limit.as_secs()
            )),
        ));
    }
    let t1 = Instant::now();
    load.settle(t1, Duration::from_secs(30));
    let planned = Measured {
        write_stall: load.max_stall(Role::Writer, t0, t1),
        read_stall: load.max_stall(Role::Reader, t0, t1),
        seconds: (t1 - t0).as_secs_f64(),
        errors: load.errors_between(t0, Instant::now()).len(),
    };
    drop(load);
    drop(s);
    let mut admin = cluster.connect("postgres")?;
    let _ = exec(&mut admin, "DROP DATABASE IF EXISTS bench_naive");
    let _ = exec(&mut admin, "DROP DATABASE IF EXISTS bench_plan");
    Ok((naive, Ok(planned)))
}

/// Every step of every phase, as an operator runs the runbook (no probes, no rollbacks).
fn run_plan_plain(
    s: &mut postgres::Client,
    plan: &Plan,
    load: &Load,
    deadline: Instant,
) -> Result<(), String> {
    let mut stage = 0;
    for phase in &plan.phases {
        if phase.app_change.is_some() {
            stage += 1;
            load.set_stage(stage);
        }
        for step in &phase.steps {
            exec(
                s,
                &format!("RESET ALL; {}", render::settings(step).join(" ")),
            )?;
            if let Some(guard) = &step.only_if {
                if text_value(s, guard)?.as_deref() != Some("t") {
                    continue;
                }
            }
            if step.in_transaction {
                // A batch the runbook repeats until it returns no row (PostgreSQL 10 backfills).
                let repeat = crate::runner::is_repeated_batch(step);
                loop {
                    exec(s, "BEGIN")?;
                    let mut returned = 0;
                    for stmt in &step.sql {
                        match crate::sql::text_rows(s, stmt) {
                            Ok(rows) if crate::runner::batch_finished(&rows) => returned = 0,
                            Ok(rows) => returned = rows.len(),
                            Err(e) => {
                                let _ = exec(s, "ROLLBACK");
                                return Err(format!("{}: {e}", step.title));
                            }
                        }
                    }
                    exec(s, "COMMIT")?;
                    if !repeat || returned == 0 {
                        break;
                    }
                    if Instant::now() > deadline {
                        return Err(format!("{}: still returning rows", step.title));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            } else {
                for stmt in step.sql.iter().flat_map(|x| split_statements(x)) {
                    let rows = crate::sql::text_rows(s, &stmt)
                        .map_err(|e| format!("{}: {e}", step.title))?;
                    // A query writing the statements to run (psql \gexec): run each row.
                    if crate::runner::is_generator(step) {
                        for generated in rows.iter().filter_map(|r| r.first().cloned().flatten()) {
                            exec(s, &generated).map_err(|e| format!("{}: {e}", step.title))?;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
