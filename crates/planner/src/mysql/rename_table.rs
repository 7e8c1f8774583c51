//! Rename a table (MySQL, MariaDB).
//!
//! `RENAME TABLE a TO b` is metadata-only under an exclusive metadata lock for a moment, and
//! atomic. Triggers move with the table and InnoDB re-points foreign keys; views and stored
//! code that name the old table do not follow. Every client query that names the old table
//! fails the moment it commits, so the online path is required whatever the budget:
//!
//! 1. expand — rename the table and leave an updatable view under the old name, so clients on
//!    either name work. A view over one table with plain columns is updatable in MySQL and
//!    MariaDB: SELECT, INSERT (with ON DUPLICATE KEY UPDATE, REPLACE, LAST_INSERT_ID()),
//!    UPDATE and DELETE pass through to the table (each seen on MariaDB 10.11;
//!    `ALGORITHM=MERGE` keeps it so). Neither server can rename a table and create a view in
//!    one statement, and RENAME then CREATE VIEW would leave the old name missing in between
//!    ("Table ... doesn't exist"). `RENAME TABLE` renames several tables and views atomically,
//!    though, so the plan builds the view first, over an empty placeholder that already has
//!    the new name (`CREATE TABLE new LIKE old`), then swaps all three names in one
//!    statement: placeholder out of the way, table to the new name, view to the old name.
//!    The view refers to the new name, which from that instant is the real table. No moment
//!    exists where the old name is missing (seen on MariaDB 10.11);
//! 2. the application deploys using the new name;
//! 3. contract — drop the view (a metadata lock on the view only).
//!
//! Privileges in MySQL are granted by name: table-level grants on the old name now apply to
//! the view; the new name has none until granted (the preflight lists them). The view runs
//! with its definer's rights (`SQL SECURITY DEFINER`, the migration user), as clients only
//! need their existing grants on the old name. The direct path is the single RENAME, for
//! when every client is stopped.

use super::{summary_paths, Ctx};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, MysqlLock, Phase, Step};
use crate::quote::mysql::{derived_name, ident, literal};
use crate::request::change::RenameTable;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// A name derived from `base` and `suffix` that differs from every name in `taken`.
pub(super) fn helper_name(base: &str, suffix: &str, taken: &[&str]) -> String {
    [
        derived_name(&[base, suffix]),
        derived_name(&[suffix, base]),
        derived_name(&["lockstep", suffix]),
    ]
    .into_iter()
    .find(|n| !taken.contains(&n.as_str()))
    .unwrap_or_else(|| derived_name(&["lockstep", suffix, "2"]))
}

/// `CREATE ALGORITHM=MERGE SQL SECURITY DEFINER VIEW view AS SELECT * FROM base;` (both
/// quoted and qualified).
pub(super) fn view_sql(view: &str, base: &str) -> String {
    format!("CREATE ALGORITHM=MERGE SQL SECURITY DEFINER VIEW {view} AS SELECT * FROM {base};")
}

/// `information_schema.tables` type of a name in the table's schema: `BASE TABLE`, `VIEW`.
pub(super) fn type_check(ctx: &Ctx, description: &str, name: &str, expected: &str) -> Check {
    check(
        description,
        format!(
            "SELECT table_type FROM information_schema.tables WHERE {};",
            ctx.where_table(name)
        ),
        expected,
        Expected::row(&[expected]),
    )
}

/// No table or view has this name in the table's schema.
pub(super) fn free_check(ctx: &Ctx, name: &str) -> Check {
    check(
        &format!("The name {} is free", ident(name)),
        format!(
            "SELECT COUNT(*) AS taken FROM information_schema.tables WHERE {};",
            ctx.where_table(name)
        ),
        "0",
        Expected::row(&["0"]),
    )
}

/// Where the plan may start: the table under its old name, or (a re-run of the script) already
/// renamed by this plan: a base table under the new name and none under the old one.
fn start_check(ctx: &Ctx, old_name: &str, new_name: &str) -> Check {
    let base = |name: &str| {
        format!(
            "(SELECT COUNT(*) FROM information_schema.tables WHERE {} AND table_type = 'BASE TABLE')",
            ctx.where_table(name)
        )
    };
    check(
        &format!(
            "The table is a base table (or this plan already renamed it to {})",
            ident(new_name)
        ),
        format!(
            "SELECT {old} = 1 OR ({old} = 0 AND {new} = 1) AS can_start;",
            old = base(old_name),
            new = base(new_name)
        ),
        "1",
        Expected::row(&["1"]),
    )
}

/// The new name is free, or it is this plan's: the old name is no longer a base table.
fn new_name_check(ctx: &Ctx, old_name: &str, new_name: &str) -> Check {
    check(
        &format!(
            "The name {} is free (or already the table this plan renamed)",
            ident(new_name)
        ),
        format!(
            "SELECT COUNT(*) AS taken FROM information_schema.tables WHERE {} AND EXISTS (SELECT 1 FROM information_schema.tables WHERE {} AND table_type = 'BASE TABLE');",
            ctx.where_table(new_name),
            ctx.where_table(old_name)
        ),
        "0",
        Expected::row(&["0"]),
    )
}

/// Table-level grants on `name`: they stay with the name.
pub(super) fn grants_check(ctx: &Ctx, name: &str, new_name: &str) -> Check {
    check(
        "Table-level grants on the table (MySQL grants privileges by name: they stay with the old name)",
        format!(
            "SELECT grantee, privilege_type FROM information_schema.table_privileges WHERE {};",
            ctx.where_table(name)
        ),
        &format!("no rows (database-level grants cover the new name too). Any row: grant the same privileges on {} before clients use it", ctx.sibling(new_name)),
        Expected::NoRows,
    ).informs()
}

/// Views in the schema whose definition names the table: they do not follow a rename.
pub(super) fn views_check(ctx: &Ctx, name: &str) -> Check {
    check(
        "Other views that name the table (a rename does not update them)",
        format!(
            "SELECT table_name FROM information_schema.views WHERE table_schema = {} AND table_name <> {} AND LOCATE({}, view_definition) > 0;",
            ctx.schema_value(),
            literal(name),
            literal(&ident(name))
        ),
        "no rows (otherwise recreate them on the new name before the contract phase: until then they reach the table through the compatibility view)",
        Expected::NoRows,
    ).informs()
}

/// The names both paths use, quoted once: the table, its new name, the placeholder and the
/// view the online path parks under spare names.
struct TableRename<'a> {
    ctx: &'a Ctx<'a>,
    old_name: &'a str,
    new_name: &'a str,
    old: String,
    new: String,
    empty_name: String,
    view_name: String,
    empty: String,
    view: String,
    /// The guard "the table still has its old name": a completed plan has renamed it away, so
    /// a re-run skips the expand steps.
    renaming: String,
}

impl<'a> TableRename<'a> {
    fn new(ctx: &'a Ctx<'a>, change: &'a RenameTable) -> Result<Self, FieldError> {
        let RenameTable { new_name } = change;
        let old_name = &ctx.req.table;
        if new_name == old_name {
            return Err(FieldError::new(
                "new-name",
                "is the table's current name; accepts a different name",
            ));
        }
        let old = ctx.table();
        let new = ctx.sibling(new_name);
        let taken = [old_name.as_str(), new_name.as_str()];
        let empty_name = helper_name(new_name, "lockstep_empty", &taken);
        let view_name = helper_name(old_name, "lockstep_view", &taken);
        let empty = ctx.sibling(&empty_name);
        let view = ctx.sibling(&view_name);
        Ok(TableRename {
            ctx,
            old_name,
            new_name,
            old,
            new,
            empty_name,
            view_name,
            empty,
            view,
            renaming: ctx.base_table_present(old_name),
        })
    }

    /// The table has its new name and the old one is free.
    fn renamed_checks(&self) -> Vec<Check> {
        let TableRename {
            ctx,
            old_name,
            new_name,
            ..
        } = self;
        vec![
            type_check(ctx, "The table has its new name", new_name, "BASE TABLE"),
            free_check(ctx, old_name),
        ]
    }

    /// An empty table with the new name, for the view to stand on until the swap.
    fn placeholder_step(&self) -> Step {
        let TableRename {
            ctx,
            old,
            new,
            renaming,
            ..
        } = self;
        let mut placeholder = ctx.step(
            "Create an empty placeholder with the new name (a copy of the definition, no rows)",
            vec![format!("CREATE TABLE {new} LIKE {old};")],
            None,
            CATALOG_ONLY,
        );
        placeholder.only_if = Some(renaming.clone());
        placeholder.retry = format!("{} If it fails with \"Table ... already exists\", an earlier run got this far: look at the phase's checks to see whether the swap already ran before going on.", super::RETRY_LOCK_WAIT);
        placeholder.notes.push("Reads the table's definition under a shared metadata lock: reads and writes continue. Foreign keys are not copied; nothing is ever written to this table.".to_string());
        placeholder
    }

    /// The compatibility view over the placeholder.
    fn create_view_step(&self) -> Step {
        let TableRename {
            ctx,
            new,
            view,
            renaming,
            ..
        } = self;
        let mut create_view = ctx.step(
            "Create the compatibility view over the placeholder",
            vec![view_sql(view, new)],
            None,
            CATALOG_ONLY,
        );
        create_view.retry = self.placeholder_step().retry;
        create_view.only_if = Some(renaming.clone());
        create_view.notes.push(format!("The view names {new}: once the swap gives that name to the real table, the view reads and writes the real table."));
        create_view
    }

    /// The one RENAME TABLE that swaps placeholder, table and view.
    fn swap_step(&self) -> Step {
        let TableRename {
            ctx,
            old,
            new,
            empty,
            view,
            renaming,
            ..
        } = self;
        let mut swap = ctx.step(
            "Swap the names atomically: placeholder out, table to the new name, view to the old name",
            vec![format!(
                "RENAME TABLE {new} TO {empty}, {old} TO {new}, {view} TO {old};"
            )],
            Some(MysqlLock::MetadataExclusive),
            CATALOG_ONLY,
        );
        swap.notes.push("One statement, all or nothing: no client ever sees the old name missing. Clients keep using the old name through the view: SELECT, INSERT (with ON DUPLICATE KEY UPDATE, REPLACE and LAST_INSERT_ID()), UPDATE, DELETE and SELECT ... FOR UPDATE pass through to the table; its triggers fire as before.".to_string());
        swap.notes.push(format!("While the view stands in for the table, these fail on the old name: TRUNCATE, ALTER TABLE and other DDL (run them on {new}); SHOW CREATE TABLE shows a view. Add no column until the contract phase: the view's column list was fixed when it was created."));
        swap.retry = format!("{} Without its guard, running it again after it succeeded fails with nothing changed (the statement renames all three or none).", super::RETRY_LOCK_WAIT);
        swap.only_if = Some(renaming.clone());
        swap.notes.push("Waits for the exclusive metadata lock on both tables: behind a long transaction it would block every query on them, hence the short lock_wait_timeout.".to_string());
        ctx.documented(swap)
    }

    /// The placeholder, dropped (it never held a row).
    fn drop_empty_step(&self) -> Step {
        let TableRename { ctx, empty, .. } = self;
        let mut drop_empty = ctx.step(
            "Drop the empty placeholder",
            vec![format!("DROP TABLE IF EXISTS {empty};")],
            None,
            CATALOG_ONLY,
        );
        drop_empty
            .notes
            .push("The placeholder never held a row; no client uses its name.".to_string());
        ctx.small_drop_stall(&mut drop_empty);
        drop_empty
    }

    /// After the swap: the old name is an updatable view over the renamed table.
    fn expand_checks(&self) -> Vec<Check> {
        let TableRename {
            ctx,
            old_name,
            new_name,
            empty_name,
            ..
        } = self;
        let mut expand_checks = vec![
            type_check(ctx, "The old name is now a view", old_name, "VIEW"),
            check(
                "The view accepts INSERT, UPDATE and DELETE",
                format!(
                    "SELECT is_updatable FROM information_schema.views WHERE {};",
                    ctx.where_table(old_name)
                ),
                "YES",
                Expected::row(&["YES"]),
            ),
            type_check(ctx, "The table has its new name", new_name, "BASE TABLE"),
        ];
        expand_checks.push(free_check(ctx, empty_name));
        expand_checks
    }

    /// The contract: the view that kept the old name.
    fn drop_view_step(&self) -> Step {
        let TableRename { ctx, old, .. } = self;
        let mut drop_view = ctx.step(
            "Drop the compatibility view",
            vec![format!("DROP VIEW IF EXISTS {old};")],
            Some(MysqlLock::MetadataExclusive),
            CATALOG_ONLY,
        );
        drop_view.notes.push("Takes the metadata lock of the view (the old name) only: clients of the new name never wait.".to_string());
        ctx.documented(drop_view)
    }

    /// The online path's checks: names free, grants and views that do not follow, code that names the table.
    fn preflight_checks(&self) -> Vec<Check> {
        let TableRename {
            ctx,
            old_name,
            new_name,
            empty_name,
            view_name,
            ..
        } = self;
        let mut preflight_checks = vec![
            start_check(ctx, old_name, new_name),
            new_name_check(ctx, old_name, new_name),
            free_check(ctx, empty_name),
            free_check(ctx, view_name),
            grants_check(ctx, old_name, new_name),
            views_check(ctx, old_name),
        ];
        preflight_checks.push(check(
            "Stored routines, events and other tables' triggers that name the table (they do not follow a rename)",
            format!(
                "SELECT routine_type AS kind, routine_name AS name FROM information_schema.routines WHERE routine_schema = {s} AND LOCATE({t}, routine_definition) > 0 UNION ALL SELECT 'EVENT', event_name FROM information_schema.events WHERE event_schema = {s} AND LOCATE({t}, event_definition) > 0 UNION ALL SELECT 'TRIGGER', trigger_name FROM information_schema.triggers WHERE trigger_schema = {s} AND event_object_table <> {t} AND LOCATE({t}, action_statement) > 0;",
                s = ctx.schema_value(),
                t = literal(old_name)
            ),
            "no rows, or only code that merely contains the name as text (otherwise change it to the new name before the contract phase)",
            Expected::NoRows,
        ).informs());
        preflight_checks
    }

    /// Phase: the table renamed behind an updatable view under the old name.
    fn expand(&self) -> Phase {
        let TableRename {
            ctx,
            old_name,
            new_name,
            old,
            new,
            empty,
            view,
            ..
        } = self;
        Phase {
            name: "expand: rename behind a view".to_string(),
            purpose: format!(
                "Rename the table to {} and keep {} working as an updatable view, so clients on either name work.",
                ident(new_name),
                ident(old_name)
            ),
            app_change: None,
            steps: vec![
                self.placeholder_step(),
                self.create_view_step(),
                self.swap_step(),
                self.drop_empty_step(),
            ],
            rollback: vec![ctx.rollback_ddl(
                format!("SHOW CREATE VIEW {old};\nRENAME TABLE {old} TO {view}, {new} TO {old};\nDROP VIEW IF EXISTS {view};"),
                Some(&format!("Swaps back atomically (the table gets its old name, the view is parked under a spare name and dropped). Run before any client depends on the new name: clients already using it fail once it is gone. SHOW CREATE VIEW is the guard: it fails, and the client stops with nothing changed, when the old name is still the table because the swap never ran; then only drop what the expand created, by hand: DROP VIEW IF EXISTS {view}; and, after checking it has no rows, DROP TABLE {new}; (the empty placeholder). A leftover {empty} is empty too: drop it.")),
            )],
            irreversible: None,
            checks: self.expand_checks(),
        }
    }

    /// Phase: the view dropped once nothing uses the old name.
    fn contract(&self) -> Phase {
        let TableRename {
            ctx,
            old_name,
            new_name,
            old,
            new,
            ..
        } = self;
        Phase {
            name: "contract: drop the view".to_string(),
            purpose: format!("Remove the old name {} once nothing uses it.", ident(old_name)),
            app_change: Some(format!(
                "Every client uses {}: application code, ORM table names, background jobs, reports, ETL, dashboards, grant scripts, views and stored routines. Nothing may use {} after this phase.",
                ident(new_name),
                ident(old_name)
            )),
            steps: vec![self.drop_view_step()],
            rollback: vec![ctx.rollback_ddl(
                view_sql(old, new),
                Some("Puts the view back if a client still needed the old name."),
            )],
            irreversible: None,
            checks: self.renamed_checks(),
        }
    }

    /// The direct path: one RENAME TABLE with every client stopped.
    fn direct(&self) -> Vec<Phase> {
        let TableRename {
            ctx,
            old_name,
            new_name,
            old,
            new,
            ..
        } = self;
        let mut rename: Step = ctx.step(
            "Rename the table",
            vec![format!("RENAME TABLE {old} TO {new};")],
            Some(MysqlLock::MetadataExclusive),
            CATALOG_ONLY,
        );
        rename.notes.push(
            "Every query naming the old table fails from the moment this commits.".to_string(),
        );
        rename.only_if = Some(ctx.base_table_present(old_name));
        let rename = ctx.documented(rename);
        vec![
            ctx.preflight(
                None,
                vec![
                    type_check(ctx, "The table is a base table", old_name, "BASE TABLE"),
                    free_check(ctx, new_name),
                    grants_check(ctx, old_name, new_name),
                    views_check(ctx, old_name),
                ],
            ),
            Phase {
                name: "rename".to_string(),
                purpose: format!("Rename the table to {}.", ident(new_name)),
                app_change: Some(format!(
                    "Stop every client of {}; start them again with the new name right after this phase.",
                    ident(old_name)
                )),
                steps: vec![rename],
                rollback: vec![ctx.rollback_ddl(format!("RENAME TABLE {new} TO {old};"), None)],
                irreversible: None,
                checks: self.renamed_checks(),
            },
        ]
    }
}

pub fn paths(ctx: &Ctx, change: &RenameTable) -> Result<Paths, FieldError> {
    let rename = TableRename::new(ctx, change)?;
    let TableRename {
        old, new, old_name, ..
    } = &rename;
    let mut online = vec![
        ctx.preflight(None, rename.preflight_checks()),
        rename.expand(),
        rename.contract(),
    ];
    let mut out = summary_paths(format!("Rename table {old} to {new}"));
    out.direct = Some(rename.direct());
    // Once the contract phase has dropped the view, nothing has the old name.
    super::rerun::guard_transition_checks(&mut online, &ctx.relation_present(old_name));
    out.online = Some(online);
    out.online_required = Some("renaming the table breaks every query that still uses the old name the moment it commits; the view keeps the old name working until every client has switched".to_string());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::helper_name;
    use crate::model::{Blocks, Lock, MysqlLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "rename-table")
            .with("table", "orders`; drop table x; --")
            .with("new-name", "purchases")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    #[test]
    fn dropping_the_empty_placeholder_claims_the_commit_stall_only() {
        let plan = crate::plan(&params("mariadb@10.11")).unwrap();
        let drop = plan
            .steps()
            .find(|s| s.title == "Drop the empty placeholder")
            .unwrap();
        assert_eq!(drop.blocks, Blocks::Nothing);
        // The placeholder is empty, whatever the size of the renamed table.
        assert_eq!(
            drop.server_stall_seconds,
            Some(crate::estimate::CATALOG_ONLY)
        );
    }

    #[test]
    fn atomic_swap_with_a_view_under_the_old_name() {
        for db in [
            "mariadb@10.11.6",
            "mysql@8.0.35",
            "mysql@5.7",
            "mariadb@10.3",
        ] {
            let plan = crate::plan(&params(db).with("max-downtime", "1h")).unwrap();
            assert_eq!(plan.strategy.chosen, "online", "{db}");
            let expand = &plan.phases[1];
            let sql: Vec<&str> = expand.steps.iter().map(|s| s.sql[0].as_str()).collect();
            assert_eq!(
                sql,
                [
                    "CREATE TABLE `purchases` LIKE `orders``; drop table x; --`;",
                    "CREATE ALGORITHM=MERGE SQL SECURITY DEFINER VIEW `orders``; drop table x; --_lockstep_view` AS SELECT * FROM `purchases`;",
                    "RENAME TABLE `purchases` TO `purchases_lockstep_empty`, `orders``; drop table x; --` TO `purchases`, `orders``; drop table x; --_lockstep_view` TO `orders``; drop table x; --`;",
                    "DROP TABLE IF EXISTS `purchases_lockstep_empty`;",
                ],
                "{db}"
            );
            let swap = &expand.steps[2];
            assert_eq!(swap.lock, Some(Lock::Mysql(MysqlLock::MetadataExclusive)));
            assert_eq!(swap.blocks, Blocks::ReadsAndWrites);
            assert!(swap.hold_seconds.high <= 0.05);
            assert_eq!(swap.unverified.is_some(), db.starts_with("mysql"));
            assert!(expand.rollback[0].sql.contains(
                "SHOW CREATE VIEW `orders``; drop table x; --`;\nRENAME TABLE `orders``; drop table x; --` TO `orders``; drop table x; --_lockstep_view`, `purchases` TO `orders``; drop table x; --`;\nDROP VIEW IF EXISTS `orders``; drop table x; --_lockstep_view`;"
            ));
            let contract = &plan.phases[2];
            assert!(contract.app_change.is_some());
            assert_eq!(
                contract.steps[0].sql,
                ["DROP VIEW IF EXISTS `orders``; drop table x; --`;"]
            );
            let direct = plan.alternative.as_ref().unwrap();
            assert_eq!(
                direct.phases[1].steps[0].sql,
                ["RENAME TABLE `orders``; drop table x; --` TO `purchases`;"]
            );
        }
    }

    #[test]
    fn schema_qualified_everywhere() {
        let plan = crate::plan(&params("mariadb@10.11").with("schema", "app")).unwrap();
        assert_eq!(
            plan.phases[1].steps[2].sql[0],
            "RENAME TABLE `app`.`purchases` TO `app`.`purchases_lockstep_empty`, `app`.`orders``; drop table x; --` TO `app`.`purchases`, `app`.`orders``; drop table x; --_lockstep_view` TO `app`.`orders``; drop table x; --`;"
        );
        assert!(plan.phases[0].checks.iter().any(|c| c
            .sql
            .contains("table_schema = 'app' AND table_name = 'purchases'")));
    }

    #[test]
    fn helper_names_never_collide() {
        let long = "t".repeat(64);
        let name = helper_name(&long, "lockstep_view", &[&long, "x"]);
        assert_ne!(name, long);
        assert!(name.chars().count() <= 64);
        assert_eq!(
            helper_name("orders", "lockstep_view", &["orders", "p"]),
            "orders_lockstep_view"
        );
    }

    #[test]
    fn same_name_is_refused() {
        let errors =
            crate::plan(&params("mariadb@10.11").with("new-name", "orders`; drop table x; --"))
                .unwrap_err();
        assert_eq!(errors[0].field, "new-name");
    }
}
