//! The concurrent application: a writer thread that inserts and updates rows and a reader thread
//! that selects, each on its own connection, recording the start and end of every operation so
//! the longest stall during any window can be computed afterwards.
//!
//! Every write also goes, in the same statement (a data-modifying CTE), to `verify.truth`, a
//! copy of the original table that no migration touches: after the migration, the migrated
//! table must hold exactly what the truth table holds (see `runner::data_claim`).
//!
//! Deploy gates (`Phase::app_change`) are simulated by stages: the runner moves the load to
//! stage `n` when it starts the phase of the n-th gate, and from then on both threads use the
//! SQL of that stage (a renamed column or table, a column no longer written, ...).
//!
//! The same load runs on PostgreSQL and on MariaDB ([`Dialect`]): only the SQL differs (MariaDB
//! has no data-modifying CTE, so a write and its truth copy are one multi-statement
//! transaction there).

use postgres::Client;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the application reads and writes at one stage of the rollout.
#[derive(Debug, Clone)]
pub struct AppStage {
    /// The relation the application uses (quoted as needed).
    pub table: String,
    /// Column receiving the `note` value, `None` when this stage no longer writes it.
    pub note: Option<String>,
    /// Column holding the e-mail (written on insert only).
    pub email: String,
    /// Table, keyed by the order id, that receives email and note instead of `table`
    /// (split-table once writes have switched): upserted in the same transaction.
    pub contacts_write: Option<String>,
    /// Table the reader joins for email and note (split-table once reads have switched).
    pub contacts_read: Option<String>,
}

impl AppStage {
    pub fn plain() -> AppStage {
        AppStage {
            table: "orders".to_string(),
            note: Some("note".to_string()),
            email: "email".to_string(),
            contacts_write: None,
            contacts_read: None,
        }
    }
}

/// One connection of the load: runs one query text (one or more statements) and returns the
/// first column of the first row it produced as a number (the id of an insert), if any.
pub trait Session: Send + 'static {
    fn run(&mut self, sql: &str) -> Result<Option<u64>, String>;
    /// The connection is gone: the thread stops (its error is recorded).
    fn is_closed(&self) -> bool;
}

impl Session for Client {
    fn run(&mut self, sql: &str) -> Result<Option<u64>, String> {
        let messages = self
            .simple_query(sql)
            .map_err(|e| crate::sql::pg_error(&e))?;
        let mut id = None;
        for m in messages {
            if let postgres::SimpleQueryMessage::Row(r) = m {
                if let Some(v) = r.get(0).and_then(|v| v.parse::<u64>().ok()) {
                    id = Some(v);
                }
            }
        }
        Ok(id)
    }
    fn is_closed(&self) -> bool {
        Client::is_closed(self)
    }
}

/// The SQL dialect of the load's statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mariadb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Writer,
    Reader,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Reader => "reader",
        }
    }
    fn index(self) -> usize {
        match self {
            Role::Writer => 0,
            Role::Reader => 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Op {
    role: Role,
    start: Instant,
    end: Instant,
}

#[derive(Debug, Clone)]
pub struct LoadError {
    pub role: Role,
    pub at: Instant,
    pub stage: usize,
    pub message: String,
    pub sql: String,
}

struct Shared {
    stop: AtomicBool,
    pause: AtomicBool,
    epoch: AtomicU64,
    acked: [AtomicU64; 2],
    stage: AtomicUsize,
    ops: Mutex<Vec<Op>>,
    inflight: [Mutex<Option<Instant>>; 2],
    errors: Mutex<Vec<LoadError>>,
    stages: Vec<AppStage>,
    /// Ids the writer may update: 1..=seed_rows, plus the newest inserted ids.
    seed_rows: u64,
    last_insert: AtomicU64,
    inserted: AtomicU64,
    updated: AtomicU64,
    reads: AtomicU64,
    /// Pause between two operations of one thread.
    think: Duration,
    dialect: Dialect,
}

/// The running writer and reader.
pub struct Load {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts both threads; `connect` opens a connection to the case's database.
    pub fn start(
        connect: impl Fn() -> Result<Client, String>,
        stages: Vec<AppStage>,
        seed_rows: u64,
        think: Duration,
        tag: &str,
    ) -> Result<Load, String> {
        Load::start_with(connect, Dialect::Postgres, stages, seed_rows, think, tag)
    }

    /// [`Load::start`] on any engine: `connect` opens a session speaking `dialect`.
    pub fn start_with<S: Session>(
        connect: impl Fn() -> Result<S, String>,
        dialect: Dialect,
        stages: Vec<AppStage>,
        seed_rows: u64,
        think: Duration,
        tag: &str,
    ) -> Result<Load, String> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            pause: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            acked: [AtomicU64::new(0), AtomicU64::new(0)],
            stage: AtomicUsize::new(0),
            ops: Mutex::new(Vec::new()),
            inflight: [Mutex::new(None), Mutex::new(None)],
            errors: Mutex::new(Vec::new()),
            stages,
            seed_rows,
            last_insert: AtomicU64::new(0),
            inserted: AtomicU64::new(0),
            updated: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            think,
            dialect,
        });
        let mut threads = Vec::new();
        for role in [Role::Writer, Role::Reader] {
            let mut client = connect()?;
            let shared = Arc::clone(&shared);
            let tag = format!("{tag}-{}", role.name());
            threads.push(
                std::thread::Builder::new()
                    .name(tag.clone())
                    .spawn(move || run(role, &mut client, &shared, &tag))
                    .map_err(|e| e.to_string())?,
            );
        }
        Ok(Load { shared, threads })
    }

    pub fn set_stage(&self, stage: usize) {
        self.shared.stage.store(stage, Ordering::SeqCst);
    }

    /// Stops both threads between operations and waits until they are idle (no transaction open).
    pub fn pause(&self) {
        let epoch = self.shared.epoch.fetch_add(1, Ordering::SeqCst) + 1;
        self.shared.pause.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(600);
        while self
            .shared
            .acked
            .iter()
            .any(|a| a.load(Ordering::SeqCst) < epoch)
            && Instant::now() < deadline
            && !self.threads.iter().all(|t| t.is_finished())
        {
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    pub fn resume(&self) {
        self.shared.pause.store(false, Ordering::SeqCst);
    }

    /// Waits until each thread has finished an operation that started after `after` (so an
    /// operation blocked during a window has ended), or `timeout` passed.
    pub fn settle(&self, after: Instant, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let done = {
                let ops = self.shared.ops.lock().unwrap_or_else(|p| p.into_inner());
                [Role::Writer, Role::Reader].iter().all(|r| {
                    ops.iter()
                        .rev()
                        .take(64)
                        .any(|o| o.role == *r && o.start > after)
                })
            };
            if done || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The longest operation of `role` overlapping `[from, to]`, counting one still running.
    pub fn max_stall(&self, role: Role, from: Instant, to: Instant) -> Duration {
        let mut worst = Duration::ZERO;
        {
            let ops = self.shared.ops.lock().unwrap_or_else(|p| p.into_inner());
            for o in ops.iter() {
                if o.role == role && o.start <= to && o.end >= from {
                    worst = worst.max(o.end - o.start);
                }
            }
        }
        let inflight = self.shared.inflight[role.index()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(start) = *inflight {
            if start <= to {
                worst = worst.max(start.elapsed());
            }
        }
        worst
    }

    /// Errors of either thread between `from` and `to`.
    pub fn errors_between(&self, from: Instant, to: Instant) -> Vec<LoadError> {
        self.shared
            .errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|e| e.at >= from && e.at <= to)
            .cloned()
            .collect()
    }

    /// (inserts, updates, reads) done so far.
    pub fn counts(&self) -> (u64, u64, u64) {
        (
            self.shared.inserted.load(Ordering::SeqCst),
            self.shared.updated.load(Ordering::SeqCst),
            self.shared.reads.load(Ordering::SeqCst),
        )
    }

    /// Stops both threads and waits for them.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.pause.store(false, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A tiny deterministic PRNG (xorshift64*): no dependency, reproducible runs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];

fn run<S: Session>(role: Role, client: &mut S, shared: &Shared, tag: &str) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ ((role.index() as u64 + 1) * 7919));
    let mut n: u64 = 0;
    let tag: String = tag.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.pause.load(Ordering::SeqCst) {
            let epoch = shared.epoch.load(Ordering::SeqCst);
            shared.acked[role.index()].store(epoch, Ordering::SeqCst);
            std::thread::sleep(Duration::from_micros(300));
            continue;
        }
        let stage_no = shared.stage.load(Ordering::SeqCst);
        let stage = &shared.stages[stage_no.min(shared.stages.len() - 1)];
        n += 1;
        let sql = match (role, shared.dialect) {
            (Role::Writer, Dialect::Postgres) => writer_sql(stage, shared, &mut rng, n, &tag),
            (Role::Reader, Dialect::Postgres) => reader_sql(stage, shared, &mut rng, n),
            (Role::Writer, Dialect::Mariadb) => my_writer_sql(stage, shared, &mut rng, n, &tag),
            (Role::Reader, Dialect::Mariadb) => my_reader_sql(stage, shared, &mut rng, n),
        };
        let start = Instant::now();
        *shared.inflight[role.index()]
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(start);
        let result = client.run(&sql.0);
        let end = Instant::now();
        *shared.inflight[role.index()]
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        shared
            .ops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Op { role, start, end });
        match result {
            Ok(id) => match sql.1 {
                Kind::Insert => {
                    shared.inserted.fetch_add(1, Ordering::SeqCst);
                    if let Some(id) = id {
                        shared.last_insert.store(id, Ordering::SeqCst);
                    }
                }
                Kind::Update => {
                    shared.updated.fetch_add(1, Ordering::SeqCst);
                }
                Kind::Read => {
                    shared.reads.fetch_add(1, Ordering::SeqCst);
                }
            },
            Err(e) => {
                shared
                    .errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(LoadError {
                        role,
                        at: end,
                        stage: stage_no,
                        message: e,
                        sql: sql.0.clone(),
                    });
                if client.is_closed() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        std::thread::sleep(shared.think);
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Insert,
    Update,
    Read,
}

fn writer_sql(
    stage: &AppStage,
    shared: &Shared,
    rng: &mut Rng,
    n: u64,
    tag: &str,
) -> (String, Kind) {
    let status = crate::sql::lit(STATUSES[rng.below(4) as usize]);
    let amount = format!("{}.{:02}", rng.below(100_000), rng.below(100));
    let note_value = if rng.below(3) == 0 {
        "NULL".to_string()
    } else {
        crate::sql::lit(&format!("written {n} by {tag}"))
    };
    let t = &stage.table;
    if let Some(contacts) = &stage.contacts_write {
        return split_writer_sql(
            t,
            contacts,
            shared,
            rng,
            n,
            tag,
            &status,
            &amount,
            &note_value,
        );
    }
    if !n.is_multiple_of(2) {
        let cid = 1 + rng.below(10_000);
        let created = format!("timestamp '2025-01-01' + interval '{n} seconds'");
        let email = crate::sql::lit(&format!("{tag}-{n}@example.com"));
        let (note_col, note_val, truth_note) = match &stage.note {
            Some(c) => (
                format!(", {c}"),
                format!(", {note_value}"),
                note_value.clone(),
            ),
            None => (String::new(), String::new(), "NULL".to_string()),
        };
        (
            format!(
                "WITH w AS (INSERT INTO {t} (customer_id, status, amount, created_at, {email_col}{note_col}) \
                 VALUES ({cid}, {status}, {amount}, {created}, {email}{note_val}) RETURNING id) \
                 INSERT INTO verify.truth (id, customer_id, status, amount, created_at, email, note) \
                 SELECT w.id, {cid}, {status}, {amount}, {created}, {email}, {truth_note} FROM w RETURNING id",
                email_col = stage.email
            ),
            Kind::Insert,
        )
    } else {
        // Alternate between an old row and the newest inserted one, so rows written during the
        // migration are updated too (the sync trigger must carry updates, not only inserts).
        let last = shared.last_insert.load(Ordering::SeqCst);
        let id = if n.is_multiple_of(4) && last > 0 {
            last
        } else {
            1 + rng.below(shared.seed_rows)
        };
        let note_set = match &stage.note {
            Some(c) => format!(", {c} = {note_value}"),
            None => String::new(),
        };
        let truth_note = match &stage.note {
            Some(_) => format!(", note = {note_value}"),
            None => String::new(),
        };
        (
            format!(
                "WITH w AS (UPDATE {t} SET status = {status}, amount = {amount}{note_set} WHERE id = {id} RETURNING id) \
                 UPDATE verify.truth v SET status = {status}, amount = {amount}{truth_note} FROM w WHERE v.id = w.id"
            ),
            Kind::Update,
        )
    }
}

/// The application after a split-table write switch: the row of `table` without email and
/// note, then an upsert of them into `contacts` (as the plan's deploy gate says), in one
/// transaction (a multi-statement simple query is one implicit transaction).
#[allow(clippy::too_many_arguments)]
fn split_writer_sql(
    t: &str,
    contacts: &str,
    shared: &Shared,
    rng: &mut Rng,
    n: u64,
    tag: &str,
    status: &str,
    amount: &str,
    note: &str,
) -> (String, Kind) {
    if !n.is_multiple_of(2) {
        let cid = 1 + rng.below(10_000);
        let created = format!("timestamp '2025-01-01' + interval '{n} seconds'");
        let email = crate::sql::lit(&format!("{tag}-{n}@example.com"));
        (
            format!(
                "WITH w AS (INSERT INTO {t} (customer_id, status, amount, created_at) \
                 VALUES ({cid}, {status}, {amount}, {created}) RETURNING id) \
                 INSERT INTO verify.truth (id, customer_id, status, amount, created_at, email, note) \
                 SELECT w.id, {cid}, {status}, {amount}, {created}, {email}, {note} FROM w; \
                 INSERT INTO {contacts} (id, email, note) VALUES (lastval(), {email}, {note}) \
                 ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, note = EXCLUDED.note \
                 RETURNING id"
            ),
            Kind::Insert,
        )
    } else {
        let last = shared.last_insert.load(Ordering::SeqCst);
        let id = if n.is_multiple_of(4) && last > 0 {
            last
        } else {
            1 + rng.below(shared.seed_rows)
        };
        (
            format!(
                "WITH w AS (UPDATE {t} SET status = {status}, amount = {amount} WHERE id = {id} RETURNING id) \
                 UPDATE verify.truth v SET status = {status}, amount = {amount}, note = {note} FROM w WHERE v.id = w.id; \
                 UPDATE {contacts} SET note = {note} WHERE id = {id}"
            ),
            Kind::Update,
        )
    }
}

fn reader_sql(stage: &AppStage, shared: &Shared, rng: &mut Rng, n: u64) -> (String, Kind) {
    let t = &stage.table;
    let sql = if let (true, Some(c)) = (n.is_multiple_of(2), &stage.contacts_read) {
        format!(
            "SELECT o.id, o.status, o.amount, n.email, n.note FROM {t} o LEFT JOIN {c} n ON n.id = o.id WHERE o.id = {}",
            1 + rng.below(shared.seed_rows)
        )
    } else if n.is_multiple_of(2) {
        format!(
            "SELECT * FROM {t} WHERE id = {}",
            1 + rng.below(shared.seed_rows)
        )
    } else {
        format!(
            "SELECT count(*), sum(amount) FROM {t} WHERE customer_id = {}",
            1 + rng.below(10_000)
        )
    };
    (sql, Kind::Read)
}

/// MariaDB: the write and its copy into `verify.truth` in one transaction (no data-modifying
/// CTE there); an insert ends with `SELECT @id` so the new id is known.
fn my_writer_sql(
    stage: &AppStage,
    shared: &Shared,
    rng: &mut Rng,
    n: u64,
    tag: &str,
) -> (String, Kind) {
    let status = crate::sql::lit(STATUSES[rng.below(4) as usize]);
    let amount = format!("{}.{:02}", rng.below(100_000), rng.below(100));
    let note_value = if rng.below(3) == 0 {
        "NULL".to_string()
    } else {
        crate::sql::lit(&format!("written {n} by {tag}"))
    };
    let t = &stage.table;
    if !n.is_multiple_of(2) {
        let cid = 1 + rng.below(10_000);
        let created = format!("TIMESTAMP '2025-01-01 00:00:00' + INTERVAL {n} SECOND");
        let email = crate::sql::lit(&format!("{tag}-{n}@example.com"));
        let (cols, vals, contacts) = match &stage.contacts_write {
            Some(c) => (
                String::new(),
                String::new(),
                format!(
                    " INSERT INTO {c} (id, email, note) VALUES (@id, {email}, {note_value}) \
                     ON DUPLICATE KEY UPDATE email = VALUES(email), note = VALUES(note);"
                ),
            ),
            None => {
                let (nc, nv) = match &stage.note {
                    Some(c) => (format!(", {c}"), format!(", {note_value}")),
                    None => (String::new(), String::new()),
                };
                (
                    format!(", {}{nc}", stage.email),
                    format!(", {email}{nv}"),
                    String::new(),
                )
            }
        };
        let truth_note = if stage.note.is_some() || stage.contacts_write.is_some() {
            note_value.clone()
        } else {
            "NULL".to_string()
        };
        (
            format!(
                "START TRANSACTION; \
                 INSERT INTO {t} (customer_id, status, amount, created_at{cols}) \
                 VALUES ({cid}, {status}, {amount}, {created}{vals}); \
                 SET @id = LAST_INSERT_ID(); \
                 INSERT INTO verify.truth (id, customer_id, status, amount, created_at, email, note) \
                 VALUES (@id, {cid}, {status}, {amount}, {created}, {email}, {truth_note});{contacts} \
                 COMMIT; SELECT @id"
            ),
            Kind::Insert,
        )
    } else {
        let last = shared.last_insert.load(Ordering::SeqCst);
        let id = if n.is_multiple_of(4) && last > 0 {
            last
        } else {
            1 + rng.below(shared.seed_rows)
        };
        let (note_set, truth_note, contacts) = match (&stage.contacts_write, &stage.note) {
            (Some(c), _) => (
                String::new(),
                format!(", note = {note_value}"),
                format!(" UPDATE {c} SET note = {note_value} WHERE id = {id};"),
            ),
            (None, Some(col)) => (
                format!(", {col} = {note_value}"),
                format!(", note = {note_value}"),
                String::new(),
            ),
            (None, None) => (String::new(), String::new(), String::new()),
        };
        (
            format!(
                "START TRANSACTION; \
                 UPDATE {t} SET status = {status}, amount = {amount}{note_set} WHERE id = {id}; \
                 UPDATE verify.truth SET status = {status}, amount = {amount}{truth_note} WHERE id = {id};{contacts} \
                 COMMIT"
            ),
            Kind::Update,
        )
    }
}

fn my_reader_sql(stage: &AppStage, shared: &Shared, rng: &mut Rng, n: u64) -> (String, Kind) {
    let t = &stage.table;
    let sql = if let (true, Some(c)) = (n.is_multiple_of(2), &stage.contacts_read) {
        format!(
            "SELECT o.id, o.status, o.amount, n.email, n.note FROM {t} o LEFT JOIN {c} n ON n.id = o.id WHERE o.id = {}",
            1 + rng.below(shared.seed_rows)
        )
    } else if n.is_multiple_of(2) {
        format!(
            "SELECT * FROM {t} WHERE id = {}",
            1 + rng.below(shared.seed_rows)
        )
    } else {
        format!(
            "SELECT count(*), sum(amount) FROM {t} WHERE customer_id = {}",
            1 + rng.below(10_000)
        )
    };
    (sql, Kind::Read)
}
