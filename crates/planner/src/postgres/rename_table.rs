//! Rename a table.
//!
//! `ALTER TABLE ... RENAME TO` is catalog-only (ACCESS EXCLUSIVE for a moment), but the moment
//! it commits every query that still names the old table fails. So the online path is required
//! whatever the budget:
//!
//! 1. expand — in one transaction: rename the table and create a view with the old name,
//!    `SELECT * FROM <new>`. A view over one table with plain column references is
//!    automatically updatable (docs, "CREATE VIEW", "Updatable Views"): SELECT, INSERT (with
//!    RETURNING and ON CONFLICT), UPDATE, DELETE and SELECT ... FOR UPDATE through the old name
//!    keep working; inserts get the table's defaults. The view gets the table's owner and its
//!    SELECT/INSERT/UPDATE/DELETE grants. From 15 it is `security_invoker`, so privileges and
//!    row-level security are checked as the querying user, exactly as on the table; before 15 a
//!    view reads its table with its owner's rights, which would bypass row-level security, so
//!    the preflight requires it to be off.
//! 2. the application deploys using the new name;
//! 3. contract — drop the view.
//!
//! The direct path is the single RENAME under lock_timeout, shown as the alternative for when
//! every client is stopped.

use super::{check, Ctx, Paths};
use crate::model::{Expected, Phase};
use crate::postgres::facts::{self, Statement};
use crate::postgres::shared::compat_view::{
    compat_view_checks, compat_view_sql, publication_check, view_checks, view_limits,
};
use crate::quote::{ident, literal};
use crate::request::change::RenameTable;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &RenameTable) -> Result<Paths, FieldError> {
    let RenameTable { new_name } = change;
    let old_name = &ctx.req.table;
    if new_name == old_name {
        return Err(FieldError::new(
            "new-name",
            "is the table's current name; accepts a different name",
        ));
    }
    let old = ctx.table();
    let new = ctx.sibling(new_name);
    let old_lit = literal(&old);
    let new_lit = literal(&new);
    let version = ctx.version();

    let renamed_check = check(
        "The table has its new name and the old name is gone",
        format!("SELECT to_regclass({new_lit}) IS NOT NULL AS new_exists, to_regclass({old_lit}) IS NULL AS old_gone;"),
        "t, t",
        Expected::row(&["t", "t"]),
    );

    // Online: rename behind an updatable view, deploy, drop the view.
    let mut expand_sql = vec![format!("ALTER TABLE {old} RENAME TO {};", ident(new_name))];
    expand_sql.extend(compat_view_sql(ctx, old_name, new_name, ""));
    let mut expand = ctx.brief(
        "Rename the table and put an updatable view with the old name in its place (one transaction)",
        expand_sql,
        Statement::AlterTableAccessExclusive,
    );
    expand.run_only_if(
        "lockstep_not_renamed",
        &format!("to_regclass({new_lit}) IS NULL"),
    );
    expand.notes.push("Clients keep using the old name through the view: SELECT, INSERT (with RETURNING and ON CONFLICT), UPDATE, DELETE and SELECT ... FOR UPDATE pass through a simple view to the table; inserts get the table's defaults.".to_string());
    expand.notes.push(view_limits(new_name));
    expand.notes.push(if facts::SECURITY_INVOKER_VIEWS.holds(version) {
        "The view is security_invoker (15+): privileges and row-level security policies are checked as the querying user, as on the table; it carries the table's owner and SELECT/INSERT/UPDATE/DELETE grants.".to_string()
    } else {
        format!("PostgreSQL {version} has no security_invoker views (15+): the view reads the table with its owner's rights. It gets the table's owner and SELECT/INSERT/UPDATE/DELETE grants; the preflight proved row-level security is off.")
    });
    expand.notes.push("Indexes, constraints, sequences and triggers keep their names (e.g. the primary key index and serial sequence named after the old table); rename them separately if the names matter.".to_string());
    expand.retry = format!("{} The step runs only while the new name is free, so re-running it after it committed does nothing.", super::RETRY_LOCK_TIMEOUT);

    let mut expand_checks = view_checks(ctx, old_name);
    expand_checks.push(check(
        "The table answers to its new name",
        format!("SELECT relkind IN ('r', 'p') AS is_table FROM pg_class WHERE oid = to_regclass({new_lit});"),
        "t",
        Expected::row(&["t"]),
    ));

    let mut drop_view = ctx.brief(
        "Drop the compatibility view",
        vec![format!("DROP VIEW IF EXISTS {old};")],
        Statement::DropView,
    );
    drop_view.run_only_if(
        "lockstep_view_present",
        &format!(
            "EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass({old_lit}) AND relkind = 'v')"
        ),
    );
    drop_view.notes.push(
        "Takes ACCESS EXCLUSIVE on the view (the old name) for a moment and no lock on the table, so clients on the new name never wait."
            .to_string(),
    );

    let mut recreate = vec!["BEGIN;".to_string()];
    recreate.extend(compat_view_sql(ctx, old_name, new_name, ""));
    recreate.push("COMMIT;".to_string());

    let mut preflight_checks = compat_view_checks(ctx, new_name);
    preflight_checks.push(publication_check(ctx, "tables"));

    let online = vec![
        ctx.preflight(None, preflight_checks),
        Phase {
            name: "expand: rename behind a view".to_string(),
            purpose: format!(
                "Rename the table to {} and keep {} working as an updatable view, so clients on either name work.",
                ident(new_name),
                ident(old_name)
            ),
            app_change: None,
            steps: vec![expand],
            rollback: vec![ctx.rollback_ddl(
                format!(
                    "BEGIN;\nDROP VIEW IF EXISTS {old};\nALTER TABLE {new} RENAME TO {};\nCOMMIT;",
                    ident(old_name)
                ),
                Some("Run before any client depends on the new name: clients already using it fail once it is gone."),
            )],
            irreversible: None,
            checks: expand_checks,
        },
        Phase {
            name: "contract: drop the view".to_string(),
            purpose: format!("Remove the old name {} once nothing uses it.", ident(old_name)),
            app_change: Some(format!(
                "Every client uses {}: application code, ORM table names, background jobs, reports, ETL, dashboards and grant scripts. Nothing may use {} after this phase.",
                ident(new_name),
                ident(old_name)
            )),
            steps: vec![drop_view],
            rollback: vec![ctx.rollback_ddl(
                recreate.join("\n"),
                Some("Puts the view back if a client still needed the old name."),
            )],
            irreversible: None,
            checks: vec![check(
                "The old name is gone",
                format!("SELECT to_regclass({old_lit}) IS NULL AS old_gone;"),
                "t",
                Expected::row(&["t"]),
            ), renamed_check.clone()],
        },
    ];

    let mut rename = ctx.brief(
        "Rename the table",
        vec![format!(
            "ALTER TABLE IF EXISTS {old} RENAME TO {};",
            ident(new_name)
        )],
        Statement::AlterTableAccessExclusive,
    );
    rename
        .notes
        .push("Every query naming the old table fails from the moment this commits.".to_string());
    let direct = vec![
        ctx.preflight(
            None,
            vec![
                check(
                    &format!("The name {} is free", ident(new_name)),
                    format!("SELECT to_regclass({new_lit}) IS NULL AS name_free;"),
                    "t",
                    Expected::row(&["t"]),
                ),
                publication_check(ctx, "tables"),
            ],
        ),
        Phase {
            name: "rename".to_string(),
            purpose: format!("Rename the table to {}.", ident(new_name)),
            app_change: Some(format!(
                "Stop every client of {}; start them again with the new name right after this phase.",
                ident(old_name)
            )),
            steps: vec![rename],
            rollback: vec![ctx.rollback_ddl(
                format!(
                    "ALTER TABLE IF EXISTS {new} RENAME TO {};",
                    ident(old_name)
                ),
                None,
            )],
            irreversible: None,
            checks: vec![renamed_check],
        },
    ];

    Ok(Paths {
        summary: format!("Rename table {old} to {new}"),
        direct: Some(direct),
        online: Some(online),
        online_required: Some("renaming the table breaks every query that still uses the old name the moment it commits; the view keeps the old name working until every client has switched".to_string()),
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
            .with("change", "rename-table")
            .with("table", "orders")
            .with("new-name", "purchases")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn renames_behind_an_updatable_view_whatever_the_budget() {
        for budget in ["0", "5m"] {
            let plan =
                crate::plan(&params("postgresql@16.4").with("max-downtime", budget)).unwrap();
            assert_eq!(plan.strategy.chosen, "online");
            assert!(plan.strategy.rule.contains("breaks every query"));
            let expand = &plan.phases[1].steps[0];
            assert_eq!(expand.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
            assert!(expand.in_transaction);
            assert_eq!(expand.sql[0], "ALTER TABLE orders RENAME TO purchases;");
            assert_eq!(
                expand.sql[1],
                "CREATE VIEW orders WITH (security_invoker = true) AS SELECT * FROM purchases;"
            );
            assert!(expand.sql[2].contains("GRANT %s ON %s TO %s%s"));
            assert!(expand
                .only_if
                .as_deref()
                .unwrap()
                .ends_with("AS lockstep_not_renamed;"));
            let contract = &plan.phases[2];
            assert!(contract
                .app_change
                .as_deref()
                .unwrap()
                .contains("purchases"));
            assert_eq!(contract.steps[0].sql, ["DROP VIEW IF EXISTS orders;"]);
            assert_eq!(
                contract.steps[0].lock,
                Some(Lock::Pg(PgLock::AccessExclusive))
            );
            let alt = plan.alternative.unwrap();
            assert_eq!(
                alt.phases[1].steps[0].sql,
                ["ALTER TABLE IF EXISTS orders RENAME TO purchases;"]
            );
            assert_eq!(alt.phases[1].steps[0].blocks, Blocks::ReadsAndWrites);
        }
    }

    #[test]
    fn before_15_the_view_is_plain_and_row_level_security_must_be_off() {
        let plan = crate::plan(&params("postgresql@14.11")).unwrap();
        let expand = &plan.phases[1].steps[0];
        assert_eq!(
            expand.sql[1],
            "CREATE VIEW orders AS SELECT * FROM purchases;"
        );
        assert!(plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("relrowsecurity")));
        let plan = crate::plan(&params("postgresql@15.0")).unwrap();
        assert!(!plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("relrowsecurity")));
    }

    #[test]
    fn hostile_names_are_quoted() {
        let plan = crate::plan(
            &params("postgresql@16")
                .with("schema", "Sales")
                .with("table", "order\"s; --")
                .with("new-name", "select"),
        )
        .unwrap();
        let expand = &plan.phases[1].steps[0];
        assert_eq!(
            expand.sql[0],
            "ALTER TABLE \"Sales\".\"order\"\"s; --\" RENAME TO \"select\";"
        );
        assert!(expand.sql[2].contains("'\"Sales\".\"order\"\"s; --\"'"));
    }

    #[test]
    fn same_name_is_refused() {
        let errors = crate::plan(&params("postgresql@16").with("new-name", "orders")).unwrap_err();
        assert_eq!(errors[0].field, "new-name");
    }

    #[test]
    fn runbook_before_and_from_15() {
        for (db, name) in [
            ("postgresql@14.11", "rename_table_pg14"),
            ("postgresql@15.6", "rename_table_pg15"),
        ] {
            let p = params(db);
            let plan = crate::plan(&p).unwrap();
            insta::assert_snapshot!(name, crate::render::markdown::render(&plan, &p));
        }
    }
}
