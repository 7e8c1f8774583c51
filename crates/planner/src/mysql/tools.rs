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

use super::{lock_wait_seconds, Ctx};
use crate::changes::check;
use crate::input::{FieldError, OscTool};
use crate::plan::{
    longest_blocking, Algorithm, Check, Estimate, Expected, LockClause, MysqlLock, Phase,
    RollbackStep, Step, Warning,
};
use crate::quote::{mysql as q, shell};

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
            OscTool::Spirit if !server.spirit_supported() => Some(format!(
                "Spirit supports MySQL 8.0 and later only, not {} {}",
                ctx.req.db.engine.label(),
                ctx.req.db.version
            )),
            OscTool::GhOst if !server.ghost_supported() => {
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
            crate::params::accepts("osc-tools")
        ),
    ))
}

/// Connection options in the tool's own syntax, left for the operator to fill in.
const CONNECTION: &str = "<connection options>";

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
            args.push("spirit".into());
            args.push(CONNECTION.into());
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
        extra.push(check(
            "Row-based binary logging (the tool reads row events from the binlog)",
            "SELECT @@global.binlog_format AS binlog_format;",
            "ROW",
            Expected::row(&["ROW"]),
        ));
    }
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
        dry.retry = "Changes nothing on the table; safe to re-run.".to_string();
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
    copy.notes.push(format!(
        "Replace {CONNECTION} with the host, port, user and password options of the tool (for example --host, --port, --user, --ask-pass; pt-online-schema-change also takes them in the DSN). Tune the chunk and load thresholds to the server."
    ));
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
            // Spirit waits until its sentinel table `_<table>_sentinel` is dropped, then
            // checksums and cuts over (Spirit's USAGE, "defer-cutover").
            _ => ctx.step(
                title,
                vec![format!(
                    "DROP TABLE {};",
                    ctx.sibling(&format!("_{table}_sentinel"))
                )],
                Some(MysqlLock::MetadataExclusive),
                crate::estimate::CATALOG_ONLY,
            ),
        };
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
            },
            ctx.rollback_ddl(
                format!("DROP TABLE IF EXISTS {};", ctx.sibling(&old)),
                Some("The run above leaves the changed table behind under the same name: nothing reads it any more."),
            ),
        ],
    };
    let mut drop = ctx.step(
        "Drop the old table the tool left behind",
        vec![format!("DROP TABLE {};", ctx.sibling(&old))],
        Some(MysqlLock::MetadataExclusive),
        Estimate::new(0.01, 5.0),
    );
    drop.blocks = crate::plan::Blocks::Nothing;
    drop.set_blocking(0.0, Estimate::ZERO);
    drop.notes.push("The lock is on the old table, which no query uses any more. Dropping a large table can stall I/O on older versions: on MySQL before 8.0.23 consider truncating it in chunks first.".to_string());
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
