//! Let a NOT NULL column accept NULL (MySQL, MariaDB).
//!
//! `ALTER TABLE ... MODIFY c <definition> NULL, ALGORITHM=INPLACE, LOCK=NONE` rebuilds the
//! table in place while reads and writes continue ([`Server::drop_not_null_lock`]): MySQL
//! manual, "Making a column NULL: In Place Yes, Rebuilds Table Yes, Permits Concurrent DML
//! Yes"; MariaDB rebuilds too, except for ROW_FORMAT=REDUNDANT tables. MODIFY restates the
//! whole column, so the request carries its current definition (`--type`, without NOT NULL);
//! the preflight proves the type is the column's and that nothing the column has (a DEFAULT,
//! a COMMENT, ON UPDATE ...) would be dropped ([`super::definition`]). A column of the primary
//! key cannot become nullable (MySQL makes primary key columns NOT NULL silently, MariaDB
//! refuses): the preflight stops there.
//! The rollback is the same rebuild back to NOT NULL, which fails once a NULL was written.
//!
//! [`Server::drop_not_null_lock`]: crate::mysql::facts::Server::drop_not_null_lock

use super::definition::{from_type_check, lost_attributes_check, Definition};
use super::{check, summary_paths, Ctx, Paths};
use crate::model::{Check, Expected, Phase};
use crate::quote::mysql::{ident, literal};
use crate::request::change::DropNotNull;
use crate::request::FieldError;

/// `--type` as MODIFY needs it: the column's current definition without NOT NULL.
fn current_definition(data_type: Option<&str>) -> Result<Definition, FieldError> {
    let Some(t) = data_type.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(FieldError::new(
            "type",
            "is required for MySQL and MariaDB: MODIFY restates the whole column, so give its current definition without NOT NULL, e.g. int or varchar(64) DEFAULT '' (plus CHARACTER SET ..., COMMENT ... if it has them)",
        ));
    };
    let def = Definition::parse(t).map_err(|m| FieldError::new("type", m))?;
    if def.not_null.is_some() {
        return Err(FieldError::new(
            "type",
            "says NULL or NOT NULL itself; accepts the current definition without it (the plan adds NULL), e.g. int or varchar(64) DEFAULT ''",
        ));
    }
    Ok(def)
}

fn preflight_checks(
    ctx: &Ctx,
    column: &str,
    current: &Definition,
    restated: &Definition,
) -> Vec<Check> {
    let table = ctx.where_table(&ctx.req.table);
    let mut checks = vec![
        ctx.column_check(
            "The column exists",
            column,
            "1 (0: there is no such column)",
            Expected::row(&["1"]),
        ),
        check(
            "The column is not part of the primary key (a primary key column is always NOT NULL)",
            format!(
                "SELECT constraint_name FROM information_schema.key_column_usage WHERE {table} AND column_name = {} AND constraint_name = 'PRIMARY';",
                literal(column)
            ),
            "no rows. A row: the column is in the primary key; change the primary key first",
            Expected::NoRows,
        ),
    ];
    // The type is the same once the plan has run: a re-run finds it as it is.
    checks.extend(from_type_check(ctx, column, current, "type", None));
    checks.extend(lost_attributes_check(ctx, column, restated, "the MODIFY"));
    checks
}

pub fn paths(ctx: &Ctx, change: &DropNotNull) -> Result<Paths, FieldError> {
    let DropNotNull { column, data_type } = change;
    if ctx.req.env.primary_key.as_deref() == Some(column.as_str()) {
        return Err(FieldError::new(
            "column",
            format!(
                "{} is the primary key, which is always NOT NULL; accepts another column",
                crate::request::shown(column)
            ),
        ));
    }
    let current = current_definition(data_type.as_deref())?;
    let ty = data_type.as_deref().unwrap_or_default().trim();
    let table = ctx.table();
    let col = ident(column);
    let lock = ctx.server.drop_not_null_lock();
    let restated = Definition {
        not_null: Some(false),
        attributes: format!("{} NULL", current.attributes).trim().to_string(),
        ..current.clone()
    };
    let mut step = ctx.alter(
        "Let the column accept NULL (rebuilds the table in place; reads and writes continue)",
        &[format!("MODIFY {col} {ty} NULL")],
        lock,
        ctx.model.rewrite(),
    );
    step.rewrites_table = true;
    step.scans_table = true;
    step.notes.push("InnoDB rebuilds the table (the row format records which columns may be NULL); concurrent writes are logged and applied at the end, under the exclusive metadata lock: a heavy write rate lengthens that final moment (innodb_online_alter_log_max_size bounds the log; the ALTER fails if it fills).".to_string());
    let step = ctx.documented(step);
    let rollback = ctx.rollback_ddl(
        format!(
            "ALTER TABLE {table} MODIFY {col} {ty} NOT NULL{};",
            ctx.lock_clause(lock)
        ),
        Some("The same in-place rebuild back to NOT NULL (reads and writes continue); it fails with \"Data truncated\" / \"Invalid use of NULL value\" once a NULL was written: fill those rows first."),
    );
    let mut out = summary_paths(format!("Let column {col} of {table} accept NULL"));
    out.direct = Some(vec![
        ctx.preflight(Some(ctx.req.bytes), preflight_checks(ctx, column, &current, &restated)),
        Phase {
            name: "drop not null".to_string(),
            purpose: format!("Rebuild {table} with {col} accepting NULL while traffic continues; existing values are not changed."),
            app_change: None,
            steps: vec![step],
            rollback: vec![rollback],
            irreversible: None,
            checks: vec![check(
                "The column accepts NULL",
                format!(
                    "SELECT is_nullable FROM information_schema.columns WHERE {} AND column_name = {};",
                    ctx.where_table(&ctx.req.table),
                    literal(column)
                ),
                "YES",
                Expected::row(&["YES"]),
            )],
        },
    ]);
    out.warnings.push(crate::model::Warning {
        code: "readers-expect-values".to_string(),
        message: format!(
            "Once the column accepts NULL, the application may write NULL into {col}: every reader (reports, ORMs, other services) must handle it before the first NULL is written, and the rollback then fails until those rows are filled."
        ),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected};
    use crate::request::params::Params;

    fn params(db: &str, ty: Option<&str>) -> Params {
        let mut p = Params::new()
            .with("db", db)
            .with("change", "drop-not-null")
            .with("table", "orders`; drop table x; --")
            .with("column", "status")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        if let Some(t) = ty {
            p.set("type", t);
        }
        p
    }

    #[test]
    fn in_place_rebuild_restating_the_column_on_every_version() {
        for db in ["mariadb@10.11.6", "mysql@8.0.35", "mysql@5.7"] {
            let p = crate::plan(&params(db, Some("varchar(16) DEFAULT 'new'"))).unwrap();
            let step = &p.phases[1].steps[0];
            assert_eq!(
                step.sql[0],
                "ALTER TABLE `orders``; drop table x; --` MODIFY `status` varchar(16) DEFAULT 'new' NULL, ALGORITHM=INPLACE, LOCK=NONE;"
            );
            assert!(step.rewrites_table);
            assert_eq!(step.blocks, Blocks::ReadsAndWrites);
            assert!(step.hold_seconds.high <= 0.05);
            assert!(p.phases[1].rollback[0].sql.ends_with(
                "MODIFY `status` varchar(16) DEFAULT 'new' NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;"
            ));
            let pre = &p.phases[0].checks;
            assert!(pre.iter().any(|c| c.sql.contains("'PRIMARY'") && c.stops()));
            assert!(pre.iter().any(|c| c.sql.contains("AS current_type")
                && c.expected == Expected::row(&["varchar(16)"])));
            let lost = pre
                .iter()
                .find(|c| c.sql.contains("would_be_dropped"))
                .unwrap();
            assert!(!lost.sql.contains("'NOT NULL'") && !lost.sql.contains("'DEFAULT '"));
        }
    }

    #[test]
    fn type_is_required_and_must_not_say_null() {
        for ty in [None, Some("varchar(16) NOT NULL"), Some("int NULL")] {
            let err = crate::plan(&params("mysql@8.0.35", ty)).unwrap_err();
            assert!(err.iter().any(|e| e.field == "type"), "{ty:?}: {err:?}");
        }
        let err = crate::plan(&params("mariadb@10.11.6", Some("bigint")).with("column", "id"))
            .unwrap_err();
        assert!(err.iter().any(|e| e.field == "column"), "{err:?}");
    }
}
