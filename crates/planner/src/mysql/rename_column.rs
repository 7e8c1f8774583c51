//! Rename a column (MySQL, MariaDB).
//!
//! The rename itself is cheap: `RENAME COLUMN a TO b` (MySQL 8.0, MariaDB 10.5.2) is INSTANT
//! on MySQL 8.0.28+ and MariaDB (accepted on 10.11), INPLACE metadata-only before; older
//! servers restate the column, `CHANGE a b <full definition>` (so the plan needs the column's
//! type). But every client query that names the old column fails the moment it commits,
//! whatever the lock, so the online path is required whatever the budget.
//!
//! PostgreSQL's plan keeps both names working with an updatable view over the renamed table.
//! That does not carry over: a view that shows one column under two names is not insertable
//! on MySQL (manual, "Updatable and Insertable Views": multiple references to a base column
//! fail for INSERT; MariaDB's KB states the same, though 10.11 accepted an INSERT naming one),
//! and neither server can rename a column and swap a view in one statement, so queries
//! through the view would fail between the two. The MySQL way is expand/contract with a second
//! column kept in sync by triggers:
//!
//! 1. expand — add the new column (nullable, no default, so a trigger can tell whether an
//!    INSERT set it), and two BEFORE triggers, each a single `SET`: an INSERT copies whichever
//!    name the statement set to the other; an UPDATE that changed the new name copies it to
//!    the old one, any other UPDATE copies the old name to the new one (seen on MariaDB 10.11
//!    for INSERTs naming either column, UPDATEs of either, and unrelated UPDATEs);
//! 2. backfill — walk the table by primary key in batches (a stored procedure run from the
//!    mysql client, as a loop cannot be written in plain statements), then add the column's
//!    indexes on the new name (the preflight prints the statements);
//! 3. the application deploys using the new name;
//! 4. contract — drop the triggers, then in one in-place ALTER (reads and writes continue) drop
//!    the old column and give the new one its full definition (NOT NULL, DEFAULT). Whether that
//!    rebuilds the table is `engines::mysql::drop_and_modify_column_rebuilds`: always on MySQL
//!    (manual, "Online DDL Operations"); on MariaDB 10.4+ only when it adds NOT NULL or the old
//!    column is in a multi-column index (seen on 10.11: otherwise metadata only).
//!
//! CREATE TRIGGER and DROP TRIGGER take the table's exclusive metadata lock for a moment, like
//! an ALTER, and run under the same lock_wait_timeout. The column ends up last in the table.
//! On MySQL an INSERT that leaves out a NOT NULL column without a DEFAULT fails before any
//! trigger runs (`engines::mysql`), so there the new version must write both names until the
//! contract when the old column is such a column (the preflight says which).

use super::definition::parse_field;
use super::definition::{lost_attributes_check, words, Definition};
use super::{lock_wait_seconds, summary_paths, Ctx};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Estimate, Expected, MysqlLock, Phase, RollbackStep, Step, Warning};
use crate::mysql::facts::{self, Server};
use crate::quote::mysql::{derived_name, ident, literal};
use crate::request::change::RenameColumn;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// The definition of the column while both names live: the given one without NULL/NOT NULL
/// and DEFAULT, made nullable (default NULL), so the INSERT trigger can tell "not set".
fn transition_definition(full: &str) -> String {
    let words = words(full);
    let mut kept: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].to_ascii_lowercase();
        if w == "not"
            && words
                .get(i + 1)
                .is_some_and(|n| n.eq_ignore_ascii_case("null"))
        {
            i += 2;
        } else if w == "null" {
            i += 1;
        } else if w == "default" {
            i += 2;
        } else {
            kept.push(&words[i]);
            i += 1;
        }
    }
    format!("{} NULL", kept.join(" "))
}

fn column_type(change: &RenameColumn) -> Result<Definition, FieldError> {
    let data_type = &change.data_type;
    let Some(full) = data_type
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    else {
        return Err(FieldError::new(
            "type",
            "is required for MySQL and MariaDB: keeping both names working adds a second column with the same definition (and CHANGE restates it before RENAME COLUMN existed). Accepts the column's definition as SHOW CREATE TABLE prints it after the name, e.g. --type 'int NOT NULL' or --type \"varchar(64) NOT NULL DEFAULT ''\"",
        ));
    };
    let def = parse_field("type", full)?;
    if def.auto_increment || def.generated {
        return Err(FieldError::new(
            "type",
            format!("contains {}: an AUTO_INCREMENT or generated column cannot be duplicated by this plan (rename it directly, with every client stopped, or copy the table with an online-schema-change tool). Accepts a plain definition such as 'int NOT NULL' or \"varchar(64) NOT NULL DEFAULT ''\"", if def.auto_increment { "AUTO_INCREMENT" } else { "a generated column's AS (...)" }),
        ));
    }
    Ok(def)
}

/// What both paths share: the names, quoted once, the column's definition, and the decisions
/// the online path makes once (how the new column is added, whether the contract rebuilds).
struct Rename<'a> {
    ctx: &'a Ctx<'a>,
    column: &'a str,
    new_name: &'a str,
    pk: &'a str,
    server: Server,
    definition: Definition,
    /// The column's full definition, as `--type` gave it.
    full: String,
    table: String,
    table_name: &'a str,
    old: String,
    new: String,
    old_lit: String,
    new_lit: String,
    pk_q: String,
    where_t: String,
    ins_trigger: String,
    upd_trigger: String,
    procedure: String,
    /// The new column's definition while both names live (nullable, no default).
    transition: String,
    add_lock: MysqlLock,
    add_estimate: Estimate,
    /// AFTER keeps the column where the old one was once the contract drops it, wherever the
    /// ADD can take it at no extra cost: an instant add anywhere, or an in-place rebuild.
    keeps_position: bool,
    position: String,
    adds_not_null: bool,
    contract_rebuilds: bool,
}

impl<'a> Rename<'a> {
    /// Refuses what the rename cannot do, then names everything once.
    fn new(ctx: &'a Ctx<'a>, change: &'a RenameColumn) -> Result<Self, FieldError> {
        let RenameColumn {
            column, new_name, ..
        } = change;
        if new_name == column {
            return Err(FieldError::new(
                "new-name",
                "is the column's current name; accepts a different name",
            ));
        }
        let definition = column_type(change)?;
        let full = definition.text();
        let Some(pk) = ctx.req.env.primary_key.as_deref() else {
            return Err(FieldError::new(
                "primary-key",
                "is none: the backfill walks the table by its primary key in batches; accepts the primary key's (first) column, default id",
            ));
        };
        let table = ctx.table();
        let table_name = &ctx.req.table;
        let (old, new) = (ident(column), ident(new_name));
        let (old_lit, new_lit) = (literal(column), literal(new_name));
        let pk_q = ident(pk);
        let where_t = ctx.where_table(table_name);
        let ins_trigger = derived_name(&[table_name, "lockstep_rename_ins"]);
        let upd_trigger = derived_name(&[table_name, "lockstep_rename_upd"]);
        let procedure = derived_name(&[table_name, "lockstep_backfill"]);
        let transition = transition_definition(&full);
        let (add_lock, add_estimate) = if facts::INSTANT_ADD_COLUMN_LAST.holds(ctx.server) {
            (MysqlLock::INSTANT, CATALOG_ONLY)
        } else {
            (MysqlLock::INPLACE_NONE, ctx.model.rewrite())
        };
        let keeps_position =
            facts::INSTANT_ADD_DROP_ANYWHERE.holds(ctx.server) || add_lock != MysqlLock::INSTANT;
        let position = if keeps_position {
            format!(" AFTER {old}")
        } else {
            String::new()
        };
        let adds_not_null = definition.not_null == Some(true);
        Ok(Rename {
            ctx,
            column,
            new_name,
            pk,
            server: ctx.server,
            contract_rebuilds: ctx.server.drop_and_modify_column_rebuilds(adds_not_null),
            definition,
            full,
            table,
            table_name,
            old,
            new,
            old_lit,
            new_lit,
            pk_q,
            where_t,
            ins_trigger,
            upd_trigger,
            procedure,
            transition,
            add_lock,
            add_estimate,
            keeps_position,
            position,
            adds_not_null,
        })
    }

    /// The old and new names counted in the catalog.
    fn names_check(&self, description: &str, expect: [&str; 2]) -> Check {
        let Rename {
            old_lit,
            new_lit,
            where_t,
            ..
        } = self;
        check(
            description,
            format!(
                "SELECT SUM(column_name = {old_lit}) AS old_name, SUM(column_name = {new_lit}) AS new_name FROM information_schema.columns WHERE {where_t};"
            ),
            &format!("{}, {}", expect[0], expect[1]),
            Expected::row(&expect),
        )
    }

    /// Where the plan may start: before it (the old name only), or where it left off and a re-run continues (both names with the sync triggers; the new name only, completed). Both names without the triggers is an interrupted contract: the triggers and backfill would copy the old column's stale values over the new one, so it stops there.
    fn start_check(&self) -> Check {
        let Rename {
            ctx,
            old,
            new,
            old_lit,
            new_lit,
            where_t,
            ins_trigger,
            upd_trigger,
            ..
        } = self;
        check(
            &format!("The column {old} exists and no column is named {new} yet (or this plan already got that far: both with its sync triggers, or only {new})"),
            format!(
                "SELECT (o = 1 AND n = 0) OR (o = 0 AND n = 1) OR (o = 1 AND n = 1 AND t = 2) AS can_start FROM (SELECT SUM(column_name = {old_lit}) AS o, SUM(column_name = {new_lit}) AS n, (SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = {s} AND trigger_name IN ({ins}, {upd})) AS t FROM information_schema.columns WHERE {where_t}) AS lockstep_names;",
                s = ctx.schema_value(),
                ins = literal(ins_trigger),
                upd = literal(upd_trigger),
            ),
            "1",
            Expected::row(&["1"]),
        )
    }

    /// The column as the catalog has it, for the record beside `--type`.
    fn definition_check(&self) -> Check {
        let Rename {
            full,
            old_lit,
            where_t,
            ..
        } = self;
        check(
            "The column's current definition, to compare with --type",
            format!("SELECT column_type, is_nullable, column_default, extra FROM information_schema.columns WHERE {where_t} AND column_name = {old_lit};"),
            &format!("the same type, nullability and default as {full}"),
            Expected::Manual,
        )
    }

    /// What proves `--type` restates the column: its type, and every attribute the column has.
    fn restates_checks(&self) -> Vec<Check> {
        let Rename {
            ctx,
            column,
            new_name,
            definition,
            ..
        } = self;
        super::definition::from_type_check(
            ctx,
            column,
            definition,
            "type",
            Some((new_name, definition)),
        )
        .into_iter()
        .chain(lost_attributes_check(
            ctx,
            column,
            definition,
            "restating it as --type",
        ))
        .collect()
    }

    /// The direct rename's clause: INSTANT only where it also renames a column another table's foreign key references (MySQL refuses that except INPLACE, which is metadata only too).
    fn rename_lock(&self) -> MysqlLock {
        let Rename { server, .. } = self;
        if facts::INSTANT_RENAME_COLUMN.holds(*server)
            && facts::INSTANT_RENAME_REFERENCED_COLUMN.holds(*server)
        {
            MysqlLock::INSTANT
        } else {
            MysqlLock::INPLACE_NONE
        }
    }

    /// RENAME COLUMN where the server has it, else CHANGE restating the column; forward and back.
    fn rename_clauses(&self) -> (String, String) {
        let Rename {
            server,
            full,
            old,
            new,
            ..
        } = self;
        if facts::RENAME_COLUMN.holds(*server) {
            (
                format!("RENAME COLUMN {old} TO {new}"),
                format!("RENAME COLUMN {new} TO {old}"),
            )
        } else {
            (
                format!("CHANGE COLUMN {old} {new} {full}"),
                format!("CHANGE COLUMN {new} {old} {full}"),
            )
        }
    }

    /// The direct path's one statement.
    fn rename_step(&self) -> Step {
        let Rename {
            ctx, server, old, ..
        } = self;
        let rename_lock = self.rename_lock();
        let (rename_clause, _) = self.rename_clauses();
        let mut rename = ctx.alter(
            "Rename the column",
            std::slice::from_ref(&rename_clause),
            rename_lock,
            CATALOG_ONLY,
        );
        rename.notes.push(format!(
            "Every query naming {old} fails from the moment this commits."
        ));
        if facts::INSTANT_RENAME_COLUMN.holds(*server) && rename_lock != MysqlLock::INSTANT {
            rename.notes.push("ALGORITHM=INPLACE rather than INSTANT: MySQL renames a column that another table's foreign key references only in place (INSTANT is refused there); in place, a rename changes only metadata all the same.".to_string());
        }
        if !facts::RENAME_COLUMN.holds(*server) {
            rename.notes.push("CHANGE restates the whole column: the definition must be exactly the current one (the preflight shows it), or this also changes the column.".to_string());
        }
        ctx.documented(rename)
    }

    /// The direct path: one statement, with every client stopped.
    fn direct(&self) -> Vec<Phase> {
        let Rename {
            ctx,
            server,
            table,
            old,
            new,
            ..
        } = self;
        let rename_lock = self.rename_lock();
        let (_, rename_back) = self.rename_clauses();
        let mut direct_checks = vec![self.start_check(), self.definition_check()];
        if !facts::RENAME_COLUMN.holds(*server) {
            direct_checks.extend(self.restates_checks());
        }
        vec![
            ctx.preflight(None, direct_checks),
            Phase {
                name: "rename column".to_string(),
                purpose: format!("Rename {old} to {new}."),
                app_change: Some(format!(
                    "Stop every client that uses {old}; start them again with {new} right after this phase."
                )),
                steps: vec![self.rename_step()],
                rollback: vec![ctx.rollback_ddl(
                    format!(
                        "ALTER TABLE {table} {rename_back}{};",
                        ctx.lock_clause(rename_lock)
                    ),
                    None,
                )],
                irreversible: None,
                checks: vec![self.names_check(
                    &format!("The table has {new} and no longer {old}"),
                    ["0", "1"],
                )],
            },
        ]
    }

    /// The new column, nullable while both names live, where the old one is when it can be.
    fn add_step(&self) -> Step {
        let Rename {
            ctx,
            full,
            new,
            transition,
            add_lock,
            add_estimate,
            position,
            ..
        } = self;
        let mut add = ctx.alter(
            &format!("Add {new} with the same type, nullable for now"),
            &[format!("ADD COLUMN {new} {transition}{position}")],
            *add_lock,
            *add_estimate,
        );
        add.rewrites_table = *add_lock != MysqlLock::INSTANT;
        add.notes.push(format!("Nullable without a default while both names live, so the INSERT trigger can tell whether a statement set {new}; the contract phase gives it the full definition ({full})."));
        ctx.documented(add)
    }

    /// Two BEFORE triggers that keep both names equal on every write.
    fn triggers_step(&self) -> Step {
        let Rename {
            ctx,
            column,
            table,
            old,
            new,
            ins_trigger,
            upd_trigger,
            ..
        } = self;
        let trigger_sql = |name: &str, event: &str, body: String| {
            format!(
                "CREATE TRIGGER {} BEFORE {event} ON {table} FOR EACH ROW {body};",
                ctx.sibling(name)
            )
        };
        let mut triggers = ctx.step(
            "Keep both names in sync with two BEFORE triggers",
            vec![
                trigger_sql(
                    ins_trigger,
                    "INSERT",
                    format!("SET NEW.{old} = IF(NEW.{new} IS NULL, NEW.{old}, NEW.{new}), NEW.{new} = IF(NEW.{new} IS NULL, NEW.{old}, NEW.{new})"),
                ),
                trigger_sql(
                    upd_trigger,
                    "UPDATE",
                    format!("SET NEW.{old} = IF(NEW.{new} <=> OLD.{new}, NEW.{old}, NEW.{new}), NEW.{new} = NEW.{old}"),
                ),
            ],
            Some(MysqlLock::MetadataExclusive),
            CATALOG_ONLY,
        );
        triggers.notes.push(format!("INSERT: a statement that sets {new} wins; one that sets only {old} is copied to {new}. UPDATE: a statement that changes {new} wins; any other copies {old} to {new}. Each trigger is one SET, so no DELIMITER is needed. An INSERT that sets {new} to NULL explicitly gets {old}'s value instead."));
        triggers.retry = format!("{} If the second CREATE TRIGGER failed, run only that one: the first exists already (\"Trigger already exists\"), as the phase's check shows.", super::RETRY_LOCK_WAIT);
        triggers.notes.push("Each CREATE TRIGGER takes the table's exclusive metadata lock for a moment. They run after the table's existing triggers of the same event (the default order), and every write pays for them until the contract phase.".to_string());
        // Once the contract phase has dropped the old column, a re-run must not add triggers
        // naming it (every write would fail).
        triggers.only_if = Some(ctx.column_present(&ctx.req.table, column));
        ctx.documented(triggers)
    }

    /// The batched copy, as a stored procedure run from the mysql client (a loop needs one).
    fn backfill_step(&self) -> Step {
        let Rename {
            ctx,
            table,
            old,
            new,
            pk_q,
            procedure,
            ..
        } = self;
        let backfill_sql = format!(
            "DROP PROCEDURE IF EXISTS {p};\nDELIMITER //\nCREATE PROCEDURE {p}()\nBEGIN\n  SET @lockstep_end = (SELECT MAX({pk_q}) FROM {table});\n  SET @lockstep_lo = (SELECT MIN({pk_q}) FROM {table});\n  WHILE @lockstep_lo IS NOT NULL DO\n    SET @lockstep_hi = (SELECT MAX({pk_q}) FROM (SELECT {pk_q} FROM {table} WHERE {pk_q} >= @lockstep_lo AND {pk_q} <= @lockstep_end ORDER BY {pk_q} LIMIT {batch}) AS lockstep_batch);\n    UPDATE {table} SET {new} = {old} WHERE {pk_q} >= @lockstep_lo AND {pk_q} <= @lockstep_hi AND NOT ({new} <=> {old});\n    SET @lockstep_lo = (SELECT MIN({pk_q}) FROM {table} WHERE {pk_q} > @lockstep_hi AND {pk_q} <= @lockstep_end);\n    DO SLEEP({pause});\n  END WHILE;\nEND //\nDELIMITER ;\nSET SESSION lock_wait_timeout = {wait};\nCALL {p}();\nDROP PROCEDURE {p};",
            p = ctx.sibling(procedure),
            batch = ctx.model.batch_size,
            pause = ctx.model.batch_pause_ms as f64 / 1000.0,
            wait = lock_wait_seconds(ctx.model.lock_timeout_ms),
        );
        let mut terminator = "LOCKSTEP_SQL".to_string();
        while backfill_sql.lines().any(|l| l == terminator) {
            terminator.push('_');
        }
        let db = ctx
            .req
            .schema
            .clone()
            .unwrap_or_else(|| "<database>".to_string());
        let mut backfill = ctx.step(
            &format!(
                "Copy {old} into {new} in batches of {} rows",
                ctx.model.batch_size
            ),
            Vec::new(),
            None,
            ctx.model.backfill(),
        );
        backfill.shell = Some(format!(
            "mysql <connection options> {} <<'{terminator}'\n{backfill_sql}\n{terminator}",
            crate::quote::shell(&db)
        ));
        backfill.scans_table = true;
        backfill.notes.push(format!("A loop needs a stored procedure (plain statements cannot repeat), hence the mysql client with DELIMITER; it needs the CREATE ROUTINE and ALTER ROUTINE privileges. Each batch commits on its own and locks only its own rows; the UPDATE goes through the trigger, which keeps {old} as it is."));
        backfill.notes.push(format!("It stops at the highest {pk_q} that existed when it started: rows inserted later get {new} from the INSERT trigger, and chasing them would never end while inserts continue."));
        backfill.retry = "After an interruption, run it again from the start: rows already copied are skipped (the UPDATE changes only rows where the two differ). If it was interrupted, DROP PROCEDURE IF EXISTS is its first statement.".to_string();
        backfill
    }

    /// A query that prints the ADD INDEX statements giving the new column the old one's indexes.
    fn index_statements(&self) -> Check {
        let Rename {
            table,
            old,
            new,
            old_lit,
            new_lit,
            where_t,
            ..
        } = self;
        check(
            &format!("RUN THIS OUTPUT after the backfill: the same indexes with {new} in place of {old}"),
            format!(
                "SELECT CONCAT('ALTER TABLE ', {table_text}, ' ADD ', IF(MIN(non_unique) = 0, 'UNIQUE ', ''), 'INDEX ', CONCAT('`', REPLACE(LEFT(CONCAT(index_name, '_', {new_lit}), 64), '`', '``'), '`'), ' (', GROUP_CONCAT(CONCAT('`', REPLACE(IF(column_name = {old_lit}, {new_lit}, column_name), '`', '``'), '`', IFNULL(CONCAT('(', sub_part, ')'), ''), IF(collation = 'D', ' DESC', '')) ORDER BY seq_in_index SEPARATOR ', '), '), ALGORITHM=INPLACE, LOCK=NONE;') AS statement FROM information_schema.statistics WHERE {where_t} AND index_name IN (SELECT index_name FROM information_schema.statistics WHERE {where_t} AND column_name = {old_lit}) GROUP BY index_name;",
                table_text = literal(table),
            ),
            "one ALTER TABLE ... ADD INDEX per index containing the column (no rows: none): run each as in the add-index plan (in place; reads and writes continue) before the deploy gate, so queries on the new name use them. The old indexes shrink or disappear with the old column in the contract phase",
            Expected::Manual,
        )
    }

    /// What to run instead where the instant add is refused.
    fn add_in_place(&self) -> String {
        let Rename {
            ctx,
            table,
            new,
            transition,
            position,
            ..
        } = self;
        format!(
            "add {new} in place instead (rebuilds the table; reads and writes continue): ALTER TABLE {table} ADD COLUMN {new} {transition}{position}{};",
            ctx.lock_clause(MysqlLock::INPLACE_NONE)
        )
    }

    /// The online path's checks before anything changes. Long because it is a flat list of
    /// independent checks.
    fn online_preflight(&self) -> Phase {
        let Rename {
            ctx,
            pk,
            server,
            table_name,
            old,
            new,
            old_lit,
            pk_q,
            where_t,
            ins_trigger,
            upd_trigger,
            procedure,
            add_lock,
            contract_rebuilds,
            ..
        } = self;
        let mut preflight_checks = vec![self.start_check(), self.definition_check()];
        preflight_checks.extend(self.restates_checks());
        preflight_checks.extend([
            check(
                "The column is not part of the primary key, not generated, and no foreign key uses it",
                format!(
                    "SELECT 'primary key' AS why FROM information_schema.statistics WHERE {where_t} AND index_name = 'PRIMARY' AND column_name = {old_lit} UNION ALL SELECT 'generated' FROM information_schema.columns WHERE {where_t} AND column_name = {old_lit} AND extra LIKE '%GENERATED%' UNION ALL SELECT constraint_name FROM information_schema.key_column_usage WHERE referenced_table_name IS NOT NULL AND (({where_t} AND column_name = {old_lit}) OR (referenced_table_schema = {s} AND referenced_table_name = {t} AND referenced_column_name = {old_lit}));",
                    s = ctx.schema_value(),
                    t = literal(table_name),
                ),
                "no rows (otherwise this path cannot carry the key over: rename directly with every client stopped)",
                Expected::NoRows,
            ),
            check(
                &format!("{pk_q} is the first column of the primary key (the backfill walks it)"),
                format!("SELECT column_name FROM information_schema.statistics WHERE {where_t} AND index_name = 'PRIMARY' AND seq_in_index = 1;"),
                pk,
                Expected::row(&[pk]),
            ),
            check(
                "The trigger and procedure names are free",
                format!(
                    "SELECT (SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = {s} AND trigger_name IN ({}, {})) + (SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = {s} AND routine_name = {}) AS taken;",
                    literal(ins_trigger),
                    literal(upd_trigger),
                    literal(procedure),
                    s = ctx.schema_value(),
                ),
                "0",
                Expected::row(&["0"]),
            ),
            check(
                "The table's existing triggers (ours run after them; each adds to every write)",
                format!("SELECT trigger_name, action_timing, event_manipulation FROM information_schema.triggers WHERE event_object_schema = {} AND event_object_table = {};", ctx.schema_value(), literal(table_name)),
                "any rows are fine; an existing trigger that writes the column by its old name keeps working",
                Expected::Manual,
            ),
            check(
                "Binary logging settings for CREATE TRIGGER",
                "SELECT @@log_bin AS log_bin, @@log_bin_trust_function_creators AS trust_creators;",
                "log_bin 0, or trust_creators 1, or run the plan as a user with SUPER (with binary logging on, CREATE TRIGGER needs it otherwise)",
                Expected::Manual,
            ),
            self.index_statements(),
        ]);
        if *add_lock == MysqlLock::INSTANT {
            preflight_checks.extend(ctx.row_version_room(
                table_name,
                1,
                "rebuild the table first with OPTIMIZE TABLE, or add the column with ALGORITHM=INPLACE, LOCK=NONE",
            ));
            preflight_checks.extend(ctx.instant_column_limits(table_name, 1, &self.add_in_place()));
        }
        if !*contract_rebuilds {
            preflight_checks.push(check(
                &format!("Indexes containing {old} with other columns (the contract phase rebuilds each without {old}, which rebuilds the table)"),
                format!("SELECT index_name FROM information_schema.statistics WHERE {where_t} AND index_name IN (SELECT index_name FROM information_schema.statistics WHERE {where_t} AND column_name = {old_lit}) GROUP BY index_name HAVING COUNT(*) > 1;"),
                "no rows: the contract's ALTER changes only metadata. Any row: it rebuilds the table in place, reads and writes continuing, for about as long as a full rewrite",
                Expected::Manual,
            ));
        }
        if !facts::BEFORE_INSERT_TRIGGER_FILLS_NOT_NULL.holds(*server) {
            preflight_checks.push(check(
                &format!("Whether {old} is NOT NULL without a DEFAULT (MySQL then refuses an INSERT that leaves it out, before any trigger runs)"),
                format!("SELECT is_nullable = 'NO' AND column_default IS NULL AS write_both FROM information_schema.columns WHERE {where_t} AND column_name = {old_lit};"),
                &format!("0. If 1, the new version's INSERTs must set both {old} and {new} (the same value) until the contract phase"),
                Expected::Manual,
            ));
        }
        ctx.preflight(Some(ctx.req.bytes), preflight_checks)
    }

    /// DROP TRIGGER of both sync triggers.
    fn drop_triggers_sql(&self) -> Vec<String> {
        let Rename {
            ctx,
            ins_trigger,
            upd_trigger,
            ..
        } = self;
        vec![
            format!("DROP TRIGGER IF EXISTS {};", ctx.sibling(ins_trigger)),
            format!("DROP TRIGGER IF EXISTS {};", ctx.sibling(upd_trigger)),
        ]
    }

    /// Undoing the expansion: the triggers, then the new column.
    fn undo(&self, lock: MysqlLock, note: &str) -> RollbackStep {
        let Rename {
            ctx, table, new, ..
        } = self;
        ctx.rollback_ddl(
            format!(
                "{}\nALTER TABLE {table} DROP COLUMN {new}{};",
                self.drop_triggers_sql().join("\n"),
                ctx.lock_clause(lock)
            ),
            Some(note),
        )
    }

    /// Both names hold the same value in every row.
    fn in_sync(&self) -> Check {
        let Rename {
            table, old, new, ..
        } = self;
        check(
            "Both names hold the same value in every row (a full scan: run it on a replica if you have one)",
            format!("SELECT COUNT(*) AS differ FROM {table} WHERE NOT ({new} <=> {old});"),
            "0",
            Expected::row(&["0"]),
        ).scanning()
    }

    /// The sync triggers counted: 2 after the expand phase, 0 after the contract.
    fn triggers_present(&self, n: &str) -> Check {
        let Rename {
            ctx,
            ins_trigger,
            upd_trigger,
            ..
        } = self;
        check(
            if n == "2" {
                "Both sync triggers exist"
            } else {
                "The sync triggers are gone"
            },
            format!(
                "SELECT COUNT(*) AS triggers FROM information_schema.triggers WHERE trigger_schema = {} AND trigger_name IN ({}, {});",
                ctx.schema_value(),
                literal(ins_trigger),
                literal(upd_trigger)
            ),
            n,
            Expected::row(&[n]),
        )
    }

    /// The contract's first step: writes of the old name are no longer copied.
    fn drop_triggers_step(&self) -> Step {
        let Rename { ctx, old, .. } = self;
        let mut drop_triggers = ctx.step(
            "Drop the sync triggers",
            self.drop_triggers_sql(),
            Some(MysqlLock::MetadataExclusive),
            CATALOG_ONLY,
        );
        drop_triggers.notes.push(format!(
            "From now on writes to {old} are no longer copied: nothing may use it any more."
        ));
        ctx.documented(drop_triggers)
    }

    /// Drop the old column and give the new one its full definition.
    fn contract_alter_step(&self) -> Step {
        let Rename {
            ctx,
            full,
            old,
            new,
            adds_not_null,
            contract_rebuilds,
            ..
        } = self;
        let rebuild_log_note = "InnoDB logs concurrent writes while it rebuilds and applies them at the end, under the exclusive metadata lock (innodb_online_alter_log_max_size bounds the log; the ALTER fails if it fills).";
        let contract_clauses = [
            format!("DROP COLUMN {old}"),
            format!("MODIFY COLUMN {new} {full}"),
        ];
        let mut contract_alter = if *contract_rebuilds {
            let mut step = ctx.alter(
                &format!("Drop {old} and give {new} its full definition (rebuilds the table in place; reads and writes continue)"),
                &contract_clauses,
                MysqlLock::INPLACE_NONE,
                ctx.model.rewrite(),
            );
            step.rewrites_table = true;
            step.notes.push(rebuild_log_note.to_string());
            step
        } else {
            // Metadata only, unless a multi-column index must be rebuilt without the old column:
            // the estimate runs up to a rebuild.
            let mut step = ctx.alter(
                &format!("Drop {old} and give {new} its full definition (no table rebuild unless {old} is in a multi-column index; reads and writes continue)"),
                &contract_clauses,
                MysqlLock::INPLACE_NONE,
                Estimate::new(CATALOG_ONLY.low, ctx.model.rewrite().high),
            );
            step.notes.push(format!("Without a new NOT NULL, dropping {old} and restoring the default change only metadata (an index on {old} alone is dropped without touching the rows). A multi-column index containing {old} is rebuilt without it, and that rebuilds the table, still in place with reads and writes continuing (the preflight lists such indexes). {rebuild_log_note}"));
            step
        };
        contract_alter.notes.push(format!("The MODIFY {} Indexes that contained {old} lose it (one left with no column is dropped): drop the ones queries no longer need with the drop-index plan.", if *adds_not_null {
            format!("makes {new} NOT NULL: it fails, changing nothing, if a NULL remains where {old} was NOT NULL.")
        } else {
            "restores the column's default.".to_string()
        }));
        ctx.documented(contract_alter)
    }

    /// Phase: the new column next to the old one, kept equal by triggers.
    fn expand(&self) -> Phase {
        let Rename {
            server, old, new, ..
        } = self;
        Phase {
            name: "expand: add the new column and sync triggers".to_string(),
            purpose: format!("Add {new} next to {old} and keep the two equal on every write."),
            app_change: None,
            steps: vec![self.add_step(), self.triggers_step()],
            rollback: vec![self.undo(
                if facts::INSTANT_ADD_DROP_ANYWHERE.holds(*server) {
                    MysqlLock::INSTANT
                } else {
                    MysqlLock::INPLACE_NONE
                },
                "Drops the triggers, then the new column and whatever was written to it; run it only while no client uses the new name.",
            )],
            irreversible: None,
            checks: vec![
                self.names_check(&format!("Both {old} and {new} exist"), ["1", "1"]),
                self.triggers_present("2"),
            ],
        }
    }

    /// Phase: the rows written before the triggers copied, and the new column indexed alike.
    fn backfill(&self) -> Phase {
        let Rename {
            old,
            new,
            old_lit,
            new_lit,
            where_t,
            ..
        } = self;
        Phase {
            name: "backfill".to_string(),
            purpose: format!("Copy {old} into {new} for the rows written before the triggers, then index {new} like {old}."),
            app_change: None,
            steps: vec![self.backfill_step()],
            rollback: vec![self
                .undo(
                    MysqlLock::INPLACE_NONE,
                    "This also undoes phase 2 (expand): it drops the triggers, then the new column and the indexes added on it (in place: an indexed column cannot be dropped instantly); run it only while no client uses the new name.",
                )
                .undoing_previous(1)],
            irreversible: None,
            checks: vec![
                self.in_sync(),
                check(
                    &format!("{new} is in as many indexes as {old} (run the index statements the preflight printed)"),
                    format!("SELECT (SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics WHERE {where_t} AND column_name = {new_lit}) >= (SELECT COUNT(DISTINCT index_name) FROM information_schema.statistics WHERE {where_t} AND column_name = {old_lit}) AS indexed_alike;"),
                    "1",
                    Expected::row(&["1"]),
                ),
            ],
        }
    }

    /// Phase: the triggers and the old column dropped once nothing uses it; irreversible.
    fn contract(&self) -> Phase {
        let Rename {
            old,
            new,
            keeps_position,
            ..
        } = self;
        Phase {
            name: "contract: drop the old column".to_string(),
            purpose: format!("Remove {old} once nothing uses it."),
            app_change: Some(format!(
                "Every client uses {new} instead of {old}: application queries, ORM mappings, background jobs, reports, ETL, views and stored routines. Deploy in two steps if some processes may still write {old}: both names stay in sync until this phase. Nothing may name {old} after it.{}",
                if *keeps_position { String::new() } else { format!(" {}", moved_last(old, new)) }
            )),
            steps: vec![self.drop_triggers_step(), self.contract_alter_step()],
            rollback: Vec::new(),
            irreversible: Some(format!("{old} and its indexes are dropped. Its values live on in {new}; to go back, rename the column again in the other direction (this plan with the names swapped).")),
            checks: vec![
                self.triggers_present("0"),
                self.names_check(&format!("The table has {new} and no longer {old}"), ["0", "1"]),
            ],
        }
    }
}

pub fn paths(ctx: &Ctx, change: &RenameColumn) -> Result<Paths, FieldError> {
    let rename = Rename::new(ctx, change)?;
    let Rename {
        table, old, new, ..
    } = &rename;
    let mut online = vec![
        rename.online_preflight(),
        rename.expand(),
        rename.backfill(),
        rename.contract(),
    ];
    let mut out = summary_paths(format!("Rename column {old} of {table} to {new}"));
    if rename.add_lock == MysqlLock::INSTANT
        && facts::INSTANT_ADD_CHECKS_ROW_SIZE.holds(rename.server)
    {
        out.warnings
            .push(super::row_size_warning(&rename.add_in_place()));
    }
    if !rename.keeps_position {
        out.warnings.push(Warning {
            code: "column-moves-last".to_string(),
            message: format!(
                "On {} {} a column can be added instantly only as the last one: {}",
                ctx.req.db.engine.label(),
                ctx.req.db.version,
                moved_last(old, new)
            ),
        });
    }
    out.direct = Some(rename.direct());
    super::rerun::guard_transition_checks(
        &mut online,
        &ctx.column_present(&ctx.req.table, rename.column),
    );
    out.online = Some(online);
    out.online_required = Some(format!(
        "renaming the column breaks every query that still names {old} the moment it commits; a second column kept in sync by triggers keeps both names working until every client has switched"
    ));
    Ok(out)
}

/// What the online rename does to the column order where the new column can only be added
/// last (MySQL 8.0.12-8.0.28 and MariaDB 10.3, adding instantly).
fn moved_last(old: &str, new: &str) -> String {
    format!("after the contract phase {new} is the table's last column, not where {old} was. SELECT * returns it last and an INSERT without a column list puts values in the wrong columns or fails: name the columns in every such INSERT before the contract phase.")
}

#[cfg(test)]
mod tests {
    use super::transition_definition;
    use crate::model::{Algorithm, Lock, LockClause, MysqlLock};
    use crate::mysql::definition::words;
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "rename-column")
            .with("table", "orders`; drop table x; --")
            .with("column", "amount")
            .with("new-name", "total")
            .with("type", "int NOT NULL DEFAULT 0")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    const TABLE: &str = "`orders``; drop table x; --`";

    #[test]
    fn definitions_while_both_names_live() {
        assert_eq!(
            transition_definition(
                "varchar(64) CHARACTER SET utf8mb4 NOT NULL DEFAULT 'a b' COMMENT 'x'"
            ),
            "varchar(64) CHARACTER SET utf8mb4 COMMENT 'x' NULL"
        );
        assert_eq!(transition_definition("int"), "int NULL");
        assert_eq!(
            transition_definition(
                "timestamp(6) NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)"
            ),
            "timestamp(6) ON UPDATE CURRENT_TIMESTAMP(6) NULL"
        );
        assert_eq!(
            words("decimal(10, 2) DEFAULT '0.00'"),
            ["decimal(10, 2)", "DEFAULT", "'0.00'"]
        );
    }

    #[test]
    fn triggers_keep_both_names_then_contract() {
        for db in [
            "mariadb@10.11.6",
            "mysql@8.0.35",
            "mysql@5.7",
            "mariadb@10.3",
        ] {
            let plan = crate::plan(&params(db)).unwrap_or_else(|e| panic!("{db}: {e:?}"));
            assert_eq!(plan.strategy.chosen, "online", "{db}");
            let expand = &plan.phases[1];
            // The new column takes the old one's place, except where it can be added
            // instantly only as the last column (MariaDB 10.3).
            // MariaDB: IF NOT EXISTS makes a re-run of the completed step a no-op.
            let guard = if db.starts_with("mariadb") {
                "IF NOT EXISTS "
            } else {
                ""
            };
            let at = if db == "mariadb@10.3" {
                ""
            } else {
                " AFTER `amount`"
            };
            assert!(
                expand.steps[0].sql[0].starts_with(&format!(
                    "ALTER TABLE {TABLE} ADD COLUMN {guard}`total` int NULL{at}, ALGORITHM="
                )),
                "{db}: {:?}",
                expand.steps[0].sql
            );
            let moves_last = plan.warnings.iter().any(|w| w.code == "column-moves-last");
            assert_eq!(moves_last, db == "mariadb@10.3", "{db}");
            let gate = plan.phases[3].app_change.as_deref().unwrap();
            assert_eq!(gate.contains("last column"), moves_last, "{db}");
            assert_eq!(
                expand.steps[1].sql,
                [
                    format!("CREATE TRIGGER `orders``; drop table x; --_lockstep_rename_ins` BEFORE INSERT ON {TABLE} FOR EACH ROW SET NEW.`amount` = IF(NEW.`total` IS NULL, NEW.`amount`, NEW.`total`), NEW.`total` = IF(NEW.`total` IS NULL, NEW.`amount`, NEW.`total`);"),
                    format!("CREATE TRIGGER `orders``; drop table x; --_lockstep_rename_upd` BEFORE UPDATE ON {TABLE} FOR EACH ROW SET NEW.`amount` = IF(NEW.`total` <=> OLD.`total`, NEW.`amount`, NEW.`total`), NEW.`total` = NEW.`amount`;"),
                ]
            );
            assert_eq!(
                expand.steps[1].lock,
                Some(Lock::Mysql(MysqlLock::MetadataExclusive))
            );
            let backfill = &plan.phases[2].steps[0];
            let shell = backfill.shell.as_deref().unwrap();
            assert!(shell.starts_with("mysql <connection options> '<database>' <<'LOCKSTEP_SQL'\n"));
            assert!(shell.ends_with("\nLOCKSTEP_SQL"));
            assert!(shell.contains(&format!("UPDATE {TABLE} SET `total` = `amount` WHERE `id` >= @lockstep_lo AND `id` <= @lockstep_hi AND NOT (`total` <=> `amount`);")));
            assert!(backfill.sql.is_empty());
            let contract = &plan.phases[3];
            assert!(contract.app_change.is_some());
            assert!(contract.irreversible.is_some());
            assert_eq!(
                contract.steps[1].sql,
                [format!("ALTER TABLE {TABLE} DROP COLUMN {}`amount`, MODIFY COLUMN `total` int NOT NULL DEFAULT 0, ALGORITHM=INPLACE, LOCK=NONE;", if db.starts_with("mariadb") { "IF EXISTS " } else { "" })]
            );
            assert!(contract.steps[1].hold_seconds.high <= 0.05);
            assert!(plan.steps().all(|s| s.hold_seconds.high <= 0.05));
            let write_both = plan.phases[0]
                .checks
                .iter()
                .any(|c| c.sql.contains("AS write_both"));
            assert_eq!(write_both, db.starts_with("mysql"), "{db}");
            let row_versions = plan.phases[0]
                .checks
                .iter()
                .any(|c| c.sql.contains("total_row_versions + 1 <= 64"));
            assert_eq!(row_versions, db == "mysql@8.0.35", "{db}");
        }
    }

    #[test]
    fn contract_claims_a_rebuild_only_when_one_happens() {
        for (db, definition, rebuilds) in [
            // MODIFY adds NOT NULL: a rebuild everywhere (seen on MariaDB 10.11).
            ("mariadb@10.11", "int NOT NULL DEFAULT 0", true),
            ("mysql@8.0.35", "int NOT NULL DEFAULT 0", true),
            // Nullable: metadata only on MariaDB 10.4+ (seen on 10.11: TABLE_ID unchanged).
            ("mariadb@10.11", "text", false),
            ("mariadb@10.4", "int DEFAULT 5", false),
            // DROP COLUMN rebuilds before MariaDB 10.4, and under INPLACE on MySQL.
            ("mariadb@10.3", "text", true),
            ("mysql@8.0.35", "text", true),
            ("mysql@5.7", "text", true),
        ] {
            let plan = crate::plan(&params(db).with("type", definition)).unwrap();
            let contract = &plan.phases[3].steps[1];
            assert_eq!(contract.rewrites_table, rebuilds, "{db} {definition}");
            assert_eq!(
                contract.title.contains("(rebuilds the table in place;"),
                rebuilds,
                "{db} {definition}: {}",
                contract.title
            );
            assert_eq!(
                contract
                    .title
                    .contains("no table rebuild unless `amount` is in a multi-column index"),
                !rebuilds,
                "{db} {definition}: {}",
                contract.title
            );
            assert!(contract.sql[0].ends_with(", ALGORITHM=INPLACE, LOCK=NONE;"));
            let multi_column_check = plan.phases[0]
                .checks
                .iter()
                .any(|c| c.sql.contains("HAVING COUNT(*) > 1"));
            assert_eq!(multi_column_check, !rebuilds, "{db} {definition}");
            if !rebuilds {
                assert!(contract.estimate.low <= 0.05 && contract.estimate.high >= 1.0);
            }
        }
    }

    #[test]
    fn backfill_batches_and_rollback_notes() {
        let plan = crate::plan(&params("mariadb@10.11")).unwrap();
        let backfill = &plan.phases[2];
        assert_eq!(
            backfill.steps[0].title,
            "Copy `amount` into `total` in batches of 1000 rows"
        );
        assert!(backfill.steps[0]
            .shell
            .as_deref()
            .unwrap()
            .contains("ORDER BY `id` LIMIT 1000)"));
        // It stops at the last key that existed when it started (the trigger covers later rows).
        let shell = backfill.steps[0].shell.as_deref().unwrap();
        assert!(shell
            .contains("SET @lockstep_end = (SELECT MAX(`id`) FROM `orders``; drop table x; --`);"));
        assert!(shell.contains("WHERE `id` > @lockstep_hi AND `id` <= @lockstep_end);"));
        // The backfill's rollback drops the expand phase's column and triggers too.
        let note = backfill.rollback[0].note.as_deref().unwrap();
        assert!(
            note.starts_with("This also undoes phase 2 (expand):"),
            "{note}"
        );
        assert!(!plan.phases[1].rollback[0]
            .note
            .as_deref()
            .unwrap()
            .contains("undoes"));
        let plan = crate::plan(&params("mysql@8.0.35").with("batch-size", "300")).unwrap();
        assert!(plan.phases[2].steps[0]
            .title
            .ends_with("in batches of 300 rows"));
    }

    #[test]
    fn direct_rename_by_version() {
        let direct = |db: &str| {
            let plan = crate::plan(&params(db)).unwrap();
            plan.alternative.unwrap().phases[1].steps[0].clone()
        };
        let step = direct("mariadb@10.11");
        assert_eq!(
            step.sql,
            [format!("ALTER TABLE {TABLE} RENAME COLUMN IF EXISTS `amount` TO `total`, ALGORITHM=INSTANT, LOCK=NONE;")]
        );
        assert_eq!(
            step.lock,
            Some(Lock::Mysql(MysqlLock::Alter {
                algorithm: Algorithm::Instant,
                lock: LockClause::None
            }))
        );
        // MySQL renames a column another table's foreign key references only INPLACE.
        let mysql = direct("mysql@8.0.35");
        assert!(mysql.sql[0]
            .ends_with("RENAME COLUMN `amount` TO `total`, ALGORITHM=INPLACE, LOCK=NONE;"));
        assert!(mysql.notes.iter().any(|n| n.contains("foreign key")));
        assert!(direct("mysql@8.0.27").sql[0]
            .ends_with("RENAME COLUMN `amount` TO `total`, ALGORITHM=INPLACE, LOCK=NONE;"));
        assert!(direct("mysql@5.7").sql[0].ends_with(
            "CHANGE COLUMN `amount` `total` int NOT NULL DEFAULT 0, ALGORITHM=INPLACE, LOCK=NONE;"
        ));
        assert!(direct("mariadb@10.4").sql[0].ends_with(
            "CHANGE COLUMN IF EXISTS `amount` `total` int NOT NULL DEFAULT 0, ALGORITHM=INSTANT, LOCK=NONE;"
        ));
    }

    #[test]
    fn instant_expand_checks_what_refuses_instant() {
        let plan = crate::plan(&params("mysql@8.0.35")).unwrap();
        let sql: Vec<&str> = plan.phases[0]
            .checks
            .iter()
            .map(|c| c.sql.as_str())
            .collect();
        assert!(sql.iter().any(|q| q.contains("row_format = 'Compressed'")));
        assert!(sql.iter().any(|q| q.contains("index_type = 'FULLTEXT'")));
        assert!(sql.iter().any(|q| q.contains("n_cols + 1 <= 1022")));
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "mysql-instant-row-size"));
        // 5.7 adds the column in place: nothing to check.
        let plan = crate::plan(&params("mysql@5.7")).unwrap();
        assert!(plan.phases[0]
            .checks
            .iter()
            .all(|c| !c.sql.contains("row_format = 'Compressed'")));
    }

    /// CHANGE (before RENAME COLUMN) and the contract's MODIFY restate --type: the preflight
    /// proves it is the column's type and drops none of its attributes.
    #[test]
    fn restated_definition_is_proven_complete() {
        for db in ["mysql@5.7", "mariadb@10.11"] {
            let plan = crate::plan(&params(db)).unwrap();
            let direct = &plan.alternative.as_ref().unwrap().phases[0].checks;
            let online = &plan.phases[0].checks;
            for (path, checks) in [("online", online), ("direct", direct)] {
                let lost = checks.iter().find(|c| c.sql.contains("would_be_dropped"));
                // The direct rename restates nothing where RENAME COLUMN exists.
                let restates = path == "online" || db == "mysql@5.7";
                assert_eq!(lost.is_some(), restates, "{db} {path}");
                if let Some(lost) = lost {
                    assert_eq!(lost.expected, crate::model::Expected::NoRows);
                    assert!(
                        lost.sql.contains("'AUTO_INCREMENT'") && lost.sql.contains("'COMMENT '")
                    );
                    assert!(!lost.sql.contains("'NOT NULL'") && !lost.sql.contains("'DEFAULT '"));
                    assert!(checks.iter().any(|c| c.sql.contains("AS current_type")
                        && c.expected == crate::model::Expected::row(&["int"])));
                }
            }
        }
    }

    #[test]
    fn field_errors() {
        let mut p = params("mariadb@10.11");
        p.set("type", "");
        assert_eq!(crate::plan(&p).unwrap_err()[0].field, "type");
        let errors =
            crate::plan(&params("mysql@8.0.35").with("type", "bigint NOT NULL AUTO_INCREMENT"))
                .unwrap_err();
        assert_eq!(errors[0].field, "type");
        let errors = crate::plan(&params("mariadb@10.11").with("new-name", "amount")).unwrap_err();
        assert_eq!(errors[0].field, "new-name");
        let errors = crate::plan(&params("mariadb@10.11").with("primary-key", "none")).unwrap_err();
        assert_eq!(errors[0].field, "primary-key");
    }
}
