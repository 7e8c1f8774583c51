//! What MySQL and MariaDB (InnoDB) do, by version: every online-DDL rule and version boundary
//! the MySQL-family planner relies on lives here, with its source. MySQL lines come from the
//! MySQL 8.0/8.4 reference manual, "15.12.1 Online DDL Operations" (5.7: "14.13.1"); MariaDB
//! lines from the MariaDB Knowledge Base, "InnoDB Online DDL Operations with the INSTANT
//! Alter Algorithm" and "... INPLACE ...". `crates/verify` checks the MariaDB claims on a real
//! MariaDB 10.11; MySQL-only claims are marked "documented, not verified here" in plans.
//!
//! Every boolean version boundary is one entry of [`FACTS`] (in the spirit of clippy's
//! `msrvs.rs`): named once, with the MySQL and the MariaDB releases it holds on, its source in
//! each manual and the live verifier case that shows it; planners ask it by name,
//! `facts::NOCOPY.holds(server)`. What returns a value (a lock clause, a keyword, a limit) stays
//! a small [`Server`] method built on those entries; the few that differ by engine alone, with
//! no version boundary (the index-usage query, `lock_wait_timeout`'s default, the DROP CHECK
//! keyword), stay plain methods. `docs/mysql-claims.md` is generated from [`FACTS`].

use crate::model::MysqlLock;
use crate::model::{Engine, Version};
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

    /// The clause of an operation InnoDB does in place without rebuilding the table, with
    /// LOCK=NONE: NOCOPY where the server has it ([`NOCOPY`]: it then refuses rather than
    /// rebuild, so the plan's "no rebuild" is the server's promise), INPLACE otherwise.
    fn without_rebuild(self) -> MysqlLock {
        if NOCOPY.holds(self) {
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

    /// How many INSTANT ADD/DROP COLUMN a table takes before a rebuild is required, where the
    /// server counts them ([`INSTANT_ROW_VERSIONS_COUNTED`]): 64 on MySQL 8.0.29+.
    pub fn instant_row_version_limit(self) -> Option<u32> {
        INSTANT_ROW_VERSIONS_COUNTED.holds(self).then_some(64)
    }

    /// The most columns a table's internal representation may have after an INSTANT ADD
    /// COLUMN, where the server caps them ([`INSTANT_ADD_CAPS_INTERNAL_COLUMNS`]): 1022 on
    /// MySQL (user columns, DB_ROW_ID, DB_TRX_ID, DB_ROLL_PTR and instantly dropped columns).
    pub fn instant_column_cap(self) -> Option<u32> {
        INSTANT_ADD_CAPS_INTERNAL_COLUMNS
            .holds(self)
            .then_some(1022)
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
        if INSTANT_COLUMN_DEFAULT.holds(self) {
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
        if INSTANT_ENUM_APPEND.holds(self) {
            MysqlLock::INSTANT
        } else {
            MysqlLock::INPLACE_NONE
        }
    }

    /// The clause that hides (`visible = false`) or shows an index to the optimizer while it
    /// stays maintained ([`INDEX_VISIBILITY`]): `[IN]VISIBLE` on MySQL, `[NOT] IGNORED` on
    /// MariaDB.
    pub fn index_visibility_clause(self, visible: bool) -> Option<&'static str> {
        if !INDEX_VISIBILITY.holds(self) {
            None
        } else if self.is_mysql() {
            Some(if visible { "VISIBLE" } else { "INVISIBLE" })
        } else {
            Some(if visible { "NOT IGNORED" } else { "IGNORED" })
        }
    }

    /// The `information_schema.statistics` column saying whether the optimizer may use an
    /// index, and its value for a hidden one ([`INDEX_VISIBILITY`]): `IS_VISIBLE = 'NO'`
    /// (MySQL manual "Invisible Indexes"), `IGNORED = 'YES'` (MariaDB KB "Ignored Indexes").
    pub fn index_hidden_column(self) -> Option<(&'static str, &'static str)> {
        if !INDEX_VISIBILITY.holds(self) {
            None
        } else if self.is_mysql() {
            Some(("is_visible", "NO"))
        } else {
            Some(("ignored", "YES"))
        }
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

    /// The replica-status statement ([`SHOW_REPLICA_STATUS`]): `SHOW SLAVE STATUS` before.
    pub fn replica_status(self) -> &'static str {
        if SHOW_REPLICA_STATUS.holds(self) {
            "SHOW REPLICA STATUS"
        } else {
            "SHOW SLAVE STATUS"
        }
    }

    /// Extending a VARCHAR without copying the table: the length prefix keeps its size
    /// ([`varchar_extend_in_place`], MySQL manual "Online DDL Operations", 5.7 and 8.0), or
    /// the old maximum is at most 127 bytes where the server reads one-byte lengths as
    /// two-byte ones ([`VARCHAR_SHORT_LENGTHS_EXTEND_ANYWHERE`]). Lengths are in characters of
    /// `bytes_per_char` bytes ([`charset_bytes_per_char`]).
    pub fn varchar_extend_without_copy(
        self,
        from_chars: u32,
        to_chars: u32,
        bytes_per_char: u32,
    ) -> bool {
        varchar_extend_in_place(from_chars, to_chars, bytes_per_char)
            || (VARCHAR_SHORT_LENGTHS_EXTEND_ANYWHERE.holds(self)
                && to_chars >= from_chars
                && from_chars.saturating_mul(bytes_per_char) <= 127)
    }

    /// Dropping a CHECK constraint: `DROP CHECK name` on MySQL 8.0.16+ (`DROP CONSTRAINT`
    /// only from 8.0.19, so CHECK serves every MySQL that enforces one), `DROP CONSTRAINT
    /// name` on MariaDB (10.2.1+).
    pub fn drop_check_keyword(self) -> &'static str {
        if self.is_mariadb() {
            "CONSTRAINT"
        } else {
            "CHECK"
        }
    }

    /// Whether `ALTER TABLE t DROP COLUMN a, MODIFY COLUMN b <definition>, ALGORITHM=INPLACE,
    /// LOCK=NONE` rebuilds the table, when the definition differs from b's current one at most by
    /// its DEFAULT and by adding NOT NULL (`adds_not_null`). Making a column NOT NULL rebuilds on
    /// both (MySQL manual, "Online DDL Operations": "Making a column NOT NULL ... Rebuilds Table:
    /// Yes"; seen on MariaDB 10.11). Without it, the drop rebuilds unless
    /// [`INPLACE_DROP_COLUMN_KEEPS_TABLE`]. One exception this rule cannot know: on MariaDB a
    /// multi-column index containing `a` is rebuilt without it, and that rebuilds the table
    /// (seen on 10.11); callers say so.
    pub fn drop_and_modify_column_rebuilds(self, adds_not_null: bool) -> bool {
        adds_not_null || !INPLACE_DROP_COLUMN_KEEPS_TABLE.holds(self)
    }

    /// True when this server's claims are checked by Lockstep's live verification (MariaDB);
    /// MySQL behaviour comes from the manual only.
    pub fn verified_here(self) -> bool {
        self.is_mariadb()
    }
}

/// A release: (major, minor, patch).
pub type Release = (u32, u32, u32);

/// The releases of one engine a fact holds on: from `from` on, up to the fix of the
/// release's series when the fact is a defect (`fixed_in`: the first fixed release of each
/// series that got the fix, oldest first; every series after the last one is fixed from its
/// start, every series before it without a fix of its own stays affected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Releases {
    pub from: Release,
    pub fixed_in: &'static [Release],
}

/// A fact true on every release of the engine this build plans for.
pub const ALWAYS: Option<Releases> = since(0, 0, 0);
/// A fact true on no release of the engine.
pub const NEVER: Option<Releases> = None;

/// A fact true from `major.minor.patch` on.
pub const fn since(major: u32, minor: u32, patch: u32) -> Option<Releases> {
    Some(Releases {
        from: (major, minor, patch),
        fixed_in: &[],
    })
}

/// A defect present from `from` until the series' release in `fixed_in`.
pub const fn until_fixed(from: Release, fixed_in: &'static [Release]) -> Option<Releases> {
    Some(Releases { from, fixed_in })
}

impl Releases {
    /// True on `v`. An unknown patch counts as the series' first release for a behaviour
    /// that starts (it is not assumed present) and as any release of the series for a defect
    /// (it is not assumed fixed); an unknown minor counts as `.0`.
    pub fn holds(&self, v: Version) -> bool {
        let (major, minor, patch) = self.from;
        if self.fixed_in.is_empty() {
            return v.at_least_patch(major, minor, patch);
        }
        let series = (v.major, v.minor.unwrap_or(0));
        let first = match series.cmp(&(major, minor)) {
            std::cmp::Ordering::Less => return false,
            std::cmp::Ordering::Equal => patch,
            std::cmp::Ordering::Greater => 0,
        };
        let fix = self.fixed_in.iter().find(|&&(m, n, _)| (m, n) == series);
        let end = match fix {
            Some(&(_, _, fixed_patch)) => fixed_patch,
            None if self.fixed_in.iter().all(|&(m, n, _)| (m, n) < series) => return false,
            None => u32::MAX,
        };
        match v.patch {
            Some(p) => first <= p && p < end,
            None => first < end,
        }
    }
}

impl std::fmt::Display for Releases {
    /// "8.0.12", "every release", "8.0.29, fixed in 8.0.32".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let release = |(a, b, c): Release| format!("{a}.{b}.{c}");
        if self.from == (0, 0, 0) {
            write!(f, "every release")?;
        } else {
            write!(f, "{}", release(self.from))?;
        }
        if !self.fixed_in.is_empty() {
            let fixes: Vec<String> = self.fixed_in.iter().map(|&r| release(r)).collect();
            write!(f, ", fixed in {}", fixes.join(", "))?;
        }
        Ok(())
    }
}

/// How a fact is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A live verifier case (`change/case`) on MariaDB 10.11 whose claims depend on the fact.
    Case(&'static str),
    /// Seen on the named MariaDB release by hand; no standing verifier case exercises it.
    Observed(&'static str),
    /// From the manual, the Knowledge Base or release notes only. Every MySQL-only fact is
    /// this: no MySQL server runs here.
    Documented,
}

/// A behaviour of the MySQL family, with the releases of each engine it holds on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    pub name: &'static str,
    /// What the fact says: its doc comment's lines.
    pub says: &'static [&'static str],
    /// The MySQL releases it holds on; `None`: no MySQL release.
    pub mysql: Option<Releases>,
    /// The MariaDB releases it holds on; `None`: no MariaDB release.
    pub mariadb: Option<Releases>,
    /// Where the MySQL reference manual (or release notes) says so.
    pub source_mysql: &'static str,
    /// Where the MariaDB Knowledge Base (or release notes, or MDEV) says so.
    pub source_mariadb: &'static str,
    pub proof: Proof,
}

impl Fact {
    /// True on `server`.
    pub fn holds(&self, server: Server) -> bool {
        let releases = match server.engine {
            Engine::Mysql => self.mysql,
            Engine::Mariadb => self.mariadb,
            Engine::Postgresql => None,
        };
        releases.is_some_and(|r| r.holds(server.version))
    }

    /// The doc comment as one line.
    pub fn description(&self) -> String {
        let lines: Vec<&str> = self.says.iter().map(|l| l.trim()).collect();
        lines.join(" ")
    }
}

/// Declares each fact as a constant of its name and lists them all in [`FACTS`].
macro_rules! facts {
    ($($(#[doc = $doc:literal])+ $name:ident {
        mysql: $mysql:expr, $source_mysql:literal,
        mariadb: $mariadb:expr, $source_mariadb:literal,
        proof: $proof:expr $(,)?
    })+) => {
        $(
            $(#[doc = $doc])+
            pub const $name: Fact = Fact {
                name: stringify!($name),
                says: &[$($doc),+],
                mysql: $mysql,
                mariadb: $mariadb,
                source_mysql: $source_mysql,
                source_mariadb: $source_mariadb,
                proof: $proof,
            };
        )+
        /// Every MySQL-family version fact, for the verifier's cross-check and the documentation.
        pub const FACTS: &[Fact] = &[$($name),+];
    };
}

facts! {
    /// ADD COLUMN as the last column is INSTANT. MariaDB 10.3.0-10.3.6 were pre-releases,
    /// refused by `Server::pre_ga_release_of`, so `mariadb@10.3` counts as having it; MySQL
    /// 8.0.11 was GA, so `mysql@8.0` without a patch does not.
    INSTANT_ADD_COLUMN_LAST {
        mysql: since(8, 0, 12), "manual 8.0, \"Online DDL Operations\", \"Adding a column\"",
        mariadb: since(10, 3, 0), "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\", \"Adding a Column\" (10.3.2)",
        proof: Proof::Case("add-column/nullable"),
    }
    /// SET DEFAULT / DROP DEFAULT of a column is INSTANT (metadata only); before, in place
    /// without a rebuild.
    INSTANT_COLUMN_DEFAULT {
        mysql: since(8, 0, 12), "manual 8.0, \"Online DDL Operations\", \"Setting a column default value\", \"Dropping a column default value\"",
        mariadb: since(10, 3, 0), "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\", \"ALTER TABLE ... ALTER COLUMN ... SET DEFAULT\"",
        proof: Proof::Case("set-default/online"),
    }
    /// Appending members at the end of an ENUM (within 255 members) is INSTANT; before, in
    /// place without a rebuild.
    INSTANT_ENUM_APPEND {
        mysql: since(8, 0, 12), "manual 8.0, \"Online DDL Operations\", \"Modifying the definition of an ENUM or SET column\"",
        mariadb: since(10, 3, 0), "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\", \"Adding a New ENUM Option\"",
        proof: Proof::Case("add-enum-value/online"),
    }
    /// ADD COLUMN at any position and DROP COLUMN are INSTANT.
    INSTANT_ADD_DROP_ANYWHERE {
        mysql: since(8, 0, 29), "manual 8.0, \"Online DDL Operations\", \"Adding a column\", \"Dropping a column\"",
        mariadb: since(10, 4, 0), "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\", \"Dropping a Column\", \"Reordering Columns\"",
        proof: Proof::Case("drop-column/online"),
    }
    /// The server counts row versions: at most 64 INSTANT ADD/DROP COLUMN per table before a
    /// rebuild is required (`INFORMATION_SCHEMA.INNODB_TABLES.TOTAL_ROW_VERSIONS`).
    INSTANT_ROW_VERSIONS_COUNTED {
        mysql: since(8, 0, 29), "manual 8.0, \"Online DDL Operations\", \"Adding a column\" (TOTAL_ROW_VERSIONS, 64)",
        mariadb: NEVER, "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\": no such limit",
        proof: Proof::Documented,
    }
    /// An INSTANT ADD COLUMN is refused (ERROR 4158, "Please try ALGORITHM=INPLACE/COPY") when
    /// the table's internal representation (user columns, the three hidden ones and columns
    /// dropped instantly) would cross 1022 columns. MariaDB tables stop at 1017 user columns
    /// whatever the algorithm.
    INSTANT_ADD_CAPS_INTERNAL_COLUMNS {
        mysql: since(8, 0, 12), "manual 8.0, \"Online DDL Operations\", \"Adding a column\"",
        mariadb: NEVER, "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\": no such cap",
        proof: Proof::Documented,
    }
    /// An INSTANT ADD COLUMN whose new maximum row size crosses the permissible one is refused
    /// (ERROR 4092, "Try ALGORITHM=INPLACE/COPY"); before, the column was added and only later
    /// INSERTs and UPDATEs checked the row size.
    INSTANT_ADD_CHECKS_ROW_SIZE {
        mysql: since(8, 0, 29), "manual 8.0, \"Online DDL Operations\", \"Adding a column\"",
        mariadb: NEVER, "",
        proof: Proof::Documented,
    }
    /// Redo-log and corruption defects on tables with instantly added or dropped columns
    /// (8.0.29 was withdrawn). MariaDB's own are listed by release in `INSTANT_COLUMN_BUGS`.
    INSTANT_COLUMN_DEFECT {
        mysql: until_fixed((8, 0, 29), &[(8, 0, 32)]), "release notes 8.0.29 (withdrawn) to 8.0.32",
        mariadb: NEVER, "",
        proof: Proof::Documented,
    }
    /// `ALGORITHM=NOCOPY`: in place, and refused ("ALGORITHM=NOCOPY is not supported ... Try
    /// ALGORITHM=INPLACE") whenever the operation would rebuild the table. MySQL has none: its
    /// INPLACE rebuilds silently when the operation needs it. 10.3.0-10.3.6 are refused as
    /// pre-releases, so `mariadb@10.3` counts.
    NOCOPY {
        mysql: NEVER, "manual, \"ALTER TABLE\": ALGORITHM is DEFAULT, INSTANT, INPLACE or COPY",
        mariadb: since(10, 3, 0), "KB, \"InnoDB Online DDL Overview\": \"NOCOPY - added in MariaDB 10.3.7\"",
        proof: Proof::Case("add-index/online"),
    }
    /// MySQL refuses any LOCK clause next to ALGORITHM=INSTANT ("Incorrect usage of
    /// ALGORITHM=INSTANT and LOCK=NONE/SHARED/EXCLUSIVE"); MariaDB accepts LOCK=NONE with it.
    LOCK_CLAUSE_WITH_INSTANT {
        mysql: NEVER, "manual 8.0, \"ALTER TABLE\", \"ALGORITHM=INSTANT\"",
        mariadb: ALWAYS, "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\" (ALGORITHM=INSTANT, LOCK=NONE)",
        proof: Proof::Case("add-column/nullable"),
    }
    /// `ALTER TABLE ... RENAME COLUMN a TO b`. Before, only `CHANGE a b <full definition>`.
    RENAME_COLUMN {
        mysql: since(8, 0, 0), "manual 8.0, \"ALTER TABLE\", \"Renaming, Redefining, and Reordering Columns\"",
        mariadb: since(10, 5, 2), "KB, \"ALTER TABLE\", \"RENAME COLUMN\"",
        proof: Proof::Documented,
    }
    /// RENAME COLUMN is INSTANT (metadata only); INPLACE without a rebuild before that on
    /// MySQL.
    INSTANT_RENAME_COLUMN {
        mysql: since(8, 0, 28), "manual 8.0, \"Online DDL Operations\", \"Renaming a column\"",
        mariadb: ALWAYS, "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\", \"Renaming a Column\" (10.3+)",
        proof: Proof::Documented,
    }
    /// Renaming a column another table's foreign key references is INSTANT. MySQL permits it
    /// with ALGORITHM=INPLACE only: INSTANT and COPY fail.
    INSTANT_RENAME_REFERENCED_COLUMN {
        mysql: NEVER, "manual 8.0, \"Online DDL Operations\", \"Renaming a column\"",
        mariadb: ALWAYS, "",
        proof: Proof::Observed("10.11, the referenced and the referencing column"),
    }
    /// `ALTER TABLE t DROP COLUMN a, ALGORITHM=INPLACE` keeps the table: INPLACE does whatever
    /// INSTANT or NOCOPY can. MySQL's INPLACE is its rebuilding algorithm ("Dropping a column
    /// ... In Place: Yes, Rebuilds Table: Yes"; its instant drop is ALGORITHM=INSTANT only).
    INPLACE_DROP_COLUMN_KEEPS_TABLE {
        mysql: NEVER, "manual 8.0, \"Online DDL Operations\", \"Dropping a column\"",
        mariadb: since(10, 4, 0), "KB, \"InnoDB Online DDL Operations with the INPLACE Alter Algorithm\", \"Supported Operations by Inheritance\"",
        proof: Proof::Observed("10.11, InnoDB TABLE_ID unchanged"),
    }
    /// Extending a VARCHAR whose old maximum is at most 127 bytes needs no copy whatever the
    /// new length: its one-byte lengths read the same as two-byte ones (checked on 10.11:
    /// utf8mb4 31 -> 64 characters INSTANT, 32 -> 64 refused even INPLACE; latin1 100 -> 300
    /// INSTANT, 200 -> 300 refused; utf8mb3 42 -> 86 INSTANT, 43 -> 86 refused).
    VARCHAR_SHORT_LENGTHS_EXTEND_ANYWHERE {
        mysql: NEVER, "manual 8.0, \"Online DDL Operations\", \"Extending VARCHAR column size\" (the length bytes must keep their size)",
        mariadb: since(10, 4, 3), "MDEV-15563",
        proof: Proof::Observed("10.11"),
    }
    /// A VARCHAR extension that needs no copy is INSTANT; on MySQL it is INPLACE without a
    /// rebuild ("In Place: Yes, Rebuilds Table: No, Permits Concurrent DML: Yes").
    VARCHAR_EXTEND_INSTANT {
        mysql: NEVER, "manual 8.0, \"Online DDL Operations\", \"Extending VARCHAR column size\"",
        mariadb: ALWAYS, "KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\", \"Changing the Data Type of a Column\" (10.2.2+)",
        proof: Proof::Case("change-type/varchar-widen"),
    }
    /// Functional key parts, `ADD INDEX i ((lower(email)))`. MariaDB has none: index a
    /// generated column.
    FUNCTIONAL_KEY_PARTS {
        mysql: since(8, 0, 13), "manual 8.0, \"CREATE INDEX\", \"Functional Key Parts\"",
        mariadb: NEVER, "KB, \"Generated Columns\" (index a generated column instead)",
        proof: Proof::Documented,
    }
    /// `DESC` in an index key builds a descending index (MySQL 5.7 parses it and ignores it).
    DESCENDING_INDEXES {
        mysql: since(8, 0, 0), "manual 8.0, \"Descending Indexes\"",
        mariadb: since(10, 8, 0), "KB, \"Descending Indexes\"",
        proof: Proof::Case("add-index/descending"),
    }
    /// Invisible (MySQL) / ignored (MariaDB) indexes: the optimizer stops using an index while
    /// it is still maintained, so a DROP INDEX can be rehearsed and undone.
    INDEX_VISIBILITY {
        mysql: since(8, 0, 0), "manual 8.0, \"Invisible Indexes\"",
        mariadb: since(10, 6, 0), "KB, \"Ignored Indexes\"",
        proof: Proof::Case("drop-index/online"),
    }
    /// Changing an index's visibility is INSTANT (`ALTER INDEX i [NOT] IGNORED,
    /// ALGORITHM=INSTANT, LOCK=NONE`). MySQL documents `ALTER INDEX i [IN]VISIBLE` as INPLACE by
    /// default and promises no INSTANT, so plans write `ALGORITHM=INPLACE, LOCK=NONE` there.
    INSTANT_INDEX_VISIBILITY {
        mysql: NEVER, "WL#8697 (Invisible Indexes), NF-4",
        mariadb: ALWAYS, "",
        proof: Proof::Case("drop-index/online"),
    }
    /// CHECK constraints are enforced; MySQL 5.7 and 8.0.0-8.0.15 parse them and ignore them.
    ENFORCES_CHECK {
        mysql: since(8, 0, 16), "manual 8.0, \"CHECK Constraints\"",
        mariadb: ALWAYS, "KB, \"CONSTRAINT\" (10.2.1+)",
        proof: Proof::Case("add-check/violating-row"),
    }
    /// A BEFORE INSERT trigger may fill a NOT NULL column without a DEFAULT that the INSERT
    /// leaves out: NOT NULL is checked after BEFORE triggers. MySQL refuses such an INSERT
    /// before the trigger runs ("Field ... doesn't have a default value").
    BEFORE_INSERT_TRIGGER_FILLS_NOT_NULL {
        mysql: NEVER, "",
        mariadb: ALWAYS, "MDEV-8605 (10.1)",
        proof: Proof::Observed("10.11, strict mode"),
    }
    /// `performance_schema.metadata_locks` is on by default (5.7 needs the mdl instrument
    /// enabled; MariaDB ships performance_schema off by default).
    METADATA_LOCKS_TABLE {
        mysql: since(8, 0, 0), "manual 8.0, \"The metadata_locks Table\"",
        mariadb: NEVER, "KB, \"performance_schema\" (off by default)",
        proof: Proof::Documented,
    }
    /// `information_schema.columns.srs_id` (a spatial column's SRID attribute) exists.
    SRS_ID {
        mysql: since(8, 0, 0), "manual 8.0, \"The INFORMATION_SCHEMA COLUMNS Table\"",
        mariadb: NEVER, "KB, \"Information Schema COLUMNS Table\"",
        proof: Proof::Documented,
    }
    /// `SHOW REPLICA STATUS`; `SHOW SLAVE STATUS` before.
    SHOW_REPLICA_STATUS {
        mysql: since(8, 0, 22), "manual 8.0, \"SHOW REPLICA STATUS Statement\"",
        mariadb: since(10, 5, 1), "KB, \"SHOW REPLICA STATUS\"",
        proof: Proof::Documented,
    }
    /// `CREATE TABLE ... SELECT` is allowed under `enforce_gtid_consistency=ON` (it became
    /// atomic in MySQL 8.0.21). MariaDB's GTIDs have no such restriction.
    CREATE_TABLE_SELECT_WITH_GTID {
        mysql: since(8, 0, 21), "manual 8.0, \"Restrictions on Replication with GTIDs\"",
        mariadb: ALWAYS, "KB, \"Global Transaction ID\"",
        proof: Proof::Documented,
    }
    /// `CREATE TRIGGER IF NOT EXISTS`.
    TRIGGER_IF_NOT_EXISTS {
        mysql: since(8, 0, 29), "manual 8.0, \"CREATE TRIGGER Statement\"",
        mariadb: since(10, 1, 4), "KB, \"CREATE TRIGGER\"",
        proof: Proof::Case("split-table/online"),
    }
    /// DROP TABLE walks the buffer pool for the dropped table's pages or drops their adaptive
    /// hash index entries under a latch every query needs, so a large table (and a large buffer
    /// pool) stalls the whole server for seconds. MySQL before 8.0.23 evicts the pages (bug
    /// #98869); 8.0.23 frees them lazily but still drops the adaptive hash index entries at
    /// once (bug #113312, seen on 8.0.35), and `innodb_adaptive_hash_index` is ON by default
    /// until 8.4. MariaDB frees them lazily from MDEV-22456 (10.5 also turned the adaptive
    /// hash index OFF by default). Every version still deletes the file, which scales with
    /// its size.
    DROP_TABLE_WALKS_CACHED_PAGES {
        mysql: until_fixed((0, 0, 0), &[(8, 4, 0)]), "MySQL blog \"A 250x improvement to tablespace truncation in MySQL Server 8.0.23\"; manual 8.4, \"Adaptive Hash Index\" (OFF by default)",
        mariadb: until_fixed((0, 0, 0), &[(10, 3, 24), (10, 4, 14), (10, 5, 4)]), "MDEV-22456 (release notes 10.3.24, 10.4.14, 10.5.4)",
        proof: Proof::Documented,
    }
    /// Spirit (online schema change tool) supports the server.
    SPIRIT_SUPPORTED {
        mysql: since(8, 0, 0), "Spirit's README (MySQL 8.0 and later)",
        mariadb: NEVER, "Spirit's README",
        proof: Proof::Documented,
    }
    /// gh-ost supports the server (5.7+, reads its binlog). MariaDB is not supported by
    /// gh-ost's maintainers (different GTID and binlog formats).
    GHOST_SUPPORTED {
        mysql: ALWAYS, "gh-ost's README, \"Requirements and limitations\"",
        mariadb: NEVER, "gh-ost's README, \"Requirements and limitations\"",
        proof: Proof::Documented,
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
            &crate::request::params::Params::new()
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
        assert!(!INSTANT_ADD_COLUMN_LAST.holds(mysql(8, 0, Some(11))));
        assert!(INSTANT_ADD_COLUMN_LAST.holds(mysql(8, 0, Some(12))));
        assert!(!INSTANT_ADD_COLUMN_LAST.holds(mysql(5, 7, None)));
        assert!(!INSTANT_ADD_DROP_ANYWHERE.holds(mysql(8, 0, Some(28))));
        assert!(INSTANT_ADD_DROP_ANYWHERE.holds(mysql(8, 0, Some(29))));
        assert!(INSTANT_ADD_DROP_ANYWHERE.holds(mysql(8, 4, None)));
        assert!(INSTANT_COLUMN_DEFECT.holds(mysql(8, 0, Some(30))));
        assert!(INSTANT_COLUMN_DEFECT.holds(mysql(8, 0, None)));
        assert!(!INSTANT_COLUMN_DEFECT.holds(mysql(8, 0, Some(32))));
        assert!(!INSTANT_COLUMN_DEFECT.holds(mysql(8, 4, None)));
        assert!(INSTANT_ADD_COLUMN_LAST.holds(mariadb(10, 3)));
        assert!(!INSTANT_ADD_DROP_ANYWHERE.holds(mariadb(10, 3)));
        assert!(INSTANT_ADD_DROP_ANYWHERE.holds(mariadb(10, 4)));
        assert!(!RENAME_COLUMN.holds(mariadb(10, 4)));
        assert!(RENAME_COLUMN.holds(mariadb(10, 11)));
        assert_eq!(mariadb(10, 5).index_visibility_clause(false), None);
        assert_eq!(
            mariadb(10, 11).index_visibility_clause(false),
            Some("IGNORED")
        );
        assert_eq!(
            mysql(8, 0, Some(35)).index_visibility_clause(false),
            Some("INVISIBLE")
        );
        assert!(!ENFORCES_CHECK.holds(mysql(8, 0, Some(15))));
    }

    #[test]
    fn instant_column_limits_by_server() {
        assert_eq!(mysql(8, 0, Some(12)).instant_column_cap(), Some(1022));
        assert_eq!(mysql(8, 0, Some(11)).instant_column_cap(), None);
        assert_eq!(mariadb(10, 11).instant_column_cap(), None);
        assert!(!INSTANT_ADD_CHECKS_ROW_SIZE.holds(mysql(8, 0, Some(28))));
        assert!(INSTANT_ADD_CHECKS_ROW_SIZE.holds(mysql(8, 0, Some(29))));
        assert!(!INSTANT_ADD_CHECKS_ROW_SIZE.holds(mariadb(10, 11)));
        assert!(!INSTANT_RENAME_REFERENCED_COLUMN.holds(mysql(8, 4, None)));
        assert!(INSTANT_RENAME_REFERENCED_COLUMN.holds(mariadb(10, 11)));
    }

    #[test]
    fn index_visibility_rules() {
        assert!(INSTANT_INDEX_VISIBILITY.holds(mariadb(10, 11)));
        assert!(!INSTANT_INDEX_VISIBILITY.holds(mysql(8, 0, Some(35))));
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
        assert!(BEFORE_INSERT_TRIGGER_FILLS_NOT_NULL.holds(mariadb(10, 11)));
        assert!(!BEFORE_INSERT_TRIGGER_FILLS_NOT_NULL.holds(mysql(8, 0, Some(35))));
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
        assert!(VARCHAR_EXTEND_INSTANT.holds(mariadb(10, 11)));
        assert!(!VARCHAR_EXTEND_INSTANT.holds(mysql(5, 7, None)));
        assert_eq!(mysql(8, 0, Some(35)).drop_check_keyword(), "CHECK");
        assert_eq!(mariadb(10, 6).drop_check_keyword(), "CONSTRAINT");
        assert!(!CREATE_TABLE_SELECT_WITH_GTID.holds(mysql(8, 0, Some(20))));
        assert!(CREATE_TABLE_SELECT_WITH_GTID.holds(mysql(8, 0, Some(21))));
        assert!(CREATE_TABLE_SELECT_WITH_GTID.holds(mariadb(10, 3)));
        assert!(!TRIGGER_IF_NOT_EXISTS.holds(mysql(8, 0, Some(28))));
        assert!(TRIGGER_IF_NOT_EXISTS.holds(mysql(8, 4, None)));
        assert!(TRIGGER_IF_NOT_EXISTS.holds(mariadb(10, 3)));
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
            assert!(NOCOPY.holds(server));
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
            assert!(!NOCOPY.holds(server));
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
        assert!(DROP_TABLE_WALKS_CACHED_PAGES.holds(mysql(5, 7, None)));
        assert!(DROP_TABLE_WALKS_CACHED_PAGES.holds(mysql(8, 0, Some(22))));
        // 8.0.23 evicts lazily, but the adaptive hash index (ON by default) is still dropped at once.
        assert!(DROP_TABLE_WALKS_CACHED_PAGES.holds(mysql(8, 0, Some(35))));
        assert!(!DROP_TABLE_WALKS_CACHED_PAGES.holds(mysql(8, 4, None)));
        assert!(DROP_TABLE_WALKS_CACHED_PAGES.holds(maria(3, Some(23))));
        assert!(!DROP_TABLE_WALKS_CACHED_PAGES.holds(maria(3, Some(24))));
        assert!(DROP_TABLE_WALKS_CACHED_PAGES.holds(maria(4, Some(13))));
        assert!(!DROP_TABLE_WALKS_CACHED_PAGES.holds(maria(4, Some(14))));
        assert!(DROP_TABLE_WALKS_CACHED_PAGES.holds(maria(5, Some(3))));
        assert!(!DROP_TABLE_WALKS_CACHED_PAGES.holds(maria(5, Some(4))));
        // No patch counts as the series' first release: 10.4 may be 10.4.13.
        assert!(DROP_TABLE_WALKS_CACHED_PAGES.holds(maria(4, None)));
        assert!(!DROP_TABLE_WALKS_CACHED_PAGES.holds(mariadb(10, 11)));
    }

    #[test]
    fn every_fact_is_named_once_with_a_source() {
        let mut names: Vec<_> = FACTS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FACTS.len());
        for fact in FACTS {
            assert!(!fact.description().is_empty(), "{}", fact.name);
            assert!(
                fact.mysql.is_none() || !fact.source_mysql.is_empty(),
                "{}: no MySQL source",
                fact.name
            );
            assert!(
                fact.mariadb.is_none()
                    || !fact.source_mariadb.is_empty()
                    || fact.proof != Proof::Documented,
                "{}: neither a MariaDB source nor a MariaDB proof",
                fact.name
            );
            for releases in [fact.mysql, fact.mariadb].into_iter().flatten() {
                assert!(
                    releases.fixed_in.iter().all(|&fix| fix > releases.from),
                    "{}",
                    fact.name
                );
            }
        }
    }

    /// A fact the live verifier (or a hand check on 10.11) is said to show holds on the
    /// MariaDB 10.11 it runs on: a MySQL-only fact can only be documented here.
    #[test]
    fn facts_shown_live_hold_on_mariadb_10_11() {
        for fact in FACTS {
            if fact.proof != Proof::Documented {
                assert!(fact.holds(mariadb(10, 11)), "{}", fact.name);
            }
        }
    }

    #[test]
    fn a_defect_without_a_patch_counts_as_present() {
        let defect = until_fixed((8, 0, 29), &[(8, 0, 32)]).unwrap();
        let v = |minor, patch| Version {
            major: 8,
            minor: Some(minor),
            patch,
        };
        assert!(!defect.holds(v(0, Some(28))));
        assert!(defect.holds(v(0, Some(29))) && defect.holds(v(0, Some(31))));
        assert!(!defect.holds(v(0, Some(32))));
        assert!(defect.holds(v(0, None)));
        assert!(!defect.holds(v(4, None)));
        // A feature without its patch is not assumed present.
        assert!(!since(8, 0, 29).unwrap().holds(v(0, None)));
        // A series between two fixed ones without a fix of its own stays affected.
        let gap = until_fixed((0, 0, 0), &[(10, 3, 24), (10, 5, 4)]).unwrap();
        let m = |minor, patch| Version {
            major: 10,
            minor: Some(minor),
            patch: Some(patch),
        };
        assert!(gap.holds(m(4, 30)) && !gap.holds(m(3, 24)) && !gap.holds(m(6, 0)));
        assert_eq!(
            DROP_TABLE_WALKS_CACHED_PAGES.mariadb.unwrap().to_string(),
            "every release, fixed in 10.3.24, 10.4.14, 10.5.4"
        );
        assert_eq!(INSTANT_ADD_COLUMN_LAST.mysql.unwrap().to_string(), "8.0.12");
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
