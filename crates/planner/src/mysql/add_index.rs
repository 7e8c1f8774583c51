//! Add an index (MySQL, MariaDB).
//!
//! InnoDB builds a secondary index in place, without rebuilding the table, while reads and
//! writes continue: `ALTER TABLE t ADD INDEX name (cols), ALGORITHM=INPLACE, LOCK=NONE` on
//! MySQL (manual, "Online DDL Operations", secondary indexes), `ALGORITHM=NOCOPY, LOCK=NONE` on
//! MariaDB, which then refuses rather than rebuild (`Server::add_index_lock`; KB, "InnoDB
//! Online DDL Operations with the NOCOPY Alter Algorithm"; seen on 10.11, for UNIQUE too,
//! TABLE_ID unchanged). Writes that arrive
//! during the build go to an online log, replayed at the end. The exclusive metadata lock is
//! taken for a moment at the start and at the end: that moment, and any wait for it behind an
//! open transaction, stops reads and writes, so every statement runs under a short
//! `lock_wait_timeout`. There is no blocking "plain" variant worth offering: without
//! `LOCK=NONE` the server would pick the same algorithm, and with it the server refuses
//! rather than silently copying the table.
//!
//! What MySQL and MariaDB do not have is refused, naming the field: partial indexes (`where`)
//! and index methods other than btree (`method`; InnoDB accepts `USING HASH` and silently builds
//! a btree, seen on MariaDB 10.11). FULLTEXT and SPATIAL indexes are not methods here (they
//! cannot be built with `LOCK=NONE`: "Fulltext index creation requires a lock").
//!
//! Keys: columns with ASC or DESC (a descending index from MySQL 8.0 and MariaDB 10.8; older
//! servers parse DESC and build ascending, which the plan warns about), and on MySQL 8.0.13+
//! functional key parts, `ADD INDEX i ((lower(email)))` (manual, "CREATE INDEX", "Functional
//! Key Parts"; built INPLACE as an index on a hidden virtual generated column). MariaDB has no
//! functional key parts; prefix lengths and PostgreSQL's NULLS/COLLATE/operator classes are
//! refused, naming the field.
//!
//! A UNIQUE index fails with "Duplicate entry" when duplicates exist, or when a duplicate is
//! written during the build (the online log is checked at the end), and leaves nothing behind:
//! the preflight lists duplicates first. Rows with a NULL in an indexed column never conflict.
//! Rollback: `DROP INDEX name` with the same clause (metadata only).
//!
//! On replicas the ALTER is replayed only once it has finished on the source, and holds up
//! the replica's applier for as long as the build took: the plan warns when replicas follow.

use super::{summary_paths, Ctx};
use crate::model::Warning;
use crate::mysql::facts;
use crate::mysql::shared::index::{build_warnings, IndexSpec, KeyPart};
use crate::quote::mysql::{derived_name, ident};
use crate::request::change::AddIndex;
use crate::request::{shown, FieldError, IndexKey, IndexMethod, KeyTarget};
use crate::strategy::Paths;

/// The key parts, when every key is a column or (MySQL 8.0.13+) an expression, with at most
/// ASC or DESC; otherwise the reason this plan cannot build it, naming the `columns` field.
fn key_parts(ctx: &Ctx, keys: &[IndexKey]) -> Result<Vec<KeyPart>, FieldError> {
    let engine = ctx.req.db.engine.label();
    let refuse = |message: String| FieldError::new("columns", message);
    keys.iter()
        .map(|key| {
            if key.collate.is_some() || key.opclass.is_some() || key.nulls_first.is_some() {
                return Err(refuse(format!(
                    "{engine} index keys take only ASC or DESC; NULLS FIRST/LAST, COLLATE and operator classes are PostgreSQL's"
                )));
            }
            let (value, is_column) = match &key.target {
                KeyTarget::Expression(e) if is_prefix_length(e) => return Err(refuse(format!(
                    "{}: a prefix length is not planned by Lockstep (its checks compare whole columns); index the whole column, or build this index by hand",
                    shown(e)
                ))),
                KeyTarget::Expression(e) if ctx.server.is_mariadb() => return Err(refuse(format!(
                    "{}: MariaDB has no expression (functional) index keys. Add a PERSISTENT generated column holding the expression (add-column with generated), then index that column",
                    shown(e)
                ))),
                KeyTarget::Expression(e) if !facts::FUNCTIONAL_KEY_PARTS.holds(ctx.server) => return Err(refuse(format!(
                    "{}: MySQL {} has no functional key parts (they arrived in 8.0.13). Add a generated column holding the expression (add-column with generated), then index that column",
                    shown(e),
                    ctx.req.db.version
                ))),
                KeyTarget::Expression(e) => (format!("({e})"), false),
                KeyTarget::Column(c) => (ident(c), true),
            };
            Ok(KeyPart {
                value,
                descending: key.descending,
                is_column,
            })
        })
        .collect()
}

/// `email(20)`: MySQL's prefix length, which reads like a function call.
fn is_prefix_length(expression: &str) -> bool {
    expression
        .strip_suffix(')')
        .and_then(|e| e.split_once('('))
        .is_some_and(|(name, n)| {
            !name.is_empty() && !n.is_empty() && n.trim().chars().all(|c| c.is_ascii_digit())
        })
}

pub fn paths(ctx: &Ctx, change: &AddIndex) -> Result<Paths, FieldError> {
    let AddIndex {
        keys,
        unique,
        predicate,
        method,
        name,
    } = change;
    let engine = ctx.req.db.engine.label();
    if predicate.is_some() {
        return Err(FieldError::new(
            "where",
            format!("{engine} has no partial indexes: an index covers every row. Leave it out (index all rows), or index a generated column that is NULL for the rows you want left out"),
        ));
    }
    if *method != IndexMethod::Btree {
        return Err(FieldError::new(
            "method",
            format!(
                "{} is not an InnoDB index method: InnoDB builds btree indexes only (it accepts USING HASH and silently builds a btree); accepts btree",
                method.name()
            ),
        ));
    }
    let key_parts = key_parts(ctx, keys)?;
    let columns: &Vec<String> = &keys
        .iter()
        .filter_map(IndexKey::column_name)
        .map(str::to_string)
        .collect();
    let key_names: Vec<String> = keys.iter().map(IndexKey::name_part).collect();
    let mut parts: Vec<&str> = vec![&ctx.req.table];
    parts.extend(key_names.iter().map(String::as_str));
    parts.push(if *unique { "key" } else { "idx" });
    let spec = IndexSpec {
        columns,
        parts: Some(key_parts),
        unique: *unique,
        name: name.clone().unwrap_or_else(|| derived_name(&parts)),
    };
    let app_change = unique.then(|| {
        format!(
            "The application no longer writes duplicate ({}) values: from this phase on, a duplicate write fails, or makes the build fail.",
            spec.values().join(", ")
        )
    });
    let mut out = summary_paths(format!(
        "Add {}index {} on {} ({})",
        if *unique { "unique " } else { "" },
        ident(&spec.name),
        ctx.table(),
        spec.key_list()
    ));
    out.direct = Some(spec.phases(ctx, app_change));
    out.warnings = build_warnings(ctx);
    if keys.iter().any(|k| k.descending) && !facts::DESCENDING_INDEXES.holds(ctx.server) {
        out.warnings.push(Warning {
            code: "desc-ignored".to_string(),
            message: format!(
                "{} {} accepts DESC in an index key but builds an ascending index (descending indexes arrived in MySQL 8.0 and MariaDB 10.8); it still serves ORDER BY ... DESC by reading backwards.",
                ctx.req.db.engine.label(),
                ctx.req.db.version
            ),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected, Lock, MysqlLock};
    use crate::request::params::Params;

    pub(crate) fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "add-index")
            .with("table", "orders`; drop table x; --")
            .with("columns", "customer_id,created_at")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    fn with_keys(db: &str, keys: &str) -> Result<crate::model::Plan, Vec<crate::FieldError>> {
        crate::plan(&params(db).with("table", "orders").with("columns", keys))
    }

    #[test]
    fn descending_keys_are_written_and_expressions_refused_with_the_reason() {
        let plan = with_keys("mysql@8.0.35", "customer_id, created_at DESC").unwrap();
        assert!(plan.phases[1].steps[0].sql[0].contains(
            "ADD INDEX `orders_customer_id_created_at_idx` (`customer_id`, `created_at` DESC)"
        ));
        assert!(plan.warnings.iter().all(|w| w.code != "desc-ignored"));
        let old = with_keys("mysql@5.7", "created_at DESC").unwrap();
        assert!(old.warnings.iter().any(|w| w.code == "desc-ignored"));
        let maria = with_keys("mariadb@10.11", "lower(email)").unwrap_err();
        assert_eq!(maria[0].field, "columns");
        assert!(maria[0]
            .message
            .contains("MariaDB has no expression (functional) index keys"));
        let old = with_keys("mysql@8.0.12", "lower(email)").unwrap_err();
        assert!(
            old[0].message.contains("arrived in 8.0.13"),
            "{}",
            old[0].message
        );
        let prefix = with_keys("mysql@8.0.35", "email(20)").unwrap_err();
        assert!(prefix[0].message.contains("prefix length"));
        let nulls = with_keys("mariadb@10.11", "a NULLS LAST").unwrap_err();
        assert!(nulls[0].message.contains("take only ASC or DESC"));
    }

    #[test]
    fn functional_key_parts_on_mysql_8_0_13_and_later() {
        let p = params("mysql@8.0.35")
            .with("table", "orders")
            .with("columns", "lower(email), created_at DESC")
            .with("unique", "true");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(
            plan.phases[1].steps[0].sql,
            ["ALTER TABLE `orders` ADD UNIQUE INDEX `orders_lower_email_created_at_key` ((lower(email)), `created_at` DESC), ALGORITHM=INPLACE, LOCK=NONE;"]
        );
        let checks = &plan.phases[0].checks;
        let duplicates = checks.iter().find(|c| c.sql.contains("GROUP BY")).unwrap();
        assert!(duplicates.sql.contains("SELECT (lower(email)), `created_at`, COUNT(*) AS copies FROM `orders` WHERE (lower(email)) IS NOT NULL AND `created_at` IS NOT NULL GROUP BY (lower(email)), `created_at`"), "{}", duplicates.sql);
        let exists = checks
            .iter()
            .find(|c| c.description == "Every indexed column exists")
            .unwrap();
        assert!(exists.sql.contains("column_name IN ('created_at')"));
        let present = &plan.phases[1].checks[0];
        assert_eq!(present.expected, Expected::row(&["2", "0"]));
        let only_expression = params("mysql@8.0.35").with("columns", "lower(email)");
        let plan = crate::plan(&only_expression).unwrap();
        assert!(plan.phases[0]
            .checks
            .iter()
            .all(|c| !c.sql.contains("IN ()")));
        // mysql@8.0 is planned for 8.0.11, which has none: the refusal names 8.0.13.
        let series = crate::plan(&params("mysql@8.0").with("columns", "lower(email)")).unwrap_err();
        assert!(
            series[0]
                .message
                .contains("MySQL 8.0.13 and later can make this change"),
            "{}",
            series[0].message
        );
    }

    /// In place without a rebuild, DML continuing: MariaDB writes NOCOPY, so the server refuses
    /// rather than rebuild the table; MySQL has no NOCOPY and writes INPLACE.
    #[test]
    fn in_place_with_lock_none_on_every_version() {
        for db in [
            "mariadb@10.11.6",
            "mariadb@10.3",
            "mysql@8.0.35",
            "mysql@5.7",
        ] {
            let plan = crate::plan(&params(db)).unwrap_or_else(|e| panic!("{db}: {e:?}"));
            assert_eq!(plan.strategy.chosen, "direct", "{db}");
            let step = &plan.phases[1].steps[0];
            // MariaDB: IF NOT EXISTS makes a re-run of the completed step a no-op.
            let (guard, algorithm, lock) = if db.starts_with("mariadb") {
                ("IF NOT EXISTS ", "NOCOPY", MysqlLock::NOCOPY_NONE)
            } else {
                ("", "INPLACE", MysqlLock::INPLACE_NONE)
            };
            assert_eq!(
                step.sql,
                [format!("ALTER TABLE `orders``; drop table x; --` ADD INDEX {guard}`orders``; drop table x; --_customer_id_created_at_idx` (`customer_id`, `created_at`), ALGORITHM={algorithm}, LOCK=NONE;")],
                "{db}"
            );
            assert_eq!(step.lock, Some(Lock::Mysql(lock)));
            assert!(!step.rewrites_table);
            assert!(plan.phases[1]
                .purpose
                .contains(&format!("ALGORITHM={algorithm}, LOCK=NONE")));
            assert_eq!(step.blocks, Blocks::ReadsAndWrites);
            assert!(step.hold_seconds.high <= 0.05);
            assert!(step.estimate.high > 60.0);
            assert!(step.scans_table);
            assert_eq!(step.unverified.is_some(), db.starts_with("mysql"));
            assert!(plan.phases[1].rollback[0]
                .sql
                .ends_with(&format!("DROP INDEX `orders``; drop table x; --_customer_id_created_at_idx`, ALGORITHM={algorithm}, LOCK=NONE;")));
            assert_eq!(
                plan.phases[1].checks[0].expected,
                Expected::row(&["customer_id,created_at", "1"])
            );
            assert!(plan.phases[0]
                .checks
                .iter()
                .all(|c| !c.description.starts_with("No duplicates")));
        }
    }

    #[test]
    fn unique_checks_duplicates_and_gates_the_application() {
        let plan = crate::plan(
            &params("mariadb@10.11")
                .with("unique", "true")
                .with("name", "uq"),
        )
        .unwrap();
        let dup = plan.phases[0]
            .checks
            .iter()
            .find(|c| c.description.starts_with("No duplicates"))
            .unwrap();
        assert_eq!(
            dup.sql,
            "SELECT `customer_id`, `created_at`, COUNT(*) AS copies FROM `orders``; drop table x; --` WHERE `customer_id` IS NOT NULL AND `created_at` IS NOT NULL GROUP BY `customer_id`, `created_at` HAVING COUNT(*) > 1 LIMIT 10;"
        );
        assert_eq!(dup.expected, Expected::NoRows);
        let build = &plan.phases[1];
        assert!(build.app_change.is_some());
        assert!(build.steps[0].sql[0].contains(
            "ADD UNIQUE INDEX IF NOT EXISTS `uq` (`customer_id`, `created_at`), ALGORITHM=NOCOPY, LOCK=NONE;"
        ));
        assert_eq!(
            build.checks[0].expected,
            Expected::row(&["customer_id,created_at", "0"])
        );
    }

    #[test]
    fn partial_and_non_btree_are_refused() {
        let errors =
            crate::plan(&params("mysql@8.0.35").with("where", "deleted_at IS NULL")).unwrap_err();
        assert_eq!(errors[0].field, "where");
        for method in ["hash", "gin"] {
            let errors = crate::plan(&params("mariadb@10.11").with("method", method)).unwrap_err();
            assert_eq!(errors[0].field, "method", "{method}");
        }
    }

    #[test]
    fn replicas_warn_about_applier_lag() {
        let plan = crate::plan(&params("mysql@8.0.35").with("replicas", "true")).unwrap();
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "mysql-replica-ddl-lag"));
        let plan = crate::plan(&params("mysql@8.0.35")).unwrap();
        assert!(plan.warnings.is_empty());
    }
}
