//! Add a UNIQUE constraint.
//!
//! Online: build the unique index with `CREATE UNIQUE INDEX CONCURRENTLY` (SHARE UPDATE
//! EXCLUSIVE: reads and writes continue; the same re-runnable steps as add-index, which drop an
//! INVALID leftover first), then `ADD CONSTRAINT name UNIQUE USING INDEX name`: ACCESS EXCLUSIVE
//! for a catalog-only moment, no scan. The index is built under the constraint's name, so the
//! constraint takes it over without a rename (PostgreSQL renames the index to the constraint's
//! name when they differ).
//! Direct: `ADD CONSTRAINT name UNIQUE (cols)` builds the index while holding ACCESS EXCLUSIVE:
//! reads block too, not only writes (a plain CREATE UNIQUE INDEX would take SHARE and let reads
//! continue; "ADD UNIQUE blocks writes" is a known wrong claim).
//!
//! The preflight duplicate check skips rows with a NULL in any constraint column: a UNIQUE
//! constraint treats NULLs as distinct, so such rows never conflict.
//! The default name is PostgreSQL's own: `<table>_<col>[_<col>...]_key`.

use super::constraint::{
    self, add_step, all_not_null, drop_rollback, name_free_check, state_check,
};
use super::{check, Ctx, Paths};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, Phase};
use crate::postgres::facts::Statement;
use crate::postgres::shared::index::{IndexSpec, INDEX_BYTES_PER_ROW};
use crate::quote::{self, derived_name, ident, ident_list};
use crate::request::change::AddUnique;
use crate::request::{FieldError, IndexMethod};

pub fn paths(ctx: &Ctx, change: &AddUnique) -> Result<Paths, FieldError> {
    let u = Unique::new(ctx, change);
    Ok(Paths {
        summary: format!(
            "Add UNIQUE constraint {} on {} ({})",
            ident(&u.name),
            u.table,
            u.cols
        ),
        direct: Some(vec![u.direct_preflight(), u.direct_phase()]),
        online: Some(vec![
            u.online_preflight(),
            u.build_phase(),
            u.attach_phase(),
        ]),
        online_required: None,
        warnings: ctx.version_warnings(true),
    })
}

/// The names the phases use, derived once.
struct Unique<'a> {
    ctx: &'a Ctx<'a>,
    columns: &'a [String],
    /// The constraint's (and its index's) name, unquoted.
    name: String,
    spec: IndexSpec<'a>,
    /// The index, quoted and schema-qualified.
    index: String,
    /// The columns, quoted and comma-separated.
    cols: String,
    /// The table, quoted.
    table: String,
}

impl<'a> Unique<'a> {
    fn new(ctx: &'a Ctx<'a>, change: &'a AddUnique) -> Self {
        let AddUnique { columns, name } = change;
        let mut name_parts: Vec<&str> = vec![&ctx.req.table];
        name_parts.extend(columns.iter().map(String::as_str));
        name_parts.push("key");
        let name = name.clone().unwrap_or_else(|| derived_name(&name_parts));
        let spec = IndexSpec {
            columns,
            key_sql: None,
            unique: true,
            predicate: None,
            method: IndexMethod::Btree,
            name: name.clone(),
        };
        Unique {
            ctx,
            columns,
            index: spec.qualified_name(ctx),
            spec,
            name,
            cols: ident_list(columns),
            table: ctx.table(),
        }
    }

    fn index_bytes(&self) -> u64 {
        self.ctx.req.rows.saturating_mul(INDEX_BYTES_PER_ROW)
    }

    fn duplicates_check(&self) -> Check {
        let cols = &self.cols;
        check(
            "No duplicates exist (a full scan: run it on a replica if you have one)",
            format!(
                "SELECT {cols}, count(*) FROM {} WHERE {} GROUP BY {cols} HAVING count(*) > 1 LIMIT 10;",
                self.table,
                all_not_null(None, self.columns)
            ),
            "no rows (rows with a NULL in any of these columns never conflict and are left out). Any row: remove the duplicates first, or the build fails",
            Expected::NoRows,
        )
        .scanning()
        .proving(crate::model::Precondition::NoDuplicates)
    }

    fn index_name_free_check(&self) -> Check {
        let ctx = self.ctx;
        check(
            &format!("No index or table named {} exists yet", ident(&self.name)),
            format!(
                "SELECT to_regclass({idx}) IS NULL OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = to_regclass({idx}) AND i.indrelid = {} AND i.indisunique AND (SELECT array_agg(k ORDER BY k) FROM unnest(i.indkey::int2[]) k) = {}) AS name_free;",
                ctx.regclass(),
                constraint::column_set(&ctx.regclass(), self.columns),
                idx = quote::literal(&self.index)
            ),
            "t (f: the name is taken: pass --name, unless it is this plan's own index left by an earlier attempt; CREATE INDEX ... IF NOT EXISTS would otherwise keep an unrelated index)",
            Expected::row(&["t"]),
        )
    }

    fn constraint_name_free_check(&self) -> Check {
        name_free_check(
            self.ctx,
            &self.name,
            &constraint::own_constraint(self.ctx, "u", self.columns),
        )
    }

    fn online_preflight(&self) -> Phase {
        let plain_table = check(
            "The table is a plain table: CONCURRENTLY cannot build on a partitioned parent",
            format!("SELECT relkind FROM pg_class WHERE oid = {};", self.ctx.regclass()),
            "r (p: a partitioned table needs the unique index built on each partition; this plan does not cover it)",
            Expected::row(&["r"]),
        );
        self.ctx.preflight(
            Some(self.index_bytes()),
            vec![
                plain_table,
                self.constraint_name_free_check(),
                self.index_name_free_check(),
                self.duplicates_check(),
            ],
        )
    }

    fn build_phase(&self) -> Phase {
        let mut build_steps = self.spec.concurrent_build_steps(self.ctx);
        if let Some(build) = build_steps.last_mut() {
            // Replaces the generic add-index note with the precise rule (docs, "Building Indexes
            // Concurrently").
            build
                .notes
                .retain(|n| !n.starts_with("A duplicate inserted while the index builds"));
            build.notes.push("The uniqueness is enforced against other transactions from the second table scan on, before the index is usable: a duplicate written then fails, or makes the build fail. If the build fails there, the INVALID index keeps enforcing uniqueness until it is dropped (the first step of a re-run, or the rollback).".to_string());
        }
        Phase {
            name: "build unique index".to_string(),
            purpose: "Build the unique index while reads and writes continue.".to_string(),
            app_change: Some(format!(
                "The application no longer writes duplicate ({}) values: from this phase on, a duplicate write fails or makes the build fail.",
                self.cols
            )),
            steps: build_steps,
            rollback: vec![self.ctx.rollback_ddl(
                format!("DROP INDEX CONCURRENTLY IF EXISTS {};", self.index),
                Some("Runs outside a transaction; takes SHARE UPDATE EXCLUSIVE, so traffic continues."),
            )],
            irreversible: None,
            checks: vec![index_check(self.ctx, &self.spec)],
        }
    }

    fn attach_phase(&self) -> Phase {
        let (ctx, name) = (self.ctx, &self.name);
        let mut attach = add_step(
            ctx,
            "Turn the index into the constraint",
            name,
            &format!("UNIQUE USING INDEX {}", ident(name)),
            Statement::AlterTableAccessExclusive,
            CATALOG_ONLY,
        );
        attach.notes.push(format!(
            "Catalog-only, no scan: the constraint takes over the valid index {} (same name, so no rename).",
            ident(name)
        ));
        Phase {
            name: "add constraint".to_string(),
            purpose: "Attach the index as a UNIQUE constraint: a catalog-only moment under ACCESS EXCLUSIVE.".to_string(),
            app_change: None,
            steps: vec![attach],
            rollback: vec![drop_rollback(
                ctx,
                name,
                "Drops the constraint and its index with it (a constraint owns its index): this undoes the build phase too. Takes ACCESS EXCLUSIVE briefly.",
            )
            .undoing_previous(1)],
            irreversible: None,
            checks: vec![state_check(ctx, name, "u", true), owns_index_check(ctx, name, &self.index)],
        }
    }

    fn direct_preflight(&self) -> Phase {
        self.ctx.preflight(
            Some(self.index_bytes()),
            vec![
                self.constraint_name_free_check(),
                self.index_name_free_check(),
                self.duplicates_check(),
            ],
        )
    }

    fn direct_phase(&self) -> Phase {
        let (ctx, name) = (self.ctx, &self.name);
        let mut direct_add = add_step(
            ctx,
            "Add the constraint and build its index (blocks reads and writes until the build ends)",
            name,
            &format!("UNIQUE ({})", self.cols),
            Statement::AlterTableAccessExclusive,
            ctx.model.index_build(),
        );
        direct_add.scans_table = true;
        direct_add.retry = format!("If it fails with \"could not create unique index ... is duplicated\", nothing changed: remove the duplicates the preflight query lists, then run it again. {}", direct_add.retry);
        direct_add.notes.push(
            "ACCESS EXCLUSIVE is held for the whole index build: SELECTs wait too, not only writes."
                .to_string(),
        );
        Phase {
            name: "add constraint".to_string(),
            purpose: "Add the constraint and build its index in one statement; reads and writes wait until it finishes.".to_string(),
            app_change: Some(format!(
                "The application no longer writes duplicate ({}) values: from this phase on, a duplicate write fails.",
                self.cols
            )),
            steps: vec![direct_add],
            rollback: vec![drop_rollback(
                ctx,
                name,
                "Drops the constraint and its index. Takes ACCESS EXCLUSIVE briefly.",
            )],
            irreversible: None,
            checks: vec![state_check(ctx, name, "u", true), owns_index_check(ctx, name, &self.index)],
        }
    }
}

/// The index is valid, ready, unique, and on exactly the constraint's columns in order (so an
/// unrelated index that `IF NOT EXISTS` kept is caught here).
fn index_check(ctx: &Ctx, spec: &IndexSpec) -> Check {
    let expected_columns = spec
        .columns
        .iter()
        .map(|c| quote::literal(c))
        .collect::<Vec<_>>()
        .join(", ");
    check(
        "The unique index is valid, ready, and on exactly these columns",
        format!(
            "SELECT i.indisvalid, i.indisready, i.indisunique, i.indpred IS NULL AND ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.pos) = ARRAY[{expected_columns}]::name[] AS same_columns FROM pg_index i WHERE i.indexrelid = to_regclass({}) AND i.indrelid = {};",
            quote::literal(&spec.qualified_name(ctx)),
            ctx.regclass()
        ),
        "one row: t, t, t, t",
        Expected::row(&["t", "t", "t", "t"]),
    )
}

/// The constraint owns the index of its name.
fn owns_index_check(ctx: &Ctx, name: &str, index: &str) -> Check {
    check(
        "The constraint owns the index",
        format!(
            "SELECT conindid = to_regclass({}) AS owns_index FROM pg_constraint WHERE {};",
            quote::literal(index),
            constraint::by_name(ctx, name)
        ),
        "t",
        Expected::row(&["t"]),
    )
}

#[cfg(test)]
mod tests {
    use super::super::constraint::tests::{markdown, params, step};
    use crate::estimate::CATALOG_ONLY;
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn uq(db: &str, rows: &str, size: &str, budget: &str) -> Params {
        params("add-unique", db, rows, size, budget).with("columns", "customer_id,code")
    }

    #[test]
    fn big_table_zero_budget_builds_concurrently_then_attaches() {
        let p = uq("postgresql@16.4", "500M", "120GB", "0");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let build = step(&plan, "Build the index");
        assert_eq!(
            build.sql,
            ["CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_code_key ON orders USING btree (customer_id, code);"]
        );
        assert_eq!(build.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert!(!build.in_transaction);
        let attach = step(&plan, "Turn the index");
        assert_eq!(
            attach.sql,
            ["ALTER TABLE orders ADD CONSTRAINT orders_customer_id_code_key UNIQUE USING INDEX orders_customer_id_code_key;"]
        );
        assert_eq!(attach.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert_eq!(attach.hold_seconds.high, CATALOG_ONLY.high);
        assert!(attach.only_if.is_some());
        assert!(plan.warnings.is_empty());
        // Regression: ADD UNIQUE takes ACCESS EXCLUSIVE for the whole build, reads block too.
        let alt = plan.alternative.as_ref().unwrap();
        let direct = &alt.phases[1].steps[0];
        assert_eq!(direct.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert_eq!(direct.blocks, Blocks::ReadsAndWrites);
        assert_eq!(direct.hold_seconds, direct.estimate);
        insta::assert_snapshot!("add_unique_pg16_zero_budget", markdown(&plan, &p));
    }

    #[test]
    fn duplicate_check_ignores_rows_with_nulls() {
        let plan = crate::plan(&uq("postgresql@16", "1M", "1GB", "0")).unwrap();
        let dup = plan.phases[0]
            .checks
            .iter()
            .find(|c| c.description.starts_with("No duplicates"))
            .unwrap();
        assert_eq!(
            dup.sql,
            "SELECT customer_id, code, count(*) FROM orders WHERE customer_id IS NOT NULL AND code IS NOT NULL GROUP BY customer_id, code HAVING count(*) > 1 LIMIT 10;"
        );
    }

    #[test]
    fn pg14_before_14_4_warns() {
        let p = uq("postgresql@14.3", "500M", "120GB", "0");
        let plan = crate::plan(&p).unwrap();
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "pg14-cic-corruption"));
        insta::assert_snapshot!("add_unique_pg14_3_zero_budget", markdown(&plan, &p));
        let plan = crate::plan(&uq("postgresql@14.4", "500M", "120GB", "0")).unwrap();
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn small_table_with_budget_adds_directly() {
        let p = uq("postgresql@16", "10k", "2MB", "30s").with("name", "orders_code_uniq");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        let add = &plan.phases[1].steps[0];
        assert_eq!(
            add.sql,
            ["ALTER TABLE orders ADD CONSTRAINT orders_code_uniq UNIQUE (customer_id, code);"]
        );
        assert_eq!(add.blocks, Blocks::ReadsAndWrites);
        insta::assert_snapshot!("add_unique_small_table_direct", markdown(&plan, &p));
    }
}
