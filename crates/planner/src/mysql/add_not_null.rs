//! Make an existing column NOT NULL (MySQL, MariaDB).
//!
//! `ALTER TABLE ... MODIFY col <type> NOT NULL, ALGORITHM=INPLACE, LOCK=NONE` rebuilds the table
//! in place while reads and writes continue (MySQL manual, "Online DDL Operations": "Making a
//! column NOT NULL: In Place Yes, Rebuilds Table Yes, Permits Concurrent DML Yes", 5.7 and 8.x,
//! with strict SQL mode; checked on MariaDB 10.11, where INSTANT is refused). The statement fails,
//! changing nothing, when a NULL is left (strict mode: "Data truncated for column", seen on
//! MariaDB 10.11), so the preflight counts them; filling them is the user's decision (which
//! value?) and is not planned here.
//!
//! MODIFY restates the whole column, so the request must carry the column's current type
//! (`--type`, with its DEFAULT, CHARACTER SET, COMMENT if it has them): the server has no
//! "SET NOT NULL" alone. The preflight proves `--type` is the column's type and restates every
//! attribute it has ([`super::definition`]).
//! The rollback is the same rebuild back to NULL (INPLACE, LOCK=NONE; checked on MariaDB 10.11).

use super::definition::{definition_check, parse_field, strict_mode_check};
use super::definition::{from_type_check, lost_attributes_check, Definition};
use super::{summary_paths, Ctx};
use crate::model::{Check, Expected, MysqlLock, Phase, Step, Warning};
use crate::quote::mysql::{ident, literal};
use crate::request::change::AddNotNull;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// `--type` as MODIFY needs it: the column's current definition, without any NULL / NOT NULL
/// of its own (the plan adds NOT NULL) and without DEFAULT NULL.
fn current_definition(data_type: Option<&str>) -> Result<Definition, FieldError> {
    let Some(t) = data_type.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(FieldError::new(
            "type",
            "is required for MySQL and MariaDB: MODIFY restates the whole column, so give its current definition, e.g. int or varchar(64) (plus DEFAULT ..., CHARACTER SET ..., COMMENT ... if it has them)",
        ));
    };
    let def = parse_field("type", t)?;
    if def
        .default
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case("null"))
    {
        return Err(FieldError::new(
            "type",
            "has DEFAULT NULL, which a NOT NULL column cannot keep; accepts the current definition without it, e.g. int or varchar(64) DEFAULT ''",
        ));
    }
    if def.not_null.is_some() {
        return Err(FieldError::new(
            "type",
            "says NULL or NOT NULL itself; accepts the current definition without it (the plan adds NOT NULL), e.g. int or varchar(64) DEFAULT ''",
        ));
    }
    Ok(def)
}

pub fn paths(ctx: &Ctx, change: &AddNotNull) -> Result<Paths, FieldError> {
    let AddNotNull { column, data_type } = change;
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
    let clause = format!("MODIFY {col} {ty} NOT NULL");
    let mut out = summary_paths(format!("Make column {col} of {table} NOT NULL"));
    if current.auto_increment {
        out.warnings.push(Warning {
            code: "auto-increment".to_string(),
            message: "--type says AUTO_INCREMENT: such a column is normally a key and already NOT NULL; check that this is the column you mean.".to_string(),
        });
    }
    let pre = preflight_checks(ctx, column, &current, &clause);
    let step = modify_step(ctx, &clause);
    let rollback = ctx.rollback_ddl(
        format!(
            "ALTER TABLE {table} MODIFY {col} {ty} NULL{};",
            ctx.lock_clause(MysqlLock::INPLACE_NONE)
        ),
        Some("Another in-place rebuild (reads and writes continue) that lets the column accept NULL again."),
    );
    let col_where = format!(
        "{} AND column_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(column)
    );
    out.direct = Some(vec![
        ctx.preflight(Some(ctx.req.bytes), pre),
        Phase {
            name: "set not null".to_string(),
            purpose: format!(
                "Rebuild {table} with {col} NOT NULL while traffic continues; from then on a NULL is refused."
            ),
            app_change: Some(format!(
                "The application writes no NULL into {col}: every INSERT sets it (or relies on a DEFAULT that --type restates) and no UPDATE sets it to NULL. From this phase on such writes fail."
            )),
            steps: vec![step],
            rollback: vec![rollback],
            irreversible: None,
            checks: vec![check(
                "The column is NOT NULL",
                format!("SELECT is_nullable FROM information_schema.columns WHERE {col_where};"),
                "NO",
                Expected::row(&["NO"]),
            )],
        },
    ]);
    Ok(out)
}

/// Before the MODIFY: the column, its definition, strict mode, no NULL left, and that the
/// restated definition keeps every attribute.
fn preflight_checks(ctx: &Ctx, column: &str, current: &Definition, clause: &str) -> Vec<Check> {
    let table = ctx.table();
    let col = ident(column);
    let col_where = format!(
        "{} AND column_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(column)
    );
    let restated = Definition {
        not_null: Some(true),
        attributes: format!("{} NOT NULL", current.attributes)
            .trim()
            .to_string(),
        ..current.clone()
    };
    let mut pre = vec![
        check(
            "The column exists (nullable until this plan has run; already NOT NULL: nothing to do, as a re-run finds it)",
            format!("SELECT COUNT(*) AS present FROM information_schema.columns WHERE {col_where};"),
            "1 (0: there is no such column)",
            Expected::row(&["1"]),
        ),
        definition_check(ctx, column, clause),
        strict_mode_check(),
        check(
            "No NULL is left in the column (a full scan unless an index covers it: run it on a replica if you have one)",
            format!("SELECT COUNT(*) AS null_rows FROM {table} WHERE {col} IS NULL;"),
            "0. Otherwise decide the value those rows get and fill them first, in batches the application can live with (e.g. UPDATE ... SET <col> = <value> WHERE <col> IS NULL LIMIT 5000, repeated until it changes no row), and make sure the application writes no new NULL",
            Expected::row(&["0"]),
        ).scanning().proving(crate::model::Precondition::NoNulls),
    ];
    // MODIFY restates the type too: a --type other than the column's would change it.
    // The type is the same once the plan has run: a re-run finds it as it is.
    pre.extend(from_type_check(ctx, column, current, "type", None));
    pre.extend(lost_attributes_check(ctx, column, &restated, "the MODIFY"));
    pre
}

/// MODIFY ... NOT NULL: an in-place rebuild that checks every row while traffic continues.
fn modify_step(ctx: &Ctx, clause: &str) -> Step {
    let mut step = ctx.alter(
        "Make the column NOT NULL (rebuilds the table in place; reads and writes continue)",
        &[clause.to_string()],
        MysqlLock::INPLACE_NONE,
        ctx.model.rewrite(),
    );
    step.rewrites_table = true;
    step.scans_table = true;
    step.notes.push("InnoDB rebuilds the table and checks every row while it copies; concurrent writes are logged and applied at the end, under the exclusive metadata lock: a heavy write rate lengthens that final moment (innodb_online_alter_log_max_size bounds the log; the ALTER fails if it fills).".to_string());
    step.notes.push("If a NULL is found (or written meanwhile), the statement fails at the end with \"Data truncated\" / \"Invalid use of NULL value\" and nothing has changed: fill the NULLs, stop the writer, run it again.".to_string());
    ctx.documented(step)
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected};
    use crate::request::params::Params;

    fn params(db: &str, ty: Option<&str>) -> Params {
        let mut p = Params::new()
            .with("db", db)
            .with("change", "add-not-null")
            .with("table", "orders`; drop table x; --")
            .with("column", "email")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        if let Some(t) = ty {
            p.set("type", t);
        }
        p
    }

    #[test]
    fn in_place_rebuild_with_dml_on_every_version() {
        for db in ["mariadb@10.11.6", "mysql@8.0.35", "mysql@5.7"] {
            let p = crate::plan(&params(db, Some("varchar(64)"))).unwrap();
            assert_eq!(p.strategy.chosen, "direct");
            let step = &p.phases[1].steps[0];
            assert_eq!(
                step.sql[0],
                "ALTER TABLE `orders``; drop table x; --` MODIFY `email` varchar(64) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;"
            );
            assert!(step.rewrites_table);
            assert_eq!(step.blocks, Blocks::ReadsAndWrites);
            assert!(step.hold_seconds.high <= 0.05);
            assert_eq!(step.unverified.is_none(), db.starts_with("mariadb"));
            assert!(p.phases[1].rollback[0]
                .sql
                .ends_with("MODIFY `email` varchar(64) NULL, ALGORITHM=INPLACE, LOCK=NONE;"));
            assert!(p.phases[1].app_change.is_some());
            assert!(p.phases[0]
                .checks
                .iter()
                .any(|c| c.sql.contains("WHERE `email` IS NULL")
                    && c.expected == Expected::row(&["0"])));
            // The restated definition is proven to be the column's: its type, and nothing
            // it has besides (a DEFAULT, a COMMENT ...) left out.
            assert!(p.phases[0]
                .checks
                .iter()
                .any(|c| c.sql.contains("AS current_type")
                    && c.expected == Expected::row(&["varchar(64)"])));
            let lost = p.phases[0]
                .checks
                .iter()
                .find(|c| c.sql.contains("would_be_dropped"))
                .unwrap();
            assert_eq!(lost.expected, Expected::NoRows);
            assert!(!lost.sql.contains("'NOT NULL'") && lost.sql.contains("'DEFAULT '"));
            assert!(p
                .warnings
                .iter()
                .all(|w| w.code != "modify-restates-column"));
        }
    }

    #[test]
    fn type_is_required_and_must_not_say_null() {
        for ty in [None, Some("varchar(64) NOT NULL"), Some("int DEFAULT NULL")] {
            let err = crate::plan(&params("mysql@8.0.35", ty)).unwrap_err();
            assert!(err.iter().any(|e| e.field == "type"), "{ty:?}: {err:?}");
        }
        let mut p = params("mariadb@10.11.6", Some("bigint"));
        p.set("column", "id");
        let err = crate::plan(&p).unwrap_err();
        assert!(err.iter().any(|e| e.field == "column"), "{err:?}");
    }
}
