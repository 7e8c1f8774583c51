//! Give an existing column a new DEFAULT.
//!
//! `ALTER TABLE ... ALTER COLUMN c SET DEFAULT expr` changes `pg_attrdef` only, on every
//! version: ACCESS EXCLUSIVE for a catalog-only moment (docs, "ALTER TABLE": SET/DROP DEFAULT
//! take the default ACCESS EXCLUSIVE lock), no scan, no rewrite. It does nothing to existing
//! rows, not even to the ones holding NULL: only later INSERTs that omit the column (or say
//! DEFAULT) get the value; an UPDATE never does. A column added with a constant default on 11+
//! keeps answering that first value for the rows it had then (`attmissingval`), whatever the
//! default becomes. Filling existing rows is a batched backfill, not this change.
//!
//! Rollback puts the old default back, which PostgreSQL does not keep: the preflight prints
//! the statement to save.

use super::shared::catalog_names;
use super::shared::column::{
    has_default_check, ordinary_column_check, restore_default_check, RESTORE_DEFAULT,
};
use super::shared::expressions;
use super::{Ctx, Paths};
use crate::model::Phase;
use crate::postgres::facts::Statement;
use crate::quote::ident;
use crate::request::change::SetDefault;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &SetDefault) -> Result<Paths, FieldError> {
    let SetDefault { column, default } = change;
    let expr = default.trim();
    let col = ident(column);
    let mut step = ctx.brief(
        "Set the column's default (catalog only)",
        vec![format!(
            "ALTER TABLE {} ALTER COLUMN {col} SET DEFAULT {expr};",
            ctx.table()
        )],
        Statement::AlterTableAccessExclusive,
    );
    step.notes.push("Existing rows keep their values, NULLs included: only INSERTs that omit the column (or write DEFAULT) get the new default from now on. To fill existing rows, backfill them in batches separately.".to_string());
    step.retry = format!(
        "If it fails with \"column ... is of type ... but default expression is of type ...\", nothing changed: give a default of the column's type. {}",
        step.retry
    );
    let direct = vec![
        ctx.preflight(
            None,
            vec![
                ordinary_column_check(ctx, column),
                restore_default_check(ctx, column),
            ],
        ),
        Phase {
            name: "set default".to_string(),
            purpose: format!("Make {expr} the default of {col} for rows inserted from now on; existing rows are not touched."),
            app_change: None,
            steps: vec![step],
            rollback: Vec::new(),
            irreversible: Some(RESTORE_DEFAULT.to_string()),
            checks: vec![has_default_check(ctx, column, true)],
        },
    ];
    let mut out = Paths {
        summary: format!(
            "Set the default of column {col} of {} to {expr}",
            ctx.table()
        ),
        direct: Some(direct),
        online: None,
        online_required: None,
        warnings: Vec::new(),
    };
    let functions = expressions::called_functions(expr);
    catalog_names::require(&mut out, &functions, &[], ctx.version());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected, Lock, PgLock};
    use crate::request::params::Params;

    pub fn params(db: &str, budget: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "set-default")
            .with("table", "orders")
            .with("column", "status")
            .with("default", "'new'")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", budget)
    }

    #[test]
    fn catalog_only_on_every_version_even_at_zero_budget() {
        for major in 10..=18 {
            let plan = crate::plan(&params(&format!("postgresql@{major}"), "0")).unwrap();
            assert_eq!(plan.strategy.chosen, "direct");
            let step = &plan.phases[1].steps[0];
            assert_eq!(
                step.sql,
                ["ALTER TABLE orders ALTER COLUMN status SET DEFAULT 'new';"]
            );
            assert_eq!(step.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
            assert_eq!(step.blocks, Blocks::ReadsAndWrites);
            assert!(!step.scans_table && !step.rewrites_table);
            assert_eq!(step.hold_seconds.high, crate::estimate::CATALOG_ONLY.high);
            let ordinary = &plan.phases[0]
                .checks
                .iter()
                .find(|c| c.sql.contains("AS ordinary"))
                .unwrap();
            assert_eq!(ordinary.expected, Expected::row(&["t"]));
            assert_eq!(ordinary.sql.contains("attgenerated"), major >= 12);
            assert!(plan.phases[1].irreversible.is_some());
        }
    }

    #[test]
    fn a_default_calling_a_missing_function_is_checked() {
        let p = params("postgresql@12", "0").with("default", "gen_random_uuid()");
        let plan = crate::plan(&p).unwrap();
        assert!(plan.phases[0]
            .checks
            .iter()
            .any(|c| c.description.starts_with("Every function and type")));
    }

    #[test]
    fn hostile_names_are_quoted() {
        let p = params("postgresql@16", "0")
            .with("table", "Order\"; drop table x; --")
            .with("column", "select");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(
            plan.phases[1].steps[0].sql,
            ["ALTER TABLE \"Order\"\"; drop table x; --\" ALTER COLUMN \"select\" SET DEFAULT 'new';"]
        );
        let restore = &plan.phases[0]
            .checks
            .iter()
            .find(|c| c.sql.contains("AS restore"))
            .unwrap();
        assert!(restore.sql.contains("'\"Order\"\"; drop table x; --\"'"));
    }

    #[test]
    fn runbook() {
        let p = params("postgresql@16", "0");
        let plan = crate::plan(&p).unwrap();
        insta::assert_snapshot!(
            "set_default_pg16",
            crate::render::markdown::render(&plan, &p)
        );
    }
}
