//! Rename one label of an enum type.
//!
//! `ALTER TYPE t RENAME VALUE 'old' TO 'new'` (10+, [`ENUM_RENAME_VALUE`]) updates one
//! `pg_enum` row: rows store the label's OID, so every existing value reads the new spelling at
//! once, with no scan and no rewrite. It locks no table (an ExclusiveLock on the type only,
//! [`Statement::AlterEnum`]), so reads and writes continue; it may run in a transaction block.
//! CHECK constraints, index predicates, defaults and views hold the value by OID and follow the
//! rename; function bodies and application code that spell the old label do not.
//!
//! The deploy around it: no moment accepts both spellings (before the rename only the old one
//! is valid input, after it only the new one), so readers learn both first, writers of the
//! label pause across the rename (or retry with the other spelling), and only then write the
//! new one. The rollback is the rename back, as cheap.

use super::{check, Ctx, Paths};
use crate::model::{Check, Expected, Phase};
use crate::postgres::facts::{Statement, ENUM_RENAME_VALUE};
use crate::quote::literal;
use crate::request::change::RenameEnumValue;
use crate::request::FieldError;

/// `pg_enum` has (`old`, `new`) as expected: (t, f) before the rename, (f, t) after.
fn labels_check(regtype: &str, c: &RenameEnumValue, renamed: bool) -> Check {
    let (old, new) = (literal(&c.value), literal(&c.new_value));
    let (description, expected) = if renamed {
        (
            "The type has the new label and no longer the old one",
            ["f", "t"],
        )
    } else {
        (
            "The type is an enum that has the label and not yet the new one",
            ["t", "f"],
        )
    };
    check(
        description,
        format!(
            "SELECT coalesce(bool_or(enumlabel = {old}), false) AS has_value, coalesce(bool_or(enumlabel = {new}), false) AS has_new_value FROM pg_enum WHERE enumtypid = {regtype};"
        ),
        &format!(
            "{}, {} (f, f: no such enum type or label{})",
            expected[0],
            expected[1],
            if renamed { "" } else { "; t, t: the new label exists already, and the rename would fail" }
        ),
        Expected::row(&expected),
    )
}

fn preflight_checks(regtype: &str, c: &RenameEnumValue) -> Vec<Check> {
    let old = literal(&c.value);
    vec![
        labels_check(regtype, c, false),
        check(
            "The columns that use the type (their rows read the new label from the rename on)",
            format!(
                "SELECT a.attrelid::regclass AS table_name, a.attname AS column_name FROM pg_attribute a WHERE a.atttypid IN ({regtype}, (SELECT typarray FROM pg_type WHERE oid = {regtype})) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2;"
            ),
            "the columns whose readers and writers the deploy gates concern",
            Expected::Manual,
        ),
        check(
            "Functions whose source spells the old label (they are not renamed with it)",
            format!(
                "SELECT p.oid::regprocedure AS function_name FROM pg_proc p WHERE strpos(p.prosrc, {old}) > 0 AND p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace);"
            ),
            "no rows, or functions you will update with the application (a function comparing with the old label stops matching)",
            Expected::Manual,
        ),
    ]
}

pub fn paths(ctx: &Ctx, change: &RenameEnumValue) -> Result<Paths, FieldError> {
    let Some(type_name) = change.type_name.as_deref() else {
        return Err(FieldError::new(
            "type-name",
            "is required for PostgreSQL: the enum type whose label is renamed, e.g. order_status",
        ));
    };
    if !ENUM_RENAME_VALUE.holds(ctx.version()) {
        return Err(FieldError::new(
            "db",
            "has no ALTER TYPE ... RENAME VALUE before PostgreSQL 10; accepts PostgreSQL 10 or later",
        ));
    }
    let ty = ctx.sibling(type_name);
    let regtype = format!("{}::regtype", literal(&ty));
    let (old, new) = (literal(&change.value), literal(&change.new_value));
    let mut step = ctx.brief(
        "Rename the label (catalog only; no table is locked)",
        vec![format!("ALTER TYPE {ty} RENAME VALUE {old} TO {new};")],
        Statement::AlterEnum,
    );
    step.notes.push(format!("Every existing row reads {new} at once: rows store the label's OID, so nothing is scanned or rewritten. From this statement on, {old} is refused as input (\"invalid input value for enum\")."));
    step.retry = "If it fails with \"... is not an existing enum label\" or \"enum label ... already exists\", nothing changed: the preflight's label check says which. It waits only for another ALTER of the same type. Safe to re-run once the labels are as the preflight expects.".to_string();
    let rename = Phase {
        name: "rename label".to_string(),
        purpose: format!("Rename {old} to {new} in the catalog; every row holding it reads {new} from then on."),
        app_change: Some(format!(
            "Readers accept both {old} and {new}, and writers of {old} pause across the rename or retry with {new} on \"invalid input value for enum\": no moment accepts both spellings (before the rename {new} is refused, after it {old})."
        )),
        steps: vec![step],
        rollback: vec![ctx.rollback_ddl(
            format!("ALTER TYPE {ty} RENAME VALUE {new} TO {old};"),
            Some("The same catalog-only rename back; writers of the new label must pause across it, as for the rename."),
        )],
        irreversible: None,
        checks: vec![labels_check(&regtype, change, true)],
    };
    let switch = Phase {
        name: "write the new label".to_string(),
        purpose: format!("The application writes {new}; nothing is left that spells {old}."),
        app_change: Some(format!(
            "Writers write {new}; code, functions and fixtures that spell {old} are updated, and readers may drop {old}."
        )),
        steps: Vec::new(),
        rollback: Vec::new(),
        irreversible: None,
        checks: vec![labels_check(&regtype, change, true)],
    };
    Ok(Paths {
        summary: format!("Rename label {old} of enum type {ty} to {new}"),
        direct: Some(vec![
            ctx.preflight(None, preflight_checks(&regtype, change)),
            rename,
            switch,
        ]),
        online: None,
        online_required: None,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "rename-enum-value")
            .with("table", "orders")
            .with("type-name", "order_status")
            .with("value", "cancelled")
            .with("new-value", "canceled")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn catalog_rename_locking_no_table_between_deploy_gates() {
        for major in 10..=18 {
            let plan = crate::plan(&params(&format!("postgresql@{major}"))).unwrap();
            let rename = &plan.phases[1];
            let step = &rename.steps[0];
            assert_eq!(
                step.sql,
                ["ALTER TYPE order_status RENAME VALUE 'cancelled' TO 'canceled';"]
            );
            assert_eq!(step.lock, None);
            assert_eq!(step.blocks, Blocks::Nothing);
            assert!(!step.scans_table && !step.rewrites_table);
            assert!(rename.app_change.is_some() && plan.phases[2].app_change.is_some());
            assert!(rename.rollback[0]
                .sql
                .ends_with("RENAME VALUE 'canceled' TO 'cancelled';"));
            let labels = &plan.phases[0]
                .checks
                .iter()
                .find(|c| c.sql.contains("has_new_value"))
                .unwrap();
            assert_eq!(labels.expected, Expected::row(&["t", "f"]));
            assert_eq!(rename.checks[0].expected, Expected::row(&["f", "t"]));
        }
    }

    #[test]
    fn names_and_labels_are_quoted() {
        let p = params("postgresql@16")
            .with("schema", "Sales Dept")
            .with("type-name", "Status\"; drop type x; --")
            .with("value", "it's");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(
            plan.phases[1].steps[0].sql,
            ["ALTER TYPE \"Sales Dept\".\"Status\"\"; drop type x; --\" RENAME VALUE 'it''s' TO 'canceled';"]
        );
    }

    #[test]
    fn the_type_name_is_required_and_labels_must_differ() {
        let mut p = crate::request::params::Params::new();
        for (k, v) in params("postgresql@16").iter() {
            if k != "type-name" {
                p.set(k, v);
            }
        }
        assert_eq!(crate::plan(&p).unwrap_err()[0].field, "type-name");
        let err = crate::plan(&params("postgresql@16").with("new-value", "cancelled")).unwrap_err();
        assert_eq!(err[0].field, "new-value");
    }

    #[test]
    fn runbook() {
        let p = params("postgresql@16");
        let plan = crate::plan(&p).unwrap();
        insta::assert_snapshot!(
            "rename_enum_value_pg16",
            crate::render::markdown::render(&plan, &p)
        );
    }
}
