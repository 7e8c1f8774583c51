//! SET DEFAULT and DROP DEFAULT of one column (MySQL, MariaDB): the same metadata-only
//! `ALTER COLUMN` step, its checks and the way back ([`Server::column_default_lock`]).
//!
//! [`Server::column_default_lock`]: crate::mysql::facts::Server::column_default_lock

use crate::model::{Check, Expected, Phase, Step};
use crate::mysql::{check, Ctx};
use crate::quote::mysql::literal;

/// `WHERE` of the column's `information_schema.columns` row.
fn column_where(ctx: &Ctx, column: &str) -> String {
    format!(
        "{} AND column_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(column)
    )
}

/// The column exists, and its current default for the operator to save (the rollback).
pub fn preflight_checks(ctx: &Ctx, column: &str) -> Vec<Check> {
    vec![
        ctx.column_check(
            "The column exists",
            column,
            "1 (0: there is no such column)",
            Expected::row(&["1"]),
        ),
        check(
            "SAVE THIS OUTPUT: the column's current default (the rollback restores it)",
            format!(
                "SELECT column_default, extra FROM information_schema.columns WHERE {};",
                column_where(ctx, column)
            ),
            "one row: column_default is the default to restore (NULL, or on MariaDB the text NULL: none; extra DEFAULT_GENERATED on MySQL: an expression, restored in parentheses); keep it with this runbook",
            Expected::Manual,
        ),
    ]
}

/// Whether the column has a default, as `information_schema.columns` says it (MariaDB spells
/// a nullable column's lack of one as the text NULL).
pub fn has_default_check(ctx: &Ctx, column: &str, has: bool) -> Check {
    let present = if ctx.server.is_mariadb() {
        "column_default IS NOT NULL AND column_default <> 'NULL'"
    } else {
        "column_default IS NOT NULL"
    };
    let value = if has { "1" } else { "0" };
    check(
        if has {
            "The column has a default"
        } else {
            "The column has no default"
        },
        format!(
            "SELECT {present} AS has_default FROM information_schema.columns WHERE {};",
            column_where(ctx, column)
        ),
        value,
        Expected::row(&[value]),
    )
}

/// The metadata-only `ALTER COLUMN` step.
pub fn alter_step(ctx: &Ctx, title: &str, clause: String) -> Step {
    let lock = ctx.server.column_default_lock();
    let mut step = ctx.alter(title, &[clause], lock, crate::estimate::CATALOG_ONLY);
    step.notes.push("Metadata only: no row is read or rewritten. The ALTER still waits for the table's exclusive metadata lock for a moment, and queries arriving meanwhile queue behind it (bounded by lock_wait_timeout).".to_string());
    ctx.documented(step)
}

/// What rolls back a default change: the server keeps no copy of the default it replaced.
pub const RESTORE_DEFAULT: &str = "The server keeps no copy of the default this phase replaced or dropped: restore it from the preflight's saved output, with ALTER TABLE ... ALTER COLUMN ... SET DEFAULT <saved value> (DROP DEFAULT when there was none), the same metadata-only statement as this phase. Rows inserted meanwhile keep the value they got.";

/// The phase that runs the step.
pub fn phase(
    name: &str,
    purpose: String,
    app_change: Option<String>,
    step: Step,
    done: Check,
) -> Phase {
    Phase {
        name: name.to_string(),
        purpose,
        app_change,
        steps: vec![step],
        rollback: Vec::new(),
        irreversible: Some(RESTORE_DEFAULT.to_string()),
        checks: vec![done],
    }
}
