//! Drop a column.
//!
//! `ALTER TABLE ... DROP COLUMN` is catalog-only on every version (ACCESS EXCLUSIVE for a
//! moment; the space comes back as rows are rewritten by later updates, or by VACUUM FULL /
//! pg_repack). The danger is not the lock but the clients: any query that names the column, or
//! an ORM that lists every column it saw at startup, fails the moment it commits. So the online
//! path is required whatever the budget:
//!
//! 1. the application deploys a version that neither reads nor writes the column (the preflight
//!    checks the column is nullable or has a default, or that version's inserts would fail, and
//!    says how to make it optional first);
//! 2. drop it.
//!
//! Without CASCADE (never used here) PostgreSQL silently drops the indexes, constraints and
//! statistics objects of this table that involve the column — a multi-column index too — and
//! refuses when anything outside the table uses it (a view, another table's foreign key): the
//! preflight lists both. The drop discards the data: it cannot be rolled back, only redone with
//! a copy taken beforehand.

use super::{check, Ctx, Paths};
use crate::model::{Check, Expected, Phase};
use crate::postgres::facts::Statement;
use crate::quote::{derived_name, ident, literal};
use crate::request::change::DropColumn;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &DropColumn) -> Result<Paths, FieldError> {
    let column = &change.column;
    let table = ctx.table();
    let col = ident(column);
    let online = vec![
        ctx.preflight(None, preflight_checks(ctx, column)),
        drop_phase(
            ctx,
            column,
            format!("Drop {col} once no client uses it."),
            format!(
                "Deploy the application version that neither reads nor writes {col}: no query names it, no SELECT * result is mapped by position, and ORM models no longer list it (restart processes that cache the column list, e.g. Rails ignored_columns, Django/Hibernate models). Wait until every old process is gone."
            ),
        ),
    ];
    let direct = vec![
        ctx.preflight(None, preflight_checks(ctx, column)),
        drop_phase(
            ctx,
            column,
            format!("Drop {col} in one statement."),
            format!("Stop every client that reads or writes {col}."),
        ),
    ];
    Ok(Paths {
        summary: format!("Drop column {col} from {table}"),
        direct: Some(direct),
        online: Some(online),
        online_required: Some(format!(
            "the application must stop reading and writing {col} before it is dropped, or its queries fail the moment the drop commits"
        )),
        warnings: Vec::new(),
    })
}

/// The column's attnum (a subquery).
fn attnum(ctx: &Ctx, column: &str) -> String {
    format!(
        "(SELECT attnum FROM pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attisdropped)",
        ctx.regclass(),
        literal(column)
    )
}

/// What DROP COLUMN removes with the column. The column's own default and (18+) its NOT NULL
/// constraint go with it and are left out; a CHECK on the column has both an automatic and a
/// normal dependency, and goes with it.
fn dropped_with_sql(ctx: &Ctx, column: &str) -> String {
    let (t, attnum) = (ctx.regclass(), attnum(ctx, column));
    format!(
        "SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS dependent FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = {t} AND d.refobjsubid = {attnum} AND d.deptype = 'a' AND NOT (d.classid = 'pg_attrdef'::regclass AND d.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = {t} AND adnum = {attnum})) AND NOT (d.classid = 'pg_constraint'::regclass AND d.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = {t} AND contype = 'n')) ORDER BY 1;"
    )
}

/// What makes DROP COLUMN without CASCADE fail: normal dependencies from outside.
fn blocking_sql(ctx: &Ctx, column: &str) -> String {
    let (t, attnum) = (ctx.regclass(), attnum(ctx, column));
    format!(
        "SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS dependent FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = {t} AND d.refobjsubid = {attnum} AND d.deptype = 'n' AND NOT EXISTS (SELECT 1 FROM pg_depend a WHERE a.classid = d.classid AND a.objid = d.objid AND a.refclassid = d.refclassid AND a.refobjid = d.refobjid AND a.refobjsubid = d.refobjsubid AND a.deptype = 'a') ORDER BY 1;"
    )
}

/// The column exists ("1") or is gone ("0").
fn exists_check(ctx: &Ctx, column: &str, n: &str) -> Check {
    check(
        if n == "1" {
            "The column exists"
        } else {
            "The column is gone"
        },
        format!(
            "SELECT count(*) AS columns FROM pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attisdropped;",
            ctx.regclass(),
            literal(column)
        ),
        n,
        Expected::row(&[n]),
    )
}

fn preflight_checks(ctx: &Ctx, column: &str) -> Vec<Check> {
    let (t, table, col, col_lit) = (ctx.regclass(), ctx.table(), ident(column), literal(column));
    vec![
        exists_check(ctx, column, "1"),
        check(
            "What DROP COLUMN removes with the column: indexes (multi-column ones too), constraints, statistics objects, an owned sequence",
            dropped_with_sql(ctx, column),
            "no rows, or only objects you mean to lose (an index or unique constraint that queries still need must be recreated without the column first, CONCURRENTLY)",
            Expected::NoRows,
        ).informs(),
        check(
            "The column is nullable or has a default, so the new application version can insert rows without it",
            format!("SELECT NOT attnotnull OR atthasdef AS optional FROM pg_attribute WHERE attrelid = {t} AND attname = {col_lit} AND NOT attisdropped;"),
            &format!("t. If f, make it optional before the deploy gate: ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL; (catalog-only: ACCESS EXCLUSIVE for a moment, run it with a lock_timeout); otherwise the new version's inserts fail"),
            Expected::row(&["t"]),
        ),
        check(
            "What uses the column from outside the table (views, other tables' foreign keys, policies): DROP COLUMN without CASCADE fails on them",
            blocking_sql(ctx, column),
            "no rows (otherwise drop or change those objects first)",
            Expected::NoRows,
        ),
    ]
}

/// Why the drop cannot be undone, and how to keep a copy of the values first.
fn irreversible(ctx: &Ctx, column: &str) -> String {
    let (table, col) = (ctx.table(), ident(column));
    let backup = derived_name(&[&ctx.req.table, column, "backup"]);
    let keep_copy = match &ctx.req.env.primary_key {
        Some(pk) => format!(
            "CREATE TABLE {} AS SELECT {}, {col} FROM {table};",
            ctx.sibling(&backup),
            ident(pk)
        ),
        None => format!(
            "pg_dump --table={} --data-only, or CREATE TABLE {} AS SELECT * FROM {table};",
            table,
            ctx.sibling(&backup)
        ),
    };
    format!(
        "DROP COLUMN discards the column's values; adding it back gives an empty column. If you may need them, keep a copy before this phase (for example {keep_copy}, a full read of the table that blocks nothing) and restore from it after re-adding the column."
    )
}

/// The one phase of both paths: they differ in what the application does first.
fn drop_phase(ctx: &Ctx, column: &str, purpose: String, app_change: String) -> Phase {
    let mut drop = ctx.brief(
        "Drop the column",
        vec![format!(
            "ALTER TABLE {} DROP COLUMN IF EXISTS {};",
            ctx.table(),
            ident(column)
        )],
        Statement::AlterTableAccessExclusive,
    );
    drop.notes.push("Catalog-only: the table is not rewritten. The space is reclaimed as rows are updated, or all at once by VACUUM FULL or pg_repack; the dropped column still counts toward the 1600-column limit.".to_string());
    drop.notes.push(
        "Also drops, silently, the indexes and constraints of this table listed by the preflight."
            .to_string(),
    );
    Phase {
        name: "drop column".to_string(),
        purpose,
        app_change: Some(app_change),
        steps: vec![drop],
        rollback: Vec::new(),
        irreversible: Some(irreversible(ctx, column)),
        checks: vec![exists_check(ctx, column, "0")],
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn params(budget: &str) -> Params {
        Params::new()
            .with("db", "postgresql@16.4")
            .with("change", "drop-column")
            .with("table", "orders")
            .with("column", "legacy_flag")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", budget)
    }

    #[test]
    fn deploy_gate_before_a_catalog_only_drop() {
        for budget in ["0", "10m"] {
            let plan = crate::plan(&params(budget)).unwrap();
            assert_eq!(plan.strategy.chosen, "online");
            let drop = &plan.phases[1];
            assert!(drop
                .app_change
                .as_deref()
                .unwrap()
                .contains("neither reads nor writes"));
            let step = &drop.steps[0];
            assert_eq!(
                step.sql,
                ["ALTER TABLE orders DROP COLUMN IF EXISTS legacy_flag;"]
            );
            assert_eq!(step.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
            assert_eq!(step.blocks, Blocks::ReadsAndWrites);
            assert!(!step.rewrites_table);
            assert!(step.hold_seconds.high <= crate::estimate::CATALOG_ONLY.high);
            assert!(drop.irreversible.as_deref().unwrap().contains(
                "CREATE TABLE orders_legacy_flag_backup AS SELECT id, legacy_flag FROM orders;"
            ));
            assert!(!step.sql[0].contains("CASCADE"));
        }
    }

    #[test]
    fn preflight_lists_what_goes_with_the_column() {
        let plan = crate::plan(&params("0")).unwrap();
        let checks = &plan.phases[0].checks;
        assert!(checks.iter().any(|c| c.sql.contains("d.deptype = 'a'")));
        assert!(checks.iter().any(|c| c.sql.contains("d.deptype = 'n'")));
        assert!(checks
            .iter()
            .any(|c| c.sql.contains("NOT attnotnull OR atthasdef")));
    }

    #[test]
    fn runbook() {
        let p = params("0");
        let plan = crate::plan(&p).unwrap();
        insta::assert_snapshot!(
            "drop_column_zero_budget",
            crate::render::markdown::render(&plan, &p)
        );
    }
}
