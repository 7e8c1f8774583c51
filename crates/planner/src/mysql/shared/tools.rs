//! Online-schema-change tools, for the changes InnoDB can only make by copying the table
//! (type changes, computed defaults, CHECK constraints): which tool, why, and its real
//! command line.
//!
//! All three copy the table in chunks into a shadow table, keep it in sync with the writes
//! that happen meanwhile, and swap the two with an atomic RENAME under a brief exclusive
//! metadata lock (the cut-over). All three need a primary key or a unique NOT NULL key.
//! - Spirit (MySQL 8.0+): parallel copy and binlog apply, checksum before cut-over, deferred
//!   cut-over; lets replicas lag up to `--replica-max-lag`, so it suits primaries whose
//!   replicas do not serve reads that must be fresh.
//! - gh-ost (MySQL 5.7+): triggerless, reads the binlog (binlog_format=ROW), throttles on
//!   replica lag, postponed cut-over; no foreign keys, no MariaDB.
//! - pt-online-schema-change (any MySQL or MariaDB): triggers on the table; the only one
//!   that handles foreign keys (`--alter-foreign-keys-method`).

use crate::model::{
    human_seconds_up, longest_blocking, Algorithm, AppRetry, Check, Estimate, Expected, Leftover,
    LockClause, MysqlLock, Phase, RollbackStep, Step, Warning,
};
use crate::mysql::facts;
use crate::mysql::{lock_wait_seconds, Ctx};
use crate::quote::{mysql as q, shell};
use crate::request::{FieldError, OscTool};
use crate::strategy::check;

/// `ALGORITHM=COPY, LOCK=SHARED`: the server's own copy, reads continue and writes wait for
/// the whole copy. The direct path of every change InnoDB cannot make in place.
pub const COPY_SHARED: MysqlLock = MysqlLock::Alter {
    algorithm: Algorithm::Copy,
    lock: LockClause::Shared,
};

/// The phase that swaps the new table in: the cut-over, or the copy phase of
/// pt-online-schema-change, which cuts over by itself.
pub fn swap_phase(phases: &mut [Phase]) -> Option<&mut Phase> {
    let at = phases
        .iter()
        .position(|p| p.name == "cut-over")
        .or_else(|| phases.iter().position(|p| p.name == "copy"))?;
    Some(&mut phases[at])
}

/// Adds `checks` to the [`swap_phase`]: what must hold once the new table serves traffic.
pub fn check_after_cut_over(phases: &mut [Phase], checks: Vec<Check>) {
    if let Some(phase) = swap_phase(phases) {
        phase.checks.extend(checks);
    }
}

/// The online path when a tool can make it; when none can (no primary key, no allowed tool
/// fits) but the direct path fits the budget, the plan goes without it and says why in a
/// warning. Otherwise the tool's error, naming its field, stands.
pub fn optional_online(
    ctx: &Ctx,
    direct: &[Phase],
    online: Result<Vec<Phase>, FieldError>,
    warnings: &mut Vec<Warning>,
) -> Result<Option<Vec<Phase>>, FieldError> {
    match online {
        Ok(phases) => Ok(Some(phases)),
        Err(e) if longest_blocking(direct) <= ctx.req.max_downtime_ms as f64 / 1000.0 => {
            warnings.push(Warning {
                code: "no-online-tool".to_string(),
                message: format!(
                    "No online-schema-change tool can make this change here ({}: {}), so only the direct statement is offered; it fits the budget.",
                    e.field, e.message
                ),
            });
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The tool chosen for a request, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub tool: OscTool,
    pub why: String,
}

/// Picks the tool: the best that fits the server and the table, among those allowed.
pub fn choose(ctx: &Ctx) -> Result<Choice, FieldError> {
    let server = ctx.server;
    let env = &ctx.req.env;
    if env.primary_key.is_none() {
        return Err(FieldError::new(
            "primary-key",
            "is none: gh-ost, pt-online-schema-change and Spirit all need a primary key or a unique NOT NULL key to copy the table in chunks; accepts a column name (default id)",
        ));
    }
    // Each tool with the reason it cannot be used here, if any.
    let unfit = |tool: OscTool| -> Option<String> {
        match tool {
            OscTool::Spirit if !facts::SPIRIT_SUPPORTED.holds(server) => Some(format!(
                "Spirit supports MySQL 8.0 and later only, not {} {}",
                ctx.req.db.engine.label(),
                ctx.req.db.version
            )),
            OscTool::GhOst if !facts::GHOST_SUPPORTED.holds(server) => {
                Some("gh-ost does not support MariaDB".to_string())
            }
            OscTool::Spirit | OscTool::GhOst if env.foreign_keys => Some(format!(
                "{} does not support tables with foreign keys",
                tool.name()
            )),
            _ => None,
        }
    };
    // Preference: Spirit is fastest (parallel copy, checksum) but lets replicas lag, so gh-ost
    // goes first when replicas follow; pt-online-schema-change works everywhere.
    let order: [OscTool; 3] = if env.replicas {
        [
            OscTool::GhOst,
            OscTool::Spirit,
            OscTool::PtOnlineSchemaChange,
        ]
    } else {
        [
            OscTool::Spirit,
            OscTool::GhOst,
            OscTool::PtOnlineSchemaChange,
        ]
    };
    let mut passed_over = Vec::new();
    for tool in order {
        if let Some(reason) = unfit(tool) {
            passed_over.push(reason);
            continue;
        }
        if !env.osc_tools.contains(&tool) {
            passed_over.push(format!("{} is not in osc-tools", tool.name()));
            continue;
        }
        let strength = match tool {
            OscTool::Spirit => "Spirit copies with several threads and checksums the copy before cutting over",
            OscTool::GhOst => "gh-ost adds no triggers (it reads the binlog) and throttles on replica lag",
            OscTool::PtOnlineSchemaChange => "pt-online-schema-change works on every MySQL and MariaDB version and handles foreign keys",
        };
        let why = if passed_over.is_empty() {
            format!("{strength}.")
        } else {
            format!("{strength}; passed over: {}.", passed_over.join("; "))
        };
        return Ok(Choice { tool, why });
    }
    Err(FieldError::new(
        "osc-tools",
        format!(
            "no allowed tool fits this table: {}. {}",
            passed_over.join("; "),
            crate::request::params::accepts("osc-tools")
        ),
    ))
}

/// Connection options in the tool's own syntax, left for the operator to fill in.
const CONNECTION: &str = "<connection options>";

/// The Spirit release whose `spirit migrate` flags the command line is written for (its
/// `docs/migrate.md`): `--skip-force-kill` exists there but was removed after it, so the plan
/// does not rely on it and says what force-kill does instead.
pub const SPIRIT_RELEASE: &str = "v0.16.0";

/// Every flag the plan writes for each tool, checked against the tool's documented flags
/// (gh-ost `doc/command-line-flags.md`, pt-online-schema-change 3.x manual, Spirit
/// [`SPIRIT_RELEASE`] `docs/migrate.md`). The test below fails when a command line grows a
/// flag that is not listed here, so a new flag is looked up before it ships.
#[cfg(test)]
const DOCUMENTED_FLAGS: [(OscTool, &[&str]); 3] = [
    (
        OscTool::GhOst,
        &[
            "--database",
            "--table",
            "--alter",
            "--chunk-size",
            "--max-load",
            "--critical-load",
            "--max-lag-millis",
            "--allow-on-master",
            "--cut-over-lock-timeout-seconds",
            "--default-retries",
            "--postpone-cut-over-flag-file",
            "--exact-rowcount",
            "--concurrent-rowcount",
            "--verbose",
            "--execute",
        ],
    ),
    (
        OscTool::PtOnlineSchemaChange,
        &[
            "--alter",
            "--chunk-size",
            "--max-load",
            "--critical-load",
            "--max-lag",
            "--check-interval",
            "--recursion-method",
            "--set-vars",
            "--alter-foreign-keys-method",
            "--no-drop-old-table",
            "--execute",
            "--dry-run",
        ],
    ),
    (
        OscTool::Spirit,
        &[
            "--host",
            "--username",
            "--password",
            "--database",
            "--table",
            "--alter",
            "--threads",
            "--target-chunk-time",
            "--lock-wait-timeout",
            "--replica-dsn",
            "--replica-max-lag",
            "--defer-cutover",
            "--skip-drop-after-cutover",
        ],
    ),
];

/// Spirit's connection flags (it takes `host:port` in `--host`, and no `--port`).
const SPIRIT_CONNECTION: &str = "--host=<host:port> --username=<user> --password=<password>";

/// The sentinel table Spirit creates with `--defer-cutover` and waits on: always this name,
/// in the schema of the table being altered, shared by every Spirit run in that schema.
const SPIRIT_SENTINEL: &str = "_spirit_sentinel";

/// The schema the tool must be told (tools do not read the session's default database).
fn database(ctx: &Ctx) -> String {
    ctx.req
        .schema
        .clone()
        .unwrap_or_else(|| "<database>".to_string())
}

/// How a tool run is meant: a rehearsal, the forward change waiting for its cut-over, or a
/// run that cuts over by itself (the rollback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    DryRun,
    Postponed,
    Immediate,
}

/// How a change made by a tool is undone once the new table serves traffic.
pub enum Inverse<'a> {
    /// Statements that undo it in place (DROP COLUMN, DROP CHECK): cheap, and every write
    /// made since the cut-over stays.
    InPlace(Vec<RollbackStep>),
    /// The ALTER clause that undoes it when only a copy can (MODIFY back to the old type): the
    /// same tool runs again with it, online, keeping every write made since the cut-over.
    Tool(&'a str),
}

/// The tool's command line for `mode`.
fn command(ctx: &Ctx, tool: OscTool, alter: &str, mode: Mode) -> String {
    let execute = mode != Mode::DryRun;
    let table = &ctx.req.table;
    let db = database(ctx);
    let wait = lock_wait_seconds(ctx.model.lock_timeout_ms);
    let replicas = ctx.req.env.replicas;
    let mut args: Vec<String> = Vec::new();
    match tool {
        OscTool::GhOst => {
            args.push("gh-ost".into());
            args.push(CONNECTION.into());
            args.push(format!("--database={}", shell(&db)));
            args.push(format!("--table={}", shell(table)));
            args.push(format!("--alter={}", shell(alter)));
            args.push("--chunk-size=1000".into());
            args.push("--max-load=Threads_running=25".into());
            args.push("--critical-load=Threads_running=200".into());
            if replicas {
                args.push("--max-lag-millis=1500".into());
            } else {
                args.push("--allow-on-master".into());
            }
            args.push(format!("--cut-over-lock-timeout-seconds={wait}"));
            args.push("--default-retries=120".into());
            if mode != Mode::Immediate {
                args.push(format!(
                    "--postpone-cut-over-flag-file=/tmp/ghost.postpone.{}.flag",
                    sanitize(table)
                ));
            }
            args.push("--exact-rowcount --concurrent-rowcount --verbose".into());
            if execute {
                args.push("--execute".into());
            }
        }
        OscTool::PtOnlineSchemaChange => {
            args.push("pt-online-schema-change".into());
            args.push(format!("--alter={}", shell(alter)));
            args.push("--chunk-size=1000".into());
            args.push("--max-load=Threads_running=25".into());
            args.push("--critical-load=Threads_running=200".into());
            if replicas {
                args.push("--max-lag=1 --check-interval=1".into());
            } else {
                args.push("--recursion-method=none".into());
            }
            args.push(format!("--set-vars=lock_wait_timeout={wait}"));
            if ctx.req.env.foreign_keys {
                args.push("--alter-foreign-keys-method=rebuild_constraints".into());
            }
            // Keep the old table for a rollback; the last phase drops it.
            args.push("--no-drop-old-table".into());
            args.push(if execute { "--execute" } else { "--dry-run" }.into());
            args.push(shell(&format!("D={db},t={table}")));
            args.push(CONNECTION.into());
        }
        OscTool::Spirit => {
            args.push("spirit migrate".into());
            args.push(SPIRIT_CONNECTION.into());
            args.push(format!("--database={}", shell(&db)));
            args.push(format!("--table={}", shell(table)));
            args.push(format!("--alter={}", shell(alter)));
            args.push("--threads=4".into());
            args.push("--target-chunk-time=500ms".into());
            args.push(format!("--lock-wait-timeout={wait}s"));
            if replicas {
                args.push("--replica-dsn=<replica dsn> --replica-max-lag=10s".into());
            }
            if mode != Mode::Immediate {
                args.push("--defer-cutover".into());
            }
            // Keep the old table for a rollback; the last phase drops it.
            args.push("--skip-drop-after-cutover".into());
        }
    }
    args.join(" \\\n  ")
}

/// How to fill in the connection options the command line leaves open.
fn connection_note(tool: OscTool) -> String {
    match tool {
        OscTool::Spirit => format!(
            "Written for Spirit {SPIRIT_RELEASE} (`spirit migrate`): fill in {SPIRIT_CONNECTION} (the port goes in --host), or point --conf at a my.cnf-style file. Tune --threads and --target-chunk-time to the server."
        ),
        _ => format!(
            "Replace {CONNECTION} with the host, port, user and password options of the tool (for example --host, --port, --user, --ask-pass; pt-online-schema-change also takes them in the DSN). Tune the chunk and load thresholds to the server."
        ),
    }
}

/// What Spirit does to the sessions that block its metadata lock: it kills them, and the
/// application sees their transactions fail.
fn spirit_force_kill_note(ctx: &Ctx) -> String {
    let wait_ms = lock_wait_seconds(ctx.model.lock_timeout_ms) * 1000;
    format!(
        "Spirit kills the application connections that block its metadata lock (for the checksum and the cut-over) once it has waited 90% of --lock-wait-timeout, here after about {} ms; it spares a transaction that changed over a million rows or holds LOCK TABLES. The killed transactions fail and the application must retry them. Spirit releases after {SPIRIT_RELEASE} always do this; {SPIRIT_RELEASE} still accepts --skip-force-kill, which makes Spirit retry the lock instead, each attempt queueing traffic for up to the lock wait.",
        wait_ms * 9 / 10
    )
}

/// The binary-log settings gh-ost and Spirit refuse to start without: they read every row
/// change from the binlog as full row images (gh-ost `doc/requirements-and-limitations.md`;
/// Spirit [`SPIRIT_RELEASE`] `pkg/migration/check/configuration.go`, which also requires
/// `log_slave_updates` and an empty `binlog_row_value_options`).
fn binlog_settings_check(tool: OscTool) -> Check {
    let (sql, expect, row): (&str, &str, &[&str]) = if tool == OscTool::Spirit {
        (
            "SELECT @@global.binlog_format AS binlog_format, @@global.binlog_row_image AS binlog_row_image, @@global.log_bin AS log_bin, @@global.log_slave_updates AS log_slave_updates, @@global.binlog_row_value_options AS binlog_row_value_options;",
            "ROW, FULL, 1, 1 and an empty binlog_row_value_options (Spirit refuses to start otherwise)",
            &["ROW", "FULL", "1", "1", ""],
        )
    } else {
        (
            "SELECT @@global.binlog_format AS binlog_format, @@global.binlog_row_image AS binlog_row_image, @@global.log_bin AS log_bin;",
            "ROW, FULL and 1 (gh-ost refuses to start otherwise; on a replica it can switch binlog_format itself)",
            &["ROW", "FULL", "1"],
        )
    };
    check(
        "Binary logging writes full row images (the tool reads every row change from the binlog)",
        sql,
        expect,
        Expected::row(row),
    )
}

/// gh-ost and Spirit refuse a table that has triggers; pt-online-schema-change refuses it
/// unless told `--preserve-triggers` (MySQL 5.7.2+), since it adds triggers of its own.
fn no_triggers_check(ctx: &Ctx, tool: OscTool) -> Check {
    let otherwise = match tool {
        OscTool::PtOnlineSchemaChange => "any other count: pt-online-schema-change stops; add --preserve-triggers to its command lines (MySQL 5.7.2+ and MariaDB 10.2.3+ allow several triggers per event), or drop the triggers for the copy",
        _ => "any other count: the tool refuses the table; drop the triggers for the copy, or choose pt-online-schema-change with --preserve-triggers",
    };
    check(
        &format!("The table has no triggers ({} cannot copy a table that has some)", tool.name()),
        format!(
            "SELECT COUNT(*) AS triggers FROM information_schema.triggers WHERE event_object_schema = {} AND event_object_table = {};",
            ctx.schema_value(),
            q::literal(&ctx.req.table)
        ),
        &format!("0 ({otherwise})"),
        Expected::row(&["0"]),
    )
}

/// A file-name-safe form of a table name, for gh-ost's flag file.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The name each tool gives the table it leaves behind after the cut-over.
fn old_table(tool: OscTool, table: &str) -> String {
    match tool {
        OscTool::GhOst => format!("_{table}_del"),
        OscTool::PtOnlineSchemaChange => format!("_{table}_old"),
        // Recent Spirit versions add the start time (`_<table>_old_20260101_120000`) when
        // told to keep it; its log names the table ("skipped dropping old table: ...").
        OscTool::Spirit => format!("_{table}_old"),
    }
}

/// The errors application writes meet more often while the tool runs: pt-online-schema-change's
/// triggers and chunk copy lock the same rows (deadlocks, lock wait timeouts).
fn trigger_retries(tool: OscTool) -> Vec<AppRetry> {
    match tool {
        OscTool::PtOnlineSchemaChange => vec![AppRetry::Deadlock, AppRetry::LockWaitTimeout],
        OscTool::GhOst | OscTool::Spirit => Vec::new(),
    }
}

/// pt-online-schema-change with `--alter-foreign-keys-method=rebuild_constraints` renames the
/// child tables' foreign keys on every run, the inverse run included.
fn renames_child_keys(ctx: &Ctx, tool: OscTool) -> Vec<Leftover> {
    if tool == OscTool::PtOnlineSchemaChange && ctx.req.env.foreign_keys {
        vec![Leftover::ChildForeignKeysRenamed]
    } else {
        Vec::new()
    }
}

fn shell_step(
    ctx: &Ctx,
    title: &str,
    command: String,
    lock: Option<MysqlLock>,
    duration: Estimate,
) -> Step {
    let mut step = ctx.step(title, Vec::new(), lock, duration);
    step.shell = Some(command);
    step
}

/// The phases that make `alter_clause` (`ADD COLUMN ...`, `MODIFY ...`) with the chosen tool:
/// preflight with the tool's requirements, a dry run, the copy, the cut-over, and dropping
/// the old table once the new one has proved itself.
pub fn online_alter(
    ctx: &Ctx,
    alter_clause: &str,
    inverse: Inverse,
    why_copy: &str,
) -> Result<Vec<Phase>, FieldError> {
    let choice = choose(ctx)?;
    let tool = choice.tool;
    let table = &ctx.req.table;
    let mut extra = vec![check(
        "The table has a primary key (every tool copies in key order)",
        format!(
            "SELECT COUNT(*) AS has_primary_key FROM information_schema.table_constraints WHERE {} AND constraint_type = 'PRIMARY KEY';",
            ctx.where_table(table)
        ),
        "1",
        Expected::row(&["1"]),
    )];
    if tool == OscTool::PtOnlineSchemaChange && !ctx.req.env.foreign_keys {
        extra.push(check(
            "No other table's foreign key references the table (none was declared with --foreign-keys)",
            format!(
                "SELECT COUNT(*) AS referencing_foreign_keys FROM information_schema.referential_constraints WHERE unique_constraint_schema = {} AND referenced_table_name = {};",
                ctx.schema_value(),
                q::literal(table)
            ),
            "0 (otherwise pt-online-schema-change stops: re-plan with --foreign-keys, which adds --alter-foreign-keys-method=rebuild_constraints)",
            Expected::row(&["0"]),
        ));
    }
    if tool != OscTool::PtOnlineSchemaChange {
        extra.push(check(
            "No foreign key points from or to the table (the tool cannot carry them over)",
            format!(
                "SELECT COUNT(*) AS foreign_keys FROM information_schema.referential_constraints WHERE constraint_schema = {s} AND (table_name = {t} OR referenced_table_name = {t});",
                s = ctx.schema_value(),
                t = q::literal(table)
            ),
            "0",
            Expected::row(&["0"]),
        ));
        extra.push(binlog_settings_check(tool));
    }
    extra.push(no_triggers_check(ctx, tool));
    let preflight = ctx.preflight(Some(ctx.req.bytes), extra);

    let copy_time = ctx.model.backfill();
    let mut phases = vec![preflight];
    let verified = !matches!(tool, OscTool::GhOst | OscTool::Spirit) && ctx.server.verified_here();
    let mark = |mut step: Step| {
        if !verified {
            step.unverified = Some(format!(
                "documented, not verified here: {} is not run by Lockstep's live verification",
                tool.name()
            ));
        }
        step
    };
    // Dry run: gh-ost without --execute and pt-online-schema-change --dry-run create and
    // alter the shadow table without copying; Spirit has no dry run.
    let mut rehearse = Vec::new();
    if tool != OscTool::Spirit {
        let mut dry = shell_step(
            ctx,
            &format!(
                "Dry run: {} checks the table and the ALTER without copying",
                tool.name()
            ),
            command(ctx, tool, alter_clause, Mode::DryRun),
            None,
            Estimate::new(1.0, 30.0),
        );
        dry.retry =
            "Changes nothing on the table: fix what it reports and run it again.".to_string();
        rehearse.push(mark(dry));
    }
    let mut copy = shell_step(
        ctx,
        &format!("Copy the table with {}", tool.name()),
        command(ctx, tool, alter_clause, Mode::Postponed),
        // pt-online-schema-change takes the exclusive metadata lock to create its triggers and
        // for its final RENAME; the binlog-based tools take none until the cut-over.
        (tool == OscTool::PtOnlineSchemaChange).then_some(MysqlLock::MetadataExclusive),
        copy_time,
    );
    copy.rewrites_table = true;
    copy.scans_table = true;
    copy.retry = match tool {
        OscTool::PtOnlineSchemaChange => "If it stops, it drops its triggers and the shadow table (_<table>_new) and leaves the table as it was; fix the cause and run it again.".to_string(),
        OscTool::GhOst => "If it stops, the table is untouched; drop the _<table>_gho and _<table>_ghc tables it left (or pass --initially-drop-ghost-table) and run it again.".to_string(),
        OscTool::Spirit => "Spirit resumes from its checkpoint table when run again with the same arguments.".to_string(),
    };
    copy.notes
        .push(format!("Why {}: {}", tool.name(), choice.why));
    if tool == OscTool::PtOnlineSchemaChange && ctx.req.env.foreign_keys {
        copy.notes.push("--alter-foreign-keys-method=rebuild_constraints re-creates the child tables' foreign keys against the new table under new names (a leading underscore is added: fk_x becomes _fk_x): scripts that name them must use the new names.".to_string());
    }
    copy.notes.push(format!("Why a copy at all: {why_copy}."));
    copy.notes.push(connection_note(tool));
    if tool == OscTool::Spirit {
        copy.notes.push(spirit_force_kill_note(ctx));
    }
    let postponed = tool != OscTool::PtOnlineSchemaChange;
    if postponed {
        copy.notes.push(
            "The copy runs until it has caught up, then waits with the cut-over postponed: the next phase releases it.".to_string(),
        );
    } else {
        copy.notes.push(
            "pt-online-schema-change cuts over by itself when the copy is done (atomic RENAME under a brief exclusive metadata lock).".to_string(),
        );
        copy.notes.push(
            "Its triggers and its chunk copy lock the same rows: while it runs, application writes meet more deadlocks (error 1213) and row-lock waits (1205). Writes continue, but the application must retry those errors, as it should anyway.".to_string(),
        );
    }
    copy.app_retries = trigger_retries(tool);
    phases.push(Phase {
        name: "copy".to_string(),
        purpose: format!(
            "Build the new table with {} while traffic continues.",
            tool.name()
        ),
        app_change: None,
        steps: rehearse.into_iter().chain([mark(copy)]).collect(),
        rollback: Vec::new(),
        irreversible: None,
        checks: Vec::new(),
    });
    if postponed {
        let title =
            "Cut over: swap the new table in (atomic RENAME, brief exclusive metadata lock)";
        let mut cut = match tool {
            OscTool::GhOst => shell_step(
                ctx,
                title,
                format!("rm /tmp/ghost.postpone.{}.flag", sanitize(table)),
                Some(MysqlLock::MetadataExclusive),
                crate::estimate::CATALOG_ONLY,
            ),
            // Spirit waits until its sentinel table is dropped, then cuts over (Spirit's
            // docs/migrate.md, "defer-cutover").
            _ => ctx.step(
                title,
                vec![format!("DROP TABLE {};", ctx.sibling(SPIRIT_SENTINEL))],
                Some(MysqlLock::MetadataExclusive),
                crate::estimate::CATALOG_ONLY,
            ),
        };
        if tool == OscTool::Spirit {
            cut.notes.push(format!(
                "Spirit waits for `{SPIRIT_SENTINEL}` in this schema, and every Spirit migration waiting in the schema waits for the same table: dropping it releases all of them. Keep one deferred Spirit migration per schema at a time."
            ));
            cut.notes.push(spirit_force_kill_note(ctx));
        }
        if tool == OscTool::GhOst {
            // gh-ost locks the table with LOCK TABLES ... WRITE under lock_wait_timeout twice
            // its --cut-over-lock-timeout-seconds (applier.go, AtomicCutOverMagicLock), then
            // holds it until its RENAME is queued, at most that timeout again: the traffic
            // queues for both before the catalog-only RENAME.
            let wait = lock_wait_seconds(ctx.model.lock_timeout_ms) as f64;
            cut.set_blocking(3.0 * wait, crate::estimate::CATALOG_ONLY);
        }
        cut.retry = format!(
            "If the cut-over cannot get its lock within {} s it backs off and retries by itself; watch the tool's log.",
            lock_wait_seconds(ctx.model.lock_timeout_ms)
        );
        phases.push(Phase {
            name: "cut-over".to_string(),
            purpose: "Swap the copied table in, when a brief metadata lock suits the traffic."
                .to_string(),
            app_change: None,
            steps: vec![mark(cut)],
            rollback: Vec::new(),
            irreversible: None,
            checks: Vec::new(),
        });
    }
    // The old table the tool left holds the rows as they were at the cut-over: swapping it
    // back would lose every write made since (and hand out AUTO_INCREMENT values again), so
    // the rollback undoes the change on the live table instead.
    let old = old_table(tool, table);
    let last = phases.len() - 1;
    let drop_old = ctx.rollback_ddl(
        format!("DROP TABLE IF EXISTS {};", ctx.sibling(&old)),
        Some("The table the forward run left holds the rows as they were at the cut-over, stale since: dropped first (the cleanup phase would drop it anyway), so the tool can use its name again."),
    );
    phases[last].rollback = match inverse {
        Inverse::InPlace(steps) => std::iter::once(drop_old).chain(steps).collect(),
        Inverse::Tool(clause) => vec![
            drop_old,
            RollbackStep {
                sql: String::new(),
                note: Some(format!(
                    "{} again with the inverse change, cutting over as soon as it has caught up: online like the forward run, and every write made since the cut-over stays.{}",
                    tool.name(),
                    if tool == OscTool::PtOnlineSchemaChange && ctx.req.env.foreign_keys {
                        " Each run with --alter-foreign-keys-method=rebuild_constraints renames the child tables' foreign keys (one more leading underscore per run): scripts that name them must use the new names, or rename them back."
                    } else {
                        ""
                    }
                )),
                shell: Some(command(ctx, tool, clause, Mode::Immediate)),
                also_undoes: 0,
                leaves: renames_child_keys(ctx, tool),
                app_retries: trigger_retries(tool),
            },
            ctx.rollback_ddl(
                format!("DROP TABLE IF EXISTS {};", ctx.sibling(&old)),
                Some("The run above leaves the changed table behind under the same name: nothing reads it any more."),
            ),
        ],
    };
    let drop = drop_old_table(ctx, &old);
    phases.push(Phase {
        name: "cleanup".to_string(),
        purpose: "Once the new table has served traffic for a while, drop the old one.".to_string(),
        app_change: None,
        steps: vec![mark(drop)],
        rollback: Vec::new(),
        irreversible: Some("The old table and its data are gone.".to_string()),
        checks: vec![check(
            "The old table is gone",
            format!(
                "SELECT COUNT(*) AS left_behind FROM information_schema.tables WHERE {};",
                ctx.where_table(&old)
            ),
            "0",
            Expected::row(&["0"]),
        )],
    });
    Ok(phases)
}

/// A worst-case drop stall from which the step tells how to soften it: past a second, every
/// query on the server notices.
const NOTICEABLE_STALL_SECONDS: f64 = 1.0;

/// DROP TABLE of the table the tool left, as large as the table was. Its exclusive metadata
/// lock is on that table only, which no query uses any more: no lock stops the traffic. But
/// InnoDB's drop stalls every query on the server for a moment ([`Ctx::drop_stall`]), and a
/// large table for seconds: the step claims that stall, and says how to soften it.
fn drop_old_table(ctx: &Ctx, old: &str) -> Step {
    let walks = facts::DROP_TABLE_WALKS_CACHED_PAGES.holds(ctx.server);
    let stall = ctx.drop_stall(ctx.req.bytes);
    let mut drop = ctx.step(
        "Drop the old table the tool left behind",
        vec![format!("DROP TABLE IF EXISTS {};", ctx.sibling(old))],
        Some(MysqlLock::MetadataExclusive),
        stall,
    );
    drop.blocks = crate::model::Blocks::Nothing;
    drop.set_blocking(0.0, Estimate::ZERO);
    drop.server_stall_seconds = Some(stall);
    drop.notes.push(format!(
        "No lock stops the traffic: the exclusive metadata lock is on the old table, which no query uses any more. But the drop stalls every query on the server, whatever table it uses, for up to {} here: InnoDB commits the drop and deletes the table's file (the filesystem frees it while every commit waits on the same journal; counted at {} GB/s){}.",
        human_seconds_up(stall.high),
        crate::estimate::DROP_FILE_GB_PER_SEC,
        if walks {
            format!(
                ", and this version also walks the buffer pool for the table's pages or their adaptive hash index entries under a latch every query needs (counted at {} GB/s for a buffer pool as large as the table: a larger buffer pool stalls longer)",
                crate::estimate::DROP_CACHED_PAGES_GB_PER_SEC
            )
        } else {
            String::new()
        }
    ));
    if stall.high > NOTICEABLE_STALL_SECONDS {
        drop.notes.push(drop_mitigation(old, walks));
    }
    drop
}

/// How to soften the stall of dropping a large table: off-peak; the file deleted in slices
/// from the shell; on versions that walk the buffer pool, the table's pages aged out first.
fn drop_mitigation(old: &str, walks: bool) -> String {
    let file = format!("<datadir>/<database>/{old}.ibd");
    let mut text = format!(
        "Large table: run it off-peak. To take the file deletion out of the stall, these are shell commands on the database host, not SQL: before the DROP, `ln {f} {k}` (a second name for the file, so the DROP only removes one); after it, `k={k}; s=$(stat -c %s \"$k\"); while [ \"$s\" -gt 0 ]; do s=$(( s > 1073741824 ? s - 1073741824 : 0 )); truncate -s \"$s\" \"$k\"; sleep 1; done; rm \"$k\"` (shrinks it 1 GB a second, then removes it). The file name encodes special characters (`@0024` for `$` and so on): check it with ls.",
        f = shell(&file),
        k = shell(&format!("{file}.lockstep-keep"))
    );
    if walks {
        text.push_str(" On this version the drop also walks the buffer pool for the table's pages: leave the old table unread for a day first (or empty it in small DELETE batches) so its pages age out, and keep the drop off-peak.");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{DOCUMENTED_FLAGS, SPIRIT_RELEASE, SPIRIT_SENTINEL};
    use crate::model::{Expected, Plan};
    use crate::request::params::Params;
    use crate::request::OscTool;

    fn plan(db: &str, tool: &str, replicas: bool, foreign_keys: bool) -> Plan {
        let p = Params::new()
            .with("db", db)
            .with("change", "change-type")
            .with("table", "orders")
            .with("column", "amount")
            .with("from-type", "int")
            .with("to-type", "bigint")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
            .with("osc-tools", tool)
            .with("replicas", if replicas { "true" } else { "false" })
            .with("foreign-keys", if foreign_keys { "true" } else { "false" });
        crate::plan(&p).unwrap()
    }

    /// Every `--flag` of every command line and rollback command the plan writes.
    fn flags(plan: &Plan) -> Vec<String> {
        let commands = plan
            .phases
            .iter()
            .flat_map(|p| {
                p.steps
                    .iter()
                    .filter_map(|s| s.shell.clone())
                    .chain(p.rollback.iter().filter_map(|r| r.shell.clone()))
            })
            .collect::<Vec<_>>();
        assert!(!commands.is_empty(), "no tool command in the plan");
        commands
            .iter()
            .flat_map(|c| c.split_whitespace())
            .filter(|w| w.starts_with("--"))
            .map(|w| w.split('=').next().unwrap_or(w).to_string())
            .collect()
    }

    #[test]
    fn every_flag_the_plans_write_is_documented_for_its_tool() {
        for (tool, db, name) in [
            (OscTool::GhOst, "mysql@8.0.35", "gh-ost"),
            (
                OscTool::PtOnlineSchemaChange,
                "mysql@8.0.35",
                "pt-online-schema-change",
            ),
            (OscTool::Spirit, "mysql@8.0.35", "spirit"),
        ] {
            let documented = DOCUMENTED_FLAGS
                .iter()
                .find(|(t, _)| *t == tool)
                .map(|(_, f)| *f)
                .unwrap();
            for replicas in [false, true] {
                // gh-ost and Spirit refuse foreign keys: the planner picks another tool.
                let fks: &[bool] = if tool == OscTool::PtOnlineSchemaChange {
                    &[false, true]
                } else {
                    &[false]
                };
                for &fk in fks {
                    for flag in flags(&plan(db, name, replicas, fk)) {
                        assert!(
                            documented.contains(&flag.as_str()),
                            "{name} (replicas {replicas}, foreign keys {fk}): {flag} is not in its documented flags"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_preflight_checks_what_each_tool_refuses_to_run_without() {
        let preflight = |tool: &str| {
            plan("mysql@8.0.35", tool, false, false).phases[0]
                .checks
                .iter()
                .map(|c| (c.sql.clone(), c.expected.clone()))
                .collect::<Vec<_>>()
        };
        for tool in ["gh-ost", "spirit", "pt-online-schema-change"] {
            let checks = preflight(tool);
            let triggers = checks
                .iter()
                .find(|(sql, _)| sql.contains("FROM information_schema.triggers WHERE event_object_schema = DATABASE() AND event_object_table = 'orders'"));
            assert_eq!(
                triggers.map(|t| &t.1),
                Some(&Expected::row(&["0"])),
                "{tool}"
            );
            let image = checks
                .iter()
                .find(|(sql, _)| sql.contains("@@global.binlog_row_image"));
            assert_eq!(image.is_some(), tool != "pt-online-schema-change", "{tool}");
        }
        let spirit = preflight("spirit");
        let (_, expected) = spirit
            .iter()
            .find(|(sql, _)| sql.contains("log_slave_updates"))
            .unwrap();
        assert_eq!(expected, &Expected::row(&["ROW", "FULL", "1", "1", ""]));
    }

    /// The step that drops the table the tool left behind.
    fn drop_step(plan: &Plan) -> crate::model::Step {
        plan.phases
            .iter()
            .find(|p| p.name == "cleanup")
            .map(|p| p.steps[0].clone())
            .unwrap()
    }

    #[test]
    fn dropping_the_old_table_claims_a_server_stall_not_a_lock() {
        use crate::model::Blocks;
        // 120 GB on MySQL 8.0.35: the file (6 s nominal) plus the adaptive hash index pass
        // (3.75 s nominal), twice that at worst, plus the commit.
        let drop = drop_step(&plan("mysql@8.0.35", "gh-ost", false, false));
        assert_eq!(drop.blocks, Blocks::Nothing);
        assert_eq!(drop.blocking_seconds.high, 0.0);
        let stall = drop.server_stall_seconds.unwrap();
        assert!((stall.high - 19.55).abs() < 1e-6, "{stall:?}");
        assert!(drop
            .notes
            .iter()
            .any(|n| n.contains("shell commands on the database host")
                && n.contains("ln '<datadir>/<database>/_orders_del.ibd' '<datadir>/<database>/_orders_del.ibd.lockstep-keep'")
                && n.contains("age out")));
        // MySQL 8.4 (adaptive hash index OFF by default) only deletes the file.
        let lazy = drop_step(&plan("mysql@8.4.2", "gh-ost", false, false));
        assert!((lazy.server_stall_seconds.unwrap().high - 12.05).abs() < 1e-6);
        assert!(lazy
            .notes
            .iter()
            .any(|n| n.contains("off-peak") && !n.contains("age out")));
        // A small table: a brief stall, no mitigation.
        let small = crate::plan(
            &Params::new()
                .with("db", "mariadb@10.11")
                .with("change", "change-type")
                .with("table", "orders'; rm -rf / #")
                .with("column", "amount")
                .with("from-type", "int")
                .with("to-type", "bigint")
                .with("rows", "200k")
                .with("size", "20MB")
                .with("max-downtime", "0"),
        )
        .unwrap();
        let drop = drop_step(&small);
        assert!(drop.server_stall_seconds.unwrap().high < 0.06);
        assert!(drop.notes.iter().all(|n| !n.contains("off-peak")));
        assert!(drop
            .notes
            .iter()
            .any(|n| n.contains("No lock stops the traffic")));
    }

    #[test]
    fn the_runbook_shows_the_drop_stall_beside_blocks_nothing() {
        let p = Params::new()
            .with("db", "mysql@8.4.2")
            .with("change", "change-type")
            .with("table", "orders")
            .with("column", "amount")
            .with("from-type", "int")
            .with("to-type", "bigint")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
            .with("osc-tools", "gh-ost");
        let md = crate::render::markdown::render(&crate::plan(&p).unwrap(), &p);
        assert!(
            md.contains("| nothing: reads and writes continue | stalls every query on the server for up to 13 s (no lock) |"),
            "{md}"
        );
    }

    #[test]
    fn the_file_name_in_the_shell_mitigation_is_quoted() {
        let p = Params::new()
            .with("db", "mariadb@10.11")
            .with("change", "change-type")
            .with("table", "orders'; rm -rf / #")
            .with("column", "amount")
            .with("from-type", "int")
            .with("to-type", "bigint")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        let drop = drop_step(&crate::plan(&p).unwrap());
        let note = drop.notes.iter().find(|n| n.contains("ln ")).unwrap();
        assert!(
            note.contains("ln '<datadir>/<database>/_orders'\\''; rm -rf / #_old.ibd'"),
            "{note}"
        );
    }

    #[test]
    fn spirit_is_the_migrate_subcommand_with_its_one_sentinel_and_says_it_kills() {
        let plan = plan("mysql@8.0.35", "spirit", false, false);
        let copy = plan.steps().find(|s| s.shell.is_some()).unwrap();
        assert!(copy
            .shell
            .as_deref()
            .unwrap()
            .starts_with("spirit migrate \\\n  --host=<host:port>"));
        assert!(copy
            .notes
            .iter()
            .any(|n| n.contains(SPIRIT_RELEASE) && n.contains("kills")));
        let cut = plan
            .phases
            .iter()
            .find(|p| p.name == "cut-over")
            .map(|p| &p.steps[0])
            .unwrap();
        assert_eq!(cut.sql, [format!("DROP TABLE `{SPIRIT_SENTINEL}`;")]);
        // 90% of a 1 s lock wait.
        assert!(
            cut.notes.iter().any(|n| n.contains("after about 900 ms")),
            "{:?}",
            cut.notes
        );
    }
}
