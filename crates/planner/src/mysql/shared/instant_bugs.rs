//! MariaDB releases whose instant column changes could corrupt the table (MariaDB KB, "InnoDB
//! Online DDL Operations with the INSTANT Alter Algorithm", "Known Bugs"; the bugs and their
//! fix releases are [`Server::instant_column_bugs`]). The MariaDB counterpart of the MySQL
//! 8.0.29-8.0.31 warning.
//!
//! Read from the plan's own ALTER statements, steps and rollbacks alike, so every change type
//! is covered: MariaDB treats `ALGORITHM=INPLACE` as "at least INPLACE" and still adds or drops
//! a column instantly under it (KB, "InnoDB Online DDL Overview"); only `ALGORITHM=COPY` or a
//! `FORCE` clause rebuilds instead. A tool's `--alter` changes an empty copy and is left out.

use super::rerun::alter_clauses;
use crate::model::{Phase, Warning};
use crate::mysql::facts;
use crate::mysql::facts::{known_patches, InstantColumnBug, InstantColumnChange, Server};
use crate::mysql::Ctx;
use crate::request::Version;

/// The warning's code.
pub const CODE: &str = "mariadb-instant-column-corruption";

/// The warning when the plan changes columns instantly on a MariaDB release with a known
/// corruption bug for that change.
pub fn warnings(ctx: &Ctx, phases: &[Phase]) -> Vec<Warning> {
    let server = ctx.server;
    let steps = instant_changes(
        server,
        phases
            .iter()
            .flat_map(|p| &p.steps)
            .flat_map(|s| &s.sql)
            .map(String::as_str),
    );
    let rollbacks = instant_changes(
        server,
        phases
            .iter()
            .flat_map(|p| &p.rollback)
            .flat_map(|r| r.sql.lines()),
    );
    let exposed = |changes: &[InstantColumnChange]| -> Vec<InstantColumnChange> {
        changes
            .iter()
            .copied()
            .filter(|c| !server.instant_column_bugs(*c).is_empty())
            .collect()
    };
    let (steps, rollbacks) = (exposed(&steps), exposed(&rollbacks));
    let mut bugs: Vec<&InstantColumnBug> = Vec::new();
    for change in steps.iter().chain(&rollbacks) {
        for bug in server.instant_column_bugs(*change) {
            if !bugs.iter().any(|b| b.mdev == bug.mdev) {
                bugs.push(bug);
            }
        }
    }
    if bugs.is_empty() {
        return Vec::new();
    }
    vec![Warning {
        code: CODE.to_string(),
        message: message(server, &steps, &rollbacks, &bugs),
    }]
}

/// The instant column changes `statements` make on this server, in the order of
/// [`InstantColumnChange`], each once.
fn instant_changes<'a>(
    server: Server,
    statements: impl Iterator<Item = &'a str>,
) -> Vec<InstantColumnChange> {
    let mut found = Vec::new();
    for stmt in statements {
        for change in changes_of(server, stmt.trim()) {
            if !found.contains(&change) {
                found.push(change);
            }
        }
    }
    found.sort_by_key(|c| *c as u8);
    found
}

/// The column changes of one ALTER TABLE statement that the server may do instantly.
fn changes_of(server: Server, stmt: &str) -> Vec<InstantColumnChange> {
    let upper = stmt.to_ascii_uppercase();
    if !upper.starts_with("ALTER TABLE ") {
        return Vec::new();
    }
    let clauses = alter_clauses(stmt);
    let bare: Vec<Vec<String>> = clauses.iter().map(|c| bare_words(c)).collect();
    let rebuilds = bare
        .iter()
        .any(|words| words.concat() == "FORCE" || words.concat() == "ALGORITHM=COPY");
    if rebuilds {
        return Vec::new();
    }
    let moves = |words: &[String]| words.iter().any(|w| w == "FIRST" || w == "AFTER");
    bare.iter()
        .filter_map(|words| {
            let (first, second) = (words.first()?.as_str(), words.get(1).map(String::as_str));
            match (first, second) {
                // 10.3 adds instantly only at the end: an ADD elsewhere rebuilds there.
                ("ADD", Some("COLUMN"))
                    if !moves(words) || facts::INSTANT_ADD_DROP_ANYWHERE.holds(server) =>
                {
                    Some(InstantColumnChange::Add)
                }
                // Dropping or moving a column is instant from 10.4; 10.3 rebuilds.
                ("DROP", Some("COLUMN")) if facts::INSTANT_ADD_DROP_ANYWHERE.holds(server) => {
                    Some(InstantColumnChange::DropOrReorder)
                }
                ("MODIFY" | "CHANGE", _)
                    if moves(words) && facts::INSTANT_ADD_DROP_ANYWHERE.holds(server) =>
                {
                    Some(InstantColumnChange::DropOrReorder)
                }
                _ => None,
            }
        })
        .collect()
}

/// The words of a clause outside quotes, backticks and parentheses, upper-cased: what the
/// clause does, never a name, a literal or an expression.
fn bare_words(clause: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    for ch in clause.chars() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '`' | '\'' | '"') => quote = Some(ch),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, c) if depth == 0 && !c.is_whitespace() => word.push(c.to_ascii_uppercase()),
            _ => {}
        }
        let boundary = quote.is_some() || depth > 0 || ch.is_whitespace();
        if boundary && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn message(
    server: Server,
    steps: &[InstantColumnChange],
    rollbacks: &[InstantColumnChange],
    bugs: &[&InstantColumnBug],
) -> String {
    let v = server.version;
    let minor = v.minor.unwrap_or(0);
    let assumed = match v.patch {
        Some(_) => String::new(),
        None => format!(
            " (no patch release was given, so this plan assumes the oldest, {}.{minor}.{})",
            v.major,
            known_patches(server.engine, v.major, minor).start()
        ),
    };
    let words = |changes: &[InstantColumnChange]| {
        changes
            .iter()
            .map(|c| match c {
                InstantColumnChange::Add => "adds a column",
                InstantColumnChange::DropOrReorder => "drops or moves a column",
            })
            .collect::<Vec<_>>()
            .join(" and ")
    };
    let what = match (steps.is_empty(), rollbacks.is_empty()) {
        (false, true) => format!("this plan {} instantly", words(steps)),
        (true, false) => format!("this plan's rollback {} instantly", words(rollbacks)),
        _ => format!(
            "this plan {} instantly, and its rollback {}",
            words(steps),
            words(rollbacks)
        ),
    };
    let list = bugs
        .iter()
        .map(|b| format!("{} ({}; fixed in {})", b.mdev, b.what, b.fixed_in()))
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "MariaDB {v}{assumed}: {what} (MariaDB does so under ALGORITHM=INSTANT and INPLACE alike), and this release has known bugs that could corrupt the table after such a change: {list} (MariaDB KB, \"InnoDB Online DDL Operations with the INSTANT Alter Algorithm\", Known Bugs). Upgrade to {} first. Where you cannot, rebuild instead: add FORCE to the ALTER, with ALGORITHM=INPLACE, LOCK=NONE (reads and writes continue, but the whole table is rewritten), and rebuild a table already changed instantly the same way (ALTER TABLE ... FORCE, ALGORITHM=INPLACE, LOCK=NONE).",
        upgrade_target(minor, bugs)
    )
}

/// "10.4.9 or later", or, when this series never got a fix, the first release of a later
/// series that has them all.
fn upgrade_target(minor: u32, bugs: &[&InstantColumnBug]) -> String {
    let fixes: Vec<Version> = bugs.iter().filter_map(|b| b.fixed_from(minor)).collect();
    let target = fixes.iter().max_by_key(|v| (v.minor, v.patch)).copied();
    match target {
        Some(t) if t.minor == Some(minor) => format!("{t} or later"),
        Some(t) => {
            let unfixed: Vec<&str> = bugs
                .iter()
                .filter(|b| b.fixed_from(minor).is_some_and(|f| f.minor != Some(minor)))
                .map(|b| b.mdev)
                .collect();
            format!(
                "a later series ({t} or later: 10.{minor} never got the fix for {})",
                unfixed.join(", ")
            )
        }
        None => "a series that has the fixes".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Plan;
    use crate::request::params::Params;

    fn plan(db: &str, change: &[(&str, &str)]) -> Plan {
        crate::plan(&Params::zero_budget(db, "orders", change))
            .unwrap_or_else(|e| panic!("{db}: {e:?}"))
    }

    const ADD_COLUMN: &[(&str, &str)] = &[
        ("change", "add-column"),
        ("column", "note"),
        ("type", "text"),
    ];
    const DROP_COLUMN: &[(&str, &str)] = &[("change", "drop-column"), ("column", "legacy")];
    const ADD_INDEX: &[(&str, &str)] = &[("change", "add-index"), ("columns", "customer_id")];

    fn warning(plan: &Plan) -> Option<&str> {
        plan.warnings
            .iter()
            .find(|w| w.code == CODE)
            .map(|w| w.message.as_str())
    }

    #[test]
    fn an_early_10_3_release_warns_about_instant_add_column() {
        let plan = plan("mariadb@10.3.16", ADD_COLUMN);
        let w = warning(&plan).expect("a warning");
        for mdev in ["MDEV-19743", "MDEV-19783", "MDEV-20066", "MDEV-18519"] {
            assert!(w.contains(mdev), "{mdev}: {w}");
        }
        assert!(w.contains("fixed in 10.3.18 and 10.4.8"), "{w}");
        assert!(w.contains("this plan adds a column instantly"), "{w}");
        assert!(
            w.contains("a later series (10.6.9 or later: 10.3 never got the fix for MDEV-18519)"),
            "{w}"
        );
        assert!(w.contains("FORCE"), "{w}");
        assert!(!w.contains("assumes the oldest"), "{w}");
    }

    #[test]
    fn a_10_4_drop_before_10_4_9_names_the_drop_bugs() {
        let early = plan("mariadb@10.4.8", DROP_COLUMN);
        let w = warning(&early).expect("a warning");
        assert!(w.contains("MDEV-20117") && w.contains("MDEV-20090"), "{w}");
        assert!(w.contains("fixed in 10.4.9"), "{w}");
        assert!(w.contains("Upgrade to 10.4.9 or later first"), "{w}");
        assert!(warning(&plan("mariadb@10.4.9", DROP_COLUMN)).is_none());
    }

    #[test]
    fn a_series_without_its_patch_is_planned_for_its_oldest_release() {
        let plan = plan("mariadb@10.6", ADD_COLUMN);
        let w = warning(&plan).expect("a warning");
        assert!(
            w.starts_with("MariaDB 10.6 (no patch release was given, so this plan assumes the oldest, 10.6.0)"),
            "{w}"
        );
        assert!(w.contains("Upgrade to 10.6.9 or later first"), "{w}");
        let boundary = plan
            .warnings
            .iter()
            .find(|w| w.code == crate::series::CODE)
            .expect("a version-boundary warning");
        assert!(
            boundary.message.contains(&format!(
                "from 10.6.9, the {CODE} warning no longer applies"
            )),
            "{}",
            boundary.message
        );
    }

    #[test]
    fn fixed_releases_and_other_changes_have_no_warning() {
        for db in ["mariadb@10.6.9", "mariadb@10.11", "mariadb@11.4"] {
            assert!(warning(&plan(db, ADD_COLUMN)).is_none(), "{db}");
        }
        assert!(warning(&plan("mariadb@10.4.0", ADD_INDEX)).is_none());
        // MySQL has its own warning (8.0.29-8.0.31).
        assert!(warning(&plan("mysql@8.0.30", ADD_COLUMN)).is_none());
    }

    #[test]
    fn what_an_alter_statement_changes_instantly() {
        let at = |minor| Server {
            engine: crate::request::Engine::Mariadb,
            version: Version {
                major: 10,
                minor: Some(minor),
                patch: Some(0),
            },
        };
        use InstantColumnChange::{Add, DropOrReorder};
        let of = |minor, sql: &str| changes_of(at(minor), sql);
        assert_eq!(
            of(4, "ALTER TABLE `t` ADD COLUMN `x` int DEFAULT 'DROP COLUMN', ALGORITHM=INSTANT, LOCK=NONE;"),
            [Add]
        );
        assert_eq!(
            of(
                4,
                "ALTER TABLE `t` DROP COLUMN `a`, ALGORITHM=INPLACE, LOCK=NONE;"
            ),
            [DropOrReorder]
        );
        assert_eq!(
            of(
                4,
                "ALTER TABLE `t` MODIFY `a` int AFTER `b`, ALGORITHM=INPLACE, LOCK=NONE;"
            ),
            [DropOrReorder]
        );
        assert!(of(
            4,
            "ALTER TABLE `t` MODIFY `a` bigint, ALGORITHM=INPLACE, LOCK=NONE;"
        )
        .is_empty());
        assert!(of(
            4,
            "ALTER TABLE `t` ADD COLUMN `x` int, ALGORITHM=COPY, LOCK=SHARED;"
        )
        .is_empty());
        assert!(of(
            4,
            "ALTER TABLE `t` ADD COLUMN `x` int, FORCE, ALGORITHM=INPLACE, LOCK=NONE;"
        )
        .is_empty());
        // 10.3 adds instantly only as the last column, and drops by rebuilding.
        assert!(of(
            3,
            "ALTER TABLE `t` ADD COLUMN `x` int AFTER `a`, ALGORITHM=INPLACE, LOCK=NONE;"
        )
        .is_empty());
        assert!(of(
            3,
            "ALTER TABLE `t` DROP COLUMN `a`, ALGORITHM=INPLACE, LOCK=NONE;"
        )
        .is_empty());
        assert_eq!(
            of(
                4,
                "ALTER TABLE `t` ADD COLUMN `x` int AFTER `a`, ALGORITHM=INSTANT;"
            ),
            [Add]
        );
        // A name is never read as a keyword.
        assert!(of(
            4,
            "ALTER TABLE `DROP COLUMN` ADD INDEX `FIRST` (`AFTER`), ALGORITHM=NOCOPY, LOCK=NONE;"
        )
        .is_empty());
        assert!(of(4, "SELECT 'ALTER TABLE t ADD COLUMN x';").is_empty());
    }
}
