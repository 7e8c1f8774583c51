//! Drop a table (MySQL, MariaDB).
//!
//! As on PostgreSQL, the plan first renames the table aside after the deploy that stops using
//! it (`RENAME TABLE`, metadata-only under an exclusive metadata lock for a moment): a
//! forgotten client fails loudly ("Table ... doesn't exist") and renaming back undoes it. After
//! a waiting period the aside table is dropped. DROP TABLE is refused while a foreign key of
//! another table references it (unless foreign_key_checks is off, which would leave those
//! foreign keys dangling): the preflight lists them and stops.
//!
//! The drop itself stalls the whole server, not only this table: InnoDB deletes the file and,
//! where the version walks the buffer pool for the table's pages
//! ([`crate::mysql::facts::Server::drop_table_walks_cached_pages`]), evicts them, while every
//! query waits ([`crate::estimate::Model::drop_stall`]). The plan sizes that stall from the
//! table's size and warns when it exceeds the budget.

use super::{summary_paths, Ctx};
use crate::estimate::CATALOG_ONLY;
use crate::model::{human_seconds_up, Check, Expected, MysqlLock, Phase, Step, Warning};
use crate::quote::mysql::{derived_name, ident, literal};
use crate::request::change::DropTable;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// A server stall below this is the commit moment every drop costs (the live verifier's own
/// stall threshold for "blocks nothing" is 200 ms): no warning for it.
const STALL_NOTICE_SECONDS: f64 = 0.2;

pub fn paths(ctx: &Ctx, _change: &DropTable) -> Result<Paths, FieldError> {
    let drop = TableDrop::new(ctx);
    let mut phases = vec![
        ctx.preflight(None, drop.preflight_checks()),
        drop.rename_phase(),
        drop.drop_phase(),
    ];
    super::rerun::guard_transition_checks(&mut phases, &drop.not_gone);
    let mut out = summary_paths(format!(
        "Drop table {} ({})",
        ident(drop.name),
        crate::model::human_bytes(ctx.req.bytes)
    ));
    out.direct = Some(phases);
    out.warnings = drop.stall_warning().into_iter().collect();
    Ok(out)
}

/// The table under its name and the name it is renamed aside to, and the catalog lookups of
/// either.
struct TableDrop<'a> {
    ctx: &'a Ctx<'a>,
    name: &'a str,
    table: String,
    aside_name: String,
    aside: String,
    /// information_schema.tables rows of the table under either name.
    either: String,
    /// While either name still holds the table: a re-run of the completed plan skips the
    /// checks that need it (and a table that never existed is, likewise, already gone).
    not_gone: String,
}

impl<'a> TableDrop<'a> {
    fn new(ctx: &'a Ctx<'a>) -> Self {
        let name = &ctx.req.table;
        let table = ctx.table();
        let aside_name = derived_name(&["lockstep_dropped", name]);
        let aside = ctx.sibling(&aside_name);
        let either = format!(
            "table_schema = {} AND table_name IN ({}, {})",
            ctx.schema_value(),
            literal(name),
            literal(&aside_name)
        );
        // While either name still holds the table: a re-run of the completed plan skips the
        // checks that need it (and a table that never existed is, likewise, already gone).
        TableDrop {
            ctx,
            name,
            table,
            aside_name,
            aside,
            not_gone: format!(
                "SELECT COUNT(*) > 0 AS not_gone FROM information_schema.tables WHERE {either};"
            ),
            either,
        }
    }

    /// The table exists (under either name) and no foreign key of another table references it.
    fn preflight_checks(&self) -> Vec<Check> {
        let TableDrop {
            ctx,
            name,
            aside_name,
            either,
            not_gone,
            ..
        } = self;
        let mut exists = check(
            "The table exists (or was already renamed aside by this plan) and is a base table",
            format!("SELECT COUNT(*) > 0 AS present FROM information_schema.tables WHERE {either} AND table_type = 'BASE TABLE';"),
            "1",
            Expected::row(&["1"]),
        );
        exists.only_if = Some(not_gone.clone());
        vec![
            exists,
            check(
                "No foreign key of another table references it",
                format!("SELECT constraint_name, table_name FROM information_schema.referential_constraints WHERE unique_constraint_schema = {} AND referenced_table_name IN ({}, {}) AND table_name <> referenced_table_name;", ctx.schema_value(), literal(name), literal(aside_name)),
                "no rows. A row means DROP TABLE is refused (with foreign_key_checks off it would leave that foreign key dangling): drop those foreign keys first",
                Expected::NoRows,
            )
            .proving(crate::model::Precondition::NotReferenced),
        ]
    }

    /// Rename aside: reversible, and a client that still uses the table fails loudly.
    fn rename_step(&self) -> Step {
        let TableDrop {
            ctx,
            name,
            table,
            aside,
            ..
        } = self;
        let mut rename = ctx.step(
            "Rename the table aside (reversible: a client that still uses it fails loudly)",
            vec![format!("RENAME TABLE {table} TO {aside};")],
            Some(MysqlLock::MetadataExclusive),
            CATALOG_ONLY,
        );
        rename.only_if = Some(ctx.relation_present(name));
        rename.notes.push("Metadata-only: waits for the exclusive metadata lock, and while it waits every later query on the table queues behind it (bounded by lock_wait_timeout).".to_string());
        let rename = ctx.documented(rename);
        ctx.documented(rename)
    }

    /// The drop: a metadata lock on the renamed table, and a server-wide stall while InnoDB deletes the file.
    fn drop_step(&self) -> Step {
        let TableDrop { ctx, aside, .. } = self;
        let stall = ctx.drop_stall(ctx.req.bytes);
        let mut drop = ctx.step(
            "Drop the table",
            vec![format!("DROP TABLE IF EXISTS {aside};")],
            Some(MysqlLock::MetadataExclusive),
            stall,
        );
        drop.server_stall_seconds = Some(stall);
        drop.notes.push(format!(
            "Stalls every query on the server, whatever table it uses, for up to {} here: InnoDB deletes the file{} at commit. Run it at the quietest hour. To shorten the stall on a large table, first create a hard link to its .ibd file (the drop then only removes a name; delete the link later, or truncate the file gradually).",
            human_seconds_up(stall.high),
            if crate::mysql::facts::DROP_TABLE_WALKS_CACHED_PAGES.holds(ctx.server) { " and walks the buffer pool for the table's pages" } else { "" }
        ));
        ctx.documented(drop)
    }

    /// A stall over the budget (and over a notice threshold) gets a warning: no lock bounds it.
    fn stall_warning(&self) -> Option<Warning> {
        let TableDrop { ctx, .. } = self;
        let stall = ctx.drop_stall(ctx.req.bytes);
        if stall.high > ctx.model.budget_seconds().max(STALL_NOTICE_SECONDS) {
            return Some(Warning {
                code: "drop-stall".to_string(),
                message: format!(
                    "Dropping {} of {} stalls the whole server for up to {}, over the downtime budget: no lock causes it, so no lock timeout bounds it. Hard-link the .ibd file first, or accept the stall at the quietest hour.",
                    crate::model::human_bytes(ctx.req.bytes),
                    ctx.req.db.engine.label(),
                    human_seconds_up(stall.high)
                ),
            });
        }
        None
    }

    /// Phase: the table taken out of use while it can still come back.
    fn rename_phase(&self) -> Phase {
        let TableDrop {
            ctx,
            table,
            aside_name,
            aside,
            ..
        } = self;
        Phase {
            name: "rename aside".to_string(),
            purpose: "Take the table out of use while it can still come back.".to_string(),
            app_change: Some(format!("No client uses {table} any more: application code, ORM models, background jobs, reports, ETL and grant scripts. Deploy that first.")),
            steps: vec![self.rename_step()],
            rollback: vec![ctx.rollback_ddl(
                format!("RENAME TABLE {aside} TO {table};"),
                Some("Gives the table its name back, with every row: an exclusive metadata lock for a moment."),
            )],
            irreversible: None,
            checks: vec![check(
                "The table is aside",
                ctx.relation_present(aside_name),
                "1",
                Expected::row(&["1"]),
            )],
        }
    }

    /// Phase: the drop, after a waiting period; irreversible.
    fn drop_phase(&self) -> Phase {
        let TableDrop {
            ctx,
            aside_name,
            either,
            ..
        } = self;
        let db = ctx
            .req
            .schema
            .clone()
            .unwrap_or_else(|| "<database>".to_string());
        Phase {
            name: "drop".to_string(),
            purpose: "After a waiting period in which nothing failed for want of the table (a full business cycle), drop it.".to_string(),
            app_change: Some("Nothing reported an error about the missing table during the waiting period (application logs, failed jobs).".to_string()),
            steps: vec![self.drop_step()],
            rollback: Vec::new(),
            irreversible: Some(format!(
                "DROP TABLE discards every row. To keep them, take a copy before this phase, e.g. mysqldump --single-transaction <connection options> {} {} > backup.sql.",
                crate::quote::shell(&db),
                crate::quote::shell(aside_name)
            )),
            checks: vec![check(
                "The table is gone",
                format!("SELECT COUNT(*) AS remaining FROM information_schema.tables WHERE {either};"),
                "0",
                Expected::row(&["0"]),
            )],
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::request::params::Params;

    fn params(db: &str, size: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "drop-table")
            .with("table", "orders")
            .with("rows", "50M")
            .with("size", size)
            .with("max-downtime", "0")
    }

    #[test]
    fn renames_aside_then_drops_with_the_server_stall() {
        let plan = crate::plan(&params("mysql@8.0.35", "200GB")).unwrap();
        assert_eq!(
            plan.phases[1].steps[0].sql,
            ["RENAME TABLE `orders` TO `lockstep_dropped_orders`;"]
        );
        let drop = &plan.phases[2].steps[0];
        assert_eq!(
            drop.sql,
            ["DROP TABLE IF EXISTS `lockstep_dropped_orders`;"]
        );
        let stall = drop.server_stall_seconds.unwrap();
        assert!(stall.high > 1.0, "{stall:?}");
        assert!(plan.warnings.iter().any(|w| w.code == "drop-stall"));
        // MySQL 8.4 no longer walks the buffer pool: a shorter stall.
        let newer = crate::plan(&params("mysql@8.4", "200GB")).unwrap();
        assert!(newer.phases[2].steps[0].server_stall_seconds.unwrap().high < stall.high);
        let small = crate::plan(&params("mariadb@10.11", "2MB")).unwrap();
        assert!(!small.warnings.iter().any(|w| w.code == "drop-stall"));
        assert!(plan.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("referential_constraints") && c.stops()));
    }
}
