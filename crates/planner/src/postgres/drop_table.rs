//! Drop a table.
//!
//! The lock is not the danger: `DROP TABLE` takes ACCESS EXCLUSIVE for a moment (bounded by
//! lock_timeout, since a waiting request queues every query on the table behind it). The
//! danger is a client that still uses the table, and data that cannot come back. So the plan
//! first renames the table aside, after the deploy that stops using it: a forgotten client
//! fails loudly ("relation does not exist") while renaming it back still undoes everything.
//! After a waiting period the aside table is dropped.
//!
//! DROP TABLE fails while a foreign key of another table references it, or a view (or a
//! default using its sequence) depends on it; CASCADE would silently drop those. The preflight
//! lists them and stops.

use super::{check, Ctx, Paths};
use crate::model::{Check, Expected, Phase};
use crate::postgres::facts::Statement;
use crate::quote::{derived_name, ident, literal};
use crate::request::change::DropTable;
use crate::request::FieldError;

/// The name the table waits under before it is dropped.
fn aside_name(table: &str) -> String {
    derived_name(&["lockstep_dropped", table])
}

pub fn paths(ctx: &Ctx, _change: &DropTable) -> Result<Paths, FieldError> {
    let table = ctx.table();
    let online = vec![preflight(ctx), rename_phase(ctx), drop_phase(ctx)];
    Ok(Paths {
        summary: format!("Drop table {table}"),
        direct: None,
        online: Some(online),
        online_required: Some("dropping at once gives no way back if a forgotten client still uses the table; the rename aside is undone by renaming back".to_string()),
        warnings: Vec::new(),
    })
}

/// The table under its old name, or under the aside name once renamed: a re-run after the
/// rename resumes.
fn either(ctx: &Ctx) -> String {
    let present = format!("to_regclass({})", literal(&ctx.table()));
    let aside_oid = format!(
        "to_regclass({})",
        literal(&ctx.sibling(&aside_name(&ctx.req.table)))
    );
    format!("coalesce({present}, {aside_oid})")
}

/// The common preflight names the table by `::regclass`, an error once it is aside: here it
/// looks at whichever of the two names holds it.
fn preflight(ctx: &Ctx) -> Phase {
    let either = either(ctx);
    let checks = vec![
        check(
            "The table exists (or was already renamed aside by this plan) and is a plain table",
            format!("SELECT relkind FROM pg_class WHERE oid = {either};"),
            "r (p is a partitioned table: drop it the same way, all partitions go with it)",
            Expected::row(&["r"]),
        ),
        check(
            "No foreign key of another table references it",
            format!("SELECT conname, conrelid::regclass AS on_table FROM pg_constraint WHERE contype = 'f' AND confrelid = {either} AND conrelid <> confrelid;"),
            "no rows. A row means DROP TABLE fails (and CASCADE would drop that foreign key silently): drop those foreign keys, or the tables holding them, first",
            Expected::NoRows,
        )
        .proving(crate::model::Precondition::NotReferenced),
        check(
            "No view, and no other table's default (through the table's sequences), depends on it",
            format!("SELECT DISTINCT d.classid::regclass AS kind, coalesce(r.ev_class::regclass::text, ad.adrelid::regclass::text) AS dependent FROM pg_depend d LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid WHERE d.deptype = 'n' AND (d.refobjid = {either} OR d.refobjid IN (SELECT objid FROM pg_depend WHERE refobjid = {either} AND classid = 'pg_class'::regclass AND deptype IN ('a', 'i'))) AND coalesce(r.ev_class, ad.adrelid) IS DISTINCT FROM {either};"),
            "no rows. A row means DROP TABLE fails (CASCADE would drop that view, or that default): change or drop it first",
            Expected::NoRows,
        ),
        check(
            "Nothing has used the table lately (counters since the last stats reset, this server only: check replicas too)",
            format!("SELECT seq_scan + coalesce(idx_scan, 0) AS reads, n_tup_ins + n_tup_upd + n_tup_del AS writes FROM pg_stat_user_tables WHERE relid = {either};"),
            "numbers that no longer grow over a representative period",
            Expected::Manual,
        ),
    ];
    let mut preflight = ctx.preflight(None, checks);
    for c in &mut preflight.checks {
        c.sql = c.sql.replace(&ctx.regclass(), &either);
    }
    preflight
}

/// Phase: the table taken out of use while it can still come back.
fn rename_phase(ctx: &Ctx) -> Phase {
    let table = ctx.table();
    let aside = ctx.sibling(&aside_name(&ctx.req.table));
    let present = format!("to_regclass({})", literal(&table));
    let aside_oid = format!("to_regclass({})", literal(&aside));
    let mut rename = ctx.brief(
        "Rename the table aside (reversible: a client that still uses it fails loudly)",
        vec![format!(
            "ALTER TABLE IF EXISTS {table} RENAME TO {};",
            ident(&aside_name(&ctx.req.table))
        )],
        Statement::AlterTableAccessExclusive,
    );
    rename.run_only_if("lockstep_not_yet_aside", &format!("{present} IS NOT NULL"));
    rename.notes.push("ACCESS EXCLUSIVE for a moment: it waits for running queries on the table, and queries arriving meanwhile queue behind it (bounded by lock_timeout). Its sequences, indexes and grants go along unchanged.".to_string());
    let aside_there = check(
        "The table is aside: its old name is free and the aside name holds it",
        format!("SELECT {present} IS NULL AS name_free, {aside_oid} IS NOT NULL AS aside;"),
        "t, t",
        Expected::row(&["t", "t"]),
    );
    Phase {
        name: "rename aside".to_string(),
        purpose: "Take the table out of use while it can still come back.".to_string(),
        app_change: Some(format!(
            "No client uses {table} any more: application code, ORM models, background jobs, reports, ETL and grant scripts. Deploy that first."
        )),
        steps: vec![rename],
        rollback: vec![ctx.rollback_ddl(
            format!("ALTER TABLE IF EXISTS {aside} RENAME TO {};", ident(&ctx.req.table)),
            Some("Gives the table its name back, with every row: ACCESS EXCLUSIVE for a moment."),
        )],
        irreversible: None,
        checks: vec![aside_there],
    }
}

/// Phase: the drop, after a waiting period; irreversible.
fn drop_phase(ctx: &Ctx) -> Phase {
    let table = ctx.table();
    let aside = ctx.sibling(&aside_name(&ctx.req.table));
    let present = format!("to_regclass({})", literal(&table));
    let aside_oid = format!("to_regclass({})", literal(&aside));
    let mut drop = ctx.brief(
        "Drop the table",
        vec![format!("DROP TABLE IF EXISTS {aside};")],
        Statement::AlterTableAccessExclusive,
    );
    drop.notes.push("ACCESS EXCLUSIVE for a moment, bounded by lock_timeout; no client uses the name any more. The files are unlinked at commit (a very large table on some filesystems takes noticeable I/O).".to_string());
    let gone: Vec<Check> = vec![check(
        "The table is gone",
        format!("SELECT {present} IS NULL AND {aside_oid} IS NULL AS dropped;"),
        "t",
        Expected::row(&["t"]),
    )];
    let keep = format!(
        "DROP TABLE discards every row. To keep them, take a copy before this phase, e.g. pg_dump --table={} <connection options> > backup.sql (a consistent snapshot that locks nothing but concurrent DDL).",
        crate::quote::shell(&aside)
    );

    Phase {
        name: "drop".to_string(),
        purpose: "After a waiting period in which nothing failed for want of the table (a full business cycle: month-end jobs, reports), drop it.".to_string(),
        app_change: Some("Nothing reported an error about the missing table during the waiting period (application logs, failed jobs, the server log).".to_string()),
        steps: vec![drop],
        rollback: Vec::new(),
        irreversible: Some(keep),
        checks: gone,
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "drop-table")
            .with("table", "orders")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn renames_aside_behind_a_gate_then_drops() {
        let plan = crate::plan(&params("postgresql@16.4")).unwrap();
        let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["preflight", "rename aside", "drop"]);
        let rename = &plan.phases[1].steps[0];
        assert_eq!(
            rename.sql,
            ["ALTER TABLE IF EXISTS orders RENAME TO lockstep_dropped_orders;"]
        );
        assert!(plan.phases[1].app_change.is_some());
        assert!(plan.phases[1].rollback[0]
            .sql
            .contains("ALTER TABLE IF EXISTS lockstep_dropped_orders RENAME TO orders;"));
        let drop = &plan.phases[2].steps[0];
        assert_eq!(drop.sql, ["DROP TABLE IF EXISTS lockstep_dropped_orders;"]);
        assert_eq!(drop.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert_eq!(drop.blocks, Blocks::ReadsAndWrites);
        assert_eq!(drop.lock_timeout_ms, Some(100));
        assert!(plan.phases[2].irreversible.is_some());
        let fk = plan.phases[0]
            .checks
            .iter()
            .find(|c| c.description.starts_with("No foreign key"))
            .unwrap();
        assert!(fk.sql.contains("confrelid"));
        assert!(fk.stops());
        // Every preflight check finds the table under either name: none errors once it is aside.
        assert!(plan.phases[0]
            .checks
            .iter()
            .all(|c| !c.sql.contains("'orders'::regclass")));
        assert!(plan.resumes);
    }

    #[test]
    fn hostile_names_are_quoted() {
        let p = params("postgresql@12").with("table", "ord\"ers; drop table x; --");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(
            plan.phases[1].steps[0].sql[0],
            "ALTER TABLE IF EXISTS \"ord\"\"ers; drop table x; --\" RENAME TO \"lockstep_dropped_ord\"\"ers; drop table x; --\";"
        );
    }

    #[test]
    fn runbook() {
        let p = params("postgresql@16.4");
        let plan = crate::plan(&p).unwrap();
        insta::assert_snapshot!(
            "drop_table_zero_budget",
            crate::render::markdown::render(&plan, &p)
        );
    }
}
