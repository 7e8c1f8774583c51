//! Remove a column's DEFAULT (MySQL, MariaDB).
//!
//! `ALTER TABLE ... ALTER COLUMN c DROP DEFAULT` changes metadata only, like SET DEFAULT
//! ([`crate::mysql::facts::Server::column_default_lock`]). Existing rows keep their values;
//! every later INSERT that omits the column gets NULL (nullable column) or, on a NOT NULL
//! column, fails in strict mode ("Field ... doesn't have a default value"): the application
//! must write the column itself first (the deploy gate).

use super::shared::column_default::{alter_step, has_default_check, phase, preflight_checks};
use super::{summary_paths, Ctx};
use crate::quote::mysql::ident;
use crate::request::change::DropDefault;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &DropDefault) -> Result<super::Paths, FieldError> {
    let DropDefault { column } = change;
    let col = ident(column);
    let mut step = alter_step(
        ctx,
        "Drop the column's default (metadata only)",
        format!("ALTER COLUMN {col} DROP DEFAULT"),
    );
    step.notes.push("Existing rows keep their values. From now on an INSERT that omits the column stores NULL, or fails if the column is NOT NULL (strict mode).".to_string());
    let mut out = summary_paths(format!(
        "Drop the default of column {col} of {}",
        ctx.table()
    ));
    out.direct = Some(vec![
        ctx.preflight(None, preflight_checks(ctx, column)),
        phase(
            "drop default",
            format!("Remove the default of {col}; existing rows are not touched."),
            Some(format!(
                "Every INSERT writes {col} itself (no INSERT relies on its default): from this phase on an INSERT that omits it stores NULL, or fails if the column is NOT NULL."
            )),
            step,
            has_default_check(ctx, column, false),
        ),
    ]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::request::params::Params;

    #[test]
    fn metadata_only_behind_a_deploy_gate() {
        for (db, clause) in [
            ("mariadb@10.11.6", ", ALGORITHM=INSTANT, LOCK=NONE;"),
            ("mysql@8.4", ", ALGORITHM=INSTANT;"),
            ("mysql@5.7", ", ALGORITHM=INPLACE, LOCK=NONE;"),
        ] {
            let p = crate::plan(
                &Params::new()
                    .with("db", db)
                    .with("change", "drop-default")
                    .with("table", "orders")
                    .with("column", "status")
                    .with("rows", "500M")
                    .with("size", "120GB")
                    .with("max-downtime", "0"),
            )
            .unwrap();
            let phase = &p.phases[1];
            assert_eq!(
                phase.steps[0].sql[0],
                format!("ALTER TABLE `orders` ALTER COLUMN `status` DROP DEFAULT{clause}")
            );
            assert!(phase.app_change.is_some());
            assert!(phase.checks[0].sql.contains("AS has_default"));
        }
    }
}
