//! Drop an index (MySQL, MariaDB).
//!
//! `ALTER TABLE t DROP INDEX i, ALGORITHM=INPLACE, LOCK=NONE` is metadata-only and lets reads
//! and writes continue (MySQL manual, "Online DDL Operations": dropping an index is in place,
//! only modifies metadata). MariaDB writes `ALGORITHM=NOCOPY, LOCK=NONE`, which refuses a
//! rebuild (`Server::drop_index_lock`; 10.11 refuses INSTANT: "Try ALGORITHM=NOCOPY"). The
//! lock is not the danger: a query that still needed
//! the index turns into a full scan at once, and building it back takes as long as the
//! original build. So where the server can hide an index from the optimizer while still
//! maintaining it — invisible indexes (MySQL 8.0, manual "Invisible Indexes") and ignored
//! indexes (MariaDB 10.6, KB "Ignored Indexes"), see `engines::mysql` — the plan rehearses:
//!
//! 1. hide the index (metadata-only; undone instantly by making it visible again);
//! 2. observe a representative period (queries naming it in an index hint fail with "Key ...
//!    doesn't exist", seen on MariaDB 10.11; slow queries show up in the slow log);
//! 3. drop it.
//!
//! Neither server hides a primary key, explicit or implicit (the first UNIQUE index on NOT
//! NULL columns of a table without one): MariaDB says "A primary key cannot be marked as
//! IGNORE", and the manual says the same of INVISIBLE. A hidden index still enforces
//! uniqueness and still serves foreign-key checks, so hiding proves nothing about those: an
//! index a foreign key needs cannot be dropped ("needed in a foreign key constraint", seen on
//! MariaDB 10.11) unless another index starts with the same columns. The preflight lists
//! both.
//!
//! The drop cannot be rolled back by a stored statement: once gone, the server keeps no
//! definition. The preflight prints the `ADD INDEX` statement that recreates it (from
//! `information_schema.statistics`) and `SHOW CREATE TABLE`, to save before the drop.

use super::{summary_paths, Ctx};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, MysqlLock, Phase, Step};
use crate::mysql::facts::{self, Server};
use crate::quote::mysql::{ident, literal};
use crate::request::change::DropIndex;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// The index to drop, named and quoted once, with its catalog lookups.
struct IndexDrop<'a> {
    ctx: &'a Ctx<'a>,
    server: Server,
    table: String,
    table_name: &'a str,
    idx: String,
    index_lit: String,
    /// `information_schema.statistics` rows of the index.
    where_index: String,
    /// The index's first column, as a subquery.
    first_column: String,
}

impl<'a> IndexDrop<'a> {
    fn new(ctx: &'a Ctx<'a>, change: &'a DropIndex) -> Result<Self, FieldError> {
        let DropIndex { index } = change;
        if index.eq_ignore_ascii_case("PRIMARY") {
            return Err(FieldError::new(
                "index",
                "is the primary key: dropping it rebuilds the table and is a different change (an online-schema-change tool adding the replacement key in the same ALTER); accepts the name of a secondary index",
            ));
        }
        let table = ctx.table();
        let table_name = &ctx.req.table;
        let idx = ident(index);
        let index_lit = literal(index);
        let where_index = format!(
            "{} AND index_name = {index_lit}",
            ctx.where_table(table_name)
        );
        let first_column = format!(
            "(SELECT column_name FROM information_schema.statistics WHERE {where_index} AND seq_in_index = 1)"
        );
        Ok(IndexDrop {
            ctx,
            server: ctx.server,
            table,
            table_name,
            idx,
            index_lit,
            where_index,
            first_column,
        })
    }

    /// Before the drop: the index exists, no foreign key needs it, whether it is unique, whether anything reads it, and the statements that recreate it.
    fn preflight_checks(&self) -> Vec<Check> {
        let IndexDrop {
            ctx,
            server,
            table,
            table_name,
            idx,
            index_lit,
            where_index,
            first_column,
            ..
        } = self;
        vec![
            check(
                "The index exists on the table",
                format!("SELECT COUNT(*) AS present FROM information_schema.statistics WHERE {where_index} AND seq_in_index = 1;"),
                // A re-run of the finished plan finds it gone too: only the operator can tell.
                "1 (0: a wrong name, or this plan has already dropped it and the script is being re-run)",
                Expected::Manual,
            ),
            check(
                "No foreign key starts with the index's first column (a foreign key needs an index on its columns)",
                format!(
                    "SELECT constraint_name, table_name, column_name FROM information_schema.key_column_usage WHERE referenced_table_name IS NOT NULL AND ordinal_position = 1 AND ((table_schema = {s} AND table_name = {t} AND column_name = {first_column}) OR (referenced_table_schema = {s} AND referenced_table_name = {t} AND referenced_column_name = {first_column}));",
                    s = ctx.schema_value(),
                    t = literal(table_name),
                ),
                "no rows. A row: if no other index starts with that foreign key's columns, DROP INDEX fails with \"needed in a foreign key constraint\"; hiding the index does not show this, since foreign-key checks still use a hidden index",
                Expected::NoRows,
            ),
            check(
                "Whether the index enforces uniqueness",
                format!("SELECT MIN(non_unique) AS non_unique FROM information_schema.statistics WHERE {where_index};"),
                "1. 0 means it is a UNIQUE index: once dropped, duplicates are accepted; continue only if that is the intent (hiding it does not show this: a hidden index still enforces uniqueness)",
                Expected::Manual,
            ),
            check(
                "Nothing reads the index (counters since the server started, on this server only: check replicas too)",
                server.index_usage_sql(&ctx.schema_value(), &literal(table_name), index_lit),
                if server.is_mariadb() {
                    "rows_read 0 or close to it over a representative period; userstat_on 0 means the counters are off (SET GLOBAL userstat = ON, then wait a representative period)"
                } else {
                    "reads 0 or close to it over a representative period (performance_schema must be on)"
                },
                Expected::Manual,
            ),
            check(
                "SAVE THIS OUTPUT: the statement that recreates the index (the rollback of the drop)",
                format!(
                    "SELECT CONCAT('ALTER TABLE ', {table_text}, ' ADD ', IF(MIN(non_unique) = 0, 'UNIQUE ', ''), IF(MIN(index_type) IN ('FULLTEXT', 'SPATIAL'), CONCAT(MIN(index_type), ' '), ''), 'INDEX ', {index_text}, ' (', GROUP_CONCAT(CONCAT('`', REPLACE(column_name, '`', '``'), '`', IFNULL(CONCAT('(', sub_part, ')'), ''), IF(collation = 'D', ' DESC', '')) ORDER BY seq_in_index SEPARATOR ', '), IF(MIN(index_type) IN ('FULLTEXT', 'SPATIAL'), '), ALGORITHM=INPLACE, LOCK=SHARED;', {plain_clause})) AS recreate FROM information_schema.statistics WHERE {where_index};",
                    table_text = literal(table),
                    index_text = literal(idx),
                    plain_clause = literal(&format!("){};", ctx.lock_clause(server.add_index_lock()))),
                ),
                "one row: an ALTER TABLE ... ADD INDEX statement; keep it with this runbook (NULL for an index on an expression: take its line from SHOW CREATE TABLE instead). A FULLTEXT or SPATIAL index is rebuilt with LOCK=SHARED: writes wait while it builds",
                Expected::Manual,
            ),
            check(
                "SAVE THIS OUTPUT too: the table's full definition, with the index's KEY line",
                format!("SHOW CREATE TABLE {table};"),
                "the CREATE TABLE statement",
                Expected::Manual,
            ),
        ]
    }

    /// The drop itself: metadata only.
    fn drop_step(&self) -> Step {
        let IndexDrop {
            ctx,
            server,
            table,
            idx,
            ..
        } = self;
        let drop_lock = server.drop_index_lock();
        let drop_sql = format!(
            "ALTER TABLE {table} DROP INDEX {idx}{};",
            ctx.lock_clause(drop_lock)
        );
        let mut drop = ctx.step(
            "Drop the index in place (metadata only; reads and writes continue)",
            vec![drop_sql],
            Some(drop_lock),
            CATALOG_ONLY,
        );
        drop.notes
            .push(instant_refused_note(ctx.server.is_mariadb()).to_string());
        ctx.documented(drop)
    }

    /// Phase: the drop; irreversible (the server keeps no copy of the definition).
    fn drop_phase(&self, app_change: Option<String>) -> Phase {
        let IndexDrop {
            server,
            idx,
            where_index,
            ..
        } = self;
        let gone = vec![check(
            "The index is gone",
            format!(
                "SELECT COUNT(*) AS present FROM information_schema.statistics WHERE {where_index};"
            ),
            "0",
            Expected::row(&["0"]),
        )];
        let recreate = format!("The server keeps no copy of a dropped index's definition, so no prepared statement can bring it back. To recreate it, run the ALTER TABLE ... ADD INDEX statement the preflight printed (save it before this phase): {}, so reads and writes continue while it builds, for about as long as the original build. A UNIQUE index fails with \"Duplicate entry\" if duplicates arrived meanwhile.", server.add_index_lock().name());
        Phase {
            name: "drop index".to_string(),
            purpose: format!("Drop {idx}."),
            app_change,
            steps: vec![self.drop_step()],
            rollback: Vec::new(),
            irreversible: Some(recreate),
            checks: gone,
        }
    }

    /// Hiding or showing an index: INSTANT where the server has it.
    fn visibility_lock(&self) -> MysqlLock {
        let IndexDrop { server, .. } = self;
        if facts::INSTANT_INDEX_VISIBILITY.holds(*server) {
            MysqlLock::INSTANT
        } else {
            MysqlLock::INPLACE_NONE
        }
    }

    /// The index hidden from the optimizer, still maintained.
    fn hide_step(&self, hide_clause: &str) -> Step {
        let IndexDrop { ctx, idx, .. } = self;
        let visibility_lock = self.visibility_lock();
        let mut hide = ctx.alter(
            "Hide the index from the optimizer (it is still maintained)",
            &[format!("ALTER INDEX {idx} {hide_clause}")],
            visibility_lock,
            CATALOG_ONLY,
        );
        hide.notes.push(format!("From now on the optimizer plans every query as if {idx} did not exist, while writes keep it up to date (and a UNIQUE index keeps enforcing uniqueness): making it visible again is instant."));
        hide.notes.push("A query naming the index in a hint (FORCE INDEX, USE INDEX, IGNORE INDEX) fails with \"Key ... doesn't exist\" while it is hidden, exactly as it would after the drop: that is part of what this rehearsal finds.".to_string());
        ctx.documented(hide)
    }

    /// A UNIQUE index on NOT NULL columns of a table without a primary key cannot be hidden.
    fn primary_key_check(&self) -> Check {
        let IndexDrop {
            ctx, table_name, ..
        } = self;
        check(
            "The table has a PRIMARY KEY (otherwise a UNIQUE index on NOT NULL columns may be its implicit primary key, which cannot be hidden)",
            format!(
                "SELECT COUNT(*) AS primary_keys FROM information_schema.table_constraints WHERE {} AND constraint_type = 'PRIMARY KEY';",
                ctx.where_table(table_name)
            ),
            "1 (0: if this index is UNIQUE on NOT NULL columns, the hide step fails; drop it directly, after the usage check)",
            Expected::row(&["1"]),
        )
    }

    /// Online: hide the index, observe, then drop it.
    fn online(
        &self,
        hide_clause: &str,
        show_clause: &str,
        (column, hidden): (&str, &str),
    ) -> Vec<Phase> {
        let IndexDrop {
            ctx,
            table,
            idx,
            where_index,
            ..
        } = self;
        let show_sql = format!(
            "ALTER TABLE {table} ALTER INDEX {idx} {show_clause}{};",
            ctx.lock_clause(self.visibility_lock())
        );
        let mut checks = self.preflight_checks();
        checks.push(self.primary_key_check());
        vec![
            ctx.preflight(None, checks),
            Phase {
                name: "hide index".to_string(),
                purpose: format!("Make {idx} {hide_clause}: queries stop using it, nothing is lost."),
                app_change: None,
                steps: vec![self.hide_step(hide_clause)],
                rollback: vec![ctx.rollback_ddl(
                    show_sql,
                    Some("Metadata only: the optimizer uses the index again at once."),
                )],
                irreversible: None,
                checks: vec![check(
                    "The index is hidden from the optimizer",
                    format!("SELECT DISTINCT {column} FROM information_schema.statistics WHERE {where_index};"),
                    hidden,
                    Expected::row(&[hidden]),
                )],
            },
            self.drop_phase(Some(format!(
                "Observe with {idx} hidden for a representative period (a full business cycle: daily and monthly jobs, reports, replicas' queries): query latency, the slow query log, and errors \"Key ... doesn't exist\" from index hints. Any regression: run the previous phase's rollback (instant) and stop here."
            ))),
        ]
    }
}

pub fn paths(ctx: &Ctx, change: &DropIndex) -> Result<Paths, FieldError> {
    let drop = IndexDrop::new(ctx, change)?;
    let IndexDrop {
        server,
        table,
        idx,
        where_index,
        ..
    } = &drop;
    let mut out = summary_paths(format!("Drop index {idx} on {table}"));
    out.direct = Some(vec![
        ctx.preflight(None, drop.preflight_checks()),
        drop.drop_phase(None),
    ]);
    let (Some(hide_clause), Some(show_clause), Some(hidden_column)) = (
        server.index_visibility_clause(false),
        server.index_visibility_clause(true),
        server.index_hidden_column(),
    ) else {
        return Ok(out);
    };
    let mut online = drop.online(hide_clause, show_clause, hidden_column);
    // Once the index is dropped, the hide phase's check has nothing to read: a re-run skips it.
    super::rerun::guard_transition_checks(
        &mut online,
        &format!("SELECT COUNT(*) > 0 AS present FROM information_schema.statistics WHERE {where_index};"),
    );
    out.online = Some(online);
    out.online_required = Some(format!(
        "a query that still needs the index turns into a full scan the moment it is dropped, and rebuilding it takes as long as the original build; hiding it first ({hide_clause}) is undone instantly"
    ));
    Ok(out)
}

/// Why the drop is NOCOPY (MariaDB) or INPLACE (MySQL) and not INSTANT, with the refusal each
/// server gives: only MariaDB has ALGORITHM=NOCOPY to suggest (MariaDB KB, "ALTER TABLE":
/// ALGORITHM; MySQL 8.0 manual, "Online DDL Operations": dropping an index is in place, not
/// instant).
fn instant_refused_note(mariadb: bool) -> &'static str {
    if mariadb {
        "ALGORITHM=INSTANT is refused for DROP INDEX (\"Try ALGORITHM=NOCOPY\"): NOCOPY is the metadata-only way, and the server refuses it rather than rebuild the table."
    } else {
        "ALGORITHM=INSTANT is refused for DROP INDEX (\"Try ALGORITHM=COPY/INPLACE\"): INPLACE is the metadata-only way."
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Algorithm, Blocks, Expected, Lock, LockClause, MysqlLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "drop-index")
            .with("table", "orders`; drop table x; --")
            .with("index", "orders_status_idx")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    const TABLE: &str = "`orders``; drop table x; --`";

    /// NOCOPY is MariaDB's algorithm: a MySQL plan must not quote MariaDB's refusal, nor
    /// write NOCOPY.
    #[test]
    fn only_mariadb_is_told_to_try_nocopy() {
        for (db, nocopy) in [
            ("mariadb@10.11.6", true),
            ("mysql@8.0.35", false),
            ("mysql@5.7.44", false),
        ] {
            let plan = crate::plan(&params(db).with("max-downtime", "30s")).unwrap();
            let notes: Vec<&String> = plan.steps().flat_map(|s| s.notes.iter()).collect();
            assert!(
                notes
                    .iter()
                    .any(|n| n.contains("ALGORITHM=INSTANT is refused")),
                "{db}"
            );
            assert_eq!(
                notes.iter().any(|n| n.contains("NOCOPY")),
                nocopy,
                "{db}: {notes:?}"
            );
            let recreate = plan.phases[0]
                .checks
                .iter()
                .find(|c| c.description.starts_with("SAVE THIS OUTPUT: the statement"))
                .unwrap();
            let clause = if nocopy { "NOCOPY" } else { "INPLACE" };
            assert!(
                recreate
                    .sql
                    .contains(&format!("'), ALGORITHM={clause}, LOCK=NONE;'")),
                "{db}: {}",
                recreate.sql
            );
            // FULLTEXT and SPATIAL keep INPLACE: a first FULLTEXT index rebuilds the table.
            assert!(recreate
                .sql
                .contains("'), ALGORITHM=INPLACE, LOCK=SHARED;'"));
            let irreversible = plan.phases.last().unwrap().irreversible.as_deref().unwrap();
            assert!(
                irreversible.contains(&format!("ALGORITHM={clause}, LOCK=NONE")),
                "{db}: {irreversible}"
            );
        }
    }

    #[test]
    fn mariadb_ignores_then_drops() {
        let plan = crate::plan(&params("mariadb@10.11.6").with("max-downtime", "30s")).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let hide = &plan.phases[1];
        assert_eq!(
            hide.steps[0].sql,
            [format!("ALTER TABLE {TABLE} ALTER INDEX IF EXISTS `orders_status_idx` IGNORED, ALGORITHM=INSTANT, LOCK=NONE;")]
        );
        assert_eq!(
            hide.steps[0].lock,
            Some(Lock::Mysql(MysqlLock::Alter {
                algorithm: Algorithm::Instant,
                lock: LockClause::None
            }))
        );
        assert!(hide.steps[0].unverified.is_none());
        assert!(hide.rollback[0].sql.ends_with(
            "ALTER INDEX `orders_status_idx` NOT IGNORED, ALGORITHM=INSTANT, LOCK=NONE;"
        ));
        assert_eq!(hide.checks[0].expected, Expected::row(&["YES"]));
        assert!(hide.checks[0].sql.starts_with("SELECT DISTINCT ignored "));
        // A re-run of the finished plan (index gone) skips the hide phase's check.
        assert!(hide.checks[0]
            .only_if
            .as_deref()
            .unwrap()
            .contains("index_name = 'orders_status_idx'"));
        let drop = &plan.phases[2];
        assert!(drop.app_change.as_deref().unwrap().contains("rollback"));
        assert_eq!(
            drop.steps[0].sql,
            [format!(
                "ALTER TABLE {TABLE} DROP INDEX IF EXISTS `orders_status_idx`, ALGORITHM=NOCOPY, LOCK=NONE;"
            )]
        );
        assert_eq!(
            drop.steps[0].lock,
            Some(Lock::Mysql(MysqlLock::NOCOPY_NONE))
        );
        assert!(!drop.steps[0].rewrites_table);
        assert_eq!(drop.steps[0].blocks, Blocks::ReadsAndWrites);
        assert!(drop.steps[0].hold_seconds.high <= 0.05);
        assert!(drop.irreversible.is_some());
        let preflight = &plan.phases[0];
        assert!(preflight
            .checks
            .iter()
            .any(|c| c.sql.contains("key_column_usage")));
        assert!(preflight
            .checks
            .iter()
            .any(|c| c.sql.contains("index_statistics")));
        assert!(preflight
            .checks
            .iter()
            .any(|c| c.description.starts_with("SAVE THIS OUTPUT: the statement")));
        assert!(preflight
            .checks
            .iter()
            .any(|c| c.sql.contains("'PRIMARY KEY'")));
    }

    #[test]
    fn mysql8_hides_with_invisible_in_place() {
        let plan = crate::plan(&params("mysql@8.0.35")).unwrap();
        let hide = &plan.phases[1].steps[0];
        assert_eq!(
            hide.sql,
            [format!("ALTER TABLE {TABLE} ALTER INDEX `orders_status_idx` INVISIBLE, ALGORITHM=INPLACE, LOCK=NONE;")]
        );
        assert!(hide.unverified.is_some());
        assert_eq!(plan.phases[1].checks[0].expected, Expected::row(&["NO"]));
        assert!(plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("table_io_waits_summary_by_index_usage")));
    }

    #[test]
    fn without_visibility_only_the_direct_drop() {
        for (db, algorithm) in [("mysql@5.7", "INPLACE"), ("mariadb@10.5", "NOCOPY")] {
            let plan = crate::plan(&params(db)).unwrap();
            assert_eq!(plan.strategy.chosen, "direct", "{db}");
            assert!(plan.alternative.is_none());
            assert_eq!(plan.phases.len(), 2);
            assert!(plan.phases[1].steps[0].sql[0].contains(&format!(
                "`orders_status_idx`, ALGORITHM={algorithm}, LOCK=NONE;"
            )));
            assert!(plan.phases[0]
                .checks
                .iter()
                .all(|c| !c.sql.contains("'PRIMARY KEY'")));
        }
    }

    #[test]
    fn primary_key_is_refused() {
        let errors = crate::plan(&params("mariadb@10.11").with("index", "PRIMARY")).unwrap_err();
        assert_eq!(errors[0].field, "index");
    }
}
