//! Add a CHECK constraint (MySQL 8.0.16+, MariaDB).
//!
//! MySQL enforces CHECK constraints from 8.0.16 (5.7 and 8.0.0-8.0.15 parse them and ignore
//! them: the request is refused, naming `db`); MariaDB from 10.2.1 (`engines::mysql`). Adding
//! one checks every existing row, and InnoDB can only do that by copying the table: on MariaDB
//! 10.11 `ALGORITHM=INSTANT` and `INPLACE` are refused, `ALGORITHM=COPY, LOCK=SHARED` works and
//! fails (error 4025, nothing changed) when a row violates the expression. So:
//! - **direct**: `ADD CONSTRAINT name CHECK (expr), ALGORITHM=COPY, LOCK=SHARED`: reads continue,
//!   writes wait for the whole copy.
//! - **online**: the same clause through gh-ost, pt-online-schema-change or Spirit (`tools`).
//!   Their chunk copy is an INSERT IGNORE (gh-ost, pt-online-schema-change), which skips a row
//!   the new CHECK rejects instead of failing: the preflight must find no violating row, and the
//!   application must stop writing such rows before the copy starts (a deploy gate).
//!
//! The preflight counts `WHERE NOT (expr)`: exactly the rows the constraint rejects, since a
//! CHECK passes on NULL and `NOT (NULL)` is NULL, which WHERE drops too.
//! Rollback: `DROP CHECK` (MySQL, INPLACE) / `DROP CONSTRAINT` (MariaDB, NOCOPY), metadata
//! only with LOCK=NONE (`Server::drop_check_lock`; checked on MariaDB 10.11).

use super::{summary_paths, tools, Ctx};
use crate::model::{Check, Expected, Phase, RollbackStep, Step};
use crate::mysql::facts;
use crate::quote::mysql::{derived_name, ident, literal};
use crate::request::change::AddCheck;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

pub fn paths(ctx: &Ctx, change: &AddCheck) -> Result<Paths, FieldError> {
    let AddCheck { expression, name } = change;
    let server = ctx.server;
    if !facts::ENFORCES_CHECK.holds(server) {
        return Err(FieldError::new(
            "db",
            format!(
                "{} {} parses CHECK constraints and ignores them: the constraint would not be enforced. Accepts mysql@8.0.16 or later, mysql@8.4, or MariaDB; on this server enforce the rule in the application or a trigger",
                ctx.req.db.engine.label(),
                ctx.req.db.version
            ),
        ));
    }
    let expr = expression.trim();
    let name = name
        .clone()
        .unwrap_or_else(|| derived_name(&[&ctx.req.table, "check"]));
    let table = ctx.table();
    let clause = format!("ADD CONSTRAINT {} CHECK ({expr})", ident(&name));
    let mut out = summary_paths(format!(
        "Add CHECK constraint {} ({expr}) to {table}",
        ident(&name)
    ));
    let pre = preflight_checks(ctx, &name, expr);
    let after = vec![present_check(ctx, &name)];
    let rollback = drop_rollback(ctx, &name);
    let app_change = format!(
        "The application writes no row that violates ({expr}): from this phase on such writes fail."
    );
    out.direct = Some(vec![
        ctx.preflight(Some(ctx.req.bytes), pre.clone()),
        Phase {
            name: "add check".to_string(),
            purpose: format!("Copy {table} with the constraint, checking every row."),
            app_change: Some(app_change.clone()),
            steps: vec![copy_step(ctx, &clause)],
            rollback: vec![rollback.clone()],
            irreversible: None,
            checks: after.clone(),
        },
    ]);

    let online = tools::online_alter(
        ctx,
        &clause,
        // Dropping the constraint is metadata only: no second copy needed.
        tools::Inverse::InPlace(vec![rollback.clone()]),
        "InnoDB adds a CHECK constraint only by copying the table (INSTANT and INPLACE are refused), and ALGORITHM=COPY blocks writes for the whole copy",
    );
    let direct = out.direct.as_deref().unwrap_or_default();
    out.online = tools::optional_online(ctx, direct, online, &mut out.warnings)?.map(
        |mut online| {
            online[0].checks.extend(pre);
            if let Some(copy) = online.iter_mut().find(|p| p.name == "copy") {
                copy.app_change = Some(format!(
                    "{app_change} Deploy it before the copy starts: the tool copies rows with INSERT IGNORE, which would leave out a violating row written meanwhile instead of failing."
                ));
            }
            tools::check_after_cut_over(&mut online, after);
            online
        },
    );
    Ok(out)
}

/// Before adding: the name free, and no row that would violate the expression.
fn preflight_checks(ctx: &Ctx, name: &str, expr: &str) -> Vec<Check> {
    let table = ctx.table();
    vec![
        check(
            "The constraint name is free in the schema (CHECK constraint names are unique per schema on MySQL), or already this table's CHECK (this plan ran)",
            format!(
                "SELECT COUNT(*) AS taken FROM information_schema.table_constraints WHERE constraint_schema = {} AND constraint_name = {} AND NOT (table_name = {} AND constraint_type = 'CHECK');",
                ctx.schema_value(),
                literal(name),
                literal(&ctx.req.table)
            ),
            "0",
            Expected::row(&["0"]),
        ),
        check(
            "No existing row violates the expression (a full scan: run it on a replica if you have one)",
            format!("SELECT COUNT(*) AS violating_rows FROM {table} WHERE NOT ({expr});"),
            "0 (rows where the expression is NULL pass a CHECK and are not counted either). Any other count: fix those rows first, or the copy fails (or, with a tool, silently leaves them out)",
            Expected::row(&["0"]),
        ).scanning().proving(crate::model::Precondition::NoViolatingRows),
    ]
}

/// The constraint exists.
fn present_check(ctx: &Ctx, name: &str) -> Check {
    check(
        "The constraint exists",
        format!(
            "SELECT COUNT(*) AS present FROM information_schema.table_constraints WHERE {} AND constraint_name = {} AND constraint_type = 'CHECK';",
            ctx.where_table(&ctx.req.table),
            literal(name)
        ),
        "1",
        Expected::row(&["1"]),
    )
}

/// DROP CHECK (or CONSTRAINT), metadata only.
fn drop_rollback(ctx: &Ctx, name: &str) -> RollbackStep {
    let server = ctx.server;
    let table = ctx.table();
    ctx.rollback_ddl(
        format!(
            "ALTER TABLE {table} DROP {} {}{};",
            server.drop_check_keyword(),
            ident(name),
            ctx.lock_clause(server.drop_check_lock())
        ),
        Some("Metadata only: reads and writes continue; rows are no longer checked."),
    )
}

/// The copy that checks every row while writes wait.
fn copy_step(ctx: &Ctx, clause: &str) -> Step {
    let mut step = ctx.alter(
        "Add the constraint by copying the table, checking every row (writes wait for the whole copy)",
        &[clause.to_string()],
        tools::COPY_SHARED,
        ctx.model.rewrite(),
    );
    step.rewrites_table = true;
    step.scans_table = true;
    step.notes.push("InnoDB cannot add a CHECK in place (INSTANT and INPLACE are refused): the server copies every row, checking it, while reads continue and writes wait. A violating row makes it fail, and nothing changes.".to_string());
    ctx.documented(step)
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected};
    use crate::request::params::Params;

    fn params(db: &str, budget: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "add-check")
            .with("table", "orders`; drop table x; --")
            .with("check", "amount >= 0")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", budget)
    }

    #[test]
    fn copy_only_so_a_tool_online() {
        let p = crate::plan(&params("mariadb@10.11.6", "0")).unwrap();
        assert_eq!(p.strategy.chosen, "online");
        let copy = p.phases.iter().find(|ph| ph.name == "copy").unwrap();
        assert!(copy
            .app_change
            .as_deref()
            .unwrap()
            .contains("INSERT IGNORE"));
        assert!(copy
            .steps
            .iter()
            .any(|s| s
                .shell
                .as_deref()
                .is_some_and(|c| c.starts_with("pt-online-schema-change")
                    && c.contains(
                        "ADD CONSTRAINT `orders``; drop table x; --_check` CHECK (amount >= 0)"
                    ))));
        assert!(p.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("WHERE NOT (amount >= 0)")
                && c.expected == Expected::row(&["0"])));
        let direct = &p.alternative.as_ref().unwrap().phases[1].steps[0];
        assert!(direct.sql[0].ends_with("CHECK (amount >= 0), ALGORITHM=COPY, LOCK=SHARED;"));
        assert_eq!(direct.blocks, Blocks::Writes);
        assert!(copy.rollback[0].sql.contains("DROP TABLE IF EXISTS"));
        assert!(copy.rollback[1].sql.contains(
            "DROP CONSTRAINT `orders``; drop table x; --_check`, ALGORITHM=NOCOPY, LOCK=NONE;"
        ));
    }

    #[test]
    fn direct_within_budget_and_mysql_drop_check() {
        let mut p = params("mysql@8.0.35", "10m");
        p.set("rows", "10k");
        p.set("size", "5MB");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        assert!(plan.phases[1].steps[0].unverified.is_some());
        assert!(plan.phases[1].rollback[0].sql.contains(
            "DROP CHECK `orders``; drop table x; --_check`, ALGORITHM=INPLACE, LOCK=NONE;"
        ));
    }

    #[test]
    fn servers_that_ignore_check_are_refused() {
        for db in ["mysql@5.7", "mysql@8.0.15"] {
            let err = crate::plan(&params(db, "0")).unwrap_err();
            assert!(err.iter().any(|e| e.field == "db"), "{db}: {err:?}");
        }
    }
}
