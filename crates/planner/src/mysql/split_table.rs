//! Split a table (MySQL, MariaDB): move a set of columns into a new table keyed by the
//! primary key.
//!
//! No single statement does this, and the application must move its reads and writes, so only
//! the online path is offered, shaped like the PostgreSQL one (`changes::split_table`):
//!
//! 1. **expand**: `CREATE TABLE IF NOT EXISTS new (PRIMARY KEY (pk)) AS SELECT pk, cols FROM old
//!    WHERE 1 = 0`: exactly these columns with their types, character sets, NOT NULL and
//!    defaults, no row, no index but the key (seen on MariaDB 10.11; the impossible WHERE reads
//!    nothing). Then four single-statement triggers on the old table keep the new one in sync,
//!    created in this order: AFTER DELETE deletes the row; AFTER UPDATE (two triggers, fired in
//!    creation order) first removes the old key's row when the key changes, then upserts the row
//!    when the key or a moved column changes (so once the application writes the new table
//!    itself, updates of other columns leave it alone); AFTER INSERT, last, upserts the row.
//!    Every upsert overwrites the moved columns with the row's values. No foreign key between
//!    the tables: it would stop gh-ost and Spirit on the old table. Each CREATE TRIGGER takes the
//!    exclusive metadata lock for a moment.
//! 2. **copy**: MySQL has no COMMIT inside a statement block run by the client, so one batch is
//!    one run of a few statements the operator repeats until it prints 0 (the PostgreSQL 10
//!    path's scheme), keeping its place in a one-row progress table created in this phase, i.e.
//!    after the expand phase's check found all four triggers: it stops at the largest key that
//!    existed then (later rows come through the trigger). The batch is
//!    `INSERT ... SELECT ... LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE col = VALUES(col), ...`:
//!    it writes the values it read, over whatever the new table holds. Then a count and checksum
//!    of key + moved columns compares both tables in one snapshot.
//! 3. deploy gates: **switch reads** to the new table, then **switch writes**.
//! 4. **contract**: drop the triggers, the moved columns (INSTANT where the server can, else in
//!    place while DML continues) and the progress table.
//!
//! Why no interleaving of writers, trigger creation and copy loses a write (the verifier's
//! data-loss finding: with the INSERT trigger created first and a copy that kept the row it
//! found, a row inserted between the INSERT and the UPDATE trigger and updated before the latter
//! existed kept its insert-time values in the new table):
//!
//! - A CREATE TRIGGER waits for the exclusive metadata lock, which every transaction that
//!   touched the old table holds until it ends (seen on MariaDB 10.11: CREATE TRIGGER times out
//!   behind an open transaction that inserted a row). So each transaction runs wholly before or
//!   wholly after each trigger exists, and a trigger that exists fires in every later write.
//! - Rows reach the new table before the copy only through a trigger, and the DELETE and both
//!   UPDATE triggers exist before any trigger writes a row (the first writer, AFTER UPDATE
//!   upsert, comes after AFTER DELETE and the key-change DELETE; AFTER INSERT is last). So from
//!   the moment a row of the new table is written, every later update, key change and delete of
//!   its old row is mirrored, and each mirror writes the full moved values of the same
//!   transaction while it holds the old row's exclusive lock (so two writers of a row reach the
//!   new table in the order they changed the old one): a row of the new table always equals its
//!   old row, and none is orphaned.
//! - A row of the old table that has no row in the new table got its present key before the
//!   INSERT trigger existed (a later insert or key change goes through a trigger), so that
//!   transaction committed before the copy's upper key was read (the progress table is created
//!   in the copy phase, after the expand phase's check found all four triggers): its key is at
//!   most that end, and a batch reaches it unless a mirrored delete or key change comes first.
//!   Rows whose key is above the end were written after the INSERT trigger existed.
//! - The batch reads under LOCK IN SHARE MODE: it waits for an uncommitted writer of the row and
//!   reads the latest committed version, not its snapshot, and makes any later writer of the row
//!   wait until the batch commits. The value it writes is therefore the old row's value at the
//!   batch's commit, the same value a concurrent trigger would write: it cannot put an older
//!   value over a trigger's newer one, nor bring back a row deleted meanwhile (a deleted row is
//!   not read). Overwriting instead of keeping the new table's row repairs any row a trigger left
//!   stale.
//! - The copy ends before the application writes the new table itself (the switch-writes
//!   deploy comes after this phase and its check), and its note says never to run it again after
//!   that deploy: from then on only the new table holds the moved values.

use super::{summary_paths, Ctx};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Estimate, Expected, MysqlLock, Phase, RollbackStep, Step, Warning};
use crate::mysql::facts::{self, Server};
use crate::quote::mysql::{derived_name, ident, ident_list, literal};
use crate::quote::shell;
use crate::request::change::SplitTable;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// The names of the four mirror triggers (suffix first, so a long table name cannot cut it).
struct Triggers {
    delete: String,
    update_key: String,
    update: String,
    insert: String,
}

impl Triggers {
    fn new(new_table: &str) -> Self {
        let name = |what: &str| derived_name(&[&format!("lockstep_{what}"), new_table]);
        Triggers {
            delete: name("del"),
            update_key: name("updkey"),
            update: name("upd"),
            insert: name("ins"),
        }
    }

    /// In creation order: the INSERT trigger last (see the module doc comment).
    fn names(&self) -> [&str; 4] {
        [&self.delete, &self.update_key, &self.update, &self.insert]
    }
}

/// What every phase of the split shares: the names, quoted once, and the decisions made once.
struct Split<'a> {
    ctx: &'a Ctx<'a>,
    columns: &'a [String],
    new_table: &'a str,
    pk: &'a str,
    server: Server,
    /// The old table, quoted; `table_name` raw.
    table: String,
    table_name: &'a str,
    /// The new table, quoted.
    new: String,
    key: String,
    cols: String,
    key_and_cols: String,
    triggers: Triggers,
    progress: String,
    col_names: String,
    trigger_names: String,
    moved_where: String,
    /// The contract phase drops the moved columns INSTANT where the server can.
    instant: bool,
    /// The guard "a moved column is still in the old table": until the contract phase drops
    /// them, the expand and copy steps may run (again); once they are gone a re-run skips them.
    moving: String,
}

impl<'a> Split<'a> {
    /// Refuses what the split cannot do, then names everything once.
    fn new(ctx: &'a Ctx<'a>, change: &'a SplitTable) -> Result<Self, FieldError> {
        let SplitTable { columns, new_table } = change;
        let Some(pk) = ctx.req.env.primary_key.as_deref() else {
            return Err(FieldError::new(
                "primary-key",
                "is none, but the new table is keyed by the old table's primary key, and the copy pages through the table by it; accepts the name of the primary key column (e.g. id)",
            ));
        };
        if columns.iter().any(|c| c == pk) {
            return Err(FieldError::new(
                "columns",
                format!("names the primary key {}: it stays in the old table and keys the new one; accepts the other columns to move, e.g. bio,avatar_url", crate::request::shown(pk)),
            ));
        }
        if new_table == &ctx.req.table {
            return Err(FieldError::new(
                "new-table",
                "is the table being split; accepts a new table name, e.g. orders_details",
            ));
        }
        let table = ctx.table();
        let table_name = &ctx.req.table;
        let new = ctx.sibling(new_table);
        let key = ident(pk);
        let cols = ident_list(columns);
        let key_and_cols = format!("{key}, {cols}");
        let triggers = Triggers::new(new_table);
        let progress_name = derived_name(&["lockstep_progress", new_table]);
        let progress = ctx.sibling(&progress_name);
        let col_names = columns
            .iter()
            .map(|c| literal(c))
            .collect::<Vec<_>>()
            .join(", ");
        let trigger_names = triggers
            .names()
            .iter()
            .map(|n| literal(n))
            .collect::<Vec<_>>()
            .join(", ");
        let moved_where = format!(
            "{} AND column_name IN ({col_names})",
            ctx.where_table(table_name)
        );
        Ok(Split {
            ctx,
            columns,
            new_table,
            pk,
            server: ctx.server,
            table,
            table_name,
            new,
            key,
            cols,
            key_and_cols,
            triggers,
            progress,
            col_names,
            trigger_names,
            moved_where,
            instant: facts::INSTANT_ADD_DROP_ANYWHERE.holds(ctx.server)
                && !facts::INSTANT_COLUMN_DEFECT.holds(ctx.server),
            moving: ctx.column_present(&ctx.req.table, &columns[0]),
        })
    }

    /// The checks before anything changes: the columns, the key, the free names, what the new
    /// table does not inherit. Long because it is a flat list of independent checks.
    fn preflight(&self) -> Phase {
        let Split {
            ctx,
            columns,
            new_table,
            pk,
            server,
            table,
            table_name,
            col_names,
            trigger_names,
            moved_where,
            ..
        } = self;
        let n = columns.len().to_string();
        let mut pre = vec![
            check(
                "Every column to move exists (or this plan already moved them all: none left in the old table, all in the new one)",
                format!(
                    "SELECT IF(o = 0, (SELECT COUNT(*) FROM information_schema.columns WHERE {} AND column_name IN ({col_names})), o) AS present FROM (SELECT COUNT(*) AS o FROM information_schema.columns WHERE {moved_where}) AS lockstep_old;",
                    ctx.where_table(new_table)
                ),
                &n,
                Expected::row(&[&n]),
            ),
            check(
                "The key column is the table's whole primary key",
                format!(
                    "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index) AS primary_key FROM information_schema.statistics WHERE {} AND index_name = 'PRIMARY';",
                    ctx.where_table(table_name)
                ),
                pk,
                Expected::row(&[pk]),
            ),
            check(
                "The new table's name is free",
                format!(
                    "SELECT COUNT(*) AS taken FROM information_schema.tables WHERE {} AND (SELECT COUNT(*) FROM information_schema.columns WHERE {moved_where}) > 0 AND (SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = {} AND trigger_name IN ({trigger_names})) = 0;",
                    ctx.where_table(new_table),
                    ctx.schema_value()
                ),
                "0 (also when the table is this plan's own: its mirror triggers exist, or the moved columns are already gone from the old table. 1: another table has that name)",
                Expected::row(&["0"]),
            ),
            check(
                "Inserts into the old table can leave every moved column out (needed once the application writes them to the new table only)",
                format!(
                    "SELECT column_name FROM information_schema.columns WHERE {moved_where} AND is_nullable = 'NO' AND column_default IS NULL AND extra NOT LIKE '%GENERATED%';"
                ),
                &format!("no rows. A listed column is NOT NULL without a default: give it one first, e.g. ALTER TABLE {table} ALTER COLUMN <column> SET DEFAULT <value>, ALGORITHM=INSTANT (metadata only), or strict mode makes the new version's inserts fail"),
                Expected::NoRows,
            ),
            check(
                "What the new table does not inherit: indexes on the moved columns (CREATE TABLE ... SELECT copies types, NOT NULL and defaults only)",
                format!("SELECT index_name, column_name FROM information_schema.statistics WHERE {moved_where} ORDER BY index_name, seq_in_index;"),
                "the list, for the record: add the indexes that matter to the new table after the contract phase (add-index plan)",
                Expected::Manual,
            ),
            check(
                "Triggers already on the table (this plan adds four)",
                format!(
                    "SELECT trigger_name, action_timing, event_manipulation FROM information_schema.triggers WHERE event_object_schema = {} AND event_object_table = {};",
                    ctx.schema_value(),
                    literal(table_name)
                ),
                "for the record: existing triggers keep firing; pt-online-schema-change refuses a table that has triggers of its own, so run no such copy of this table until the contract phase is done",
                Expected::Manual,
            ),
        ];
        if !facts::CREATE_TABLE_SELECT_WITH_GTID.holds(*server) {
            pre.push(check(
                "GTID consistency is not enforced (before MySQL 8.0.21 it refuses CREATE TABLE ... SELECT)",
                "SELECT @@GLOBAL.enforce_gtid_consistency AS enforce_gtid_consistency;",
                "OFF (ON: create the two tables by hand with CREATE TABLE and the columns' types from SHOW CREATE TABLE, then continue)",
                Expected::row(&["OFF"]),
            ));
        }
        if self.instant {
            pre.extend(ctx.row_version_room(
                &ctx.req.table,
                1,
                "the contract phase's INSTANT drop would be refused: run the in-place ALTER its step's notes give instead (rebuilds the table; reads and writes continue)",
            ));
            pre.extend(ctx.instant_column_limits(
                &ctx.req.table,
                0,
                "the contract phase must run the in-place ALTER its step's notes give instead (rebuilds the table; reads and writes continue)",
            ));
        }
        ctx.preflight(Some(ctx.req.bytes), pre)
    }
    /// CREATE TABLE ... SELECT of no row: the key and the moved columns with their types.
    fn create_step(&self) -> Step {
        let Split {
            ctx,
            table,
            new,
            key,
            key_and_cols,
            moving,
            ..
        } = self;
        let mut create = ctx.step(
            "Create the new table (empty): the key and the moved columns, with their types",
            vec![format!(
                "CREATE TABLE IF NOT EXISTS {new} (PRIMARY KEY ({key})) AS SELECT {key_and_cols} FROM {table} WHERE 1 = 0;"
            )],
            None,
            CATALOG_ONLY,
        );
        create.notes.push("CREATE TABLE ... SELECT copies exactly these columns with their types, character sets, NOT NULL and defaults, and no row: the impossible WHERE reads nothing. AUTO_INCREMENT, indexes, CHECKs and foreign keys are not copied.".to_string());
        create.retry =
            "If it fails, run it again: IF NOT EXISTS skips it once the table exists.".to_string();
        create.only_if = Some(moving.clone());
        create
    }
    /// The four mirror triggers, in their creation order. Long because the four statements and
    /// the notes explaining that order belong together.
    fn sync_step(&self) -> Step {
        let Split {
            ctx,
            columns,
            pk,
            server,
            table,
            new,
            key,
            key_and_cols,
            triggers,
            moving,
            ..
        } = self;
        let if_not_exists = if facts::TRIGGER_IF_NOT_EXISTS.holds(*server) {
            "IF NOT EXISTS "
        } else {
            ""
        };
        let new_row = |prefix: &str| {
            std::iter::once(*pk)
                .chain(columns.iter().map(String::as_str))
                .map(|c| format!("{prefix}.{}", ident(c)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let upsert_set = columns
            .iter()
            .map(|c| format!("{} = NEW.{}", ident(c), ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let unchanged = std::iter::once(*pk)
            .chain(columns.iter().map(String::as_str))
            .map(|c| format!("OLD.{} <=> NEW.{}", ident(c), ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let create_trigger = |name: &str, event: &str, body: String| {
            format!(
                "CREATE TRIGGER {if_not_exists}{} AFTER {event} ON {table} FOR EACH ROW {body};",
                ctx.sibling(name)
            )
        };
        // Creation order matters: DELETE and UPDATE first, INSERT last (module doc comment).
        let trigger_sql = vec![
            create_trigger(
                &triggers.delete,
                "DELETE",
                format!("DELETE FROM {new} WHERE {key} = OLD.{key}"),
            ),
            create_trigger(
                &triggers.update_key,
                "UPDATE",
                format!("DELETE FROM {new} WHERE {key} = OLD.{key} AND NOT (OLD.{key} <=> NEW.{key})"),
            ),
            create_trigger(
                &triggers.update,
                "UPDATE",
                format!(
                    "INSERT INTO {new} ({key_and_cols}) SELECT {} FROM DUAL WHERE NOT ({unchanged}) ON DUPLICATE KEY UPDATE {upsert_set}",
                    new_row("NEW")
                ),
            ),
            create_trigger(
                &triggers.insert,
                "INSERT",
                format!(
                    "INSERT INTO {new} ({key_and_cols}) VALUES ({}) ON DUPLICATE KEY UPDATE {upsert_set}",
                    new_row("NEW")
                ),
            ),
        ];
        let mut sync = ctx.step(
            "Mirror every write of the old table into the new one (four triggers)",
            trigger_sql,
            Some(MysqlLock::MetadataExclusive),
            CATALOG_ONLY,
        );
        sync.notes.push(format!("Each trigger is one statement (no BEGIN ... END, so the client needs no DELIMITER). AFTER DELETE deletes the row of {new}; AFTER UPDATE deletes the old key's row when the key changes, then (the second UPDATE trigger fires after the first) upserts the row only when the key or a moved column changes, so once the application writes {new} itself, updates of other columns leave it alone; AFTER INSERT upserts the key and moved columns into {new}. Each runs in the writer's transaction and overwrites with the row's values."));
        sync.notes.push(format!("Run the statements in this order: the INSERT trigger last. Until all four exist a write can reach {new} through one trigger and miss the next; created in this order, a row that reaches {new} (through the UPDATE upsert or the INSERT trigger) has its later updates and deletes mirrored from the start, and a row inserted before the INSERT trigger is copied by the next phase, whose end key is read after all four exist."));
        sync.notes.push("Each CREATE TRIGGER takes the exclusive metadata lock on the old table for a moment (reads and writes wait that long, and behind any long transaction: lock_wait_timeout bounds the wait). From here every write of the old table costs one more row write.".to_string());
        sync.retry = if facts::TRIGGER_IF_NOT_EXISTS.holds(*server) {
            format!(
                "{} IF NOT EXISTS skips the triggers already created.",
                super::RETRY_LOCK_WAIT
            )
        } else {
            format!(
                "{} No IF NOT EXISTS before MySQL 8.0.29: on a re-run, leave out the statements whose trigger the phase check already finds.",
                super::RETRY_LOCK_WAIT
            )
        };
        sync.only_if = Some(moving.clone());
        sync
    }
    /// DROP TRIGGER of the four, in reverse creation order.
    fn drop_trigger_sql(&self) -> Vec<String> {
        let Split { ctx, triggers, .. } = self;
        triggers
            .names()
            .iter()
            .rev()
            .map(|n| format!("DROP TRIGGER IF EXISTS {};", ctx.sibling(n)))
            .collect()
    }
    /// Undoing the expansion: the triggers, then the new table.
    fn expand_rollback(&self) -> Vec<RollbackStep> {
        let Split { ctx, new, .. } = self;
        vec![
            ctx.rollback_ddl(
                self.drop_trigger_sql().join("\n"),
                Some("Each DROP TRIGGER takes the exclusive metadata lock on the old table for a moment."),
            ),
            ctx.rollback_ddl(format!("DROP TABLE IF EXISTS {new};"), None),
        ]
    }
    /// The mirror triggers counted: 4 after the expand phase, 0 after the contract.
    fn triggers_present(&self, n: &str) -> Check {
        let Split {
            ctx, trigger_names, ..
        } = self;
        check(
            if n == "4" {
                "The four mirror triggers are in place"
            } else {
                "The mirror triggers are gone"
            },
            format!(
                "SELECT COUNT(*) AS triggers FROM information_schema.triggers WHERE trigger_schema = {} AND trigger_name IN ({trigger_names});",
                ctx.schema_value()
            ),
            n,
            Expected::row(&[n]),
        )
    }
    /// Phase: the new table, and every write of the old one mirrored into it.
    fn expand(&self) -> Phase {
        let Split {
            ctx,
            new_table,
            new,
            ..
        } = self;
        let create = self.create_step();
        let sync = self.sync_step();
        Phase {
            name: "expand".to_string(),
            purpose: format!("Create {new} (key and moved columns, empty) and mirror every write into it."),
            app_change: None,
            steps: vec![create, ctx.documented(sync)],
            rollback: self.expand_rollback(),
            irreversible: None,
            checks: vec![
                check(
                    "The new table exists with its primary key",
                    format!(
                        "SELECT COUNT(*) AS has_primary_key FROM information_schema.table_constraints WHERE {} AND constraint_type = 'PRIMARY KEY';",
                        ctx.where_table(new_table)
                    ),
                    "1",
                    Expected::row(&["1"]),
                ),
                self.triggers_present("4"),
            ],
        }
    }
    /// The one-row table the repeated batch keeps its place in.
    fn progress_step(&self) -> Step {
        let Split {
            ctx,
            table,
            new,
            key,
            progress,
            moving,
            ..
        } = self;
        let mut setup = ctx.step(
            "Create the progress table the repeated batch keeps its place in",
            vec![format!(
                "CREATE TABLE IF NOT EXISTS {progress} AS SELECT MIN({key}) AS last_key, MAX({key}) AS end_key, 0 AS started FROM {table};"
            )],
            None,
            Estimate::new(0.001, 0.1),
        );
        setup.notes.push(format!("One row: the first key, the last key that exists now (the batches stop there: rows inserted from now on reach {new} through the trigger, and chasing them would never end), and whether the first batch ran. MIN and MAX read the two ends of the primary key only. It survives a dropped connection, so the batch can be repeated from any session."));
        setup.notes.push(format!("Create it only after the expand phase's check finds all four triggers: every row committed before the INSERT trigger existed must lie at or below the end key read here, or it would reach {new} neither through the trigger nor through the copy."));
        setup.retry =
            "If it fails, run it again: IF NOT EXISTS keeps the first row (and the place reached)."
                .to_string();
        setup.only_if = Some(moving.clone());
        setup
    }
    /// One keyset batch of the copy, repeated until it copies nothing.
    fn batch_step(&self) -> Step {
        let Split {
            ctx,
            columns,
            table,
            new,
            key,
            key_and_cols,
            progress,
            moving,
            ..
        } = self;
        let batch = ctx.model.batch_size;
        let pause = ctx.model.batch_pause_ms as f64 / 1000.0;
        let in_batch = format!(
            "{key} >= @lockstep_lo AND {key} <= {{upper}} AND ({key} > @lockstep_lo OR @lockstep_started = 0)"
        );
        let range = |upper: &str| in_batch.replace("{upper}", upper);
        let overwrite = columns
            .iter()
            .map(|c| format!("{new}.{} = VALUES({})", ident(c), ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let batch_sql = vec![
            format!("SELECT last_key, end_key, started INTO @lockstep_lo, @lockstep_end, @lockstep_started FROM {progress};"),
            format!(
                "SELECT COUNT(*), MAX(lockstep_k) INTO @lockstep_n, @lockstep_hi FROM (SELECT {key} AS lockstep_k FROM {table} WHERE {} ORDER BY {key} LIMIT {batch}) AS lockstep_batch;",
                range("@lockstep_end")
            ),
            format!(
                "INSERT INTO {new} ({key_and_cols}) SELECT {key_and_cols} FROM {table} WHERE {} LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE {overwrite};",
                range("@lockstep_hi")
            ),
            format!("UPDATE {progress} SET last_key = @lockstep_hi, started = 1 WHERE @lockstep_n > 0;"),
            "SELECT @lockstep_n AS rows_in_batch;".to_string(),
        ];
        let mut copy_step = ctx.step(
            &format!("Copy the existing rows: one batch of {batch} rows; repeat until it prints 0"),
            batch_sql,
            None,
            ctx.model.backfill(),
        );
        copy_step.scans_table = true;
        copy_step.run = crate::model::Run::UntilDone;
        copy_step.only_if = Some(moving.clone());
        copy_step.notes.push(format!(
            "Repeat this step until it prints 0 (the duration above is for all repetitions). From a shell, with this step's SQL (settings included) in batch.sql: `while out=$(mysql -N -B <connection options> {} < batch.sql) && [ \"$out\" != 0 ]; do sleep {pause}; done` stops at 0 or at the first error. Each statement commits on its own: row locks are held for one batch of {batch} rows only.",
            shell(ctx.req.schema.as_deref().unwrap_or("<database>"))
        ));
        copy_step.notes.push(format!("Keyset pagination: each batch starts after the last key recorded in {progress} and stops at the key that existed when it was created, so it never rereads finished rows and ends while inserts continue."));
        copy_step.notes.push(format!("LOCK IN SHARE MODE: the batch waits for an uncommitted writer of a row, reads its latest committed version (not a snapshot) and makes a later UPDATE or DELETE of it wait until the batch commits, so what it writes is the row's value at that commit: never older than what a trigger wrote, and a row deleted meanwhile is not read, so never brought back. ON DUPLICATE KEY UPDATE overwrites the moved columns of a row already in {new} with these values (VALUES(col): the value the batch read)."));
        copy_step.notes.push(format!("Finish it before the switch-writes deploy and never run it after: from then on only {new} holds the moved values, and a batch would copy the old columns over them."));
        if ctx.req.env.replicas {
            copy_step.notes.push(
                "Watch replica lag between batches; pause the loop while replicas catch up."
                    .to_string(),
            );
        }
        copy_step.retry = "If a run fails (lock wait timeout, deadlock), run it again: a batch is redone from the recorded place, and redoing it changes nothing.".to_string();
        copy_step
    }
    /// Both tables hold the same key and moved columns (count and checksum, one snapshot).
    fn same_check(&self) -> Check {
        let Split {
            columns,
            pk,
            table,
            new,
            ..
        } = self;
        let checksum = |t: &str| {
            let mut parts: Vec<String> = std::iter::once(*pk)
                .chain(columns.iter().map(String::as_str))
                .map(|c| format!("lockstep_t.{}", ident(c)))
                .collect();
            parts.extend(
                columns
                    .iter()
                    .map(|c| format!("ISNULL(lockstep_t.{})", ident(c))),
            );
            format!(
                "(SELECT CONCAT(COUNT(*), '/', COALESCE(BIT_XOR(CAST(CONV(LEFT(MD5(CONCAT_WS('|', {})), 16), 16, 10) AS UNSIGNED)), 0)) FROM {t} AS lockstep_t)",
                parts.join(", ")
            )
        };
        let same_check = check(
            "Old and new tables hold the same rows: count and checksum of key + moved columns, in one snapshot (two full scans: run it on a replica if you have one)",
            format!("SELECT {} = {} AS same;", checksum(table), checksum(new)),
            "1",
            Expected::row(&["1"]),
        ).scanning();
        same_check
    }
    /// Phase: the rows that existed before the triggers, copied in batches, then compared.
    fn copy(&self) -> Phase {
        let Split {
            ctx, new, progress, ..
        } = self;
        let drop_progress = format!("DROP TABLE IF EXISTS {progress};");
        Phase {
            name: "copy".to_string(),
            purpose: format!("Copy the rows that existed before the triggers into {new}, in small batches while traffic continues, then prove both tables agree."),
            app_change: None,
            steps: vec![self.progress_step(), self.batch_step()],
            rollback: {
                let mut r = self.expand_rollback();
                r[0].note = Some(format!("This also undoes phase 2 (expand): the copied rows live in {new}, which these statements drop with the mirror triggers (each DROP TRIGGER takes the exclusive metadata lock on the old table for a moment). To keep the expansion instead, drop only the progress table (the last statement)."));
                r[0].also_undoes = 1;
                r.push(ctx.rollback_ddl(drop_progress.clone(), None));
                r
            },
            irreversible: None,
            checks: vec![self.same_check()],
        }
    }
    /// Deploy gate: the application reads the new table.
    fn switch_reads(&self) -> Phase {
        let Split {
            table,
            new,
            key,
            cols,
            ..
        } = self;
        Phase {
            name: "switch reads".to_string(),
            purpose: format!("The application reads the moved columns from {new}; writes still go to {table}, and the triggers mirror them."),
            app_change: Some(format!(
                "Deploy the version that reads {cols} from {new} (joined on {key}; every row of {table} has its row in {new} from now on). It still writes them to {table}."
            )),
            steps: Vec::new(),
            rollback: vec![crate::strategy::rollback(
                "SELECT 'no database change to undo' AS rollback;",
                Some("This phase changes no schema: deploy the previous application version, which reads the old columns (still complete: every write still goes to them)."),
            )],
            irreversible: None,
            checks: vec![self.same_check()],
        }
    }
    /// Deploy gate: the application writes the new table only.
    fn switch_writes(&self) -> Phase {
        let Split {
            columns,
            table,
            new,
            key,
            cols,
            ..
        } = self;
        let set_back = columns
            .iter()
            .map(|c| format!("lockstep_o.{} = lockstep_n.{}", ident(c), ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let differs = columns
            .iter()
            .map(|c| format!("lockstep_o.{} <=> lockstep_n.{}", ident(c), ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        Phase {
            name: "switch writes".to_string(),
            purpose: format!("The application writes the moved columns to {new} only."),
            app_change: Some(format!(
                "Deploy the version that writes {cols} to {new} with INSERT ... ON DUPLICATE KEY UPDATE, after inserting the row of {table} (the trigger has already created the row of {new} then), and no longer writes them to {table}. Until the last old instance is gone the triggers keep mirroring its writes."
            )),
            steps: Vec::new(),
            rollback: vec![crate::strategy::rollback(
                format!("UPDATE {table} AS lockstep_o JOIN {new} AS lockstep_n ON lockstep_n.{key} = lockstep_o.{key} SET {set_back} WHERE NOT ({differs});"),
                Some("Copy back into the old columns what was written to the new table only (one statement here: on a large table run it in key ranges like the copy), then deploy the previous version."),
            )],
            irreversible: None,
            checks: Vec::new(),
        }
    }
    /// The moved columns dropped from the old table: INSTANT where the server can, else in place.
    fn drop_columns_step(&self) -> Step {
        let Split {
            ctx,
            columns,
            table,
            ..
        } = self;
        let drops = columns
            .iter()
            .map(|c| format!("DROP COLUMN {}", ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let inplace_sql = format!(
            "ALTER TABLE {table} {drops}{};",
            ctx.lock_clause(MysqlLock::INPLACE_NONE)
        );
        let mut drop_cols = if self.instant {
            let mut s = ctx.alter(
                "Drop the moved columns from the old table (INSTANT: only the data dictionary changes)",
                std::slice::from_ref(&drops),
                MysqlLock::INSTANT,
                CATALOG_ONLY,
            );
            s.notes.push(format!("If the server refuses INSTANT (a moved column is in an index: the preflight listed them), nothing changed: run instead {inplace_sql} (rebuilds the table; reads and writes continue)."));
            s
        } else {
            let mut s = ctx.alter(
                "Drop the moved columns from the old table (rebuilds it in place; reads and writes continue)",
                std::slice::from_ref(&drops),
                MysqlLock::INPLACE_NONE,
                ctx.model.rewrite(),
            );
            s.rewrites_table = true;
            s
        };
        drop_cols.retry = format!(
            "{} If it says a column does not exist, it was already dropped: leave that column out.",
            super::RETRY_LOCK_WAIT
        );
        ctx.documented(drop_cols)
    }
    /// Phase: the triggers, the old columns and the progress table removed; irreversible.
    fn contract(&self) -> Phase {
        let Split {
            ctx,
            table,
            new,
            cols,
            progress,
            moved_where,
            ..
        } = self;
        let mut drop_trg = ctx.step(
            "Drop the mirror triggers",
            self.drop_trigger_sql(),
            Some(MysqlLock::MetadataExclusive),
            CATALOG_ONLY,
        );
        drop_trg.notes.push(
            "Each DROP TRIGGER takes the exclusive metadata lock on the old table for a moment."
                .to_string(),
        );
        drop_trg.retry = format!(
            "{} IF EXISTS makes it a no-op once done.",
            super::RETRY_LOCK_WAIT
        );
        let mut drop_prog = ctx.step(
            "Drop the backfill progress table",
            vec![format!("DROP TABLE IF EXISTS {progress};")],
            None,
            CATALOG_ONLY,
        );
        drop_prog.retry = "If it fails, run it again (IF EXISTS).".to_string();
        ctx.small_drop_stall(&mut drop_prog);
        let contract_steps: Vec<Step> = vec![
            ctx.documented(drop_trg),
            self.drop_columns_step(),
            drop_prog,
        ];
        Phase {
            name: "contract".to_string(),
            purpose: format!("Remove the transition: the mirror triggers, the moved columns of {table}, the progress table."),
            app_change: Some(format!(
                "Every application instance reads and writes {cols} in {new} only, deletes the row of {new} when it deletes the row of {table} (the trigger did until now), and you no longer need to go back: the old values are dropped here."
            )),
            steps: contract_steps,
            rollback: Vec::new(),
            irreversible: Some(format!("DROP COLUMN discards the old copies of {cols}; the data lives on in {new}.")),
            checks: vec![
                check(
                    "The moved columns are gone from the old table",
                    format!("SELECT COUNT(*) AS left_behind FROM information_schema.columns WHERE {moved_where};"),
                    "0",
                    Expected::row(&["0"]),
                ),
                self.triggers_present("0"),
            ],
        }
    }
}

pub fn paths(ctx: &Ctx, change: &SplitTable) -> Result<Paths, FieldError> {
    let split = Split::new(ctx, change)?;
    let Split {
        table,
        new,
        key,
        cols,
        ..
    } = &split;
    let mut out = summary_paths(format!(
        "Move {cols} of {table} into a new table {new} keyed by {key}"
    ));
    out.warnings.push(Warning {
        code: "split-needs-deploys".to_string(),
        message: "A split changes what the application reads and writes: the plan has deploy gates (switch reads, switch writes, contract) and no single-statement alternative.".to_string(),
    });
    out.warnings.push(Warning {
        code: "trigger-write-cost".to_string(),
        message: format!("From the expand phase to the contract phase every INSERT, UPDATE and DELETE of {table} also writes {new} in the same transaction (more row locks, more binlog). Keep the two deploys close together."),
    });
    let mut online = vec![
        split.preflight(),
        split.expand(),
        split.copy(),
        split.switch_reads(),
        split.switch_writes(),
        split.contract(),
    ];
    super::rerun::guard_transition_checks(&mut online, &split.moving);
    out.online = Some(online);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::model::{Expected, Plan};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "split-table")
            .with("table", "orders`; drop table x; --")
            .with("columns", "email,note")
            .with("new-table", "order_contacts")
            .with("rows", "50M")
            .with("size", "20GB")
            .with("max-downtime", "0")
    }

    fn plan(db: &str) -> Plan {
        crate::plan(&params(db)).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn dropping_the_progress_table_claims_the_commit_stall_only() {
        let plan = plan("mariadb@10.11");
        let drop = plan
            .steps()
            .find(|s| s.title == "Drop the backfill progress table")
            .unwrap();
        assert_eq!(drop.blocks, crate::model::Blocks::Nothing);
        // One row, whatever the size of the split table.
        assert_eq!(
            drop.server_stall_seconds,
            Some(crate::estimate::CATALOG_ONLY)
        );
    }

    /// The contract drops the moved columns INSTANT on 8.0.29+ (8.0.32+ here, past the
    /// defects): the preflight must prove the table has a row version left, as add-column and
    /// drop-column do, or ERROR 4092 would meet the operator at the last phase.
    #[test]
    fn an_instant_contract_drop_is_preceded_by_the_row_version_check() {
        let room = |db: &str| {
            plan(db).phases[0]
                .checks
                .iter()
                .find(|c| c.sql.contains("total_row_versions + 1 <= 64"))
                .map(|c| (c.expected.clone(), c.sql.clone()))
        };
        let (expected, sql) = room("mysql@8.0.35").expect("8.0.35 checks the row versions");
        assert_eq!(expected, Expected::row(&["1"]));
        assert!(
            sql.contains("CONCAT(DATABASE(), '/', 'orders`; drop table x; --')"),
            "{sql}"
        );
        let contract = plan("mysql@8.0.35");
        let drop = contract
            .steps()
            .find(|s| s.title.starts_with("Drop the moved columns"))
            .unwrap();
        assert!(
            drop.sql[0].ends_with("ALGORITHM=INSTANT;"),
            "{:?}",
            drop.sql
        );
        for db in [
            "mysql@8.0.28",
            "mysql@8.0.30",
            "mysql@5.7",
            "mariadb@10.11.6",
        ] {
            assert_eq!(room(db), None, "{db}");
        }
        // What refuses INSTANT on every version is checked wherever the drop is INSTANT.
        let refusals = |db: &str| {
            plan(db).phases[0].checks.iter().any(|c| {
                c.sql.contains("row_format = 'Compressed'") && c.expected == Expected::row(&["1"])
            })
        };
        assert!(refusals("mysql@8.0.35"));
        assert!(refusals("mariadb@10.11.6"));
        assert!(!refusals("mysql@5.7"));
    }

    #[test]
    fn online_only_never_beyond_a_metadata_moment() {
        for db in ["mariadb@10.11.6", "mysql@8.0.35", "mysql@5.7"] {
            let p = plan(db);
            assert_eq!(p.strategy.chosen, "online");
            assert!(p.steps().all(|s| s.hold_seconds.high <= 0.05), "{db}");
            let names: Vec<_> = p.phases.iter().map(|ph| ph.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "preflight",
                    "expand",
                    "copy",
                    "switch reads",
                    "switch writes",
                    "contract"
                ]
            );
        }
    }

    #[test]
    fn triggers_are_single_statements_and_keep_both_tables_in_sync() {
        let p = plan("mariadb@10.11.6");
        let sync = &p.phases[1].steps[1];
        assert_eq!(sync.sql.len(), 4);
        assert!(sync.sql[3].starts_with("CREATE TRIGGER IF NOT EXISTS `lockstep_ins_order_contacts` AFTER INSERT ON `orders``; drop table x; --` FOR EACH ROW INSERT INTO `order_contacts`"));
        assert!(sync.sql.iter().all(|s| !s.contains("BEGIN")));
        assert!(sync.sql[2].contains("WHERE NOT (OLD.`id` <=> NEW.`id` AND OLD.`email` <=> NEW.`email` AND OLD.`note` <=> NEW.`note`)"));
        assert!(sync.sql[0].contains("AFTER DELETE"));
        // Both upserts overwrite the moved columns with the written row.
        for i in [2, 3] {
            assert!(sync.sql[i]
                .ends_with("ON DUPLICATE KEY UPDATE `email` = NEW.`email`, `note` = NEW.`note`;"));
        }
        // MySQL before 8.0.29 has no IF NOT EXISTS for triggers.
        let p = plan("mysql@8.0.28");
        assert!(p.phases[1].steps[1].sql[0].starts_with("CREATE TRIGGER `lockstep_del"));
        // CREATE TABLE ... SELECT is refused under enforced GTID consistency before 8.0.21.
        assert!(plan("mysql@8.0.20").phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("enforce_gtid_consistency")));
        assert!(plan("mysql@8.0.35").phases[0]
            .checks
            .iter()
            .all(|c| !c.sql.contains("enforce_gtid_consistency")));
    }

    #[test]
    fn copy_is_a_repeated_locking_batch_that_stops_at_the_recorded_end() {
        let p = plan("mariadb@10.11.6");
        let step = &p.phases[2].steps[1];
        assert!(step.title.contains("repeat until it prints 0"));
        assert!(step.sql[2].ends_with("LOCK IN SHARE MODE ON DUPLICATE KEY UPDATE `order_contacts`.`email` = VALUES(`email`), `order_contacts`.`note` = VALUES(`note`);"));
        assert!(step.sql[1].contains("<= @lockstep_end"));
        assert_eq!(
            step.sql.last().unwrap(),
            "SELECT @lockstep_n AS rows_in_batch;"
        );
        assert!(step.lock.is_none());
        assert!(p.phases[2].checks[0].expected == Expected::row(&["1"]));
    }

    /// The verifier's data-loss finding: a row inserted once the INSERT trigger existed and
    /// updated before the UPDATE trigger existed kept stale values, because the INSERT trigger
    /// came first and the copy kept the row it found. Now the DELETE and UPDATE triggers come
    /// first, the copy's end key is read only after all four exist, and the copy overwrites.
    #[test]
    fn insert_trigger_last_end_key_after_all_triggers_and_the_copy_overwrites() {
        for db in ["mariadb@10.11.6", "mysql@8.0.35", "mysql@5.7"] {
            let p = plan(db);
            // (phase, step, statement, SQL) of every statement, in the order the plan runs them.
            let order: Vec<(usize, usize, usize, &str)> = p
                .phases
                .iter()
                .enumerate()
                .flat_map(|(pi, ph)| {
                    ph.steps.iter().enumerate().flat_map(move |(si, st)| {
                        st.sql
                            .iter()
                            .enumerate()
                            .map(move |(qi, q)| (pi, si, qi, q.as_str()))
                    })
                })
                .collect();
            let at = |needle: &str| {
                order
                    .iter()
                    .position(|(_, _, _, q)| q.contains(needle))
                    .unwrap_or_else(|| panic!("{db}: no statement with {needle}"))
            };
            let creates: Vec<usize> = [
                "AFTER DELETE",
                "`lockstep_updkey_",
                "`lockstep_upd_",
                "AFTER INSERT",
            ]
            .iter()
            .map(|n| at(n))
            .collect();
            assert!(creates.windows(2).all(|w| w[0] < w[1]), "{db}: {creates:?}");
            assert!(order[creates[1]].3.contains("AFTER UPDATE"));
            assert!(order[creates[2]].3.contains("AFTER UPDATE"));
            // The end key (MAX) is read after the last trigger, in the next phase, whose
            // predecessor checks that all four triggers exist.
            let end_key = at("MAX(`id`) AS end_key");
            assert!(end_key > creates[3], "{db}");
            let (trigger_phase, end_phase) = (order[creates[3]].0, order[end_key].0);
            assert_eq!(end_phase, trigger_phase + 1, "{db}");
            assert!(p.phases[trigger_phase]
                .checks
                .iter()
                .any(|c| c.description == "The four mirror triggers are in place"
                    && c.expected == Expected::row(&["4"])));
            // The copy writes what it read (locking read), never keeps the new table's row.
            let copy = order[at("LOCK IN SHARE MODE")].3;
            assert!(copy.contains("ON DUPLICATE KEY UPDATE `order_contacts`.`email` = VALUES(`email`), `order_contacts`.`note` = VALUES(`note`);"), "{db}");
            assert!(!copy.contains("`order_contacts`.`id` = `order_contacts`.`id`"));
            assert!(at("LOCK IN SHARE MODE") > end_key);
            // Triggers go in reverse: the INSERT trigger first.
            let contract = p.phases.last().unwrap();
            assert!(contract.steps[0].sql[0].contains("`lockstep_ins_order_contacts`"));
            assert!(contract.steps[0].sql[3].contains("`lockstep_del_order_contacts`"));
        }
    }

    #[test]
    fn a_rollback_that_undoes_the_expansion_says_so() {
        let p = plan("mariadb@10.11.6");
        let copy = &p.phases[2];
        assert_eq!(copy.name, "copy");
        let note = copy.rollback[0].note.as_deref().unwrap();
        assert!(
            note.starts_with("This also undoes phase 2 (expand):"),
            "{note}"
        );
        assert_eq!(p.phases[1].name, "expand");
        assert!(copy
            .rollback
            .iter()
            .any(|r| r.sql.contains("DROP TABLE IF EXISTS `order_contacts`;")));
        // The expand phase's own rollback undoes only itself and claims nothing wider.
        assert!(p.phases[1]
            .rollback
            .iter()
            .all(|r| r.note.as_deref().is_none_or(|n| !n.contains("undoes"))));
    }

    #[test]
    fn contract_drops_columns_instantly_where_possible() {
        let p = plan("mariadb@10.11.6");
        let contract = p.phases.last().unwrap();
        assert!(contract.steps[1].sql[0]
            .ends_with("DROP COLUMN IF EXISTS `email`, DROP COLUMN IF EXISTS `note`, ALGORITHM=INSTANT, LOCK=NONE;"));
        assert!(contract.irreversible.is_some());
        let p = plan("mysql@5.7");
        let step = &p.phases.last().unwrap().steps[1];
        assert!(step.sql[0].ends_with("ALGORITHM=INPLACE, LOCK=NONE;"));
        assert!(step.rewrites_table);
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let mut p = params("mysql@8.0.35");
        p.set("columns", "id,email");
        assert!(crate::plan(&p)
            .unwrap_err()
            .iter()
            .any(|e| e.field == "columns"));
        let mut p = params("mysql@8.0.35");
        p.set("primary-key", "none");
        assert!(crate::plan(&p)
            .unwrap_err()
            .iter()
            .any(|e| e.field == "primary-key"));
        let mut p = params("mysql@8.0.35");
        p.set("new-table", "orders`; drop table x; --");
        assert!(crate::plan(&p)
            .unwrap_err()
            .iter()
            .any(|e| e.field == "new-table"));
    }
}
