//! What MySQL and MariaDB (InnoDB) do, by version: every online-DDL rule and version boundary
//! the MySQL-family planner relies on lives here, with its source. MySQL lines come from the
//! MySQL 8.0/8.4 reference manual, "15.12.1 Online DDL Operations" (5.7: "14.13.1"); MariaDB
//! lines from the MariaDB Knowledge Base, "InnoDB Online DDL Operations with the INSTANT
//! Alter Algorithm" and "... INPLACE ...". `crates/verify` checks the MariaDB claims on a real
//! MariaDB 10.11; MySQL-only claims are marked "documented, not verified here" in plans.

use crate::input::{Engine, Version};
use crate::plan::MysqlLock;
use std::ops::RangeInclusive;

/// The patch releases of a series this build knows, from its first GA release to the newest
/// (MySQL and MariaDB release notes). MariaDB series start at .0 here: their early patches were
/// alphas and betas, and no rule below draws a line between them.
pub fn known_patches(engine: Engine, major: u32, minor: u32) -> RangeInclusive<u32> {
    let (first, latest) = match (engine, major, minor) {
        (Engine::Mysql, 5, 7) => (9, 44),
        (Engine::Mysql, 8, 0) => (11, 44),
        (Engine::Mysql, 8, 4) => (0, 7),
        (Engine::Mariadb, 10, 3) => (0, 39),
        (Engine::Mariadb, 10, 4) => (0, 34),
        (Engine::Mariadb, 10, 5) => (0, 29),
        (Engine::Mariadb, 10, 6) => (0, 23),
        (Engine::Mariadb, 10, 7..=9) => (0, 8),
        (Engine::Mariadb, 10, 10) => (0, 7),
        (Engine::Mariadb, 10, 11) => (0, 19),
        (Engine::Mariadb, 11, 0..=2) => (0, 6),
        (Engine::Mariadb, 11, 4) => (0, 8),
        (Engine::Mariadb, 11, 8) => (0, 3),
        (Engine::Mariadb, 11, _) => (0, 2),
        _ => (0, 0),
    };
    first..=latest
}

/// The MariaDB 11 minor series this build knows (`mariadb@11` names none of them).
pub const MARIADB_11_MINORS: RangeInclusive<u32> = 0..=8;

/// lock_wait_timeout takes whole seconds (at least 1): the plan's lock timeout rounded up.
pub fn lock_wait_seconds(ms: u64) -> u64 {
    ms.div_ceil(1000).max(1)
}

/// The server a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server {
    pub engine: Engine,
    pub version: Version,
}

impl Server {
    pub fn is_mariadb(self) -> bool {
        self.engine == Engine::Mariadb
    }

    pub fn is_mysql(self) -> bool {
        self.engine == Engine::Mysql
    }

    fn mysql_at_least(self, major: u32, minor: u32, patch: u32) -> bool {
        self.is_mysql() && self.version.at_least_patch(major, minor, patch)
    }

    fn mariadb_at_least(self, major: u32, minor: u32, patch: u32) -> bool {
        self.is_mariadb() && self.version.at_least_patch(major, minor, patch)
    }

    /// Functional key parts, `ADD INDEX i ((lower(email)))`: MySQL 8.0.13 (manual, "CREATE
    /// INDEX", functional key parts). MariaDB has none (KB: index a generated column).
    pub fn functional_key_parts(self) -> bool {
        self.mysql_at_least(8, 0, 13)
    }

    /// `DESC` in an index key builds a descending index: MySQL 8.0 (5.7 parses and ignores
    /// it, manual "Descending Indexes"), MariaDB 10.8 (KB, "Descending Indexes").
    pub fn descending_indexes(self) -> bool {
        (self.is_mysql() && self.version.at_least(8, 0)) || self.mariadb_at_least(10, 8, 0)
    }

    /// ADD COLUMN as the last column is INSTANT: MySQL 8.0.12, MariaDB 10.3.2. MariaDB
    /// 10.3.0-10.3.6 were pre-releases, refused by [`Server::pre_ga_release_of`], so
    /// `mariadb@10.3` counts as having it; MySQL 8.0.11 was GA, so `mysql@8.0` without a patch
    /// does not.
    pub fn instant_add_column_last(self) -> bool {
        self.mysql_at_least(8, 0, 12) || self.mariadb_at_least(10, 3, 0)
    }

    /// The first GA release of the series when this server is a pre-release build of it that
    /// lacks syntax the plans write: MariaDB 10.3.0-10.3.6 (alpha to RC) refuse
    /// `ALGORITHM=INSTANT` and `NOCOPY`, which arrived in 10.3.7, the first GA release (KB,
    /// "InnoDB Online DDL Overview": "NOCOPY - added in MariaDB 10.3.7. INSTANT - added in
    /// MariaDB 10.3.7"). A version without its patch counts as GA.
    pub fn pre_ga_release_of(self) -> Option<&'static str> {
        let v = self.version;
        let pre_ga_10_3 = self.is_mariadb()
            && (v.major, v.minor) == (10, Some(3))
            && v.patch.is_some_and(|p| p < 7);
        pre_ga_10_3.then_some("10.3.7")
    }

    /// `ALGORITHM=NOCOPY`: in place, and refused ("ALGORITHM=NOCOPY is not supported ... Try
    /// ALGORITHM=INPLACE") whenever the operation would rebuild the table. MariaDB 10.3.7 (KB,
    /// "InnoDB Online DDL Overview": "NOCOPY - added in MariaDB 10.3.7"); 10.3.0-10.3.6 are
    /// refused by [`Server::pre_ga_release_of`], so `mariadb@10.3` counts. MySQL has none: its
    /// INPLACE rebuilds silently when the operation needs it.
    pub fn has_nocopy(self) -> bool {
        self.mariadb_at_least(10, 3, 0)
    }

    /// The clause of an operation InnoDB does in place without rebuilding the table, with
    /// LOCK=NONE: NOCOPY where the server has it (it then refuses rather than rebuild, so the
    /// plan's "no rebuild" is the server's promise), INPLACE otherwise.
    fn without_rebuild(self) -> MysqlLock {
        if self.has_nocopy() {
            MysqlLock::NOCOPY_NONE
        } else {
            MysqlLock::INPLACE_NONE
        }
    }

    /// ADD [UNIQUE] INDEX, a secondary B-tree index: built without rebuilding the table while
    /// reads and writes continue. MariaDB KB, "InnoDB Online DDL Operations with the NOCOPY
    /// Alter Algorithm", "Adding a Plain Index": NOCOPY with LOCK=NONE (seen on 10.11 for
    /// UNIQUE, DESC and prefix keys too, TABLE_ID unchanged). MySQL manual, "Online DDL
    /// Operations": "Creating or adding a secondary index: In Place Yes, Rebuilds Table No".
    pub fn add_index_lock(self) -> MysqlLock {
        self.without_rebuild()
    }

    /// DROP INDEX of a secondary index: metadata only. MariaDB KB, NOCOPY page, "ALTER TABLE
    /// ... DROP INDEX" (INSTANT is refused on 10.11: "Reason: DROP INDEX. Try
    /// ALGORITHM=NOCOPY"). MySQL manual: "Dropping an index: In Place Yes, Rebuilds Table No".
    pub fn drop_index_lock(self) -> MysqlLock {
        self.without_rebuild()
    }

    /// ADD FOREIGN KEY while the session has `foreign_key_checks = 0`: no rebuild, reads and
    /// writes continue (with checks on, only COPY). MariaDB KB, NOCOPY page, "ALTER TABLE ...
    /// ADD FOREIGN KEY" (refused with checks on: "Adding foreign keys needs
    /// foreign_key_checks=OFF. Try ALGORITHM=COPY", seen on 10.11). MySQL manual: "Adding a
    /// foreign key constraint: The INPLACE algorithm is supported when foreign_key_checks is
    /// disabled", Rebuilds Table No.
    pub fn add_foreign_key_unchecked_lock(self) -> MysqlLock {
        self.without_rebuild()
    }

    /// DROP FOREIGN KEY: metadata only. MariaDB KB, NOCOPY page, "ALTER TABLE ... DROP FOREIGN
    /// KEY" (supported as INSTANT supports it). MySQL manual: "Dropping a foreign key
    /// constraint: In Place Yes, Rebuilds Table No".
    pub fn drop_foreign_key_lock(self) -> MysqlLock {
        self.without_rebuild()
    }

    /// Dropping a CHECK constraint: metadata only. MariaDB KB, NOCOPY page, "ALTER TABLE ...
    /// DROP CONSTRAINT" (INSTANT from 10.3.6, MDEV-16331; seen on 10.11). MySQL keeps
    /// INPLACE, LOCK=NONE.
    pub fn drop_check_lock(self) -> MysqlLock {
        self.without_rebuild()
    }

    /// ADD COLUMN at any position and DROP COLUMN are INSTANT: MySQL 8.0.29, MariaDB 10.4.
    pub fn instant_add_drop_anywhere(self) -> bool {
        self.mysql_at_least(8, 0, 29) || self.mariadb_at_least(10, 4, 0)
    }

    /// MySQL 8.0.29 counts row versions: at most 64 INSTANT ADD/DROP COLUMN per table before
    /// a rebuild is required (`INFORMATION_SCHEMA.INNODB_TABLES.TOTAL_ROW_VERSIONS`).
    pub fn instant_row_version_limit(self) -> Option<u32> {
        self.mysql_at_least(8, 0, 29).then_some(64)
    }

    /// MySQL caps the columns of a table's internal representation (its user columns, the three
    /// hidden ones DB_ROW_ID, DB_TRX_ID, DB_ROLL_PTR, and columns dropped instantly) at 1022
    /// after an INSTANT ADD COLUMN, and refuses one that would cross it (ERROR 4158, "Please
    /// try ALGORITHM=INPLACE/COPY"): manual, "Online DDL Operations", column operations,
    /// "Adding a column". MariaDB documents no such cap (KB, "InnoDB Online DDL Operations
    /// with the INSTANT Alter Algorithm"); its tables stop at 1017 user columns whatever the
    /// algorithm.
    pub fn instant_column_cap(self) -> Option<u32> {
        self.mysql_at_least(8, 0, 12).then_some(1022)
    }

    /// MySQL 8.0.29+ refuses an INSTANT ADD COLUMN whose new maximum possible row size
    /// crosses the permissible one (ERROR 4092, "Try ALGORITHM=INPLACE/COPY"); before 8.0.29
    /// the column was added and the row size was checked only by later INSERTs and UPDATEs
    /// (manual, "Online DDL Operations", "Adding a column").
    pub fn instant_add_checks_row_size(self) -> bool {
        self.mysql_at_least(8, 0, 29)
    }

    /// Renaming a column that another table's foreign key references is permitted with
    /// ALGORITHM=INPLACE only on MySQL: INSTANT and COPY fail (manual, "Online DDL
    /// Operations", "Renaming a column"). MariaDB renames it with ALGORITHM=INSTANT (seen on
    /// 10.11, both the referenced and the referencing column).
    pub fn instant_rename_referenced_column(self) -> bool {
        self.is_mariadb()
    }

    /// 8.0.29 to 8.0.31: redo-log and corruption defects on tables with instantly added or
    /// dropped columns (fixed in 8.0.32; 8.0.29 was withdrawn). Unknown patch counts as
    /// affected: 8.0 without a patch may be any of them.
    pub fn instant_column_defect(self) -> bool {
        self.is_mysql()
            && self.version.major == 8
            && self.version.minor == Some(0)
            && self.version.patch.is_none_or(|p| (29..=31).contains(&p))
    }

    /// The MariaDB bugs that could corrupt a table after an instant column change of this kind
    /// on this release, oldest first (MariaDB KB, "InnoDB Online DDL Operations with the
    /// INSTANT Alter Algorithm", "Known Bugs"). A version without its patch counts as the
    /// series' oldest release, as the plan does.
    pub fn instant_column_bugs(
        self,
        change: InstantColumnChange,
    ) -> Vec<&'static InstantColumnBug> {
        if !self.is_mariadb() || self.version.major != 10 {
            return Vec::new();
        }
        let minor = self.version.minor.unwrap_or(0);
        let patch = self.version.patch.unwrap_or(0);
        INSTANT_COLUMN_BUGS
            .iter()
            .filter(|bug| bug.changes.contains(&change) && bug.affects(minor, patch))
            .collect()
    }

    /// `ALTER COLUMN c SET DEFAULT` / `DROP DEFAULT` changes metadata only on every version:
    /// MySQL manual, "Online DDL Operations", column operations: "Setting a column default
    /// value: Instant Yes (8.0.12+), In Place Yes, Rebuilds Table No, Only Modifies Metadata
    /// Yes", the same for "Dropping a column default value"; 5.7 and 8.0.0-8.0.11 have no
    /// INSTANT and do it in place, metadata only. MariaDB KB, "InnoDB Online DDL Operations
    /// with the INSTANT Alter Algorithm", "ALTER TABLE ... ALTER COLUMN ... SET DEFAULT":
    /// INSTANT from 10.3.7 (seen on 10.11: `ALGORITHM=INSTANT, LOCK=NONE` accepted, TABLE_ID
    /// unchanged). The lock plans write: INSTANT where the server has it, so it refuses
    /// rather than copy.
    pub fn column_default_lock(self) -> MysqlLock {
        if self.mysql_at_least(8, 0, 12) || self.is_mariadb() {
            MysqlLock::INSTANT
        } else {
            MysqlLock::INPLACE_NONE
        }
    }

    /// `MODIFY c <type> NULL` of a NOT NULL column rebuilds the table in place while DML
    /// continues: MySQL manual, "Online DDL Operations": "Making a column NULL: Instant No, In
    /// Place Yes, Rebuilds Table Yes*, Permits Concurrent DML Yes" (5.7, 8.0, 8.4). MariaDB
    /// does it instantly only for ROW_FORMAT=REDUNDANT tables (10.4.3+, MDEV-15563; KB, INSTANT
    /// page, "Changing a column from NOT NULL to NULL"); the default DYNAMIC format rebuilds
    /// (seen on 10.11: NOCOPY refused, INPLACE with LOCK=NONE accepted). Plans write INPLACE,
    /// LOCK=NONE on every version.
    pub fn drop_not_null_lock(self) -> MysqlLock {
        MysqlLock::INPLACE_NONE
    }

    /// Appending members at the end of an ENUM's list, while the count stays within one
    /// storage byte (255 members), changes metadata only: MySQL manual, "Online DDL
    /// Operations", "Modifying the definition of an ENUM or SET column": "by adding new
    /// enumeration or set members to the end of the list ... may be performed instantly or in
    /// place, as long as the storage size of the data type does not change" (INSTANT from
    /// 8.0.12; 5.7: in place, no rebuild). MariaDB KB, INSTANT page, "Adding a New ENUM
    /// Option": INSTANT (seen on 10.11). Any other change of the list copies the table.
    pub fn enum_append_lock(self) -> MysqlLock {
        self.column_default_lock()
    }

    /// `ALTER TABLE ... RENAME COLUMN a TO b`: MySQL 8.0, MariaDB 10.5.2. Before, only
    /// `CHANGE a b <full definition>`.
    pub fn has_rename_column(self) -> bool {
        self.mysql_at_least(8, 0, 0) || self.mariadb_at_least(10, 5, 2)
    }

    /// RENAME COLUMN is INSTANT on MySQL 8.0.28+ and MariaDB 10.3+ (metadata only);
    /// INPLACE without a rebuild before that on MySQL.
    pub fn instant_rename_column(self) -> bool {
        self.mysql_at_least(8, 0, 28) || self.is_mariadb()
    }

    /// Invisible (MySQL 8.0) / ignored (MariaDB 10.6) indexes: the optimizer stops using an
    /// index while it is still maintained, so a DROP INDEX can be rehearsed and undone.
    pub fn index_visibility_clause(self, visible: bool) -> Option<&'static str> {
        if self.mysql_at_least(8, 0, 0) {
            Some(if visible { "VISIBLE" } else { "INVISIBLE" })
        } else if self.mariadb_at_least(10, 6, 0) {
            Some(if visible { "NOT IGNORED" } else { "IGNORED" })
        } else {
            None
        }
    }

    /// Changing an index's visibility is metadata-only. MariaDB accepts `ALTER INDEX i
    /// [NOT] IGNORED, ALGORITHM=INSTANT, LOCK=NONE` (seen on 10.11); MySQL documents
    /// `ALTER INDEX i [IN]VISIBLE` as INPLACE by default (WL#8697, NF-4) and promises no
    /// INSTANT, so plans write `ALGORITHM=INPLACE, LOCK=NONE` there.
    pub fn instant_index_visibility(self) -> bool {
        self.is_mariadb()
    }

    /// The `information_schema.statistics` column saying whether the optimizer may use an
    /// index, and its value for a hidden one: `IS_VISIBLE = 'NO'` (MySQL 8.0, manual
    /// "Invisible Indexes"), `IGNORED = 'YES'` (MariaDB 10.6, KB "Ignored Indexes").
    pub fn index_hidden_column(self) -> Option<(&'static str, &'static str)> {
        if self.mysql_at_least(8, 0, 0) {
            Some(("is_visible", "NO"))
        } else if self.mariadb_at_least(10, 6, 0) {
            Some(("ignored", "YES"))
        } else {
            None
        }
    }

    /// A BEFORE INSERT trigger may fill a NOT NULL column without a DEFAULT that the INSERT
    /// leaves out: MariaDB checks NOT NULL after BEFORE triggers from 10.1 (MDEV-8605; seen on
    /// 10.11 in strict mode). MySQL refuses such an INSERT before the trigger runs ("Field
    /// ... doesn't have a default value"), so the INSERT must name the column itself.
    pub fn before_insert_trigger_fills_not_null(self) -> bool {
        self.is_mariadb()
    }

    /// A query for how often an index was read, for "is it still used?". MySQL:
    /// `performance_schema.table_io_waits_summary_by_index_usage` (on by default since 5.6.6);
    /// MariaDB: `information_schema.index_statistics`, filled only while `userstat = ON`
    /// (KB "User Statistics"), and performance_schema is off by default there. `schema`,
    /// `table` and `index` are SQL literals (or `DATABASE()`).
    pub fn index_usage_sql(self, schema: &str, table: &str, index: &str) -> String {
        if self.is_mariadb() {
            format!("SELECT @@userstat AS userstat_on, (SELECT rows_read FROM information_schema.index_statistics WHERE table_schema = {schema} AND table_name = {table} AND index_name = {index}) AS rows_read;")
        } else {
            format!("SELECT count_star AS reads_and_writes, count_read AS reads FROM performance_schema.table_io_waits_summary_by_index_usage WHERE object_schema = {schema} AND object_name = {table} AND index_name = {index};")
        }
    }

    /// CHECK constraints are enforced from MySQL 8.0.16 and MariaDB 10.2.1; MySQL 5.7 and
    /// 8.0.0-8.0.15 parse them and ignore them.
    pub fn enforces_check(self) -> bool {
        self.mysql_at_least(8, 0, 16) || self.is_mariadb()
    }

    /// MySQL refuses any LOCK clause next to ALGORITHM=INSTANT ("Incorrect usage of
    /// ALGORITHM=INSTANT and LOCK=NONE/SHARED/EXCLUSIVE"); MariaDB accepts LOCK=NONE with it.
    pub fn lock_clause_with_instant(self) -> bool {
        self.is_mariadb()
    }

    /// `lock_wait_timeout` default: one year on MySQL, one day on MariaDB 10.2.4+. Either way
    /// an ALTER queued behind a long transaction would block the table for that long.
    pub fn default_lock_wait_timeout_s(self) -> u64 {
        if self.is_mariadb() {
            86_400
        } else {
            31_536_000
        }
    }

    /// MariaDB bounds any statement's run time with `max_statement_time` (seconds, 10.1+);
    /// MySQL's `max_execution_time` bounds only SELECT.
    pub fn statement_timeout_variable(self) -> Option<&'static str> {
        self.is_mariadb().then_some("max_statement_time")
    }

    /// `performance_schema.metadata_locks` is on by default from MySQL 8.0 (5.7 needs the
    /// mdl instrument enabled; MariaDB ships performance_schema off by default).
    pub fn metadata_locks_table(self) -> bool {
        self.mysql_at_least(8, 0, 0)
    }

    /// `information_schema.columns.srs_id` (a spatial column's SRID attribute) exists on MySQL
    /// 8.0 only (manual, "The INFORMATION_SCHEMA COLUMNS Table"); not on 5.7 nor MariaDB.
    pub fn has_srs_id(self) -> bool {
        self.mysql_at_least(8, 0, 0)
    }

    /// Spirit supports MySQL 8.0 and later only (its README).
    pub fn spirit_supported(self) -> bool {
        self.mysql_at_least(8, 0, 0)
    }

    /// gh-ost supports MySQL 5.7+ and reads its binlog; MariaDB is not supported by gh-ost's
    /// maintainers (different GTID and binlog formats).
    pub fn ghost_supported(self) -> bool {
        self.is_mysql()
    }

    /// pt-online-schema-change's `--alter-foreign-keys-method=drop_swap` fails on MySQL 8.0+
    /// (its documentation); `rebuild_constraints` works everywhere.
    pub fn pt_osc_drop_swap_works(self) -> bool {
        !self.mysql_at_least(8, 0, 0)
    }

    /// The name the replica-status statement has: `SHOW REPLICA STATUS` from MySQL 8.0.22 and
    /// MariaDB 10.5.1, `SHOW SLAVE STATUS` before.
    pub fn replica_status(self) -> &'static str {
        if self.mysql_at_least(8, 0, 22) || self.mariadb_at_least(10, 5, 1) {
            "SHOW REPLICA STATUS"
        } else {
            "SHOW SLAVE STATUS"
        }
    }

    /// Extending a VARCHAR without copying the table: the length prefix keeps its size
    /// ([`varchar_extend_in_place`], MySQL manual "Online DDL Operations", 5.7 and 8.0), or on
    /// MariaDB 10.4.3+ the old maximum is at most 127 bytes, whose one-byte lengths the two-byte
    /// encoding reads the same (MDEV-15563). Lengths are in characters of `bytes_per_char`
    /// bytes ([`charset_bytes_per_char`]). Checked on MariaDB 10.11: utf8mb4 31 -> 64
    /// characters INSTANT, 32 -> 64 refused even INPLACE, 64 -> 128 INSTANT; latin1 60 -> 100
    /// and 100 -> 300 INSTANT, 200 -> 300 refused; utf8mb3 80 -> 85 and 42 -> 86 INSTANT,
    /// 43 -> 86 refused.
    pub fn varchar_extend_without_copy(
        self,
        from_chars: u32,
        to_chars: u32,
        bytes_per_char: u32,
    ) -> bool {
        varchar_extend_in_place(from_chars, to_chars, bytes_per_char)
            || (self.mariadb_at_least(10, 4, 3)
                && to_chars >= from_chars
                && from_chars.saturating_mul(bytes_per_char) <= 127)
    }

    /// The algorithm of a VARCHAR extension that needs no copy: INSTANT on MariaDB (10.2.2+,
    /// MariaDB KB "InnoDB Online DDL Operations with the INSTANT Alter Algorithm"; checked on
    /// 10.11), INPLACE without a rebuild on MySQL 5.7 and 8.x (manual: "Extending VARCHAR
    /// column size ... In Place: Yes, Rebuilds Table: No, Permits Concurrent DML: Yes").
    pub fn varchar_extend_instant(self) -> bool {
        self.is_mariadb()
    }

    /// Dropping a CHECK constraint: `DROP CHECK name` on MySQL 8.0.16+ (`DROP CONSTRAINT`
    /// only from 8.0.19), `DROP CONSTRAINT name` on MariaDB (10.2.1+).
    pub fn drop_check_keyword(self) -> &'static str {
        if self.is_mariadb() {
            "CONSTRAINT"
        } else {
            "CHECK"
        }
    }

    /// `CREATE TABLE ... SELECT` is refused under `enforce_gtid_consistency=ON` before MySQL
    /// 8.0.21 (it became atomic there: manual, "Restrictions on Replication with GTIDs");
    /// MariaDB's GTIDs have no such restriction.
    pub fn create_table_select_with_gtid(self) -> bool {
        self.mysql_at_least(8, 0, 21) || self.is_mariadb()
    }

    /// `CREATE TRIGGER IF NOT EXISTS`: MySQL 8.0.29, MariaDB 10.1.4.
    pub fn trigger_if_not_exists(self) -> bool {
        self.mysql_at_least(8, 0, 29) || self.mariadb_at_least(10, 1, 4)
    }

    /// Whether `ALTER TABLE t DROP COLUMN a, MODIFY COLUMN b <definition>, ALGORITHM=INPLACE,
    /// LOCK=NONE` rebuilds the table, when the definition differs from b's current one at most by
    /// its DEFAULT and by adding NOT NULL (`adds_not_null`). Making a column NOT NULL rebuilds on
    /// both (MySQL manual, "Online DDL Operations": "Making a column NOT NULL ... Rebuilds Table:
    /// Yes"; seen on MariaDB 10.11). MySQL rebuilds for the DROP COLUMN too: INPLACE is its
    /// rebuilding algorithm ("Dropping a column ... In Place: Yes, Rebuilds Table: Yes"; the
    /// instant drop of 8.0.29 is ALGORITHM=INSTANT only). MariaDB 10.4+ does under INPLACE
    /// whatever INSTANT or NOCOPY can (KB, "Supported Operations by Inheritance"): the drop keeps
    /// the table, and a DEFAULT change is metadata. Seen on MariaDB 10.11 (InnoDB TABLE_ID): no
    /// rebuild for an unindexed or singly indexed column (that index is dropped, NOCOPY), a
    /// rebuild when the MODIFY adds NOT NULL. One exception this rule cannot know: on MariaDB a
    /// multi-column index containing `a` is rebuilt without it, and that rebuilds the table
    /// (seen on 10.11); callers say so.
    pub fn drop_and_modify_column_rebuilds(self, adds_not_null: bool) -> bool {
        adds_not_null || !self.mariadb_at_least(10, 4, 0)
    }

    /// True when DROP TABLE, under a latch every query needs, walks the buffer pool for the
    /// dropped table's pages or drops their adaptive hash index entries, so a large table (and
    /// a large buffer pool) stalls the whole server for seconds:
    /// - MySQL before 8.0.23 evicts the tablespace's pages from the buffer pool as it drops it
    ///   (bug #98869); 8.0.23 frees them lazily, but still drops the adaptive hash index entries
    ///   at once (MySQL blog "A 250x improvement to tablespace truncation in MySQL Server
    ///   8.0.23": "the AHI ... was not delivered in this version"; bug #113312, verified on
    ///   8.0.35), and `innodb_adaptive_hash_index` is ON by default in 5.7 and 8.0. 8.4
    ///   turned it OFF by default (manual 8.4, "Adaptive Hash Index").
    /// - MariaDB before MDEV-22456 ("Dropping the adaptive hash index may cause DDL to lock up
    ///   InnoDB": entries are freed lazily and DROP TABLE no longer evicts pages), fixed in
    ///   10.3.24, 10.4.14 and 10.5.4 (release notes); 10.5 also turned the adaptive hash
    ///   index OFF by default (KB, innodb_adaptive_hash_index).
    ///
    /// Every version still deletes the table's file, which scales with its size.
    pub fn drop_table_walks_cached_pages(self) -> bool {
        let v = self.version;
        if self.is_mysql() {
            return !v.at_least(8, 4);
        }
        match (v.major, v.minor.unwrap_or(0)) {
            (10, 3) => !v.at_least_patch(10, 3, 24),
            (10, 4) => !v.at_least_patch(10, 4, 14),
            _ => !v.at_least_patch(10, 5, 4),
        }
    }

    /// True when this server's claims are checked by Lockstep's live verification (MariaDB);
    /// MySQL behaviour comes from the manual only.
    pub fn verified_here(self) -> bool {
        self.is_mariadb()
    }
}

/// What an instant column change does to the table's rows, as MariaDB's bugs tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstantColumnChange {
    /// ADD COLUMN (at the end, or anywhere from 10.4).
    Add,
    /// DROP COLUMN, or moving a column (10.4).
    DropOrReorder,
}

/// A MariaDB bug that could corrupt a table whose columns were changed instantly, and the
/// releases that fix it (MariaDB 10.x).
#[derive(Debug)]
pub struct InstantColumnBug {
    pub mdev: &'static str,
    /// What it did, in the KB's words.
    pub what: &'static str,
    changes: &'static [InstantColumnChange],
    /// The first fixed release of each 10.x series that got the fix: (minor, patch).
    fixed: &'static [(u32, u32)],
    /// 10.x series that never got the fix (an instant change there is exposed on every
    /// release).
    never_fixed: &'static [u32],
}

impl InstantColumnBug {
    fn affects(&self, minor: u32, patch: u32) -> bool {
        self.never_fixed.contains(&minor)
            || self
                .fixed
                .iter()
                .any(|&(m, first_fixed)| m == minor && patch < first_fixed)
    }

    /// The first release fixing it in series 10.`minor` or, when that series never got the
    /// fix, in the next series that did.
    pub fn fixed_from(&self, minor: u32) -> Option<Version> {
        self.fixed
            .iter()
            .find(|&&(m, _)| m >= minor)
            .map(|&(m, patch)| Version {
                major: 10,
                minor: Some(m),
                patch: Some(patch),
            })
    }

    /// "10.3.18 and 10.4.8".
    pub fn fixed_in(&self) -> String {
        let list: Vec<String> = self
            .fixed
            .iter()
            .map(|(m, p)| format!("10.{m}.{p}"))
            .collect();
        match list.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// MariaDB KB, "InnoDB Online DDL Operations with the INSTANT Alter Algorithm", "Known Bugs"
/// ("Closed Bugs"), with its fix releases; MDEV-18519's 10.10.1 from the 10.10.1 release notes
/// (it lists MDEV-18519 among "Avoid crashes on corrupted data"), and its "isn't and won't be
/// fixed in versions less than MariaDB 10.6" from the same KB list.
const INSTANT_COLUMN_BUGS: [InstantColumnBug; 6] = {
    use InstantColumnChange::{Add, DropOrReorder};
    [
        InstantColumnBug {
            mdev: "MDEV-19743",
            what: "corruption during page reorganization after an instant ADD COLUMN",
            changes: &[Add],
            fixed: &[(3, 17), (4, 7)],
            never_fixed: &[],
        },
        InstantColumnBug {
            mdev: "MDEV-19783",
            what: "corruption after an instant ADD COLUMN",
            changes: &[Add],
            fixed: &[(3, 17), (4, 7)],
            never_fixed: &[],
        },
        InstantColumnBug {
            mdev: "MDEV-20066",
            what: "wrong values in an instantly added column after a DELETE and an UPDATE of the primary key",
            changes: &[Add],
            fixed: &[(3, 18), (4, 8)],
            never_fixed: &[],
        },
        InstantColumnBug {
            mdev: "MDEV-20090",
            what: "corruption after columns were added, dropped or reordered instantly",
            changes: &[Add, DropOrReorder],
            fixed: &[(4, 9)],
            never_fixed: &[],
        },
        InstantColumnBug {
            mdev: "MDEV-20117",
            what: "corruption after an instant DROP COLUMN or reorder",
            changes: &[DropOrReorder],
            fixed: &[(4, 9)],
            never_fixed: &[],
        },
        InstantColumnBug {
            mdev: "MDEV-18519",
            what: "corruption after an instant ADD COLUMN",
            changes: &[Add],
            fixed: &[(6, 9), (7, 5), (8, 4), (9, 2), (10, 1)],
            never_fixed: &[3, 4, 5],
        },
    ]
};

/// The note on MySQL-only steps.
pub const UNVERIFIED: &str =
    "documented, not verified here: from the MySQL reference manual; Lockstep's live verification runs on MariaDB";

/// Whether the column type is one InnoDB stores in a way that makes extending a VARCHAR
/// in place possible: VARCHAR(n) with `n` characters.
pub fn varchar_length(data_type: &str) -> Option<u32> {
    let t = data_type.trim().to_ascii_lowercase();
    let inner = t.strip_prefix("varchar")?.trim();
    let inner = inner.strip_prefix('(')?.split(')').next()?;
    inner.trim().parse().ok()
}

/// Extending VARCHAR is in place (no rebuild, DML continues) while the length prefix stays
/// the same size: both lengths under 256 bytes, or both at 256 or more, counted in the
/// column's character set ("The byte length of a VARCHAR column is dependant on the byte
/// length of the character set": manual, "Online DDL Operations", "Extending VARCHAR column
/// size"). With utf8mb4 63 characters is the last one-byte length; utf8mb3 85; latin1 255.
pub fn varchar_extend_in_place(from_chars: u32, to_chars: u32, bytes_per_char: u32) -> bool {
    let bytes = |chars: u32| chars.saturating_mul(bytes_per_char);
    to_chars >= from_chars && ((bytes(from_chars) < 256) == (bytes(to_chars) < 256))
}

/// The character set the plans assume when a definition names none: utf8mb4, the default of
/// MySQL 8.0+ and of Debian's and most distributions' MariaDB configuration.
pub const ASSUMED_CHARSET: &str = "utf8mb4";

/// The most bytes one character takes in a character set (`SHOW CHARACTER SET`, column
/// Maxlen: MySQL manual "Character Sets and Collations in MySQL", MariaDB KB "Supported
/// Character Sets and Collations"); `None` for one this build does not know. `utf8` is
/// utf8mb3 on MySQL and on MariaDB by default (`old_mode` UTF8_IS_UTF8MB3).
pub fn charset_bytes_per_char(charset: &str) -> Option<u32> {
    match charset.trim().to_ascii_lowercase().as_str() {
        "latin1" | "latin2" | "latin5" | "latin7" | "ascii" | "binary" | "cp1250" | "cp1251"
        | "cp1256" | "cp1257" | "cp850" | "cp852" | "cp866" | "greek" | "hebrew" | "koi8r"
        | "koi8u" | "swe7" | "tis620" | "armscii8" | "dec8" | "hp8" | "keybcs2" | "macce"
        | "macroman" | "geostd8" => Some(1),
        "ucs2" | "big5" | "gbk" | "sjis" | "cp932" | "euckr" | "gb2312" => Some(2),
        "utf8" | "utf8mb3" | "ujis" | "eucjpms" => Some(3),
        "utf8mb4" | "utf16" | "utf16le" | "utf32" | "gb18030" => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mysql(major: u32, minor: u32, patch: Option<u32>) -> Server {
        Server {
            engine: Engine::Mysql,
            version: Version {
                major,
                minor: Some(minor),
                patch,
            },
        }
    }

    fn mariadb(major: u32, minor: u32) -> Server {
        Server {
            engine: Engine::Mariadb,
            version: Version::new(major, Some(minor)),
        }
    }

    #[test]
    fn mariadb_10_3_pre_releases_are_named_with_their_first_ga() {
        let at = |patch| Server {
            engine: Engine::Mariadb,
            version: Version {
                major: 10,
                minor: Some(3),
                patch,
            },
        };
        assert_eq!(at(Some(6)).pre_ga_release_of(), Some("10.3.7"));
        assert_eq!(at(Some(2)).pre_ga_release_of(), Some("10.3.7"));
        assert_eq!(at(Some(7)).pre_ga_release_of(), None);
        assert_eq!(at(None).pre_ga_release_of(), None);
        assert_eq!(mariadb(10, 11).pre_ga_release_of(), None);
        assert_eq!(mysql(8, 0, Some(1)).pre_ga_release_of(), None);
        let refused = crate::plan(
            &crate::params::Params::new()
                .with("db", "mariadb@10.3.6")
                .with("change", "drop-index")
                .with("table", "orders")
                .with("index", "orders_status_idx")
                .with("rows", "1M")
                .with("size", "1GB")
                .with("max-downtime", "0"),
        )
        .unwrap_err();
        let refused = &refused[0];
        assert_eq!(refused.field, "db");
        assert!(
            refused
                .message
                .contains("10.3.7 (the first GA release of 10.3)"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn version_boundaries() {
        assert!(!mysql(8, 0, Some(11)).instant_add_column_last());
        assert!(mysql(8, 0, Some(12)).instant_add_column_last());
        assert!(!mysql(5, 7, None).instant_add_column_last());
        assert!(!mysql(8, 0, Some(28)).instant_add_drop_anywhere());
        assert!(mysql(8, 0, Some(29)).instant_add_drop_anywhere());
        assert!(mysql(8, 4, None).instant_add_drop_anywhere());
        assert!(mysql(8, 0, Some(30)).instant_column_defect());
        assert!(mysql(8, 0, None).instant_column_defect());
        assert!(!mysql(8, 0, Some(32)).instant_column_defect());
        assert!(!mysql(8, 4, None).instant_column_defect());
        assert!(mariadb(10, 3).instant_add_column_last());
        assert!(!mariadb(10, 3).instant_add_drop_anywhere());
        assert!(mariadb(10, 4).instant_add_drop_anywhere());
        assert!(!mariadb(10, 4).has_rename_column());
        assert!(mariadb(10, 11).has_rename_column());
        assert_eq!(mariadb(10, 5).index_visibility_clause(false), None);
        assert_eq!(
            mariadb(10, 11).index_visibility_clause(false),
            Some("IGNORED")
        );
        assert_eq!(
            mysql(8, 0, Some(35)).index_visibility_clause(false),
            Some("INVISIBLE")
        );
        assert!(!mysql(8, 0, Some(15)).enforces_check());
    }

    #[test]
    fn instant_column_limits_by_server() {
        assert_eq!(mysql(8, 0, Some(12)).instant_column_cap(), Some(1022));
        assert_eq!(mysql(8, 0, Some(11)).instant_column_cap(), None);
        assert_eq!(mariadb(10, 11).instant_column_cap(), None);
        assert!(!mysql(8, 0, Some(28)).instant_add_checks_row_size());
        assert!(mysql(8, 0, Some(29)).instant_add_checks_row_size());
        assert!(!mariadb(10, 11).instant_add_checks_row_size());
        assert!(!mysql(8, 4, None).instant_rename_referenced_column());
        assert!(mariadb(10, 11).instant_rename_referenced_column());
    }

    #[test]
    fn index_visibility_rules() {
        assert!(mariadb(10, 11).instant_index_visibility());
        assert!(!mysql(8, 0, Some(35)).instant_index_visibility());
        assert_eq!(
            mysql(8, 0, Some(35)).index_hidden_column(),
            Some(("is_visible", "NO"))
        );
        assert_eq!(mysql(5, 7, None).index_hidden_column(), None);
        assert_eq!(mariadb(10, 5).index_hidden_column(), None);
        assert_eq!(
            mariadb(10, 6).index_hidden_column(),
            Some(("ignored", "YES"))
        );
        assert!(mariadb(10, 11)
            .index_usage_sql("DATABASE()", "'t'", "'i'")
            .contains("information_schema.index_statistics"));
        assert!(mysql(8, 4, None)
            .index_usage_sql("DATABASE()", "'t'", "'i'")
            .contains("table_io_waits_summary_by_index_usage"));
    }

    #[test]
    fn triggers_and_not_null_columns() {
        assert!(mariadb(10, 11).before_insert_trigger_fills_not_null());
        assert!(!mysql(8, 0, Some(35)).before_insert_trigger_fills_not_null());
    }

    #[test]
    fn change_rules_by_engine() {
        // MariaDB: one-byte lengths under 128 bytes extend instantly to any length.
        assert!(mariadb(10, 11).varchar_extend_without_copy(31, 64, 4));
        assert!(!mariadb(10, 11).varchar_extend_without_copy(32, 64, 4));
        assert!(!mysql(8, 0, Some(35)).varchar_extend_without_copy(31, 64, 4));
        assert!(mysql(8, 0, Some(35)).varchar_extend_without_copy(10, 63, 4));
        assert!(!mariadb(10, 11).varchar_extend_without_copy(20, 10, 4));
        // Other character sets, as seen on MariaDB 10.11.
        assert!(mariadb(10, 11).varchar_extend_without_copy(60, 100, 1));
        assert!(mariadb(10, 11).varchar_extend_without_copy(100, 300, 1));
        assert!(!mariadb(10, 11).varchar_extend_without_copy(200, 300, 1));
        assert!(mariadb(10, 11).varchar_extend_without_copy(80, 85, 3));
        assert!(mariadb(10, 11).varchar_extend_without_copy(42, 86, 3));
        assert!(!mariadb(10, 11).varchar_extend_without_copy(43, 86, 3));
        assert!(mariadb(10, 11).varchar_extend_instant());
        assert!(!mysql(5, 7, None).varchar_extend_instant());
        assert_eq!(mysql(8, 0, Some(35)).drop_check_keyword(), "CHECK");
        assert_eq!(mariadb(10, 6).drop_check_keyword(), "CONSTRAINT");
        assert!(!mysql(8, 0, Some(20)).create_table_select_with_gtid());
        assert!(mysql(8, 0, Some(21)).create_table_select_with_gtid());
        assert!(mariadb(10, 3).create_table_select_with_gtid());
        assert!(!mysql(8, 0, Some(28)).trigger_if_not_exists());
        assert!(mysql(8, 4, None).trigger_if_not_exists());
        assert!(mariadb(10, 3).trigger_if_not_exists());
    }

    fn mariadb_at(minor: u32, patch: Option<u32>) -> Server {
        Server {
            engine: Engine::Mariadb,
            version: Version {
                major: 10,
                minor: Some(minor),
                patch,
            },
        }
    }

    #[test]
    fn nocopy_where_mariadb_has_it_and_inplace_on_mysql() {
        for server in [mariadb(10, 3), mariadb(10, 11), mariadb(11, 4)] {
            assert!(server.has_nocopy());
            assert_eq!(server.add_index_lock(), MysqlLock::NOCOPY_NONE);
            assert_eq!(server.drop_index_lock(), MysqlLock::NOCOPY_NONE);
            assert_eq!(
                server.add_foreign_key_unchecked_lock(),
                MysqlLock::NOCOPY_NONE
            );
            assert_eq!(server.drop_foreign_key_lock(), MysqlLock::NOCOPY_NONE);
            assert_eq!(server.drop_check_lock(), MysqlLock::NOCOPY_NONE);
        }
        for server in [mysql(5, 7, None), mysql(8, 0, Some(35)), mysql(8, 4, None)] {
            assert!(!server.has_nocopy());
            assert_eq!(server.add_index_lock(), MysqlLock::INPLACE_NONE);
            assert_eq!(server.drop_index_lock(), MysqlLock::INPLACE_NONE);
            assert_eq!(
                server.add_foreign_key_unchecked_lock(),
                MysqlLock::INPLACE_NONE
            );
            assert_eq!(server.drop_foreign_key_lock(), MysqlLock::INPLACE_NONE);
            assert_eq!(server.drop_check_lock(), MysqlLock::INPLACE_NONE);
        }
    }

    fn bugs(server: Server, change: InstantColumnChange) -> Vec<&'static str> {
        server
            .instant_column_bugs(change)
            .iter()
            .map(|b| b.mdev)
            .collect()
    }

    #[test]
    fn mariadb_instant_column_bugs_by_release() {
        use InstantColumnChange::{Add, DropOrReorder};
        assert_eq!(
            bugs(mariadb_at(3, Some(16)), Add),
            ["MDEV-19743", "MDEV-19783", "MDEV-20066", "MDEV-18519"]
        );
        assert_eq!(
            bugs(mariadb_at(3, Some(17)), Add),
            ["MDEV-20066", "MDEV-18519"]
        );
        assert_eq!(bugs(mariadb_at(3, Some(18)), Add), ["MDEV-18519"]);
        // 10.3 has no instant DROP COLUMN: the drop bugs are 10.4's.
        assert!(bugs(mariadb_at(3, Some(10)), DropOrReorder).is_empty());
        assert_eq!(
            bugs(mariadb_at(4, Some(8)), DropOrReorder),
            ["MDEV-20090", "MDEV-20117"]
        );
        assert_eq!(
            bugs(mariadb_at(4, Some(8)), Add),
            ["MDEV-20090", "MDEV-18519"]
        );
        assert!(bugs(mariadb_at(4, Some(9)), DropOrReorder).is_empty());
        // MDEV-18519 was never fixed before 10.6 (KB: "won't be fixed").
        assert_eq!(bugs(mariadb_at(5, Some(29)), Add), ["MDEV-18519"]);
        assert_eq!(bugs(mariadb_at(6, Some(8)), Add), ["MDEV-18519"]);
        assert!(bugs(mariadb_at(6, Some(9)), Add).is_empty());
        assert!(bugs(mariadb_at(9, Some(2)), Add).is_empty());
        assert_eq!(bugs(mariadb_at(10, Some(0)), Add), ["MDEV-18519"]);
        assert!(bugs(mariadb_at(11, Some(0)), Add).is_empty());
        assert!(bugs(mariadb(11, 4), Add).is_empty());
        // Without a patch: the series' oldest release, as the plan.
        assert_eq!(bugs(mariadb_at(6, None), Add), ["MDEV-18519"]);
        assert!(bugs(mysql(8, 0, Some(30)), Add).is_empty());
    }

    #[test]
    fn where_each_instant_column_bug_is_fixed() {
        let bug = |mdev: &str| INSTANT_COLUMN_BUGS.iter().find(|b| b.mdev == mdev).unwrap();
        assert_eq!(bug("MDEV-20066").fixed_in(), "10.3.18 and 10.4.8");
        assert_eq!(
            bug("MDEV-18519").fixed_in(),
            "10.6.9, 10.7.5, 10.8.4, 10.9.2 and 10.10.1"
        );
        let from = |mdev: &str, minor| bug(mdev).fixed_from(minor).map(|v| v.to_string());
        assert_eq!(from("MDEV-20066", 4).as_deref(), Some("10.4.8"));
        assert_eq!(from("MDEV-18519", 4).as_deref(), Some("10.6.9"));
        assert_eq!(from("MDEV-18519", 8).as_deref(), Some("10.8.4"));
    }

    #[test]
    fn drop_and_modify_rebuilds() {
        assert!(!mariadb(10, 11).drop_and_modify_column_rebuilds(false));
        assert!(mariadb(10, 11).drop_and_modify_column_rebuilds(true));
        assert!(!mariadb(10, 4).drop_and_modify_column_rebuilds(false));
        assert!(mariadb(10, 3).drop_and_modify_column_rebuilds(false));
        assert!(mysql(8, 0, Some(35)).drop_and_modify_column_rebuilds(false));
        assert!(mysql(8, 4, None).drop_and_modify_column_rebuilds(true));
        assert!(mysql(5, 7, None).drop_and_modify_column_rebuilds(false));
    }

    #[test]
    fn drop_table_walks_cached_pages_until_the_lazy_drop() {
        let maria = |minor, patch| Server {
            engine: Engine::Mariadb,
            version: Version {
                major: 10,
                minor: Some(minor),
                patch,
            },
        };
        assert!(mysql(5, 7, None).drop_table_walks_cached_pages());
        assert!(mysql(8, 0, Some(22)).drop_table_walks_cached_pages());
        // 8.0.23 evicts lazily, but the adaptive hash index (ON by default) is still dropped at once.
        assert!(mysql(8, 0, Some(35)).drop_table_walks_cached_pages());
        assert!(!mysql(8, 4, None).drop_table_walks_cached_pages());
        assert!(maria(3, Some(23)).drop_table_walks_cached_pages());
        assert!(!maria(3, Some(24)).drop_table_walks_cached_pages());
        assert!(maria(4, Some(13)).drop_table_walks_cached_pages());
        assert!(!maria(4, Some(14)).drop_table_walks_cached_pages());
        assert!(maria(5, Some(3)).drop_table_walks_cached_pages());
        assert!(!maria(5, Some(4)).drop_table_walks_cached_pages());
        // No patch counts as the series' first release: 10.4 may be 10.4.13.
        assert!(maria(4, None).drop_table_walks_cached_pages());
        assert!(!mariadb(10, 11).drop_table_walks_cached_pages());
    }

    #[test]
    fn varchar_prefix_bytes() {
        assert_eq!(varchar_length("VARCHAR(64)"), Some(64));
        assert_eq!(varchar_length("text"), None);
        assert!(varchar_extend_in_place(20, 63, 4));
        assert!(!varchar_extend_in_place(63, 64, 4));
        assert!(varchar_extend_in_place(64, 1000, 4));
        assert!(!varchar_extend_in_place(64, 10, 4));
        // The boundary is 255 bytes of the column's character set.
        assert!(varchar_extend_in_place(60, 255, 1));
        assert!(!varchar_extend_in_place(255, 256, 1));
        assert!(varchar_extend_in_place(64, 85, 3));
        assert!(!varchar_extend_in_place(85, 86, 3));
        assert_eq!(charset_bytes_per_char("LATIN1"), Some(1));
        assert_eq!(charset_bytes_per_char("utf8mb3"), Some(3));
        assert_eq!(charset_bytes_per_char("utf8mb4"), Some(4));
        assert_eq!(charset_bytes_per_char("klingon"), None);
    }
}
