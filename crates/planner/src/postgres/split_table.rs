//! Split a table: move a set of columns into a new table keyed by the primary key.
//!
//! There is no single statement for this, and no way to do it without the application: reads and
//! writes of the moved columns must switch to the new table. Only the online path is offered:
//!
//! 1. **expand**: `CREATE TABLE new AS SELECT pk, cols FROM old WITH NO DATA`, then its primary
//!    key and a foreign key `new.pk REFERENCES old (pk) ON DELETE CASCADE ON UPDATE CASCADE`
//!    (SHARE ROW EXCLUSIVE on the old table for a moment: the new table is empty). `CREATE TABLE
//!    ... (LIKE old)` copies every column, not a chosen few; `CREATE TABLE AS ... WITH NO DATA`
//!    copies exactly the chosen columns with their types, typmods and collations (checked on 10.23
//!    and 18.4) and nothing else: defaults, NOT NULL, CHECKs and indexes of the moved columns are
//!    not carried over (preflight lists them; they are added to the new table after the trigger
//!    is gone). The foreign key makes the new table a 1:1 extension of the old one: no orphan can
//!    appear, a DELETE of the old row removes the new row in the same transaction, and a key
//!    update follows. An AFTER INSERT OR UPDATE OF <cols> trigger upserts the moved columns into
//!    the new table on every write; deletes need no trigger branch, the cascade does them.
//! 2. **copy**: keyset-paginated `INSERT ... SELECT ... FOR KEY SHARE ON CONFLICT (pk) DO
//!    NOTHING`. DO NOTHING, never DO UPDATE: a row the trigger wrote is at least as new as what the
//!    copy read (a DO UPDATE could overwrite a newer value with the copy's older snapshot); FOR KEY
//!    SHARE skips a row deleted after the copy's snapshot instead of failing on the foreign key.
//! 3. **verify**: row count and a checksum (sum of md5-derived 60-bit numbers of each row's text)
//!    of the key and moved columns, compared between the tables in one snapshot.
//! 4. deploy gates: **switch reads** to the new table, then **switch writes** (after DROP NOT
//!    NULL on the moved columns of the old table, so new rows may leave them empty).
//! 5. **contract**: drop the trigger, the function and the old columns.

use super::backfill::KeysetPass;
use super::{check, rollback, Ctx, Paths, RETRY_LOCK_TIMEOUT};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, Phase, RollbackStep, Step};
use crate::postgres::facts::{self, Statement};
use crate::quote::{self, derived_name, ident, ident_list, literal};
use crate::request::change::SplitTable;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &SplitTable) -> Result<Paths, FieldError> {
    let split = Split::new(ctx, change)?;
    let mut warnings = ctx.version_warnings(false);
    warnings.push(crate::model::Warning {
        code: "split-needs-deploys".to_string(),
        message: "A split changes what the application reads and writes: the plan has two deploy gates (switch reads, switch writes) and no single-statement alternative.".to_string(),
    });
    Ok(Paths {
        summary: format!(
            "Move {} of {} into a new table {} keyed by {}",
            split.cols, split.table, split.new, split.key
        ),
        direct: None,
        online: Some(vec![
            split.preflight(),
            split.expand(),
            split.copy(),
            split.switch_reads(),
            split.prepare_writes(),
            split.switch_writes(),
            split.contract(),
        ]),
        online_required: None,
        warnings,
    })
}

/// The refusals: what a split cannot be keyed by or named. Returns the key column.
fn validate<'a>(ctx: &'a Ctx, change: &SplitTable) -> Result<&'a str, FieldError> {
    let SplitTable { columns, new_table } = change;
    let Some(pk) = ctx.req.env.primary_key.as_deref() else {
        return Err(FieldError::new(
            "primary-key",
            "is none, but the new table is keyed by the old table's primary key (or a unique NOT NULL column), and the copy pages through the table by it; accepts the name of such a column (e.g. id)",
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
    Ok(pk)
}

/// The names every phase of a split uses, derived once.
struct Split<'a> {
    ctx: &'a Ctx<'a>,
    /// The primary key column, unquoted.
    pk: &'a str,
    /// The columns to move, unquoted.
    columns: &'a [String],
    /// The old table, quoted.
    table: String,
    /// The new table, quoted.
    new: String,
    /// The key column, quoted.
    key: String,
    /// The moved columns, quoted and comma-separated.
    cols: String,
    /// `key, cols`.
    key_and_cols: String,
    /// The mirror trigger's and its function's name, unquoted.
    function: String,
    /// The new table's foreign key, unquoted.
    fk_name: String,
    /// The moved columns as string literals, comma-separated.
    col_names: String,
    /// The keyset pass of the copy.
    pass: KeysetPass<'a>,
}

impl<'a> Split<'a> {
    fn new(ctx: &'a Ctx<'a>, change: &'a SplitTable) -> Result<Self, FieldError> {
        let pk = validate(ctx, change)?;
        let SplitTable { columns, new_table } = change;
        let key = ident(pk);
        let cols = ident_list(columns);
        Ok(Split {
            ctx,
            pk,
            columns,
            table: ctx.table(),
            new: ctx.sibling(new_table),
            key_and_cols: format!("{key}, {cols}"),
            key,
            cols,
            function: derived_name(&["lockstep_split", new_table]),
            fk_name: derived_name(&[new_table, pk, "fkey"]),
            col_names: columns
                .iter()
                .map(|c| literal(c))
                .collect::<Vec<_>>()
                .join(", "),
            pass: KeysetPass {
                key: pk,
                progress: derived_name(&[new_table, "lockstep_progress"]),
                title: "Copy the existing rows in keyset-paginated batches",
            },
        })
    }

    /// `f(column)` for each moved column, comma-separated.
    fn each_column(&self, f: impl Fn(&str) -> String) -> String {
        self.columns
            .iter()
            .map(|c| f(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `f(column)` for the key and each moved column, comma-separated.
    fn key_and_each_column(&self, f: impl Fn(&str) -> String) -> String {
        std::iter::once(self.pk)
            .chain(self.columns.iter().map(String::as_str))
            .map(f)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The attnums of the moved columns (a subquery).
    fn attnums(&self) -> String {
        format!(
            "(SELECT attnum FROM pg_attribute WHERE attrelid = {} AND attname IN ({}) AND NOT attisdropped)",
            self.ctx.regclass(),
            self.col_names
        )
    }

    /// `SELECT count(*)` of the moved columns still in the old table, with an extra condition.
    fn count_moved_columns(&self, extra: &str) -> String {
        format!(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = {} AND attname IN ({}){extra} AND NOT attisdropped;",
            self.ctx.regclass(),
            self.col_names
        )
    }

    fn preflight(&self) -> Phase {
        let ctx = self.ctx;
        let n = self.columns.len().to_string();
        let pre = vec![
            check(
                "Every column to move exists",
                self.count_moved_columns(""),
                &n,
                Expected::row(&[&n]),
            ),
            check(
                "The key column is the table's primary key",
                format!(
                    "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {} AND contype = 'p' AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attisdropped)]::int2[]) AS is_primary_key;",
                    ctx.regclass(),
                    ctx.regclass(),
                    literal(self.pk)
                ),
                "t (a unique NOT NULL column works too, but then the foreign key of the new table needs a unique constraint on it)",
                Expected::row(&["t"]),
            ),
            check(
                "The new table's name is free",
                format!("SELECT to_regclass({}) IS NULL AS name_free;", literal(&self.new)),
                "t (f: a table of that name exists; if it is this plan's own from an earlier attempt, the expand step skips it)",
                Expected::row(&["t"]),
            ),
            check(
                "No view or rule depends on the columns to move (the contract phase could not drop them)",
                format!(
                    "SELECT DISTINCT r.ev_class::regclass AS dependent FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = {} AND d.refobjsubid IN {} AND r.ev_class <> {};",
                    ctx.regclass(),
                    self.attnums(),
                    ctx.regclass()
                ),
                "no rows (otherwise point those views at the new table before the contract phase)",
                Expected::NoRows,
            ),
            check(
                "What the new table does not inherit: NOT NULL, defaults, constraints and indexes of the moved columns",
                format!(
                    "SELECT a.attname, a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS column_default, (SELECT string_agg(pg_get_constraintdef(c.oid), '; ') FROM pg_constraint c WHERE c.conrelid = a.attrelid AND a.attnum = ANY (c.conkey) AND c.contype <> 'n') AS constraints, (SELECT string_agg(i.indexrelid::regclass::text, ', ') FROM pg_index i WHERE i.indrelid = a.attrelid AND a.attnum = ANY (i.indkey::int2[])) AS indexes FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = {} AND a.attname IN ({}) AND NOT a.attisdropped ORDER BY a.attnum;",
                    ctx.regclass(),
                    self.col_names
                ),
                "the list, for the record: re-create what matters on the new table after the contract phase (NOT NULL with the add-not-null plan, indexes CONCURRENTLY)",
                Expected::Manual,
            ),
        ];
        ctx.preflight(Some(ctx.req.bytes), pre)
    }

    /// The new table, its primary key and its foreign key, guarded by the table's absence.
    fn create_step(&self) -> Step {
        let (new, table, key) = (&self.new, &self.table, &self.key);
        let mut create = self.ctx.brief(
            "Create the new table (empty), its primary key and its foreign key to the old table",
            vec![
                format!(
                    "CREATE TABLE {new} AS SELECT {} FROM {table} WITH NO DATA;",
                    self.key_and_cols
                ),
                format!("ALTER TABLE {new} ADD PRIMARY KEY ({key});"),
                format!(
                    "ALTER TABLE {new} ADD CONSTRAINT {} FOREIGN KEY ({key}) REFERENCES {table} ({key}) ON DELETE CASCADE ON UPDATE CASCADE;",
                    ident(&self.fk_name)
                ),
            ],
            Statement::AddForeignKeyOrTrigger,
        );
        create.lock = facts::foreign_key_referenced_lock(Statement::AddForeignKeyOrTrigger);
        create.run_only_if(
            "lockstep_new_table_missing",
            &format!("to_regclass({}) IS NULL", literal(new)),
        );
        create.notes.push("CREATE TABLE ... AS SELECT ... WITH NO DATA copies exactly these columns with their types, lengths and collations, and no row. (LIKE would copy every column.) It reads the old table under ACCESS SHARE only.".to_string());
        create.notes.push("The foreign key takes SHARE ROW EXCLUSIVE on the old table for a moment (writes wait, reads continue); the new table is empty, so there is nothing to check. ON DELETE CASCADE removes the new row with the old one; ON UPDATE CASCADE follows a key change.".to_string());
        create.retry = format!("{RETRY_LOCK_TIMEOUT} One transaction: after a failure nothing exists, and the guard skips the step once the table exists.");
        create
    }

    /// The mirror function's body: upsert the key and moved columns into the new table.
    fn mirror_body(&self) -> String {
        let assignments = self.each_column(|c| format!("{} = EXCLUDED.{}", ident(c), ident(c)));
        let new_values = self.key_and_each_column(|c| format!("NEW.{}", ident(c)));
        format!(
            "#variable_conflict use_column\nBEGIN\n  INSERT INTO {} ({}) VALUES ({new_values})\n  ON CONFLICT ({}) DO UPDATE SET {assignments};\n  RETURN NULL;\nEND",
            self.new, self.key_and_cols, self.key
        )
    }

    /// The mirror function and its trigger, guarded by the trigger's absence.
    fn sync_step(&self) -> Step {
        let ctx = self.ctx;
        let function_sql = format!(
            "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {};",
            ctx.sibling(&self.function),
            quote::dollar_quoted(&self.mirror_body())
        );
        let trigger_sql = format!(
            "CREATE TRIGGER {} AFTER INSERT OR UPDATE OF {} ON {} FOR EACH ROW EXECUTE {} {}();",
            ident(&self.function),
            self.cols,
            self.table,
            facts::trigger_execute_keyword(ctx.version()),
            ctx.sibling(&self.function)
        );
        let mut sync = ctx.brief(
            "Mirror every write of the moved columns into the new table (trigger)",
            vec![function_sql, trigger_sql],
            Statement::AddForeignKeyOrTrigger,
        );
        sync.run_only_if(
            "lockstep_trigger_missing",
            &format!(
                "NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = {} AND tgname = {})",
                ctx.regclass(),
                literal(&self.function)
            ),
        );
        sync.notes.push(format!("AFTER INSERT OR UPDATE OF {}: each insert, and each update that sets a moved column, upserts the row's key and moved columns into {} in the writer's transaction. Deletes and key changes reach the new table through the foreign key's cascade.", self.cols, self.new));
        sync.notes.push("The trigger's name starts with lockstep_, so it fires after the foreign key's cascade triggers (row triggers fire in name order; theirs start with RI_): on a key change the new row already has the new key when the upsert looks for it.".to_string());
        sync.notes.push("CREATE TRIGGER takes SHARE ROW EXCLUSIVE: writes wait for a moment, reads continue. From here every write of a moved column costs one more row write.".to_string());
        sync.retry = format!("{RETRY_LOCK_TIMEOUT} The guard skips it once the trigger exists.");
        sync
    }

    fn drop_trigger_sql(&self) -> String {
        format!(
            "DROP TRIGGER IF EXISTS {} ON {};",
            ident(&self.function),
            self.table
        )
    }

    fn drop_function_sql(&self) -> String {
        format!(
            "DROP FUNCTION IF EXISTS {}();",
            self.ctx.sibling(&self.function)
        )
    }

    /// Undoing the expansion: the trigger, its function, the new table.
    fn expand_rollback(&self) -> Vec<RollbackStep> {
        vec![
            self.ctx.rollback_ddl(
                self.drop_trigger_sql(),
                Some("Takes ACCESS EXCLUSIVE on the old table for a moment."),
            ),
            rollback(self.drop_function_sql(), None),
            self.ctx.rollback_ddl(
                format!("DROP TABLE IF EXISTS {};", self.new),
                Some("Dropping the new table removes its foreign key's triggers from the old table: ACCESS EXCLUSIVE on the old table for a moment."),
            ),
        ]
    }

    fn expand(&self) -> Phase {
        Phase {
            name: "expand".to_string(),
            purpose: format!("Create {} (key and moved columns, empty) and mirror every write into it. Each step holds its lock for a moment.", self.new),
            app_change: None,
            steps: vec![self.create_step(), self.sync_step()],
            rollback: self.expand_rollback(),
            irreversible: None,
            checks: vec![
                check(
                    "The new table exists with its primary key and its foreign key",
                    format!(
                        "SELECT string_agg(contype::text, '' ORDER BY contype) FROM pg_constraint WHERE conrelid = to_regclass({}) AND contype IN ('p', 'f');",
                        literal(&self.new)
                    ),
                    "fp (one foreign key, one primary key)",
                    Expected::row(&["fp"]),
                ),
                check(
                    "The mirror trigger is in place and enabled",
                    format!(
                        "SELECT tgenabled FROM pg_trigger WHERE tgrelid = {} AND tgname = {};",
                        self.ctx.regclass(),
                        literal(&self.function)
                    ),
                    "O (enabled)",
                    Expected::row(&["O"]),
                ),
            ],
        }
    }

    /// Count and checksum of the key and moved columns of table `t` (a subquery).
    fn checksum(&self, t: &str) -> String {
        let row = self.key_and_each_column(|c| format!("lockstep_t.{}", ident(c)));
        format!(
            "(SELECT (count(*), sum(('x' || left(md5(ROW({row})::text), 15))::bit(60)::bigint)) FROM {t} AS lockstep_t)"
        )
    }

    fn same_rows_check(&self) -> Check {
        check(
            "Old and new tables hold the same rows: count and checksum of key + moved columns (two full scans in one snapshot: run it on a replica if you have one)",
            format!(
                "SELECT {} IS NOT DISTINCT FROM {} AS same;",
                self.checksum(&self.table),
                self.checksum(&self.new)
            ),
            "t",
            Expected::row(&["t"]),
        ).scanning()
    }

    fn copy(&self) -> Phase {
        let apply = |pred: &str| {
            format!(
                "INSERT INTO {new} ({kc}) SELECT {kc} FROM {table} WHERE {pred} FOR KEY SHARE ON CONFLICT ({key}) DO NOTHING",
                new = self.new,
                kc = self.key_and_cols,
                table = self.table,
                key = self.key
            )
        };
        let mut copy_steps = self.pass.steps(self.ctx, &apply);
        if let Some(copy) = copy_steps.last_mut() {
            copy.notes.push("ON CONFLICT DO NOTHING, not DO UPDATE: a row already in the new table was written by the trigger from a write at least as recent as this batch's read, so it must not be overwritten. FOR KEY SHARE makes a row deleted meanwhile drop out of the batch instead of failing the foreign key.".to_string());
        }
        let mut rollback = self.expand_rollback();
        if let Some(first) = rollback.first_mut() {
            first.note = Some("Undoing the copy means undoing the expansion: the copied rows live in the new table, which these statements drop with the trigger (ACCESS EXCLUSIVE on the old table for a moment each).".to_string());
            first.also_undoes = 1;
        }
        rollback.push(self.pass.cleanup_rollback(self.ctx));
        Phase {
            name: "copy".to_string(),
            purpose: format!("Copy the rows that existed before the trigger into {}, in small committed batches while traffic continues, then prove both tables agree.", self.new),
            app_change: None,
            steps: copy_steps,
            rollback,
            irreversible: None,
            checks: vec![self.same_rows_check()],
        }
    }

    fn switch_reads(&self) -> Phase {
        let (new, table, cols, key) = (&self.new, &self.table, &self.cols, &self.key);
        Phase {
            name: "switch reads".to_string(),
            purpose: format!("The application reads the moved columns from {new}; writes still go to {table}, and the trigger mirrors them."),
            app_change: Some(format!(
                "Deploy the version that reads {cols} from {new} (joined on {key}; a LEFT JOIN is safe: every row of {table} has its row in {new} from now on). It still writes them to {table}."
            )),
            steps: Vec::new(),
            rollback: vec![rollback(
                "SELECT 'no database change to undo' AS rollback;",
                Some("This phase changes no schema: deploy the previous application version, which reads the old columns (still complete: every write still goes to them)."),
            )],
            irreversible: None,
            checks: vec![self.same_rows_check()],
        }
    }

    fn prepare_writes(&self) -> Phase {
        let table = &self.table;
        let drop_not_null =
            self.each_column(|c| format!("ALTER COLUMN {} DROP NOT NULL", ident(c)));
        let mut nullable = self.ctx.brief(
            "Let new rows of the old table leave the moved columns empty (DROP NOT NULL)",
            vec![format!("ALTER TABLE {table} {drop_not_null};")],
            Statement::AlterTableAccessExclusive,
        );
        nullable.notes.push("Catalog-only. DROP NOT NULL of a column that is already nullable changes nothing. Without it, an INSERT into the old table that no longer sets a NOT NULL moved column would fail once the application writes those columns to the new table only.".to_string());
        nullable.retry = RETRY_LOCK_TIMEOUT.to_string();
        Phase {
            name: "prepare writes".to_string(),
            purpose: format!("Before any writer stops filling the moved columns of {table}, let them be empty there."),
            app_change: None,
            steps: vec![nullable],
            rollback: Vec::new(),
            irreversible: Some(format!("this plan does not put NOT NULL back: which moved columns had it is in preflight's list, and SET NOT NULL scans {table} under ACCESS EXCLUSIVE (use the add-not-null plan for each). While the application still fills the columns, nullable changes nothing for it.")),
            checks: vec![check(
                "The moved columns of the old table accept NULL",
                self.count_moved_columns(" AND attnotnull"),
                "0",
                Expected::row(&["0"]),
            )],
        }
    }

    /// Copy back into the old columns what was written to the new table only.
    fn copy_back_sql(&self) -> String {
        let (new, table, key) = (&self.new, &self.table, &self.key);
        let set_pairs = self.each_column(|c| format!("{} = lockstep_n.{}", ident(c), ident(c)));
        let old_cols = self.each_column(|c| format!("lockstep_o.{}", ident(c)));
        let new_cols = self.each_column(|c| format!("lockstep_n.{}", ident(c)));
        format!("UPDATE {table} AS lockstep_o SET {set_pairs} FROM {new} AS lockstep_n WHERE lockstep_n.{key} = lockstep_o.{key} AND ({old_cols}) IS DISTINCT FROM ({new_cols});")
    }

    fn switch_writes(&self) -> Phase {
        let (new, table, cols, key) = (&self.new, &self.table, &self.cols, &self.key);
        Phase {
            name: "switch writes".to_string(),
            purpose: format!("The application writes the moved columns to {new} only."),
            app_change: Some(format!(
                "Deploy the version that writes {cols} to {new} with INSERT ... ON CONFLICT ({key}) DO UPDATE, after inserting the row of {table} (the trigger may already have created the row of {new}), and no longer writes them to {table}. Until the last old instance is gone the trigger keeps mirroring its writes."
            )),
            steps: Vec::new(),
            rollback: vec![
                rollback(
                    self.copy_back_sql(),
                    Some("Copy back into the old columns what was written to the new table only (one statement here: on a large table run it in keyset batches like the copy), then deploy the previous version."),
                ),
            ],
            irreversible: None,
            checks: Vec::new(),
        }
    }

    /// Drop the trigger, its function and the moved columns, then the copy's progress table.
    fn contract_steps(&self) -> Vec<Step> {
        let ctx = self.ctx;
        let mut drop_trg = ctx.brief(
            "Drop the mirror trigger",
            vec![self.drop_trigger_sql()],
            Statement::AlterTableAccessExclusive,
        );
        drop_trg.notes.push("DROP TRIGGER takes ACCESS EXCLUSIVE on the old table for a moment (read from pg_locks on 10.23, 12.22 and 18.4).".to_string());
        drop_trg.retry = format!("{RETRY_LOCK_TIMEOUT} IF EXISTS makes it a no-op once done.");
        let mut drop_fn = ctx.ddl(
            "Drop the mirror function",
            vec![self.drop_function_sql()],
            Statement::Dml,
            CATALOG_ONLY,
        );
        drop_fn.retry = "Safe to re-run (IF EXISTS).".to_string();
        let drop_columns = self.each_column(|c| format!("DROP COLUMN IF EXISTS {}", ident(c)));
        let mut drop_cols = ctx.brief(
            "Drop the moved columns from the old table (catalog-only)",
            vec![format!("ALTER TABLE {} {drop_columns};", self.table)],
            Statement::AlterTableAccessExclusive,
        );
        drop_cols.notes.push("DROP COLUMN only marks the columns dropped: no rewrite; the space is reused as rows are updated (or reclaimed by VACUUM FULL / pg_repack). Indexes on those columns go with them.".to_string());
        drop_cols.retry = format!("{RETRY_LOCK_TIMEOUT} IF EXISTS makes it a no-op once done.");
        vec![drop_trg, drop_fn, drop_cols, self.pass.cleanup(ctx)]
    }

    fn contract(&self) -> Phase {
        let (new, table, cols) = (&self.new, &self.table, &self.cols);
        Phase {
            name: "contract".to_string(),
            purpose: format!("Remove the transition: the mirror trigger, its function, and the moved columns of {table}. The foreign key of {new} stays: it keeps the tables 1:1."),
            app_change: Some(format!(
                "Every application instance reads and writes {cols} in {new} only, and you no longer need to go back (the old values are dropped here). Afterwards add to {new} what preflight listed (NOT NULL with the add-not-null plan, indexes CONCURRENTLY): not before, while the trigger may still insert a row before the application fills it."
            )),
            steps: self.contract_steps(),
            rollback: Vec::new(),
            irreversible: Some(format!("DROP COLUMN discards the old copies of {cols}; the data lives on in {new}.")),
            checks: contract_checks(self.ctx, &self.function, &self.col_names),
        }
    }
}

fn contract_checks(ctx: &Ctx, function: &str, col_names: &str) -> Vec<Check> {
    vec![
        check(
            "The moved columns are gone from the old table",
            format!(
                "SELECT count(*) FROM pg_attribute WHERE attrelid = {} AND attname IN ({col_names}) AND NOT attisdropped;",
                ctx.regclass()
            ),
            "0",
            Expected::row(&["0"]),
        ),
        check(
            "The mirror trigger is gone",
            format!(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = {} AND tgname = {};",
                ctx.regclass(),
                literal(function)
            ),
            "0",
            Expected::row(&["0"]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::constraint::tests::{markdown, params, step};
    use crate::estimate::CATALOG_ONLY;
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn split(db: &str) -> Params {
        params("split-table", db, "50M", "20GB", "0")
            .with("columns", "bio,avatar_url")
            .with("new-table", "orders_profile")
    }

    #[test]
    fn online_only_and_never_beyond_a_catalog_moment() {
        let plan = crate::plan(&split("postgresql@16")).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        assert!(plan.alternative.is_none());
        assert!(plan
            .steps()
            .all(|s| s.hold_seconds.high <= CATALOG_ONLY.high));
        let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "preflight",
                "expand",
                "copy",
                "switch reads",
                "prepare writes",
                "switch writes",
                "contract"
            ]
        );
        let create = step(&plan, "Create the new table");
        assert_eq!(
            create.sql[0],
            "CREATE TABLE orders_profile AS SELECT id, bio, avatar_url FROM orders WITH NO DATA;"
        );
        assert!(
            create.sql[2].contains("REFERENCES orders (id) ON DELETE CASCADE ON UPDATE CASCADE")
        );
        assert_eq!(create.lock, Some(Lock::Pg(PgLock::ShareRowExclusive)));
        assert_eq!(create.blocks, Blocks::Writes);
        assert!(create
            .only_if
            .as_deref()
            .unwrap()
            .ends_with("AS lockstep_new_table_missing;"));
        let sync = step(&plan, "Mirror every write");
        assert!(sync.sql[1].starts_with("CREATE TRIGGER lockstep_split_orders_profile AFTER INSERT OR UPDATE OF bio, avatar_url ON orders"));
        assert!(sync.sql[0].contains(
            "ON CONFLICT (id) DO UPDATE SET bio = EXCLUDED.bio, avatar_url = EXCLUDED.avatar_url"
        ));
        let copy = step(&plan, "Copy the existing rows");
        assert!(copy.sql[0].contains("FOR KEY SHARE ON CONFLICT (id) DO NOTHING"));
        assert!(!copy.in_transaction);
        assert!(plan.phases[2].checks[0]
            .sql
            .contains("md5(ROW(lockstep_t.id, lockstep_t.bio, lockstep_t.avatar_url)::text)"));
        assert!(plan.phases[3].app_change.is_some() && plan.phases[5].app_change.is_some());
        assert!(plan.phases[6].irreversible.is_some());
    }

    #[test]
    fn pg10_copies_with_a_repeated_statement() {
        let plan = crate::plan(&split("postgresql@10")).unwrap();
        let copy = step(&plan, "Copy the existing rows");
        assert!(copy.sql[0].contains("rows_in_batch"));
        assert!(step(&plan, "Create the progress table").sql[0]
            .contains("orders_profile_lockstep_progress"));
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let err = crate::plan(&split("postgresql@16").with("primary-key", "none")).unwrap_err();
        assert_eq!(err[0].field, "primary-key");
        let err = crate::plan(&split("postgresql@16").with("columns", "id,bio")).unwrap_err();
        assert_eq!(err[0].field, "columns");
        let err = crate::plan(&split("postgresql@16").with("new-table", "orders")).unwrap_err();
        assert_eq!(err[0].field, "new-table");
    }

    #[test]
    fn snapshots() {
        for (name, p) in [
            ("split_table_pg10", split("postgresql@10.23")),
            ("split_table_pg11", split("postgresql@11.22")),
        ] {
            let plan = crate::plan(&p).unwrap();
            insta::assert_snapshot!(name, markdown(&plan, &p));
        }
    }
}
