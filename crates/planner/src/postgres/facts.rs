//! What PostgreSQL does, by version: every lock level and version boundary the planner relies
//! on lives here, with the documentation section it comes from. `crates/verify` checks these
//! claims on real servers of every major version 10 to 18.

use crate::input::Version;
use crate::plan::{Lock, PgLock};

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
            Statement::Dml => None,
            Statement::Analyze => Some(Lock::Pg(PgLock::ShareUpdateExclusive)),
        }
    }
}

/// CREATE INDEX CONCURRENTLY and REINDEX CONCURRENTLY could silently miss rows on 14.0-14.3
/// (fixed in 14.4, release notes 2022-06-16, "Fix CREATE INDEX CONCURRENTLY and REINDEX
/// CONCURRENTLY could build corrupt indexes").
pub fn concurrent_index_corruption_bug(v: Version) -> bool {
    v.major == 14 && !v.at_least(14, 4)
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
        Statement::AddForeignKeyOrTrigger => Some(Lock::Pg(PgLock::ShareRowExclusive)),
        Statement::ValidateConstraint => Some(Lock::Pg(PgLock::RowShare)),
        Statement::AlterTableAccessExclusive => Some(Lock::Pg(PgLock::AccessExclusive)),
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
    let serial = [
        "serial",
        "serial2",
        "serial4",
        "serial8",
        "smallserial",
        "bigserial",
    ]
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

/// The unqualified names of the functions an expression calls ([`called_functions`]).
fn function_calls(expr: &str) -> Vec<String> {
    called_functions(expr).into_iter().map(|c| c.name).collect()
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

/// A function an expression calls: its schema when written qualified, and its name, both as
/// the catalog spells them (unquoted identifiers folded to lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalledFunction {
    pub schema: Option<String>,
    pub name: String,
}

/// Words that are followed by `(` in SQL but are grammar, not a lookup of a function by that
/// name in `pg_proc`: `coalesce`, `cast`, `trim`, `current_timestamp(3)` ... and the operators
/// and clauses around a parenthesis (`NOT (`, `IN (`). Checking them against the catalog would
/// report them missing (there is no `pg_proc` row named `coalesce` or `trim`).
const CALL_LIKE_KEYWORDS: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "between",
    "case",
    "cast",
    "coalesce",
    "collate",
    "current_time",
    "current_timestamp",
    "distinct",
    "else",
    "exists",
    "extract",
    "filter",
    "from",
    "greatest",
    "grouping",
    "ilike",
    "in",
    "is",
    "least",
    "like",
    "localtime",
    "localtimestamp",
    "not",
    "nullif",
    "on",
    "or",
    "over",
    "overlay",
    "position",
    "row",
    "select",
    "similar",
    "some",
    "substring",
    "then",
    "treat",
    "trim",
    "using",
    "values",
    "when",
    "where",
    "within",
    "xmlelement",
    "xmlforest",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
];

/// One lexical token of an expression, as far as finding calls needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An identifier or keyword, as the catalog spells it; `quoted` if written in `"..."`.
    Name {
        text: String,
        quoted: bool,
    },
    Punct(char),
    /// `::`, a cast: the name after it is a type.
    Cast,
    /// A string or number literal.
    Literal,
}

/// Splits an expression into tokens: string literals (`'...'` with `''`, `E'...'` with
/// backslash escapes) and quoted identifiers kept whole, unquoted identifiers folded.
fn tokens(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            // E'..' allows backslash escapes: the E is the token just before, touching.
            let escapes = matches!(out.last(), Some(Token::Name { text, quoted: false }) if text == "e")
                && i > 0
                && chars[i - 1].eq_ignore_ascii_case(&'e');
            if escapes {
                out.pop();
            }
            i += 1;
            while i < chars.len() {
                if escapes && chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Literal);
        } else if c == '"' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' {
                    if chars.get(i + 1) == Some(&'"') {
                        text.push('"');
                        i += 2;
                        continue;
                    }
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Name { text, quoted: true });
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect::<String>().to_lowercase();
            out.push(Token::Name {
                text,
                quoted: false,
            });
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Literal);
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            i += 2;
            out.push(Token::Cast);
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The functions an expression calls: every name (possibly `schema.name`) followed by `(`,
/// except grammar keywords (`CALL_LIKE_KEYWORDS`) and type names after `::` or `AS` (a
/// cast's `varchar(10)` is a type, not a call).
pub fn called_functions(expr: &str) -> Vec<CalledFunction> {
    let toks = tokens(expr);
    let mut calls: Vec<CalledFunction> = Vec::new();
    for (i, tok) in toks.iter().enumerate() {
        let Token::Name { text, quoted } = tok else {
            continue;
        };
        if toks.get(i + 1) != Some(&Token::Punct('(')) {
            continue;
        }
        if !quoted && CALL_LIKE_KEYWORDS.contains(&text.as_str()) {
            continue;
        }
        // `schema.name(`: the schema is the name two tokens back, across a dot.
        let (schema, first) = match (
            i.checked_sub(2).map(|j| &toks[j]),
            i.checked_sub(1).map(|j| &toks[j]),
        ) {
            (Some(Token::Name { text: s, .. }), Some(Token::Punct('.'))) => {
                (Some(s.clone()), i - 2)
            }
            _ => (None, i),
        };
        let before = first.checked_sub(1).map(|j| &toks[j]);
        let is_type = matches!(before, Some(Token::Cast))
            || matches!(before, Some(Token::Name { text, quoted: false }) if text == "as");
        let call = CalledFunction {
            schema,
            name: text.clone(),
        };
        if !is_type && !calls.contains(&call) {
            calls.push(call);
        }
    }
    calls
}

// ---- ALTER COLUMN ... TYPE: which type changes rewrite (change-type) ----
//
// Source: docs "ALTER TABLE", Notes: "As an exception, when changing the type of an existing
// column, if the USING clause does not change the column contents and the old type is either
// binary coercible to the new type or an unconstrained domain over the new type, a table rewrite
// is not needed; but any indexes on the affected columns must still be rebuilt." Release notes
// 12: changing between timestamp and timestamptz avoids the rewrite when the session time zone
// is UTC. The docs name no types; every rule below was read on real servers 10.23, 11.22, 12.22,
// 15.18 and 18.4 from pg_relation_filenode of the table, of an index on the column and of the
// primary key. Where the docs and the servers differ, the servers win: an index on the column
// keeps its file when its operator class still fits (varchar -> text, numeric widening: the
// index is reused, not rebuilt); it is rebuilt for timestamp <-> timestamptz.

/// A column type, as far as the rewrite rules of ALTER COLUMN TYPE care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnType {
    /// `varchar(n)` / `character varying(n)`; `None`: no length limit.
    Varchar(Option<u32>),
    Text,
    /// `numeric(p,s)`; `numeric(p)` is `numeric(p,0)`; `None`: unconstrained.
    Numeric(Option<(u32, u32)>),
    /// `timestamp(p) [without time zone]`; `None`: default precision.
    Timestamp(Option<u32>),
    /// `timestamptz(p)` / `timestamp(p) with time zone`.
    Timestamptz(Option<u32>),
    Smallint,
    /// `integer` / `int` / `int4`, and `serial` (an integer with a sequence default).
    Integer,
    /// `bigint` / `int8`, and `bigserial`.
    Bigint,
    /// Anything else, normalized (lower case, single spaces): compared as text only.
    Other(String),
}

/// A parsed type and whether it was written as a serial pseudo-type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    pub ty: ColumnType,
    /// `serial`, `bigserial`, `smallserial` (and their `serialN` spellings): not real types;
    /// ALTER COLUMN TYPE rejects them.
    pub serial: bool,
}

/// Parses a type as a user writes it (`varchar(64)`, `character varying`, `numeric(10, 2)`,
/// `timestamp with time zone`, `int4`, `serial`).
pub fn parse_column_type(raw: &str) -> TypeName {
    let mut s = raw.trim().to_ascii_lowercase();
    if let Some(rest) = s.strip_prefix("pg_catalog.") {
        s = rest.to_string();
    }
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = s.replace(" (", "(").replace("( ", "(").replace(" )", ")");
    let s = s.replace(" ,", ",").replace(", ", ",");
    // Split `name(args) suffix`.
    let (name, args, suffix) = match (s.find('('), s.find(')')) {
        (Some(open), Some(close)) if close > open => (
            s[..open].trim().to_string(),
            Some(s[open + 1..close].to_string()),
            s[close + 1..].trim().to_string(),
        ),
        _ => (s.clone(), None, String::new()),
    };
    let nums: Option<Vec<u32>> = args
        .as_deref()
        .map(|a| a.split(',').map(|n| n.trim().parse::<u32>().ok()).collect())
        .unwrap_or(Some(Vec::new()));
    let other = || TypeName {
        ty: ColumnType::Other(s.clone()),
        serial: false,
    };
    let Some(nums) = nums else { return other() };
    let plain = |ty| TypeName { ty, serial: false };
    let one = |nums: &[u32]| match nums {
        [] => Some(None),
        [n] => Some(Some(*n)),
        _ => None,
    };
    let ty = match (name.as_str(), suffix.as_str()) {
        ("varchar" | "character varying", "") => one(&nums).map(ColumnType::Varchar),
        ("text", "") if nums.is_empty() => Some(ColumnType::Text),
        ("numeric" | "decimal", "") => match nums.as_slice() {
            [] => Some(ColumnType::Numeric(None)),
            [p] => Some(ColumnType::Numeric(Some((*p, 0)))),
            [p, s] => Some(ColumnType::Numeric(Some((*p, *s)))),
            _ => None,
        },
        ("timestamp", "" | "without time zone") => one(&nums).map(ColumnType::Timestamp),
        ("timestamp without time zone", "") => one(&nums).map(ColumnType::Timestamp),
        ("timestamptz", "") | ("timestamp", "with time zone") => {
            one(&nums).map(ColumnType::Timestamptz)
        }
        ("timestamp with time zone", "") => one(&nums).map(ColumnType::Timestamptz),
        ("smallint" | "int2", "") if nums.is_empty() => Some(ColumnType::Smallint),
        ("integer" | "int" | "int4", "") if nums.is_empty() => Some(ColumnType::Integer),
        ("bigint" | "int8", "") if nums.is_empty() => Some(ColumnType::Bigint),
        ("serial" | "serial4", "") if nums.is_empty() => {
            return TypeName {
                ty: ColumnType::Integer,
                serial: true,
            }
        }
        ("bigserial" | "serial8", "") if nums.is_empty() => {
            return TypeName {
                ty: ColumnType::Bigint,
                serial: true,
            }
        }
        ("smallserial" | "serial2", "") if nums.is_empty() => {
            return TypeName {
                ty: ColumnType::Smallint,
                serial: true,
            }
        }
        _ => None,
    };
    ty.map_or_else(other, plain)
}

impl ColumnType {
    /// The type as `format_type(atttypid, atttypmod)` prints it, for catalog checks; `None`
    /// for types the planner does not know.
    pub fn format_type(&self) -> Option<String> {
        let p = |n: &Option<u32>| n.map(|n| format!("({n})")).unwrap_or_default();
        Some(match self {
            ColumnType::Varchar(n) => format!("character varying{}", p(n)),
            ColumnType::Text => "text".to_string(),
            ColumnType::Numeric(None) => "numeric".to_string(),
            ColumnType::Numeric(Some((prec, scale))) => format!("numeric({prec},{scale})"),
            ColumnType::Timestamp(n) => format!("timestamp{} without time zone", p(n)),
            ColumnType::Timestamptz(n) => format!("timestamp{} with time zone", p(n)),
            ColumnType::Smallint => "smallint".to_string(),
            ColumnType::Integer => "integer".to_string(),
            ColumnType::Bigint => "bigint".to_string(),
            ColumnType::Other(_) => return None,
        })
    }
}

/// What `ALTER TABLE ... ALTER COLUMN ... TYPE` (without USING) does to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterTypeEffect {
    /// Binary-coercible: ACCESS EXCLUSIVE for a catalog-only moment; the table and every index
    /// (those on the column included) keep their files. CHECK constraints that mention the
    /// column are re-validated (a scan under the lock), and the column's statistics are dropped.
    CatalogOnly,
    /// timestamp <-> timestamptz (unconstrained precision) on 12+ with the session TimeZone
    /// UTC: the table keeps its file, but every index containing the column is rebuilt under
    /// ACCESS EXCLUSIVE (its operator class changes).
    IndexRebuildOnly,
    /// The table and all its indexes are rewritten under ACCESS EXCLUSIVE.
    Rewrite,
}

/// timestamp <-> timestamptz skips the table rewrite when the session TimeZone is UTC, from 12
/// (release notes 12; a rewrite on 10.23 and 11.22 whatever the TimeZone, none on 12.22, 15.18
/// and 18.4 under UTC, a rewrite under Europe/Paris).
pub fn timestamptz_utc_skips_rewrite(v: Version) -> bool {
    v.major >= 12
}

/// True for timestamp <-> timestamptz, the pair whose conversion depends on the session
/// TimeZone (docs, "8.5.1.3 Time Stamps").
pub fn is_timestamp_zone_change(from: &ColumnType, to: &ColumnType) -> bool {
    matches!(
        (from, to),
        (ColumnType::Timestamp(_), ColumnType::Timestamptz(_))
            | (ColumnType::Timestamptz(_), ColumnType::Timestamp(_))
    )
}

/// The effect of `ALTER COLUMN TYPE to` on a column of type `from`, without USING (or with a
/// USING that [`using_is_plain_cast`] recognizes). For timestamp <-> timestamptz the answer
/// assumes the step sets the session TimeZone to UTC, as the planner does.
pub fn alter_type_effect(v: Version, from: &ColumnType, to: &ColumnType) -> AlterTypeEffect {
    use ColumnType as T;
    let widens = |from: &Option<u32>, to: &Option<u32>| match (from, to) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => b >= a,
    };
    let coercible = match (from, to) {
        // varchar(n) -> varchar(m >= n) / varchar; varchar -> text; text -> varchar (no length).
        (T::Varchar(a), T::Varchar(b)) => widens(a, b),
        (T::Varchar(_), T::Text) | (T::Text, T::Varchar(None)) => true,
        // numeric(p,s) -> numeric(p2 >= p, same s) / numeric.
        (T::Numeric(_), T::Numeric(None)) => true,
        (T::Numeric(Some((p, s))), T::Numeric(Some((p2, s2)))) => p2 >= p && s2 == s,
        // timestamp(p) -> timestamp(q >= p) / timestamp, the same with time zone.
        (T::Timestamp(a), T::Timestamp(b)) | (T::Timestamptz(a), T::Timestamptz(b)) => widens(a, b),
        _ => false,
    };
    if coercible {
        return AlterTypeEffect::CatalogOnly;
    }
    // Only toward the unconstrained precision: a precision on the target adds a rounding call
    // and rewrites on every version (seen on 12.22 and 18.4).
    if is_timestamp_zone_change(from, to)
        && matches!(to, T::Timestamp(None) | T::Timestamptz(None))
        && timestamptz_utc_skips_rewrite(v)
    {
        return AlterTypeEffect::IndexRebuildOnly;
    }
    AlterTypeEffect::Rewrite
}

/// A USING expression keeps a binary-coercible change catalog-only only when it reduces to the
/// bare column: `col` or `col::newtype` / `CAST(col AS newtype)` (PostgreSQL strips the
/// binary-coercible relabelling and finds the column itself; `USING c::text` on varchar -> text
/// kept the table file on 10.23-18.4, `USING trim(c)` rewrote it). Any other expression
/// rewrites the table, even one that returns the same values.
pub fn using_is_plain_cast(using: &str, column: &str, to: &ColumnType) -> bool {
    let u = using.trim();
    let col_forms = [crate::quote::ident(column), column.to_string()];
    let is_col = |s: &str| {
        let s = s.trim();
        let s = s
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .unwrap_or(s)
            .trim();
        col_forms.iter().any(|c| c == s)
    };
    if is_col(u) {
        return true;
    }
    if let Some((expr, ty)) = u.rsplit_once("::") {
        return is_col(expr)
            && parse_column_type(ty).ty == *to
            && !matches!(to, ColumnType::Other(_));
    }
    let lower = u.to_ascii_lowercase();
    if lower.starts_with("cast") && u.ends_with(')') {
        if let Some(open) = u.find('(') {
            let inner = &u[open + 1..u.len() - 1];
            if let Some(pos) = inner.to_ascii_lowercase().rfind(" as ") {
                let (expr, ty) = (&inner[..pos], &inner[pos + 4..]);
                return is_col(expr)
                    && parse_column_type(ty).ty == *to
                    && !matches!(to, ColumnType::Other(_));
            }
        }
    }
    false
}

/// A serial column's sequence keeps its data type when the column becomes bigint: a sequence
/// created by `serial` on 10+ is `AS integer` (max 2147483647) and stays so after ALTER COLUMN
/// TYPE bigint, so it needs `ALTER SEQUENCE ... AS bigint` (10+; docs "ALTER SEQUENCE": the
/// limits follow the new type when they were the old type's). An identity column's sequence is
/// converted with the column (seen on 10.23 and 18.4).
pub fn serial_sequence_follows_column_type() -> bool {
    false
}

/// `CREATE TRIGGER ... EXECUTE FUNCTION` from 11; 10 only knows `EXECUTE PROCEDURE`, which
/// every later version still accepts (docs, "CREATE TRIGGER").
pub fn trigger_execute_keyword(v: Version) -> &'static str {
    if v.major >= 11 {
        "FUNCTION"
    } else {
        "PROCEDURE"
    }
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
        assert_eq!(classify_default("now ()"), DefaultKind::NonVolatile);
        assert_eq!(
            classify_default("false OR random() > 0.5"),
            DefaultKind::Volatile
        );
    }

    #[test]
    fn calls_found_by_the_tokenizer() {
        let names = |e: &str| -> Vec<(Option<String>, String)> {
            called_functions(e)
                .into_iter()
                .map(|c| (c.schema, c.name))
                .collect()
        };
        let plain = |n: &str| (None, n.to_string());
        assert_eq!(names("gen_random_uuid()"), [plain("gen_random_uuid")]);
        assert_eq!(names("NOW ()"), [plain("now")]);
        assert_eq!(
            names("coalesce(f('a(b'), g(x::varchar(10)))"),
            [plain("f"), plain("g")]
        );
        assert_eq!(names("CAST(x AS numeric(10, 2))"), []);
        assert_eq!(names("E'it\\'s h(' || k()"), [plain("k")]);
        assert_eq!(names("\"MyFn\"(1) + \"MyFn\"(2)"), [plain("MyFn")]);
        assert_eq!(
            names("App.Next_Id()"),
            [(Some("app".to_string()), "next_id".to_string())]
        );
        assert_eq!(names("x IN (1, 2) AND NOT (y)"), []);
    }

    proptest::proptest! {
        /// Any text tokenizes without a panic, and every call found is a non-empty name.
        #[test]
        fn finding_calls_never_panics(text in "[a-zA-Z_ ().:,'\"\\\\0-9é]{0,40}") {
            for call in called_functions(&text) {
                proptest::prop_assert!(!call.name.is_empty() || text.contains("\"\""));
            }
        }
    }

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
        assert!(concurrent_index_corruption_bug(v(14, Some(3))));
        assert!(concurrent_index_corruption_bug(v(14, None)));
        assert!(!concurrent_index_corruption_bug(v(14, Some(4))));
        assert!(!concurrent_index_corruption_bug(v(13, Some(3))));
        assert!(!fast_default(v(10, None)) && fast_default(v(11, None)));
    }
}
