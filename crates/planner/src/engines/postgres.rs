//! What PostgreSQL does, by version: every lock level and version boundary the planner relies
//! on lives here, with the documentation section it comes from. `crates/verify` checks these
//! claims on real servers of every major version 10 to 18.

use crate::input::Version;
use crate::plan::Lock;

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
    /// DROP VIEW: ACCESS EXCLUSIVE on the view only; its base table is not locked (docs,
    /// "13.3 Explicit Locking"; read from `pg_locks` on 10.23 and 18.4).
    DropView,
    /// Plain DML: UPDATE batches of a backfill, INSERT ... SELECT copies.
    Dml,
}

impl Statement {
    /// The lock the statement requests on the table it changes; `None` for DML, whose
    /// ROW EXCLUSIVE lock conflicts with no ordinary traffic.
    pub fn lock(self) -> Option<Lock> {
        match self {
            Statement::AlterTableAccessExclusive => Some(Lock::AccessExclusive),
            Statement::AddForeignKeyOrTrigger => Some(Lock::ShareRowExclusive),
            Statement::ValidateConstraint => Some(Lock::ShareUpdateExclusive),
            Statement::CreateIndex => Some(Lock::Share),
            Statement::CreateIndexConcurrently => Some(Lock::ShareUpdateExclusive),
            // DROP INDEX locks the index's table ACCESS EXCLUSIVE; CONCURRENTLY takes
            // SHARE UPDATE EXCLUSIVE (docs, "DROP INDEX").
            Statement::DropIndex => Some(Lock::AccessExclusive),
            Statement::DropIndexConcurrently => Some(Lock::ShareUpdateExclusive),
            Statement::DropView => Some(Lock::AccessExclusive),
            Statement::Dml => None,
        }
    }
}

/// CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY could silently miss rows on 14.0-14.3
/// (fixed in 14.4, release notes 2022-06-16, "Fix CREATE INDEX CONCURRENTLY and REINDEX
/// CONCURRENTLY could build corrupt indexes").
pub fn concurrent_index_corruption_bug(v: Version) -> bool {
    v.major == 14 && !v.at_least(14, 4)
}

/// REINDEX CONCURRENTLY exists from 12 (docs, "REINDEX").
pub fn has_reindex_concurrently(v: Version) -> bool {
    v.major >= 12
}

/// ADD COLUMN with a non-volatile DEFAULT is catalog-only from 11 (attmissingval; release notes 11).
pub fn fast_default(v: Version) -> bool {
    v.major >= 11
}

/// SET NOT NULL skips its full-table scan when a validated CHECK (col IS NOT NULL) proves it,
/// from 12 (docs, "ALTER TABLE ... SET NOT NULL"; release notes 12).
pub fn set_not_null_uses_check(v: Version) -> bool {
    v.major >= 12
}

/// NOT NULL constraints can be added NOT VALID and validated later, from 18 (docs, "ALTER TABLE").
pub fn not_null_not_valid(v: Version) -> bool {
    v.major >= 18
}

/// The lock a foreign-key statement takes on the referenced (parent) table, beside its lock on
/// the referencing table: ADD FOREIGN KEY (NOT VALID or not) takes SHARE ROW EXCLUSIVE on both
/// (9.5+, docs "ALTER TABLE"); VALIDATE CONSTRAINT takes ROW SHARE on the referenced table
/// (SHARE UPDATE EXCLUSIVE on the referencing one); DROP CONSTRAINT of a foreign key takes
/// ACCESS EXCLUSIVE on both (it drops the RI triggers on each). All three read from `pg_locks`
/// on 10.23 and 18.4.
pub fn foreign_key_referenced_lock(stmt: Statement) -> Option<Lock> {
    match stmt {
        Statement::AddForeignKeyOrTrigger => Some(Lock::ShareRowExclusive),
        Statement::ValidateConstraint => Some(Lock::RowShare),
        Statement::AlterTableAccessExclusive => Some(Lock::AccessExclusive),
        _ => None,
    }
}

/// A foreign key can be added NOT VALID to a partitioned table from 18; 11-17 fail with
/// "cannot add NOT VALID foreign key on partitioned table" (release notes 18; seen on 12.22,
/// 17.10 and 18.4).
pub fn fk_not_valid_on_partitioned(v: Version) -> bool {
    v.major >= 18
}

/// `pg_index.indnkeyatts` (key columns apart from INCLUDE columns) exists from 11, with
/// CREATE INDEX ... INCLUDE; on 10 every column of `indkey` is a key column (`indnatts`).
pub fn has_index_include(v: Version) -> bool {
    v.major >= 11
}

/// Procedures and DO blocks may COMMIT between batches from 11 (docs, "Transaction Management").
pub fn do_block_commit(v: Version) -> bool {
    v.major >= 11
}

/// `transaction_timeout` exists from 17.
pub fn has_transaction_timeout(v: Version) -> bool {
    v.major >= 17
}

/// Generated columns are VIRTUAL by default from 18, STORED before (and only STORED exists 12-17).
pub fn has_virtual_generated_columns(v: Version) -> bool {
    v.major >= 18
}

/// Generated columns exist from 12.
pub fn has_generated_columns(v: Version) -> bool {
    v.major >= 12
}

/// `CREATE VIEW ... WITH (security_invoker = true)` exists from 15: the view then checks the
/// base table's privileges and row-level security policies as the querying user, like a direct
/// query. Before 15 a view reads its base table with its owner's rights (docs, "CREATE VIEW").
pub fn has_security_invoker_views(v: Version) -> bool {
    v.major >= 15
}

/// Column types whose ADD COLUMN rewrites the table on every version, whatever the default:
/// serial types (a `nextval()` default, volatile) and identity columns (docs, "ALTER TABLE",
/// notes: "adding ... an identity column ... will require the entire table and its indexes to
/// be rewritten"). Domains with constraints also rewrite; that needs the catalog, so the plan
/// checks it in preflight instead.
pub fn add_column_type_rewrites(data_type: &str) -> bool {
    let lower = data_type.trim().to_ascii_lowercase();
    let serial = ["serial", "serial2", "serial4", "serial8", "smallserial", "bigserial"]
        .contains(&lower.as_str());
    serial || lower.contains("identity")
}

/// Functions whose default value differs per row: an ADD COLUMN ... DEFAULT with one of these
/// rewrites the table on every version. Source: `pg_proc.provolatile = 'v'`.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "clock_timestamp",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "nextval",
    "timeofday",
    "txid_current",
    "setseed",
];

/// Non-volatile functions commonly used in defaults (`now()` and friends are STABLE: evaluated
/// once per statement, so catalog-only from 11).
const NON_VOLATILE_FUNCTIONS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "statement_timestamp",
    "transaction_timestamp",
    "current_user",
    "session_user",
    "lower",
    "upper",
    "coalesce",
    "to_timestamp",
    "make_date",
    "jsonb_build_object",
    "json_build_object",
    "array",
    "interval",
];

/// How a default expression behaves when PostgreSQL evaluates it for existing rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultKind {
    /// Constants and STABLE/IMMUTABLE calls: one value for every existing row.
    NonVolatile,
    /// A known volatile function: one value per row, so the table is rewritten.
    Volatile,
    /// A call the planner does not know: treated as volatile, the safe reading.
    Unknown,
}

/// Classifies a default expression by the function calls it contains.
pub fn classify_default(expr: &str) -> DefaultKind {
    let lower = expr.to_ascii_lowercase();
    let mut kind = DefaultKind::NonVolatile;
    for name in function_calls(&lower) {
        if VOLATILE_FUNCTIONS.contains(&name.as_str()) {
            return DefaultKind::Volatile;
        }
        if !NON_VOLATILE_FUNCTIONS.contains(&name.as_str()) {
            kind = DefaultKind::Unknown;
        }
    }
    kind
}

/// Names directly followed by `(`, outside string literals.
fn function_calls(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    let mut in_string = false;
    for c in expr.chars() {
        if c == '\'' {
            in_string = !in_string;
            current.clear();
            continue;
        }
        if in_string {
            continue;
        }
        if c.is_alphanumeric() || c == '_' || c == '.' {
            current.push(c);
        } else {
            if c == '(' && !current.is_empty() && !current.starts_with(|d: char| d.is_ascii_digit())
            {
                let base = current.rsplit('.').next().unwrap_or(&current).to_string();
                names.push(base);
            }
            if !c.is_whitespace() || c == '(' {
                current.clear();
            }
            if c.is_whitespace() {
                // `now ()` is still a call; keep the name across spaces.
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        assert_eq!(classify_default("false"), DefaultKind::NonVolatile);
        assert_eq!(classify_default("'pending'"), DefaultKind::NonVolatile);
        assert_eq!(classify_default("now()"), DefaultKind::NonVolatile);
        assert_eq!(classify_default("gen_random_uuid()"), DefaultKind::Volatile);
        assert_eq!(
            classify_default("pg_catalog.random()"),
            DefaultKind::Volatile
        );
        assert_eq!(classify_default("my_func()"), DefaultKind::Unknown);
        assert_eq!(classify_default("'random()'"), DefaultKind::NonVolatile);
    }

    #[test]
    fn boundaries() {
        let v = |major, minor| Version { major, minor };
        assert!(concurrent_index_corruption_bug(v(14, Some(3))));
        assert!(concurrent_index_corruption_bug(v(14, None)));
        assert!(!concurrent_index_corruption_bug(v(14, Some(4))));
        assert!(!concurrent_index_corruption_bug(v(13, Some(3))));
        assert!(!fast_default(v(10, None)) && fast_default(v(11, None)));
    }
}
