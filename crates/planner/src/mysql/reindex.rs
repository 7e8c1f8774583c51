//! Rebuild an index (MySQL, MariaDB).
//!
//! InnoDB has no statement that rebuilds one secondary index: `OPTIMIZE TABLE` and
//! `ALTER TABLE t FORCE` rebuild the whole table, clustered index and every secondary index
//! (MySQL manual, "Online DDL Operations", table operations: "Rebuilding a table ... ALTER TABLE
//! tbl_name FORCE, ALGORITHM=INPLACE, LOCK=NONE": in place, rebuilds the table, concurrent DML
//! permitted; MariaDB KB "InnoDB Online DDL Operations with ALGORITHM=INPLACE", FORCE). The plan
//! says so and rebuilds the table with `FORCE, ALGORITHM=INPLACE, LOCK=NONE`, so the server
//! refuses rather than copying under a lock (a FULLTEXT index makes it refuse LOCK=NONE).
//! Dropping and re-adding the one index instead would leave queries without it meanwhile.

use super::{summary_paths, Ctx};
use crate::model::{Expected, MysqlLock, Phase};
use crate::quote::mysql::{ident, literal};
use crate::request::change::Reindex;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// Why a rebuild has no rollback statement.
const NOTHING_TO_UNDO: &str = "Nothing to roll back: a rebuild changes no definition, only the physical copy, and a failed one leaves the old copy as it was.";

pub fn paths(ctx: &Ctx, change: &Reindex) -> Result<Paths, FieldError> {
    let Reindex { index } = change;
    let where_index = format!(
        "{} AND index_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(index)
    );
    let exists = check(
        "The index exists on the table",
        format!("SELECT count(*) > 0 AS present FROM information_schema.statistics WHERE {where_index};"),
        "1",
        Expected::row(&["1"]),
    );
    let no_fulltext = check(
        "The table has no FULLTEXT index (with one, an in-place rebuild refuses LOCK=NONE)",
        format!(
            "SELECT DISTINCT index_name FROM information_schema.statistics WHERE {} AND index_type = 'FULLTEXT';",
            ctx.where_table(&ctx.req.table)
        ),
        "no rows (a row: the rebuild would block writes; use an online-schema-change tool instead)",
        Expected::NoRows,
    );
    let mut rebuild = ctx.alter(
        "Rebuild the table and all its indexes in place (reads and writes continue)",
        &["FORCE".to_string()],
        MysqlLock::INPLACE_NONE,
        ctx.model.rewrite(),
    );
    rebuild.rewrites_table = true;
    rebuild.scans_table = true;
    rebuild.notes.push(format!(
        "InnoDB cannot rebuild {} alone: FORCE rebuilds the clustered index and every secondary index (the same work as OPTIMIZE TABLE, which maps to this rebuild on InnoDB). It needs free disk for a full copy of the table.",
        ident(index)
    ));
    rebuild.notes.push("InnoDB logs concurrent writes while it rebuilds and applies them at the end, under the exclusive metadata lock: a heavy write rate lengthens that final moment (innodb_online_alter_log_max_size bounds the log; the ALTER fails if it fills).".to_string());
    rebuild.retry = "If it fails or times out, the table is unchanged: run it again.".to_string();
    let rebuild = ctx.documented(rebuild);

    let phases = vec![
        ctx.preflight(Some(ctx.req.bytes), vec![exists.clone(), no_fulltext]),
        Phase {
            name: "rebuild table".to_string(),
            purpose: "Rebuild the table, and with it the index, while reads and writes continue."
                .to_string(),
            app_change: None,
            steps: vec![rebuild],
            rollback: Vec::new(),
            irreversible: Some(NOTHING_TO_UNDO.to_string()),
            checks: vec![exists],
        },
    ];
    let mut out = summary_paths(format!(
        "Rebuild index {} on {} (InnoDB rebuilds the whole table)",
        ident(index),
        ctx.table()
    ));
    out.direct = Some(phases);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Lock, MysqlLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "reindex")
            .with("table", "orders")
            .with("index", "orders_status_idx")
            .with("rows", "50M")
            .with("size", "20GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn rebuilds_the_whole_table_in_place() {
        for db in ["mariadb@10.11.6", "mysql@8.0.35", "mysql@5.7"] {
            let plan = crate::plan(&params(db)).unwrap_or_else(|e| panic!("{db}: {e:?}"));
            let step = &plan.phases[1].steps[0];
            assert_eq!(
                step.sql,
                ["ALTER TABLE `orders` FORCE, ALGORITHM=INPLACE, LOCK=NONE;"]
            );
            assert_eq!(step.lock, Some(Lock::Mysql(MysqlLock::INPLACE_NONE)));
            assert_eq!(step.blocks, Blocks::ReadsAndWrites);
            assert!(step.rewrites_table);
            assert!(step.hold_seconds.high <= 0.05, "{db}");
            assert!(plan.summary.contains("whole table"));
        }
    }
}
