//! Drop an index.
//!
//! Online: `DROP INDEX CONCURRENTLY IF EXISTS` takes SHARE UPDATE EXCLUSIVE on the table (reads
//! and writes continue), waits for every transaction that could still use the index, and cannot
//! run inside a transaction block. If it is cancelled it can leave the index INVALID; running it
//! again finishes the job.
//! Direct: plain `DROP INDEX` takes ACCESS EXCLUSIVE on the table: brief once granted, but while
//! it waits behind a running query every later query on the table queues behind it.
//!
//! Neither form can drop an index that backs a constraint (PRIMARY KEY, UNIQUE, EXCLUDE) or
//! that a foreign key of another table relies on: the preflight looks it up in
//! `pg_constraint.conindid`, and the plan says to drop the constraint instead. Neither can
//! CONCURRENTLY drop the parent index of a partitioned table (relkind `I`).
//!
//! Rollback recreates the index, which needs its definition, and PostgreSQL keeps none once the
//! index is gone: the preflight prints the exact `CREATE INDEX CONCURRENTLY IF NOT EXISTS`
//! statement (from `pg_get_indexdef`) to save before dropping, and the phase's rollback says to
//! run it. Lockstep cannot emit that statement itself, so the phase is marked as not
//! rollable by SQL, with those instructions.

use super::{check, Ctx, Paths};
use crate::model::{Check, Expected, Phase, Step};
use crate::postgres::facts::Statement;
use crate::quote::{ident, literal};
use crate::request::change::DropIndex;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &DropIndex) -> Result<Paths, FieldError> {
    let name = ctx.sibling(&change.index);
    let oid = format!("to_regclass({})", literal(&name));
    Ok(Paths {
        summary: format!("Drop index {} on {}", ident(&change.index), ctx.table()),
        direct: Some(vec![
            ctx.preflight(None, preflight_checks(ctx, &oid)),
            drop_phase(
                &oid,
                plain_drop_step(ctx, &name),
                "Drop the index in one statement.",
            ),
        ]),
        online: Some(vec![
            ctx.preflight(None, preflight_checks(ctx, &oid)),
            drop_phase(
                &oid,
                concurrent_drop_step(ctx, &name),
                "Drop the index while reads and writes continue.",
            ),
        ]),
        online_required: None,
        warnings: Vec::new(),
    })
}

/// `oid` is the index's `to_regclass(...)`.
fn preflight_checks(ctx: &Ctx, oid: &str) -> Vec<Check> {
    vec![
        check(
            "The index exists and belongs to the table",
            format!("SELECT indrelid = {} AS on_this_table FROM pg_index WHERE indexrelid = {oid};", ctx.regclass()),
            "t",
            Expected::row(&["t"]),
        ),
        check(
            "The index backs no constraint (primary key, unique, exclusion, or a foreign key of another table that references it)",
            format!("SELECT conname, contype, conrelid::regclass AS on_table FROM pg_constraint WHERE conindid = {oid};"),
            "no rows. A row means DROP INDEX fails: drop the constraint instead (ALTER TABLE ... DROP CONSTRAINT, ACCESS EXCLUSIVE), after dropping or re-pointing any foreign key that relies on it",
            Expected::NoRows,
        ),
        check(
            "The index is a plain index, not the parent index of a partitioned table",
            format!("SELECT relkind FROM pg_class WHERE oid = {oid};"),
            "i (I is a partitioned index: CONCURRENTLY cannot drop it; plain DROP INDEX does, under ACCESS EXCLUSIVE on the parent and every partition)",
            Expected::row(&["i"]),
        ),
        check(
            "The index is not the table's replica identity (logical replication would lose it)",
            format!("SELECT indisreplident FROM pg_index WHERE indexrelid = {oid};"),
            "f",
            Expected::row(&["f"]),
        ),
        check(
            "Nothing uses the index (counters since the last stats reset, on this server only: check replicas too)",
            format!("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelid = {oid};"),
            "0 or close to it over a representative period",
            Expected::Manual,
        ),
        check(
            "SAVE THIS OUTPUT: the statement that recreates the index (the rollback)",
            format!(
                "SELECT regexp_replace(pg_get_indexdef({oid}), '^CREATE (UNIQUE )?INDEX ', 'CREATE \\1INDEX CONCURRENTLY IF NOT EXISTS ') || ';' AS recreate;"
            ),
            "one row: a CREATE INDEX CONCURRENTLY IF NOT EXISTS statement; keep it with this runbook",
            Expected::Manual,
        ),
    ]
}

const RECREATE: &str = "PostgreSQL keeps no copy of a dropped index's definition, so no prepared statement can bring it back. To recreate it, run the CREATE INDEX CONCURRENTLY IF NOT EXISTS statement the preflight printed (save it before this phase), outside a transaction: SHARE UPDATE EXCLUSIVE, so reads and writes continue while it builds, for about as long as the original build. A unique index fails if duplicates arrived meanwhile; a failed build leaves an INVALID index: DROP INDEX CONCURRENTLY IF EXISTS it and run the statement again.";

fn concurrent_drop_step(ctx: &Ctx, name: &str) -> Step {
    let mut drop = ctx.brief(
        "Drop the index without blocking reads or writes",
        vec![format!("DROP INDEX CONCURRENTLY IF EXISTS {name};")],
        Statement::DropIndexConcurrently,
    );
    drop.in_transaction = false;
    drop.notes.push("Waits for every transaction that could still use the index to finish; a long transaction makes it wait, not fail, and blocks nothing meanwhile.".to_string());
    drop.retry = "If it fails or is cancelled it can leave the index behind marked INVALID (no longer used by queries): run it again, it finishes the drop. Safe to re-run.".to_string();
    drop
}

fn plain_drop_step(ctx: &Ctx, name: &str) -> Step {
    let mut plain = ctx.brief(
        "Drop the index",
        vec![format!("DROP INDEX IF EXISTS {name};")],
        Statement::DropIndex,
    );
    plain.notes.push("ACCESS EXCLUSIVE on the table: it waits for every running query on the table, and every query that arrives meanwhile queues behind it (bounded by lock_timeout).".to_string());
    plain
}

/// The one phase of both paths: they differ in the drop statement.
fn drop_phase(oid: &str, drop: Step, purpose: &str) -> Phase {
    Phase {
        name: "drop index".to_string(),
        purpose: purpose.to_string(),
        app_change: None,
        steps: vec![drop],
        rollback: Vec::new(),
        irreversible: Some(RECREATE.to_string()),
        checks: vec![check(
            "The index is gone",
            format!("SELECT {oid} IS NULL AS dropped;"),
            "t",
            Expected::row(&["t"]),
        )],
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn params(budget: &str) -> Params {
        Params::new()
            .with("db", "postgresql@16.4")
            .with("change", "drop-index")
            .with("table", "orders")
            .with("index", "orders_status_idx")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", budget)
    }

    #[test]
    fn zero_budget_drops_concurrently_outside_a_transaction() {
        let plan = crate::plan(&params("0")).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let step = &plan.phases[1].steps[0];
        assert_eq!(
            step.sql,
            ["DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx;"]
        );
        assert_eq!(step.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert_eq!(step.blocks, Blocks::Nothing);
        assert!(!step.in_transaction);
        let preflight = &plan.phases[0];
        assert!(preflight.checks.iter().any(|c| c.sql.contains("conindid")));
        assert!(preflight
            .checks
            .iter()
            .any(|c| c.sql.contains("pg_get_indexdef")));
        assert!(plan.phases[1]
            .irreversible
            .as_deref()
            .unwrap()
            .contains("CREATE INDEX CONCURRENTLY IF NOT EXISTS statement the preflight printed"));
        let alt = plan.alternative.unwrap();
        assert_eq!(
            alt.phases[1].steps[0].lock,
            Some(Lock::Pg(PgLock::AccessExclusive))
        );
    }

    #[test]
    fn generous_budget_offers_the_plain_drop_with_the_concurrent_one_beside_it() {
        let plan = crate::plan(&params("30s")).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        assert_eq!(
            plan.phases[1].steps[0].sql,
            ["DROP INDEX IF EXISTS orders_status_idx;"]
        );
        assert!(plan.alternative.is_some());
    }

    #[test]
    fn index_lives_in_the_table_schema() {
        let plan = crate::plan(&params("0").with("schema", "Sales")).unwrap();
        assert_eq!(
            plan.phases[1].steps[0].sql,
            ["DROP INDEX CONCURRENTLY IF EXISTS \"Sales\".orders_status_idx;"]
        );
    }

    #[test]
    fn runbook() {
        let p = params("0");
        let plan = crate::plan(&p).unwrap();
        insta::assert_snapshot!(
            "drop_index_zero_budget",
            crate::render::markdown::render(&plan, &p)
        );
    }
}
