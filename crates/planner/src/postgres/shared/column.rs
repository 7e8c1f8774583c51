//! Catalog checks on one existing column, for the changes that alter a column's attributes
//! in the catalog only (SET/DROP DEFAULT, DROP NOT NULL).

use crate::model::{Check, Expected};
use crate::postgres::facts::GENERATED_COLUMNS;
use crate::postgres::{check, Ctx};
use crate::quote::literal;

/// `WHERE` of the column's `pg_attribute` row (alias `a`).
pub fn attribute_where(ctx: &Ctx, column: &str) -> String {
    format!(
        "a.attrelid = {} AND a.attname = {} AND NOT a.attisdropped",
        ctx.regclass(),
        literal(column)
    )
}

/// The column exists and is neither an identity column nor (12+) a generated one: PostgreSQL
/// refuses SET/DROP DEFAULT on both ("is an identity column", "is a generated column").
pub fn ordinary_column_check(ctx: &Ctx, column: &str) -> Check {
    let generated = if GENERATED_COLUMNS.holds(ctx.version()) {
        " AND a.attgenerated = ''"
    } else {
        ""
    };
    check(
        "The column exists and is an ordinary column (not an identity or generated column, whose default ALTER COLUMN ... SET/DROP DEFAULT refuses to change)",
        format!(
            "SELECT a.attidentity = ''{generated} AS ordinary FROM pg_attribute a WHERE {};",
            attribute_where(ctx, column)
        ),
        "t (no row: there is no such column; f: an identity or generated column, use ALTER COLUMN ... DROP IDENTITY / DROP EXPRESSION instead)",
        Expected::row(&["t"]),
    )
}

/// The statement that puts the column's current default back, for the operator to save: no
/// catalog keeps a replaced or dropped default.
pub fn restore_default_check(ctx: &Ctx, column: &str) -> Check {
    check(
        "SAVE THIS OUTPUT: the statement that restores the column's current default (the rollback)",
        format!(
            "SELECT format('ALTER TABLE %s ALTER COLUMN %I %s;', {}, a.attname, coalesce('SET DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), 'DROP DEFAULT')) AS restore FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE {};",
            literal(&ctx.table()),
            attribute_where(ctx, column)
        ),
        "one row: an ALTER TABLE ... SET DEFAULT (or DROP DEFAULT, when the column has none) statement; keep it with this runbook",
        Expected::Manual,
    )
}

/// Whether the column has a default (`pg_attrdef`).
pub fn has_default_check(ctx: &Ctx, column: &str, has: bool) -> Check {
    check(
        if has {
            "The column has a default"
        } else {
            "The column has no default"
        },
        format!(
            "SELECT count(d.adbin) > 0 AS has_default FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE {};",
            attribute_where(ctx, column)
        ),
        if has { "t" } else { "f" },
        Expected::row(&[if has { "t" } else { "f" }]),
    )
}

/// What rolls back a default change: PostgreSQL keeps no copy of the default it replaced.
pub const RESTORE_DEFAULT: &str = "PostgreSQL keeps no copy of the default this phase replaced or dropped, so no prepared statement can bring it back: run the ALTER TABLE statement the preflight printed (save it before this phase). It is catalog-only, like this phase: ACCESS EXCLUSIVE for a moment, under a lock_timeout. Rows inserted meanwhile keep the value they got.";
