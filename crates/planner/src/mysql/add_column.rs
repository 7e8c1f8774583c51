//! Add a column (MySQL, MariaDB).
//!
//! InnoDB adds a column without touching rows (ALGORITHM=INSTANT) from MySQL 8.0.12 and
//! MariaDB 10.3.2 (`engines::mysql`), when the default is a constant or CURRENT_TIMESTAMP and
//! the column is not STORED generated; a VIRTUAL generated column is INSTANT too. Before that
//! (MySQL 5.7, 8.0.0-8.0.11) the same statement rebuilds the table in place with
//! LOCK=NONE: long, but reads and writes continue. A default that must be computed per row
//! (`(uuid())`, any other expression) and a STORED generated column need ALGORITHM=COPY,
//! which blocks writes for the whole copy (seen on MariaDB 10.11: "ALGORITHM=INPLACE is not
//! supported for this operation. Try ALGORITHM=COPY"), so the online path is an
//! online-schema-change tool (`tools`).

use super::{summary_paths, tools, Ctx};
use crate::model::{
    Algorithm, Check, Expected, LockClause, MysqlLock, Phase, RollbackStep, Step, Warning,
};
use crate::mysql::facts;
use crate::quote::mysql::ident;
use crate::request::change::AddColumn;
use crate::request::FieldError;
use crate::strategy::Paths;

/// How InnoDB can add this column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cost {
    Instant,
    /// In-place rebuild with LOCK=NONE (5.7, 8.0 before 8.0.12).
    InplaceRebuild,
    /// Only a table copy: blocks writes, or an online-schema-change tool.
    Copy,
}

/// True for a default InnoDB stores once in the dictionary: a literal, NULL, TRUE/FALSE or
/// CURRENT_TIMESTAMP (its synonyms NOW(), LOCALTIMESTAMP), optionally with a precision.
fn constant_default(expr: &str) -> bool {
    let e = expr.trim();
    let lower = e.to_ascii_lowercase();
    let quoted = e.len() >= 2
        && e.starts_with('\'')
        && e.ends_with('\'')
        && !e[1..e.len() - 1].replace("''", "").contains('\'');
    let number = lower
        .trim_start_matches(['-', '+'])
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == 'e')
        && lower.chars().any(|c| c.is_ascii_digit());
    let timestamp = ["current_timestamp", "now", "localtimestamp"]
        .iter()
        .any(|f| {
            lower == *f
                || lower.strip_prefix(f).is_some_and(|rest| {
                    rest.starts_with('(')
                        && rest.ends_with(')')
                        && rest[1..rest.len() - 1].chars().all(|c| c.is_ascii_digit())
                })
        });
    quoted || number || timestamp || ["null", "true", "false"].contains(&lower.as_str())
}

pub fn paths(ctx: &Ctx, change: &AddColumn) -> Result<Paths, FieldError> {
    let definition = definition_clause(change);
    let cost = cost(ctx, change);
    let AddColumn {
        column, data_type, ..
    } = change;
    let mut out = summary_paths(format!(
        "Add column {} {} to {}",
        ident(column),
        data_type.trim(),
        ctx.table()
    ));
    out.warnings.extend(warnings(ctx, change, cost));
    let present = ctx.column_check("The column exists", column, "1", Expected::row(&["1"]));
    let rollback = drop_rollback(ctx, column);
    let phase = |step| Phase {
        name: "add column".to_string(),
        purpose: "Add the column. Deploy code that writes it only after this phase.".to_string(),
        app_change: None,
        steps: vec![step],
        rollback: vec![rollback.clone()],
        irreversible: None,
        checks: vec![present.clone()],
    };
    match cost {
        Cost::Instant => {
            let (checks, step) = instant(ctx, &definition, &mut out.warnings);
            out.direct = Some(vec![ctx.preflight(None, checks), phase(step)]);
        }
        Cost::InplaceRebuild => {
            out.direct = Some(vec![
                ctx.preflight(Some(ctx.req.bytes), Vec::new()),
                phase(inplace_rebuild(ctx, &definition)),
            ]);
        }
        Cost::Copy => {
            out.direct = Some(vec![
                ctx.preflight(Some(ctx.req.bytes), Vec::new()),
                phase(copy(ctx, &definition)),
            ]);
            out.online = Some(tools::online_alter(
                ctx,
                &definition,
                // Dropping the column is INSTANT or in place: no second copy needed.
                tools::Inverse::InPlace(vec![rollback.clone()]),
                "a computed DEFAULT or a STORED generated column has to be written into every row, which InnoDB can only do by copying the table"
            )?);
        }
    }
    Ok(out)
}

/// `ADD COLUMN name type ...`: a generated column VIRTUAL (computed on read: nothing to
/// write), otherwise NOT NULL and DEFAULT as given.
fn definition_clause(change: &AddColumn) -> String {
    let AddColumn {
        column,
        data_type,
        default,
        not_null,
        generated,
    } = change;
    let mut definition = format!("ADD COLUMN {} {}", ident(column), data_type.trim());
    if let Some(expr) = generated {
        definition.push_str(&format!(" GENERATED ALWAYS AS ({expr}) VIRTUAL"));
    } else {
        if *not_null {
            definition.push_str(" NOT NULL");
        }
        if let Some(d) = default {
            definition.push_str(&format!(" DEFAULT {d}"));
        }
    }
    definition
}

/// What the server must do to add it: a computed default is written into every row (a copy).
fn cost(ctx: &Ctx, change: &AddColumn) -> Cost {
    let computed_default = change
        .default
        .as_deref()
        .is_some_and(|d| !constant_default(d));
    if computed_default {
        Cost::Copy
    } else if facts::INSTANT_ADD_COLUMN_LAST.holds(ctx.server) {
        Cost::Instant
    } else {
        Cost::InplaceRebuild
    }
}

/// NOT NULL without a DEFAULT, and the 8.0.29-8.0.31 instant-column defects.
fn warnings(ctx: &Ctx, change: &AddColumn, cost: Cost) -> Vec<Warning> {
    let AddColumn {
        column,
        default,
        not_null,
        generated,
        ..
    } = change;
    let mut warnings = Vec::new();
    if *not_null && default.is_none() && generated.is_none() {
        warnings.push(Warning {
            code: "not-null-without-default".to_string(),
            message: format!(
                "{} is NOT NULL without a DEFAULT: existing rows get the type's implicit default (0, '', or the zero date), and in strict SQL mode every INSERT that does not name the column fails. Deploy the application that writes it first, or give a DEFAULT.",
                ident(column)
            ),
        });
    }
    if facts::INSTANT_COLUMN_DEFECT.holds(ctx.server) && cost == Cost::Instant {
        warnings.push(Warning {
            code: "mysql-8029-instant-defect".to_string(),
            message: format!(
                "MySQL {}: 8.0.29 to 8.0.31 had redo-log and corruption defects on tables with instantly added or dropped columns (8.0.29 was withdrawn). Upgrade to 8.0.32 or later before using ALGORITHM=INSTANT{}.",
                ctx.req.db.version,
                if ctx.req.db.version.patch.is_none() { " (no patch version was given, so an affected one is assumed possible)" } else { "" }
            ),
        });
    }
    warnings
}

/// DROP COLUMN, INSTANT where the server drops columns instantly.
fn drop_rollback(ctx: &Ctx, column: &str) -> RollbackStep {
    ctx.rollback_ddl(
        format!(
            "ALTER TABLE {} DROP COLUMN {}{};",
            ctx.table(),
            ident(column),
            ctx.lock_clause(if facts::INSTANT_ADD_DROP_ANYWHERE.holds(ctx.server) {
                MysqlLock::INSTANT
            } else {
                MysqlLock::INPLACE_NONE
            })
        ),
        Some("Drops the column and any values written to it since."),
    )
}

/// The INSTANT add: its preflight (row versions, what refuses INSTANT) and its step.
fn instant(ctx: &Ctx, definition: &str, warnings: &mut Vec<Warning>) -> (Vec<Check>, Step) {
    let server = ctx.server;
    let mut step = ctx.alter(
        "Add the column (INSTANT: only the data dictionary changes)",
        &[definition.to_string()],
        MysqlLock::INSTANT,
        crate::estimate::CATALOG_ONLY,
    );
    if let Some(limit) = server.instant_row_version_limit() {
        step.notes.push(format!(
            "Each INSTANT ADD/DROP COLUMN adds a row version; after {limit} the table must be rebuilt (OPTIMIZE TABLE or ALTER TABLE ... FORCE) before the next one. The preflight shows the count."
        ));
    }
    let step = ctx.documented(step);
    let mut extra: Vec<_> = ctx
        .row_version_room(
            &ctx.req.table,
            1,
            "rebuild the table first with OPTIMIZE TABLE (in place, reads and writes continue), then run the plan",
        )
        .into_iter()
        .collect();
    let inplace = format!(
        "add the column in place instead (rebuilds the table; reads and writes continue): ALTER TABLE {} {definition}{};",
        ctx.table(),
        ctx.lock_clause(MysqlLock::INPLACE_NONE)
    );
    extra.extend(ctx.instant_column_limits(&ctx.req.table, 1, &inplace));
    if facts::INSTANT_ADD_CHECKS_ROW_SIZE.holds(server) {
        warnings.push(super::row_size_warning(&inplace));
    }
    (extra, step)
}

/// The in-place add: the table is rebuilt, reads and writes continue.
fn inplace_rebuild(ctx: &Ctx, definition: &str) -> Step {
    let mut step = ctx.alter(
        "Add the column (rebuilds the table in place; reads and writes continue)",
        &[definition.to_string()],
        MysqlLock::INPLACE_NONE,
        ctx.model.rewrite(),
    );
    step.rewrites_table = true;
    step.notes.push("InnoDB logs concurrent writes while it rebuilds and applies them at the end, under the exclusive metadata lock: a heavy write rate lengthens that final moment (innodb_online_alter_log_max_size bounds the log; the ALTER fails if it fills).".to_string());
    ctx.documented(step)
}

/// The copy a computed default needs: writes wait for all of it.
fn copy(ctx: &Ctx, definition: &str) -> Step {
    let copy_lock = MysqlLock::Alter {
        algorithm: Algorithm::Copy,
        lock: LockClause::Shared,
    };
    let mut step = ctx.alter(
        "Add the column by copying the table (writes wait for the whole copy)",
        &[definition.to_string()],
        copy_lock,
        ctx.model.rewrite(),
    );
    step.rewrites_table = true;
    step
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Plan;
    use crate::request::params::Params;

    fn plan(db: &str, default: Option<&str>) -> Plan {
        let mut p = Params::new()
            .with("db", db)
            .with("change", "add-column")
            .with("table", "orders`; drop table x; --")
            .with("column", "is_flagged")
            .with("type", "tinyint(1)")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        if let Some(d) = default {
            p.set("default", d);
        }
        crate::plan(&p).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn instant_on_mariadb_and_modern_mysql() {
        let p = plan("mariadb@10.11.6", Some("0"));
        let step = &p.phases[1].steps[0];
        assert_eq!(
            step.sql[0],
            "ALTER TABLE `orders``; drop table x; --` ADD COLUMN IF NOT EXISTS `is_flagged` tinyint(1) DEFAULT 0, ALGORITHM=INSTANT, LOCK=NONE;"
        );
        assert!(step.unverified.is_none());
        let p = plan("mysql@8.0.35", Some("0"));
        let step = &p.phases[1].steps[0];
        assert!(step.sql[0].ends_with("DEFAULT 0, ALGORITHM=INSTANT;"));
        assert!(step.unverified.is_some());
        assert!(p
            .warnings
            .iter()
            .all(|w| w.code != "mysql-8029-instant-defect"));
        assert!(plan("mysql@8.0.30", None)
            .warnings
            .iter()
            .any(|w| w.code == "mysql-8029-instant-defect"));
    }

    /// ROW_FORMAT=COMPRESSED, a FULLTEXT index and (MySQL) the 1022-column cap refuse INSTANT:
    /// the preflight stops on each, naming the in-place statement to run instead.
    #[test]
    fn preflight_stops_where_instant_is_refused() {
        use crate::model::OnFail;
        let p = plan("mariadb@10.11.6", Some("0"));
        let checks = &p.phases[0].checks;
        let compressed = checks
            .iter()
            .find(|c| c.sql.contains("row_format = 'Compressed'"))
            .expect("a ROW_FORMAT=COMPRESSED check");
        assert_eq!(compressed.on_fail, OnFail::Stop);
        assert!(compressed.expect.contains("ALGORITHM=INPLACE, LOCK=NONE;"));
        let fulltext = checks
            .iter()
            .find(|c| c.sql.contains("index_type = 'FULLTEXT'"))
            .expect("a FULLTEXT check");
        assert_eq!(fulltext.on_fail, OnFail::Stop);
        assert!(fulltext.sql.contains("'FTS_DOC_ID'"));
        assert!(fulltext.expect.contains("online-schema-change tool"));
        assert!(checks.iter().all(|c| !c.sql.contains("1022")));
        assert!(p
            .warnings
            .iter()
            .all(|w| w.code != "mysql-instant-row-size"));

        let p = plan("mysql@8.0.35", Some("0"));
        let cap = p.phases[0]
            .checks
            .iter()
            .find(|c| c.sql.contains("n_cols + 1 <= 1022"))
            .expect("MySQL's column cap");
        assert_eq!(cap.on_fail, OnFail::Stop);
        assert!(cap.expect.contains("ERROR 4158"));
        assert!(p.warnings.iter().any(|w| w.code == "mysql-instant-row-size"
            && w.message.contains("ALGORITHM=INPLACE, LOCK=NONE;")));
        // 8.0.12-8.0.28 add the column without checking the row size.
        assert!(plan("mysql@8.0.28", Some("0"))
            .warnings
            .iter()
            .all(|w| w.code != "mysql-instant-row-size"));
        // Rebuilding in place (5.7) is not refused by any of them.
        assert!(plan("mysql@5.7", Some("0")).phases[0]
            .checks
            .iter()
            .all(|c| !c.sql.contains("row_format = 'Compressed'")));
    }

    #[test]
    fn rebuild_in_place_before_instant() {
        let p = plan("mysql@5.7", Some("'n'"));
        let step = &p.phases[1].steps[0];
        assert!(step.sql[0].ends_with("ALGORITHM=INPLACE, LOCK=NONE;"));
        assert!(step.rewrites_table);
        assert!(step.hold_seconds.high <= 0.05);
    }

    #[test]
    fn constants_and_timestamps_are_instant() {
        for d in [
            "0",
            "-1.5",
            "'a''b'",
            "NULL",
            "true",
            "CURRENT_TIMESTAMP",
            "now(6)",
        ] {
            assert!(constant_default(d), "{d}");
        }
        for d in ["(uuid())", "rand()", "'a' || 'b'", "now() + 1"] {
            assert!(!constant_default(d), "{d}");
        }
    }
}
