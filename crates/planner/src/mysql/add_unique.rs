//! Add a UNIQUE constraint (MySQL, MariaDB).
//!
//! In InnoDB a UNIQUE constraint is a unique index and nothing more: there is no separate
//! constraint object to attach afterwards, as PostgreSQL's `ADD CONSTRAINT ... USING INDEX`.
//! `ADD UNIQUE INDEX name (cols), ALGORITHM=INPLACE, LOCK=NONE` (MariaDB: `ALGORITHM=NOCOPY`)
//! builds it without rebuilding the table while reads and writes continue (MySQL manual,
//! "Online DDL Operations", secondary indexes; accepted on MariaDB 10.11), and `information_schema.table_constraints` then lists it as a UNIQUE
//! constraint of that name. The build, its checks and its rollback are add-index's
//! ([`crate::mysql::shared::index::IndexSpec`]); this file adds the constraint view of it.
//!
//! Existing duplicates make the build fail with "Duplicate entry" (seen on MariaDB 10.11),
//! and so does a duplicate written while it runs: the preflight lists duplicates, and the
//! application must stop writing them before the build. NULLs never conflict.
//! The default name follows PostgreSQL's, `<table>_<col>[_<col>...]_key`, cut to 64 characters.

use super::{summary_paths, Ctx};
use crate::model::Expected;
use crate::mysql::shared::index::{build_purpose, build_warnings, IndexSpec};
use crate::quote::mysql::{derived_name, ident, ident_list, literal};
use crate::request::change::AddUnique;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

pub fn paths(ctx: &Ctx, change: &AddUnique) -> Result<Paths, FieldError> {
    let AddUnique { columns, name } = change;
    let mut parts: Vec<&str> = vec![&ctx.req.table];
    parts.extend(columns.iter().map(String::as_str));
    parts.push("key");
    let spec = IndexSpec {
        columns,
        parts: None,
        unique: true,
        name: name.clone().unwrap_or_else(|| derived_name(&parts)),
    };
    let cols = ident_list(columns);
    let mut phases = spec.phases(
        ctx,
        Some(format!(
            "The application no longer writes duplicate ({cols}) values: from this phase on, a duplicate write fails, or makes the build fail."
        )),
    );
    let build = phases
        .last_mut()
        .expect("add-index phases end with the build");
    build.name = "add unique constraint".to_string();
    build.purpose = build_purpose(
        "Build the unique index that is the constraint,",
        ctx.server.add_index_lock(),
    );
    build.checks.push(check(
        "The server lists it as a UNIQUE constraint",
        format!(
            "SELECT constraint_type FROM information_schema.table_constraints WHERE {} AND constraint_name = {};",
            ctx.where_table(&ctx.req.table),
            literal(&spec.name)
        ),
        "UNIQUE",
        Expected::row(&["UNIQUE"]),
    ));
    let mut out = summary_paths(format!(
        "Add UNIQUE constraint {} on {} ({cols})",
        ident(&spec.name),
        ctx.table()
    ));
    out.direct = Some(phases);
    out.warnings = build_warnings(ctx);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::model::{Expected, Lock, MysqlLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "add-unique")
            .with("table", "orders`; drop table x; --")
            .with("columns", "customer_id,code")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn unique_index_in_place_with_duplicate_preflight() {
        for db in ["mariadb@10.11.6", "mysql@8.0.35", "mysql@5.7"] {
            let plan = crate::plan(&params(db)).unwrap_or_else(|e| panic!("{db}: {e:?}"));
            let build = &plan.phases[1];
            // MariaDB: NOCOPY refuses a rebuild (MySQL has no NOCOPY).
            let (guard, algorithm, lock) = if db.starts_with("mariadb") {
                ("IF NOT EXISTS ", "NOCOPY", MysqlLock::NOCOPY_NONE)
            } else {
                ("", "INPLACE", MysqlLock::INPLACE_NONE)
            };
            assert_eq!(
                build.steps[0].sql,
                [format!("ALTER TABLE `orders``; drop table x; --` ADD UNIQUE INDEX {guard}`orders``; drop table x; --_customer_id_code_key` (`customer_id`, `code`), ALGORITHM={algorithm}, LOCK=NONE;")]
            );
            assert_eq!(build.steps[0].lock, Some(Lock::Mysql(lock)));
            assert!(build
                .purpose
                .contains(&format!("ALGORITHM={algorithm}, LOCK=NONE")));
            assert!(build.steps[0].hold_seconds.high <= 0.05);
            assert!(build.app_change.is_some());
            assert!(plan.phases[0]
                .checks
                .iter()
                .any(|c| c.description.starts_with("No duplicates")
                    && c.expected == Expected::NoRows));
            assert!(build
                .checks
                .iter()
                .any(|c| c.sql.contains("information_schema.table_constraints")
                    && c.expected == Expected::row(&["UNIQUE"])));
            assert!(build.rollback[0].sql.contains(&format!("DROP INDEX `orders``; drop table x; --_customer_id_code_key`, ALGORITHM={algorithm}, LOCK=NONE;")));
        }
    }

    #[test]
    fn named_constraint() {
        let plan = crate::plan(&params("mariadb@10.11").with("name", "orders_code_uniq")).unwrap();
        assert!(plan.phases[1].steps[0].sql[0]
            .contains("ADD UNIQUE INDEX IF NOT EXISTS `orders_code_uniq` ("));
        assert!(plan
            .summary
            .starts_with("Add UNIQUE constraint `orders_code_uniq`"));
    }
}
