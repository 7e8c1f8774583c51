//! Runs the MySQL-family plans on a real MariaDB server: seed, plan with
//! `db=mariadb@<server version>`, run every step (SQL, and pt-online-schema-change commands)
//! under a concurrent writer and reader, and check each claim.
//!
//! What is checked per step:
//! - statements: each runs without error (a refused `ALGORITHM=`/`LOCK=` clause is an error);
//! - lock: the step waits for an exclusive metadata lock when it claims one (session `A` holds a
//!   shared one in an open transaction while `B` runs the step, `C` reads `B`'s state in the
//!   processlist); the server accepts the claimed `ALGORITHM`/`LOCK` clause on an empty copy
//!   of the schema (database `probe`), and refuses `ALGORITHM=INPLACE, LOCK=NONE` for a step
//!   that claims to block writes;
//! - rewrite: InnoDB's TABLE_ID changes exactly when the step rebuilds the table, and a step
//!   that rebuilds under `ALGORITHM=INPLACE` is refused under `ALGORITHM=NOCOPY` (on the
//!   empty copy), so a plan writing INPLACE where NOCOPY would do is caught;
//! - blocking: the writer's and reader's longest stall stays under the threshold for steps
//!   that block only for a catalog-only moment (INSTANT, LOCK=NONE, a brief metadata lock);
//!   reads continue under a step that claims to block only writes;
//! - then, as on PostgreSQL: data, rollbacks (SHOW CREATE TABLE of every table, triggers,
//!   views), and the plan's checks.

use super::lockwatch::LockWatch;
use super::scenarios::{data_sql, seed_sql, with_events};
use super::{error_code, exec, text_rows, text_value, LoadConn, Server};
use crate::load::{Dialect, Load, Role};
use crate::report::{Calibration, CaseResult, CaseStatus, Kind};
use crate::runner::{plan_case, Options};
use crate::scenarios::Case;
use crate::walk::{self, PlanRunner};
use lockstep_planner::model::{
    Algorithm, Blocks, Leftover, Lock, LockClause, MysqlLock, Phase, Step,
};
use lockstep_planner::Params;
use mysql::Conn;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The matrix column of the MariaDB server (its major version).
pub const MAJOR: u32 = 10;

/// The database the cases run in (plans are unqualified: the session's default database).
const DB: &str = "app";

/// Starts one server, runs every case on it, stops it.
pub fn verify_server(cases: &[Case], opts: &Options, out: &Path) -> Vec<CaseResult> {
    let t0 = Instant::now();
    let mut server = match Server::start(out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("[mariadb] {e}");
            return cases
                .iter()
                .map(|c| {
                    let mut r = CaseResult::new(c, MAJOR, "10.11");
                    r.engine = "MariaDB";
                    r.status = CaseStatus::HarnessError(e.clone());
                    r
                })
                .collect();
        }
    };
    eprintln!(
        "[mariadb] MariaDB {} on 127.0.0.1:{} ({:.1}s)",
        server.full_version,
        server.port,
        t0.elapsed().as_secs_f64()
    );
    let mut results = Vec::new();
    for case in cases {
        let r = run_case(&server, case, opts);
        eprintln!(
            "[mariadb] {}/{}: {} ({:.1}s)",
            case.change,
            case.name,
            r.summary(),
            r.seconds
        );
        results.push(r);
    }
    server.stop();
    eprintln!("[mariadb] done in {:.0}s", t0.elapsed().as_secs_f64());
    results
}

/// Parameters of a case on a server of `version` (`rows` and `size` as measured).
pub fn params_for(case: &Case, version: &str, rows: u64, size: u64) -> Params {
    let mut p = Params::new()
        .with("db", format!("mariadb@{version}"))
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

fn run_case(server: &Server, case: &Case, opts: &Options) -> CaseResult {
    let started = Instant::now();
    let mut result = CaseResult::new(case, MAJOR, &server.version);
    result.engine = "MariaDB";
    let outcome = (|| -> Result<(), String> {
        let mut admin = server.connect("mysql")?;
        exec(
            &mut admin,
            &format!(
                "DROP DATABASE IF EXISTS {DB}; DROP DATABASE IF EXISTS verify; DROP DATABASE IF EXISTS probe; \
                 CREATE DATABASE {DB}; CREATE DATABASE verify"
            ),
        )?;
        let mut seed = server.connect(DB)?;
        exec(
            &mut seed,
            &seed_sql(opts.rows, case.int_id, with_events(case)),
        )
        .map_err(|e| format!("seeding {} rows: {e}", opts.rows))?;
        if !case.setup.is_empty() {
            exec(&mut seed, case.setup).map_err(|e| format!("the case's set-up: {e}"))?;
        }
        drop(seed);
        run_in_db(server, case, opts, &mut result)
    })();
    if let Err(e) = outcome {
        if matches!(result.status, CaseStatus::Ran) {
            result.status = CaseStatus::HarnessError(e);
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    result
}

fn run_in_db(
    server: &Server,
    case: &Case,
    opts: &Options,
    result: &mut CaseResult,
) -> Result<(), String> {
    let mut b = server.connect(DB)?;
    let size: u64 = text_value(
        &mut b,
        &format!("SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = '{DB}' AND table_name = 'orders'"),
    )?
    .and_then(|v| v.parse().ok())
    .unwrap_or(0);
    let rows: u64 = text_value(&mut b, "SELECT COUNT(*) FROM orders")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut plan = plan_case(params_for(case, &server.version, rows, size), case, result)?;
    let relabelled = if case.control {
        walk::relabel_blocking_steps(&mut plan)
    } else {
        Vec::new()
    };
    if case.control && relabelled.is_empty() {
        return Err("control case: the plan has no blocking step to relabel".to_string());
    }
    let b_id = b.connection_id();
    // The load registers each connection it opens, so the lock watch can sample its state.
    let load_ids = Arc::new(Mutex::new(Vec::new()));
    let watch = LockWatch::start(server.connect(DB)?, Arc::clone(&load_ids));
    let load = Load::start_with(
        || {
            let conn = server.connect(DB)?;
            load_ids
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn.connection_id());
            Ok(LoadConn::new(conn))
        },
        Dialect::Mariadb,
        case.stages.clone(),
        rows,
        opts.think,
        &format!("mariadb-{}", case.name),
    )?;
    let mut c = server.connect(DB)?;
    exec(&mut c, "SET SESSION group_concat_max_len = 1073741824")?;
    let mut ex = MyExec {
        server,
        case,
        opts,
        b,
        a: server.connect(DB)?,
        c,
        p: server.connect("mysql")?,
        b_id,
        target: "orders".to_string(),
        relabelled,
        load,
        watch,
        lock_wait_seen: false,
        result,
        seen_ops: BTreeSet::new(),
        retry_windows: Vec::new(),
        lock_wait_kinds: BTreeSet::new(),
    };
    std::thread::sleep(Duration::from_millis(300));
    let outcome = walk::run_plan(&mut ex, &plan);
    std::thread::sleep(Duration::from_millis(200));
    ex.load.stop();
    ex.watch.stop();
    if outcome.is_ok() {
        ex.data_claim()?;
    }
    let (ins, upd, reads) = ex.load.counts();
    ex.result.notes.push(format!(
        "traffic during the run: {ins} inserts, {upd} updates, {reads} reads"
    ));
    drop(ex);
    let seed = seed_sql(opts.rows, case.int_id, with_events(case));
    let seed = [seed.as_str(), case.setup];
    match &case.stop {
        None => super::script::forward_script_claims(server, &plan, &seed, result),
        Some(stop) => super::script::stopped_script_claim(server, &plan, &seed, stop.check, result),
    }
    Ok(())
}

struct Abort;

/// What one unit of a step (one statement, or one transaction) did.
#[derive(Default)]
struct UnitObs {
    /// B's processlist state while A held a shared metadata lock on the table.
    waited: Option<String>,
    /// A metadata-lock probe ran (A held the table while B started).
    probed: bool,
    error: Option<String>,
    seconds: f64,
    window: Option<(Instant, Instant)>,
    rows: Vec<Vec<Option<String>>>,
    affected: u64,
}

struct MyExec<'a> {
    server: &'a Server,
    case: &'a Case,
    opts: &'a Options,
    /// Runs the steps.
    b: Conn,
    /// Holds a shared metadata lock on the table while B starts a DDL statement.
    a: Conn,
    /// Observes (processlist, catalog, dumps, checks).
    c: Conn,
    /// Tries ALGORITHM/LOCK clauses on the empty copy in database `probe`.
    p: Conn,
    b_id: u32,
    /// The seeded table's current name (followed through renames).
    target: String,
    /// Titles of the steps the control case relabelled "blocks nothing" ([`Case::control`]).
    relabelled: Vec<String>,
    load: Load,
    /// Samples the load's lock waits: a stall counts only when a lock caused it.
    watch: LockWatch,
    /// The load was seen waiting for a lock during the step last judged for what it blocks
    /// ([`PlanRunner::lock_wait_seen`]).
    lock_wait_seen: bool,
    result: &'a mut CaseResult,
    /// Operations whose ALGORITHM/LOCK ladder is already in the facts.
    seen_ops: BTreeSet<String>,
    /// Windows of steps whose notes tell the application to retry deadlocks (1213) and lock
    /// wait timeouts (1205): the simulated application does as told, so those errors there
    /// are retries, not failures.
    retry_windows: Vec<(Instant, Instant)>,
    /// Locks (as the plan names them) whose lock_wait_timeout claim this case has checked:
    /// one blocked attempt per kind of blocking step keeps the run short.
    lock_wait_kinds: BTreeSet<String>,
}

/// Rows in text form (`None` for NULL).
type Rows = Vec<Vec<Option<String>>>;

/// Back to the server's defaults between steps (MariaDB has no RESET ALL).
const RESET: &str = "SET SESSION lock_wait_timeout = DEFAULT, foreign_key_checks = DEFAULT, unique_checks = DEFAULT, \
                     sql_mode = DEFAULT, max_statement_time = DEFAULT";

/// The five clauses tried for the facts, strongest first.
const LADDER: [(&str, &str); 5] = [
    ("INSTANT", ""),
    ("NOCOPY", "NONE"),
    ("INPLACE", "NONE"),
    ("INPLACE", "SHARED"),
    ("COPY", "SHARED"),
];

fn algorithm_word(a: Algorithm) -> &'static str {
    match a {
        Algorithm::Instant => "INSTANT",
        Algorithm::Inplace => "INPLACE",
        Algorithm::Nocopy => "NOCOPY",
        Algorithm::Copy => "COPY",
    }
}

fn lock_word(l: LockClause) -> &'static str {
    match l {
        LockClause::Default => "",
        LockClause::None => "NONE",
        LockClause::Shared => "SHARED",
        LockClause::Exclusive => "EXCLUSIVE",
    }
}

/// A claim that traffic stops only for a catalog-only moment (the exclusive metadata lock at
/// the start and end of an INSTANT or LOCK=NONE ALTER, a RENAME, a trigger, a cut-over).
fn catalog_only(step: &Step) -> bool {
    let dml_continues = match step.lock {
        Some(Lock::Mysql(l)) => l.dml_continues(),
        Some(Lock::Pg(_)) => false,
        None => true,
    };
    step.blocks == Blocks::Nothing || dml_continues || step.hold_seconds.high <= 0.05
}

/// How long the load may stall behind a step that holds its lock only for a catalog-only
/// moment: the plan's stated worst case (`blocking_seconds.high`, its lock wait plus the hold)
/// with [`QUEUE_ALLOWANCE`] for the shared machine, and never less than the stall threshold.
fn catalog_only_bound(step: &Step, threshold: Duration) -> Duration {
    let stated = Duration::from_secs_f64(step.blocking_seconds.high.max(0.0));
    threshold.max(stated + QUEUE_ALLOWANCE)
}

/// The load's longest stalls during a step, and whether it was seen waiting for a lock then.
struct Stalls {
    writer: Duration,
    reader: Duration,
    locked: bool,
}

/// The blocking claim of a step against the load's stalls: what it says it blocks, and the
/// server-wide stall it claims ([`Step::server_stall_seconds`]). A stall no lock explains is
/// the shared machine's for a step that claims none; for one that claims a server stall (a
/// DROP TABLE stalls every query through InnoDB's latches and the filesystem, never a lock the
/// processlist shows), every stall counts and must stay within that claim.
fn judge_blocking(step: &Step, seen: &Stalls, threshold: Duration) -> (bool, String) {
    let (writer, reader, locked) = (seen.writer, seen.reader, seen.locked);
    let (mut ok, mut claimed) = if catalog_only(step) {
        // The plan's worst case is its lock wait (the exclusive metadata lock queues the
        // traffic behind it for up to lock_wait_timeout) plus the catalog-only hold.
        let bound = catalog_only_bound(step, threshold);
        (
            (writer < bound && reader < bound) || !locked,
            format!(
                "traffic stops at most for its lock wait and a catalog-only moment (stalls < {} ms, or not caused by a lock)",
                bound.as_millis()
            ),
        )
    } else if step.blocks == Blocks::Writes {
        (
            reader < threshold || !locked,
            format!(
                "blocks writes, reads continue (reader stalls < {} ms, or not caused by a lock)",
                threshold.as_millis()
            ),
        )
    } else {
        (true, "blocks reads and writes".to_string())
    };
    if let Some(bound) = server_stall_bound(step, threshold) {
        ok = ok && writer < bound && reader < bound;
        claimed.push_str(&format!(
            "; stalls the whole server for at most {} ms as claimed ({} ms) plus the machine's allowance, whatever the cause",
            bound.as_millis(),
            (step.server_stall_seconds.map_or(0.0, |s| s.high) * 1000.0).ceil()
        ));
    }
    (ok, claimed)
}

/// How long the load may stall, lock or no lock, during a step that claims a server-wide
/// stall: the claimed worst case with [`QUEUE_ALLOWANCE`], never less than the stall threshold.
fn server_stall_bound(step: &Step, threshold: Duration) -> Option<Duration> {
    let stall = step.server_stall_seconds?;
    let stated = Duration::from_secs_f64(stall.high.max(0.0));
    Some(threshold.max(stated + QUEUE_ALLOWANCE))
}

/// What the machine may add to a stated wait: the load's own statement time and scheduling on
/// a shared 2-core machine (the same allowance the queue claims use).
const QUEUE_ALLOWANCE: Duration = Duration::from_millis(200);

/// Statements that take table locks (metadata locks) rather than row locks.
fn is_ddl(sql: &str) -> bool {
    let s = sql.trim_start().to_ascii_uppercase();
    [
        "ALTER ",
        "CREATE ",
        "DROP ",
        "RENAME ",
        "TRUNCATE ",
        "OPTIMIZE ",
    ]
    .iter()
    .any(|k| s.starts_with(k))
}

/// The statement with its ALGORITHM/LOCK clauses replaced by `alg`/`lock` (`lock` empty: no
/// LOCK clause): `ALTER TABLE ... , ALGORITHM=X, LOCK=Y` or `CREATE INDEX ... ALGORITHM=X
/// LOCK=Y`. `None` for statements that take no such clause.
pub fn with_clause(sql: &str, alg: &str, lock: &str) -> Option<String> {
    let s = sql.trim().trim_end_matches(';').trim_end();
    let upper = s.to_ascii_uppercase();
    let alter = upper.starts_with("ALTER TABLE ")
        || upper.starts_with("ALTER ONLINE TABLE ")
        || upper.starts_with("ALTER IGNORE TABLE ");
    let create_index = upper.starts_with("CREATE INDEX ")
        || upper.starts_with("CREATE UNIQUE INDEX ")
        || upper.starts_with("CREATE OR REPLACE INDEX ");
    if !alter && !create_index {
        return None;
    }
    let mut body = strip_option(s, "ALGORITHM");
    body = strip_option(&body, "LOCK");
    if upper.starts_with("ALTER ONLINE TABLE ") {
        // ONLINE means LOCK=NONE: the probe sets the clause itself.
        body = format!("ALTER TABLE {}", &body["ALTER ONLINE TABLE ".len()..]);
    }
    let sep = if alter { ", " } else { " " };
    let mut out = format!("{body}{sep}ALGORITHM={alg}");
    if !lock.is_empty() {
        out.push_str(&format!("{sep}LOCK={lock}"));
    }
    Some(out)
}

/// Removes `<word> [=] <value>` (and a comma before it) where `<word>` is a whole word outside
/// quotes and `<value>` one of the clause values.
fn strip_option(s: &str, word: &str) -> String {
    const VALUES: [&str; 8] = [
        "DEFAULT",
        "INSTANT",
        "INPLACE",
        "NOCOPY",
        "COPY",
        "NONE",
        "SHARED",
        "EXCLUSIVE",
    ];
    let bytes = s.as_bytes();
    let upper = s.to_ascii_uppercase();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let ch = bytes[i];
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if ch == b'\'' || ch == b'"' || ch == b'`' {
            quote = Some(ch);
            i += 1;
            continue;
        }
        let boundary_before =
            i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if boundary_before && upper[i..].starts_with(word) {
            let mut j = i + word.len();
            let after_word = j;
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            if j < bytes.len() && bytes[j] == b'=' {
                j += 1;
            }
            while j < bytes.len() && bytes[j] == b' ' {
                j += 1;
            }
            let value = VALUES.iter().find(|v| {
                upper[j..].starts_with(*v)
                    && upper[j + v.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
            });
            if let (Some(v), true) = (value, j > after_word) {
                let end = j + v.len();
                // Remove a comma (and spaces) before the option.
                let mut start = i;
                let prefix = s[..i].trim_end();
                if prefix.ends_with(',') {
                    start = prefix.len() - 1;
                } else {
                    start = start.min(prefix.len());
                }
                let rest = format!("{}{}", &s[..start], &s[end..]);
                return strip_option(&rest, word);
            }
        }
        i += 1;
    }
    s.to_string()
}

/// The plan's shell command pointed at the test server. On the command line only (a heredoc
/// body is left exactly as written): `<connection options>` becomes `--defaults-file=<file>`
/// (the test server's socket and user; pt-online-schema-change and the mysql client both
/// read it), `<database>` the test database; explicit `--host/--port/--socket/--user/
/// --password/--ask-pass/--defaults-file` options are dropped, and DSN keys h/P/S/u/p/F
/// (pt-online-schema-change's `h=...,D=...,t=...`) too.
pub fn connect_shell(cmd: &str, defaults_file: &str, db: &str) -> String {
    // The command line ends at the end of the line that starts a heredoc.
    let split = cmd
        .find("<<")
        .map(|i| cmd[i..].find('\n').map_or(cmd.len(), |j| i + j))
        .unwrap_or(cmd.len());
    let (line, body) = cmd.split_at(split);
    let mut out = line.to_string();
    for opt in [
        "--host",
        "--port",
        "--socket",
        "--user",
        "--password",
        "--defaults-file",
    ] {
        while let Some(pos) = find_option(&out, opt) {
            let after = &out[pos + opt.len()..];
            let len = if let Some(rest) = after.strip_prefix('=') {
                1 + token_len(rest)
            } else {
                let spaces = after.len() - after.trim_start_matches([' ', '\t']).len();
                let rest = &after[spaces..];
                if rest.starts_with("--") || rest.starts_with('\\') || rest.is_empty() {
                    0
                } else {
                    spaces + token_len(rest)
                }
            };
            out.replace_range(pos..pos + opt.len() + len, "");
        }
    }
    // A password prompt would wait forever: the test server's root has no password.
    while let Some(pos) = find_option(&out, "--ask-pass") {
        out.replace_range(pos..pos + "--ask-pass".len(), "");
    }
    let dsns: Vec<(String, String)> = out
        .split_whitespace()
        .filter_map(|w| rewrite_dsn(w, db).map(|n| (w.to_string(), n)))
        .collect();
    for (old, new) in dsns {
        out = out.replace(&old, &new);
    }
    out = out
        .replace(
            "<connection options>",
            &format!("--defaults-file={defaults_file}"),
        )
        .replace("<database>", db);
    format!("{out}{body}")
}

fn find_option(s: &str, opt: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find(opt) {
        let pos = from + p;
        let before_ok = pos == 0 || s.as_bytes()[pos - 1].is_ascii_whitespace();
        let after = s[pos + opt.len()..].chars().next();
        let after_ok = matches!(
            after,
            None | Some('=') | Some(' ') | Some('\t') | Some('\n') | Some('\\')
        );
        if before_ok && after_ok {
            return Some(pos);
        }
        from = pos + opt.len();
    }
    None
}

/// Length of one shell token (quoted or not) at the start of `s`.
fn token_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match (quote, b[i]) {
            (None, b'\'' | b'"') => quote = Some(b[i]),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_ascii_whitespace() => break,
            _ => {}
        }
        i += 1;
    }
    i
}

/// A DSN word (`h=...,D=...,t=...`, possibly quoted) without its connection keys, with the
/// test database; `None` for any other word.
fn rewrite_dsn(word: &str, db: &str) -> Option<String> {
    let (quote, inner) = match word.as_bytes().first() {
        Some(b'\'') | Some(b'"') if word.len() >= 2 => (&word[..1], &word[1..word.len() - 1]),
        _ => ("", word),
    };
    let parts: Vec<&str> = inner.split(',').collect();
    let is_dsn = parts
        .iter()
        .all(|p| p.len() >= 2 && p.as_bytes()[1] == b'=' && p.as_bytes()[0].is_ascii_alphabetic())
        && parts
            .iter()
            .any(|p| p.starts_with("t=") || p.starts_with("D="));
    if !is_dsn {
        return None;
    }
    let mut kept: Vec<String> = Vec::new();
    for p in parts {
        match &p[..1] {
            "h" | "P" | "S" | "u" | "p" | "F" => {}
            "D" => kept.push(format!("D={db}")),
            _ => kept.push(p.to_string()),
        }
    }
    if !kept.iter().any(|k| k.starts_with("D=")) {
        kept.insert(0, format!("D={db}"));
    }
    Some(format!("{quote}{}{quote}", kept.join(",")))
}

impl PlanRunner for MyExec<'_> {
    type Abort = Abort;
    fn lock_wait_seen(&self) -> bool {
        self.lock_wait_seen
    }

    fn label(&self) -> String {
        format!("mariadb {}/{}", self.case.change, self.case.name)
    }

    fn verbose(&self) -> bool {
        self.opts.verbose
    }

    fn relabelled(&self) -> &[String] {
        &self.relabelled
    }

    fn stop(&self) -> Option<&crate::scenarios::Stop> {
        self.case.stop.as_ref().filter(|s| s.applies(MAJOR))
    }

    fn check_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, String> {
        Ok(text_rows(&mut self.c, sql)?
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| v.unwrap_or_else(|| "NULL".to_string()))
                    .collect()
            })
            .collect())
    }

    fn result(&mut self) -> &mut CaseResult {
        self.result
    }

    fn rollbacks(&self) -> bool {
        self.opts.rollback
    }

    fn deploy(&mut self, stage: usize, pname: &str) {
        self.load.set_stage(stage);
        let (ins, upd, _) = self.load.counts();
        // Ties a lost write in the data claim to the deploy gate it straddled.
        self.result.notes.push(format!(
            "{pname}: application at stage {stage} from about writer operation {}",
            ins + upd + 1
        ));
    }

    /// Every table (SHOW CREATE TABLE, its lines sorted so positions do not count, without
    /// AUTO_INCREMENT=), view and trigger of the case database.
    fn dump_schema(&mut self, pname: &str) -> Result<String, Abort> {
        match schema_dump(&mut self.c) {
            Ok(d) => Ok(d),
            Err(e) => {
                self.claim(Kind::Rollback, pname, "schema dump", "readable", &e, false);
                Err(Abort)
            }
        }
    }

    fn steps(&mut self, pname: &str, phase: &Phase) -> Result<(), Abort> {
        for (si, step) in phase.steps.iter().enumerate() {
            let place = format!("{pname} step {} '{}'", si + 1, step.title);
            self.run_step(&place, step)?;
        }
        Ok(())
    }

    fn roll_back(
        &mut self,
        pname: &str,
        phase: &Phase,
        dumps: &[(usize, String)],
    ) -> Result<usize, Abort> {
        let pi = dumps.last().map_or(0, |(i, _)| *i);
        let _ = exec(&mut self.b, RESET);
        let id_before = self.table_id();
        for rb in &phase.rollback {
            // A rollback is SQL, or a command (the tool run again with the inverse change).
            let (result, text) = match &rb.shell {
                Some(cmd) => {
                    let obs = self.run_shell(cmd);
                    // The same tool run backwards: the application retries the errors the
                    // plan names for this run, as for the forward one.
                    if !rb.app_retries.is_empty() {
                        self.retry_windows.extend(obs.window);
                    }
                    (obs.error.map_or(Ok(()), Err), format!("shell: {cmd}"))
                }
                None => (exec(&mut self.b, &rb.sql), rb.sql.clone()),
            };
            if let Err(e) = result {
                self.claim(
                    Kind::Rollback,
                    pname,
                    "rollback runs without error",
                    "no error",
                    &format!("{e} [{}]", short(&text, 200)),
                    false,
                );
                return Err(Abort);
            }
        }
        self.follow_target(id_before.as_deref(), "orders");
        let after = self.dump_schema(pname)?;
        let (_, target) = walk::rollback_target(phase, dumps);
        let leaves: Vec<&Leftover> = phase.rollback.iter().flat_map(|r| &r.leaves).collect();
        let kept = kept_tables(&target, &after, &leaves);
        let (ok, observed, back_to) = if let Some(verdict) =
            walk::judge_rollback(phase, dumps, &after)
        {
            verdict
        } else if leaves.contains(&&Leftover::ChildForeignKeysRenamed)
            && without_fk_underscores(&target) == without_fk_underscores(&after)
        {
            (
                true,
                "schema identical to the one before the phase except child foreign keys renamed with leading underscores, as the rollback's leaves says".to_string(),
                pi,
            )
        } else if let Some(tables) = kept {
            (
                true,
                format!(
                    "schema identical to the one before the phase, plus {} which the rollback's leaves names",
                    tables.join(", "),
                ),
                pi,
            )
        } else {
            (false, walk::schema_difference(&target, &after), pi)
        };
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

    fn traffic(&mut self, pname: &str, from: Instant) {
        let (errors, retried) = self.app_errors(from, Instant::now());
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
        let observed = if retried.is_empty() {
            observed
        } else {
            format!(
                "{observed}; {} deadlock/lock-wait error(s) allowed: the step's note tells the application to retry them, and the failed transaction changed nothing ({})",
                retried.len(),
                retried[0].message
            )
        };
        self.claim(
            Kind::Blocking,
            pname,
            "application traffic keeps working through the phase",
            "no error",
            &observed,
            errors.is_empty(),
        );
    }
}

impl MyExec<'_> {
    /// Errors of the application, less the deadlocks and lock wait timeouts inside steps
    /// that tell it to retry them (returned apart).
    fn app_errors(
        &self,
        from: Instant,
        to: Instant,
    ) -> (Vec<crate::load::LoadError>, Vec<crate::load::LoadError>) {
        self.load
            .errors_between(from, to)
            .into_iter()
            .partition(|e| {
                !(retryable(&e.message)
                    && self
                        .retry_windows
                        .iter()
                        .any(|(a, b)| e.at >= *a && e.at <= *b + Duration::from_millis(500)))
            })
    }

    /// InnoDB's id of the seeded table (changes when the table is rebuilt or replaced).
    fn table_id(&mut self) -> Option<String> {
        text_value(
            &mut self.c,
            &format!(
                "SELECT TABLE_ID FROM information_schema.INNODB_SYS_TABLES WHERE NAME = '{DB}/{}'",
                self.target
            ),
        )
        .ok()
        .flatten()
    }

    /// Follows the seeded table after a step: through a rename (same id, new name), or to the
    /// plan's table name when it was replaced (a copy swapped in).
    fn follow_target(&mut self, id_before: Option<&str>, plan_table: &str) {
        if let Some(id) = id_before {
            if let Ok(Some(name)) = text_value(
                &mut self.c,
                &format!(
                    "SELECT NAME FROM information_schema.INNODB_SYS_TABLES WHERE TABLE_ID = {id}"
                ),
            ) {
                if let Some(n) = name.strip_prefix(&format!("{DB}/")) {
                    if !n.starts_with('#') && !n.starts_with("_") {
                        self.target = n.to_string();
                        return;
                    }
                }
            }
        }
        let exists = |c: &mut Conn, t: &str| {
            text_value(
                c,
                &format!("SELECT 1 FROM information_schema.tables WHERE table_schema = '{DB}' AND table_name = '{t}' AND table_type = 'BASE TABLE'"),
            )
            .ok()
            .flatten()
            .is_some()
        };
        if !exists(&mut self.c, &self.target.clone()) && exists(&mut self.c, plan_table) {
            self.target = plan_table.to_string();
        }
    }

    /// Session settings exactly as the runbook sets them before the step, on a clean session.
    fn settings(step: &Step) -> String {
        let mut s = format!("{RESET}; ");
        s.push_str(&lockstep_planner::render::settings(step).join(" "));
        s
    }

    fn run_step(&mut self, place: &str, step: &Step) -> Result<(), Abort> {
        if self.opts.verbose {
            let (ins, upd, _) = self.load.counts();
            eprintln!(
                "  [mariadb] {place}: starts at about writer operation {}",
                ins + upd + 1
            );
        }
        if let Some(why) = &step.unverified {
            self.result
                .notes
                .push(format!("{place}: documented, not verified here ({why})"));
            self.result.status = CaseStatus::Unverified(format!("{place}: {why}"));
            return Err(Abort);
        }
        if let Err(e) = exec(&mut self.b, &Self::settings(step)) {
            self.claim(Kind::Statement, place, "settings", "accepted", &e, false);
            return Err(Abort);
        }
        if let Some(guard) = &step.only_if {
            match text_value(&mut self.b, guard) {
                Ok(Some(v)) if v == "0" => {
                    self.result.guard_skips += 1;
                    self.claim(
                        Kind::Statement,
                        place,
                        "only_if guard",
                        "1 or 0",
                        "0: step skipped",
                        true,
                    );
                    return Ok(());
                }
                Ok(Some(v)) if v == "1" => {
                    self.claim(
                        Kind::Statement,
                        place,
                        "only_if guard",
                        "1 or 0",
                        "1: step runs",
                        true,
                    );
                }
                other => {
                    let observed = format!("{other:?}");
                    self.claim(
                        Kind::Statement,
                        place,
                        "only_if guard",
                        "1 or 0",
                        &observed,
                        false,
                    );
                    return Err(Abort);
                }
            }
        }
        let plan_table = "orders";
        let id_before = self.table_id();
        let mut obs_all: Vec<UnitObs> = Vec::new();
        let mut failed: Option<String> = None;
        let mut what_ran = String::new();
        if let Some(cmd) = &step.shell {
            let obs = self.run_shell(cmd);
            what_ran = format!("shell: {}", short(cmd, 300));
            failed = obs.error.clone();
            obs_all.push(obs);
        } else {
            let my_lock = step.lock.and_then(Lock::mysql);
            // The server's verdict on the claimed clause, before the statement changes anything.
            if let Some(MysqlLock::Alter { algorithm, lock }) = my_lock {
                self.probe_clauses(place, step, algorithm, lock);
            }
            let units: Vec<Vec<String>> = if step.in_transaction {
                vec![step.sql.clone()]
            } else {
                step.sql.iter().map(|s| vec![s.clone()]).collect()
            };
            let repeat = crate::runner::is_repeated_batch(step);
            // Both checks below need the exclusive lock to come first (INSTANT, LOCK=NONE, a
            // rename): a COPY takes it only at its end, after the whole copy.
            let lock_first = my_lock.is_some_and(MysqlLock::dml_continues) && catalog_only(step);
            let kind = my_lock.map(MysqlLock::name).unwrap_or_default();
            if lock_first && !self.lock_wait_kinds.contains(&kind) {
                let target = self.target.clone();
                if let Some(i) = step
                    .sql
                    .iter()
                    .position(|s| is_ddl(s) && mentions(s, &target))
                {
                    self.lock_wait_claim(place, step, i);
                }
            }
            for unit in &units {
                let target = self.target.clone();
                // Holding the table in front of a COPY would run the whole copy with traffic
                // paused and hide what the copy blocks.
                let probe = lock_first && unit.iter().any(|s| is_ddl(s) && mentions(s, &target));
                let mut obs = self.run_unit(unit, step.in_transaction, probe);
                if obs.waited.is_some() && obs.error.as_deref().and_then(error_code) == Some(1205) {
                    // lock_wait_timeout ran out while the probe held the table: the probe's
                    // doing; the statement changed nothing. Run it again without the probe.
                    self.result.notes.push(format!(
                        "{place}: lock wait timeout while the metadata-lock probe held the table; re-run without the probe"
                    ));
                    let waited = obs.waited.take();
                    obs = self.run_unit(unit, step.in_transaction, false);
                    obs.waited = waited;
                    obs.probed = true;
                }
                let err = obs.error.clone();
                obs_all.push(obs);
                if let Some(e) = err {
                    failed = Some(format!("{e} [{}]", short(&unit.join(" "), 300)));
                    break;
                }
            }
            if repeat && failed.is_none() {
                let from = Instant::now();
                let mut batches = 1;
                let mut last = obs_all
                    .last()
                    .map(|o| (o.rows.clone(), o.affected))
                    .unwrap_or_default();
                // The whole step again (all its statements), as the runbook repeats it, with
                // the traffic running; the stall window covers every repetition.
                while !batch_done(&last.0, last.1) {
                    if from.elapsed() > self.opts.step_timeout {
                        failed = Some(format!(
                            "the batch still changed rows after {batches} runs and {} s",
                            from.elapsed().as_secs()
                        ));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    batches += 1;
                    match self.run_plain(&units) {
                        Ok(r) => last = r,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                let to = Instant::now();
                self.load.settle(to, Duration::from_secs(10));
                obs_all.push(UnitObs {
                    seconds: to.duration_since(from).as_secs_f64(),
                    window: Some((from, to)),
                    ..UnitObs::default()
                });
                what_ran = format!(", repeated {batches} times until it changed no row");
            }
        }
        let seconds: f64 = obs_all.iter().map(|o| o.seconds).sum();
        match &failed {
            Some(e) => {
                let sqls = if step.shell.is_some() {
                    what_ran.clone()
                } else {
                    step.sql
                        .iter()
                        .map(|s| short(s, 200))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
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
            None => {
                let observed = if step.shell.is_some() {
                    format!("exit status 0 in {seconds:.3}s ({what_ran})")
                } else {
                    format!("{} statement(s) in {seconds:.3}s{what_ran}", step.sql.len())
                };
                self.claim(
                    Kind::Statement,
                    place,
                    "runs without error",
                    "no error",
                    &observed,
                    true,
                );
            }
        }
        self.result.calibration.push(Calibration {
            place: place.to_string(),
            low: step.estimate.low,
            high: step.estimate.high,
            measured: seconds,
        });

        // 2. the exclusive metadata lock.
        let probed = obs_all.iter().any(|o| o.probed);
        if probed {
            let waited: Vec<String> = obs_all.iter().filter_map(|o| o.waited.clone()).collect();
            let claimed = step.lock.map(|l| l.name()).unwrap_or_default();
            let observed = match waited.first() {
                Some(state) => format!(
                    "waited behind an open transaction on {} ({state})",
                    self.target
                ),
                None => format!("never waited behind an open transaction on {}", self.target),
            };
            self.claim(
                Kind::Lock,
                place,
                "takes an exclusive metadata lock on the table (waits behind an open transaction)",
                &format!("{claimed}: exclusive metadata lock"),
                &observed,
                !waited.is_empty(),
            );
        }

        // 3. rewrite: InnoDB's TABLE_ID changes when the table is rebuilt or replaced.
        let id_after = {
            let id = id_before.clone();
            self.follow_target(id.as_deref(), plan_table);
            self.table_id()
        };
        // A table that is gone afterwards (DROP TABLE) was dropped, not rebuilt.
        let rewritten = id_before.is_some() && id_after.is_some() && id_before != id_after;
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
                "{} (TABLE_ID {} -> {})",
                if rewritten { "rewrite" } else { "no rewrite" },
                id_before.as_deref().unwrap_or("none"),
                id_after.as_deref().unwrap_or("none")
            ),
            rewritten == step.rewrites_table,
        );

        // 4. blocking.
        let mut writer = Duration::ZERO;
        let mut reader = Duration::ZERO;
        let mut errors = Vec::new();
        let mut retried = Vec::new();
        if !step.app_retries.is_empty() {
            self.retry_windows
                .extend(obs_all.iter().filter_map(|o| o.window));
        }
        let mut waits = Vec::new();
        for o in &obs_all {
            if let Some((from, to)) = o.window {
                writer = writer.max(self.load.max_stall(Role::Writer, from, to));
                reader = reader.max(self.load.max_stall(Role::Reader, from, to));
                waits.extend(self.watch.waits(from, to));
                let (e, r) = self.app_errors(from, to + Duration::from_millis(500));
                errors.extend(e);
                retried.extend(r);
            }
        }
        let mut err_text = errors
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
        if let Some(r) = retried.first() {
            err_text.push_str(&format!(
                "; {} deadlock/lock-wait error(s) allowed: the plan names them in the step's app_retries, and the failed transaction changed nothing ({})",
                retried.len(),
                r.message
            ));
        }
        let threshold = self.opts.stall_threshold;
        // A stall counts when the load was seen waiting for a lock during the step; without
        // any lock wait it is the shared machine, not the step.
        let locked = !waits.is_empty();
        self.lock_wait_seen = locked;
        let wait_text = match waits.iter().find(|w| w.on_table).or(waits.first()) {
            Some(w) => format!(
                "; the load was seen waiting for a lock in {} sample(s) of 10 ms, e.g. {}",
                waits.len(),
                w.state
            ),
            None if writer >= threshold || reader >= threshold => {
                "; the load was never seen waiting for a lock (processlist every 10 ms): the stall is the machine's load, not a lock".to_string()
            }
            None => String::new(),
        };
        let stalls = format!(
            "longest stall: writer {} ms, reader {} ms{wait_text}{err_text}",
            writer.as_millis(),
            reader.as_millis()
        );
        let seen = Stalls {
            writer,
            reader,
            locked,
        };
        let (ok, claimed) = judge_blocking(step, &seen, threshold);
        let ok = ok && errors.is_empty();
        self.claim(
            Kind::Blocking,
            place,
            "what it blocks",
            &claimed,
            &stalls,
            ok,
        );
        Ok(())
    }

    /// The runbook's promise about the metadata-lock queue ([`crate::queue`]): behind a
    /// transaction that holds the table, the step's DDL gives up after lock_wait_timeout (error
    /// 1205, nothing changed), and the traffic queued behind it waits no longer than the plan's
    /// `blocking_seconds.high`. Checked with the traffic running: A holds a shared metadata
    /// lock, B runs the step's statement `index` (after the SET statements before it) and must
    /// fail; then A lets go and the step runs for real.
    fn lock_wait_claim(&mut self, place: &str, step: &Step, index: usize) {
        if step.lock_timeout_ms.is_none() {
            return;
        }
        let held = exec(
            &mut self.a,
            &format!("START TRANSACTION; SELECT 1 FROM `{}` LIMIT 1", self.target),
        );
        if held.is_err() {
            let _ = exec(&mut self.a, "ROLLBACK");
            return;
        }
        self.lock_wait_kinds
            .insert(step.lock.map(|l| l.name()).unwrap_or_default());
        // The SET statements before it (foreign_key_checks, ...) as the step runs them.
        for s in step.sql.iter().take(index) {
            if s.trim_start().to_ascii_uppercase().starts_with("SET ") {
                let _ = exec(&mut self.b, s);
            }
        }
        let t0 = Instant::now();
        let r = exec(&mut self.b, &step.sql[index]);
        let t1 = Instant::now();
        let _ = exec(&mut self.a, "COMMIT");
        self.load.settle(t1, Duration::from_secs(10));
        let writer = self.load.max_stall(Role::Writer, t0, t1);
        let reader = self.load.max_stall(Role::Reader, t0, t1);
        let gave_up = r.as_ref().err().and_then(|e| error_code(e)) == Some(1205);
        let attempt = crate::queue::Attempt {
            error: r.err(),
            step_ms: t1.duration_since(t0).as_secs_f64() * 1000.0,
            arriving_ms: None,
            load_ms: writer.max(reader).as_secs_f64() * 1000.0,
        };
        let (ok, claimed, observed) = crate::queue::judge(step, &attempt, gave_up);
        self.claim(
            Kind::Blocking,
            place,
            "behind an open transaction holding a shared metadata lock",
            &claimed,
            &format!(
                "{observed} (writer {} ms, reader {} ms)",
                writer.as_millis(),
                reader.as_millis()
            ),
            ok,
        );
    }

    /// Clones every table of the case database, empty, into database `probe`.
    fn clone_schema(&mut self) -> Result<(), String> {
        let tables = text_rows(
            &mut self.c,
            &format!("SELECT table_name FROM information_schema.tables WHERE table_schema = '{DB}' AND table_type = 'BASE TABLE' ORDER BY table_name"),
        )?;
        exec(
            &mut self.p,
            "SET SESSION foreign_key_checks = 0; DROP DATABASE IF EXISTS probe; CREATE DATABASE probe; USE probe",
        )?;
        for t in tables {
            let name = t.into_iter().next().flatten().unwrap_or_default();
            let rows = text_rows(&mut self.c, &format!("SHOW CREATE TABLE `{DB}`.`{name}`"))?;
            let ddl = rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().nth(1).flatten())
                .ok_or_else(|| format!("no SHOW CREATE TABLE for {name}"))?;
            exec(&mut self.p, &ddl)?;
        }
        exec(&mut self.p, "SET SESSION foreign_key_checks = DEFAULT")
    }

    /// Runs `sql` (the step's statement `index`, rewritten) on a fresh empty copy of the
    /// schema, after the step's SET statements that come before it.
    fn try_on_copy(&mut self, step: &Step, index: usize, sql: &str) -> Result<(), String> {
        self.clone_schema()?;
        for s in step.sql.iter().take(index) {
            if s.trim_start().to_ascii_uppercase().starts_with("SET ") {
                exec(&mut self.p, s)?;
            }
        }
        let r = exec(&mut self.p, sql);
        let _ = exec(
            &mut self.p,
            "SET SESSION foreign_key_checks = DEFAULT, unique_checks = DEFAULT",
        );
        r
    }

    /// The server's verdict on the step's ALTER statements: the claimed clause is accepted; a
    /// clause claiming to block writes is needed (LOCK=NONE is refused); and, once per
    /// operation, the strongest clause the server accepts (the facts of the report).
    fn probe_clauses(&mut self, place: &str, step: &Step, algorithm: Algorithm, lock: LockClause) {
        let statements: Vec<(usize, String)> = step
            .sql
            .iter()
            .enumerate()
            .filter(|(_, s)| with_clause(s, "INSTANT", "").is_some())
            .map(|(i, s)| (i, s.clone()))
            .collect();
        for (index, stmt) in statements {
            let claimed = MysqlLock::Alter { algorithm, lock }.name();
            let Some(sql) = with_clause(&stmt, algorithm_word(algorithm), lock_word(lock)) else {
                continue;
            };
            let verdict = self.try_on_copy(step, index, &sql);
            self.claim(
                Kind::Lock,
                place,
                "the server accepts the claimed clause (on an empty copy of the schema)",
                &claimed,
                &match &verdict {
                    Ok(()) => format!("accepted: {}", short(&sql, 200)),
                    Err(e) => format!("refused: {e} [{}]", short(&sql, 200)),
                },
                verdict.is_ok(),
            );
            let blocks_writes = algorithm == Algorithm::Copy
                || matches!(lock, LockClause::Shared | LockClause::Exclusive);
            if blocks_writes {
                let online = with_clause(&stmt, "INPLACE", "NONE").unwrap_or_default();
                let verdict = self.try_on_copy(step, index, &online);
                self.claim(
                    Kind::Lock,
                    place,
                    "the server refuses the non-blocking form (so the step must block writes)",
                    "ALGORITHM=INPLACE, LOCK=NONE refused",
                    &match &verdict {
                        Ok(()) => format!(
                            "accepted: the step need not block writes [{}]",
                            short(&online, 200)
                        ),
                        Err(e) => format!("refused: {e}"),
                    },
                    verdict.is_err(),
                );
            }
            if step.rewrites_table && algorithm == Algorithm::Inplace {
                self.nocopy_refused_claim(place, step, index, &stmt, lock);
            }
            self.ladder(&stmt, step, index);
        }
    }

    /// A step that says INPLACE because it rebuilds the table: MariaDB must refuse the same
    /// statement under ALGORITHM=NOCOPY (which refuses any rebuild), or the plan should have
    /// written NOCOPY and claimed no rebuild. The other half of the NOCOPY steps' claim.
    fn nocopy_refused_claim(
        &mut self,
        place: &str,
        step: &Step,
        index: usize,
        stmt: &str,
        lock: LockClause,
    ) {
        let Some(nocopy) = with_clause(stmt, "NOCOPY", lock_word(lock)) else {
            return;
        };
        let verdict = self.try_on_copy(step, index, &nocopy);
        self.claim(
            Kind::Rewrite,
            place,
            "the server refuses ALGORITHM=NOCOPY (so the step must rebuild the table)",
            "ALGORITHM=NOCOPY refused",
            &match &verdict {
                Ok(()) => format!(
                    "accepted: the step need not rebuild the table [{}]",
                    short(&nocopy, 200)
                ),
                Err(e) => format!("refused: {e}"),
            },
            verdict.is_err(),
        );
    }

    fn ladder(&mut self, stmt: &str, step: &Step, index: usize) {
        let op = operation(stmt);
        if !self.seen_ops.insert(op.clone()) {
            return;
        }
        let mut refusal = String::new();
        for (alg, lock) in LADDER {
            let Some(sql) = with_clause(stmt, alg, lock) else {
                return;
            };
            match self.try_on_copy(step, index, &sql) {
                Ok(()) => {
                    let clause = if lock.is_empty() {
                        format!("ALGORITHM={alg}")
                    } else {
                        format!("ALGORITHM={alg}, LOCK={lock}")
                    };
                    self.result.facts.push(format!(
                        "`{op}`: {clause}{}",
                        if refusal.is_empty() {
                            String::new()
                        } else {
                            format!(" (stronger refused: {refusal})")
                        }
                    ));
                    return;
                }
                Err(e) => refusal = e,
            }
        }
        self.result
            .facts
            .push(format!("`{op}`: every clause refused (last: {refusal})"));
    }

    /// Runs a pt-online-schema-change (or other) command against the test server.
    fn run_shell(&mut self, cmd: &str) -> UnitObs {
        let mut obs = UnitObs::default();
        let tool = cmd
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let cmd = connect_shell(cmd, &self.server.defaults_file.display().to_string(), DB);
        let start = Instant::now();
        let child = Command::new("bash")
            .arg("-c")
            .arg(&cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => {
                obs.error = Some(format!("{tool}: {e}"));
                return obs;
            }
        };
        let pid = child.id();
        let deadline = start + self.opts.step_timeout;
        let mut timed_out = false;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() > deadline => {
                    timed_out = true;
                    let _ = child.kill();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        let out = child.wait_with_output();
        let end = Instant::now();
        obs.seconds = end.duration_since(start).as_secs_f64();
        obs.window = Some((start, end));
        self.load.settle(end, Duration::from_secs(10));
        match out {
            Ok(o) if o.status.success() && !timed_out => {
                if self.opts.verbose {
                    eprintln!("{}", String::from_utf8_lossy(&o.stdout));
                }
            }
            Ok(o) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                let tail: Vec<&str> = text.lines().rev().take(6).collect();
                obs.error = Some(format!(
                    "{tool} (pid {pid}) {}: {}{}",
                    if timed_out {
                        format!(
                            "did not finish within {} s",
                            self.opts.step_timeout.as_secs()
                        )
                    } else {
                        format!("exited with {}", o.status)
                    },
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | "),
                    if text.contains("command not found") {
                        " (scripts/setup.sh mariadb installs percona-toolkit)"
                    } else {
                        ""
                    }
                ));
            }
            Err(e) => obs.error = Some(format!("{tool}: {e}")),
        }
        obs
    }

    /// Runs every unit of a step on B, without probes; the last statement's rows and count.
    fn run_plain(&mut self, units: &[Vec<String>]) -> Result<(Rows, u64), String> {
        let mut last = (Vec::new(), 0);
        for unit in units {
            let tx = unit.len() > 1;
            if tx {
                exec(&mut self.b, "START TRANSACTION")?;
            }
            for stmt in unit {
                match text_rows(&mut self.b, stmt) {
                    Ok(rows) => last = (rows, self.b.affected_rows()),
                    Err(e) => {
                        if tx {
                            let _ = exec(&mut self.b, "ROLLBACK");
                        }
                        return Err(e);
                    }
                }
            }
            if tx {
                exec(&mut self.b, "COMMIT")?;
            }
        }
        Ok(last)
    }

    /// Runs one unit on B; with `probe`, A first holds a shared metadata lock on the table in
    /// an open transaction (traffic paused) until B is seen waiting for its exclusive lock.
    fn run_unit(&mut self, unit: &[String], in_transaction: bool, probe: bool) -> UnitObs {
        let mut obs = UnitObs::default();
        self.load.pause();
        let mut holding = false;
        if probe {
            holding = exec(
                &mut self.a,
                &format!("START TRANSACTION; SELECT 1 FROM `{}` LIMIT 1", self.target),
            )
            .is_ok();
            if !holding {
                let _ = exec(&mut self.a, "ROLLBACK");
            }
            obs.probed = holding;
        }
        let done = &AtomicBool::new(false);
        let exec_end: &Mutex<Option<Instant>> = &Mutex::new(None);
        let b = &mut self.b;
        let b_id = self.b_id;
        let step_timeout = self.opts.step_timeout;
        let unit_start = Instant::now();
        let deadline = unit_start + step_timeout;
        let mut cancelled = false;
        std::thread::scope(|s| {
            let runner = s.spawn(move || {
                let r = (|| -> Result<(Rows, u64), String> {
                    let mut rows = Vec::new();
                    if in_transaction {
                        exec(b, "START TRANSACTION")?;
                    }
                    for stmt in unit {
                        match text_rows(b, stmt) {
                            Ok(r) => rows = r,
                            Err(e) => {
                                if in_transaction {
                                    let _ = exec(b, "ROLLBACK");
                                }
                                return Err(e);
                            }
                        }
                    }
                    let affected = b.affected_rows();
                    if in_transaction {
                        exec(b, "COMMIT")?;
                    }
                    Ok((rows, affected))
                })();
                *exec_end.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                done.store(true, Ordering::SeqCst);
                r
            });
            if holding {
                let wait_deadline = Instant::now() + Duration::from_millis(1500);
                while !done.load(Ordering::SeqCst) && Instant::now() < wait_deadline {
                    if let Ok(Some(state)) = text_value(
                        &mut self.c,
                        &format!(
                            "SELECT state FROM information_schema.processlist WHERE id = {b_id}"
                        ),
                    ) {
                        if state.contains("metadata lock") {
                            obs.waited = Some(state);
                            break;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                let _ = exec(&mut self.a, "COMMIT");
            }
            let window_start = Instant::now();
            self.load.resume();
            while !done.load(Ordering::SeqCst) {
                if !cancelled && Instant::now() > deadline {
                    cancelled = true;
                    let _ = exec(&mut self.c, &format!("KILL QUERY {b_id}"));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let r = runner
                .join()
                .unwrap_or_else(|_| Err("runner thread died".into()));
            match r {
                Ok((rows, affected)) => {
                    obs.rows = rows;
                    obs.affected = affected;
                }
                Err(e) if cancelled => {
                    obs.error = Some(format!(
                        "did not finish within {} s: cancelled by the verifier ({e})",
                        step_timeout.as_secs()
                    ))
                }
                Err(e) => obs.error = Some(e),
            }
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
        self.load.settle(
            obs.window.map(|w| w.1).unwrap_or_else(Instant::now),
            Duration::from_secs(10),
        );
        obs
    }

    fn data_claim(&mut self) -> Result<(), String> {
        let d = &self.case.data;
        let new_sql = data_sql(&d.from, &d.cols);
        let truth_sql = data_sql("verify.truth", &d.truth);
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
        let observed = if ok {
            observed
        } else {
            // Which rows differ: the first few, new shape vs truth, by key.
            let diff_sql = data_diff_sql(&d.from, &d.cols, &d.truth);
            let count = text_value(
                &mut self.c,
                &format!(
                    "SELECT COUNT(*) FROM ({}) x",
                    diff_sql.trim_end_matches(" ORDER BY k LIMIT 3")
                ),
            )
            .ok()
            .flatten()
            .unwrap_or_default();
            let diff = text_rows(&mut self.c, &diff_sql)
                .map(|rows| {
                    rows.into_iter()
                        .map(|r| {
                            let r: Vec<String> = r
                                .into_iter()
                                .map(|v| v.unwrap_or("missing".into()))
                                .collect();
                            format!("id {}: new {} / truth {}", r[0], r[1], r[2])
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_else(|e| e);
            format!("{observed}; {count} row(s) differ, first: {diff}")
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

/// A schema dump with the leading underscores of every constraint name removed: only the
/// names differ, never a definition, when two dumps compare equal this way.
fn without_fk_underscores(dump: &str) -> String {
    dump.lines()
        .map(|l| match l.split_once("CONSTRAINT `") {
            Some((head, rest)) => format!("{head}CONSTRAINT `{}", rest.trim_start_matches('_')),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// When `after` is `before` plus whole tables that the rollback says it leaves
/// ([`Leftover::Table`]), those tables.
fn kept_tables(before: &str, after: &str, leaves: &[&Leftover]) -> Option<Vec<String>> {
    let b: BTreeSet<&str> = before.lines().collect();
    let a: BTreeSet<&str> = after.lines().collect();
    if !b.is_subset(&a) {
        return None;
    }
    let extra: BTreeSet<String> = a
        .difference(&b)
        .map(|l| {
            l.strip_prefix("table ")
                .and_then(|r| r.split_once(':'))
                .map(|(t, _)| t.to_string())
        })
        .collect::<Option<_>>()?;
    let named = !extra.is_empty()
        && extra
            .iter()
            .all(|t| leaves.contains(&&Leftover::Table(t.clone())));
    named.then(|| extra.into_iter().collect())
}

/// The first rows (by key) where the migrated shape and the truth differ.
fn data_diff_sql(from: &str, cols: &[String], truth: &[String]) -> String {
    let row = |cols: &[String]| {
        cols.iter()
            .map(|c| format!("COALESCE(CAST(({c}) AS CHAR), '<null>')"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "WITH n AS (SELECT ({nk}) AS k, CONCAT_WS('|', {nv}) AS v FROM {from}), \
         t AS (SELECT ({tk}) AS k, CONCAT_WS('|', {tv}) AS v FROM verify.truth) \
         SELECT * FROM (SELECT t.k, n.v AS new_row, t.v AS truth_row FROM t LEFT JOIN n ON n.k = t.k \
         WHERE n.v IS NULL OR n.v <> t.v \
         UNION ALL SELECT n.k, n.v, NULL FROM n LEFT JOIN t ON t.k = n.k WHERE t.k IS NULL) d \
         ORDER BY k LIMIT 3",
        nk = cols[0],
        nv = row(cols),
        tk = truth[0],
        tv = row(truth),
    )
}

/// Deadlock or lock wait timeout: what an application retries.
fn retryable(message: &str) -> bool {
    matches!(error_code(message), Some(1213) | Some(1205))
}

/// The end of a repeated batch: no row returned and none changed, or a single 0.
fn batch_done(rows: &[Vec<Option<String>>], affected: u64) -> bool {
    (rows.is_empty() && affected == 0)
        || (rows.len() == 1 && rows[0].first().cloned().flatten().as_deref() == Some("0"))
}

/// The operation of an ALTER without its table name and ALGORITHM/LOCK clauses, for the facts.
fn operation(stmt: &str) -> String {
    let s = strip_option(
        &strip_option(stmt.trim().trim_end_matches(';'), "ALGORITHM"),
        "LOCK",
    );
    let words: Vec<&str> = s.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("ALTER"))
    {
        // Drop "ALTER [ONLINE|IGNORE] TABLE <name>".
        let skip = if words
            .get(1)
            .is_some_and(|w| !w.eq_ignore_ascii_case("TABLE"))
        {
            4
        } else {
            3
        };
        return words
            .iter()
            .skip(skip)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
    }
    words.join(" ")
}

/// True when `sql` names `table` (bare or backquoted) as a whole word.
fn mentions(sql: &str, table: &str) -> bool {
    let b = sql.as_bytes();
    sql.match_indices(table).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| b[j]);
        let after = b.get(i + table.len()).copied();
        let word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
        !word(before) && !word(after)
    })
}

/// See [`MyExec::schema_dump`].
pub fn schema_dump(c: &mut Conn) -> Result<String, String> {
    schema_dump_of(c, DB)
}

/// Tables (SHOW CREATE TABLE, AUTO_INCREMENT counters left out), views and triggers of
/// database `db`, one line each, sorted.
pub fn schema_dump_of(c: &mut Conn, db: &str) -> Result<String, String> {
    let mut out = Vec::new();
    let tables = text_rows(
        c,
        &format!("SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = '{db}' ORDER BY table_name"),
    )?;
    for t in tables {
        let name = t[0].clone().unwrap_or_default();
        let kind = t[1].clone().unwrap_or_default();
        if kind == "VIEW" {
            let rows = text_rows(c, &format!("SHOW CREATE VIEW `{db}`.`{name}`"))?;
            let ddl = rows
                .into_iter()
                .next()
                .and_then(|r| r.into_iter().nth(1).flatten())
                .unwrap_or_default();
            out.push(format!("view {name}: {ddl}"));
            continue;
        }
        let rows = text_rows(c, &format!("SHOW CREATE TABLE `{db}`.`{name}`"))?;
        let ddl = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().nth(1).flatten())
            .unwrap_or_default();
        let mut lines: Vec<String> = ddl
            .lines()
            .map(|l| {
                let l = l.trim().trim_end_matches(',');
                // The counter moves with every insert: not part of the schema.
                let mut words: Vec<&str> = l
                    .split(' ')
                    .filter(|w| !w.starts_with("AUTO_INCREMENT="))
                    .collect();
                words.retain(|w| !w.is_empty());
                words.join(" ")
            })
            .collect();
        lines.sort();
        for l in lines {
            out.push(format!("table {name}: {l}"));
        }
    }
    let triggers = text_rows(
        c,
        &format!(
            "SELECT trigger_name, action_timing, event_manipulation, event_object_table, action_statement \
             FROM information_schema.triggers WHERE trigger_schema = '{db}' ORDER BY trigger_name"
        ),
    )?;
    for t in triggers {
        let parts: Vec<String> = t.into_iter().map(Option::unwrap_or_default).collect();
        out.push(format!("trigger {}", parts.join(" ")));
    }
    Ok(out.join("\n"))
}

fn short(s: &str, n: usize) -> String {
    let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cleanup step of a MariaDB change-type plan made with pt-online-schema-change: the
    /// DROP TABLE of the old table, on a table of `size`.
    fn drop_step(size: &str) -> Step {
        let p = Params::new()
            .with("db", "mariadb@10.11.6")
            .with("change", "change-type")
            .with("table", "orders")
            .with("column", "customer_id")
            .with("from-type", "integer")
            .with("to-type", "bigint")
            .with("rows", "200k")
            .with("size", size)
            .with("max-downtime", "0");
        let plan = lockstep_planner::plan(&p).unwrap();
        plan.phases
            .iter()
            .find(|p| p.name == "cleanup")
            .map(|p| p.steps[0].clone())
            .unwrap()
    }

    fn stalls(writer_ms: u64, reader_ms: u64, locked: bool) -> Stalls {
        Stalls {
            writer: Duration::from_millis(writer_ms),
            reader: Duration::from_millis(reader_ms),
            locked,
        }
    }

    #[test]
    fn a_drop_is_held_to_its_claimed_server_stall_lock_or_no_lock() {
        let threshold = Duration::from_millis(200);
        let drop = drop_step("20MB");
        let claim = drop.server_stall_seconds.unwrap();
        assert!(claim.high > 0.05 && claim.high < 0.06, "{claim:?}");
        // 35 ms, as seen on 10.11: within the claim.
        assert!(judge_blocking(&drop, &stalls(35, 3, false), threshold).0);
        // 400 ms with no lock in sight: beyond the claim and the allowance.
        let (ok, claimed) = judge_blocking(&drop, &stalls(400, 3, false), threshold);
        assert!(!ok, "{claimed}");
        assert!(claimed.contains("at most 251 ms"), "{claimed}");
        // A larger table claims longer: 12 GB is 0.6 s nominal to delete, 1.2 s at worst.
        let big = drop_step("12GB");
        assert!(judge_blocking(&big, &stalls(1_000, 3, false), threshold).0);
        assert!(!judge_blocking(&big, &stalls(1_500, 3, false), threshold).0);
    }

    #[test]
    fn a_step_claiming_no_stall_still_excuses_the_machine_but_not_a_lock() {
        let threshold = Duration::from_millis(200);
        let mut quiet = drop_step("20MB");
        quiet.server_stall_seconds = None;
        assert!(judge_blocking(&quiet, &stalls(400, 3, false), threshold).0);
        assert!(!judge_blocking(&quiet, &stalls(400, 3, true), threshold).0);
        assert!(judge_blocking(&quiet, &stalls(150, 3, true), threshold).0);
    }

    #[test]
    fn clauses_are_replaced() {
        assert_eq!(
            with_clause(
                "ALTER TABLE `orders` MODIFY COLUMN `customer_id` bigint NOT NULL, ALGORITHM=COPY, LOCK=SHARED;",
                "INPLACE",
                "NONE"
            )
            .as_deref(),
            Some("ALTER TABLE `orders` MODIFY COLUMN `customer_id` bigint NOT NULL, ALGORITHM=INPLACE, LOCK=NONE")
        );
        assert_eq!(
            with_clause(
                "CREATE INDEX `i` ON `orders` (`a`) ALGORITHM = INPLACE LOCK = NONE",
                "COPY",
                "SHARED"
            )
            .as_deref(),
            Some("CREATE INDEX `i` ON `orders` (`a`) ALGORITHM=COPY LOCK=SHARED")
        );
        // A column named lock_reason and a quoted 'LOCK=NONE' stay.
        assert_eq!(
            with_clause("ALTER TABLE t ADD COLUMN lock_reason varchar(9) DEFAULT 'LOCK=NONE'", "INSTANT", "")
                .as_deref(),
            Some("ALTER TABLE t ADD COLUMN lock_reason varchar(9) DEFAULT 'LOCK=NONE', ALGORITHM=INSTANT")
        );
        assert_eq!(with_clause("RENAME TABLE a TO b", "INSTANT", ""), None);
    }

    #[test]
    fn operations_drop_table_and_clauses() {
        assert_eq!(
            operation("ALTER TABLE `orders` ADD COLUMN `x` int, ALGORITHM=INSTANT, LOCK=NONE;"),
            "ADD COLUMN `x` int"
        );
        assert_eq!(
            operation("ALTER ONLINE TABLE orders DROP INDEX i"),
            "DROP INDEX i"
        );
        assert!(mentions("ALTER TABLE `orders` FORCE", "orders"));
        assert!(!mentions("ALTER TABLE order_events FORCE", "order"));
    }

    #[test]
    fn shell_commands_point_at_the_test_server() {
        let cmd = "pt-online-schema-change --alter \"MODIFY COLUMN customer_id bigint NOT NULL\" \\\n  --execute --host=db.example.com --user admin --ask-pass h=db.example.com,P=3306,D=shop,t=orders";
        let got = connect_shell(cmd, "/tmp/x.cnf", "app");
        assert!(got.contains(" D=app,t=orders"), "{got}");
        assert!(
            !got.contains("--host") && !got.contains("--user") && !got.contains("admin"),
            "{got}"
        );
        assert!(
            got.contains("\"MODIFY COLUMN customer_id bigint NOT NULL\""),
            "{got}"
        );
        assert!(got.contains("--execute"), "{got}");
    }

    #[test]
    fn planner_placeholders_are_filled() {
        let cmd = "pt-online-schema-change \\\n  --alter='MODIFY `customer_id` bigint NOT NULL' \\\n  --no-drop-old-table \\\n  --execute \\\n  'D=<database>,t=orders' \\\n  <connection options>";
        let got = connect_shell(cmd, "/x/client.cnf", "app");
        assert!(got.contains("'D=app,t=orders'"), "{got}");
        assert!(got.contains("--defaults-file=/x/client.cnf"), "{got}");
        assert!(!got.contains('<'), "{got}");
        // A heredoc body stays exactly as written.
        let sql = "mysql <connection options> '<database>' <<'LOCKSTEP_SQL'\nDELIMITER //\nSELECT  1 //\n  --host stays\nLOCKSTEP_SQL";
        assert_eq!(
            connect_shell(sql, "/x/c.cnf", "app"),
            "mysql --defaults-file=/x/c.cnf 'app' <<'LOCKSTEP_SQL'\nDELIMITER //\nSELECT  1 //\n  --host stays\nLOCKSTEP_SQL"
        );
        assert!(
            got.contains("--alter='MODIFY `customer_id` bigint NOT NULL'"),
            "{got}"
        );
    }

    #[test]
    fn foreign_key_renames_compare_without_underscores() {
        let before = "table c: CONSTRAINT `c_fk` FOREIGN KEY (`p`) REFERENCES `orders` (`id`)";
        let after = "table c: CONSTRAINT `__c_fk` FOREIGN KEY (`p`) REFERENCES `orders` (`id`)";
        assert_eq!(
            without_fk_underscores(before),
            without_fk_underscores(after)
        );
        let other = "table c: CONSTRAINT `__c_fk` FOREIGN KEY (`q`) REFERENCES `orders` (`id`)";
        assert_ne!(
            without_fk_underscores(before),
            without_fk_underscores(other)
        );
    }

    #[test]
    fn rollback_leftovers_named_by_the_plan() {
        let before = "table orders: `id` int";
        let after = "table _orders_rollback: `id` int\ntable orders: `id` int";
        let kept = Leftover::Table("_orders_rollback".to_string());
        assert_eq!(
            kept_tables(before, after, &[&kept]),
            Some(vec!["_orders_rollback".to_string()])
        );
        assert_eq!(kept_tables(before, after, &[]), None);
        let other = Leftover::Table("_orders_old".to_string());
        assert_eq!(kept_tables(before, after, &[&other]), None);
        // A changed line of a kept table is never explained away.
        assert_eq!(
            kept_tables(before, "table orders: `id` bigint", &[&kept]),
            None
        );
    }

    #[test]
    fn batches_end_when_nothing_changes() {
        assert!(batch_done(&[], 0));
        assert!(!batch_done(&[], 1000));
        assert!(batch_done(&[vec![Some("0".into())]], 0));
    }
}
