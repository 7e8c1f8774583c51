//! Rename one member of an ENUM column (MySQL, MariaDB).
//!
//! An ENUM stores each value as the member's position, but changing a member's spelling in
//! place (`MODIFY` with the member renamed) is a table copy that converts every row by its old
//! text, and a row holding the old member has no place in the new list (strict mode refuses
//! it). So the online path expands and contracts:
//! 1. append the new member at the end of the list: metadata only while the list keeps within
//!    255 members ([`Server::enum_append_lock`]); a list that would cross it is refused here;
//! 2. the application writes the new member (deploy gate; readers accept both);
//! 3. existing rows move from the old member to the new one in batches;
//! 4. the old member stays in the list, unused: removing it is a table copy (plan
//!    change-type for it, with an online-schema-change tool).
//!
//! MODIFY restates the whole column, so `--type` carries its current definition; the preflight
//! proves the member list is the column's and that nothing else the column has is dropped.
//!
//! [`Server::enum_append_lock`]: crate::mysql::facts::Server::enum_append_lock

use super::definition::{lost_attributes_check, Definition};
use super::enum_list::{enum_members, spelled, ONE_BYTE_MEMBERS};
use super::{check, summary_paths, Ctx, Paths};
use crate::model::{Check, Expected, Phase, Run, Step};
use crate::quote::mysql::{ident, literal};
use crate::request::change::RenameEnumValue;
use crate::request::FieldError;

fn refuse_backslash(field: &str, label: &str) -> Result<(), FieldError> {
    if label.contains('\\') {
        return Err(FieldError::new(
            field,
            "holds a backslash, which an ENUM member list cannot spell portably (it depends on NO_BACKSLASH_ESCAPES); accepts a label without one",
        ));
    }
    Ok(())
}

pub fn paths(ctx: &Ctx, change: &RenameEnumValue) -> Result<Paths, FieldError> {
    let RenameEnumValue {
        value, new_value, ..
    } = change;
    let members = Members::of(change)?;
    let column = members.column;
    let table = ctx.table();
    let col = ident(column);
    let (old, new) = (literal(value), literal(new_value));
    let col_where = format!(
        "{} AND column_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(column)
    );
    let after_spelled = spelled(&members.after);
    let list_check = |members: &str| {
        check(
            "The column's member list",
            format!("SELECT column_type FROM information_schema.columns WHERE {col_where};"),
            members,
            Expected::row(&[members]),
        )
    };
    let batch = batch_step(ctx, &col, &old, &new);
    let append = append_step(ctx, &members, &old, &new);
    let pre = preflight_checks(ctx, &members);
    let left = check(
        &format!("No row holds {old} any more"),
        format!("SELECT COUNT(*) AS old_rows FROM {table} WHERE {col} = {old};"),
        "0",
        Expected::row(&["0"]),
    )
    .scanning();

    let mut out = summary_paths(format!(
        "Rename member {old} of ENUM column {col} of {table} to {new}"
    ));
    out.direct = Some(vec![
        ctx.preflight(None, pre),
        Phase {
            name: "append new member".to_string(),
            purpose: format!("Make {new} a valid value of {col} beside {old}, without touching a row."),
            app_change: None,
            steps: vec![append],
            rollback: Vec::new(),
            irreversible: Some(format!("No cheap way back, and none needed: the appended member {new} is unused until the application writes it, and harmless in the list. Removing it again changes the list other than by appending, which copies the table (MySQL manual, \"Modifying the definition of an ENUM or SET column\"); plan change-type for that if you must.")),
            checks: vec![list_check(&after_spelled)],
        },
        Phase {
            name: "move rows".to_string(),
            purpose: format!("Rows holding {old} get {new}, in small batches while traffic continues."),
            app_change: Some(format!("Writers write {new} instead of {old}; readers accept both.")),
            steps: vec![batch],
            rollback: vec![ctx.rollback_ddl(
                format!("UPDATE {table} SET {col} = {old} WHERE {col} = {new};"),
                Some("Moves the rows back in one statement (batch it the same way on a large table); writers must write the old member again first."),
            )],
            irreversible: None,
            checks: vec![left],
        },
    ]);
    out.warnings.push(crate::model::Warning {
        code: "enum-old-member-kept".to_string(),
        message: format!("The old member {old} stays in the column's list, unused: removing a member copies the table (every row converted by its text). Plan change-type to the list without it, with an online-schema-change tool, once nothing writes it."),
    });
    Ok(out)
}

/// The ENUM as `--type` gives it, checked against the rename, and the list with the new member
/// appended.
struct Members<'a> {
    column: &'a str,
    members: Vec<String>,
    /// The list after the append.
    after: Vec<String>,
    /// `--type` with the new member appended to its list.
    appended: String,
    current: Definition,
}

impl<'a> Members<'a> {
    fn of(change: &'a RenameEnumValue) -> Result<Self, FieldError> {
        let RenameEnumValue {
            value,
            new_value,
            column,
            data_type,
            ..
        } = change;
        let Some(column) = column.as_deref() else {
            return Err(FieldError::new(
                "column",
                "is required for MySQL and MariaDB: the ENUM column whose member is renamed",
            ));
        };
        let ty = data_type.as_deref().map(str::trim).unwrap_or_default();
        let Some((members, close)) = enum_members(ty) else {
            return Err(FieldError::new(
                "type",
                "is required for MySQL and MariaDB: the column's full current definition, starting with its ENUM, e.g. enum('new','paid','cancelled') NOT NULL DEFAULT 'new'",
            ));
        };
        refuse_backslash("value", value)?;
        refuse_backslash("new-value", new_value)?;
        if !members.contains(value) {
            return Err(FieldError::new(
                "value",
                format!(
                    "is not a member of --type's ENUM ({}); accepts one of them",
                    members.join(", ")
                ),
            ));
        }
        if members.contains(new_value) {
            return Err(FieldError::new(
                "new-value",
                "is a member of --type's ENUM already; accepts a new label",
            ));
        }
        if members.len() + 1 > ONE_BYTE_MEMBERS {
            return Err(FieldError::new(
                "type",
                format!("has {} members: one more crosses {ONE_BYTE_MEMBERS}, where the ENUM needs 2 bytes per row and every change of it copies the table; plan change-type with an online-schema-change tool instead", members.len()),
            ));
        }
        let current = Definition::parse(ty).map_err(|m| FieldError::new("type", m))?;
        let mut after = members.clone();
        after.push(new_value.clone());
        let appended = format!(
            "{}{}",
            &ty[..close],
            format_args!(",{}{}", literal(new_value), &ty[close..])
        );
        Ok(Members {
            column,
            members,
            after,
            appended,
            current,
        })
    }
}

/// The member list as the plan found it (or, on a re-run, as it leaves it), and what the
/// MODIFY restating the column would lose.
fn preflight_checks(ctx: &Ctx, members: &Members) -> Vec<Check> {
    let column = members.column;
    let col_where = format!(
        "{} AND column_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(column)
    );
    let before_spelled = spelled(&members.members);
    let after_spelled = spelled(&members.after);
    let mut pre = vec![check(
        "The column's member list is the one --type names (or, on a re-run, the one this plan leaves)",
        format!(
            "SELECT IF(column_type = {a}, {b}, column_type) AS current_type FROM information_schema.columns WHERE {col_where};",
            a = literal(&after_spelled),
            b = literal(&before_spelled)
        ),
        &format!("{before_spelled} (another list: re-plan with --type giving the column's real definition)"),
        Expected::row(&[&before_spelled]),
    )];
    pre.extend(lost_attributes_check(
        ctx,
        column,
        &members.current,
        "the MODIFY",
    ));
    pre
}

/// The new member appended at the end of the list: metadata only.
fn append_step(ctx: &Ctx, members: &Members, old: &str, new: &str) -> Step {
    let col = ident(members.column);
    let appended = &members.appended;
    let lock = ctx.server.enum_append_lock();
    let mut append = ctx.alter(
        "Append the new member at the end of the list (metadata only)",
        &[format!("MODIFY {col} {appended}")],
        lock,
        crate::estimate::CATALOG_ONLY,
    );
    append.notes.push(format!("Appending keeps every stored position, so no row is read or rewritten; the ALTER still waits a moment for the exclusive metadata lock. From now on both {old} and {new} are valid values."));
    ctx.documented(append)
}

/// One batch moving rows from the old member to the new, repeated until none is left.
fn batch_step(ctx: &Ctx, col: &str, old: &str, new: &str) -> Step {
    let table = ctx.table();
    // In key order where there is a key: a LIMIT without ORDER BY is unsafe for statement-based
    // replication (the replica may change other rows).
    let order = ctx
        .req
        .env
        .primary_key
        .as_deref()
        .map_or(String::new(), |pk| format!(" ORDER BY {}", ident(pk)));
    // The last statement says whether rows are left (not ROW_COUNT(), which a re-run guard's
    // PREPARE/DEALLOCATE between the two statements would reset).
    let mut batch = ctx.step(
        &format!("Move rows from {old} to {new}: one batch of {} rows; repeat until it prints 0", ctx.model.batch_size),
        vec![
            format!("UPDATE {table} SET {col} = {new} WHERE {col} = {old}{order} LIMIT {};", ctx.model.batch_size),
            format!("SELECT COUNT(*) AS rows_left FROM (SELECT 1 FROM {table} WHERE {col} = {old} LIMIT 1) AS lockstep_left;"),
        ],
        None,
        ctx.model.backfill(),
    );
    batch.scans_table = true;
    batch.run = Run::UntilDone;
    batch.notes.push(format!("Each batch commits on its own and locks only the rows it changes. Without an index on {col}, each batch scans the table until it finds its rows: on a large table, index the column first or batch by primary-key ranges."));
    batch.retry = "If a batch fails (lock wait timeout, deadlock), run it again: rows already moved no longer match.".to_string();
    batch
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected, Run};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "rename-enum-value")
            .with("table", "orders")
            .with("column", "status")
            .with(
                "type",
                "enum('new','paid','cancelled') NOT NULL DEFAULT 'new'",
            )
            .with("value", "cancelled")
            .with("new-value", "canceled")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn appends_then_moves_rows_then_keeps_the_old_member() {
        for (db, clause) in [
            ("mariadb@10.11.6", ", ALGORITHM=INSTANT, LOCK=NONE;"),
            ("mysql@8.0.35", ", ALGORITHM=INSTANT;"),
            ("mysql@5.7", ", ALGORITHM=INPLACE, LOCK=NONE;"),
        ] {
            let p = crate::plan(&params(db)).unwrap();
            let append = &p.phases[1].steps[0];
            assert_eq!(
                append.sql[0],
                format!("ALTER TABLE `orders` MODIFY `status` enum('new','paid','cancelled','canceled') NOT NULL DEFAULT 'new'{clause}")
            );
            assert!(!append.rewrites_table);
            assert_eq!(
                p.phases[1].checks[0].expected,
                Expected::row(&["enum('new','paid','cancelled','canceled')"])
            );
            assert!(p.phases[1].irreversible.is_some() && p.phases[1].rollback.is_empty());
            let batch = &p.phases[2].steps[0];
            assert_eq!(batch.run, Run::UntilDone);
            assert_eq!(batch.blocks, Blocks::Nothing);
            assert!(batch.sql[0].starts_with(
                "UPDATE `orders` SET `status` = 'canceled' WHERE `status` = 'cancelled' ORDER BY `id` LIMIT "
            ));
            assert!(p.phases[2].app_change.is_some());
            assert!(p.warnings.iter().any(|w| w.code == "enum-old-member-kept"));
        }
    }

    #[test]
    fn refuses_what_it_cannot_plan() {
        let bad = |k: &str, v: &str| {
            crate::plan(&params("mysql@8.0.35").with(k, v)).unwrap_err()[0]
                .field
                .clone()
        };
        assert_eq!(bad("value", "shipped"), "value");
        assert_eq!(bad("new-value", "paid"), "new-value");
        assert_eq!(bad("type", "varchar(16)"), "type");
        assert_eq!(bad("new-value", "a\\b"), "new-value");
        let many: Vec<String> = (0..255).map(|i| format!("'v{i}'")).collect();
        let ty = format!("enum({},'cancelled')", many[..254].join(","));
        assert_eq!(bad("type", &ty), "type");
    }
}
