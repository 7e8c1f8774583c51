//! The claims tables in `docs/`, generated from the planner's version facts: every MySQL and
//! MariaDB fact with its releases, its source and whether the live MariaDB 10.11 verifier
//! shows it (`docs/mysql-claims.md`), and every PostgreSQL fact (`docs/postgresql-facts.md`).
//! A test fails when a checked-in table differs from what the facts say; regenerate with
//! `LOCKSTEP_UPDATE_DOCS=1 cargo test -p lockstep-verify fact_docs`.

use lockstep_planner::model::{Engine, Version};
use lockstep_planner::mysql::facts::{self as my, Server};
use lockstep_planner::postgres::facts as pg;
use std::path::PathBuf;

/// The one MySQL-family server the live verifier runs.
const MARIADB_HERE: Server = Server {
    engine: Engine::Mariadb,
    version: Version {
        major: 10,
        minor: Some(11),
        patch: None,
    },
};

/// A table cell: one line, no column separator.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn releases(r: Option<my::Releases>) -> String {
    r.map_or("no release".to_string(), |r| r.to_string())
}

fn mysql_source(fact: &my::Fact) -> String {
    let parts: Vec<String> = [
        ("MySQL", fact.source_mysql),
        ("MariaDB", fact.source_mariadb),
    ]
    .iter()
    .filter(|(_, s)| !s.is_empty())
    .map(|(engine, s)| format!("{engine}: {s}"))
    .collect();
    parts.join("; ")
}

fn mariadb_proof(fact: &my::Fact) -> String {
    match fact.proof {
        my::Proof::Case(case) => format!("verified live: `{case}`"),
        my::Proof::Observed(on) => format!("seen by hand on {on}; no standing case"),
        my::Proof::Documented if fact.mariadb.is_none() => {
            "documented only (MySQL only: no MySQL server runs here)".to_string()
        }
        my::Proof::Documented if !fact.holds(MARIADB_HERE) => {
            "documented only (not true on 10.11)".to_string()
        }
        my::Proof::Documented => "documented only".to_string(),
    }
}

/// `docs/mysql-claims.md`.
pub fn mysql_claims() -> String {
    let mut out = String::from(
        "# MySQL and MariaDB claims\n\n\
         Generated from `crates/planner/src/mysql/facts.rs` (`FACTS`) by \
         `LOCKSTEP_UPDATE_DOCS=1 cargo test -p lockstep-verify fact_docs`; do not edit by hand.\n\n\
         Each fact the MySQL-family planner relies on, the releases it holds on per engine \
         (\"no release\": none; an unknown patch counts as the series' first release, except for \
         a defect, which is assumed present), its source, and whether the live verifier shows it \
         on MariaDB 10.11, the only MySQL-family server that runs here. MySQL claims come from \
         the manual and are marked \"documented, not verified here\" in plans.\n\n\
         | Fact | What it says | MySQL | MariaDB | Source | On MariaDB 10.11 |\n\
         |---|---|---|---|---|---|\n",
    );
    for fact in my::FACTS {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            fact.name,
            cell(&fact.description()),
            releases(fact.mysql),
            releases(fact.mariadb),
            cell(&mysql_source(fact)),
            cell(&mariadb_proof(fact)),
        ));
    }
    out
}

fn pg_proof(proof: pg::Proof) -> String {
    match proof {
        pg::Proof::Case(case) => format!("verified live on 10 to 18: `{case}`"),
        pg::Proof::Observed(on) => format!("seen by hand on {on}; no standing case"),
        pg::Proof::Documented => "documented only".to_string(),
    }
}

/// `docs/postgresql-facts.md`.
pub fn postgresql_facts() -> String {
    let mut out = String::from(
        "# PostgreSQL version facts\n\n\
         Generated from `crates/planner/src/postgres/facts.rs` (`FACTS`) by \
         `LOCKSTEP_UPDATE_DOCS=1 cargo test -p lockstep-verify fact_docs`; do not edit by hand.\n\n\
         | Fact | What it says | From | Fixed in | Source | Proof |\n\
         |---|---|---|---|---|---|\n",
    );
    for fact in pg::FACTS {
        let (major, minor) = fact.from;
        let fixed = fact
            .fixed_in
            .map_or("—".to_string(), |(m, n)| format!("{m}.{n}"));
        out.push_str(&format!(
            "| `{}` | {} | {major}.{minor} | {fixed} | {} | {} |\n",
            fact.name,
            cell(&fact.description()),
            cell(fact.source),
            cell(&pg_proof(fact.proof)),
        ));
    }
    out
}

fn docs_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in table is what the facts say, or (with LOCKSTEP_UPDATE_DOCS=1) becomes it.
    fn check_current(name: &str, generated: String) {
        let path = docs_path(name);
        if std::env::var_os("LOCKSTEP_UPDATE_DOCS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &generated).unwrap();
        }
        let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            checked_in == generated,
            "docs/{name} is out of date: run LOCKSTEP_UPDATE_DOCS=1 cargo test -p lockstep-verify fact_docs"
        );
    }

    #[test]
    fn fact_docs_mysql_claims_are_current() {
        check_current("mysql-claims.md", mysql_claims());
    }

    #[test]
    fn fact_docs_postgresql_facts_are_current() {
        check_current("postgresql-facts.md", postgresql_facts());
    }

    #[test]
    fn fact_docs_list_every_fact() {
        let claims = mysql_claims();
        assert!(my::FACTS
            .iter()
            .all(|f| claims.contains(&format!("| `{}` |", f.name))));
        assert!(claims.contains("| `NOCOPY` | "));
        assert!(claims.contains("verified live: `add-index/online`"));
        assert!(claims.contains("documented only (MySQL only: no MySQL server runs here)"));
        let pg_facts = postgresql_facts();
        assert!(pg::FACTS
            .iter()
            .all(|f| pg_facts.contains(&format!("| `{}` |", f.name))));
    }
}
