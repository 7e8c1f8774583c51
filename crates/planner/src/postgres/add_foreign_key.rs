//! Add a FOREIGN KEY constraint.
//!
//! Online: `ADD CONSTRAINT name FOREIGN KEY (cols) REFERENCES ref (cols) NOT VALID` takes SHARE
//! ROW EXCLUSIVE on both tables for a catalog-only moment (writes to both wait that long; reads
//! continue) and checks new rows from then on; `VALIDATE CONSTRAINT` then checks the existing
//! rows under SHARE UPDATE EXCLUSIVE on the table and ROW SHARE on the referenced table, so
//! reads and writes continue on both. Proof: `pg_constraint.convalidated`.
//! Direct: `ADD CONSTRAINT ... FOREIGN KEY` without NOT VALID holds SHARE ROW EXCLUSIVE on both
//! tables for the whole check: writes to both tables wait for the scan.
//!
//! Preflight: the referenced columns carry a primary key, a unique constraint or a non-partial
//! unique index on exactly those columns (PostgreSQL refuses the key otherwise); no orphan rows
//! (the validation fails otherwise; rows with a NULL in any key column are not checked, MATCH
//! SIMPLE); an index on the referencing columns (every DELETE or key UPDATE on the referenced
//! table looks the referencing rows up: without an index, each one scans this table). The plan
//! advises creating that index with CREATE INDEX CONCURRENTLY first; it never adds it silently.
//! Before 18 a foreign key cannot be added NOT VALID to a partitioned table.
//! The referenced table is taken from the same schema as the table.
//! The default name is PostgreSQL's own: `<table>_<col>[_<col>...]_fkey`.

use super::constraint::{
    self, add_step, all_not_null, column_set, drop_rollback, leading_key_set, name_free_check,
    state_check,
};
use super::{check, Ctx, Paths};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, Phase};
use crate::postgres::facts::{self, Statement};
use crate::quote::{derived_name, ident, ident_list};
use crate::request::change::AddForeignKey;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &AddForeignKey) -> Result<Paths, FieldError> {
    let fk = ForeignKey::new(ctx, change);
    Ok(Paths {
        summary: format!(
            "Add foreign key {} on {} ({}) referencing {} ({})",
            ident(&fk.name),
            fk.table,
            fk.cols,
            fk.parent,
            fk.ref_cols
        ),
        direct: Some(vec![fk.preflight(), fk.direct_phase()]),
        online: Some(vec![fk.preflight(), fk.add_phase(), fk.validate_phase()]),
        online_required: None,
        warnings: ctx.version_warnings(false),
    })
}

/// The names the phases use, derived once.
struct ForeignKey<'a> {
    ctx: &'a Ctx<'a>,
    change: &'a AddForeignKey,
    /// The constraint's name, unquoted.
    name: String,
    /// The table and the referenced table, quoted.
    table: String,
    parent: String,
    /// The referencing and referenced columns, quoted and comma-separated.
    cols: String,
    ref_cols: String,
}

impl<'a> ForeignKey<'a> {
    fn new(ctx: &'a Ctx<'a>, change: &'a AddForeignKey) -> Self {
        let mut name_parts: Vec<&str> = vec![&ctx.req.table];
        name_parts.extend(change.columns.iter().map(String::as_str));
        name_parts.push("fkey");
        ForeignKey {
            ctx,
            change,
            name: change
                .name
                .clone()
                .unwrap_or_else(|| derived_name(&name_parts)),
            table: ctx.table(),
            parent: ctx.sibling(&change.ref_table),
            cols: ident_list(&change.columns),
            ref_cols: ident_list(&change.ref_columns),
        }
    }

    fn definition(&self) -> String {
        format!(
            "FOREIGN KEY ({}) REFERENCES {} ({})",
            self.cols, self.parent, self.ref_cols
        )
    }

    /// "Also takes <lock> on <parent>: <what>".
    fn parent_note(&self, stmt: Statement, what: &str) -> String {
        let lock = facts::foreign_key_referenced_lock(stmt)
            .map_or_else(|| "no lock".to_string(), |l| l.name());
        format!("Also takes {lock} on {}: {what}", self.parent)
    }

    fn drop_note(&self) -> String {
        format!(
            "Takes ACCESS EXCLUSIVE on both {} and {} briefly (it drops the foreign-key triggers on each): run it with a lock_timeout.",
            self.table, self.parent
        )
    }

    fn app_change(&self) -> String {
        format!(
            "The application no longer writes ({}) values that are missing from {parent}, nor deletes or re-keys {parent} rows that {} still references: from this phase on, such writes fail.",
            self.cols,
            self.table,
            parent = self.parent
        )
    }

    /// The same checks before either path.
    fn preflight(&self) -> Phase {
        let (ctx, c) = (self.ctx, self.change);
        let mut extra = Vec::new();
        if !facts::FK_NOT_VALID_ON_PARTITIONED.holds(ctx.version()) {
            extra.push(check(
                "The table is a plain table: before PostgreSQL 18 a foreign key cannot be added NOT VALID to a partitioned table",
                format!("SELECT relkind FROM pg_class WHERE oid = {};", ctx.regclass()),
                "r (p: PostgreSQL refuses NOT VALID here before 18; this plan does not cover partitioned tables)",
                Expected::row(&["r"]),
            ));
        }
        extra.push(name_free_check(
            ctx,
            &self.name,
            &format!(
                "{} AND confrelid = {}",
                constraint::own_constraint(ctx, "f", &c.columns),
                ctx.regclass_of(&c.ref_table)
            ),
        ));
        extra.push(referenced_key_check(ctx, &c.ref_table, &c.ref_columns));
        extra.push(orphans_check(ctx, &c.columns, &self.parent, &c.ref_columns));
        extra.push(referencing_index_check(ctx, &c.columns));
        ctx.preflight(None, extra)
    }

    fn add_phase(&self) -> Phase {
        let (ctx, table, parent) = (self.ctx, &self.table, &self.parent);
        let mut add = add_step(
            ctx,
            "Add the foreign key without checking existing rows",
            &self.name,
            &format!("{} NOT VALID", self.definition()),
            Statement::AddForeignKeyOrTrigger,
            CATALOG_ONLY,
        );
        add.notes.push(self.parent_note(
            Statement::AddForeignKeyOrTrigger,
            "writes to it wait for the same catalog-only moment; reads of both tables continue. Each of the two lock waits is bounded by lock_timeout.",
        ));
        add.notes.push(format!(
            "NOT VALID: no scan. From this moment every INSERT or key UPDATE on {table} is checked against {parent}, and every DELETE or key UPDATE on {parent} against {table}."
        ));
        Phase {
            name: "add foreign key (NOT VALID)".to_string(),
            purpose: format!("Check new rows from now on, without checking the existing ones: a catalog-only moment under SHARE ROW EXCLUSIVE on {table} and {parent}."),
            app_change: Some(self.app_change()),
            steps: vec![add],
            rollback: vec![drop_rollback(ctx, &self.name, &self.drop_note())],
            irreversible: None,
            checks: vec![state_check(ctx, &self.name, "f", false)],
        }
    }

    fn validate_phase(&self) -> Phase {
        let (ctx, table, parent) = (self.ctx, &self.table, &self.parent);
        let mut validate = constraint::validate_step(
            ctx,
            &self.name,
            ctx.model.scan(),
            "If it fails with \"insert or update on table ... violates foreign key constraint\", orphan rows exist: the constraint stays NOT VALID and keeps checking new rows; fix the rows the preflight orphan query counts, then run it again.",
        );
        validate.notes.push(self.parent_note(
            Statement::ValidateConstraint,
            "it conflicts only with EXCLUSIVE and ACCESS EXCLUSIVE, so reads and writes of both tables continue.",
        ));
        validate.notes.push(format!(
            "PostgreSQL checks all rows with one query joining {table} to {parent}: the duration grows with both tables; the estimate counts one scan of {table}."
        ));
        Phase {
            name: "validate".to_string(),
            purpose: "Check the existing rows: one scan while reads and writes of both tables continue.".to_string(),
            app_change: None,
            steps: vec![validate],
            rollback: vec![drop_rollback(
                ctx,
                &self.name,
                &format!("A validated constraint cannot be marked NOT VALID again: dropping it undoes this phase and the previous one. {}", self.drop_note()),
            )
            .undoing_previous(1)],
            irreversible: None,
            checks: vec![state_check(ctx, &self.name, "f", true)],
        }
    }

    fn direct_phase(&self) -> Phase {
        let ctx = self.ctx;
        let mut direct_add = add_step(
            ctx,
            "Add and check the foreign key in one statement (blocks writes to both tables for the scan)",
            &self.name,
            &self.definition(),
            Statement::AddForeignKeyOrTrigger,
            ctx.model.scan(),
        );
        direct_add.scans_table = true;
        direct_add.retry = format!("If it fails with \"insert or update on table ... violates foreign key constraint\", nothing changed: fix the rows the preflight orphan query counts, then run it again. {}", direct_add.retry);
        direct_add.notes.push(self.parent_note(
            Statement::AddForeignKeyOrTrigger,
            "writes to both tables wait until every existing row is checked; reads continue.",
        ));
        Phase {
            name: "add foreign key".to_string(),
            purpose: "Add the foreign key and check every row in one statement; writes to both tables wait until it finishes.".to_string(),
            app_change: Some(self.app_change()),
            steps: vec![direct_add],
            rollback: vec![drop_rollback(ctx, &self.name, &self.drop_note())],
            irreversible: None,
            checks: vec![state_check(ctx, &self.name, "f", true)],
        }
    }
}

/// A primary key, unique constraint or non-partial unique index covers exactly the referenced
/// columns (in any order), is immediate (not DEFERRABLE) and valid: what PostgreSQL requires.
fn referenced_key_check(ctx: &Ctx, ref_table: &str, ref_columns: &[String]) -> Check {
    let regclass = ctx.regclass_of(ref_table);
    let key_count = if facts::INDEX_INCLUDE.holds(ctx.version()) {
        "indnkeyatts"
    } else {
        "indnatts"
    };
    let n = ref_columns.len().to_string();
    check(
        "The referenced columns have a primary key or unique index (PostgreSQL requires one)",
        format!(
            "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = {regclass} AND i.indisunique AND i.indimmediate AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL AND i.{key_count} = {n} AND {} = {}) AS referenced_key_exists;",
            leading_key_set("i", &n),
            column_set(&regclass, ref_columns)
        ),
        &format!(
            "t (f: ADD FOREIGN KEY fails with \"there is no unique constraint matching given keys for referenced table\": add a primary key or unique constraint on {} ({}) first, e.g. with the add-unique change)",
            ctx.sibling(ref_table),
            ident_list(ref_columns)
        ),
        Expected::row(&["t"]),
    )
}

/// Rows whose key is set (no NULL in any key column: MATCH SIMPLE skips those) but has no
/// referenced row.
fn orphans_check(ctx: &Ctx, columns: &[String], parent: &str, ref_columns: &[String]) -> Check {
    let matches = columns
        .iter()
        .zip(ref_columns)
        .map(|(c, r)| format!("parent.{} = child.{}", ident(r), ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    check(
        "No row references a missing row (a full scan: run it on a replica if you have one)",
        format!(
            "SELECT count(*) AS orphan_rows FROM {} AS child WHERE {} AND NOT EXISTS (SELECT 1 FROM {parent} AS parent WHERE {matches});",
            ctx.table(),
            all_not_null(Some("child"), columns)
        ),
        "0 (rows with a NULL in any key column are not checked by the foreign key, nor counted here). Any other count: delete or fix those rows first, or the validation fails",
        Expected::row(&["0"]),
    )
    .scanning()
    .proving(crate::model::Precondition::NoOrphans)
}

/// An index whose leading columns are the referencing columns (in any order): what DELETEs and
/// key UPDATEs on the referenced table use to find referencing rows.
fn referencing_index_check(ctx: &Ctx, columns: &[String]) -> Check {
    let n = columns.len().to_string();
    let mut index_parts: Vec<&str> = vec![&ctx.req.table];
    index_parts.extend(columns.iter().map(String::as_str));
    index_parts.push("idx");
    let index = ctx.sibling(&derived_name(&index_parts));
    check(
        "Recommended: an index on the referencing columns",
        format!(
            "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = {} AND i.indisvalid AND i.indpred IS NULL AND {} = {}) AS referencing_index_exists;",
            ctx.regclass(),
            leading_key_set("i", &n),
            column_set(&ctx.regclass(), columns)
        ),
        &format!(
            "t. f: every DELETE or key UPDATE on the referenced table will scan {} to look for referencing rows. The foreign key works without it, and this plan does not add it: build it first, without blocking writes, with the add-index change (CREATE INDEX CONCURRENTLY IF NOT EXISTS {index} ON {} ({}))",
            ctx.table(),
            ctx.table(),
            ident_list(columns)
        ),
        Expected::row(&["t"]),
    ).informs()
}

#[cfg(test)]
mod tests {
    use super::super::constraint::tests::{markdown, params, step};
    use crate::estimate::CATALOG_ONLY;
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn fk(db: &str, rows: &str, size: &str, budget: &str) -> Params {
        params("add-foreign-key", db, rows, size, budget)
            .with("column", "customer_id")
            .with("references", "customers(id)")
    }

    #[test]
    fn big_table_zero_budget_adds_not_valid_then_validates() {
        let p = fk("postgresql@17", "500M", "120GB", "0");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let add = step(&plan, "Add the foreign key without");
        assert_eq!(
            add.sql,
            ["ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id) NOT VALID;"]
        );
        assert_eq!(add.lock, Some(Lock::Pg(PgLock::ShareRowExclusive)));
        assert_eq!(add.blocks, Blocks::Writes);
        assert_eq!(add.hold_seconds.high, CATALOG_ONLY.high);
        assert!(add.notes[0].contains("SHARE ROW EXCLUSIVE on customers"));
        let validate = step(&plan, "Check the existing rows");
        assert_eq!(
            validate.sql,
            ["ALTER TABLE orders VALIDATE CONSTRAINT orders_customer_id_fkey;"]
        );
        assert_eq!(validate.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert_eq!(validate.blocks, Blocks::Nothing);
        assert!(validate
            .notes
            .iter()
            .any(|n| n.contains("ROW SHARE on customers")));
        let alt = plan.alternative.as_ref().unwrap();
        let direct = &alt.phases[1].steps[0];
        assert_eq!(direct.lock, Some(Lock::Pg(PgLock::ShareRowExclusive)));
        assert_eq!(direct.blocks, Blocks::Writes);
        assert!(direct.scans_table);
        // Before 18: NOT VALID foreign keys are refused on partitioned tables.
        assert!(plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.starts_with("SELECT relkind")));
        insta::assert_snapshot!("add_foreign_key_pg17_zero_budget", markdown(&plan, &p));
    }

    #[test]
    fn pg18_allows_partitioned_tables() {
        let p = fk("postgresql@18", "500M", "120GB", "0");
        let plan = crate::plan(&p).unwrap();
        assert!(!plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.starts_with("SELECT relkind")));
        insta::assert_snapshot!("add_foreign_key_pg18_zero_budget", markdown(&plan, &p));
    }

    #[test]
    fn referenced_key_check_counts_key_columns_by_version() {
        let key_check = |db: &str| {
            let plan = crate::plan(&fk(db, "1M", "1GB", "0")).unwrap();
            plan.phases[0]
                .checks
                .iter()
                .find(|c| c.sql.contains("referenced_key_exists"))
                .unwrap()
                .sql
                .clone()
        };
        assert!(key_check("postgresql@10").contains("i.indnatts = 1"));
        assert!(key_check("postgresql@11").contains("i.indnkeyatts = 1"));
        let p = fk("postgresql@10", "500M", "120GB", "0");
        insta::assert_snapshot!(
            "add_foreign_key_pg10_zero_budget",
            markdown(&crate::plan(&p).unwrap(), &p)
        );
    }

    #[test]
    fn composite_key_pairs_columns_and_skips_null_rows() {
        let p = params("add-foreign-key", "postgresql@16", "1M", "1GB", "0")
            .with("columns", "tenant_id,customer_id")
            .with("references", "customers(tenant_id, id)");
        let plan = crate::plan(&p).unwrap();
        let add = step(&plan, "Add the foreign key without");
        assert_eq!(
            add.sql,
            ["ALTER TABLE orders ADD CONSTRAINT orders_tenant_id_customer_id_fkey FOREIGN KEY (tenant_id, customer_id) REFERENCES customers (tenant_id, id) NOT VALID;"]
        );
        let orphans = plan.phases[0]
            .checks
            .iter()
            .find(|c| c.sql.contains("orphan_rows"))
            .unwrap();
        assert_eq!(
            orphans.sql,
            "SELECT count(*) AS orphan_rows FROM orders AS child WHERE child.tenant_id IS NOT NULL AND child.customer_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM customers AS parent WHERE parent.tenant_id = child.tenant_id AND parent.id = child.customer_id);"
        );
    }

    #[test]
    fn small_table_with_budget_adds_directly() {
        let p = fk("postgresql@16", "10k", "2MB", "30s");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        let add = &plan.phases[1].steps[0];
        assert_eq!(
            add.sql,
            ["ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customers (id);"]
        );
        insta::assert_snapshot!("add_foreign_key_small_table_direct", markdown(&plan, &p));
    }
}
