//! Rebuild an index under its own name (bloat, a corrupt index).
//!
//! 12+ online: `REINDEX INDEX CONCURRENTLY` takes SHARE UPDATE EXCLUSIVE on the table (reads
//! and writes continue), builds `<index>_ccnew` like CREATE INDEX CONCURRENTLY, swaps it in and
//! drops the old one; not inside a transaction block. A failed or cancelled run leaves an
//! INVALID `<index>_ccnew` (or `_ccold`) behind: the plan drops such leftovers first, so it can
//! be re-run. It refuses an index of an exclusion constraint (docs, "REINDEX").
//! 10-11 online: no CONCURRENTLY; a copy is built with CREATE INDEX CONCURRENTLY from
//! `pg_get_indexdef`, then one short transaction drops the original and renames the copy
//! (ACCESS EXCLUSIVE on the table, a moment). An index that backs a constraint (PRIMARY KEY,
//! UNIQUE, EXCLUDE, or one a foreign key relies on) cannot be dropped that way, and a replica
//! identity index would lose its mark: the preflight stops on both.
//! Direct: plain `REINDEX INDEX` holds SHARE on the table and ACCESS EXCLUSIVE on the index
//! for the whole build; the planner opens every index of the table, so reads wait too.

use super::{check, Ctx, Paths};
use crate::model::{Blocks, Check, Expected, Phase, Step};
use crate::postgres::facts::{self, Statement};
use crate::quote::{derived_name, ident, literal};
use crate::request::change::Reindex;
use crate::request::FieldError;

/// Rough on-disk size of one btree entry: the rebuild writes a second copy before dropping one.
const INDEX_BYTES_PER_ROW: u64 = 40;

/// Why a rebuild has no rollback statement.
const NOTHING_TO_UNDO: &str = "Nothing to roll back: a rebuild changes no definition, only the physical copy, and a failed one leaves the old copy as it was.";

pub fn paths(ctx: &Ctx, change: &Reindex) -> Result<Paths, FieldError> {
    let index = &change.index;
    let name = ctx.sibling(index);
    let oid = format!("to_regclass({})", literal(&name));
    let concurrent = facts::REINDEX_CONCURRENTLY.holds(ctx.version());
    let checks = preflight_checks(ctx, &oid, concurrent);
    let bytes = ctx.req.rows.saturating_mul(INDEX_BYTES_PER_ROW);
    let online_steps = if concurrent {
        concurrent_steps(ctx, index, &oid)
    } else {
        swap_steps(ctx, index, &oid)
    };
    let online = vec![
        ctx.preflight(Some(bytes), checks.clone()),
        Phase {
            name: "rebuild index".to_string(),
            purpose: "Rebuild the index while reads and writes continue.".to_string(),
            app_change: None,
            steps: online_steps,
            rollback: vec![ctx.rollback_ddl(
                leftover_rollback(ctx, index, concurrent),
                Some("Nothing to undo once it has finished: the rebuilt index is the same index. If it stopped halfway, this drops the INVALID copy it left (outside a transaction; SHARE UPDATE EXCLUSIVE, traffic continues); the original index is untouched and still used."),
            )],
            irreversible: None,
            checks: vec![
                valid_check(&oid),
                no_leftover_check(ctx, index, concurrent).informs(),
            ],
        },
    ];
    let direct = vec![
        ctx.preflight(Some(bytes), checks),
        Phase {
            name: "rebuild index".to_string(),
            purpose: "Rebuild the index in one statement; reads and writes wait until it finishes."
                .to_string(),
            app_change: None,
            steps: vec![plain_step(ctx, &name)],
            rollback: Vec::new(),
            irreversible: Some(NOTHING_TO_UNDO.to_string()),
            checks: vec![valid_check(&oid)],
        },
    ];
    Ok(Paths {
        summary: format!("Rebuild index {} on {}", ident(index), ctx.table()),
        direct: Some(direct),
        online: Some(online),
        online_required: None,
        warnings: ctx.version_warnings(concurrent),
    })
}

/// The index exists on this table, is no partitioned parent, and can be rebuilt the way this
/// version does it.
fn preflight_checks(ctx: &Ctx, oid: &str, concurrent: bool) -> Vec<Check> {
    let mut checks = vec![
        check(
            "The index exists and belongs to the table",
            format!(
                "SELECT indrelid = {} AS on_this_table FROM pg_index WHERE indexrelid = {oid};",
                ctx.regclass()
            ),
            "t",
            Expected::row(&["t"]),
        ),
        check(
            "The index is a plain index, not the parent index of a partitioned table",
            format!("SELECT relkind FROM pg_class WHERE oid = {oid};"),
            "i (I is a partitioned index: reindex each partition's index instead)",
            Expected::row(&["i"]),
        ),
    ];
    if concurrent {
        checks.push(check(
            "The index does not back an exclusion constraint (REINDEX CONCURRENTLY refuses those)",
            format!("SELECT indisexclusion FROM pg_index WHERE indexrelid = {oid};"),
            "f (t: only the plain REINDEX INDEX can rebuild it, blocking reads and writes for the whole build)",
            Expected::row(&["f"]),
        ));
    } else {
        checks.extend(swap_checks(oid));
    }
    checks
}

/// The rebuilt index is valid and ready. A rebuild leaves nothing that tells a finished run
/// from one not yet started, so this only informs: the script has no already-applied test,
/// and a re-run rebuilds again (harmless, and as long).
fn valid_check(oid: &str) -> Check {
    check(
        "The index is valid and ready",
        format!("SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = {oid};"),
        "one row: indisvalid = t, indisready = t",
        Expected::row(&["t", "t"]),
    )
    .informs()
}

/// What a stopped online rebuild leaves, dropped by the names PostgreSQL gives it (a rollback
/// is run as written, no \gexec).
fn leftover_rollback(ctx: &Ctx, index: &str, concurrent: bool) -> String {
    if concurrent {
        ["ccnew", "ccold"]
            .map(|suffix| {
                format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {};",
                    ctx.sibling(&derived_name(&[index, suffix]))
                )
            })
            .join("\n")
    } else {
        format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {};",
            ctx.sibling(&copy_name(index))
        )
    }
}

/// The plain REINDEX INDEX: reads and writes wait until it finishes.
fn plain_step(ctx: &Ctx, name: &str) -> Step {
    let mut plain = ctx.ddl(
        "Rebuild the index (blocks reads and writes until it finishes)",
        vec![format!("REINDEX INDEX {name};")],
        Statement::Reindex,
        ctx.model.index_build(),
    );
    plain.blocks = Blocks::ReadsAndWrites;
    plain.scans_table = true;
    plain.notes.push("SHARE on the table stops writes; ACCESS EXCLUSIVE on the index stops every query that plans against the table, because the planner opens all of its indexes: reads wait too (prepared statements with a cached plan that does not use the index excepted).".to_string());
    plain.retry =
        "If it fails, the transaction rolls back and the old index stays as it was: run it again."
            .to_string();
    plain
}

/// 10-11: what the drop-and-rename swap cannot carry over.
fn swap_checks(oid: &str) -> Vec<Check> {
    vec![
        check(
            "The index backs no constraint (primary key, unique, exclusion, or a foreign key of another table that relies on it)",
            format!("SELECT conname, contype, conrelid::regclass AS on_table FROM pg_constraint WHERE conindid = {oid};"),
            "no rows. A row means this version cannot swap a rebuilt copy in (the constraint owns the index, and a foreign key depends on it): upgrade to 12 for REINDEX INDEX CONCURRENTLY, or use the plain REINDEX INDEX, which blocks reads and writes for the whole build",
            Expected::NoRows,
        )
        .proving(crate::model::Precondition::IndexBacksNoConstraint),
        check(
            "The index is not the table's replica identity (the swap would drop that mark)",
            format!("SELECT indisreplident FROM pg_index WHERE indexrelid = {oid};"),
            "f",
            Expected::row(&["f"]),
        ),
    ]
}

/// The name the 10-11 copy is built under, as REINDEX CONCURRENTLY names its own.
fn copy_name(index: &str) -> String {
    derived_name(&[index, "ccnew"])
}

/// Rows of `pg_index` (alias `i`, joined to `pg_class c`) of INVALID indexes a failed
/// `REINDEX CONCURRENTLY` of `index` left: `<index>_ccnew`, `_ccold`, with an optional number.
fn leftovers_filter(ctx: &Ctx, index: &str) -> String {
    let name = literal(index);
    format!(
        "i.indrelid = {} AND NOT i.indisvalid AND left(c.relname, length({name})) = {name} AND substr(c.relname, length({name}) + 1) ~ '^_cc(new|old)[0-9]*$'",
        ctx.regclass()
    )
}

/// The generator of `DROP INDEX CONCURRENTLY` statements for those leftovers.
fn leftovers_query(ctx: &Ctx, index: &str) -> String {
    format!(
        "SELECT format('DROP INDEX CONCURRENTLY IF EXISTS %s;', i.indexrelid::regclass) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE {};",
        leftovers_filter(ctx, index)
    )
}

fn no_leftover_check(ctx: &Ctx, index: &str, concurrent: bool) -> Check {
    if concurrent {
        check(
            "No INVALID _ccnew/_ccold index is left behind",
            format!(
                "SELECT i.indexrelid::regclass FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE {};",
                leftovers_filter(ctx, index)
            ),
            "no rows",
            Expected::NoRows,
        )
    } else {
        check(
            "The copy is gone (renamed to the original's name)",
            format!(
                "SELECT to_regclass({}) IS NULL AS swapped;",
                literal(&ctx.sibling(&copy_name(index)))
            ),
            "t",
            Expected::row(&["t"]),
        )
    }
}

/// 12+: drop what an earlier failed run left, then REINDEX CONCURRENTLY.
fn concurrent_steps(ctx: &Ctx, index: &str, _oid: &str) -> Vec<Step> {
    let mut cleanup = ctx.query(
        "Drop the INVALID _ccnew/_ccold index an earlier failed run left (only if there is one)",
        vec![leftovers_query(ctx, index)],
    );
    cleanup.in_transaction = false;
    cleanup.run = crate::model::Run::EachRow;
    cleanup.lock = Statement::DropIndexConcurrently.lock();
    cleanup.lock_timeout_ms = Some(super::NON_BLOCKING_LOCK_TIMEOUT_MS);
    cleanup.notes.push("The query writes one DROP INDEX CONCURRENTLY per leftover (the psql script runs them with \\gexec); it returns nothing on a first run. A leftover counts against disk and slows every write until dropped.".to_string());
    cleanup.retry =
        "Read-only: run it again at any time; it only returns what is still left.".to_string();

    let mut rebuild = ctx.ddl(
        "Rebuild the index without blocking reads or writes",
        vec![format!(
            "REINDEX INDEX CONCURRENTLY {};",
            ctx.sibling(index)
        )],
        Statement::ReindexConcurrently,
        ctx.model.concurrent_index_build(),
    );
    rebuild.in_transaction = false;
    rebuild.scans_table = true;
    rebuild.notes.push("Builds a new index beside the old one (disk for a second copy), waits for older transactions like CREATE INDEX CONCURRENTLY, then swaps the two and drops the old one; reads and writes continue throughout.".to_string());
    rebuild.retry = "If it fails or is cancelled, the old index is still in place and used, and an INVALID <index>_ccnew (or _ccold) is left: run the previous step again (it drops those), then this one.".to_string();
    vec![cleanup, rebuild]
}

/// 10-11: build a copy concurrently from the original's definition, then swap it in.
fn swap_steps(ctx: &Ctx, index: &str, oid: &str) -> Vec<Step> {
    let copy = ctx.sibling(&copy_name(index));
    let copy_oid = format!("to_regclass({})", literal(&copy));
    let mut drop_leftover = ctx.ddl(
        "Drop the INVALID copy an earlier failed build left (only if there is one)",
        vec![format!("DROP INDEX CONCURRENTLY IF EXISTS {copy};")],
        Statement::DropIndexConcurrently,
        crate::estimate::CATALOG_ONLY,
    );
    drop_leftover.in_transaction = false;
    drop_leftover.run_only_if(
        "lockstep_invalid_leftover",
        &format!(
            "EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = {copy_oid} AND NOT indisvalid)"
        ),
    );
    drop_leftover.retry = "Safe to re-run: it only drops an index that is INVALID.".to_string();

    let prefix = "format('CREATE %sINDEX %I ON ', CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END, c.relname)";
    let mut build = ctx.query(
        "Generate the CREATE INDEX CONCURRENTLY statement of the copy, then run it",
        vec![format!(
            "SELECT format('CREATE %sINDEX CONCURRENTLY IF NOT EXISTS %I ON %s;', CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END, {copy_name}, substr(pg_get_indexdef(i.indexrelid), length({prefix}) + 1)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indexrelid = {oid} AND {copy_oid} IS NULL;",
            copy_name = literal(&copy_name(index)),
        )],
    );
    build.in_transaction = false;
    build.run = crate::model::Run::EachRow;
    build.lock = Statement::CreateIndexConcurrently.lock();
    build.lock_timeout_ms = Some(super::NON_BLOCKING_LOCK_TIMEOUT_MS);
    build.scans_table = true;
    build.estimate = ctx.model.concurrent_index_build();
    build.notes.push("CREATE INDEX CONCURRENTLY cannot run in a function or DO block, and the definition is only in the catalog, so this query writes the statement from pg_get_indexdef (same method, keys, operator classes, predicate): the psql script runs it with \\gexec. It returns nothing once the copy exists.".to_string());
    build.notes.push("SHARE UPDATE EXCLUSIVE: reads and writes continue; it waits for older transactions, twice. A unique copy fails on a duplicate written meanwhile, leaving an INVALID copy: run the previous step, then this one.".to_string());
    build.retry = "Read-only: run it again at any time; it returns the statement only while the copy is missing.".to_string();

    let mut swap = ctx.brief(
        "Swap the copy in: drop the original and give the copy its name, in one transaction",
        vec![
            format!("DROP INDEX IF EXISTS {};", ctx.sibling(index)),
            format!("ALTER INDEX {copy} RENAME TO {};", ident(index)),
        ],
        Statement::DropIndex,
    );
    swap.run_only_if(
        "lockstep_copy_ready",
        &format!("EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = {copy_oid} AND indisvalid)"),
    );
    swap.notes.push("ACCESS EXCLUSIVE on the table for a moment: it waits for running queries on the table, and queries arriving meanwhile queue behind it (bounded by lock_timeout). In one transaction, so no query ever finds the index missing.".to_string());
    vec![drop_leftover, build, swap]
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Lock, PgLock, Run};
    use crate::request::params::Params;

    fn params(db: &str, budget: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "reindex")
            .with("table", "orders")
            .with("index", "orders_status_idx")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", budget)
    }

    #[test]
    fn from_12_rebuilds_concurrently_after_dropping_leftovers() {
        let plan = crate::plan(&params("postgresql@12.22", "0")).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let phase = &plan.phases[1];
        assert_eq!(phase.steps[0].run, Run::EachRow);
        assert!(phase.steps[0].sql[0].contains("_cc(new|old)[0-9]*$"));
        let rebuild = &phase.steps[1];
        assert_eq!(
            rebuild.sql,
            ["REINDEX INDEX CONCURRENTLY orders_status_idx;"]
        );
        assert_eq!(rebuild.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert_eq!(rebuild.blocks, Blocks::Nothing);
        assert!(!rebuild.in_transaction);
        assert!(plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("indisexclusion")));
        let alt = plan.alternative.unwrap();
        let plain = &alt.phases[1].steps[0];
        assert_eq!(plain.sql, ["REINDEX INDEX orders_status_idx;"]);
        assert_eq!(plain.lock, Some(Lock::Pg(PgLock::Share)));
        assert_eq!(plain.blocks, Blocks::ReadsAndWrites);
        // The rollback runs as written: statements, not a query that would only print them.
        let rollback = &plan.phases[1].rollback[0].sql;
        assert!(rollback.ends_with("DROP INDEX CONCURRENTLY IF EXISTS orders_status_idx_ccnew;\nDROP INDEX CONCURRENTLY IF EXISTS orders_status_idx_ccold;"), "{rollback}");
    }

    #[test]
    fn before_12_builds_a_copy_and_swaps_it_and_refuses_constraint_indexes() {
        let plan = crate::plan(&params("postgresql@11.22", "0")).unwrap();
        let steps = &plan.phases[1].steps;
        assert!(steps.iter().all(|s| !s.sql[0].contains("REINDEX")));
        assert!(steps[1].sql[0].contains("pg_get_indexdef"));
        assert_eq!(steps[1].run, Run::EachRow);
        assert_eq!(
            steps[2].sql,
            [
                "DROP INDEX IF EXISTS orders_status_idx;",
                "ALTER INDEX orders_status_idx_ccnew RENAME TO orders_status_idx;"
            ]
        );
        assert_eq!(steps[2].lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert!(steps[2].in_transaction);
        let constraint = plan.phases[0]
            .checks
            .iter()
            .find(|c| c.sql.contains("conindid"))
            .unwrap();
        assert!(constraint.expect.contains("upgrade to 12"));
    }

    #[test]
    fn hostile_index_names_are_quoted_everywhere() {
        let p = params("postgresql@11.22", "0").with("index", "ix\"; drop table x; --");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(
            plan.phases[1].steps[2].sql[0],
            "DROP INDEX IF EXISTS \"ix\"\"; drop table x; --\";"
        );
        assert!(plan.phases[1].steps[2].sql[1].ends_with("RENAME TO \"ix\"\"; drop table x; --\";"));
    }

    /// Nothing after a rebuild differs from before it: the script must not claim a finished
    /// run (the live verifier caught the validity check passing before the plan ran).
    #[test]
    fn a_rebuild_never_claims_to_be_already_applied() {
        for db in ["postgresql@11.22", "postgresql@16.4"] {
            let plan = crate::plan(&params(db, "0")).unwrap();
            assert!(crate::model::completion_checks(&plan.phases).is_empty());
            assert!(!plan.rerun_safe);
        }
    }

    #[test]
    fn pg14_before_14_4_warns() {
        let plan = crate::plan(&params("postgresql@14.3", "0")).unwrap();
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "pg14-cic-corruption"));
    }

    #[test]
    fn snapshots() {
        for (name, p) in [
            ("reindex_pg12_zero_budget", params("postgresql@12.22", "0")),
            ("reindex_pg11_zero_budget", params("postgresql@11.22", "0")),
            (
                "reindex_small_table_direct",
                params("postgresql@16.4", "30s")
                    .with("rows", "10k")
                    .with("size", "2MB"),
            ),
        ] {
            let plan = crate::plan(&p).unwrap();
            insta::assert_snapshot!(name, crate::render::markdown::render(&plan, &p));
        }
    }
}
