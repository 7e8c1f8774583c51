//! What a completed MySQL-family step does when forward.sql is run again, written once for
//! every change type: on MariaDB each ALTER clause that adds or drops something gets
//! `IF [NOT] EXISTS` (MariaDB KB, "ALTER TABLE"), and [`Step::rerun`] is set from the
//! statements and the step's `only_if` guard. MySQL has no `IF [NOT] EXISTS` on these clauses
//! and the verifier runs no MySQL server: its steps are never said to be safe to re-run.

use crate::model::{Check, Expected, Phase, Plan, Rerun, Step};
use crate::request::Engine;

/// Rewrites the MariaDB steps of `plan` (and of its alternative) to be re-runnable where the
/// syntax allows, and records on every step what a re-run does.
pub fn apply(plan: &mut Plan) {
    let alternative = plan
        .alternative
        .iter_mut()
        .flat_map(|a| a.phases.iter_mut());
    for phase in plan.phases.iter_mut().chain(alternative) {
        apply_phase(phase);
    }
}

fn apply_phase(phase: &mut Phase) {
    let pending = phase.checks.iter().find_map(pending_guard);
    for step in &mut phase.steps {
        if step.engine == Engine::Mariadb {
            for stmt in &mut step.sql {
                if let Some(rewritten) = idempotent_alter(stmt) {
                    *stmt = rewritten;
                }
            }
            // A statement that would do its work again (a MODIFY under ALGORITHM=COPY copies
            // the table, blocking writes) runs only until the phase's check holds.
            let redoes = !step.sql.iter().all(|s| statement_is_idempotent(s));
            if redoes && step.shell.is_none() && step.only_if.is_none() {
                step.only_if.clone_from(&pending);
            }
        }
        step.rerun = rerun_of(step);
    }
}

/// `1` while a check expecting one exact value does not return it yet: the guard of a step
/// whose result that check proves.
fn pending_guard(check: &Check) -> Option<String> {
    let Expected::Rows(rows) = &check.expected else {
        return None;
    };
    let [row] = rows.as_slice() else {
        return None;
    };
    let [value] = row.as_slice() else {
        return None;
    };
    let query = check.sql.trim_end().trim_end_matches(';');
    Some(format!(
        "SELECT NOT COALESCE(({query}) = {}, 0) AS pending;",
        crate::quote::mysql::literal(value)
    ))
}

/// Gives every check of the transition phases (all but the first, the preflight, and the
/// last, whose checks describe the finished state) the guard `only_if`: a re-run of a
/// completed plan skips them as it skips the phases' guarded steps.
pub fn guard_transition_checks(phases: &mut [Phase], only_if: &str) {
    let n = phases.len();
    for phase in phases.iter_mut().take(n.saturating_sub(1)).skip(1) {
        for check in &mut phase.checks {
            check.only_if.get_or_insert_with(|| only_if.to_string());
        }
    }
}

/// Safe when every statement changes nothing once done (or the guard skips them all): on
/// MariaDB only, the engine whose second run of forward.sql the verifier checks. A shell
/// command (an online-schema-change tool, a backfill procedure) is skipped by the operator.
fn rerun_of(step: &Step) -> Rerun {
    if step.shell.is_some() {
        return Rerun::SkipWhenDone;
    }
    let guarded = step.only_if.is_some() && step.engine == Engine::Mariadb;
    let idempotent = guarded || step.sql.iter().all(|s| statement_is_idempotent(s));
    match (idempotent, step.engine) {
        (false, _) => Rerun::SkipWhenDone,
        (true, Engine::Mariadb) => Rerun::Safe,
        (true, _) => Rerun::Unproven,
    }
}

/// Statements that change nothing when what they make already exists (or what they drop is
/// gone), read-only queries, and session settings.
fn statement_is_idempotent(stmt: &str) -> bool {
    const SAFE: [&str; 12] = [
        "SELECT ",
        "SET ",
        "DO ",
        "CREATE TABLE IF NOT EXISTS ",
        "CREATE TRIGGER IF NOT EXISTS ",
        "CREATE OR REPLACE ",
        "CREATE VIEW IF NOT EXISTS ",
        "DROP TABLE IF EXISTS ",
        "DROP TRIGGER IF EXISTS ",
        "DROP VIEW IF EXISTS ",
        "DROP PROCEDURE IF EXISTS ",
        "ANALYZE TABLE ",
    ];
    let s = stmt.trim_start();
    if SAFE.iter().any(|p| starts_with_ci(s, p)) {
        return true;
    }
    starts_with_ci(s, "ALTER TABLE ") && alter_clauses(s).iter().all(|c| clause_is_idempotent(c, s))
}

/// A clause that changes nothing once applied: `ADD ... IF NOT EXISTS`, `DROP ... IF EXISTS`,
/// a MODIFY/CHANGE that the server does in place (an identical definition is then a no-op;
/// under `ALGORITHM=COPY` it copies the table again), ALTER COLUMN ... SET/DROP DEFAULT, and
/// the ALGORITHM/LOCK options.
fn clause_is_idempotent(clause: &str, stmt: &str) -> bool {
    let c = clause.trim();
    let upper = c.to_ascii_uppercase();
    if upper.starts_with("ALGORITHM=") || upper.starts_with("LOCK=") {
        return true;
    }
    if upper.starts_with("MODIFY ") || upper.starts_with("CHANGE ") {
        return !stmt.to_ascii_uppercase().contains("ALGORITHM=COPY");
    }
    // Setting the same default again, or dropping one already gone, changes nothing.
    if upper.starts_with("ALTER COLUMN ")
        && (upper.contains(" SET DEFAULT ") || upper.ends_with(" DROP DEFAULT"))
    {
        return true;
    }
    upper.contains(" IF NOT EXISTS ") || upper.contains(" IF EXISTS ")
}

/// The keyword prefixes that take `IF [NOT] EXISTS` on MariaDB, longest first, and the words
/// inserted after them.
const GUARDS: [(&str, &str); 14] = [
    ("ADD UNIQUE INDEX ", "IF NOT EXISTS "),
    ("ADD UNIQUE KEY ", "IF NOT EXISTS "),
    ("DROP FOREIGN KEY ", "IF EXISTS "),
    ("DROP CONSTRAINT ", "IF EXISTS "),
    ("ADD COLUMN ", "IF NOT EXISTS "),
    ("DROP COLUMN ", "IF EXISTS "),
    ("ADD INDEX ", "IF NOT EXISTS "),
    ("ADD KEY ", "IF NOT EXISTS "),
    ("DROP INDEX ", "IF EXISTS "),
    ("DROP KEY ", "IF EXISTS "),
    ("ALTER INDEX ", "IF EXISTS "),
    ("RENAME COLUMN ", "IF EXISTS "),
    ("CHANGE COLUMN ", "IF EXISTS "),
    ("FOREIGN KEY ", "IF NOT EXISTS "),
];

/// The ALTER TABLE statement with `IF [NOT] EXISTS` after each clause keyword that takes it
/// (`ADD CONSTRAINT name CHECK` as `ADD CONSTRAINT IF NOT EXISTS name CHECK`, a foreign key as
/// `FOREIGN KEY IF NOT EXISTS (...)`); `None` when the statement is not an ALTER TABLE.
/// Only words outside quotes, backticks and parentheses are read: names and expressions are
/// never touched.
pub fn idempotent_alter(stmt: &str) -> Option<String> {
    if !starts_with_ci(stmt.trim_start(), "ALTER TABLE ") {
        return None;
    }
    let mut out = String::with_capacity(stmt.len() + 32);
    let mut rest = stmt;
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut at_word = true;
    while let Some(ch) = rest.chars().next() {
        if quote.is_none() && depth == 0 && at_word {
            if let Some(n) = guard_at(rest, &mut out) {
                rest = &rest[n..];
                at_word = true;
                continue;
            }
        }
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '`' | '\'' | '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
        at_word = quote.is_none() && (ch == ' ' || ch == ',');
        out.push(ch);
        rest = &rest[ch.len_utf8()..];
    }
    Some(out)
}

/// When `rest` starts with a guardable keyword not yet followed by `IF`, writes it with its
/// guard into `out` and returns how much of `rest` it consumed.
fn guard_at(rest: &str, out: &mut String) -> Option<usize> {
    if starts_with_ci(rest, "ADD CONSTRAINT ") {
        let after = &rest["ADD CONSTRAINT ".len()..];
        let name_len = quoted_name_len(after)?;
        if starts_with_ci(&after[name_len..], " CHECK ") {
            out.push_str(&rest[.."ADD CONSTRAINT ".len()]);
            out.push_str("IF NOT EXISTS ");
            return Some("ADD CONSTRAINT ".len());
        }
        // `ADD CONSTRAINT name FOREIGN KEY`: the guard goes after FOREIGN KEY.
        out.push_str(&rest[.."ADD CONSTRAINT ".len() + name_len + 1]);
        return Some("ADD CONSTRAINT ".len() + name_len + 1);
    }
    let (keyword, guard) = GUARDS.iter().find(|(k, _)| starts_with_ci(rest, k))?;
    out.push_str(&rest[..keyword.len()]);
    if !starts_with_ci(&rest[keyword.len()..], "IF ") {
        out.push_str(guard);
    }
    Some(keyword.len())
}

/// The length of a backtick-quoted name at the start of `s` (doubled backticks inside).
fn quoted_name_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix('`')?;
    let mut i = 0;
    let bytes = body.as_bytes();
    while i < bytes.len() {
        if bytes[i] == b'`' {
            if bytes.get(i + 1) == Some(&b'`') {
                i += 2;
                continue;
            }
            return Some(i + 2);
        }
        i += 1;
    }
    None
}

/// The clauses of an ALTER TABLE statement: split at commas outside quotes and parentheses,
/// the first one without `ALTER TABLE <name>`, the statement's `;` dropped.
pub(super) fn alter_clauses(stmt: &str) -> Vec<String> {
    let mut clauses = vec![String::new()];
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for ch in stmt.trim().trim_end_matches(';').chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '`' | '\'' | '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                clauses.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = clauses.last_mut() {
            last.push(ch);
        }
    }
    if let Some(first) = clauses.first_mut() {
        *first = without_table_name(first);
    }
    clauses
}

/// `ALTER TABLE `a`.`b` ADD ...` → `ADD ...`.
fn without_table_name(clause: &str) -> String {
    let mut rest =
        clause.trim_start()["ALTER TABLE ".len().min(clause.trim_start().len())..].trim_start();
    while let Some(n) = quoted_name_len(rest) {
        rest = &rest[n..];
        match rest.strip_prefix('.') {
            Some(r) => rest = r,
            None => break,
        }
    }
    rest.trim_start().to_string()
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_get_if_exists_and_names_are_never_touched() {
        let s = idempotent_alter(
            "ALTER TABLE `o``; ADD COLUMN x` ADD COLUMN `a (DROP COLUMN b)` text DEFAULT 'ADD INDEX z', DROP COLUMN `b`, ADD UNIQUE INDEX `u` (`a`, `b`), ALGORITHM=INPLACE, LOCK=NONE;",
        )
        .unwrap();
        assert_eq!(
            s,
            "ALTER TABLE `o``; ADD COLUMN x` ADD COLUMN IF NOT EXISTS `a (DROP COLUMN b)` text DEFAULT 'ADD INDEX z', DROP COLUMN IF EXISTS `b`, ADD UNIQUE INDEX IF NOT EXISTS `u` (`a`, `b`), ALGORITHM=INPLACE, LOCK=NONE;"
        );
        // Already guarded: unchanged.
        assert_eq!(idempotent_alter(&s).unwrap(), s);
        assert!(statement_is_idempotent(&s));
    }

    #[test]
    fn constraints_take_the_guard_where_mariadb_accepts_it() {
        assert_eq!(
            idempotent_alter("ALTER TABLE `o` ADD CONSTRAINT `c` CHECK (amount >= 0), ALGORITHM=COPY, LOCK=SHARED;").unwrap(),
            "ALTER TABLE `o` ADD CONSTRAINT IF NOT EXISTS `c` CHECK (amount >= 0), ALGORITHM=COPY, LOCK=SHARED;"
        );
        assert_eq!(
            idempotent_alter("ALTER TABLE `o` ADD CONSTRAINT `f``k` FOREIGN KEY (`c`) REFERENCES `p` (`id`), ALGORITHM=INPLACE, LOCK=NONE;").unwrap(),
            "ALTER TABLE `o` ADD CONSTRAINT `f``k` FOREIGN KEY IF NOT EXISTS (`c`) REFERENCES `p` (`id`), ALGORITHM=INPLACE, LOCK=NONE;"
        );
        assert_eq!(
            idempotent_alter(
                "ALTER TABLE `o` ALTER INDEX `i` IGNORED, ALGORITHM=INSTANT, LOCK=NONE;"
            )
            .unwrap(),
            "ALTER TABLE `o` ALTER INDEX IF EXISTS `i` IGNORED, ALGORITHM=INSTANT, LOCK=NONE;"
        );
        assert_eq!(
            idempotent_alter("ALTER TABLE `o` DROP FOREIGN KEY `f`, ALGORITHM=INPLACE, LOCK=NONE;")
                .unwrap(),
            "ALTER TABLE `o` DROP FOREIGN KEY IF EXISTS `f`, ALGORITHM=INPLACE, LOCK=NONE;"
        );
    }

    #[test]
    fn a_copy_modify_or_an_unguarded_statement_is_not_idempotent() {
        assert!(!statement_is_idempotent(
            "ALTER TABLE `o` MODIFY `c` bigint NOT NULL, ALGORITHM=COPY, LOCK=SHARED;"
        ));
        assert!(statement_is_idempotent(
            "ALTER TABLE `o` MODIFY `c` varchar(128), ALGORITHM=INSTANT, LOCK=NONE;"
        ));
        assert!(!statement_is_idempotent(
            "ALTER TABLE `o` ADD COLUMN `c` int, ALGORITHM=INSTANT;"
        ));
        assert!(!statement_is_idempotent("RENAME TABLE `a` TO `b`;"));
        assert!(!statement_is_idempotent("DROP TABLE `_orders_old`;"));
        assert!(statement_is_idempotent(
            "DROP TABLE IF EXISTS `_orders_old`;"
        ));
    }

    fn params(db: &str, change: &[(&str, &str)]) -> crate::request::params::Params {
        crate::request::params::Params::zero_budget(db, "orders", change)
    }

    fn plan(db: &str, change: &[(&str, &str)]) -> Plan {
        crate::plan(&params(db, change)).unwrap()
    }

    const RENAME: [(&str, &str); 4] = [
        ("change", "rename-column"),
        ("column", "note"),
        ("new-name", "remark"),
        ("type", "text"),
    ];

    #[test]
    fn only_mariadb_sql_steps_are_safe_and_the_runbook_says_so_from_the_field() {
        let p = plan("mariadb@10.11", &RENAME);
        for step in p.steps() {
            let want = if step.shell.is_some() {
                Rerun::SkipWhenDone
            } else {
                Rerun::Safe
            };
            assert_eq!(step.rerun, want, "{}", step.title);
        }
        let md = crate::render::markdown::render(&p, &params("mariadb@10.11", &RENAME));
        let safe = md.matches("- Re-run: Safe to re-run").count();
        assert_eq!(safe, p.steps().filter(|s| s.rerun == Rerun::Safe).count());
        assert_eq!(md.matches("Safe to re-run").count(), safe, "{md}");
        // MySQL: no IF [NOT] EXISTS on ADD COLUMN, no guard the client can enforce.
        let p = plan("mysql@8.0.35", &RENAME);
        assert!(p.steps().all(|s| s.rerun != Rerun::Safe));
        assert!(p
            .steps()
            .any(|s| s.rerun == Rerun::SkipWhenDone && s.shell.is_none()));
        assert!(
            !crate::render::markdown::render(&p, &params("mysql@8.0.35", &RENAME))
                .contains("Safe to re-run")
        );
    }

    #[test]
    fn a_completed_plan_skips_its_transition_steps_and_checks() {
        let p = plan("mariadb@10.11", &RENAME);
        let triggers = &p.phases[1].steps[1];
        assert!(triggers.sql[0].starts_with("CREATE TRIGGER"));
        let guard = triggers.only_if.as_deref().unwrap();
        assert!(guard.contains("column_name = 'note'"), "{guard}");
        let script = crate::render::sql::forward(&p);
        assert!(script.contains(
            "SET @lockstep_sql = IF(@lockstep_run, 'CREATE TRIGGER `orders_lockstep_rename_ins`"
        ));
        // A guarded stopping check decides through a prepared statement: once the guard is 0
        // (the old column is gone) the server never parses its query, and it passes.
        assert!(
            script.contains("'SELECT TRUE INTO @lockstep_check_ok'"),
            "{script}"
        );
        // Both transition phases' checks carry the guard; the preflight's and the last's do not.
        assert!(p.phases[1..3]
            .iter()
            .flat_map(|ph| &ph.checks)
            .all(|c| c.only_if.is_some()));
        assert!(p.phases[0]
            .checks
            .iter()
            .chain(&p.phases[3].checks)
            .all(|c| c.only_if.is_none()));
    }

    #[test]
    fn a_copy_runs_only_until_its_check_holds() {
        let p = plan(
            "mariadb@10.11",
            &[
                ("change", "change-type"),
                ("column", "customer_id"),
                ("from-type", "int NOT NULL"),
                ("to-type", "bigint NOT NULL"),
                ("max-downtime", "10m"),
                ("rows", "200000"),
                ("size", "40MB"),
            ],
        );
        let step = p
            .steps()
            .find(|s| s.sql.iter().any(|q| q.contains("ALGORITHM=COPY")))
            .unwrap();
        // The phase's new-type check, negated: 1 until the column has its new type.
        let guard = step.only_if.as_deref().unwrap();
        let check = &p.phases[1].checks[0];
        assert_eq!(
            guard,
            format!(
                "SELECT NOT COALESCE(({}) = 'bigint', 0) AS pending;",
                check.sql.trim_end_matches(';')
            )
        );
        assert!(guard.contains("column_name = 'customer_id'"), "{guard}");
        assert_eq!(step.rerun, Rerun::Safe);
    }
}
