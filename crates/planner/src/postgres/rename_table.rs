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
use crate::model::{Check, Expected, Phase, Step};
use crate::postgres::facts::{self, Statement};
use crate::postgres::shared::compat_view::{
    compat_view_checks, compat_view_sql, publication_check, view_checks, view_limits,
};
use crate::quote::{ident, literal};
use crate::request::change::RenameTable;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &RenameTable) -> Result<Paths, FieldError> {
    let RenameTable { new_name } = change;
    if new_name == &ctx.req.table {
        return Err(FieldError::new(
            "new-name",
            "is the table's current name; accepts a different name",
        ));
    }
    let r = Rename::new(ctx, new_name);
    Ok(Paths {
        summary: format!("Rename table {} to {}", r.old, r.new),
        direct: Some(vec![r.direct_preflight(), r.rename_phase()]),
        online: Some(vec![r.online_preflight(), r.expand(), r.contract()]),
        online_required: Some("renaming the table breaks every query that still uses the old name the moment it commits; the view keeps the old name working until every client has switched".to_string()),
        warnings: Vec::new(),
    })
}

/// The names the phases use, derived once.
struct Rename<'a> {
    ctx: &'a Ctx<'a>,
    /// The table's current and new names, unquoted.
    old_name: &'a str,
    new_name: &'a str,
    /// The table's current and new names, quoted (schema-qualified when given).
    old: String,
    new: String,
}

impl<'a> Rename<'a> {
    fn new(ctx: &'a Ctx<'a>, new_name: &'a str) -> Self {
        Rename {
            ctx,
            old_name: &ctx.req.table,
            new_name,
            old: ctx.table(),
            new: ctx.sibling(new_name),
        }
    }

    fn renamed_check(&self) -> Check {
        check(
            "The table has its new name and the old name is gone",
            format!(
                "SELECT to_regclass({}) IS NOT NULL AS new_exists, to_regclass({}) IS NULL AS old_gone;",
                literal(&self.new),
                literal(&self.old)
            ),
            "t, t",
            Expected::row(&["t", "t"]),
        )
    }

    fn online_preflight(&self) -> Phase {
        let mut checks = compat_view_checks(self.ctx, self.new_name);
        checks.push(publication_check(self.ctx, "tables"));
        self.ctx.preflight(None, checks)
    }

    fn expand_step(&self) -> Step {
        let (ctx, version) = (self.ctx, self.ctx.version());
        let mut sql = vec![format!(
            "ALTER TABLE {} RENAME TO {};",
            self.old,
            ident(self.new_name)
        )];
        sql.extend(compat_view_sql(ctx, self.old_name, self.new_name, ""));
        let mut expand = ctx.brief(
            "Rename the table and put an updatable view with the old name in its place (one transaction)",
            sql,
            Statement::AlterTableAccessExclusive,
        );
        expand.run_only_if(
            "lockstep_not_renamed",
            &format!("to_regclass({}) IS NULL", literal(&self.new)),
        );
        expand.notes.push("Clients keep using the old name through the view: SELECT, INSERT (with RETURNING and ON CONFLICT), UPDATE, DELETE and SELECT ... FOR UPDATE pass through a simple view to the table; inserts get the table's defaults.".to_string());
        expand.notes.push(view_limits(self.new_name));
        expand.notes.push(if facts::SECURITY_INVOKER_VIEWS.holds(version) {
            "The view is security_invoker (15+): privileges and row-level security policies are checked as the querying user, as on the table; it carries the table's owner and SELECT/INSERT/UPDATE/DELETE grants.".to_string()
        } else {
            format!("PostgreSQL {version} has no security_invoker views (15+): the view reads the table with its owner's rights. It gets the table's owner and SELECT/INSERT/UPDATE/DELETE grants; the preflight proved row-level security is off.")
        });
        expand.notes.push("Indexes, constraints, sequences and triggers keep their names (e.g. the primary key index and serial sequence named after the old table); rename them separately if the names matter.".to_string());
        expand.retry = format!("{} The step runs only while the new name is free, so re-running it after it committed does nothing.", super::RETRY_LOCK_TIMEOUT);
        expand
    }

    fn expand(&self) -> Phase {
        let mut checks = view_checks(self.ctx, self.old_name);
        checks.push(check(
            "The table answers to its new name",
            format!("SELECT relkind IN ('r', 'p') AS is_table FROM pg_class WHERE oid = to_regclass({});", literal(&self.new)),
            "t",
            Expected::row(&["t"]),
        ));
        Phase {
            name: "expand: rename behind a view".to_string(),
            purpose: format!(
                "Rename the table to {} and keep {} working as an updatable view, so clients on either name work.",
                ident(self.new_name),
                ident(self.old_name)
            ),
            app_change: None,
            steps: vec![self.expand_step()],
            rollback: vec![self.ctx.rollback_ddl(
                format!(
                    "BEGIN;\nDROP VIEW IF EXISTS {};\nALTER TABLE {} RENAME TO {};\nCOMMIT;",
                    self.old,
                    self.new,
                    ident(self.old_name)
                ),
                Some("Run before any client depends on the new name: clients already using it fail once it is gone."),
            )],
            irreversible: None,
            checks,
        }
    }

    fn drop_view_step(&self) -> Step {
        let mut drop_view = self.ctx.brief(
            "Drop the compatibility view",
            vec![format!("DROP VIEW IF EXISTS {};", self.old)],
            Statement::DropView,
        );
        drop_view.run_only_if(
            "lockstep_view_present",
            &format!(
                "EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass({}) AND relkind = 'v')",
                literal(&self.old)
            ),
        );
        drop_view.notes.push(
            "Takes ACCESS EXCLUSIVE on the view (the old name) for a moment and no lock on the table, so clients on the new name never wait."
                .to_string(),
        );
        drop_view
    }

    fn contract(&self) -> Phase {
        let mut recreate = vec!["BEGIN;".to_string()];
        recreate.extend(compat_view_sql(self.ctx, self.old_name, self.new_name, ""));
        recreate.push("COMMIT;".to_string());
        Phase {
            name: "contract: drop the view".to_string(),
            purpose: format!("Remove the old name {} once nothing uses it.", ident(self.old_name)),
            app_change: Some(format!(
                "Every client uses {}: application code, ORM table names, background jobs, reports, ETL, dashboards and grant scripts. Nothing may use {} after this phase.",
                ident(self.new_name),
                ident(self.old_name)
            )),
            steps: vec![self.drop_view_step()],
            rollback: vec![self.ctx.rollback_ddl(
                recreate.join("\n"),
                Some("Puts the view back if a client still needed the old name."),
            )],
            irreversible: None,
            checks: vec![check(
                "The old name is gone",
                format!("SELECT to_regclass({}) IS NULL AS old_gone;", literal(&self.old)),
                "t",
                Expected::row(&["t"]),
            ), self.renamed_check()],
        }
    }

    fn direct_preflight(&self) -> Phase {
        self.ctx.preflight(
            None,
            vec![
                check(
                    &format!("The name {} is free", ident(self.new_name)),
                    format!(
                        "SELECT to_regclass({}) IS NULL AS name_free;",
                        literal(&self.new)
                    ),
                    "t",
                    Expected::row(&["t"]),
                ),
                publication_check(self.ctx, "tables"),
            ],
        )
    }

    fn rename_phase(&self) -> Phase {
        let mut rename = self.ctx.brief(
            "Rename the table",
            vec![format!(
                "ALTER TABLE IF EXISTS {} RENAME TO {};",
                self.old,
                ident(self.new_name)
            )],
            Statement::AlterTableAccessExclusive,
        );
        rename.notes.push(
            "Every query naming the old table fails from the moment this commits.".to_string(),
        );
        Phase {
            name: "rename".to_string(),
            purpose: format!("Rename the table to {}.", ident(self.new_name)),
            app_change: Some(format!(
                "Stop every client of {}; start them again with the new name right after this phase.",
                ident(self.old_name)
            )),
            steps: vec![rename],
            rollback: vec![self.ctx.rollback_ddl(
                format!(
                    "ALTER TABLE IF EXISTS {} RENAME TO {};",
                    self.new,
                    ident(self.old_name)
                ),
                None,
            )],
            irreversible: None,
            checks: vec![self.renamed_check()],
        }
    }
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
