//! What PostgreSQL does, by version: the lock each statement takes, every version boundary
//! the planner relies on ([`FACTS`], one table, each fact named once with the release it starts
//! in, its source and the live verifier case that shows it), and the functions that arrived in
//! a release or come from an extension. `crates/verify` runs every case on real servers of
//! every major version 10 to 18.

use crate::model::{Lock, PgLock, Version};

/// Statement shapes the planner emits, and the lock each takes on the target table.
/// Source: PostgreSQL docs, "ALTER TABLE" (lock notes per subcommand), "CREATE INDEX",
/// "DROP INDEX", "13.3 Explicit Locking".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statement {
    /// ADD COLUMN, DROP COLUMN, RENAME, SET/DROP DEFAULT, DROP NOT NULL, SET NOT NULL,
    /// ALTER COLUMN TYPE, ADD CHECK/UNIQUE (with or without NOT VALID), ADD ... USING INDEX,
    /// ADD CONSTRAINT ... NOT NULL col [NOT VALID] (18+), DROP CONSTRAINT.
    AlterTableAccessExclusive,
    /// ADD FOREIGN KEY (9.5+), CREATE TRIGGER, ENABLE/DISABLE TRIGGER.
    AddForeignKeyOrTrigger,
    /// VALIDATE CONSTRAINT (9.4+).
    ValidateConstraint,
    CreateIndex,
    CreateIndexConcurrently,
    DropIndex,
    DropIndexConcurrently,
    /// DROP VIEW: ACCESS EXCLUSIVE on the view only; its base table is not locked at all (read
    /// from `pg_locks` on 10.23 and 18.4). The lock reported is the view's: it is what a client
    /// still using the view's name would wait for.
    DropView,
    /// Plain DML: UPDATE batches of a backfill, INSERT ... SELECT copies.
    Dml,
    /// ALTER TYPE ... RENAME VALUE / ADD VALUE: no lock on any table; an ExclusiveLock on the
    /// enum type itself (object lock on `pg_type`, `RenameEnumLabel` / `AddEnumLabel` in
    /// src/backend/catalog/pg_enum.c; read from `pg_locks` on 11.22 and 12.22: no relation lock
    /// on a table using the type), which only another ALTER of the same type waits for. Reads
    /// and writes of the tables using the type continue (the live verifier's rename-enum-value
    /// and add-enum-value cases, under its writer and reader).
    AlterEnum,
    /// REINDEX INDEX: SHARE on the table (writes wait) and ACCESS EXCLUSIVE on the index; the
    /// planner opens every index of a table it plans a query on, so reads wait too (docs,
    /// "REINDEX": "the query planner tries to take an ACCESS SHARE lock on every index of the
    /// table, regardless of the query"). The lock reported is the table's.
    Reindex,
    /// REINDEX INDEX CONCURRENTLY (12+): SHARE UPDATE EXCLUSIVE on the table and the index.
    ReindexConcurrently,
    /// ANALYZE: SHARE UPDATE EXCLUSIVE, reads a sample; reads and writes continue (docs,
    /// "13.3 Explicit Locking": "Acquired by VACUUM (without FULL), ANALYZE, ...").
    Analyze,
}

impl Statement {
    /// The lock the statement requests on the table it changes; `None` for DML, whose
    /// ROW EXCLUSIVE lock conflicts with no ordinary traffic.
    pub fn lock(self) -> Option<Lock> {
        match self {
            Statement::AlterTableAccessExclusive => Some(Lock::Pg(PgLock::AccessExclusive)),
            Statement::AddForeignKeyOrTrigger => Some(Lock::Pg(PgLock::ShareRowExclusive)),
            Statement::ValidateConstraint => Some(Lock::Pg(PgLock::ShareUpdateExclusive)),
            Statement::CreateIndex => Some(Lock::Pg(PgLock::Share)),
            Statement::CreateIndexConcurrently => Some(Lock::Pg(PgLock::ShareUpdateExclusive)),
            // DROP INDEX locks the index's table ACCESS EXCLUSIVE; CONCURRENTLY takes
            // SHARE UPDATE EXCLUSIVE (docs, "DROP INDEX").
            Statement::DropIndex => Some(Lock::Pg(PgLock::AccessExclusive)),
            Statement::DropIndexConcurrently => Some(Lock::Pg(PgLock::ShareUpdateExclusive)),
            Statement::DropView => Some(Lock::Pg(PgLock::AccessExclusive)),
            Statement::Dml | Statement::AlterEnum => None,
            Statement::Analyze => Some(Lock::Pg(PgLock::ShareUpdateExclusive)),
            Statement::Reindex => Some(Lock::Pg(PgLock::Share)),
            Statement::ReindexConcurrently => Some(Lock::Pg(PgLock::ShareUpdateExclusive)),
        }
    }
}

/// The lock a foreign-key statement takes on the referenced (parent) table, beside its lock on
/// the referencing table: ADD FOREIGN KEY (NOT VALID or not) takes SHARE ROW EXCLUSIVE on both
/// (9.5+, docs "ALTER TABLE"); VALIDATE CONSTRAINT takes ROW SHARE on the referenced table
/// (SHARE UPDATE EXCLUSIVE on the referencing one); DROP CONSTRAINT of a foreign key takes
/// ACCESS EXCLUSIVE on both (it drops the RI triggers on each). All three read from `pg_locks`
/// on 10.23 and 18.4.
pub fn foreign_key_referenced_lock(stmt: Statement) -> Option<Lock> {
    match stmt {
        Statement::AddForeignKeyOrTrigger => Some(Lock::Pg(PgLock::ShareRowExclusive)),
        Statement::ValidateConstraint => Some(Lock::Pg(PgLock::RowShare)),
        Statement::AlterTableAccessExclusive => Some(Lock::Pg(PgLock::AccessExclusive)),
        _ => None,
    }
}

/// How a fact is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// A live verifier case (`change/case`) whose claims depend on the fact, run on every
    /// major version: on both sides of the boundary.
    Case(&'static str),
    /// Read on the named releases by hand; no standing verifier case exercises it.
    Observed(&'static str),
    /// From the documentation or release notes only.
    Documented,
}

/// A behaviour that starts in one PostgreSQL release and, for a defect, ends in the release
/// that fixed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fact {
    pub name: &'static str,
    /// What the fact says: its doc comment's lines.
    pub says: &'static [&'static str],
    /// The first release with the behaviour (major, minor).
    pub from: (u32, u32),
    /// The first release without it again (a defect's fix).
    pub fixed_in: Option<(u32, u32)>,
    /// Where the documentation or release notes say so.
    pub source: &'static str,
    pub proof: Proof,
}

impl Fact {
    /// True on `v`. An unknown minor counts as `.0`, the conservative reading: a fix that
    /// arrived in a minor release is not assumed present.
    pub fn holds(&self, v: Version) -> bool {
        let (major, minor) = self.from;
        v.at_least(major, minor) && self.fixed_in.is_none_or(|(m, n)| !v.at_least(m, n))
    }

    /// The doc comment as one line.
    pub fn description(&self) -> String {
        let lines: Vec<&str> = self.says.iter().map(|l| l.trim()).collect();
        lines.join(" ")
    }
}

/// Declares each fact as a constant of its name and lists them all in [`FACTS`].
macro_rules! facts {
    ($($(#[doc = $doc:literal])+ $name:ident: from $from:expr, $(fixed in $fixed:expr,)? source $source:literal, proof $proof:expr;)+) => {
        $(
            $(#[doc = $doc])+
            pub const $name: Fact = Fact {
                name: stringify!($name),
                says: &[$($doc),+],
                from: $from,
                fixed_in: facts!(@fixed $($fixed)?),
                source: $source,
                proof: $proof,
            };
        )+
        /// Every version fact, for the verifier's cross-check and the documentation.
        pub const FACTS: &[Fact] = &[$($name),+];
    };
    (@fixed $fixed:expr) => { Some($fixed) };
    (@fixed) => { None };
}

facts! {
    /// ADD COLUMN with a non-volatile DEFAULT is catalog-only (`attmissingval`); before, it
    /// rewrites the table.
    FAST_DEFAULT: from (11, 0),
        source "release notes 11; docs \"ALTER TABLE\", Notes",
        proof Proof::Case("add-column/not-null-default");
    /// SET NOT NULL skips its full-table scan when a validated CHECK (col IS NOT NULL) proves it.
    SET_NOT_NULL_USES_CHECK: from (12, 0),
        source "release notes 12; docs \"ALTER TABLE ... SET NOT NULL\"",
        proof Proof::Case("add-not-null/online");
    /// NOT NULL constraints can be added NOT VALID and validated later.
    NOT_NULL_NOT_VALID: from (18, 0),
        source "release notes 18; docs \"ALTER TABLE\"",
        proof Proof::Case("add-not-null/online");
    /// A foreign key can be added NOT VALID to a partitioned table; 11-17 fail with "cannot
    /// add NOT VALID foreign key on partitioned table".
    FK_NOT_VALID_ON_PARTITIONED: from (18, 0),
        source "release notes 18",
        proof Proof::Observed("12.22, 17.10 and 18.4");
    /// `pg_index.indnkeyatts` (key columns apart from INCLUDE columns) exists, with CREATE
    /// INDEX ... INCLUDE; on 10 every column of `indkey` is a key column (`indnatts`).
    INDEX_INCLUDE: from (11, 0),
        source "release notes 11; docs \"pg_index\"",
        proof Proof::Case("add-foreign-key/online");
    /// Procedures and DO blocks may COMMIT between batches.
    DO_BLOCK_COMMIT: from (11, 0),
        source "docs \"Transaction Management\" (11)",
        proof Proof::Case("change-type/int-to-bigint");
    /// Generated columns exist (only STORED until 18).
    GENERATED_COLUMNS: from (12, 0),
        source "release notes 12; docs \"Generated Columns\"",
        proof Proof::Documented;
    /// Generated columns are VIRTUAL by default, STORED before.
    VIRTUAL_GENERATED_COLUMNS: from (18, 0),
        source "release notes 18; docs \"Generated Columns\"",
        proof Proof::Documented;
    /// `CREATE VIEW ... WITH (security_invoker = true)`: the view checks the base table's
    /// privileges and row-level security policies as the querying user, like a direct query.
    /// Before, a view reads its base table with its owner's rights.
    SECURITY_INVOKER_VIEWS: from (15, 0),
        source "docs \"CREATE VIEW\" (15)",
        proof Proof::Case("rename-table/online");
    /// timestamp <-> timestamptz skips the table rewrite when the session TimeZone is UTC (a
    /// rewrite on 10.23 and 11.22 whatever the TimeZone, none on 12.22, 15.18 and 18.4 under
    /// UTC, a rewrite under Europe/Paris).
    TIMESTAMPTZ_UTC_SKIPS_REWRITE: from (12, 0),
        source "release notes 12",
        proof Proof::Case("change-type/timestamp-to-timestamptz-direct");
    /// `CREATE TRIGGER ... EXECUTE FUNCTION`; 10 only knows `EXECUTE PROCEDURE`, which every
    /// later version still accepts.
    TRIGGER_EXECUTE_FUNCTION: from (11, 0),
        source "docs \"CREATE TRIGGER\" (11)",
        proof Proof::Case("change-type/int-to-bigint");
    /// A serial column's sequence keeps its data type when the column becomes bigint: a
    /// sequence created by `serial` is `AS integer` (max 2147483647) and stays so after ALTER
    /// COLUMN TYPE bigint, so it needs `ALTER SEQUENCE ... AS bigint`. An identity column's
    /// sequence is converted with the column.
    SERIAL_SEQUENCE_KEEPS_TYPE: from (10, 0),
        source "docs \"ALTER SEQUENCE\" (the limits follow the new type only when they were the old type's)",
        proof Proof::Case("change-type/int-pk-to-bigint");
    /// `ALTER TYPE ... RENAME VALUE` renames an enum label in place (rows store the label's
    /// OID, so none is rewritten).
    ENUM_RENAME_VALUE: from (10, 0),
        source "release notes 10; docs \"ALTER TYPE\"",
        proof Proof::Case("rename-enum-value/online");
    /// `ALTER TYPE ... ADD VALUE` may run inside a transaction block (the new label is
    /// unusable until that transaction commits); before, it fails there with "ALTER TYPE ...
    /// ADD cannot run inside a transaction block".
    ENUM_ADD_VALUE_IN_TRANSACTION: from (12, 0),
        source "release notes 12; docs \"ALTER TYPE\", Notes",
        proof Proof::Case("add-enum-value/online");
    /// `REINDEX INDEX CONCURRENTLY` exists; 10 and 11 reject the keyword. A failed run leaves
    /// an INVALID `<index>_ccnew` (and possibly `_ccold`) behind.
    REINDEX_CONCURRENTLY: from (12, 0),
        source "release notes 12; docs \"REINDEX\", Rebuilding Indexes Concurrently",
        proof Proof::Case("reindex/online");
    /// CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY could silently miss rows.
    CONCURRENT_INDEX_CORRUPTION: from (14, 0), fixed in (14, 4),
        source "release notes 14.4 (2022-06-16): \"Fix CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY could build corrupt indexes\"",
        proof Proof::Documented;
}

/// The keyword between `EXECUTE` and the trigger function's name.
pub fn trigger_execute_keyword(v: Version) -> &'static str {
    if TRIGGER_EXECUTE_FUNCTION.holds(v) {
        "FUNCTION"
    } else {
        "PROCEDURE"
    }
}

/// `server_version_num` of a version (10+: major * 10000 + minor); an unknown minor is 0.
pub fn version_num(v: Version) -> u32 {
    v.major * 10_000 + v.minor.unwrap_or(0)
}

/// The newest minor release of each major this build knows (release notes, "Release
/// x.y"; the servers `crates/verify` runs): a version given without its minor is compared
/// across `x.0` to this.
pub fn latest_minor(major: u32) -> u32 {
    match major {
        10 => 23,
        11 | 12 => 22,
        13 => 23,
        14 => 23,
        15 => 18,
        16 => 14,
        17 => 10,
        18 => 4,
        _ => 0,
    }
}

// ---- Where the functions an expression calls come from, by version ----

/// Where a function that defaults and USING expressions call comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionFact {
    pub name: &'static str,
    /// The first major version that has it built in (`None`: no version does).
    pub built_in_from: Option<u32>,
    /// The extension that provides it where it is not built in (`None`: none does).
    pub extension: Option<&'static str>,
    /// Where this is documented.
    pub source: &'static str,
}

const PGCRYPTO_DOC: &str = "docs, \"pgcrypto\" (F.26 on 16): Random-Data Functions, General Hashing Functions, Password Hashing Functions";
const UUID_OSSP_DOC: &str =
    "docs, \"uuid-ossp\" (F.48 on 16): every function comes from the extension, on every version";

/// Functions whose availability depends on the version or on an extension.
pub const FUNCTION_FACTS: &[FunctionFact] = &[
    FunctionFact {
        name: "gen_random_uuid",
        built_in_from: Some(13),
        extension: Some("pgcrypto"),
        source: "release notes 13 (\"Add function gen_random_uuid() to generate version-4 UUIDs ... previously only available in contrib/pgcrypto\"); docs 13, \"UUID Functions\"",
    },
    FunctionFact {
        name: "uuidv7",
        built_in_from: Some(18),
        extension: None,
        source: "release notes 18 (\"Add function uuidv7() ... and alias uuidv4()\"); docs 18, \"UUID Functions\"",
    },
    FunctionFact {
        name: "uuidv4",
        built_in_from: Some(18),
        extension: None,
        source: "release notes 18 (uuidv4() is an alias of gen_random_uuid())",
    },
    FunctionFact {
        name: "gen_random_bytes",
        built_in_from: None,
        extension: Some("pgcrypto"),
        source: PGCRYPTO_DOC,
    },
    FunctionFact {
        name: "digest",
        built_in_from: None,
        extension: Some("pgcrypto"),
        source: PGCRYPTO_DOC,
    },
    FunctionFact {
        name: "hmac",
        built_in_from: None,
        extension: Some("pgcrypto"),
        source: PGCRYPTO_DOC,
    },
    FunctionFact {
        name: "crypt",
        built_in_from: None,
        extension: Some("pgcrypto"),
        source: PGCRYPTO_DOC,
    },
    FunctionFact {
        name: "gen_salt",
        built_in_from: None,
        extension: Some("pgcrypto"),
        source: PGCRYPTO_DOC,
    },
    FunctionFact {
        name: "uuid_generate_v1",
        built_in_from: None,
        extension: Some("uuid-ossp"),
        source: UUID_OSSP_DOC,
    },
    FunctionFact {
        name: "uuid_generate_v1mc",
        built_in_from: None,
        extension: Some("uuid-ossp"),
        source: UUID_OSSP_DOC,
    },
    FunctionFact {
        name: "uuid_generate_v3",
        built_in_from: None,
        extension: Some("uuid-ossp"),
        source: UUID_OSSP_DOC,
    },
    FunctionFact {
        name: "uuid_generate_v4",
        built_in_from: None,
        extension: Some("uuid-ossp"),
        source: UUID_OSSP_DOC,
    },
    FunctionFact {
        name: "uuid_generate_v5",
        built_in_from: None,
        extension: Some("uuid-ossp"),
        source: UUID_OSSP_DOC,
    },
    FunctionFact {
        name: "uuid_nil",
        built_in_from: None,
        extension: Some("uuid-ossp"),
        source: UUID_OSSP_DOC,
    },
];

/// Where a called function comes from on a given version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionSource {
    /// Built in (or not a function the table knows: the preflight proves it exists).
    BuiltIn,
    /// Only with this extension installed in the database.
    Extension(&'static FunctionFact),
    /// Neither built in on this version nor provided by an extension: only a function of the
    /// user's own of that name can satisfy it.
    NotOnThisVersion(&'static FunctionFact),
}

/// Where `name` (unqualified, as the catalog spells it) comes from on version `v`.
pub fn function_source(name: &str, v: Version) -> FunctionSource {
    let Some(fact) = FUNCTION_FACTS.iter().find(|f| f.name == name) else {
        return FunctionSource::BuiltIn;
    };
    match (fact.built_in_from, fact.extension) {
        (Some(from), _) if v.major >= from => FunctionSource::BuiltIn,
        (_, Some(_)) => FunctionSource::Extension(fact),
        _ => FunctionSource::NotOnThisVersion(fact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_facts() {
        let v = |major| Version::new(major, None);
        assert!(matches!(
            function_source("gen_random_uuid", v(12)),
            FunctionSource::Extension(f) if f.extension == Some("pgcrypto")
        ));
        assert_eq!(
            function_source("gen_random_uuid", v(13)),
            FunctionSource::BuiltIn
        );
        assert!(matches!(
            function_source("uuid_generate_v4", v(18)),
            FunctionSource::Extension(f) if f.extension == Some("uuid-ossp")
        ));
        assert!(matches!(
            function_source("uuidv7", v(17)),
            FunctionSource::NotOnThisVersion(_)
        ));
        assert_eq!(function_source("uuidv7", v(18)), FunctionSource::BuiltIn);
        assert_eq!(function_source("my_fn", v(10)), FunctionSource::BuiltIn);
        assert!(FUNCTION_FACTS.iter().all(|f| !f.source.is_empty()));
    }

    #[test]
    fn boundaries() {
        let v = |major, minor| Version::new(major, minor);
        assert!(CONCURRENT_INDEX_CORRUPTION.holds(v(14, Some(3))));
        assert!(CONCURRENT_INDEX_CORRUPTION.holds(v(14, None)));
        assert!(!CONCURRENT_INDEX_CORRUPTION.holds(v(14, Some(4))));
        assert!(!CONCURRENT_INDEX_CORRUPTION.holds(v(13, Some(3))));
        assert!(!FAST_DEFAULT.holds(v(10, None)) && FAST_DEFAULT.holds(v(11, None)));
        assert_eq!(trigger_execute_keyword(v(10, Some(23))), "PROCEDURE");
    }

    #[test]
    fn every_fact_is_named_once_with_a_source() {
        let mut names: Vec<_> = FACTS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FACTS.len());
        assert!(FACTS.iter().all(|f| !f.source.is_empty()));
        assert!(FACTS
            .iter()
            .all(|f| f.fixed_in.is_none_or(|fix| fix > f.from)));
    }
}
