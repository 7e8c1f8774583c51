//! Drop a column (MySQL, MariaDB).
//!
//! InnoDB drops a column without touching rows (ALGORITHM=INSTANT) from MySQL 8.0.29 and
//! MariaDB 10.4 (`engines::mysql`; accepted on MariaDB 10.11); MySQL counts each instant
//! ADD/DROP COLUMN as a row version, at most 64 before the table must be rebuilt. Before those
//! versions, and whenever the column belongs to an index (MariaDB 10.11 refuses INSTANT then:
//! "Reason: DROP INDEX. Try ALGORITHM=NOCOPY"), `ALGORITHM=INPLACE, LOCK=NONE` drops it while
//! reads and writes continue: a rebuild on MySQL (manual, "Online DDL Operations", column
//! operations) and on MariaDB before 10.4; on MariaDB 10.4+ only when the column is part of a
//! multi-column index (seen on 10.11: TABLE_ID unchanged for a column in a single-column index). The column is removed from every index it is part of; an index left with no
//! column is dropped.
//!
//! As on PostgreSQL, the danger is the clients, not the lock: any query naming the column, or
//! an ORM that lists every column it saw at startup, fails the moment it is gone. So the
//! online path is required whatever the budget: the application deploys a version that
//! neither reads nor writes the column (the preflight checks that inserts can leave it out),
//! then the column is dropped. The drop discards the data: it cannot be rolled back, only
//! redone from a copy taken beforehand (`mysqldump --single-transaction` reads without
//! locking; `CREATE TABLE ... AS SELECT` would lock the rows it reads under the default
//! isolation and binlog settings, so it is not suggested).

use super::{summary_paths, Ctx};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, MysqlLock, Phase, Step};
use crate::mysql::facts;
use crate::quote::mysql::{ident, literal};
use crate::quote::shell;
use crate::request::change::DropColumn;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

pub fn paths(ctx: &Ctx, change: &DropColumn) -> Result<Paths, FieldError> {
    let DropColumn { column } = change;
    let table = ctx.table();
    let col = ident(column);
    let instant = facts::INSTANT_ADD_DROP_ANYWHERE.holds(ctx.server);
    let checks = preflight_checks(ctx, column, instant);
    let drop = drop_step(ctx, column, instant);
    let irreversible = irreversible(ctx);
    let gone = vec![ctx.column_check("The column is gone", column, "0", Expected::row(&["0"]))];
    let preflight_bytes = (!instant).then_some(ctx.req.bytes);
    let phase = |app_change: String, purpose: String| Phase {
        name: "drop column".to_string(),
        purpose,
        app_change: Some(app_change),
        steps: vec![drop.clone()],
        rollback: Vec::new(),
        irreversible: Some(irreversible.clone()),
        checks: gone.clone(),
    };

    let mut out = summary_paths(format!("Drop column {col} from {table}"));
    out.online = Some(vec![
        ctx.preflight(preflight_bytes, checks.clone()),
        phase(
            format!("Deploy the application version that neither reads nor writes {col}: no query names it, no SELECT * result is mapped by position, and ORM models no longer list it (restart processes that cache the column list, e.g. Rails ignored_columns, Django/Hibernate models). Wait until every old process is gone."),
            format!("Drop {col} once no client uses it."),
        ),
    ]);
    out.direct = Some(vec![
        ctx.preflight(preflight_bytes, checks),
        phase(
            format!("Stop every client that reads or writes {col}."),
            format!("Drop {col} in one statement."),
        ),
    ]);
    out.online_required = Some(format!(
        "the application must stop reading and writing {col} before it is dropped, or its queries fail the moment the drop commits"
    ));
    if facts::INSTANT_COLUMN_DEFECT.holds(ctx.server) && instant {
        out.warnings.push(instant_defect_warning(ctx));
    }
    Ok(out)
}

/// Before the drop: the column, inserts without it, its indexes, foreign keys, views and
/// triggers, and where INSTANT applies what refuses it.
fn preflight_checks(ctx: &Ctx, column: &str, instant: bool) -> Vec<Check> {
    let table = ctx.table();
    let table_name = &ctx.req.table;
    let col = ident(column);
    let col_lit = literal(column);
    let where_column = format!(
        "{} AND column_name = {col_lit}",
        ctx.where_table(table_name)
    );

    let inplace_sql = format!(
        "ALTER TABLE {table} DROP COLUMN {col}{};",
        ctx.lock_clause(MysqlLock::INPLACE_NONE)
    );
    let mut checks: Vec<Check> = vec![
        // 0 is also what a re-run of the finished plan finds: the machine cannot tell a
        // dropped column from a wrong name, the operator can.
        ctx.column_check(
            "The column exists",
            column,
            "1 (0: a wrong name, or this plan has already dropped it and the script is being re-run)",
            Expected::Manual,
        ),
        check(
            "Inserts can leave the column out: it is nullable, has a default, or is generated or AUTO_INCREMENT (or it is gone)",
            format!("SELECT COALESCE((SELECT is_nullable = 'YES' OR column_default IS NOT NULL OR extra LIKE '%auto_increment%' OR extra LIKE '%GENERATED%' FROM information_schema.columns WHERE {where_column}), 1) AS optional;"),
            &format!("1. If 0, give it a default before the deploy gate, e.g. ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT <value>, ALGORITHM=INSTANT (metadata only); otherwise, in strict mode, the new version's inserts fail with \"Field ... doesn't have a default value\""),
            Expected::row(&["1"]),
        ),
        check(
            "Indexes that contain the column (DROP COLUMN removes it from each; an index left empty is dropped)",
            format!("SELECT DISTINCT index_name FROM information_schema.statistics WHERE {where_column};"),
            &format!("no rows{}. Any row: an index on the column alone disappears with it; a multi-column index shrinks to the other columns (a UNIQUE one then enforces uniqueness on fewer columns, and the ALTER fails if they hold duplicates). Drop or replace those indexes first if queries need them (the add-index and drop-index plans)", if instant {
                ", or the INSTANT drop is refused (\"ALGORITHM=INSTANT is not supported\"): then run the INPLACE statement in the step's notes instead"
            } else {
                ""
            }),
            Expected::NoRows,
        ).informs(),
        check(
            "No foreign key uses the column (DROP COLUMN fails on it)",
            format!(
                "SELECT constraint_name, table_name FROM information_schema.key_column_usage WHERE referenced_table_name IS NOT NULL AND (({where_column}) OR (referenced_table_schema = {s} AND referenced_table_name = {t} AND referenced_column_name = {col_lit}));",
                s = ctx.schema_value(),
                t = literal(table_name),
            ),
            "no rows (otherwise drop that foreign key first)",
            Expected::NoRows,
        ),
        check(
            "No view or trigger names the column (they are not checked by DROP COLUMN and fail when next used)",
            format!(
                "SELECT 'view' AS kind, table_name AS name FROM information_schema.views WHERE table_schema = {s} AND LOCATE({q}, view_definition) > 0 UNION ALL SELECT 'trigger', trigger_name FROM information_schema.triggers WHERE event_object_schema = {s} AND event_object_table = {t} AND LOCATE({c}, action_statement) > 0;",
                s = ctx.schema_value(),
                t = literal(table_name),
                q = literal(&col),
                c = col_lit,
            ),
            "no rows, or only objects that merely contain the name as text (otherwise change them before the drop)",
            Expected::NoRows,
        ),
    ];
    if instant {
        checks.extend(ctx.row_version_room(
            table_name,
            1,
            &format!("run the INPLACE statement in the step's notes, which rebuilds the table and resets the count: {inplace_sql}"),
        ));
        checks.extend(ctx.instant_column_limits(
            table_name,
            0,
            &format!("run instead the INPLACE statement in the step's notes (rebuilds the table; reads and writes continue): {inplace_sql}"),
        ));
    }
    checks
}

/// The drop: INSTANT where the server drops columns instantly, else an in-place rebuild.
fn drop_step(ctx: &Ctx, column: &str, instant: bool) -> Step {
    let server = ctx.server;
    let table = ctx.table();
    let col = ident(column);
    let inplace_sql = format!(
        "ALTER TABLE {table} DROP COLUMN {col}{};",
        ctx.lock_clause(MysqlLock::INPLACE_NONE)
    );
    let drop: Step = if instant {
        let mut step = ctx.alter(
            "Drop the column (INSTANT: only the data dictionary changes)",
            &[format!("DROP COLUMN {col}")],
            MysqlLock::INSTANT,
            CATALOG_ONLY,
        );
        if let Some(limit) = server.instant_row_version_limit() {
            step.notes.push(format!("Each INSTANT ADD/DROP COLUMN adds a row version; after {limit} the table must be rebuilt (OPTIMIZE TABLE or ALTER TABLE ... FORCE) before the next one. The preflight shows the count."));
        }
        step.notes.push(format!("The data stays in the rows until they are rewritten (updates, or a rebuild: OPTIMIZE TABLE). If the server refuses INSTANT (the column is in an index, or a FULLTEXT index on the table), nothing changed: run instead {inplace_sql} (reads and writes continue; it rebuilds the table on MySQL, and on MariaDB when the column is part of a multi-column index; with a FULLTEXT index on the table LOCK=NONE is refused too and only LOCK=SHARED, which blocks writes, remains)."));
        step
    } else {
        let mut step = ctx.alter(
            "Drop the column (rebuilds the table in place; reads and writes continue)",
            &[format!("DROP COLUMN {col}")],
            MysqlLock::INPLACE_NONE,
            ctx.model.rewrite(),
        );
        step.rewrites_table = true;
        step.notes.push("InnoDB logs concurrent writes while it rebuilds and applies them at the end, under the exclusive metadata lock: a heavy write rate lengthens that final moment (innodb_online_alter_log_max_size bounds the log; the ALTER fails if it fills).".to_string());
        step
    };
    ctx.documented(drop)
}

/// What the drop loses for good, and how to keep a copy first.
fn irreversible(ctx: &Ctx) -> String {
    let table_name = &ctx.req.table;
    let db = ctx
        .req
        .schema
        .clone()
        .unwrap_or_else(|| "<database>".to_string());
    format!(
        "DROP COLUMN discards the column's values; adding it back gives an empty column. If you may need them, keep a copy before this phase, e.g. mysqldump --single-transaction <connection options> {} {} > backup.sql (a consistent read that locks nothing on InnoDB), and restore the values from it after re-adding the column.",
        shell(&db),
        shell(table_name)
    )
}

/// The 8.0.29-8.0.31 instant-column defects.
fn instant_defect_warning(ctx: &Ctx) -> crate::model::Warning {
    crate::model::Warning {
        code: "mysql-8029-instant-defect".to_string(),
        message: format!(
            "MySQL {}: 8.0.29 to 8.0.31 had redo-log and corruption defects on tables with instantly added or dropped columns (8.0.29 was withdrawn). Upgrade to 8.0.32 or later first, or drop the column with ALGORITHM=INPLACE, LOCK=NONE (a rebuild).",
            ctx.req.db.version
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "drop-column")
            .with("table", "orders`; drop table x; --")
            .with("column", "legacy_flag")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    const TABLE: &str = "`orders``; drop table x; --`";

    #[test]
    fn instant_after_a_deploy_gate_on_modern_servers() {
        for (db, suffix) in [
            ("mariadb@10.11.6", "ALGORITHM=INSTANT, LOCK=NONE;"),
            ("mariadb@10.4", "ALGORITHM=INSTANT, LOCK=NONE;"),
            ("mysql@8.0.35", "ALGORITHM=INSTANT;"),
        ] {
            for budget in ["0", "10m"] {
                let plan = crate::plan(&params(db).with("max-downtime", budget)).unwrap();
                assert_eq!(plan.strategy.chosen, "online", "{db}");
                let drop = &plan.phases[1];
                assert!(drop
                    .app_change
                    .as_deref()
                    .unwrap()
                    .contains("neither reads nor writes"));
                let step = &drop.steps[0];
                assert_eq!(
                    step.sql,
                    [format!(
                        "ALTER TABLE {TABLE} DROP COLUMN {}`legacy_flag`, {suffix}",
                        if db.starts_with("mariadb") {
                            "IF EXISTS "
                        } else {
                            ""
                        }
                    )]
                );
                assert_eq!(step.blocks, Blocks::ReadsAndWrites);
                assert!(step.hold_seconds.high <= 0.05);
                assert!(!step.rewrites_table);
                assert!(step.notes.iter().any(
                    |n| n.contains("DROP COLUMN `legacy_flag`, ALGORITHM=INPLACE, LOCK=NONE;")
                ));
                assert!(drop.irreversible.as_deref().unwrap().contains(
                    "mysqldump --single-transaction <connection options> '<database>' 'orders`; drop table x; --'"
                ));
                assert_eq!(drop.checks[0].expected, Expected::row(&["0"]));
            }
        }
        let plan = crate::plan(&params("mysql@8.0.35")).unwrap();
        let step = &plan.phases[1].steps[0];
        assert!(step.unverified.is_some());
        assert!(step.notes.iter().any(|n| n.contains("row version")));
        assert!(plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("total_row_versions + 1 <= 64")));
        assert!(plan.warnings.is_empty());
        assert!(crate::plan(&params("mysql@8.0.30"))
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.code == "mysql-8029-instant-defect"));
    }

    #[test]
    fn rebuild_in_place_before_instant_drop() {
        for db in ["mysql@8.0.28", "mysql@5.7", "mariadb@10.3"] {
            let plan = crate::plan(&params(db)).unwrap();
            let step = &plan.phases[1].steps[0];
            assert!(
                step.sql[0].ends_with("`legacy_flag`, ALGORITHM=INPLACE, LOCK=NONE;"),
                "{db}"
            );
            assert!(step.rewrites_table);
            assert!(step.estimate.high > 60.0);
            assert!(step.hold_seconds.high <= 0.05);
            assert!(plan.phases[0]
                .checks
                .iter()
                .all(|c| !c.sql.contains("total_row_versions")));
        }
    }

    #[test]
    fn preflight_lists_what_the_drop_affects() {
        let plan = crate::plan(&params("mariadb@10.11")).unwrap();
        let checks = &plan.phases[0].checks;
        for needle in [
            "information_schema.statistics",
            "key_column_usage",
            "information_schema.views",
            "column_default IS NOT NULL",
            "row_format = 'Compressed'",
            "index_type = 'FULLTEXT'",
        ] {
            assert!(checks.iter().any(|c| c.sql.contains(needle)), "{needle}");
        }
        // A drop adds no column: the column cap does not apply.
        assert!(checks.iter().all(|c| !c.sql.contains("1022")));
        let alt = plan.alternative.unwrap();
        assert!(alt.phases[1]
            .app_change
            .as_deref()
            .unwrap()
            .starts_with("Stop every client"));
    }
}
