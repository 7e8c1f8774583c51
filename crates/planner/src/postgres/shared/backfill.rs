//! The one batched pass over a big table that every PostgreSQL online path uses: add-column fills
//! existing rows, change-type fills the new column, split-table copies rows into the new table.
//!
//! Keyset pagination by the primary key (`key >= last ORDER BY key LIMIT n`), never
//! `WHERE ... IS NULL LIMIT n`, which rereads the finished rows every time and slows down
//! quadratically. A one-row progress table holds the last key done and the highest key that
//! existed at the start, so:
//! - the pass ends even while inserts continue (later rows are already handled by the path's own
//!   mechanism: a default, a trigger);
//! - it resumes where it stopped after any failure, from any client;
//! - each batch is one statement: its rows, the caller's idempotent `apply`, and the move of the
//!   progress row, in one transaction. A batch that fails leaves nothing half done.
//!
//! On 11+ a `DO` block loops over that statement and COMMITs after each batch (docs,
//! "Transaction Management"); 10 cannot COMMIT inside `DO`, so the operator repeats the statement
//! until it prints 0.

use crate::estimate::CATALOG_ONLY;
use crate::model::{human_seconds, Estimate, RollbackStep, Run, Step};
use crate::postgres::facts::{self, Statement};
use crate::postgres::{rollback, Ctx};
use crate::quote::{self, ident};

/// A keyset-paginated pass over the target table by `key`.
pub(crate) struct KeysetPass<'a> {
    /// The key column (primary key or unique NOT NULL), unquoted.
    pub key: &'a str,
    /// Unquoted name of the progress table, created beside the target table.
    pub progress: String,
    /// Title of the step that runs the batches.
    pub title: &'a str,
}

impl KeysetPass<'_> {
    /// The steps of the pass: the progress table, then the batches. `apply(pred)` returns the
    /// statement (no semicolon) that handles the rows `pred` selects; it must be idempotent, as a
    /// batch that was cut off is run again.
    pub fn steps(&self, ctx: &Ctx, apply: &dyn Fn(&str) -> String) -> Vec<Step> {
        let n = ctx.model.batch_size;
        let pause = ctx.model.batch_pause_ms as f64 / 1000.0;
        let progress = ctx.sibling(&self.progress);
        let batch = self.batch_sql(ctx, apply);

        let mut run = if facts::DO_BLOCK_COMMIT.holds(ctx.version()) {
            let body = format!(
                "DECLARE\n  lockstep_rows bigint;\nBEGIN\n  LOOP\n    {} INTO lockstep_rows FROM lockstep_batch;\n    COMMIT;\n    EXIT WHEN lockstep_rows = 0;\n    PERFORM pg_sleep({pause});\n  END LOOP;\nEND",
                batch.replace('\n', "\n    ")
            );
            let mut step = ctx.ddl(
                self.title,
                vec![quote::do_block(&body)],
                Statement::Dml,
                ctx.model.backfill(),
            );
            step.notes.push(format!(
                "One DO block runs the batches of {n} rows and COMMITs after each (PostgreSQL 11+), pausing {} between batches so replicas and autovacuum keep up. Each batch holds its rows' locks only until its COMMIT.",
                human_seconds(pause)
            ));
            step.notes.push("Run it outside a transaction block (plain psql autocommit): COMMIT inside DO fails in one.".to_string());
            step
        } else {
            let mut step = ctx.ddl(
                self.title,
                // No row once the range is done: psql 17's `\watch min_rows=1` stops there.
                vec![format!(
                    "{batch} AS rows_in_batch FROM lockstep_batch HAVING count(*) > 0;"
                )],
                Statement::Dml,
                ctx.model.backfill(),
            );
            step.run = Run::UntilDone;
            step.notes.push(format!(
                "PostgreSQL {} cannot COMMIT inside a DO block (that arrived in 11), so this statement is one batch of {n} rows, its own short transaction. Repeat it until it returns no row (the duration above is for all repetitions): forward.sql does so with psql 17's `\\watch i={pause} min_rows=1`, and with an older psql pauses for you. From a shell: `while out=$(psql -XqAt -v ON_ERROR_STOP=1 -f batch.sql) && [ -n \"$out\" ]; do sleep {pause}; done` with this step's SQL (settings included) in batch.sql; the loop stops when a batch finds no row, or at the first error.",
                ctx.version()
            ));
            step
        };
        run.in_transaction = false;
        run.scans_table = true;
        run.statement_timeout_ms = Some(0);
        run.notes.push(format!("Progress: SELECT last_key, end_key FROM {progress}; It stops at the highest {} that existed when the progress table was created: rows inserted later are already handled, and chasing them would never end while inserts continue.", ident(self.key)));
        if ctx.req.env.replicas {
            run.notes.push("Watch replay_lag (pg_stat_replication) while it runs; cancel it (pg_cancel_backend) if replicas fall behind, and run it again later: it resumes where it stopped.".to_string());
        }
        run.retry = "If it fails or is cancelled (lock timeout on a row, deadlock, statement cancelled), the committed batches stay done and the progress table points after the last of them: run it again to resume.".to_string();

        vec![self.setup(ctx), run]
    }

    /// One batch: `WITH lockstep_batch AS (...), lockstep_apply AS (...), lockstep_progress AS
    /// (...) SELECT count(*)`, ending before `INTO`/`AS` so both callers can finish it.
    fn batch_sql(&self, ctx: &Ctx, apply: &dyn Fn(&str) -> String) -> String {
        let table = ctx.table();
        let key = ident(self.key);
        let progress = ctx.sibling(&self.progress);
        format!(
            "WITH lockstep_batch AS (\n  SELECT {key} AS lockstep_key FROM {table}\n  WHERE {key} >= (SELECT last_key FROM {progress}) AND {key} <= (SELECT end_key FROM {progress})\n    AND ({key} > (SELECT last_key FROM {progress}) OR NOT (SELECT started FROM {progress}))\n  ORDER BY {key} LIMIT {n}\n), lockstep_apply AS (\n  {} RETURNING 1\n), lockstep_progress AS (\n  UPDATE {progress} SET last_key = (SELECT max(lockstep_key) FROM lockstep_batch), started = true\n  WHERE EXISTS (SELECT 1 FROM lockstep_batch) RETURNING 1\n)\nSELECT count(*)",
            apply(&format!("{key} IN (SELECT lockstep_key FROM lockstep_batch)")),
            n = ctx.model.batch_size
        )
    }

    /// The progress table: first and last key of the rows to handle, and whether a batch ran.
    fn setup(&self, ctx: &Ctx) -> Step {
        let table = ctx.table();
        let key = ident(self.key);
        let progress = ctx.sibling(&self.progress);
        let mut s = ctx.ddl(
            "Create the progress table: the key range to cover and the last key done (so the pass resumes after a failure)",
            vec![
                format!("CREATE TABLE IF NOT EXISTS {progress} AS SELECT {key} AS last_key, {key} AS end_key, false AS started FROM {table} WITH NO DATA;"),
                format!("INSERT INTO {progress} SELECT (SELECT min({key}) FROM {table}), (SELECT max({key}) FROM {table}), false WHERE NOT EXISTS (SELECT 1 FROM {progress});"),
            ],
            Statement::Dml,
            Estimate::new(0.001, 0.1),
        );
        s.notes.push("A one-row table beside the target: it survives a dropped connection, and the batches can be resumed from any client.".to_string());
        s.retry = "Safe to re-run: an existing progress table is kept (IF NOT EXISTS, and the row is inserted only once), so the pass resumes where it stopped.".to_string();
        s
    }

    /// Drops the progress table, in a later phase whose checks prove the pass complete.
    pub fn cleanup(&self, ctx: &Ctx) -> Step {
        let mut s = ctx.ddl(
            "Drop the backfill progress table",
            vec![format!(
                "DROP TABLE IF EXISTS {};",
                ctx.sibling(&self.progress)
            )],
            Statement::Dml,
            CATALOG_ONLY,
        );
        s.retry = "Safe to re-run (IF EXISTS).".to_string();
        s
    }

    /// Drops the progress table right after the batches, only once the pass has covered its whole
    /// range: a script re-run after an interrupted pass resumes instead of starting again.
    pub fn guarded_cleanup(&self, ctx: &Ctx) -> Step {
        let table = ctx.table();
        let key = ident(self.key);
        let progress = ctx.sibling(&self.progress);
        let mut s = self.cleanup(ctx);
        // Both sides qualified: a key column named like a progress column stays unambiguous.
        s.run_only_if(
            "lockstep_pass_done",
            &format!("NOT EXISTS (SELECT 1 FROM {table} AS lockstep_t, {progress} AS lockstep_p WHERE lockstep_t.{key} >= lockstep_p.last_key AND lockstep_t.{key} <= lockstep_p.end_key AND (lockstep_t.{key} > lockstep_p.last_key OR NOT lockstep_p.started))"
        ),
        );
        s.notes.push("Runs only when a batch would find no row left in the range, so it never cuts a pass short.".to_string());
        s
    }

    /// Rolling the pass back drops its progress table.
    pub fn cleanup_rollback(&self, ctx: &Ctx) -> RollbackStep {
        rollback(
            format!("DROP TABLE IF EXISTS {};", ctx.sibling(&self.progress)),
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Plan, Run, Step};
    use crate::request::params::Params;

    /// An add-column plan with a volatile default: its backfill is a keyset pass.
    fn plan(db: &str, table: &str, key: &str) -> Plan {
        crate::plan(
            &Params::new()
                .with("db", db)
                .with("change", "add-column")
                .with("table", table)
                .with("column", "token")
                .with("type", "uuid")
                .with("default", "gen_random_uuid()")
                .with("primary-key", key)
                .with("rows", "500M")
                .with("size", "120GB")
                .with("max-downtime", "0"),
        )
        .unwrap()
    }

    fn backfill(plan: &Plan) -> Vec<Step> {
        plan.phases
            .iter()
            .find(|p| p.name == "backfill")
            .unwrap()
            .steps
            .clone()
    }

    #[test]
    fn a_progress_table_on_every_version_and_a_loop_from_11() {
        for (db, looped) in [
            ("postgresql@10.23", false),
            ("postgresql@11.22", true),
            ("postgresql@18.4", true),
        ] {
            let steps = backfill(&plan(db, "orders", "id"));
            assert_eq!(steps.len(), 3, "{db}: setup, batches, guarded drop");
            assert!(steps[0].sql[0]
                .starts_with("CREATE TABLE IF NOT EXISTS lockstep_backfill_orders_token"));
            let batches = &steps[1];
            assert!(!batches.in_transaction && batches.scans_table);
            assert_eq!(batches.statement_timeout_ms, Some(0));
            if looped {
                assert_eq!(batches.run, Run::Once, "{db}");
                assert!(batches.sql[0].starts_with("DO $lockstep$"));
                assert!(batches.sql[0].contains("COMMIT;\n    EXIT WHEN lockstep_rows = 0;"));
            } else {
                assert_eq!(batches.run, Run::UntilDone, "{db}");
                assert!(batches.sql[0].ends_with(
                    "SELECT count(*) AS rows_in_batch FROM lockstep_batch HAVING count(*) > 0;"
                ));
            }
            // Every batch reads its range from the progress table and moves it forward.
            assert!(batches.sql[0].contains("UPDATE lockstep_backfill_orders_token SET last_key = (SELECT max(lockstep_key) FROM lockstep_batch), started = true"));
            assert!(steps[2].only_if.is_some());
        }
    }

    #[test]
    fn names_stay_quoted_and_unambiguous() {
        let steps = backfill(&plan(
            "postgresql@16",
            "orders\"; drop table x; --",
            "last_key",
        ));
        let table = "\"orders\"\"; drop table x; --\"";
        assert!(steps[1].sql[0].contains(&format!("SELECT last_key AS lockstep_key FROM {table}")));
        // A key named like a column of the progress table: the guard qualifies both sides.
        let guard = steps[2].only_if.as_deref().unwrap();
        assert!(
            guard.contains(&format!("FROM {table} AS lockstep_t, ")),
            "{guard}"
        );
        assert!(
            guard.contains("lockstep_t.last_key >= lockstep_p.last_key"),
            "{guard}"
        );
    }
}
