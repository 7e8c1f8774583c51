//! Give an existing column a new DEFAULT (MySQL, MariaDB).
//!
//! `ALTER TABLE ... ALTER COLUMN c SET DEFAULT v` changes metadata only: INSTANT on MySQL
//! 8.0.12+ and MariaDB, in place without a rebuild on MySQL 5.7 and 8.0.0-8.0.11
//! ([`crate::mysql::facts::Server::column_default_lock`]). Existing rows keep their values,
//! NULLs included: only later INSERTs that omit the column get the default. An expression
//! default (`(expr)`) needs MySQL 8.0.13+ or MariaDB 10.2+; the server refuses what it cannot
//! do in the algorithm written, changing nothing.

use super::shared::column_default::{alter_step, has_default_check, phase, preflight_checks};
use super::{summary_paths, Ctx};
use crate::quote::mysql::ident;
use crate::request::change::SetDefault;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &SetDefault) -> Result<super::Paths, FieldError> {
    let SetDefault { column, default } = change;
    let expr = default.trim();
    let col = ident(column);
    let mut step = alter_step(
        ctx,
        "Set the column's default (metadata only)",
        format!("ALTER COLUMN {col} SET DEFAULT {expr}"),
    );
    step.notes.push("Existing rows keep their values, NULLs included: only INSERTs that omit the column (or write DEFAULT) get the new default from now on. To fill existing rows, backfill them in batches separately.".to_string());
    let mut out = summary_paths(format!(
        "Set the default of column {col} of {} to {expr}",
        ctx.table()
    ));
    out.direct = Some(vec![
        ctx.preflight(None, preflight_checks(ctx, column)),
        phase(
            "set default",
            format!("Make {expr} the default of {col} for rows inserted from now on; existing rows are not touched."),
            None,
            step,
            has_default_check(ctx, column, true),
        ),
    ]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, MysqlLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "set-default")
            .with("table", "orders`; drop table x; --")
            .with("column", "status")
            .with("default", "'new'")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn instant_where_the_server_has_it_in_place_before() {
        for (db, clause) in [
            ("mariadb@10.11.6", ", ALGORITHM=INSTANT, LOCK=NONE;"),
            ("mysql@8.0.35", ", ALGORITHM=INSTANT;"),
            ("mysql@5.7", ", ALGORITHM=INPLACE, LOCK=NONE;"),
        ] {
            let p = crate::plan(&params(db)).unwrap();
            let step = &p.phases[1].steps[0];
            assert_eq!(
                step.sql[0],
                format!("ALTER TABLE `orders``; drop table x; --` ALTER COLUMN `status` SET DEFAULT 'new'{clause}"),
                "{db}"
            );
            assert!(!step.rewrites_table && !step.scans_table);
            assert_eq!(step.blocks, Blocks::ReadsAndWrites);
            assert!(step.hold_seconds.high <= crate::estimate::CATALOG_ONLY.high);
            assert!(p.phases[1].irreversible.is_some());
        }
        let p = crate::plan(&params("mysql@8.0.11")).unwrap();
        assert_eq!(
            p.phases[1].steps[0].lock,
            Some(crate::model::Lock::Mysql(MysqlLock::INPLACE_NONE))
        );
    }
}
