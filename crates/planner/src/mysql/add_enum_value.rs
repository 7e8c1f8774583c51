//! Add one member to an ENUM column (MySQL, MariaDB).
//!
//! Appending at the end of the list keeps every stored position, so it changes metadata only
//! while the list stays within 255 members ([`Server::enum_append_lock`]: INSTANT on MySQL
//! 8.0.12+ and MariaDB, in place on MySQL 5.7). A member inserted before the last one moves
//! the positions after it, and a list crossing 255 members needs 2 bytes per row: either
//! copies the table (MySQL manual, "Modifying the definition of an ENUM or SET column"), which
//! `ALGORITHM=COPY, LOCK=SHARED` does while writes wait, or an online-schema-change tool.
//!
//! MODIFY restates the whole column, so `--type` carries its current definition; the preflight
//! proves the member list is the column's and that nothing else the column has is dropped.
//! The deploy after it: readers handle the new member before any writer writes it.
//!
//! [`Server::enum_append_lock`]: crate::mysql::facts::Server::enum_append_lock

use super::definition::{lost_attributes_check, Definition};
use super::enum_list::{enum_members, spelled, ONE_BYTE_MEMBERS};
use super::{check, summary_paths, tools, Ctx, Paths};
use crate::model::{Check, Expected, Phase, Step};
use crate::quote::mysql::{ident, literal};
use crate::request::change::{AddEnumValue, EnumPlace};
use crate::request::FieldError;

/// The member list with `value` placed, and whether that only appends within one byte.
fn placed(
    members: &[String],
    value: &str,
    place: &EnumPlace,
) -> Result<(Vec<String>, bool), FieldError> {
    let at = match place {
        EnumPlace::End => members.len(),
        EnumPlace::Before(n) | EnumPlace::After(n) => {
            let field = if matches!(place, EnumPlace::Before(_)) {
                "before"
            } else {
                "after"
            };
            let i = members.iter().position(|m| m == n).ok_or_else(|| {
                FieldError::new(
                    field,
                    format!(
                        "is not a member of --type's ENUM ({}); accepts one of them",
                        members.join(", ")
                    ),
                )
            })?;
            if matches!(place, EnumPlace::After(_)) {
                i + 1
            } else {
                i
            }
        }
    };
    let mut list = members.to_vec();
    list.insert(at, value.to_string());
    let metadata_only = at == members.len() && list.len() <= ONE_BYTE_MEMBERS;
    Ok((list, metadata_only))
}

fn gate_phase(col: &str, label: &str, list: Check) -> Phase {
    Phase {
        name: "write the new member".to_string(),
        purpose: format!("The application may write {label} into {col} from now on."),
        app_change: Some(format!(
            "Every reader handles {label} (deployed everywhere first), then writers may write it."
        )),
        steps: Vec::new(),
        rollback: Vec::new(),
        irreversible: None,
        checks: vec![list],
    }
}

pub fn paths(ctx: &Ctx, change: &AddEnumValue) -> Result<Paths, FieldError> {
    let AddEnumValue { value, place, .. } = change;
    let (column, ty, members, close) = checked_list(change)?;
    let (list, metadata_only) = placed(&members, value, place)?;
    let current = Definition::parse(ty).map_err(|m| FieldError::new("type", m))?;
    let new_type = format!("{}{}", spelled(&list), &ty[close + 1..]);
    let clause = format!("MODIFY {} {new_type}", ident(column));
    let table = ctx.table();
    let col = ident(column);
    let label = literal(value);
    let col_where = format!(
        "{} AND column_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(column)
    );
    let (before, after) = (spelled(&members), spelled(&list));
    let pre = preflight_checks(ctx, column, &current, &before, &after);
    let list_check = check(
        "The column's member list",
        format!("SELECT column_type FROM information_schema.columns WHERE {col_where};"),
        &after,
        Expected::row(&[&after]),
    );
    let mut out = summary_paths(format!(
        "Add member {label} to ENUM column {col} of {table}"
    ));

    if metadata_only {
        out.direct = Some(vec![
            ctx.preflight(None, pre),
            Phase {
                name: "append member".to_string(),
                purpose: format!("Make {label} a valid value of {col} without touching a row."),
                app_change: None,
                steps: vec![append_step(ctx, &clause)],
                rollback: Vec::new(),
                irreversible: Some(format!("No cheap way back, and none needed: {label} is unused until the application writes it, and harmless in the list. Removing it changes the list other than by appending, which copies the table; plan change-type for that if you must.")),
                checks: vec![list_check.clone()],
            },
            gate_phase(&col, &label, list_check),
        ]);
        return Ok(out);
    }
    let why = why_copy(&list, &members);
    let inverse = format!("MODIFY {col} {ty}");
    let rollback = ctx.rollback_ddl(
        format!("ALTER TABLE {table} {inverse}{};", ctx.lock_clause(tools::COPY_SHARED)),
        Some("The same copy back to the old list; only while no row holds the new member (strict mode refuses it otherwise)."),
    );
    out.direct = Some(vec![
        ctx.preflight(Some(ctx.req.bytes), pre.clone()),
        Phase {
            name: "add member".to_string(),
            purpose: format!("Copy {table} with {label} in the list of {col}."),
            app_change: None,
            steps: vec![copy_step(ctx, &clause, &why)],
            rollback: vec![rollback],
            irreversible: None,
            checks: vec![list_check.clone()],
        },
        gate_phase(&col, &label, list_check.clone()),
    ]);
    let online = tools::online_alter(ctx, &clause, tools::Inverse::Tool(&inverse), &why);
    let direct = out.direct.as_deref().unwrap_or_default();
    out.online =
        tools::optional_online(ctx, direct, online, &mut out.warnings)?.map(|mut online| {
            online[0].checks.extend(pre);
            tools::check_after_cut_over(&mut online, vec![list_check.clone()]);
            online.push(gate_phase(&col, &label, list_check));
            online
        });
    Ok(out)
}

/// The column and its ENUM as `--type` gives them, refused where the member cannot be added:
/// (column, the definition, the members, where the list closes).
fn checked_list(change: &AddEnumValue) -> Result<(&str, &str, Vec<String>, usize), FieldError> {
    let AddEnumValue {
        value,
        column,
        data_type,
        ..
    } = change;
    let Some(column) = column.as_deref() else {
        return Err(FieldError::new(
            "column",
            "is required for MySQL and MariaDB: the ENUM column the member is added to",
        ));
    };
    let ty = data_type.as_deref().map(str::trim).unwrap_or_default();
    let Some((members, close)) = enum_members(ty) else {
        return Err(FieldError::new(
            "type",
            "is required for MySQL and MariaDB: the column's full current definition, starting with its ENUM, e.g. enum('new','paid') NOT NULL DEFAULT 'new'",
        ));
    };
    if value.contains('\\') {
        return Err(FieldError::new("value", "holds a backslash, which an ENUM member list cannot spell portably (it depends on NO_BACKSLASH_ESCAPES); accepts a label without one"));
    }
    if members.contains(value) {
        return Err(FieldError::new(
            "value",
            "is a member of --type's ENUM already; accepts a new label",
        ));
    }
    Ok((column, ty, members, close))
}

/// The member list as the plan found it (or, on a re-run, as it leaves it), and what the
/// MODIFY restating the column would lose.
fn preflight_checks(
    ctx: &Ctx,
    column: &str,
    current: &Definition,
    before: &str,
    after: &str,
) -> Vec<Check> {
    let col_where = format!(
        "{} AND column_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(column)
    );
    let mut pre = vec![check(
        "The column's member list is the one --type names (or, on a re-run, the one this plan leaves)",
        format!(
            "SELECT IF(column_type = {a}, {b}, column_type) AS current_type FROM information_schema.columns WHERE {col_where};",
            a = literal(after),
            b = literal(before)
        ),
        &format!("{before} (another list: re-plan with --type giving the column's real definition)"),
        Expected::row(&[before]),
    )];
    pre.extend(lost_attributes_check(ctx, column, current, "the MODIFY"));
    pre
}

/// The member appended at the end of the list: metadata only.
fn append_step(ctx: &Ctx, clause: &str) -> Step {
    let mut step = ctx.alter(
        "Append the member at the end of the list (metadata only)",
        &[clause.to_string()],
        ctx.server.enum_append_lock(),
        crate::estimate::CATALOG_ONLY,
    );
    step.notes.push("Appending keeps every stored position, so no row is read or rewritten; the ALTER still waits a moment for the exclusive metadata lock.".to_string());
    ctx.documented(step)
}

/// Why adding this member copies the table.
fn why_copy(list: &[String], members: &[String]) -> String {
    if list.len() > ONE_BYTE_MEMBERS && members.len() <= ONE_BYTE_MEMBERS {
        format!("the list grows past {ONE_BYTE_MEMBERS} members, so every row's value takes 2 bytes instead of 1: InnoDB copies the table")
    } else {
        "a member placed before the last one moves the stored positions of the members after it: InnoDB copies the table".to_string()
    }
}

/// The copy: reads continue, writes wait.
fn copy_step(ctx: &Ctx, clause: &str, why: &str) -> Step {
    let mut step = ctx.alter(
        "Add the member (copies the table; reads continue, writes wait)",
        &[clause.to_string()],
        tools::COPY_SHARED,
        ctx.model.rewrite(),
    );
    step.rewrites_table = true;
    step.scans_table = true;
    step.notes.push(format!(
        "Not metadata-only: {why}, converting every row by its text."
    ));
    ctx.documented(step)
}

#[cfg(test)]
mod tests {
    use crate::model::Blocks;
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "add-enum-value")
            .with("table", "orders")
            .with("column", "status")
            .with(
                "type",
                "enum('new','paid','cancelled') NOT NULL DEFAULT 'new'",
            )
            .with("value", "refunded")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn appending_is_metadata_only() {
        for (db, clause) in [
            ("mariadb@10.11.6", ", ALGORITHM=INSTANT, LOCK=NONE;"),
            ("mysql@8.0.35", ", ALGORITHM=INSTANT;"),
            ("mysql@5.7", ", ALGORITHM=INPLACE, LOCK=NONE;"),
        ] {
            for p in [params(db), params(db).with("after", "cancelled")] {
                let plan = crate::plan(&p).unwrap();
                let step = &plan.phases[1].steps[0];
                assert_eq!(
                    step.sql[0],
                    format!("ALTER TABLE `orders` MODIFY `status` enum('new','paid','cancelled','refunded') NOT NULL DEFAULT 'new'{clause}")
                );
                assert!(!step.rewrites_table);
                assert!(plan.phases[2].app_change.is_some());
            }
        }
    }

    #[test]
    fn a_member_in_the_middle_copies_the_table() {
        let p = params("mariadb@10.11.6")
            .with("before", "cancelled")
            .with("rows", "100k")
            .with("size", "20MB")
            .with("max-downtime", "1h");
        let plan = crate::plan(&p).unwrap();
        let step = &plan.phases[1].steps[0];
        assert_eq!(
            step.sql[0],
            "ALTER TABLE `orders` MODIFY `status` enum('new','paid','refunded','cancelled') NOT NULL DEFAULT 'new', ALGORITHM=COPY, LOCK=SHARED;"
        );
        assert!(step.rewrites_table);
        assert_eq!(step.blocks, Blocks::Writes);
        // At zero downtime the copy is left to an online-schema-change tool.
        let zero = crate::plan(&params("mysql@8.0.35").with("before", "cancelled")).unwrap();
        assert!(zero
            .phases
            .iter()
            .flat_map(|p| &p.steps)
            .any(|s| s.shell.is_some()));
    }

    #[test]
    fn crossing_255_members_copies() {
        let many: Vec<String> = (0..255).map(|i| format!("'v{i}'")).collect();
        let p = params("mysql@8.0.35")
            .with("type", format!("enum({})", many.join(",")))
            .with("rows", "100k")
            .with("size", "20MB")
            .with("max-downtime", "1h");
        let plan = crate::plan(&p).unwrap();
        assert!(plan.phases[1].steps[0].sql[0].ends_with("ALGORITHM=COPY, LOCK=SHARED;"));
    }

    #[test]
    fn refuses_unknown_neighbours_and_existing_members() {
        let field = |p: Params| crate::plan(&p).unwrap_err()[0].field.clone();
        assert_eq!(field(params("mysql@8.4").with("after", "shipped")), "after");
        assert_eq!(field(params("mysql@8.4").with("value", "paid")), "value");
        assert_eq!(field(params("mysql@8.4").with("type", "int")), "type");
    }
}
