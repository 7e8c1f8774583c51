//! What the constraint change types share (add-not-null, add-unique, add-foreign-key,
//! add-check): the NOT VALID -> VALIDATE pattern, re-run guards and catalog checks.
//!
//! `ALTER TABLE ... ADD CONSTRAINT` has no `IF NOT EXISTS`, so every step that adds a constraint
//! runs under an `only_if` guard that looks the constraint up by name on this table
//! (`pg_constraint.conrelid` and `conname`): a re-run after a failure skips what already exists.
//! `VALIDATE CONSTRAINT` of a valid constraint does nothing, but it fails on a constraint that
//! no longer exists (add-not-null drops its temporary CHECK again), so it runs only while the
//! constraint exists and is NOT VALID.
//! Constraints are found by `conrelid` + `conname` because constraint names are unique per table,
//! not per schema.

use crate::model::{Check, Estimate, Expected, RollbackStep, Step};
use crate::postgres::facts::Statement;
use crate::postgres::{check, Ctx, RETRY_LOCK_TIMEOUT};
use crate::quote::{self, ident};

/// `ALTER TABLE <table> <clause>;`
pub(crate) fn alter(ctx: &Ctx, clause: &str) -> String {
    format!("ALTER TABLE {} {clause};", ctx.table())
}

/// The `pg_constraint` predicate finding constraint `name` of the target table.
pub(crate) fn by_name(ctx: &Ctx, name: &str) -> String {
    format!(
        "conrelid = {} AND conname = {}",
        ctx.regclass(),
        quote::literal(name)
    )
}

/// Guard: true while no constraint of this name exists on the table.
pub(crate) fn missing_guard(ctx: &Ctx, name: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_constraint WHERE {})",
        by_name(ctx, name)
    )
}

/// `t` / `f`, as PostgreSQL prints booleans.
pub(crate) fn tf(value: bool) -> &'static str {
    if value {
        "t"
    } else {
        "f"
    }
}

/// A step adding constraint `name` with `ALTER TABLE <table> ADD CONSTRAINT ...`, skipped by its
/// guard when the constraint already exists.
pub(crate) fn add_step(
    ctx: &Ctx,
    title: &str,
    name: &str,
    definition: &str,
    stmt: Statement,
    duration: Estimate,
) -> Step {
    let clause = format!("ADD CONSTRAINT {} {definition}", ident(name));
    let mut step = ctx.ddl(title, vec![alter(ctx, &clause)], stmt, duration);
    step.run_only_if("lockstep_constraint_missing", &missing_guard(ctx, name));
    step.retry = format!(
        "{RETRY_LOCK_TIMEOUT} ADD CONSTRAINT has no IF NOT EXISTS: the guard skips the step once {} exists.",
        ident(name)
    );
    step
}

/// `VALIDATE CONSTRAINT`: SHARE UPDATE EXCLUSIVE, one scan, reads and writes continue.
pub(crate) fn validate_step(ctx: &Ctx, name: &str, duration: Estimate, on_failure: &str) -> Step {
    let mut step = ctx.ddl(
        "Check the existing rows (reads and writes continue)",
        vec![alter(ctx, &format!("VALIDATE CONSTRAINT {}", ident(name)))],
        Statement::ValidateConstraint,
        duration,
    );
    step.scans_table = true;
    // VALIDATE of a valid constraint is a no-op, but a constraint a later phase drops again
    // (the temporary CHECK of add-not-null) must not be looked for on a re-run.
    step.run_only_if(
        "lockstep_not_yet_validated",
        &format!(
            "EXISTS (SELECT 1 FROM pg_constraint WHERE {} AND NOT convalidated)",
            by_name(ctx, name)
        ),
    );
    step.notes.push("SHARE UPDATE EXCLUSIVE lets SELECT, INSERT, UPDATE and DELETE run; it waits for, and holds off, other DDL, VACUUM and ANALYZE on this table (an autovacuum in its way is cancelled, unless it runs to prevent wraparound).".to_string());
    step.retry = format!(
        "{on_failure} If it is cancelled or times out, nothing changed: run it again. The guard skips it once the constraint is validated."
    );
    step
}

/// The constraint's type and whether it is validated. `contype`: c check, f foreign key,
/// u unique, n not-null (18+). Right after the NOT VALID phase only its existence is checked:
/// a re-run that resumes after the validation must pass it too.
pub(crate) fn state_check(ctx: &Ctx, name: &str, contype: &str, validated: bool) -> Check {
    if !validated {
        return check(
            &format!(
                "Constraint {} exists (NOT VALID until the next phase validates it; new rows are checked already)",
                ident(name)
            ),
            format!("SELECT contype FROM pg_constraint WHERE {};", by_name(ctx, name)),
            &format!("one row: contype = {contype}"),
            Expected::row(&[contype]),
        );
    }
    check(
        &format!(
            "Constraint {} exists{}",
            ident(name),
            if validated {
                " and is validated"
            } else {
                ", NOT VALID until the next phase (new rows are checked already)"
            }
        ),
        format!(
            "SELECT contype, convalidated FROM pg_constraint WHERE {};",
            by_name(ctx, name)
        ),
        &format!(
            "one row: contype = {contype}, convalidated = {}",
            tf(validated)
        ),
        Expected::row(&[contype, tf(validated)]),
    )
}

/// Preflight: the name is not taken on this table by anything but this plan's own constraint
/// (`own`, a `pg_constraint` predicate), which an earlier attempt may have left: its steps
/// skip it, so a re-run after a partial failure passes this check.
pub(crate) fn name_free_check(ctx: &Ctx, name: &str, own: &str) -> Check {
    check(
        &format!("No constraint named {} exists on the table yet", ident(name)),
        format!(
            "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE {} AND NOT ({own});",
            by_name(ctx, name)
        ),
        "no rows (a row means the name is taken by another constraint: choose another with --name; this plan's own constraint left by an earlier attempt is not listed, its steps skip it)",
        Expected::NoRows,
    )
}

/// `pg_constraint` predicate: a constraint of type `contype` on exactly `columns` of the table.
pub(crate) fn own_constraint(ctx: &Ctx, contype: &str, columns: &[String]) -> String {
    format!(
        "contype = {} AND (SELECT array_agg(k ORDER BY k) FROM unnest(conkey) k) = {}",
        quote::literal(contype),
        column_set(&ctx.regclass(), columns)
    )
}

/// `DROP CONSTRAINT IF EXISTS`, under lock_timeout.
pub(crate) fn drop_rollback(ctx: &Ctx, name: &str, note: &str) -> RollbackStep {
    ctx.rollback_ddl(
        alter(ctx, &format!("DROP CONSTRAINT IF EXISTS {}", ident(name))),
        Some(note),
    )
}

/// The first `n` columns of an index's key, as a sorted array of attribute numbers
/// (order-insensitive comparisons; `indkey` is an int2vector, unnested in storage order).
pub(crate) fn leading_key_set(index_alias: &str, n: &str) -> String {
    format!(
        "(SELECT array_agg(k.attnum ORDER BY k.attnum) FROM unnest({index_alias}.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos) WHERE k.pos <= {n})"
    )
}

/// The attribute numbers of `columns` of `regclass`, sorted; NULL-safe: a missing column makes
/// the array shorter, so it no longer matches.
pub(crate) fn column_set(regclass: &str, columns: &[String]) -> String {
    format!(
        "(SELECT array_agg(a.attnum ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = {regclass} AND a.attname IN ({}) AND NOT a.attisdropped)",
        columns
            .iter()
            .map(|c| quote::literal(c))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `a IS NOT NULL AND b IS NOT NULL` with the columns qualified by `alias` when given.
pub(crate) fn all_not_null(alias: Option<&str>, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| match alias {
            Some(a) => format!("{a}.{} IS NOT NULL", ident(c)),
            None => format!("{} IS NOT NULL", ident(c)),
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::model::{Plan, Step};
    use crate::request::params::Params;

    /// A request for `change` on `orders` (1M rows unless overridden).
    pub fn params(change: &str, db: &str, rows: &str, size: &str, budget: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", change)
            .with("table", "orders")
            .with("rows", rows)
            .with("size", size)
            .with("max-downtime", budget)
    }

    pub fn step<'p>(plan: &'p Plan, title_start: &str) -> &'p Step {
        plan.steps()
            .find(|s| s.title.starts_with(title_start))
            .unwrap_or_else(|| panic!("no step starting with {title_start:?}"))
    }

    pub fn markdown(plan: &Plan, params: &Params) -> String {
        crate::render::markdown::render(plan, params)
    }

    #[test]
    fn key_set_sql_is_order_insensitive() {
        let sql = super::column_set("'p'::regclass", &["b".to_string(), "it's".to_string()]);
        assert!(sql.contains("IN ('b', 'it''s')"));
        assert!(sql.contains("ORDER BY a.attnum"));
        assert!(super::leading_key_set("i", "2").contains("k.pos <= 2"));
    }
}
