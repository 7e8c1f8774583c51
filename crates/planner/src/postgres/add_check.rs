//! Add a CHECK constraint.
//!
//! Online: `ADD CONSTRAINT name CHECK (expr) NOT VALID` takes ACCESS EXCLUSIVE for a catalog-only
//! moment (no scan) and checks every new or updated row from then on; `VALIDATE CONSTRAINT`
//! then checks the existing rows under SHARE UPDATE EXCLUSIVE, so reads and writes continue
//! during the scan (9.4+). Proof: `pg_constraint.convalidated`.
//! Direct: `ADD CONSTRAINT name CHECK (expr)` holds ACCESS EXCLUSIVE for the whole scan:
//! reads and writes wait.
//!
//! The preflight counts the rows `WHERE NOT (expr)`: exactly the rows the validation would
//! reject, because a CHECK passes when its expression is NULL and `NOT (NULL)` is NULL, which
//! `WHERE` drops too.
//! The default name is PostgreSQL's own for a table-level check, `<table>_check` (PostgreSQL
//! itself uses `<table>_<column>_check` when the expression mentions exactly one column; the
//! planner does not parse the expression, so pass --name for that form).

use super::constraint::{self, add_step, drop_rollback, name_free_check, state_check};
use super::{check, Ctx, Paths};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, Phase};
use crate::postgres::facts::Statement;
use crate::quote::{derived_name, ident};
use crate::request::change::AddCheck;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &AddCheck) -> Result<Paths, FieldError> {
    let AddCheck { expression, name } = change;
    let expr = expression.trim();
    let name = name
        .clone()
        .unwrap_or_else(|| derived_name(&[&ctx.req.table, "check"]));
    Ok(Paths {
        summary: format!(
            "Add CHECK constraint {} ({expr}) on {}",
            ident(&name),
            ctx.table()
        ),
        direct: Some(vec![
            ctx.preflight(None, preflight_checks(ctx, &name, expr)),
            direct_phase(ctx, &name, expr),
        ]),
        online: Some(vec![
            ctx.preflight(None, preflight_checks(ctx, &name, expr)),
            add_phase(ctx, &name, expr),
            validate_phase(ctx, &name),
        ]),
        online_required: None,
        warnings: ctx.version_warnings(false),
    })
}

const DROP_NOTE: &str = "Takes ACCESS EXCLUSIVE briefly: run it with a lock_timeout.";

fn preflight_checks(ctx: &Ctx, name: &str, expr: &str) -> Vec<Check> {
    let violating = check(
        "No existing row violates the expression (a full scan: run it on a replica if you have one)",
        format!(
            "SELECT count(*) AS violating_rows FROM {} WHERE NOT ({expr});",
            ctx.table()
        ),
        "0 (rows where the expression is NULL pass a CHECK and are not counted here either). Any other count: fix those rows first, or the validation fails and the constraint stays NOT VALID",
        Expected::row(&["0"]),
    )
    .scanning()
    .proving(crate::model::Precondition::NoViolatingRows);
    // This plan's own constraint: a CHECK of that name (its expression as the server
    // deparses it cannot be compared with the one typed here).
    vec![name_free_check(ctx, name, "contype = 'c'"), violating]
}

fn add_phase(ctx: &Ctx, name: &str, expr: &str) -> Phase {
    let mut add = add_step(
        ctx,
        "Add the constraint without checking existing rows",
        name,
        &format!("CHECK ({expr}) NOT VALID"),
        Statement::AlterTableAccessExclusive,
        CATALOG_ONLY,
    );
    add.notes.push(
        "NOT VALID: catalog-only, no scan. From this moment every INSERT and UPDATE is checked."
            .to_string(),
    );
    Phase {
        name: "add constraint (NOT VALID)".to_string(),
        purpose: "Add the CHECK for new and updated rows only: a catalog-only moment under ACCESS EXCLUSIVE, no scan.".to_string(),
        app_change: Some(format!(
            "Every INSERT and UPDATE satisfies {expr} (rows where it is NULL pass): from this phase on, a write that violates it fails."
        )),
        steps: vec![add],
        rollback: vec![drop_rollback(ctx, name, DROP_NOTE)],
        irreversible: None,
        checks: vec![state_check(ctx, name, "c", false)],
    }
}

fn validate_phase(ctx: &Ctx, name: &str) -> Phase {
    let validate = constraint::validate_step(
        ctx,
        name,
        ctx.model.scan(),
        "If it fails with \"check constraint ... is violated by some row\", the constraint stays NOT VALID and keeps checking new rows: fix the rows the preflight query counts, then run it again.",
    );
    Phase {
        name: "validate".to_string(),
        purpose: "Check the existing rows under SHARE UPDATE EXCLUSIVE: one scan while reads and writes continue.".to_string(),
        app_change: None,
        steps: vec![validate],
        rollback: vec![drop_rollback(
            ctx,
            name,
            "A validated constraint cannot be marked NOT VALID again: dropping it undoes this phase and the previous one. Takes ACCESS EXCLUSIVE briefly.",
        )
        .undoing_previous(1)],
        irreversible: None,
        checks: vec![state_check(ctx, name, "c", true)],
    }
}

fn direct_phase(ctx: &Ctx, name: &str, expr: &str) -> Phase {
    let mut direct_add = add_step(
        ctx,
        "Add and check the constraint in one statement (blocks reads and writes for the scan)",
        name,
        &format!("CHECK ({expr})"),
        Statement::AlterTableAccessExclusive,
        ctx.model.scan(),
    );
    direct_add.scans_table = true;
    direct_add.retry = format!("If it fails with \"check constraint ... is violated by some row\", nothing changed: fix the rows the preflight query counts, then run it again. {}", direct_add.retry);
    direct_add.notes.push(
        "ACCESS EXCLUSIVE is held while every row is checked: even SELECTs wait.".to_string(),
    );
    Phase {
        name: "add constraint".to_string(),
        purpose: "Add the CHECK and check every row in one statement; reads and writes wait until it finishes.".to_string(),
        app_change: Some(format!(
            "Every INSERT and UPDATE satisfies {expr}: from this phase on, a write that violates it fails."
        )),
        steps: vec![direct_add],
        rollback: vec![drop_rollback(ctx, name, DROP_NOTE)],
        irreversible: None,
        checks: vec![state_check(ctx, name, "c", true)],
    }
}

#[cfg(test)]
mod tests {
    use super::super::constraint::tests::{markdown, params, step};
    use crate::model::{Blocks, Lock, PgLock};

    fn check_params(rows: &str, size: &str, budget: &str) -> crate::request::params::Params {
        params("add-check", "postgresql@16.4", rows, size, budget).with("check", "amount >= 0")
    }

    #[test]
    fn big_table_zero_budget_adds_not_valid_then_validates() {
        let p = check_params("500M", "120GB", "0");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let add = step(&plan, "Add the constraint without");
        assert_eq!(
            add.sql,
            ["ALTER TABLE orders ADD CONSTRAINT orders_check CHECK (amount >= 0) NOT VALID;"]
        );
        assert_eq!(add.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert_eq!(add.hold_seconds.high, crate::estimate::CATALOG_ONLY.high);
        assert!(add
            .only_if
            .as_deref()
            .unwrap()
            .contains("conname = 'orders_check'"));
        let validate = step(&plan, "Check the existing rows");
        assert_eq!(
            validate.sql,
            ["ALTER TABLE orders VALIDATE CONSTRAINT orders_check;"]
        );
        assert_eq!(validate.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert_eq!(validate.blocks, Blocks::Nothing);
        assert!(validate.scans_table);
        assert_eq!(validate.statement_timeout_ms, Some(0));
        let preflight = &plan.phases[0];
        assert!(preflight
            .checks
            .iter()
            .any(|c| c.sql
                == "SELECT count(*) AS violating_rows FROM orders WHERE NOT (amount >= 0);"));
        let alt = plan.alternative.as_ref().unwrap();
        let direct = &alt.phases[1].steps[0];
        assert_eq!(direct.blocks, Blocks::ReadsAndWrites);
        assert!(direct.scans_table);
        assert_eq!(
            direct.sql,
            ["ALTER TABLE orders ADD CONSTRAINT orders_check CHECK (amount >= 0);"]
        );
        insta::assert_snapshot!("add_check_pg16_zero_budget", markdown(&plan, &p));
    }

    #[test]
    fn small_table_with_budget_adds_directly() {
        let p = check_params("10k", "2MB", "30s").with("name", "amount_positive");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        let add = &plan.phases[1].steps[0];
        assert_eq!(
            add.sql,
            ["ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount >= 0);"]
        );
        assert_eq!(add.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        insta::assert_snapshot!("add_check_small_table_direct", markdown(&plan, &p));
    }

    #[test]
    fn hostile_names_are_quoted() {
        let p = check_params("1M", "1GB", "0")
            .with("table", "Order\"; drop table x; --")
            .with("schema", "Sales Dept")
            .with("name", "select");
        let plan = crate::plan(&p).unwrap();
        let add = step(&plan, "Add the constraint without");
        assert_eq!(
            add.sql,
            ["ALTER TABLE \"Sales Dept\".\"Order\"\"; drop table x; --\" ADD CONSTRAINT \"select\" CHECK (amount >= 0) NOT VALID;"]
        );
        assert!(add.only_if.as_deref().unwrap().contains(
            "conrelid = '\"Sales Dept\".\"Order\"\"; drop table x; --\"'::regclass AND conname = 'select'"
        ));
    }
}
