//! Rename a column.
//!
//! `ALTER TABLE ... RENAME COLUMN` is catalog-only (ACCESS EXCLUSIVE for a moment) and views,
//! indexes, constraints and triggers follow it, but every client query that names the old
//! column fails the moment it commits. The online path is therefore required whatever the budget.
//!
//! Two expand/contract shapes keep both names working:
//! - a new column kept in sync by a trigger, backfilled, then the old one dropped. It moves every
//!   row (hours of WAL, replica lag and bloat on a big table), doubles write cost while the
//!   trigger runs, and every index, constraint, default and foreign key of the column has to be
//!   rebuilt on the new one (CONCURRENTLY) before the switch;
//! - rename the column, and put an updatable view in front of the table that answers to both
//!   names. This moves no data and takes two catalog-only moments. It is the one planned here:
//!
//! 1. expand — one transaction: `RENAME COLUMN old TO new`, rename the table to a temporary
//!    name, and create a view with the table's name, `SELECT *, new AS old FROM <temporary>`.
//!    A view over one table with plain column references is automatically updatable, so reads
//!    and writes by either name pass through to the table (the same view machinery as
//!    [`crate::postgres::shared::compat_view`]: owner, grants, security_invoker from 15, row-level security
//!    checked before 15);
//! 2. the application deploys using the new name;
//! 3. contract — one transaction: drop the view and give the table its name back.
//!
//! Its limits while the view stands (TRUNCATE, COPY FROM, LOCK TABLE and DDL need the
//! temporary name; a statement assigning both names at once fails with "multiple assignments")
//! are printed on the step. The direct path is the single RENAME under lock_timeout, shown as
//! the alternative for when every client is stopped.

use super::{check, Ctx, Paths};
use crate::model::{Check, Expected, Phase, Step};
use crate::postgres::facts::Statement;
use crate::postgres::shared::compat_view::{
    compat_view_checks, compat_view_sql, publication_check, view_checks,
};
use crate::quote::{derived_name, ident, literal};
use crate::request::change::RenameColumn;
use crate::request::FieldError;

/// `count(old), count(new)` among the live columns of `relation` (a quoted, qualified name).
fn columns_check(
    description: &str,
    relation: &str,
    old: &str,
    new: &str,
    expect: [&str; 2],
) -> Check {
    check(
        description,
        format!(
            "SELECT count(*) FILTER (WHERE attname = {}) AS old_name, count(*) FILTER (WHERE attname = {}) AS new_name FROM pg_attribute WHERE attrelid = to_regclass({}) AND attnum > 0 AND NOT attisdropped;",
            literal(old),
            literal(new),
            literal(relation)
        ),
        &format!("{}, {}", expect[0], expect[1]),
        Expected::row(&expect),
    )
}

/// The name the table carries while the view stands in for it.
fn temporary_name(table: &str) -> String {
    let name = derived_name(&[table, "renaming"]);
    if name == table {
        derived_name(&["renaming", table])
    } else {
        name
    }
}

pub fn paths(ctx: &Ctx, change: &RenameColumn) -> Result<Paths, FieldError> {
    let RenameColumn {
        column, new_name, ..
    } = change;
    if new_name == column {
        return Err(FieldError::new(
            "new-name",
            "is the column's current name; accepts a different name",
        ));
    }
    let r = Rename::new(ctx, column, new_name);
    Ok(Paths {
        summary: format!("Rename column {} of {} to {}", r.old, r.table, r.new),
        direct: Some(vec![r.direct_preflight(), r.rename_phase()]),
        online: Some(vec![r.online_preflight(), r.expand(), r.contract()]),
        online_required: Some("renaming the column breaks every query that still names it the moment it commits; the view keeps both names working until every client has switched".to_string()),
        warnings: Vec::new(),
    })
}

/// The names the phases use, derived once.
struct Rename<'a> {
    ctx: &'a Ctx<'a>,
    /// The column's current and new names, unquoted.
    column: &'a str,
    new_name: &'a str,
    /// The table's name, unquoted, and quoted (schema-qualified when given).
    table_name: &'a str,
    table: String,
    /// The table's name while the view stands in front of it, unquoted and qualified.
    temp: String,
    temp_q: String,
    /// The column's current and new names, quoted.
    old: String,
    new: String,
    /// The view's extra select-list item: the new name under the old one.
    alias: String,
}

impl<'a> Rename<'a> {
    fn new(ctx: &'a Ctx<'a>, column: &'a str, new_name: &'a str) -> Self {
        let table_name = &ctx.req.table;
        let temp = temporary_name(table_name);
        let (old, new) = (ident(column), ident(new_name));
        Rename {
            ctx,
            column,
            new_name,
            table_name,
            table: ctx.table(),
            temp_q: ctx.sibling(&temp),
            temp,
            alias: format!(", {new} AS {old}"),
            old,
            new,
        }
    }

    fn before_check(&self) -> Check {
        columns_check(
            &format!(
                "The column {} exists and no column is named {} yet",
                self.old, self.new
            ),
            &self.table,
            self.column,
            self.new_name,
            ["1", "0"],
        )
    }

    fn after_check(&self) -> Check {
        columns_check(
            &format!("The table has {} and no longer {}", self.new, self.old),
            &self.table,
            self.column,
            self.new_name,
            ["0", "1"],
        )
    }

    /// Rename the table aside and create the view under its name.
    fn view_sql(&self) -> Vec<String> {
        let mut sql = vec![format!(
            "ALTER TABLE {} RENAME TO {};",
            self.table,
            ident(&self.temp)
        )];
        sql.extend(compat_view_sql(
            self.ctx,
            self.table_name,
            &self.temp,
            &self.alias,
        ));
        sql
    }

    fn online_preflight(&self) -> Phase {
        let mut checks = vec![self.before_check()];
        checks.extend(compat_view_checks(self.ctx, &self.temp));
        checks.push(publication_check(self.ctx, "columns"));
        self.ctx.preflight(None, checks)
    }

    fn expand_step(&self) -> Step {
        let (ctx, table, old, new) = (self.ctx, &self.table, &self.old, &self.new);
        let mut sql = vec![format!("ALTER TABLE {table} RENAME COLUMN {old} TO {new};")];
        sql.extend(self.view_sql());
        let mut expand = ctx.brief(
            "Rename the column and put a view answering to both names in front of the table (one transaction)",
            sql,
            Statement::AlterTableAccessExclusive,
        );
        expand.run_only_if(
            "lockstep_not_renamed",
            &format!("EXISTS (SELECT 1 FROM pg_class WHERE oid = to_regclass({}) AND relkind IN ('r', 'p')) AND to_regclass({}) IS NULL",
            literal(table),
            literal(&self.temp_q)
        ),
        );
        expand.notes.push(format!(
            "Through the view, {old} and {new} are the same column: reads and writes by either name reach the table (SELECT, INSERT with RETURNING and ON CONFLICT, UPDATE, DELETE, SELECT ... FOR UPDATE). One statement must not assign both names at once (\"multiple assignments to same column\"), and SELECT * returns both."
        ));
        expand
            .notes
            .push(crate::postgres::shared::compat_view::view_limits(
                &self.temp,
            ));
        expand.notes.push("Server-side prepared statements that run SELECT * on the table (JDBC, pgx, asyncpg, Npgsql) fail once with \"cached plan must not change result type\", since the view returns one more column; they work again when re-prepared (retry or reconnect). Queries that name their columns are unaffected.".to_string());
        expand.notes.push("Views, indexes, constraints and triggers on the table follow the column rename; function bodies (PL/pgSQL, SQL functions) that name the old column do not, but they reach the table through the view and keep working until the contract phase.".to_string());
        expand.retry = format!(
            "{} The step runs only while the table still has its own name, so re-running it after it committed does nothing.",
            super::RETRY_LOCK_TIMEOUT
        );
        expand
    }

    fn expand_checks(&self) -> Vec<Check> {
        let mut checks = view_checks(self.ctx, self.table_name);
        checks.push(columns_check(
            &format!(
                "The table, now {}, has the new column name",
                ident(&self.temp)
            ),
            &self.temp_q,
            self.column,
            self.new_name,
            ["0", "1"],
        ));
        checks.push(check(
            "Both names answer through the view",
            format!(
                "SELECT count(*) >= 0 AS both_names FROM (SELECT {}, {} FROM {} LIMIT 1) AS lockstep_probe;",
                self.old, self.new, self.table
            ),
            "t",
            Expected::row(&["t"]),
        ));
        checks
    }

    fn expand(&self) -> Phase {
        let (table, temp_q, old, new) = (&self.table, &self.temp_q, &self.old, &self.new);
        Phase {
            name: "expand: rename behind a view".to_string(),
            purpose: format!(
                "Rename {old} to {new} and keep both names working through an updatable view with the table's name."
            ),
            app_change: None,
            steps: vec![self.expand_step()],
            rollback: vec![self.ctx.rollback_ddl(
                format!(
                    "BEGIN;\nDROP VIEW IF EXISTS {table};\nALTER TABLE {temp_q} RENAME TO {};\nALTER TABLE {table} RENAME COLUMN {new} TO {old};\nCOMMIT;",
                    ident(self.table_name)
                ),
                Some("Run before any client depends on the new column name: clients already using it fail once it is gone."),
            )],
            irreversible: None,
            checks: self.expand_checks(),
        }
    }

    fn contract_step(&self) -> Step {
        let mut contract = self.ctx.brief(
            "Drop the view and give the table its name back (one transaction)",
            vec![
                format!("DROP VIEW IF EXISTS {};", self.table),
                format!(
                    "ALTER TABLE {} RENAME TO {};",
                    self.temp_q,
                    ident(self.table_name)
                ),
            ],
            Statement::AlterTableAccessExclusive,
        );
        contract.run_only_if(
            "lockstep_view_in_place",
            &format!("to_regclass({}) IS NOT NULL", literal(&self.temp_q)),
        );
        contract.notes.push(format!(
            "From this moment only {} works: a query still naming {} fails.",
            self.new, self.old
        ));
        contract
    }

    fn contract(&self) -> Phase {
        let (old, new) = (&self.old, &self.new);
        let mut recreate = vec!["BEGIN;".to_string()];
        recreate.extend(self.view_sql());
        recreate.push("COMMIT;".to_string());
        Phase {
            name: "contract: drop the view".to_string(),
            purpose: format!("Give the table its name back once nothing uses {old}."),
            app_change: Some(format!(
                "Every client uses {new} instead of {old}: application queries, ORM mappings, background jobs, reports, ETL and database functions. Nothing may name {old} after this phase."
            )),
            steps: vec![self.contract_step()],
            rollback: vec![self.ctx.rollback_ddl(
                recreate.join("\n"),
                Some("Puts the view answering to both names back, if a client still needed the old column name."),
            )],
            irreversible: None,
            checks: vec![
                check(
                    "The table has its name back",
                    format!("SELECT relkind IN ('r', 'p') AS is_table FROM pg_class WHERE oid = to_regclass({});", literal(&self.table)),
                    "t",
                    Expected::row(&["t"]),
                ),
                self.after_check(),
            ],
        }
    }

    fn direct_preflight(&self) -> Phase {
        self.ctx.preflight(
            None,
            vec![self.before_check(), publication_check(self.ctx, "columns")],
        )
    }

    fn rename_phase(&self) -> Phase {
        let (ctx, table, old, new) = (self.ctx, &self.table, &self.old, &self.new);
        let mut rename = ctx.brief(
            "Rename the column",
            vec![format!("ALTER TABLE {table} RENAME COLUMN {old} TO {new};")],
            Statement::AlterTableAccessExclusive,
        );
        rename.run_only_if(
            "lockstep_not_renamed",
            &format!("EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attisdropped)",
            ctx.regclass(),
            literal(self.column)
        ),
        );
        rename.notes.push(format!(
            "Every query naming {old} fails from the moment this commits."
        ));
        Phase {
            name: "rename column".to_string(),
            purpose: format!("Rename {old} to {new}."),
            app_change: Some(format!(
                "Stop every client that uses {old}; start them again with {new} right after this phase."
            )),
            steps: vec![rename],
            rollback: vec![ctx.rollback_ddl(
                format!("ALTER TABLE {table} RENAME COLUMN {new} TO {old};"),
                None,
            )],
            irreversible: None,
            checks: vec![self.after_check()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::temporary_name;
    use crate::model::{Lock, PgLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "rename-column")
            .with("table", "orders")
            .with("column", "amount")
            .with("new-name", "total")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn online_path_keeps_both_names_through_a_view() {
        let plan = crate::plan(&params("postgresql@16.4").with("max-downtime", "1h")).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let expand = &plan.phases[1].steps[0];
        assert_eq!(
            expand.sql[..3],
            [
                "ALTER TABLE orders RENAME COLUMN amount TO total;",
                "ALTER TABLE orders RENAME TO orders_renaming;",
                "CREATE VIEW orders WITH (security_invoker = true) AS SELECT *, total AS amount FROM orders_renaming;",
            ]
        );
        assert_eq!(expand.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert!(expand.in_transaction);
        assert!(!expand.rewrites_table);
        let contract = &plan.phases[2];
        assert!(contract.app_change.is_some());
        assert_eq!(
            contract.steps[0].sql,
            [
                "DROP VIEW IF EXISTS orders;",
                "ALTER TABLE orders_renaming RENAME TO orders;"
            ]
        );
        let direct = plan.alternative.unwrap();
        assert_eq!(
            direct.phases[1].steps[0].sql,
            ["ALTER TABLE orders RENAME COLUMN amount TO total;"]
        );
    }

    #[test]
    fn temporary_name_never_equals_a_63_byte_table_name() {
        let long = "t".repeat(63);
        let temp = temporary_name(&long);
        assert_ne!(temp, long);
        assert!(temp.len() <= 63);
        assert_eq!(temporary_name("orders"), "orders_renaming");
    }

    #[test]
    fn same_name_is_refused() {
        let errors = crate::plan(&params("postgresql@16").with("new-name", "amount")).unwrap_err();
        assert_eq!(errors[0].field, "new-name");
    }

    #[test]
    fn runbook_before_and_from_15() {
        for (db, name) in [
            ("postgresql@14.11", "rename_column_pg14"),
            ("postgresql@15.6", "rename_column_pg15"),
        ] {
            let p = params(db);
            let plan = crate::plan(&p).unwrap();
            insta::assert_snapshot!(name, crate::render::markdown::render(&plan, &p));
        }
    }
}
