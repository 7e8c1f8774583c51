//! Column types as the rewrite rules of ADD COLUMN and ALTER COLUMN TYPE see them: which type
//! changes are catalog-only, which rebuild indexes only, which rewrite the table.

use crate::model::Version;
use crate::postgres::facts::TIMESTAMPTZ_UTC_SKIPS_REWRITE;

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
        && TIMESTAMPTZ_UTC_SKIPS_REWRITE.holds(v)
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
