//! Make an existing column NOT NULL.
//!
//! `ALTER COLUMN ... SET NOT NULL` takes ACCESS EXCLUSIVE and, on its own, scans the whole table
//! while holding it: reads and writes wait for the scan. The online path depends on the version:
//!
//! - 18+: `ADD CONSTRAINT <table>_<col>_not_null NOT NULL col NOT VALID` (ACCESS EXCLUSIVE, a
//!   catalog-only moment; new NULLs are rejected at once) -> `VALIDATE CONSTRAINT` (SHARE UPDATE
//!   EXCLUSIVE: a scan while reads and writes continue). `pg_attribute.attnotnull` is already
//!   true while the constraint is NOT VALID, so validation is proven with
//!   `pg_constraint.convalidated`, never with attnotnull.
//! - 12-17: `ADD CONSTRAINT <table>_<col>_not_null CHECK (col IS NOT NULL) NOT VALID` (brief
//!   ACCESS EXCLUSIVE) -> `VALIDATE CONSTRAINT` (SHARE UPDATE EXCLUSIVE, scan, writes continue)
//!   -> `SET NOT NULL` (ACCESS EXCLUSIVE, catalog-only: the validated CHECK proves the column
//!   holds no NULL, so PostgreSQL skips the scan) -> `DROP CONSTRAINT` of the now redundant CHECK.
//!   SET NOT NULL and DROP CONSTRAINT are two statements in one transaction, never two clauses of
//!   one ALTER TABLE: within one ALTER TABLE the DROP runs first and SET NOT NULL scans again.
//! - 10-11: SET NOT NULL scans the table under ACCESS EXCLUSIVE even when a validated CHECK
//!   proves it. The online path therefore stops at the validated CHECK: the constraint is
//!   enforced (no existing row is NULL, any write of NULL fails), but the column is not marked
//!   NOT NULL in the catalog (`attnotnull` stays false, so `\d`, `information_schema.columns`,
//!   ORMs and schema-diff tools show it as nullable, and a later PRIMARY KEY or SET NOT NULL on it
//!   still scans). Where that scan fits the downtime budget, the online path ends with
//!   SET NOT NULL as a blocking step (and drops the CHECK); where it does not, it is left out and
//!   a warning says so.
//!
//! Direct: `ALTER COLUMN ... SET NOT NULL` (ACCESS EXCLUSIVE + full scan).
//! Preflight: the column holds no NULL (the validation fails otherwise: backfill first).

use super::constraint::{self, add_step, by_name, drop_rollback, name_free_check, state_check};
use super::{check, Ctx, Paths, RETRY_LOCK_TIMEOUT};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, Phase, Step, Warning};
use crate::postgres::facts::{self, Statement};
use crate::quote::{self, derived_name, ident};
use crate::request::change::AddNotNull;
use crate::request::FieldError;

pub fn paths(ctx: &Ctx, change: &AddNotNull) -> Result<Paths, FieldError> {
    let plan = NotNull::new(ctx, &change.column);
    let mut warnings = ctx.version_warnings(false);
    let online = if facts::NOT_NULL_NOT_VALID.holds(ctx.version()) {
        plan.online_not_valid_not_null()
    } else {
        let (phases, warning) = plan.online_check();
        warnings.extend(warning);
        phases
    };
    Ok(Paths {
        summary: format!("Make column {} of {} NOT NULL", plan.col, plan.table),
        direct: Some(plan.direct()),
        online: Some(online),
        online_required: None,
        warnings,
    })
}

const DROP_NOTE: &str = "Takes ACCESS EXCLUSIVE briefly: run it with a lock_timeout.";

/// The names the phases use, derived once.
struct NotNull<'a> {
    ctx: &'a Ctx<'a>,
    /// The column, unquoted.
    column: &'a str,
    /// The column, quoted.
    col: String,
    /// The table, quoted.
    table: String,
    /// The constraint's name (unquoted): PostgreSQL 18 names a column's not-null constraint
    /// <table>_<column>_not_null; the temporary CHECK of 12-17 (the lasting one of 10-11) uses
    /// the same name.
    name: String,
}

impl<'a> NotNull<'a> {
    fn new(ctx: &'a Ctx<'a>, column: &'a str) -> Self {
        NotNull {
            ctx,
            column,
            col: ident(column),
            table: ctx.table(),
            name: derived_name(&[&ctx.req.table, column, "not_null"]),
        }
    }

    /// On 18 a NOT VALID not-null constraint already sets attnotnull: this plan's own, left by
    /// an earlier attempt that stopped before the validation, does not count.
    fn nullable_check(&self) -> Check {
        let ctx = self.ctx;
        check(
            "The column exists and is not NOT NULL yet",
            format!(
                "SELECT attnotnull AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE {} AND contype = 'n' AND NOT convalidated) AS attnotnull FROM pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attisdropped;",
                by_name(ctx, &self.name),
                ctx.regclass(),
                quote::literal(self.column)
            ),
            "f (t: the column is already NOT NULL and there is nothing to do; no row: there is no such column)",
            Expected::row(&["f"]),
        )
    }

    fn nulls_check(&self) -> Check {
        check(
            "No NULL is left in the column (a full scan unless an index covers it: run it on a replica if you have one)",
            format!("SELECT count(*) AS null_rows FROM {} WHERE {} IS NULL;", self.table, self.col),
            "0. Any other count makes the validation fail: first make the application stop writing NULL, then backfill the NULLs in keyset-paginated batches, then start this plan",
            Expected::row(&["0"]),
        )
        .scanning()
        .proving(crate::model::Precondition::NoNulls)
    }

    /// This plan's own constraint: the CHECK (col IS NOT NULL) of 10-17 or the NOT NULL
    /// constraint of 18, on this column alone.
    fn own_constraint(&self) -> String {
        format!(
            "{} AND (contype = 'n' OR pg_get_expr(conbin, conrelid) = {})",
            constraint::own_constraint(self.ctx, "c", &[self.column.to_string()]).replacen(
                "contype = 'c'",
                "contype IN ('c', 'n')",
                1
            ),
            quote::literal(&format!("({} IS NOT NULL)", self.col))
        )
    }

    fn online_preflight(&self) -> Phase {
        let checks = vec![
            self.nullable_check(),
            name_free_check(self.ctx, &self.name, &self.own_constraint()),
            self.nulls_check(),
        ];
        self.ctx.preflight(None, checks)
    }

    fn app_change(&self) -> String {
        format!(
            "The application never writes NULL into {} (every INSERT sets it, no UPDATE clears it), and the NULLs already there are backfilled: from this phase on, a write of NULL fails.",
            self.col
        )
    }

    fn validate(&self) -> Step {
        let failure = format!(
            "If it fails with \"{}\", some row still holds NULL: the constraint stays NOT VALID and keeps rejecting new NULLs; backfill the NULL rows (the preflight query counts them), then run it again.",
            if facts::NOT_NULL_NOT_VALID.holds(self.ctx.version()) {
                "column ... contains null values"
            } else {
                "check constraint ... is violated by some row"
            }
        );
        constraint::validate_step(self.ctx, &self.name, self.ctx.model.scan(), &failure)
    }

    /// 18+: NOT NULL ... NOT VALID, then VALIDATE.
    fn online_not_valid_not_null(&self) -> Vec<Phase> {
        let (ctx, name) = (self.ctx, &self.name);
        let mut add = add_step(
            ctx,
            "Add the NOT NULL constraint without checking existing rows",
            name,
            &format!("NOT NULL {} NOT VALID", self.col),
            Statement::AlterTableAccessExclusive,
            CATALOG_ONLY,
        );
        add.notes.push("PostgreSQL 18+: NOT NULL can be added NOT VALID. Catalog-only, no scan; new NULLs are rejected from this moment.".to_string());
        add.notes.push("pg_attribute.attnotnull already reads true while the constraint is NOT VALID: the proof that existing rows were checked is pg_constraint.convalidated.".to_string());
        vec![
            self.online_preflight(),
            Phase {
                name: "add constraint (NOT VALID)".to_string(),
                purpose: "Reject new NULLs at once, without checking the existing rows: a catalog-only moment under ACCESS EXCLUSIVE.".to_string(),
                app_change: Some(self.app_change()),
                steps: vec![add],
                rollback: vec![drop_rollback(ctx, name, DROP_NOTE)],
                irreversible: None,
                checks: vec![state_check(ctx, name, "n", false)],
            },
            Phase {
                name: "validate".to_string(),
                purpose: "Check the existing rows under SHARE UPDATE EXCLUSIVE: one scan while reads and writes continue. Once validated, the column is NOT NULL like any other.".to_string(),
                app_change: None,
                steps: vec![self.validate()],
                rollback: vec![drop_rollback(
                    ctx,
                    name,
                    "A validated constraint cannot be marked NOT VALID again: dropping it makes the column nullable, undoing this phase and the previous one. Takes ACCESS EXCLUSIVE briefly.",
                )
                .undoing_previous(1)],
                irreversible: None,
                checks: vec![
                    state_check(ctx, name, "n", true),
                    attnotnull_check(ctx, self.column, true),
                ],
            },
        ]
    }

    /// The CHECK (col IS NOT NULL) NOT VALID step, skipped once the CHECK exists or the column
    /// is NOT NULL.
    fn add_check_step(&self) -> Step {
        let ctx = self.ctx;
        let col = &self.col;
        let mut add = add_step(
            ctx,
            &format!("Add CHECK ({col} IS NOT NULL) without checking existing rows"),
            &self.name,
            &format!("CHECK ({col} IS NOT NULL) NOT VALID"),
            Statement::AlterTableAccessExclusive,
            CATALOG_ONLY,
        );
        // The next phases drop this CHECK again once the column is NOT NULL: a re-run must
        // not add it back.
        add.run_only_if(
            "lockstep_check_needed",
            &format!("NOT EXISTS (SELECT 1 FROM pg_constraint WHERE {}) AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = {} AND attname = {} AND attnotnull)",
            by_name(ctx, &self.name),
            ctx.regclass(),
            quote::literal(self.column)
        ),
        );
        add.retry = format!("{RETRY_LOCK_TIMEOUT} ADD CONSTRAINT has no IF NOT EXISTS: the guard skips the step once the CHECK exists or the column is NOT NULL.");
        add.notes.push(
            "NOT VALID: catalog-only, no scan. From this moment every write of NULL fails."
                .to_string(),
        );
        add
    }

    /// Whether the scanning SET NOT NULL of 10-11 fits the budget.
    fn scanning_set_fits(&self) -> bool {
        let budget_s = self.ctx.req.max_downtime_ms as f64 / 1000.0;
        self.ctx.model.worst_case(self.ctx.model.scan()) <= budget_s
    }

    fn validate_check_phase(&self, keeps_check: bool) -> Phase {
        let (ctx, name, v) = (self.ctx, &self.name, self.ctx.version());
        let mut checks = vec![state_check(ctx, name, "c", true)];
        if keeps_check {
            checks.push(attnotnull_check(ctx, self.column, false));
        }
        Phase {
            name: "validate".to_string(),
            purpose: if keeps_check {
                format!("Check the existing rows under SHARE UPDATE EXCLUSIVE: one scan while reads and writes continue. On PostgreSQL {v} the validated CHECK is what enforces NOT NULL: no row holds NULL and every write of NULL fails, but the column is not marked NOT NULL in the catalog (pg_attribute.attnotnull stays false).")
            } else if facts::SET_NOT_NULL_USES_CHECK.holds(v) {
                "Check the existing rows under SHARE UPDATE EXCLUSIVE: one scan while reads and writes continue. The validated CHECK is what lets SET NOT NULL skip its scan in the next phase.".to_string()
            } else {
                "Check the existing rows under SHARE UPDATE EXCLUSIVE: one scan while reads and writes continue. From here the CHECK enforces NOT NULL; the next phase also marks the column NOT NULL in the catalog.".to_string()
            },
            app_change: None,
            steps: vec![self.validate()],
            rollback: vec![drop_rollback(
                ctx,
                name,
                "A validated constraint cannot be marked NOT VALID again: dropping it undoes this phase and the previous one. Takes ACCESS EXCLUSIVE briefly.",
            )
            .undoing_previous(1)],
            irreversible: None,
            checks,
        }
    }

    /// 10-11 without room for the scanning SET NOT NULL: the validated CHECK is the end state.
    fn check_is_end_state_warning(&self) -> Warning {
        Warning {
            code: "not-null-enforced-by-check".to_string(),
            message: format!(
                "PostgreSQL {}: SET NOT NULL scans the whole table under ACCESS EXCLUSIVE even when a validated CHECK proves it (the CHECK lets it skip the scan only from 12), and that scan (up to {}) does not fit the budget. The online path therefore ends with the validated CHECK {}: NOT NULL is enforced (no row holds NULL, every write of NULL fails), but the column is not marked NOT NULL in the catalog: pg_attribute.attnotnull stays false, so \\d, information_schema.columns.is_nullable and ORM or schema-diff tools still call it nullable, and a later PRIMARY KEY on it would scan to set NOT NULL. After an upgrade to 12 or later, ALTER TABLE ... ALTER COLUMN {} SET NOT NULL is catalog-only thanks to the CHECK; then drop the CHECK.",
                self.ctx.version(),
                crate::model::human_seconds(self.ctx.model.scan().high),
                ident(&self.name),
                self.col
            ),
        }
    }

    /// 10-17: CHECK NOT VALID, VALIDATE, then SET NOT NULL (catalog-only on 12+, scanning on
    /// 10-11 when it fits the budget; otherwise the CHECK stays, with a warning).
    fn online_check(&self) -> (Vec<Phase>, Option<Warning>) {
        let (ctx, name, v) = (self.ctx, &self.name, self.ctx.version());
        let scanning_set_fits = self.scanning_set_fits();
        let keeps_check = !facts::SET_NOT_NULL_USES_CHECK.holds(v) && !scanning_set_fits;
        let mut phases = vec![
            self.online_preflight(),
            Phase {
                name: "add check (NOT VALID)".to_string(),
                purpose: "Reject new NULLs at once with a CHECK, without checking the existing rows: a catalog-only moment under ACCESS EXCLUSIVE.".to_string(),
                app_change: Some(self.app_change()),
                steps: vec![self.add_check_step()],
                rollback: vec![drop_rollback(ctx, name, DROP_NOTE)],
                irreversible: None,
                checks: vec![state_check(ctx, name, "c", false)],
            },
            self.validate_check_phase(keeps_check),
        ];
        if facts::SET_NOT_NULL_USES_CHECK.holds(v) {
            phases.push(set_not_null_phase(ctx, self.column, name, false));
        } else if scanning_set_fits {
            phases.push(set_not_null_phase(ctx, self.column, name, true));
        } else {
            return (phases, Some(self.check_is_end_state_warning()));
        }
        (phases, None)
    }

    /// One scanning SET NOT NULL under ACCESS EXCLUSIVE.
    fn direct(&self) -> Vec<Phase> {
        let (ctx, col) = (self.ctx, &self.col);
        let mut set_not_null = ctx.ddl(
            "Set NOT NULL, checking every row (blocks reads and writes for the scan)",
            vec![constraint::alter(
                ctx,
                &format!("ALTER COLUMN {col} SET NOT NULL"),
            )],
            Statement::AlterTableAccessExclusive,
            ctx.model.scan(),
        );
        set_not_null.scans_table = true;
        set_not_null.notes.push(
            "ACCESS EXCLUSIVE is held while every row is read: even SELECTs wait.".to_string(),
        );
        set_not_null.retry = format!(
            "If it fails with \"column ... contains null values\", nothing changed: backfill the NULLs and run it again. {RETRY_LOCK_TIMEOUT}"
        );
        vec![
            ctx.preflight(None, vec![self.nullable_check(), self.nulls_check()]),
            Phase {
                name: "set not null".to_string(),
                purpose: "Set NOT NULL in one statement, which scans the table while reads and writes wait.".to_string(),
                app_change: Some(format!(
                    "The application never writes NULL into {col}: from this phase on, a write of NULL fails."
                )),
                steps: vec![set_not_null],
                rollback: vec![ctx.rollback_ddl(
                    constraint::alter(ctx, &format!("ALTER COLUMN {col} DROP NOT NULL")),
                    Some(DROP_NOTE),
                )],
                irreversible: None,
                checks: vec![attnotnull_check(ctx, self.column, true)],
            },
        ]
    }
}

/// `pg_attribute.attnotnull` of the column.
fn attnotnull_check(ctx: &Ctx, column: &str, expected: bool) -> Check {
    check(
        if expected {
            "The column is marked NOT NULL in the catalog"
        } else {
            "The column is not marked NOT NULL in the catalog (the validated CHECK enforces it)"
        },
        format!(
            "SELECT attnotnull FROM pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attisdropped;",
            ctx.regclass(),
            quote::literal(column)
        ),
        constraint::tf(expected),
        Expected::row(&[constraint::tf(expected)]),
    )
}

/// SET NOT NULL, then drop the CHECK it no longer needs: catalog-only from 12 (the validated
/// CHECK proves the column), a full scan under ACCESS EXCLUSIVE on 10-11 (`scans`).
fn set_not_null_phase(ctx: &Ctx, column: &str, name: &str, scans: bool) -> Phase {
    let col = ident(column);
    let sql = vec![
        constraint::alter(ctx, &format!("ALTER COLUMN {col} SET NOT NULL")),
        constraint::alter(ctx, &format!("DROP CONSTRAINT IF EXISTS {}", ident(name))),
    ];
    let mut step = if scans {
        let mut s = ctx.ddl(
            "Set NOT NULL (scans the table under ACCESS EXCLUSIVE on this version) and drop the CHECK",
            sql,
            Statement::AlterTableAccessExclusive,
            ctx.model.scan(),
        );
        s.scans_table = true;
        s.notes.push(format!(
            "PostgreSQL {}: SET NOT NULL reads every row under ACCESS EXCLUSIVE even though the validated CHECK proves it (the scan is skipped only from 12): reads and writes wait for the scan, which fits the budget. The CHECK guarantees the scan finds no NULL, so the lock is not held for nothing.",
            ctx.version()
        ));
        s.notes.push("To keep the table unblocked instead, stop before this phase: the validated CHECK already enforces NOT NULL, only the catalog flag (attnotnull) stays false.".to_string());
        s.retry = format!("{RETRY_LOCK_TIMEOUT} Setting NOT NULL on a column that already has it does nothing, and the DROP has IF EXISTS.");
        s
    } else {
        let mut s = ctx.brief(
            "Set NOT NULL without a scan, then drop the CHECK",
            sql,
            Statement::AlterTableAccessExclusive,
        );
        s.run_only_if(
            "lockstep_check_validated",
            &format!(
                "EXISTS (SELECT 1 FROM pg_constraint WHERE {} AND convalidated)",
                by_name(ctx, name)
            ),
        );
        s.notes.push("SET NOT NULL finds the validated CHECK and skips its scan (PostgreSQL 12+; with SET client_min_messages = debug1 it reports \"existing constraints on column ... are sufficient to prove that it does not contain nulls\").".to_string());
        s.notes.push("Two statements in one transaction, not one ALTER TABLE with two clauses: within one ALTER TABLE the DROP CONSTRAINT runs first and SET NOT NULL would scan the whole table under ACCESS EXCLUSIVE.".to_string());
        s.notes.push("The guard runs the step only while the validated CHECK exists, so SET NOT NULL can never fall back to a scan; once the step has run, the CHECK is gone and a re-run skips it.".to_string());
        s
    };
    step.notes
        .push("The CHECK is redundant once the column is NOT NULL, so it is dropped in the same transaction.".to_string());
    Phase {
        name: "set not null".to_string(),
        purpose: if scans {
            "Mark the column NOT NULL in the catalog. On this version this scans the table under ACCESS EXCLUSIVE; it is included because the scan fits the budget.".to_string()
        } else {
            "Mark the column NOT NULL in the catalog: a catalog-only moment under ACCESS EXCLUSIVE, no scan.".to_string()
        },
        app_change: None,
        steps: vec![step],
        rollback: vec![ctx.rollback_ddl(
            constraint::alter(ctx, &format!("ALTER COLUMN {col} DROP NOT NULL")),
            Some("Makes the column nullable again. The CHECK was dropped in this phase, so NULLs are accepted again: this undoes the whole change; to enforce NOT NULL again, re-run the earlier phases. Takes ACCESS EXCLUSIVE briefly."),
        )
        // The CHECK's two phases (added NOT VALID, validated) are undone with it.
        .undoing_previous(2)],
        irreversible: None,
        checks: vec![
            attnotnull_check(ctx, column, true),
            check(
                "The temporary CHECK is gone",
                format!("SELECT count(*) FROM pg_constraint WHERE {};", by_name(ctx, name)),
                "0",
                Expected::row(&["0"]),
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::super::constraint::tests::{markdown, params, step};
    use crate::estimate::CATALOG_ONLY;
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn nn(db: &str, rows: &str, size: &str, budget: &str) -> Params {
        params("add-not-null", db, rows, size, budget).with("column", "email")
    }

    #[test]
    fn pg18_adds_not_null_not_valid_then_validates() {
        let p = nn("postgresql@18", "500M", "120GB", "0");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let add = step(&plan, "Add the NOT NULL constraint");
        assert_eq!(
            add.sql,
            ["ALTER TABLE orders ADD CONSTRAINT orders_email_not_null NOT NULL email NOT VALID;"]
        );
        assert_eq!(add.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert_eq!(add.hold_seconds.high, CATALOG_ONLY.high);
        assert!(add.only_if.is_some());
        let validate = step(&plan, "Check the existing rows");
        assert_eq!(validate.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert!(validate.scans_table);
        // Validation is proven with convalidated, not attnotnull.
        let checks = &plan.phases[2].checks;
        assert!(checks[0].sql.contains("convalidated"));
        assert_eq!(checks[0].expected, crate::model::Expected::row(&["n", "t"]));
        // After the NOT VALID phase only its existence is checked: a re-run resuming after
        // the validation passes it too.
        assert_eq!(
            plan.phases[1].checks[0].expected,
            crate::model::Expected::row(&["n"])
        );
        assert!(!plan
            .steps()
            .any(|s| s.sql.iter().any(|q| q.contains("SET NOT NULL"))));
        assert!(plan.warnings.is_empty());
        insta::assert_snapshot!("add_not_null_pg18_zero_budget", markdown(&plan, &p));
    }

    #[test]
    fn pg12_to_17_check_validate_then_set_not_null_without_scan() {
        for db in ["postgresql@12", "postgresql@17"] {
            let p = nn(db, "500M", "120GB", "0");
            let plan = crate::plan(&p).unwrap();
            assert_eq!(plan.strategy.chosen, "online");
            let add = step(&plan, "Add CHECK (email IS NOT NULL)");
            assert_eq!(
                add.sql,
                ["ALTER TABLE orders ADD CONSTRAINT orders_email_not_null CHECK (email IS NOT NULL) NOT VALID;"]
            );
            let set = step(&plan, "Set NOT NULL without a scan");
            assert_eq!(
                set.sql,
                [
                    "ALTER TABLE orders ALTER COLUMN email SET NOT NULL;",
                    "ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_email_not_null;"
                ]
            );
            assert!(set.in_transaction);
            assert!(!set.scans_table);
            assert_eq!(set.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
            assert_eq!(set.hold_seconds.high, CATALOG_ONLY.high);
            assert!(set.only_if.as_deref().unwrap().contains("convalidated"));
            assert!(plan
                .steps()
                .all(|s| s.hold_seconds.high <= CATALOG_ONLY.high));
            assert!(plan.warnings.is_empty());
        }
        let p = nn("postgresql@12", "500M", "120GB", "0");
        insta::assert_snapshot!(
            "add_not_null_pg12_zero_budget",
            markdown(&crate::plan(&p).unwrap(), &p)
        );
        let p = nn("postgresql@17", "500M", "120GB", "0");
        insta::assert_snapshot!(
            "add_not_null_pg17_zero_budget",
            markdown(&crate::plan(&p).unwrap(), &p)
        );
    }

    #[test]
    fn pg11_zero_budget_stops_at_the_validated_check() {
        for db in ["postgresql@10", "postgresql@11"] {
            let p = nn(db, "500M", "120GB", "0");
            let plan = crate::plan(&p).unwrap();
            assert_eq!(plan.strategy.chosen, "online");
            assert!(!plan
                .steps()
                .any(|s| s.sql.iter().any(|q| q.contains("SET NOT NULL"))));
            assert!(plan
                .steps()
                .all(|s| s.hold_seconds.high <= CATALOG_ONLY.high));
            let w = plan
                .warnings
                .iter()
                .find(|w| w.code == "not-null-enforced-by-check")
                .unwrap();
            assert!(w.message.contains("attnotnull stays false"));
            let last = plan.phases.last().unwrap();
            assert!(last
                .checks
                .iter()
                .any(|c| c.expected == crate::model::Expected::row(&["f"])
                    && c.sql.contains("attnotnull")));
        }
        let p = nn("postgresql@11", "500M", "120GB", "0");
        insta::assert_snapshot!(
            "add_not_null_pg11_zero_budget",
            markdown(&crate::plan(&p).unwrap(), &p)
        );
    }

    #[test]
    fn pg11_offers_the_blocking_set_not_null_only_within_budget() {
        // 2 MB scans in well under a second: the direct SET NOT NULL fits a 30 s budget, and
        // the online path ends with the blocking SET NOT NULL too.
        let p = nn("postgresql@11", "10k", "2MB", "30s");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        let direct = &plan.phases[1].steps[0];
        assert_eq!(
            direct.sql,
            ["ALTER TABLE orders ALTER COLUMN email SET NOT NULL;"]
        );
        assert_eq!(direct.blocks, Blocks::ReadsAndWrites);
        assert!(direct.scans_table);
        let alt = plan.alternative.as_ref().unwrap();
        let set = alt
            .phases
            .iter()
            .flat_map(|ph| ph.steps.iter())
            .find(|s| s.title.starts_with("Set NOT NULL (scans"))
            .unwrap();
        assert!(set.scans_table);
        assert_eq!(set.blocks, Blocks::ReadsAndWrites);
        assert!(plan.warnings.is_empty());
        insta::assert_snapshot!("add_not_null_pg11_within_budget", markdown(&plan, &p));

        // 120 GB cannot be scanned in 30 s: the online path stops at the CHECK.
        let plan = crate::plan(&nn("postgresql@11", "500M", "120GB", "30s")).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        assert!(!plan
            .steps()
            .any(|s| s.sql.iter().any(|q| q.contains("SET NOT NULL"))));
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "not-null-enforced-by-check"));
    }

    #[test]
    fn preflight_counts_nulls() {
        let plan = crate::plan(&nn("postgresql@16", "1M", "1GB", "0")).unwrap();
        let c = plan.phases[0]
            .checks
            .iter()
            .find(|c| c.sql.contains("IS NULL"))
            .unwrap();
        assert_eq!(
            c.sql,
            "SELECT count(*) AS null_rows FROM orders WHERE email IS NULL;"
        );
        assert!(c.expect.contains("backfill"));
    }
}
