//! The corpus (`corpus.sql.txt`): real migration statements from public projects, each with
//! its expected recognition and verdict; and every recognised statement plans exactly as the
//! same change entered through the share link.

use lockstep_planner::request::share;
use lockstep_sqlfile::check::{check, Options, Verdict};
use lockstep_sqlfile::sizes::Sizes;

const CORPUS: &str = include_str!("corpus.sql.txt");

/// One cited file of the corpus.
struct Source {
    cite: String,
    db: String,
    sql: String,
    expect: Vec<(Option<String>, String)>,
}

fn sources() -> Vec<Source> {
    let mut sources: Vec<Source> = Vec::new();
    for line in CORPUS.lines() {
        if let Some(cite) = line.strip_prefix("-- file: ") {
            sources.push(Source {
                cite: cite.to_string(),
                db: String::new(),
                sql: String::new(),
                expect: Vec::new(),
            });
            continue;
        }
        let Some(source) = sources.last_mut() else {
            continue;
        };
        if let Some(db) = line.strip_prefix("-- db: ") {
            source.db = db.to_string();
        } else if let Some(expect) = line.strip_prefix("-- expect: ") {
            for item in expect.split(", ") {
                let (change, verdict) = item.split_once(' ').expect("change verdict");
                let change = (change != "-").then(|| change.to_string());
                source.expect.push((change, verdict.to_string()));
            }
        }
        // Every line, expectations included, stays in the file as written: they are comments.
        source.sql.push_str(line);
        source.sql.push('\n');
    }
    sources
}

fn options(db: &str) -> Options {
    let mut sizes = Sizes::default();
    sizes.set_every_table(Some("50M"), Some("10GB"));
    Options {
        db: db.to_string(),
        max_downtime: "0".to_string(),
        sizes,
    }
}

fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Safe => "safe",
        Verdict::Unsafe => "unsafe",
        Verdict::Unknown => "unknown",
    }
}

#[test]
fn the_corpus_has_sixty_statements_from_cited_sources_in_both_dialects() {
    let sources = sources();
    let statements: usize = sources.iter().map(|s| s.expect.len()).sum();
    assert!(statements >= 60, "{statements} statements");
    assert!(sources
        .iter()
        .all(|s| s.cite.split_whitespace().count() >= 2));
    assert!(sources.iter().any(|s| s.db.starts_with("mysql")));
    assert!(sources.iter().any(|s| s.db.starts_with("postgresql")));
}

#[test]
fn every_corpus_statement_is_recognised_and_judged_as_expected() {
    let mut failures = Vec::new();
    for source in sources() {
        let report = check(&source.sql, &options(&source.db)).expect(&source.cite);
        let actual: Vec<(Option<String>, String)> = report
            .statements
            .iter()
            .map(|s| (s.change.map(str::to_string), word(s.verdict).to_string()))
            .collect();
        if actual != source.expect {
            let detail: Vec<String> = report
                .statements
                .iter()
                .map(|s| {
                    format!(
                        "  line {} {:?} {}: {}",
                        s.line,
                        s.change,
                        word(s.verdict),
                        s.reason
                    )
                })
                .collect();
            failures.push(format!(
                "{}\n expected {:?}\n actual   {:?}\n{}",
                source.cite,
                source.expect,
                actual,
                detail.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The params a statement became, written as a share link and read back, plan the same plan:
/// the change read from SQL is exactly the change entered by hand.
#[test]
fn every_recognised_statement_plans_as_the_same_change_entered_through_a_link() {
    let mut planned = 0;
    for source in sources() {
        let report = check(&source.sql, &options(&source.db)).expect(&source.cite);
        for change in &report.plans {
            let link = format!(
                "https://example.invalid/?{}",
                share::to_query(&change.params)
            );
            let params = share::from_link(&link).expect("the link reads back");
            let plan = lockstep_planner::plan(&params).expect("the link plans");
            assert_eq!(plan, change.plan, "{}: {link}", source.cite);
            planned += 1;
        }
    }
    assert!(planned >= 25, "{planned} plans");
}
