//! A version given without the release that decides the plan (`mysql@8.0`, `postgresql@14`).
//!
//! Such a request is planned for the oldest release of the series: on a newer one the oldest
//! plan is slower or more careful, never unsafe, and the preflight refuses an older server.
//! Planning takes microseconds, so every known release of the series is planned as well, and
//! each release from which the plan differs in what matters (the path chosen, a step's lock or
//! algorithm, what it blocks, whether it rewrites the table, the version warnings) is named at
//! the top of the plan, in a typed `version-boundary` warning: the user can then give the exact
//! version. Planning for the oldest rather than refusing keeps `mysql@8.0` (offered by the
//! page's suggestions, and in links already shared) answering, with the boundary in sight.

use crate::model::{Blocks, Plan, Warning};
use crate::request::{Database, Engine, Request, Version};
use crate::{mysql::facts as mysql, postgres::facts as postgres};

/// The warning's code.
pub const CODE: &str = "version-boundary";

/// The known releases of the series `db` names when it leaves out the part that tells
/// releases apart (PostgreSQL's minor, MySQL's and MariaDB's patch), oldest first; empty when
/// the version is exact.
pub fn releases(db: Database) -> Vec<Version> {
    let v = db.version;
    let exact = |major, minor, patch| Version {
        major,
        minor: Some(minor),
        patch,
    };
    match (db.engine, v.minor, v.patch) {
        (Engine::Postgresql, None, _) => (0..=postgres::latest_minor(v.major))
            .map(|minor| exact(v.major, minor, None))
            .collect(),
        (Engine::Postgresql, Some(_), _) | (_, Some(_), Some(_)) => Vec::new(),
        (engine, Some(minor), None) => mysql::known_patches(engine, v.major, minor)
            .map(|patch| exact(v.major, minor, Some(patch)))
            .collect(),
        (engine, None, _) => mysql::MARIADB_11_MINORS
            .flat_map(|minor| {
                mysql::known_patches(engine, v.major, minor)
                    .map(move |patch| exact(v.major, minor, Some(patch)))
            })
            .collect(),
    }
}

/// What a plan does that a release boundary can change; prose is left out on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    chosen: String,
    /// Each step's lock as written, what it blocks, and whether it rewrites the table.
    steps: Vec<(String, Blocks, bool)>,
    warnings: Vec<String>,
}

impl Shape {
    fn of(plan: &Plan) -> Shape {
        Shape {
            chosen: plan.strategy.chosen.clone(),
            steps: plan
                .steps()
                .map(|s| {
                    let lock = s.lock.map(|l| l.name()).unwrap_or_default();
                    (lock, s.blocks, s.rewrites_table)
                })
                .collect(),
            warnings: plan
                .warnings
                .iter()
                .map(|w| w.code.clone())
                .filter(|c| c != CODE)
                .collect(),
        }
    }

    /// What is different from `older`, in a few words.
    fn changes_from(&self, older: &Shape) -> String {
        let mut parts = Vec::new();
        if self.chosen != older.chosen {
            parts.push(format!("the {} path is the plan", self.chosen));
        }
        let locks = |s: &Shape| -> Vec<String> {
            s.steps
                .iter()
                .map(|(l, _, _)| l.clone())
                .filter(|l| !l.is_empty())
                .collect()
        };
        let (old_locks, new_locks) = (locks(older), locks(self));
        let added: Vec<&String> = new_locks
            .iter()
            .filter(|l| !old_locks.contains(l))
            .collect();
        if !added.is_empty() {
            parts.push(format!("a step takes {}", join(&added)));
        } else if old_locks != new_locks {
            parts.push("the steps and their locks change".to_string());
        }
        let rewrites = |s: &Shape| s.steps.iter().any(|(_, _, r)| *r);
        match (rewrites(older), rewrites(self)) {
            (true, false) => parts.push("no step rewrites the table".to_string()),
            (false, true) => parts.push("a step rewrites the table".to_string()),
            _ => {}
        }
        for code in self.warnings.iter().filter(|c| !older.warnings.contains(c)) {
            parts.push(format!("the {code} warning applies"));
        }
        for code in older.warnings.iter().filter(|c| !self.warnings.contains(c)) {
            parts.push(format!("the {code} warning no longer applies"));
        }
        if parts.is_empty() {
            parts.push("what each step blocks changes".to_string());
        }
        parts.join(", ")
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// The request with an exact version.
fn at(req: &Request, version: Version) -> Request {
    let mut exact = req.clone();
    exact.db.version = version;
    exact
}

/// Each release of the series from which the plan differs from the previous release's, with
/// what changes there. `plan` plans one exact request.
fn boundaries(req: &Request, plan: impl Fn(&Request) -> Option<Plan>) -> Vec<(Version, String)> {
    let shape_at = |v: Version| plan(&at(req, v)).map(|p| Shape::of(&p));
    let mut found = Vec::new();
    let mut releases = releases(req.db).into_iter();
    let Some(first) = releases.next() else {
        return found;
    };
    let mut previous = shape_at(first);
    for version in releases {
        let shape = shape_at(version);
        if shape != previous {
            let what = match (&previous, &shape) {
                (Some(old), Some(new)) => new.changes_from(old),
                (Some(_), None) => "it cannot be planned (see the error it gives)".to_string(),
                _ => "it can be planned".to_string(),
            };
            found.push((version, what));
        }
        previous = shape;
    }
    found
}

/// The `version-boundary` warning for a request whose version leaves out the release, when
/// the plan differs across the series; `None` otherwise.
pub fn warning(req: &Request, plan: impl Fn(&Request) -> Option<Plan>) -> Option<Warning> {
    let releases = releases(req.db);
    let oldest = releases.first()?;
    let found = boundaries(req, plan);
    if found.is_empty() {
        return None;
    }
    let label = req.db.engine.label();
    let list = found
        .iter()
        .map(|(v, what)| format!("from {v}, {what}"))
        .collect::<Vec<_>>()
        .join("; ");
    Some(Warning {
        code: CODE.to_string(),
        message: format!(
            "{label} {} names no {} release, so this plan is for the oldest, {oldest}, and the preflight checks the server is no older. Newer releases plan this change differently: {list}. Give the exact version ({}) for the plan of your server.",
            req.db.version,
            if req.db.engine == Engine::Postgresql { "minor" } else { "patch" },
            if req.db.engine == Engine::Postgresql {
                "SHOW server_version;"
            } else {
                "SELECT VERSION();"
            }
        ),
    })
}

/// For a request that cannot be planned on the oldest release: the first release of the
/// series on which it can, so the refusal names it.
pub fn first_release_that_plans(
    req: &Request,
    plan: impl Fn(&Request) -> Option<Plan>,
) -> Option<Version> {
    releases(req.db)
        .into_iter()
        .find(|v| plan(&at(req, *v)).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::params::Params;
    use crate::request::parse_database;

    fn plan(db: &str, change: &[(&str, &str)]) -> Result<Plan, Vec<crate::FieldError>> {
        crate::plan(&Params::zero_budget(db, "orders", change))
    }

    const ADD_COLUMN: &[(&str, &str)] = &[
        ("change", "add-column"),
        ("column", "note"),
        ("type", "text"),
    ];
    const ADD_INDEX: &[(&str, &str)] = &[("change", "add-index"), ("columns", "customer_id")];

    fn boundary(plan: &Plan) -> Option<&Warning> {
        plan.warnings.iter().find(|w| w.code == CODE)
    }

    #[test]
    fn releases_of_a_series_without_its_release() {
        let of = |db: &str| releases(parse_database(db).unwrap());
        assert_eq!(
            of("mysql@8.0").first().map(|v| v.to_string()).as_deref(),
            Some("8.0.11")
        );
        assert_eq!(of("postgresql@14").len(), 24);
        assert!(of("postgresql@14.3").is_empty());
        assert!(of("mysql@8.0.35").is_empty());
        assert!(of("mariadb@11").iter().any(|v| v.to_string() == "11.4.0"));
    }

    #[test]
    fn mysql_8_0_add_column_names_the_patch_where_it_becomes_instant() {
        let plan = plan("mysql@8.0", ADD_COLUMN).unwrap();
        let w = boundary(&plan).expect("a boundary warning");
        assert_eq!(plan.warnings[0].code, CODE, "first, at the top of the plan");
        assert!(
            w.message.contains("for the oldest, 8.0.11"),
            "{}",
            w.message
        );
        assert!(
            w.message
                .contains("from 8.0.12, a step takes ALGORITHM=INSTANT"),
            "{}",
            w.message
        );
        assert!(
            w.message
                .contains("from 8.0.29, the mysql-8029-instant-defect warning applies"),
            "{}",
            w.message
        );
        assert!(w.message.contains("from 8.0.32"), "{}", w.message);
        let exact = plan_exact("mysql@8.0.35", ADD_COLUMN);
        assert!(boundary(&exact).is_none());
    }

    fn plan_exact(db: &str, change: &[(&str, &str)]) -> Plan {
        plan(db, change).unwrap()
    }

    #[test]
    fn postgresql_14_add_index_names_14_4() {
        let plan = plan_exact("postgresql@14", ADD_INDEX);
        let w = boundary(&plan).expect("a boundary warning");
        assert!(w.message.contains("for the oldest, 14.0"), "{}", w.message);
        assert!(
            w.message
                .contains("from 14.4, the pg14-cic-corruption warning no longer applies"),
            "{}",
            w.message
        );
        assert!(boundary(&plan_exact("postgresql@14.4", ADD_INDEX)).is_none());
        assert!(boundary(&plan_exact("postgresql@16", ADD_INDEX)).is_none());
    }

    #[test]
    fn a_series_that_plans_alike_has_no_warning() {
        assert!(boundary(&plan_exact("mariadb@10.11", ADD_INDEX)).is_none());
        assert!(boundary(&plan_exact("mysql@8.4", ADD_INDEX)).is_none());
    }

    fn version_check(plan: &Plan) -> &crate::model::Check {
        &plan.phases[0].checks[0]
    }

    #[test]
    fn the_preflight_refuses_an_older_release_of_the_series() {
        let my = plan_exact("mysql@8.0.35", ADD_COLUMN);
        assert_eq!(
            version_check(&my).sql,
            "SELECT VERSION() LIKE '8.0.%' AND CAST(SUBSTRING_INDEX(SUBSTRING_INDEX(VERSION(), '-', 1), '.', -1) AS UNSIGNED) >= 35 AS same_version;"
        );
        let maria = plan_exact("mariadb@10.11.6", ADD_INDEX);
        assert!(
            version_check(&maria).sql.contains("LIKE '10.11.%' AND")
                && version_check(&maria).sql.contains(">= 6 AS")
        );
        let series = plan_exact("mysql@8.0", ADD_INDEX);
        assert_eq!(
            version_check(&series).sql,
            "SELECT VERSION() LIKE '8.0.%' AS same_version;"
        );
        let pg = plan_exact("postgresql@14.4", ADD_INDEX);
        assert!(
            version_check(&pg).sql.contains(">= 140004 AS not_older"),
            "{}",
            version_check(&pg).sql
        );
        assert_eq!(
            version_check(&pg).expected,
            crate::model::Expected::row(&["14", "t"])
        );
        assert!(version_check(&plan_exact("postgresql@16", ADD_INDEX))
            .sql
            .contains(">= 160000 AS"));
    }
}
