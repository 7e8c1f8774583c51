//! The secondary index add-index and add-unique both add: its ALTER clause, the preflight
//! checks (name free, columns present, duplicates), the build phases with the algorithm and lock
//! the server allows, and the warnings about building it.

use crate::model::{Check, Expected, MysqlLock, Phase, Warning};
use crate::mysql::Ctx;
use crate::quote::mysql::{ident, ident_list, literal};
use crate::strategy::check;

/// Rough on-disk size of one InnoDB secondary-index entry (key, primary key, record header),
/// for disk headroom: the build also sorts in temporary files of about the index's size.
pub(crate) const INDEX_BYTES_PER_ROW: u64 = 48;

/// The index to add, as add-index and add-unique both need it.
pub(crate) struct IndexSpec<'c> {
    /// The plain columns among the key parts (what the column checks look up).
    pub columns: &'c [String],
    /// The key parts, when add-index gave them (descending, functional); `None` writes
    /// `columns`.
    pub parts: Option<Vec<KeyPart>>,
    pub unique: bool,
    pub name: String,
}

/// One key part as the ALTER writes it.
pub(crate) struct KeyPart {
    /// `` `col` `` or `(expression)`: MySQL's functional key part is an expression in its own
    /// parentheses, `ADD INDEX i ((lower(email)))`.
    pub value: String,
    pub descending: bool,
    pub is_column: bool,
}

impl KeyPart {
    fn sql(&self) -> String {
        format!(
            "{}{}",
            self.value,
            if self.descending { " DESC" } else { "" }
        )
    }
}

impl IndexSpec<'_> {
    /// `ADD [UNIQUE] INDEX name (cols)`.
    pub fn add_clause(&self) -> String {
        format!(
            "ADD {}INDEX {} ({})",
            if self.unique { "UNIQUE " } else { "" },
            ident(&self.name),
            self.key_list()
        )
    }

    /// The key parts as written in `ADD INDEX name (...)`.
    pub fn key_list(&self) -> String {
        match &self.parts {
            Some(parts) => parts
                .iter()
                .map(KeyPart::sql)
                .collect::<Vec<_>>()
                .join(", "),
            None => ident_list(self.columns),
        }
    }

    /// What each key part compares, for the duplicates query.
    pub(crate) fn values(&self) -> Vec<String> {
        match &self.parts {
            Some(parts) => parts.iter().map(|p| p.value.clone()).collect(),
            None => self.columns.iter().map(|c| ident(c)).collect(),
        }
    }

    /// True when a key part is an expression (information_schema.statistics then has no
    /// column name for it).
    fn functional(&self) -> bool {
        self.parts
            .as_ref()
            .is_some_and(|parts| parts.iter().any(|p| !p.is_column))
    }

    /// `information_schema.statistics` rows of this index on the table.
    fn where_index(&self, ctx: &Ctx) -> String {
        format!(
            "{} AND index_name = {}",
            ctx.where_table(&ctx.req.table),
            literal(&self.name)
        )
    }

    /// The name is not taken by another index of the table (this plan's own index, on the
    /// same columns with the same uniqueness, is where a re-run finds it).
    pub fn name_free_check(&self, ctx: &Ctx) -> Check {
        let ours = format!(
            "{}/{}",
            self.columns.join(","),
            if self.unique { "0" } else { "1" }
        );
        check(
            &format!(
                "The table has no index named {} yet (or it is already this plan's index)",
                ident(&self.name)
            ),
            format!(
                "SELECT COUNT(*) AS taken FROM information_schema.statistics WHERE {w} AND (SELECT CONCAT(GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ','), '/', MIN(non_unique)) FROM information_schema.statistics WHERE {w}) <> {};",
                literal(&ours),
                w = self.where_index(ctx)
            ),
            "0 (otherwise choose a free name with --name, or drop the old index first)",
            Expected::row(&["0"]),
        )
    }

    /// Every column exists, and none is BLOB/TEXT (MySQL refuses an index on them without a
    /// prefix length; MariaDB silently indexes a prefix, or for UNIQUE builds a hash over a
    /// hidden column, which INPLACE refuses).
    pub fn column_checks(&self, ctx: &Ctx) -> Vec<Check> {
        if self.columns.is_empty() {
            return Vec::new();
        }
        let names = self
            .columns
            .iter()
            .map(|c| literal(c))
            .collect::<Vec<_>>()
            .join(", ");
        let n = self.columns.len().to_string();
        vec![
            check(
                "Every indexed column exists",
                format!(
                    "SELECT COUNT(*) AS found FROM information_schema.columns WHERE {} AND column_name IN ({names});",
                    ctx.where_table(&ctx.req.table)
                ),
                &n,
                Expected::row(&[&n]),
            ),
            check(
                "No indexed column is BLOB or TEXT (they need a prefix length this plan does not give)",
                format!(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE {} AND column_name IN ({names}) AND data_type IN ('tinyblob', 'blob', 'mediumblob', 'longblob', 'tinytext', 'text', 'mediumtext', 'longtext', 'json');",
                    ctx.where_table(&ctx.req.table)
                ),
                "no rows",
                Expected::NoRows,
            ),
        ]
    }

    /// No duplicates among rows without a NULL in the key (a unique index never compares those).
    pub fn duplicates_check(&self, ctx: &Ctx) -> Check {
        let cols = self.values().join(", ");
        let not_null = self
            .values()
            .iter()
            .map(|v| format!("{v} IS NOT NULL"))
            .collect::<Vec<_>>()
            .join(" AND ");
        check(
            "No duplicates exist (a full scan: run it on a replica if you have one)",
            format!(
                "SELECT {cols}, COUNT(*) AS copies FROM {} WHERE {not_null} GROUP BY {cols} HAVING COUNT(*) > 1 LIMIT 10;",
                ctx.table()
            ),
            "no rows (rows with a NULL in any of these columns never conflict). Any row: remove the duplicates first, or the build fails with \"Duplicate entry\"",
            Expected::NoRows,
        ).scanning().proving(crate::model::Precondition::NoDuplicates)
    }

    /// The index exists, on exactly these columns in order, unique or not as asked.
    pub fn present_check(&self, ctx: &Ctx) -> Check {
        if self.functional() {
            let parts = self.parts.as_ref().map_or(0, Vec::len).to_string();
            let non_unique = if self.unique { "0" } else { "1" };
            return check(
                "The index exists with every key part (an expression part has no column name to compare)",
                format!(
                    "SELECT COUNT(*) AS key_parts, MIN(non_unique) AS non_unique FROM information_schema.statistics WHERE {};",
                    self.where_index(ctx)
                ),
                &format!("{parts}, {non_unique}"),
                Expected::row(&[&parts, non_unique]),
            );
        }
        let columns = self.columns.join(",");
        let non_unique = if self.unique { "0" } else { "1" };
        check(
            "The index exists on exactly these columns",
            format!(
                "SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ',') AS columns, MIN(non_unique) AS non_unique FROM information_schema.statistics WHERE {};",
                self.where_index(ctx)
            ),
            &format!("{columns}, {non_unique}"),
            Expected::row(&[&columns, non_unique]),
        )
    }

    /// `ALTER TABLE t DROP INDEX name, ALGORITHM=NOCOPY, LOCK=NONE;` (INPLACE on MySQL).
    pub fn drop_sql(&self, ctx: &Ctx) -> String {
        format!(
            "ALTER TABLE {} DROP INDEX {}{};",
            ctx.table(),
            ident(&self.name),
            ctx.lock_clause(ctx.server.drop_index_lock())
        )
    }

    /// The preflight and the build phase, for add-index and add-unique alike.
    pub fn phases(&self, ctx: &Ctx, app_change: Option<String>) -> Vec<Phase> {
        let index_bytes = ctx.req.rows.saturating_mul(INDEX_BYTES_PER_ROW);
        let mut extra = vec![self.name_free_check(ctx)];
        extra.extend(self.column_checks(ctx));
        if self.unique {
            extra.push(self.duplicates_check(ctx));
        }

        let lock = ctx.server.add_index_lock();
        let mut build = ctx.alter(
            "Build the index in place (reads and writes continue)",
            &[self.add_clause()],
            lock,
            ctx.model.index_build(),
        );
        build.scans_table = true;
        build.notes.push("Writes made during the build go to an online log (bounded by innodb_online_alter_log_max_size; the ALTER fails if it fills) and are applied at the end, under the exclusive metadata lock: a heavy write rate lengthens that final moment.".to_string());
        build.notes.push("The final metadata-lock moment waits for every transaction that has touched the table: with the short lock_wait_timeout, one long transaction at the very end makes the ALTER fail after the whole build with \"Lock wait timeout exceeded\" (seen on MariaDB 10.11; nothing changed, run it again). Keep long transactions off the table while it finishes.".to_string());
        build.notes.push("The sort uses temporary files in innodb_tmpdir (tmpdir by default): about the index's size must be free there too.".to_string());
        if crate::mysql::facts::NOCOPY.holds(ctx.server) {
            build.notes.push(NOCOPY_NOTE.to_string());
        }
        if self.unique {
            build.notes.push("A duplicate that already exists, or one written while the index builds, makes the ALTER fail with \"Duplicate entry\" at the end and leaves no index behind.".to_string());
            build.retry = format!("If it fails with \"Duplicate entry\", nothing changed: remove the duplicates the preflight query lists, then run it again. {}", crate::mysql::RETRY_LOCK_WAIT);
        }
        let build = ctx.documented(build);

        vec![
            ctx.preflight(Some(index_bytes), extra),
            Phase {
                name: "build index".to_string(),
                purpose: build_purpose("Build the index", lock),
                app_change,
                steps: vec![build],
                rollback: vec![ctx.rollback_ddl(
                    self.drop_sql(ctx),
                    Some("Metadata only: the index is dropped in place while reads and writes continue."),
                )],
                irreversible: None,
                checks: vec![self.present_check(ctx)],
            },
        ]
    }
}

/// Why a MariaDB build says NOCOPY.
const NOCOPY_NOTE: &str = "ALGORITHM=NOCOPY: the table is not rebuilt (only the index is written), and the server refuses the statement rather than rebuild it.";

/// The build phase's purpose, naming the clause the statement carries.
pub(crate) fn build_purpose(what: &str, lock: MysqlLock) -> String {
    format!(
        "{what} with {}: reads and writes continue except for a metadata-lock moment at the start and the end, and the table is not rebuilt.",
        lock.name()
    )
}

/// Warnings every in-place index build carries.
pub(crate) fn build_warnings(ctx: &Ctx) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if ctx.req.env.replicas {
        warnings.push(Warning {
            code: "mysql-replica-ddl-lag".to_string(),
            message: format!(
                "Replicas replay the ALTER only after it finishes here, and their applier waits for it: expect replica lag of about the build time ({}). For a table this big, an online-schema-change tool (which replicates in small chunks) avoids that lag.",
                ctx.model.index_build().describe()
            ),
        });
    }
    warnings
}
