//! Add one label to an enum type.
//!
//! `ALTER TYPE t ADD VALUE IF NOT EXISTS 'v' [BEFORE | AFTER 'x']` inserts one `pg_enum` row:
//! no table is locked or scanned (an ExclusiveLock on the type only, [`Statement::AlterEnum`]).
//! Before 12 it cannot run inside a transaction block; from 12 it can, but the new label is
//! unusable until that transaction commits ([`ENUM_ADD_VALUE_IN_TRANSACTION`]): the step runs
//! in its own transaction where the version allows, alone otherwise. A label placed BEFORE or
//! AFTER another gets a fractional sort position, and comparisons involving such labels look
//! the order up in the catalog (docs, "ALTER TYPE", Notes: slightly slower).
//!
//! PostgreSQL has no DROP VALUE: the phase cannot be undone by SQL short of a new type and a
//! column type change. The deploy after it: readers handle the new label before any writer
//! writes it.

use super::{check, Ctx, Paths};
use crate::model::{Check, Expected, Phase, Warning};
use crate::postgres::facts::{Statement, ENUM_ADD_VALUE_IN_TRANSACTION};
use crate::quote::literal;
use crate::request::change::{AddEnumValue, EnumPlace};
use crate::request::FieldError;

/// Whether the type has the new label.
fn label_check(regtype: &str, value: &str) -> Check {
    check(
        "The type has the new label",
        format!(
            "SELECT coalesce(bool_or(enumlabel = {}), false) AS has_value FROM pg_enum WHERE enumtypid = {regtype};",
            literal(value)
        ),
        "t",
        Expected::row(&["t"]),
    )
}

/// The type is an enum and, when the label is placed next to another, that one exists.
fn type_check(regtype: &str, place: &EnumPlace) -> Check {
    let neighbour = match place {
        EnumPlace::End => "true".to_string(),
        EnumPlace::Before(n) | EnumPlace::After(n) => {
            format!("coalesce(bool_or(enumlabel = {}), false)", literal(n))
        }
    };
    check(
        "The type is an enum (and has the label the new one is placed next to)",
        format!("SELECT count(*) > 0 AS is_enum, {neighbour} AS has_neighbour FROM pg_enum WHERE enumtypid = {regtype};"),
        "t, t (f: no such enum type, or no such neighbour label)",
        Expected::row(&["t", "t"]),
    )
}

fn place_clause(place: &EnumPlace) -> String {
    match place {
        EnumPlace::End => String::new(),
        EnumPlace::Before(n) => format!(" BEFORE {}", literal(n)),
        EnumPlace::After(n) => format!(" AFTER {}", literal(n)),
    }
}

fn transaction_warning(in_transaction: bool) -> Warning {
    Warning {
        code: "enum-add-value-transaction".to_string(),
        message: if in_transaction {
            "ALTER TYPE ... ADD VALUE may run inside a transaction block on this version, but no statement of that transaction can use the new label (\"unsafe use of new value\"): a migration that adds the label and uses it must commit in between.".to_string()
        } else {
            "ALTER TYPE ... ADD VALUE cannot run inside a transaction block before PostgreSQL 12: run it outside the migration tool's transaction (Rails disable_ddl_transaction!, Django atomic = False, Flyway/Liquibase a non-transactional change set).".to_string()
        },
    }
}

pub fn paths(ctx: &Ctx, change: &AddEnumValue) -> Result<Paths, FieldError> {
    let AddEnumValue {
        type_name,
        value,
        place,
        ..
    } = change;
    let Some(type_name) = type_name.as_deref() else {
        return Err(FieldError::new(
            "type-name",
            "is required for PostgreSQL: the enum type the label is added to, e.g. order_status",
        ));
    };
    let ty = ctx.sibling(type_name);
    let regtype = format!("{}::regtype", literal(&ty));
    let label = literal(value);
    let in_transaction = ENUM_ADD_VALUE_IN_TRANSACTION.holds(ctx.version());
    let mut step = ctx.brief(
        "Add the label (catalog only; no table is locked)",
        vec![format!(
            "ALTER TYPE {ty} ADD VALUE IF NOT EXISTS {label}{};",
            place_clause(place)
        )],
        Statement::AlterEnum,
    );
    step.in_transaction = in_transaction;
    step.notes.push(if in_transaction {
        format!("Runs in its own transaction: {label} is usable once it commits, not before.")
    } else {
        "Runs outside any transaction block: this version refuses ALTER TYPE ... ADD VALUE inside one.".to_string()
    });
    if !matches!(place, EnumPlace::End) {
        step.notes.push("A label placed BEFORE or AFTER another gets a fractional sort position: comparisons and sorts involving it look the order up in the catalog, slightly slower than for labels added in order.".to_string());
    }
    step.retry = "IF NOT EXISTS: a re-run after success changes nothing. It waits only for another ALTER of the same type.".to_string();
    let irreversible = format!("PostgreSQL cannot remove an enum label (there is no ALTER TYPE ... DROP VALUE). {label} is harmless while nothing writes it; removing it means a new type without it and a change of every column's type to it (a table rewrite).");
    let phases = vec![
        ctx.preflight(None, vec![type_check(&regtype, place)]),
        Phase {
            name: "add label".to_string(),
            purpose: format!("Make {label} a valid value of {ty}; no row changes."),
            app_change: None,
            steps: vec![step],
            rollback: Vec::new(),
            irreversible: Some(irreversible),
            checks: vec![label_check(&regtype, value)],
        },
        Phase {
            name: "write the new label".to_string(),
            purpose: format!("The application may write {label} from now on."),
            app_change: Some(format!(
                "Every reader handles {label} (deployed everywhere first), then writers may write it."
            )),
            steps: Vec::new(),
            rollback: Vec::new(),
            irreversible: None,
            checks: vec![label_check(&regtype, value)],
        },
    ];
    Ok(Paths {
        summary: format!("Add label {label} to enum type {ty}"),
        direct: Some(phases),
        online: None,
        online_required: None,
        warnings: vec![transaction_warning(in_transaction)],
    })
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
            .with("type-name", "order_status")
            .with("value", "refunded")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn outside_a_transaction_before_12_inside_from_12() {
        for major in 10..=18 {
            let plan = crate::plan(&params(&format!("postgresql@{major}"))).unwrap();
            let step = &plan.phases[1].steps[0];
            assert_eq!(
                step.sql,
                ["ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded';"]
            );
            assert_eq!(step.lock, None);
            assert_eq!(step.blocks, Blocks::Nothing);
            assert_eq!(step.in_transaction, major >= 12, "{major}");
            assert!(plan.phases[1].irreversible.is_some());
            assert!(plan.phases[2].app_change.is_some());
            let warning = plan
                .warnings
                .iter()
                .find(|w| w.code == "enum-add-value-transaction")
                .unwrap();
            assert_eq!(warning.message.contains("cannot run inside"), major < 12);
        }
    }

    #[test]
    fn before_and_after_place_the_label() {
        let plan = crate::plan(&params("postgresql@16").with("after", "it's")).unwrap();
        assert_eq!(
            plan.phases[1].steps[0].sql,
            ["ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'refunded' AFTER 'it''s';"]
        );
        assert!(plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("enumlabel = 'it''s'") && c.stops()));
        let err = crate::plan(
            &params("postgresql@16")
                .with("after", "a")
                .with("before", "b"),
        )
        .unwrap_err();
        assert_eq!(err[0].field, "after");
    }

    #[test]
    fn runbook() {
        let p = params("postgresql@11").with("before", "cancelled");
        let plan = crate::plan(&p).unwrap();
        insta::assert_snapshot!(
            "add_enum_value_pg11",
            crate::render::markdown::render(&plan, &p)
        );
    }
}
