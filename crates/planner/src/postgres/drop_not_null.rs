//! Let a NOT NULL column accept NULL.
//!
//! `ALTER TABLE ... ALTER COLUMN c DROP NOT NULL` changes the catalog only, on every version:
//! ACCESS EXCLUSIVE for a moment (docs, "ALTER TABLE": DROP NOT NULL takes the default ACCESS
//! EXCLUSIVE lock), no scan, no rewrite; on 18 it drops the column's not-null constraint from
//! `pg_constraint` too. PostgreSQL refuses it for a column of the primary key ("column is in a
//! primary key"), an identity column, and a column of the replica identity index ("is in index
//! used as replica identity"): the preflight looks for each and stops. A CHECK (c IS NOT NULL)
//! of the table goes on refusing NULLs; the preflight lists those.
//!
//! Rollback is SET NOT NULL: a full scan under ACCESS EXCLUSIVE (reads and writes wait), and
//! it fails once a NULL has been written; on a large table the add-not-null plan is the way
//! back.

use super::shared::column::attribute_where;
use super::{check, Ctx, Paths};
use crate::model::{Check, Expected, Phase};
use crate::postgres::facts::Statement;
use crate::quote::ident;
use crate::request::change::DropNotNull;
use crate::request::FieldError;

/// `pg_attribute.attnum` of the column, as a subquery.
fn attnum(ctx: &Ctx, column: &str) -> String {
    format!(
        "(SELECT a.attnum FROM pg_attribute a WHERE {})",
        attribute_where(ctx, column)
    )
}

fn preflight_checks(ctx: &Ctx, column: &str) -> Vec<Check> {
    let num = attnum(ctx, column);
    vec![
        check(
            "The column exists and is not an identity column (NOT NULL is part of an identity column)",
            format!(
                "SELECT a.attidentity = '' AS not_identity FROM pg_attribute a WHERE {};",
                attribute_where(ctx, column)
            ),
            "t (no row: there is no such column; f: an identity column, DROP IDENTITY first)",
            Expected::row(&["t"]),
        ),
        check(
            "The column is not part of the primary key (PostgreSQL refuses DROP NOT NULL there)",
            format!(
                "SELECT conname FROM pg_constraint WHERE conrelid = {} AND contype = 'p' AND {num} = ANY (conkey);",
                ctx.regclass()
            ),
            "no rows. A row: the column is in the primary key, which is always NOT NULL; drop or change the primary key first",
            Expected::NoRows,
        ),
        check(
            "The column is not in the replica identity index (PostgreSQL refuses DROP NOT NULL there)",
            format!(
                "SELECT i.indexrelid::regclass AS replica_identity_index FROM pg_index i WHERE i.indrelid = {} AND i.indisreplident AND {num} = ANY (i.indkey);",
                ctx.regclass()
            ),
            "no rows. A row: logical replication identifies rows by that index; set another REPLICA IDENTITY first",
            Expected::NoRows,
        ),
        check(
            "CHECK constraints that still refuse NULL in the column",
            format!(
                "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = {} AND contype = 'c' AND {num} = ANY (conkey);",
                ctx.regclass()
            ),
            "no rows, or none that refuses NULL: a CHECK such as (col IS NOT NULL) keeps refusing NULLs after this change",
            Expected::Manual,
        ),
    ]
}

fn nullable_check(ctx: &Ctx, column: &str) -> Check {
    check(
        "The column accepts NULL",
        format!(
            "SELECT a.attnotnull FROM pg_attribute a WHERE {};",
            attribute_where(ctx, column)
        ),
        "f",
        Expected::row(&["f"]),
    )
}

pub fn paths(ctx: &Ctx, change: &DropNotNull) -> Result<Paths, FieldError> {
    let DropNotNull { column, .. } = change;
    if ctx.req.env.primary_key.as_deref() == Some(column.as_str()) {
        return Err(FieldError::new(
            "column",
            format!(
                "{} is the primary key, which PostgreSQL keeps NOT NULL (DROP NOT NULL fails with \"column is in a primary key\"); accepts another column",
                crate::request::shown(column)
            ),
        ));
    }
    let col = ident(column);
    let table = ctx.table();
    let mut step = ctx.brief(
        "Drop NOT NULL (catalog only)",
        vec![format!(
            "ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL;"
        )],
        Statement::AlterTableAccessExclusive,
    );
    step.notes.push("No scan and no rewrite: from now on the column accepts NULL. Existing rows are not touched.".to_string());
    let rollback = ctx.rollback_ddl(
        format!("ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL;"),
        Some("SET NOT NULL scans the whole table under ACCESS EXCLUSIVE (reads and writes wait for the scan) and fails if a NULL was written meanwhile. On a large table, plan add-not-null instead (a NOT VALID CHECK, validated without blocking)."),
    );
    let direct = vec![
        ctx.preflight(None, preflight_checks(ctx, column)),
        Phase {
            name: "drop not null".to_string(),
            purpose: format!("Let {col} accept NULL; existing rows are not touched."),
            app_change: None,
            steps: vec![step],
            rollback: vec![rollback],
            irreversible: None,
            checks: vec![nullable_check(ctx, column)],
        },
    ];
    Ok(Paths {
        summary: format!("Let column {col} of {table} accept NULL"),
        direct: Some(direct),
        online: None,
        online_required: None,
        warnings: vec![crate::model::Warning {
            code: "readers-expect-values".to_string(),
            message: format!(
                "Once the column accepts NULL, the application may write NULL into {col}: every reader (reports, ORMs, other services) must handle it before the first NULL is written, and the rollback then fails until those rows are filled."
            ),
        }],
    })
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected, Lock, PgLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "drop-not-null")
            .with("table", "orders")
            .with("column", "amount")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn catalog_only_on_every_version_with_a_scanning_rollback() {
        for major in 10..=18 {
            let plan = crate::plan(&params(&format!("postgresql@{major}"))).unwrap();
            let phase = &plan.phases[1];
            assert_eq!(
                phase.steps[0].sql,
                ["ALTER TABLE orders ALTER COLUMN amount DROP NOT NULL;"]
            );
            assert_eq!(phase.steps[0].lock, Some(Lock::Pg(PgLock::AccessExclusive)));
            assert_eq!(phase.steps[0].blocks, Blocks::ReadsAndWrites);
            assert!(!phase.steps[0].scans_table);
            assert!(phase.rollback[0].sql.ends_with("SET NOT NULL;"));
            assert_eq!(phase.checks[0].expected, Expected::row(&["f"]));
            let pre = &plan.phases[0].checks;
            assert!(pre
                .iter()
                .any(|c| c.sql.contains("contype = 'p'") && c.stops()));
            assert!(pre
                .iter()
                .any(|c| c.sql.contains("indisreplident") && c.stops()));
        }
    }

    #[test]
    fn the_primary_key_is_refused() {
        let err = crate::plan(&params("postgresql@16").with("column", "id")).unwrap_err();
        assert_eq!(err[0].field, "column");
        assert!(err[0].message.contains("primary key"));
    }

    #[test]
    fn runbook() {
        let p = params("postgresql@16");
        let plan = crate::plan(&p).unwrap();
        insta::assert_snapshot!(
            "drop_not_null_pg16",
            crate::render::markdown::render(&plan, &p)
        );
    }
}
