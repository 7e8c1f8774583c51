//! Remove a column's DEFAULT.
//!
//! `ALTER TABLE ... ALTER COLUMN c DROP DEFAULT` deletes the `pg_attrdef` row, on every
//! version: ACCESS EXCLUSIVE for a catalog-only moment (docs, "ALTER TABLE"), no scan, no
//! rewrite. Existing rows keep their values (a column added with a constant default on 11+
//! keeps answering it for its old rows through `attmissingval`). What changes is every later
//! INSERT that omits the column: it gets NULL, or fails on a NOT NULL column, so the
//! application must write the column itself first (the deploy gate). A `serial` column's
//! default is its `nextval(...)`: dropping it leaves the sequence behind, unused.
//!
//! Rollback puts the default back, which PostgreSQL does not keep: the preflight prints the
//! statement to save.

use super::shared::column::{
    has_default_check, ordinary_column_check, restore_default_check, RESTORE_DEFAULT,
};
use super::{check, Ctx, Paths};
use crate::model::{Expected, Phase};
use crate::postgres::facts::Statement;
use crate::quote::{ident, literal};
use crate::request::change::DropDefault;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &DropDefault) -> Result<Paths, FieldError> {
    let DropDefault { column } = change;
    let col = ident(column);
    let mut step = ctx.brief(
        "Drop the column's default (catalog only)",
        vec![format!(
            "ALTER TABLE {} ALTER COLUMN {col} DROP DEFAULT;",
            ctx.table()
        )],
        Statement::AlterTableAccessExclusive,
    );
    step.notes.push("Existing rows keep their values. From now on an INSERT that omits the column stores NULL, or fails if the column is NOT NULL.".to_string());
    let serial = check(
        "Whether the default draws from a sequence (a serial column): dropping it leaves the sequence unused",
        format!(
            "SELECT pg_get_serial_sequence({}, {}) AS owned_sequence;",
            literal(&ctx.table()),
            literal(column)
        ),
        "NULL (no owned sequence). A sequence name: the column is a serial one; after this change it is no longer fed from the sequence, and DROP SEQUENCE is a separate decision",
        Expected::Manual,
    );
    let direct = vec![
        ctx.preflight(
            None,
            vec![
                ordinary_column_check(ctx, column),
                restore_default_check(ctx, column),
                serial,
            ],
        ),
        Phase {
            name: "drop default".to_string(),
            purpose: format!("Remove the default of {col}; existing rows are not touched."),
            app_change: Some(format!(
                "Every INSERT writes {col} itself (no INSERT relies on its default): from this phase on an INSERT that omits it stores NULL, or fails if the column is NOT NULL."
            )),
            steps: vec![step],
            rollback: Vec::new(),
            irreversible: Some(RESTORE_DEFAULT.to_string()),
            checks: vec![has_default_check(ctx, column, false)],
        },
    ];
    Ok(Paths {
        summary: format!("Drop the default of column {col} of {}", ctx.table()),
        direct: Some(direct),
        online: None,
        online_required: None,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "drop-default")
            .with("table", "orders")
            .with("column", "status")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn catalog_only_with_a_deploy_gate_on_every_version() {
        for major in 10..=18 {
            let plan = crate::plan(&params(&format!("postgresql@{major}"))).unwrap();
            assert_eq!(plan.strategy.chosen, "direct");
            let phase = &plan.phases[1];
            assert_eq!(
                phase.steps[0].sql,
                ["ALTER TABLE orders ALTER COLUMN status DROP DEFAULT;"]
            );
            assert_eq!(phase.steps[0].lock, Some(Lock::Pg(PgLock::AccessExclusive)));
            assert_eq!(phase.steps[0].blocks, Blocks::ReadsAndWrites);
            assert!(!phase.steps[0].scans_table);
            assert!(phase.app_change.is_some());
            assert!(phase.checks[0].sql.contains("AS has_default"));
        }
    }

    #[test]
    fn runbook() {
        let p = params("postgresql@16");
        let plan = crate::plan(&p).unwrap();
        insta::assert_snapshot!(
            "drop_default_pg16",
            crate::render::markdown::render(&plan, &p)
        );
    }
}
