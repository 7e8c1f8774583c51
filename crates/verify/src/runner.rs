//! Runs one case on one server: seed, plan, execute every phase step by step under concurrent
//! traffic, and check each claim of the plan against what the server does.
//!
//! Sessions: `B` runs the steps; `A` holds a conflicting lock so that `B`'s lock request becomes
//! visible (waiting) in `pg_locks`; `C` observes `pg_locks`; `P` probes, while an
//! in-transaction step still holds its locks, whether an INSERT's or a SELECT's lock would be
//! granted. The writer and reader ([`crate::load`]) run on their own connections throughout.

use crate::cluster::Cluster;
use crate::load::{Load, Role};
use crate::report::{Calibration, CaseResult, CaseStatus, Claim, Kind};
use crate::scenarios::{Case, DataCheck};
use crate::sql::{exec, lit, split_statements, sqlstate, text_rows, text_value};
use lockstep_planner::plan::{Blocks, Expected, Lock, Phase, Plan, Step};
use lockstep_planner::render;
use lockstep_planner::Params;
use postgres::Client;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct Options {
    pub rows: u64,
    /// Longest acceptable stall of the writer or reader during a step that blocks nothing.
    pub stall_threshold: Duration,
    /// Run each phase's rollback and compare schemas.
    pub rollback: bool,
    /// Pause between two operations of the writer (and of the reader).
    pub think: Duration,
    pub verbose: bool,
}

/// Marker of the planner's placeholder error for change types not written yet.
pub const NOT_BUILT: &str = "not planned by this build yet";

/// Parameters of a case on a server of `version` (`rows` and `size` as measured).
pub fn params_for(case: &Case, version: &str, rows: u64, size: u64) -> Params {
    let mut p = Params::new()
        .with("db", format!("postgresql@{version}"))
        .with("change", case.change)
        .with("table", "orders")
        .with("rows", rows.to_string())
        .with("size", size.to_string())
        .with("max-downtime", case.budget);
    for (k, v) in &case.params {
        p.set(k, *v);
    }
    p
}

/// Does the planner build this change at all? `Err(message)` for the placeholder.
pub fn built(case: &Case, version: &str, rows: u64) -> Result<(), String> {
    match lockstep_planner::plan(&params_for(case, version, rows, rows * 200)) {
        Err(errors) if errors.iter().any(|e| e.message.contains(NOT_BUILT)) => Err(errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")),
        _ => Ok(()),
    }
}

/// Creates the seeded template database for a id type, once per server.
pub fn ensure_template(cluster: &Cluster, rows: u64, int_id: bool) -> Result<String, String> {
    let name = if int_id {
        "tpl_int_id"
    } else {
        "tpl_bigint_id"
    };
    let mut admin = cluster.connect("postgres")?;
    let exists = text_value(
        &mut admin,
        &format!("SELECT 1 FROM pg_database WHERE datname = {}", lit(name)),
    )?;
    if exists.is_none() {
        exec(&mut admin, &format!("CREATE DATABASE {name}"))?;
        let mut c = cluster.connect(name)?;
        exec(&mut c, &crate::scenarios::seed_sql(rows, int_id))?;
        exec(&mut c, "VACUUM ANALYZE")?;
    }
    Ok(name.to_string())
}

/// Runs one case end to end.
pub fn run_case(cluster: &Cluster, case: &Case, opts: &Options) -> CaseResult {
    let started = Instant::now();
    let mut result = CaseResult::new(case, cluster.major, &cluster.version);
    if let Err(msg) = built(case, &cluster.version, opts.rows) {
        result.status = CaseStatus::NotBuilt(msg);
        return result;
    }
    let db = format!(
        "case_{}_{}",
        case.change.replace('-', "_"),
        case.name.replace('-', "_")
    );
    let outcome = (|| -> Result<(), String> {
        let template = ensure_template(cluster, opts.rows, case.int_id)?;
        let mut admin = cluster.connect("postgres")?;
        exec(&mut admin, &format!("DROP DATABASE IF EXISTS {db}"))?;
        exec(
            &mut admin,
            &format!("CREATE DATABASE {db} TEMPLATE {template}"),
        )?;
        let res = run_in_db(cluster, case, opts, &db, &mut result);
        // Connections of the case are closed by now; the cluster is thrown away anyway.
        let _ = exec(&mut admin, &format!("DROP DATABASE IF EXISTS {db}"));
        res
    })();
    if let Err(e) = outcome {
        if !matches!(result.status, CaseStatus::Refused(_)) {
            result.status = CaseStatus::HarnessError(e);
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    result
}

fn run_in_db(
    cluster: &Cluster,
    case: &Case,
    opts: &Options,
    db: &str,
    result: &mut CaseResult,
) -> Result<(), String> {
    let mut b = cluster.connect(db)?;
    let size: u64 = text_value(&mut b, "SELECT pg_total_relation_size('public.orders')")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rows: u64 = text_value(&mut b, "SELECT count(*) FROM public.orders")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let params = params_for(case, &cluster.version, rows, size);
    let plan = match lockstep_planner::plan(&params) {
        Ok(plan) => plan,
        Err(errors) => {
            let msg = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ");
            result.status = CaseStatus::Refused(msg.clone());
            return Err(msg);
        }
    };
    result.strategy = plan.strategy.chosen.clone();
    result.params = params
        .canonical()
        .iter()
        .map(|(k, v)| format!("--{k} {v}"))
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(want) = case.expect_strategy {
        result.claims.push(Claim::new(
            Kind::Statement,
            "plan",
            "strategy",
            want,
            &plan.strategy.chosen,
            want == plan.strategy.chosen,
        ));
    }

    let target_oid =
        text_value(&mut b, "SELECT 'public.orders'::regclass::oid")?.ok_or("orders has no oid")?;
    let b_pid = text_value(&mut b, "SELECT pg_backend_pid()")?.ok_or("no pid")?;
    let connect = || cluster.connect(db);
    let load = Load::start(
        connect,
        case.stages.clone(),
        rows,
        opts.think,
        &format!("pg{}-{}", cluster.major, case.name),
    )?;
    let mut ex = Exec {
        major: cluster.major,
        case,
        opts,
        b,
        a: cluster.connect(db)?,
        c: cluster.connect(db)?,
        p: cluster.connect(db)?,
        b_pid,
        target_oid,
        load,
        result,
    };
    // Traffic runs before, during and after the migration.
    std::thread::sleep(Duration::from_millis(300));
    let outcome = ex.run_plan(&plan);
    std::thread::sleep(Duration::from_millis(200));
    ex.load.stop();
    if outcome.is_ok() {
        ex.data_claim()?;
    }
    let (ins, upd, reads) = ex.load.counts();
    ex.result.notes.push(format!(
        "traffic during the run: {ins} inserts, {upd} updates, {reads} reads"
    ));
    Ok(())
}

/// Why the rest of a case was not run.
struct Abort;

/// What one unit of a step (one transaction, or one statement outside any) did.
#[derive(Default)]
struct UnitObs {
    /// What B waited for while A held ACCESS EXCLUSIVE on the target: (relation or locktype, mode).
    waited: Option<(String, String, bool)>,
    /// Strongest mode seen per relation (name, is_target): sampled while running, and read by B
    /// itself before COMMIT.
    modes: BTreeMap<String, (bool, Lock)>,
    error: Option<String>,
    seconds: f64,
    /// With the step's transaction still open: (an INSERT's ROW EXCLUSIVE was refused, a SELECT's
    /// ACCESS SHARE was refused).
    held_probe: Option<(bool, bool)>,
    window: Option<(Instant, Instant)>,
}

struct Exec<'a> {
    major: u32,
    case: &'a Case,
    opts: &'a Options,
    b: Client,
    a: Client,
    c: Client,
    p: Client,
    b_pid: String,
    target_oid: String,
    load: Load,
    result: &'a mut CaseResult,
}

fn lock_from_mode(mode: &str) -> Option<Lock> {
    [
        Lock::AccessShare,
        Lock::RowShare,
        Lock::RowExclusive,
        Lock::ShareUpdateExclusive,
        Lock::Share,
        Lock::ShareRowExclusive,
        Lock::Exclusive,
        Lock::AccessExclusive,
    ]
    .into_iter()
    .find(|l| l.pg_locks_mode() == mode)
}

impl Exec<'_> {
    fn claim(
        &mut self,
        kind: Kind,
        place: &str,
        what: &str,
        claimed: &str,
        observed: &str,
        ok: bool,
    ) {
        if self.opts.verbose || !ok {
            eprintln!(
                "  [pg{} {}/{}] {} {} {}: claimed {} / observed {}",
                self.major,
                self.case.change,
                self.case.name,
                if ok { "ok  " } else { "FAIL" },
                place,
                what,
                claimed,
                observed
            );
        }
        self.result
            .claims
            .push(Claim::new(kind, place, what, claimed, observed, ok));
    }

    fn run_plan(&mut self, plan: &Plan) -> Result<(), Abort> {
        let mut stage = 0;
        for (pi, phase) in plan.phases.iter().enumerate() {
            if phase.app_change.is_some() {
                stage += 1;
                self.load.set_stage(stage);
            }
            let pname = format!("phase {} '{}'", pi + 1, phase.name);
            let phase_start = Instant::now();
            if !phase.steps.is_empty() {
                let before = self.schema_dump(&pname)?;
                self.run_steps(&pname, phase)?;
                if phase.irreversible.is_some() {
                    self.result.irreversible += 1;
                } else if phase.rollback.is_empty() {
                    self.claim(
                        Kind::Rollback,
                        &pname,
                        "rollback",
                        "a rollback or an irreversible reason",
                        "neither",
                        false,
                    );
                } else if self.opts.rollback {
                    self.rollback(&pname, phase, &before)?;
                    self.run_steps(&format!("{pname} (re-run after rollback)"), phase)?;
                }
            }
            self.traffic_claim(&pname, phase_start);
            self.run_checks(&pname, phase);
        }
        Ok(())
    }

    /// Errors of the application between the steps of a phase (the deploy gates must keep it working).
    fn traffic_claim(&mut self, pname: &str, from: Instant) {
        let errors = self.load.errors_between(from, Instant::now());
        let ok = errors.is_empty();
        let observed = errors
            .first()
            .map(|e| {
                format!(
                    "{} {} error{} at app stage {}: {} [{}]",
                    errors.len(),
                    e.role.name(),
                    if errors.len() > 1 { "s, first" } else { "" },
                    e.stage,
                    e.message,
                    short(&e.sql, 160)
                )
            })
            .unwrap_or_else(|| "no error".to_string());
        self.claim(
            Kind::Blocking,
            pname,
            "application traffic keeps working through the phase",
            "no error",
            &observed,
            ok,
        );
    }

    fn run_steps(&mut self, pname: &str, phase: &Phase) -> Result<(), Abort> {
        if self.case.inject_failed_build && !pname.contains("re-run") {
            self.inject_failed_build(phase);
        }
        for (si, step) in phase.steps.iter().enumerate() {
            let place = format!("{pname} step {} '{}'", si + 1, step.title);
            self.run_step(&place, step)?;
        }
        Ok(())
    }

    /// Leaves an INVALID index behind: the plan's concurrent build, cancelled by a short
    /// statement_timeout while it waits for an open transaction holding ROW EXCLUSIVE.
    fn inject_failed_build(&mut self, phase: &Phase) {
        let Some(build) = phase
            .steps
            .iter()
            .flat_map(|s| s.sql.iter())
            .find(|s| s.contains("INDEX CONCURRENTLY") && s.starts_with("CREATE"))
        else {
            return;
        };
        let build = build.clone();
        self.load.pause();
        let held = exec(
            &mut self.a,
            "BEGIN; LOCK TABLE public.orders IN ROW EXCLUSIVE MODE",
        );
        let r = exec(&mut self.p, "SET statement_timeout = '300ms'")
            .and_then(|_| exec(&mut self.p, &build));
        let _ = exec(&mut self.a, "ROLLBACK");
        let _ = exec(&mut self.p, "RESET statement_timeout");
        self.load.resume();
        let invalid = text_value(
            &mut self.c,
            "SELECT count(*) FROM pg_index WHERE indrelid = 'public.orders'::regclass AND NOT indisvalid",
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        self.result.notes.push(format!(
            "injected a failed concurrent build ({}; {}): {invalid} INVALID index(es) left",
            held.err().unwrap_or_else(|| "lock held".into()),
            r.err().unwrap_or_else(|| "build did not fail".into())
        ));
    }

    fn target_name(&mut self) -> Option<String> {
        text_value(
            &mut self.c,
            &format!(
                "SELECT c.oid::regclass::text FROM pg_class c WHERE c.oid = {}",
                self.target_oid
            ),
        )
        .ok()
        .flatten()
    }

    fn filenode(&mut self) -> Option<String> {
        text_value(
            &mut self.c,
            &format!("SELECT pg_relation_filenode({}::oid)", self.target_oid),
        )
        .ok()
        .flatten()
    }

    fn run_step(&mut self, place: &str, step: &Step) -> Result<(), Abort> {
        // Settings exactly as the runbook sets them before the step.
        let mut settings = "RESET ALL; ".to_string();
        settings.push_str(&render::settings(step).join(" "));
        if let Err(e) = exec(&mut self.b, &settings) {
            self.claim(Kind::Statement, place, "settings", "accepted", &e, false);
            return Err(Abort);
        }
        if let Some(guard) = &step.only_if {
            match text_value(&mut self.b, guard) {
                Ok(Some(v)) if v == "f" => {
                    self.result.guard_skips += 1;
                    self.claim(
                        Kind::Statement,
                        place,
                        "only_if guard",
                        "a boolean",
                        "f: step skipped",
                        true,
                    );
                    return Ok(());
                }
                Ok(Some(v)) if v == "t" => {
                    self.claim(
                        Kind::Statement,
                        place,
                        "only_if guard",
                        "a boolean",
                        "t: step runs",
                        true,
                    );
                }
                other => {
                    let observed = format!("{other:?}");
                    self.claim(
                        Kind::Statement,
                        place,
                        "only_if guard",
                        "a boolean",
                        &observed,
                        false,
                    );
                    return Err(Abort);
                }
            }
        }
        let units: Vec<Vec<String>> = if step.in_transaction {
            vec![step.sql.clone()]
        } else {
            step.sql
                .iter()
                .flat_map(|s| split_statements(s))
                .map(|s| vec![s])
                .collect()
        };
        let filenode_before = self.filenode();
        let mut obs_all: Vec<UnitObs> = Vec::new();
        let mut failed = None;
        for unit in &units {
            let obs = self.run_unit(unit, step.in_transaction);
            let err = obs.error.clone();
            obs_all.push(obs);
            if let Some(e) = err {
                failed = Some(e);
                break;
            }
        }
        let seconds: f64 = obs_all.iter().map(|o| o.seconds).sum();
        // 1. statements
        match &failed {
            Some(e) => {
                let sqls = units
                    .iter()
                    .flatten()
                    .map(|s| short(s, 200))
                    .collect::<Vec<_>>()
                    .join(" ");
                self.claim(
                    Kind::Statement,
                    place,
                    "runs without error",
                    "no error",
                    &format!("{e} [{sqls}]"),
                    false,
                );
                return Err(Abort);
            }
            None => self.claim(
                Kind::Statement,
                place,
                "runs without error",
                "no error",
                &format!(
                    "{} statement(s) {} in {:.3}s",
                    units.iter().map(Vec::len).sum::<usize>(),
                    if step.in_transaction {
                        "in one transaction"
                    } else {
                        "each on its own"
                    },
                    seconds
                ),
                true,
            ),
        }
        self.result.calibration.push(Calibration {
            place: place.to_string(),
            low: step.estimate.low,
            high: step.estimate.high,
            measured: seconds,
        });

        // 2. lock on the target table (strongest mode requested), and on other tables.
        let mut target: Option<Lock> = None;
        let mut others: BTreeMap<String, Lock> = BTreeMap::new();
        let mut waited = Vec::new();
        for o in &obs_all {
            if let Some((rel, mode, is_target)) = &o.waited {
                waited.push(format!("{mode} on {rel}"));
                if *is_target {
                    if let Some(l) = lock_from_mode(mode) {
                        target = target.max(Some(l));
                    }
                }
            }
            for (rel, (is_target, l)) in &o.modes {
                if *is_target {
                    target = target.max(Some(*l));
                } else {
                    let e = others.entry(rel.clone()).or_insert(*l);
                    *e = (*e).max(*l);
                }
            }
        }
        let observed = format!(
            "{}{}{}",
            target.map_or("no lock on the table".to_string(), |l| l.name().to_string()),
            if waited.is_empty() {
                String::new()
            } else {
                format!(" (waited for {})", waited.join(", "))
            },
            if others.is_empty() {
                String::new()
            } else {
                format!(
                    "; other tables: {}",
                    others
                        .iter()
                        .map(|(r, l)| format!("{r} {}", l.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        match step.lock {
            Some(claimed) => {
                let ok = target == Some(claimed);
                self.claim(
                    Kind::Lock,
                    place,
                    "lock on the table",
                    claimed.name(),
                    &observed,
                    ok,
                );
            }
            None => {
                let ok = target.is_none_or(|l| l <= Lock::RowExclusive);
                self.claim(
                    Kind::Lock,
                    place,
                    "lock on the table",
                    "none beyond ROW EXCLUSIVE (lock: None)",
                    &observed,
                    ok,
                );
            }
        }
        if !others.is_empty() {
            self.result.other_locks.push(format!("{place}: {observed}"));
        }

        // 3. rewrite
        let filenode_after = self.filenode();
        let rewritten = filenode_before != filenode_after;
        self.claim(
            Kind::Rewrite,
            place,
            "rewrites the table",
            if step.rewrites_table {
                "rewrite"
            } else {
                "no rewrite"
            },
            &format!(
                "{} (filenode {} -> {})",
                if rewritten { "rewrite" } else { "no rewrite" },
                filenode_before.as_deref().unwrap_or("none"),
                filenode_after.as_deref().unwrap_or("none")
            ),
            rewritten == step.rewrites_table,
        );

        // 4. blocking
        let mut writer = Duration::ZERO;
        let mut reader = Duration::ZERO;
        let mut errors = Vec::new();
        for o in &obs_all {
            if let Some((from, to)) = o.window {
                writer = writer.max(self.load.max_stall(Role::Writer, from, to));
                reader = reader.max(self.load.max_stall(Role::Reader, from, to));
                errors.extend(
                    self.load
                        .errors_between(from, to + Duration::from_millis(500)),
                );
            }
        }
        let stalls = format!(
            "longest stall: writer {} ms, reader {} ms",
            writer.as_millis(),
            reader.as_millis()
        );
        let held: Vec<(bool, bool)> = obs_all.iter().filter_map(|o| o.held_probe).collect();
        let held_text = held
            .first()
            .map(|(w, r)| {
                format!(
                    "; with the step's transaction open, an INSERT's ROW EXCLUSIVE was {} and a SELECT's ACCESS SHARE was {}",
                    if *w { "refused" } else { "granted" },
                    if *r { "refused" } else { "granted" }
                )
            })
            .unwrap_or_default();
        let err_text = errors
            .first()
            .map(|e| {
                format!(
                    "; {} {} error(s), first: {}",
                    errors.len(),
                    e.role.name(),
                    e.message
                )
            })
            .unwrap_or_default();
        let threshold = self.opts.stall_threshold;
        let (ok, claimed) = match step.blocks {
            Blocks::Nothing => (
                writer < threshold
                    && reader < threshold
                    && errors.is_empty()
                    && held.iter().all(|(w, r)| !w && !r),
                format!("blocks nothing (stalls < {} ms)", threshold.as_millis()),
            ),
            Blocks::Writes => (
                errors.is_empty() && held.iter().all(|(w, r)| *w && !r),
                "blocks writes, reads continue".to_string(),
            ),
            Blocks::ReadsAndWrites => (
                errors.is_empty() && held.iter().all(|(w, r)| *w && *r),
                "blocks reads and writes".to_string(),
            ),
        };
        let basis = if held.is_empty() && step.blocks != Blocks::Nothing {
            "; outside a transaction block nothing can be held open: judged by the lock mode above"
        } else {
            ""
        };
        self.claim(
            Kind::Blocking,
            place,
            "what it blocks",
            &claimed,
            &format!("{stalls}{held_text}{err_text}{basis}"),
            ok,
        );
        Ok(())
    }

    /// Runs one unit on B with the lock probe around it.
    fn run_unit(&mut self, unit: &[String], in_transaction: bool) -> UnitObs {
        let mut obs = UnitObs::default();
        let target_name = self.target_name();
        // Pause traffic so that A's lock queues nobody but B, then hold ACCESS EXCLUSIVE.
        self.load.pause();
        let holding = match &target_name {
            Some(t) => exec(
                &mut self.a,
                &format!("BEGIN; SET LOCAL lock_timeout = '30s'; LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE"),
            )
            .is_ok(),
            None => false,
        };
        if !holding && target_name.is_some() {
            let _ = exec(&mut self.a, "ROLLBACK");
        }
        let done = AtomicBool::new(false);
        let (held_tx, held_rx) = mpsc::channel::<BTreeMap<String, (bool, Lock)>>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let b = &mut self.b;
        let target_oid = self.target_oid.clone();
        let lock_query = locks_sql(&self.b_pid, true);
        let own_query = locks_sql("pg_backend_pid()", false);
        let done = &done;
        let runner_oid = target_oid.clone();
        let stmts = unit;
        std::thread::scope(|s| {
            let runner = s.spawn(move || {
                let target_oid = runner_oid;
                let start = Instant::now();
                let r = (|| -> Result<(), String> {
                    if in_transaction {
                        exec(b, "BEGIN")?;
                        for stmt in stmts {
                            if let Err(e) = exec(b, stmt) {
                                let _ = exec(b, "ROLLBACK");
                                return Err(e);
                            }
                        }
                        let own = text_rows(b, &own_query).unwrap_or_default();
                        let _ = held_tx.send(parse_modes(&own, &target_oid));
                        let _ = go_rx.recv_timeout(Duration::from_secs(60));
                        exec(b, "COMMIT")
                    } else {
                        exec(b, &stmts[0])
                    }
                })();
                done.store(true, Ordering::SeqCst);
                (r, start.elapsed().as_secs_f64())
            });

            // Phase 1: while A holds the table, find what B waits for.
            let wait_deadline = Instant::now() + Duration::from_secs(3);
            if holding {
                while !done.load(Ordering::SeqCst) && Instant::now() < wait_deadline {
                    if let Ok(rows) = text_rows(&mut self.c, &lock_query) {
                        if let Some(w) = rows.iter().find(|r| r[4].as_deref() == Some("f")) {
                            obs.waited = Some((
                                w[1].clone().unwrap_or_default(),
                                w[3].clone().unwrap_or_default(),
                                w[2].as_deref() == Some(target_oid.as_str()),
                            ));
                            break;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                let _ = exec(&mut self.a, "COMMIT");
            }
            let window_start = Instant::now();
            self.load.resume();

            // Phase 2: sample what B holds while it runs; probe while its transaction is open.
            loop {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(held) = held_rx.try_recv() {
                    merge(&mut obs.modes, held);
                    if let Some(t) = &target_name {
                        let w = refused(&mut self.p, t, "ROW EXCLUSIVE");
                        let r = refused(&mut self.p, t, "ACCESS SHARE");
                        obs.held_probe = Some((w, r));
                    }
                    let _ = go_tx.send(());
                    continue;
                }
                if let Ok(rows) = text_rows(&mut self.c, &lock_query) {
                    let granted: Vec<_> = rows
                        .into_iter()
                        .filter(|r| r[4].as_deref() == Some("t"))
                        .collect();
                    merge(&mut obs.modes, parse_modes(&granted, &target_oid));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let (r, secs) = runner
                .join()
                .unwrap_or((Err("runner thread died".into()), 0.0));
            obs.error = r.err();
            obs.seconds = secs;
            obs.window = Some((window_start, Instant::now()));
        });
        // Let operations queued during the window finish, so their stall is counted.
        self.load.settle(
            obs.window.map(|w| w.1).unwrap_or_else(Instant::now),
            Duration::from_secs(10),
        );
        obs
    }

    fn rollback(&mut self, pname: &str, phase: &Phase, before: &str) -> Result<(), Abort> {
        let _ = exec(&mut self.b, "RESET ALL");
        for rb in &phase.rollback {
            for stmt in split_statements(&rb.sql) {
                if let Err(e) = exec(&mut self.b, &stmt) {
                    self.claim(
                        Kind::Rollback,
                        pname,
                        "rollback runs without error",
                        "no error",
                        &format!("{e} [{}]", short(&stmt, 200)),
                        false,
                    );
                    return Err(Abort);
                }
            }
        }
        let after = self.schema_dump(pname)?;
        let (ok, observed) = if after == before {
            (
                true,
                "schema identical to the one before the phase".to_string(),
            )
        } else {
            let b: Vec<&str> = before.lines().collect();
            let a: Vec<&str> = after.lines().collect();
            let missing: Vec<&str> = b.iter().filter(|l| !a.contains(l)).copied().collect();
            let extra: Vec<&str> = a.iter().filter(|l| !b.contains(l)).copied().collect();
            (
                false,
                format!("missing after rollback: {missing:?}; extra after rollback: {extra:?}"),
            )
        };
        self.claim(
            Kind::Rollback,
            pname,
            "rollback restores the schema before the phase",
            "identical schema",
            &observed,
            ok,
        );
        Ok(())
    }

    /// Tables, columns (sorted by name: position is not compared), types, nullability,
    /// defaults, indexes, constraints, triggers, views and functions of schema `public`.
    fn schema_dump(&mut self, pname: &str) -> Result<String, Abort> {
        match text_value(&mut self.c, SCHEMA_DUMP_SQL) {
            Ok(v) => Ok(v.unwrap_or_default()),
            Err(e) => {
                self.claim(Kind::Rollback, pname, "schema dump", "readable", &e, false);
                Err(Abort)
            }
        }
    }

    fn run_checks(&mut self, pname: &str, phase: &Phase) {
        for check in &phase.checks {
            let place = format!("{pname} check '{}'", check.description);
            let want = match &check.expected {
                Expected::Manual => {
                    self.result.manual_checks += 1;
                    continue;
                }
                Expected::NoRows => Vec::new(),
                Expected::Rows(rows) => rows.clone(),
            };
            let observed = match text_rows(&mut self.c, &check.sql) {
                Ok(rows) => rows
                    .into_iter()
                    .map(|r| {
                        r.into_iter()
                            .map(|v| v.unwrap_or_default())
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>(),
                Err(e) => {
                    self.claim(
                        Kind::Check,
                        &place,
                        "query",
                        &format!("{want:?}"),
                        &e,
                        false,
                    );
                    continue;
                }
            };
            let ok = observed == want;
            self.claim(
                Kind::Check,
                &place,
                "returns",
                &format!("{want:?}"),
                &format!("{observed:?}"),
                ok,
            );
        }
    }

    /// After the plan: the migrated shape holds exactly what the application wrote.
    fn data_claim(&mut self) -> Result<(), String> {
        let d: &DataCheck = &self.case.data;
        let new_sql = DataCheck::sql(&d.from, &d.cols);
        let truth_sql = DataCheck::sql("verify.truth", &d.truth);
        let new = text_value(&mut self.c, &new_sql);
        let truth = text_value(&mut self.c, &truth_sql)?.unwrap_or_default();
        let (observed, ok) = match new {
            Ok(v) => {
                let v = v.unwrap_or_default();
                let ok = v == truth;
                (v, ok)
            }
            Err(e) => (format!("{e} [{}]", short(&new_sql, 200)), false),
        };
        self.claim(
            Kind::Data,
            "after the last phase",
            &format!(
                "every row written before and during the migration, in the new shape ({})",
                d.cols.join(", ")
            ),
            &truth,
            &observed,
            ok,
        );
        Ok(())
    }
}

/// B's relation locks: (relname, relation oid, mode, granted) — from C by pid, or from B itself.
fn locks_sql(pid: &str, with_waits: bool) -> String {
    format!(
        "SELECT l.locktype, coalesce(c.relname, l.locktype || ' ' || coalesce(l.relation::text, '')), l.relation::text, l.mode, CASE WHEN l.granted THEN 't' ELSE 'f' END, c.relkind::text \
         FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation \
         WHERE l.pid = {pid} AND (l.locktype = 'relation' {waits})",
        waits = if with_waits { "OR NOT l.granted" } else { "" }
    )
}

/// Strongest mode per table (relkind r/p) from rows of [`locks_sql`], marking the target.
fn parse_modes(rows: &[Vec<Option<String>>], target_oid: &str) -> BTreeMap<String, (bool, Lock)> {
    let mut out = BTreeMap::new();
    for r in rows {
        let relkind = r.get(5).cloned().flatten().unwrap_or_default();
        if r[0].as_deref() != Some("relation") || !(relkind == "r" || relkind == "p") {
            continue;
        }
        let name = r[1].clone().unwrap_or_default();
        if name.starts_with("pg_") {
            continue;
        }
        let Some(l) = r[3].as_deref().and_then(lock_from_mode) else {
            continue;
        };
        let oid = r[2].clone().unwrap_or_default();
        let e = out.entry(name).or_insert((oid == target_oid, l));
        e.1 = e.1.max(l);
    }
    out
}

fn merge(into: &mut BTreeMap<String, (bool, Lock)>, from: BTreeMap<String, (bool, Lock)>) {
    for (k, (t, l)) in from {
        let e = into.entry(k).or_insert((t, l));
        e.1 = e.1.max(l);
    }
}

/// True when `LOCK TABLE t IN <mode> MODE` is refused within 100 ms (lock timeout).
fn refused(p: &mut Client, table: &str, mode: &str) -> bool {
    let r = exec(
        p,
        &format!("BEGIN; SET LOCAL lock_timeout = '100ms'; LOCK TABLE {table} IN {mode} MODE"),
    );
    let _ = exec(p, "ROLLBACK");
    match r {
        Ok(()) => false,
        Err(e) => sqlstate(&e) == Some("55P03") || !e.is_empty(),
    }
}

fn short(s: &str, n: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}

pub const SCHEMA_DUMP_SQL: &str = "SELECT string_agg(line, E'\\n' ORDER BY line) FROM (
  SELECT 'relation ' || c.relname || ' kind ' || c.relkind::text AS line
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  UNION ALL
  SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
         || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid) || CASE WHEN i.indisvalid THEN '' ELSE ' INVALID' END
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public'
  UNION ALL
  SELECT 'constraint ' || c.relname || ' ' || co.conname || ' ' || pg_get_constraintdef(co.oid)
         || CASE WHEN co.convalidated THEN '' ELSE ' NOT VALIDATED' END
    FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public'
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND NOT t.tgisinternal
  UNION ALL
  SELECT 'view ' || c.relname || ' ' || pg_get_viewdef(c.oid)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(p.prosrc)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'public'
) s";
