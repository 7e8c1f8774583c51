//! Runs one case on one server: seed, plan, execute every phase step by step under concurrent
//! traffic, and check each claim of the plan against what the server does.
//!
//! Sessions: `B` runs the steps; `A` holds a conflicting lock so that `B`'s lock request becomes
//! visible (waiting) in `pg_locks`; `C` observes `pg_locks`; `P` probes, while an
//! in-transaction step still holds its locks, whether an INSERT's or a SELECT's lock would be
//! granted. The writer and reader ([`crate::load`]) run on their own connections throughout.

use crate::cluster::Cluster;
use crate::load::{Load, Role};
use crate::lockwaits::{self, Evidence, ROW_WAIT_LIMIT_MS};
use crate::queue;
use crate::report::{Calibration, CaseResult, CaseStatus, Claim, Kind};
use crate::scenarios::{Case, DataCheck};
use crate::script;
use crate::sql::{exec, lit, split_statements, sqlstate, text_rows, text_value};
use crate::walk::{self, PlanRunner};
use lockstep_planner::model::{Blocks, PgLock, Phase, Plan, Run, Step};
use lockstep_planner::render;
use lockstep_planner::{FieldError, Params};
use postgres::Client;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};
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
    /// A step (or a repeated batch) still running after this long is cancelled and fails.
    pub step_timeout: Duration,
}

/// Parameters of a case on a server of `version` (`rows` and `size` as measured).
pub fn params_for(case: &Case, version: &str, rows: u64, size: u64) -> Params {
    let mut p = Params::new()
        .with("db", format!("postgresql@{version}"))
        .with("change", case.change)
        .with("table", "orders")
        .with("rows", rows.to_string())
        .with("size", format!("{size}B"))
        .with("max-downtime", case.budget);
    for (k, v) in &case.params {
        p.set(k, *v);
    }
    p
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
        let seeded = cluster.connect(name).and_then(|mut c| {
            exec(&mut c, &crate::scenarios::seed_sql(rows, int_id))?;
            exec(&mut c, "VACUUM ANALYZE")
        });
        if let Err(e) = seeded {
            // Never leave a half-seeded template behind for the next case.
            let _ = exec(&mut admin, &format!("DROP DATABASE IF EXISTS {name}"));
            return Err(format!("seeding {rows} rows: {e}"));
        }
    }
    Ok(name.to_string())
}

/// Runs one case end to end.
pub fn run_case(cluster: &Cluster, case: &Case, opts: &Options) -> CaseResult {
    let started = Instant::now();
    let mut result = CaseResult::new(case, cluster.major, &cluster.version);
    let db = format!(
        "case_{}_{}",
        case.change.replace('-', "_"),
        case.name.replace('-', "_")
    );
    let outcome = (|| -> Result<(), String> {
        let template = ensure_template(cluster, opts.rows, case.int_id)?;
        let mut admin = cluster.fresh_database(&db, &template)?;
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
    let stop = case.stop.as_ref().filter(|s| s.applies(cluster.major));
    if !case.setup.is_empty() {
        exec(&mut b, case.setup).map_err(|e| format!("the case's set-up: {e}"))?;
    }
    let size: u64 = text_value(&mut b, "SELECT pg_total_relation_size('public.orders')")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rows: u64 = text_value(&mut b, "SELECT count(*) FROM public.orders")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut plan = plan_case(params_for(case, &cluster.version, rows, size), case, result)?;
    let relabelled = if case.control {
        walk::relabel_blocking_steps(&mut plan)
    } else {
        Vec::new()
    };
    if case.control && relabelled.is_empty() {
        return Err("control case: the plan has no blocking step to relabel".to_string());
    }

    let target_oid =
        text_value(&mut b, "SELECT 'public.orders'::regclass::oid")?.ok_or("orders has no oid")?;
    let b_pid = text_value(&mut b, "SELECT pg_backend_pid()")?.ok_or("no pid")?;
    let connect = || cluster.connect_load(db);
    let load = Load::start(
        connect,
        case.stages.clone(),
        rows,
        opts.think,
        &format!("pg{}-{}", cluster.major, case.name),
    )?;
    let mut ex = Exec {
        major: cluster.major,
        cluster,
        db,
        relabelled,
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
        never_ended: false,
        queued_kinds: Default::default(),
        lock_wait_seen: false,
    };
    // Traffic runs before, during and after the migration.
    std::thread::sleep(Duration::from_millis(300));
    let outcome = walk::run_plan(&mut ex, &plan);
    std::thread::sleep(Duration::from_millis(200));
    ex.load.stop();
    if outcome.is_ok() {
        ex.data_claim()?;
    }
    let (ins, upd, reads) = ex.load.counts();
    ex.result.notes.push(format!(
        "traffic during the run: {ins} inserts, {upd} updates, {reads} reads"
    ));
    if stop.is_some() {
        result.notes.push("forward.sql not run whole: the case stops at a preflight check, which the step-by-step run proved returns what stops the script".to_string());
        return Ok(());
    }
    let template = ensure_template(cluster, opts.rows, case.int_id)?;
    script::forward_script_claims(
        cluster,
        &plan,
        crate::scenarios::violation(case),
        &format!("{db}_script"),
        (&template, case.setup),
        result,
    );
    Ok(())
}

/// Plans a case from its parameters (the engine's `params_for`: server version, seeded
/// size). A zero budget the planner cannot meet on this version must be refused on
/// max-downtime naming the budget that works: the plan at that budget is then verified (and
/// the refusal recorded). Records the strategy and the flags. Shared by both engines.
pub fn plan_case(mut params: Params, case: &Case, result: &mut CaseResult) -> Result<Plan, String> {
    let mut planned = lockstep_planner::plan(&params);
    // A zero budget the planner cannot meet on this version: it must say so on max-downtime
    // and name the budget that works; the plan at that budget is then verified.
    if let Err(errors) = &planned {
        if let Some(e) = errors.iter().find(|e| e.field == "max-downtime") {
            if let Some(budget) = suggested_budget(e) {
                result.notes.push(format!(
                    "refused at max-downtime {}: {}; verified the plan at max-downtime {budget} instead",
                    case.budget, e.message
                ));
                result.refusals.push(e.message.clone());
                params.set("max-downtime", budget);
                planned = lockstep_planner::plan(&params);
            }
        }
    }
    let plan = match planned {
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
    Ok(plan)
}

/// The budget to verify at after a max-downtime refusal: the shortest budget it names
/// ([`FieldError::min_budget_ms`], typed; never its message) with 5 % and 1 ms to spare.
pub fn suggested_budget(e: &FieldError) -> Option<String> {
    let ms = e.min_budget_ms? as f64;
    Some(format!("{}ms", (ms * 1.05).ceil() as u64 + 1))
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
    modes: BTreeMap<String, (bool, PgLock)>,
    error: Option<String>,
    seconds: f64,
    /// With the step's transaction still open: (an INSERT's ROW EXCLUSIVE was refused, a SELECT's
    /// ACCESS SHARE was refused).
    held_probe: Option<(bool, bool)>,
    window: Option<(Instant, Instant)>,
    /// Rows the last statement returned, in text form.
    rows: Vec<Vec<Option<String>>>,
}

struct Exec<'a> {
    major: u32,
    cluster: &'a Cluster,
    /// The case's database: its name tells the load's lock waits in the server log apart.
    db: &'a str,
    /// Titles of the steps the control case relabelled "blocks nothing" ([`Case::control`]).
    relabelled: Vec<String>,
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
    /// A step of this case already ran into the step timeout: the same never-ending loop on
    /// a re-run is cut after 10 s (the failure is recorded once at full length).
    never_ended: bool,
    /// Lock modes whose queue claim ([`crate::queue`]) this case has checked: one blocked
    /// attempt per kind of blocking step is enough, and keeps the run short.
    queued_kinds: std::collections::BTreeSet<PgLock>,
    /// The server log showed the load waiting for a table lock during the step last judged
    /// for what it blocks ([`PlanRunner::lock_wait_seen`]).
    lock_wait_seen: bool,
}

fn lock_from_mode(mode: &str) -> Option<PgLock> {
    [
        PgLock::AccessShare,
        PgLock::RowShare,
        PgLock::RowExclusive,
        PgLock::ShareUpdateExclusive,
        PgLock::Share,
        PgLock::ShareRowExclusive,
        PgLock::Exclusive,
        PgLock::AccessExclusive,
    ]
    .into_iter()
    .find(|l| l.pg_locks_mode() == mode)
}

impl PlanRunner for Exec<'_> {
    type Abort = Abort;
    fn lock_wait_seen(&self) -> bool {
        self.lock_wait_seen
    }

    fn label(&self) -> String {
        format!("pg{} {}/{}", self.major, self.case.change, self.case.name)
    }

    fn verbose(&self) -> bool {
        self.opts.verbose
    }

    fn relabelled(&self) -> &[String] {
        &self.relabelled
    }

    fn stop(&self) -> Option<&crate::scenarios::Stop> {
        self.case.stop.as_ref().filter(|s| s.applies(self.major))
    }

    fn check_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, String> {
        Ok(text_rows(&mut self.c, sql)?
            .into_iter()
            .map(|r| r.into_iter().map(|v| v.unwrap_or_default()).collect())
            .collect())
    }

    fn result(&mut self) -> &mut CaseResult {
        self.result
    }

    fn rollbacks(&self) -> bool {
        self.opts.rollback
    }

    fn deploy(&mut self, stage: usize, _pname: &str) {
        self.load.set_stage(stage);
    }

    /// Tables, columns (sorted by name: position is not compared), types, nullability,
    /// defaults, indexes, constraints, triggers, views and functions of schema `public`.
    fn dump_schema(&mut self, pname: &str) -> Result<String, Abort> {
        match text_value(&mut self.c, SCHEMA_DUMP_SQL) {
            Ok(v) => Ok(v.unwrap_or_default()),
            Err(e) => {
                self.claim(Kind::Rollback, pname, "schema dump", "readable", &e, false);
                Err(Abort)
            }
        }
    }

    fn steps(&mut self, pname: &str, phase: &Phase) -> Result<(), Abort> {
        if self.case.inject_failed_build && !pname.contains("re-run") {
            self.inject_failed_build(phase);
        }
        for (si, step) in phase.steps.iter().enumerate() {
            let place = format!("{pname} step {} '{}'", si + 1, step.title);
            self.run_step(&place, step)?;
        }
        Ok(())
    }

    /// Runs the phase's rollback and compares the schema with the one before the phase.
    /// Returns the index of the phase whose starting schema the rollback restored (the phase
    /// itself, or an earlier one when the rollback undoes more, as its `also_undoes` says).
    fn roll_back(
        &mut self,
        pname: &str,
        phase: &Phase,
        dumps: &[(usize, String)],
    ) -> Result<usize, Abort> {
        let pi = dumps.last().map_or(0, |(i, _)| *i);
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
        let after = self.dump_schema(pname)?;
        let (ok, observed, back_to) =
            walk::judge_rollback(phase, dumps, &after).unwrap_or_else(|| {
                let (_, target) = walk::rollback_target(phase, dumps);
                (false, walk::schema_difference(&target, &after), pi)
            });
        self.claim(
            Kind::Rollback,
            pname,
            "rollback restores the schema before the phase",
            "identical schema",
            &observed,
            ok,
        );
        Ok(back_to)
    }

    /// Errors of the application between the steps of a phase (the deploy gates must keep it working).
    fn traffic(&mut self, pname: &str, from: Instant) {
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
}

impl Exec<'_> {
    /// The step's worst case behind a long transaction ([`crate::queue`]): it must give up
    /// after its lock_timeout, and the traffic queued behind it must wait no longer than the
    /// plan's `blocking_seconds.high`. The load keeps running; the attempt is rolled back.
    fn queue_claim(&mut self, place: &str, step: &Step, lock: PgLock) {
        let tables: Vec<String> = self.targets().into_iter().map(|t| t.1).collect();
        if tables.is_empty() {
            return;
        }
        let sessions = queue::Sessions {
            a: &mut self.a,
            b: &mut self.b,
            c: &mut self.c,
            p: &mut self.p,
            b_pid: &self.b_pid,
        };
        let (mut attempt, from, to) = match queue::pg_attempt(sessions, &tables, step, lock) {
            Ok(done) => done,
            Err(e) => {
                self.result
                    .notes
                    .push(format!("{place}: no blocked attempt ({e})"));
                return;
            }
        };
        if attempt.error.is_none() {
            // Its statements took no conflicting lock this time (a block that finds nothing
            // to do): nothing queued. The lock claim of the real run judges the lock.
            self.queued_kinds.remove(&lock);
            self.result.notes.push(format!(
                "{place}: the blocked attempt took no conflicting lock (nothing to do); checked on a later step of this kind"
            ));
            return;
        }
        self.load.settle(to, Duration::from_secs(10));
        let waits = lockwaits::load_waits(&self.cluster.log(), self.db, &[(from, to)]);
        attempt.load_ms = waits
            .iter()
            .filter(|w| w.on_table)
            .filter_map(|w| w.waited_ms)
            .fold(0.0, f64::max);
        let gave_up = queue::pg_gave_up(attempt.error.as_deref());
        let (ok, claimed, observed) = queue::judge(step, &attempt, gave_up);
        let stalls = format!(
            " (server log: {} ended table-lock wait(s) of the load over 100 ms; longest stall: writer {} ms, reader {} ms)",
            waits.iter().filter(|w| w.on_table && w.waited_ms.is_some()).count(),
            self.load.max_stall(Role::Writer, from, to).as_millis(),
            self.load.max_stall(Role::Reader, from, to).as_millis()
        );
        self.claim(
            Kind::Blocking,
            place,
            &format!(
                "behind a transaction holding {} for longer than the lock timeout",
                queue::blocker_mode(lock)
            ),
            &claimed,
            &format!("{observed}{stalls}"),
            ok,
        );
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

    /// The relations a step's lock claim is about, as (oid, name, relkind): the seeded table
    /// (by oid, so it is followed through renames) and whatever now answers to the plan's table
    /// name when that is another relation (the compatibility view of a rename).
    fn targets(&mut self) -> Vec<(String, String, String)> {
        text_rows(
            &mut self.c,
            &format!(
                "SELECT c.oid::text, c.oid::regclass::text, c.relkind::text FROM pg_class c \
                 WHERE c.oid = {} OR c.oid = to_regclass('public.orders') ORDER BY c.relkind = 'r' DESC",
                self.target_oid
            ),
        )
        .unwrap_or_default()
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter().map(Option::unwrap_or_default);
            (
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
                it.next().unwrap_or_default(),
            )
        })
        .collect()
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
        if let Some(lock) = queue::pg_kind(step) {
            if self.queued_kinds.insert(lock) {
                self.queue_claim(place, step, lock);
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
        let mut failed: Option<String> = None;
        for unit in &units {
            let mut obs = self.run_unit(unit, step.in_transaction, true);
            if obs.waited.is_some() && obs.error.as_deref().and_then(sqlstate) == Some("55P03") {
                // The step's own lock_timeout ran out while the probe held the table (a slow
                // observer on a loaded machine): that is the probe's doing, not the plan's.
                // The statement changed nothing; run it again without the probe.
                self.result.notes.push(format!(
                    "{place}: lock timeout while the lock probe held the table; re-run without the probe"
                ));
                let waited = obs.waited.take();
                obs = self.run_unit(unit, step.in_transaction, false);
                obs.waited = waited;
            }
            let err = obs.error.clone();
            obs_all.push(obs);
            if let Some(e) = err {
                failed = Some(e);
                break;
            }
        }
        // A query that writes the statements to run (psql `\gexec`): run each row it returned
        // on its own, outside a transaction, observed like any other statement of the step.
        let mut generated = 0;
        if is_generator(step) && failed.is_none() {
            let statements: Vec<String> = obs_all
                .last()
                .map(|o| {
                    o.rows
                        .iter()
                        .filter_map(|r| r.first().cloned().flatten())
                        .flat_map(|sql| split_statements(&sql))
                        .collect()
                })
                .unwrap_or_default();
            for stmt in statements {
                generated += 1;
                let obs = self.run_unit(std::slice::from_ref(&stmt), false, true);
                let err = obs.error.clone();
                obs_all.push(obs);
                if let Some(e) = err {
                    failed = Some(format!("{e} [generated statement: {}]", short(&stmt, 200)));
                    break;
                }
            }
        }
        // "Repeat until it returns no row" (one batch per run, PostgreSQL 10): loop it as the
        // runbook says, pausing between batches; the traffic keeps running.
        let repeat = is_repeated_batch(step);
        let mut batches = 1;
        if repeat && failed.is_none() && obs_all.last().is_some_and(|o| !batch_finished(&o.rows)) {
            let from = Instant::now();
            loop {
                std::thread::sleep(Duration::from_millis(50));
                let t = Instant::now();
                let r = self.run_plain(&units[0], step.in_transaction);
                batches += 1;
                if let Some(o) = obs_all.last_mut() {
                    o.seconds += t.elapsed().as_secs_f64();
                }
                match r {
                    Ok(rows) if batch_finished(&rows) => break,
                    Ok(_) if from.elapsed() < self.step_timeout() => {}
                    Ok(_) => {
                        failed = Some(format!(
                            "the batch still returned rows after {batches} runs and {} s (it never reaches the end while rows are being inserted)",
                            from.elapsed().as_secs()
                        ));
                        break;
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let to = Instant::now();
            self.load.settle(to, Duration::from_secs(10));
            obs_all.push(UnitObs {
                window: Some((from, to)),
                ..UnitObs::default()
            });
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
                // A batch loop that never ends (it keeps finding rows inserted meanwhile) has
                // done its work on the rows that existed: go on, so the rest of the plan is
                // still verified. Any other error ends the case.
                if !(e.contains("did not finish within") || e.contains("still returned rows after"))
                {
                    return Err(Abort);
                }
                self.result.notes.push(format!(
                    "{place}: stopped by the verifier after {} s and continued with the next step",
                    self.step_timeout().as_secs()
                ));
                self.never_ended = true;
            }
            None => self.claim(
                Kind::Statement,
                place,
                "runs without error",
                "no error",
                &format!(
                    "{} statement(s) {} in {:.3}s{}",
                    units.iter().map(Vec::len).sum::<usize>(),
                    if step.in_transaction {
                        "in one transaction"
                    } else {
                        "each on its own"
                    },
                    seconds,
                    if repeat {
                        format!(", repeated {batches} times until it returned no row")
                    } else if is_generator(step) {
                        format!(", then the {generated} statement(s) it generated (\\gexec)")
                    } else {
                        String::new()
                    }
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
        let mut target: Option<PgLock> = None;
        let mut others: BTreeMap<String, PgLock> = BTreeMap::new();
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
        match step.pg_lock() {
            Some(claimed) => {
                // A generator's claim is the lock of the statements it writes; when it wrote
                // none (nothing to copy), only the query ran and no DDL lock may appear.
                let nothing_generated = is_generator(step) && generated == 0;
                let ok = target == Some(claimed)
                    || (nothing_generated && target.is_none_or(|l| l <= PgLock::RowExclusive));
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
                let ok = target.is_none_or(|l| l <= PgLock::RowExclusive);
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
        // Listed in the report: locks on the user's other tables (the plan's own helper tables,
        // named lockstep_*, are left out).
        if others.keys().any(|r| !r.contains("lockstep")) {
            self.result.other_locks.push(format!("{place}: {observed}"));
        }

        // 3. rewrite
        let filenode_after = self.filenode();
        // A relation that is gone afterwards (DROP TABLE) was dropped, not rewritten.
        let rewritten = filenode_after.is_some() && filenode_before != filenode_after;
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
        let windows: Vec<(Instant, Instant)> = obs_all.iter().filter_map(|o| o.window).collect();
        let waits = lockwaits::load_waits(&self.cluster.log(), self.db, &windows);
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
        let stalled = writer >= threshold || reader >= threshold;
        let evidence = Evidence::of(&waits);
        let row_wait = evidence.longest_row_wait();
        let mut wait_text = String::new();
        if let Some(w) = evidence.table.first() {
            wait_text.push_str(&format!(
                "; the load waited for a table lock over 100 ms {} time(s) (server log), first: {}",
                evidence.table.len(),
                w.message
            ));
        }
        if let Some(w) = evidence.rows_ended.first() {
            wait_text.push_str(&format!(
                "; longest row-lock wait of the load {row_wait:.0} ms (server log: {}), limit {ROW_WAIT_LIMIT_MS:.0} ms",
                w.message
            ));
        }
        if evidence.rows_open > 0 && stalled {
            wait_text.push_str(&format!(
                "; {} row-lock wait(s) of the load not seen to end",
                evidence.rows_open
            ));
        }
        if !evidence.any() && stalled {
            wait_text.push_str("; the server log shows no lock wait of the load over 100 ms: the stall is the machine's load, not a lock");
        }
        let (ok, claimed) = match step.blocks {
            // A wait for a table lock counts even when short; a row-lock wait counts past what
            // one batch holds its rows for; a stall counts when a lock wait not seen to end
            // may have caused it. A stall with no lock wait is the machine, not the step.
            Blocks::Nothing => (
                evidence.table.is_empty()
                    && row_wait < ROW_WAIT_LIMIT_MS
                    && !(stalled && evidence.rows_open > 0)
                    && errors.is_empty()
                    && held.iter().all(|(w, r)| !w && !r),
                format!(
                    "blocks nothing (no table-lock wait, no row-lock wait past {ROW_WAIT_LIMIT_MS:.0} ms, stalls < {} ms or not caused by a lock)",
                    threshold.as_millis()
                ),
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
        self.lock_wait_seen = !evidence.table.is_empty();
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
            &format!("{stalls}{wait_text}{held_text}{err_text}{basis}"),
            ok,
        );
        Ok(())
    }

    fn step_timeout(&self) -> Duration {
        if self.never_ended {
            self.opts.step_timeout.min(Duration::from_secs(10))
        } else {
            self.opts.step_timeout
        }
    }

    /// Runs one unit on B without probes; returns the rows of the last statement.
    fn run_plain(
        &mut self,
        unit: &[String],
        in_transaction: bool,
    ) -> Result<Vec<Vec<Option<String>>>, String> {
        let b = &mut self.b;
        let mut returned = Vec::new();
        if in_transaction {
            exec(b, "BEGIN")?;
            for stmt in unit {
                match text_rows(b, stmt) {
                    Ok(rows) => returned = rows,
                    Err(e) => {
                        let _ = exec(b, "ROLLBACK");
                        return Err(e);
                    }
                }
            }
            exec(b, "COMMIT")?;
        } else {
            returned = text_rows(b, &unit[0])?;
        }
        Ok(returned)
    }

    /// Runs one unit on B with the lock probe around it.
    fn run_unit(&mut self, unit: &[String], in_transaction: bool, probe: bool) -> UnitObs {
        let mut obs = UnitObs::default();
        let targets = self.targets();
        let target_oids: Vec<String> = targets.iter().map(|t| t.0.clone()).collect();
        // Pause traffic so that A's lock queues nobody but B, then hold ACCESS EXCLUSIVE on
        // every target (a view can be locked from 11; on 10 only the table is held).
        self.load.pause();
        let mut holding = false;
        if probe
            && !targets.is_empty()
            && exec(&mut self.a, "BEGIN; SET LOCAL lock_timeout = '30s'").is_ok()
        {
            for (i, (_, name, _)) in targets.iter().enumerate() {
                let _ = exec(&mut self.a, &format!("SAVEPOINT lockstep_hold_{i}"));
                match exec(
                    &mut self.a,
                    &format!("LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"),
                ) {
                    Ok(()) => holding = true,
                    Err(_) => {
                        let _ = exec(
                            &mut self.a,
                            &format!("ROLLBACK TO SAVEPOINT lockstep_hold_{i}"),
                        );
                    }
                }
            }
            if !holding {
                let _ = exec(&mut self.a, "ROLLBACK");
            }
        }
        let done = AtomicBool::new(false);
        let (held_tx, held_rx) = mpsc::channel::<BTreeMap<String, (bool, PgLock)>>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let cancel = self.b.cancel_token();
        let step_timeout = self.step_timeout();
        let b = &mut self.b;
        let lock_query = locks_sql(&self.b_pid, true);
        let own_query = locks_sql("pg_backend_pid()", false);
        let done = &done;
        // Set by B once its statements ran (before COMMIT): it waits for nothing any more.
        let statements_done = &AtomicBool::new(false);
        let exec_end: &Mutex<Option<Instant>> = &Mutex::new(None);
        let deadline = Instant::now() + step_timeout;
        let mut cancelled = false;
        let runner_oids = target_oids.clone();
        let stmts = unit;
        let unit_start = Instant::now();
        std::thread::scope(|s| {
            let runner = s.spawn(move || {
                let target_oids = runner_oids;
                let start = Instant::now();
                // Rows returned by the last statement (a repeated batch stops at zero).
                let r = (|| -> Result<Vec<Vec<Option<String>>>, String> {
                    let mut returned = Vec::new();
                    if in_transaction {
                        exec(b, "BEGIN")?;
                        for stmt in stmts {
                            match text_rows(b, stmt) {
                                Ok(rows) => returned = rows,
                                Err(e) => {
                                    let _ = exec(b, "ROLLBACK");
                                    return Err(e);
                                }
                            }
                        }
                        *exec_end.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                        statements_done.store(true, Ordering::SeqCst);
                        let own = text_rows(b, &own_query).unwrap_or_default();
                        let _ = held_tx.send(parse_modes(&own, &target_oids));
                        let _ = go_rx.recv_timeout(Duration::from_secs(60));
                        exec(b, "COMMIT")?;
                    } else {
                        returned = text_rows(b, &stmts[0])?;
                        *exec_end.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                    }
                    Ok(returned)
                })();
                done.store(true, Ordering::SeqCst);
                (r, start.elapsed().as_secs_f64())
            });

            // Phase 1: while A holds the table, find what B waits for.
            let wait_deadline = Instant::now() + Duration::from_secs(3);
            if holding {
                while !done.load(Ordering::SeqCst)
                    && !statements_done.load(Ordering::SeqCst)
                    && Instant::now() < wait_deadline
                {
                    if let Ok(rows) = text_rows(&mut self.c, &lock_query) {
                        if let Some(w) = rows.iter().find(|r| r[4].as_deref() == Some("f")) {
                            obs.waited = Some((
                                w[1].clone().unwrap_or_default(),
                                w[3].clone().unwrap_or_default(),
                                target_oids
                                    .iter()
                                    .any(|o| w[2].as_deref() == Some(o.as_str())),
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
                if !cancelled && Instant::now() > deadline {
                    // A step that never ends (a backfill chasing new rows, a lock never
                    // granted) is a failure, not a hang of the whole run.
                    cancelled = true;
                    let _ = cancel.cancel_query(postgres::NoTls);
                }
                if let Ok(held) = held_rx.try_recv() {
                    merge(&mut obs.modes, held);
                    if !targets.is_empty() {
                        let mut w = false;
                        let mut r = false;
                        for (_, name, _) in &targets {
                            w |= refused(&mut self.p, name, "ROW EXCLUSIVE", "");
                            r |= refused(
                                &mut self.p,
                                name,
                                "ACCESS SHARE",
                                &format!("; EXPLAIN SELECT * FROM {name}"),
                            );
                        }
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
                    merge(&mut obs.modes, parse_modes(&granted, &target_oids));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let (r, _) = runner
                .join()
                .unwrap_or((Err("runner thread died".into()), 0.0));
            match r {
                Ok(rows) => obs.rows = rows,
                Err(e) if cancelled => {
                    obs.error = Some(format!(
                        "did not finish within {} s: cancelled by the verifier ({e})",
                        step_timeout.as_secs()
                    ))
                }
                Err(e) => obs.error = Some(e),
            }
            // Time of the statements themselves: from B's start, or from the moment A let go
            // of the table when B was waiting for it, to the end of B's statements (the lock
            // probes and the COMMIT are not counted).
            let end = exec_end
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(Instant::now);
            let began = if obs.waited.is_some() {
                window_start
            } else {
                unit_start
            };
            obs.seconds = end.saturating_duration_since(began).as_secs_f64();
            obs.window = Some((window_start, Instant::now()));
        });
        // Let operations queued during the window finish, so their stall is counted.
        self.load.settle(
            obs.window.map(|w| w.1).unwrap_or_else(Instant::now),
            Duration::from_secs(10),
        );
        obs
    }

    /// After the plan: the migrated shape holds exactly what the application wrote.
    fn data_claim(&mut self) -> Result<(), String> {
        // A case stopped by its precondition changed nothing: the original shape, as it was.
        let unchanged;
        let d: &DataCheck = if self.stop().is_some() {
            unchanged = DataCheck::with(&self.case.data.from, &[], &[]);
            &unchanged
        } else {
            &self.case.data
        };
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

/// A step the operator repeats until it returns no row, or prints 0 (a backfill batch on
/// PostgreSQL 10, where a DO block cannot COMMIT; MySQL's batched copies).
pub fn is_repeated_batch(step: &Step) -> bool {
    step.run == Run::UntilDone
}

/// The end of a repeated batch: no row, or a single 0.
pub fn batch_finished(rows: &[Vec<Option<String>>]) -> bool {
    Run::finished(rows)
}

/// A step whose query writes the statements to run, one per row (psql's `\gexec`).
pub fn is_generator(step: &Step) -> bool {
    step.run == Run::EachRow
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
fn parse_modes(
    rows: &[Vec<Option<String>>],
    target_oids: &[String],
) -> BTreeMap<String, (bool, PgLock)> {
    let mut out = BTreeMap::new();
    for r in rows {
        let relkind = r.get(5).cloned().flatten().unwrap_or_default();
        let oid = r[2].clone().unwrap_or_default();
        // A target dropped inside the step's own transaction has no visible pg_class row.
        let is_target = target_oids.contains(&oid);
        if r[0].as_deref() != Some("relation")
            || !(is_target || matches!(relkind.as_str(), "r" | "p" | "v"))
        {
            continue;
        }
        let name = r[1].clone().unwrap_or_default();
        if name.starts_with("pg_") {
            continue;
        }
        let Some(l) = r[3].as_deref().and_then(lock_from_mode) else {
            continue;
        };
        let e = out.entry(name).or_insert((is_target, l));
        e.1 = e.1.max(l);
    }
    out
}

fn merge(into: &mut BTreeMap<String, (bool, PgLock)>, from: BTreeMap<String, (bool, PgLock)>) {
    for (k, (t, l)) in from {
        let e = into.entry(k).or_insert((t, l));
        e.1 = e.1.max(l);
    }
}

/// True when `LOCK TABLE t IN <mode> MODE`, then `then` (more statements), is refused within
/// 100 ms (lock timeout). A read is probed by planning a SELECT too: the planner opens every
/// index of the table, so an index held ACCESS EXCLUSIVE (REINDEX) stops reads that the
/// table's own lock lets through.
fn refused(p: &mut Client, table: &str, mode: &str, then: &str) -> bool {
    let r = exec(
        p,
        &format!(
            "BEGIN; SET LOCAL lock_timeout = '100ms'; LOCK TABLE {table} IN {mode} MODE{then}"
        ),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_from_refusal() {
        let refusal = |s| FieldError::budget_too_short("the wording is not read", s);
        assert_eq!(suggested_budget(&refusal(0.309)).as_deref(), Some("326ms"));
        assert_eq!(
            suggested_budget(&refusal(120.0)).as_deref(),
            Some("126001ms")
        );
        let other = FieldError::new("max-downtime", "raise it to at least 2 min");
        assert_eq!(suggested_budget(&other), None);
    }

    #[test]
    fn repeated_batches_end_at_no_row_or_zero() {
        assert!(batch_finished(&[]));
        assert!(batch_finished(&[vec![Some("0".into())]]));
        assert!(!batch_finished(&[vec![Some("5000".into())]]));
    }
}
