//! The check's report as markdown, JSON (core documented in README) and GitHub workflow
//! annotations. The plans are each change's own plan, in file order: they are not merged.

use crate::check::{Report, StatementReport, Verdict};
use lockstep_planner::model::human_seconds_up;
use lockstep_planner::render::{json, markdown};
use serde_json::{json, Value};

/// The JSON document: `statements` and `plan` (`merged: false`, then each change's plan).
pub fn to_json(report: &Report) -> String {
    let plans: Vec<Value> = report
        .plans
        .iter()
        .map(|p| {
            let plan: Value =
                serde_json::from_str(&json::render(&p.plan, &p.params)).unwrap_or(Value::Null);
            json!({ "line": p.line, "change": p.plan.change, "plan": plan })
        })
        .collect();
    let doc = json!({
        "statements": report.statements,
        "plan": { "merged": false, "changes": plans },
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// A table of verdicts, then each change's runbook.
pub fn to_markdown(report: &Report) -> String {
    let mut out = String::from("# Migration check\n\n| line | statement | change | verdict | blocks | at most | why |\n|---|---|---|---|---|---|---|\n");
    for s in &report.statements {
        out.push_str(&format!(
            "| {} | `{}` | {} | **{}** | {} | {} | {} |\n",
            s.line,
            cell(&short(&s.sql)).replace('`', "'"),
            s.change.unwrap_or("—"),
            verdict_word(s.verdict),
            s.blocks
                .map_or("—".to_string(), |b| b.describe().to_string()),
            s.blocking_seconds.map_or("—".to_string(), human_seconds_up),
            cell(&s.reason),
        ));
    }
    out.push_str("\nEach change below is planned on its own, in file order; the plans are not merged into one runbook.\n");
    for p in &report.plans {
        out.push_str(&format!(
            "\n---\n\n## Line {}: {}\n\n",
            p.line, p.plan.change
        ));
        out.push_str(&markdown::render(&p.plan, &p.params));
    }
    out
}

/// `::error` for each unsafe statement, `::warning` for each unknown one, on its line.
pub fn to_github(report: &Report, file: &str) -> String {
    let mut out = String::new();
    for s in &report.statements {
        let level = match s.verdict {
            Verdict::Unsafe => "error",
            Verdict::Unknown => "warning",
            Verdict::Safe => "notice",
        };
        out.push_str(&format!(
            "::{level} file={},line={},title={}::{}\n",
            property(file),
            s.line,
            property(&title(s)),
            data(&message(s))
        ));
    }
    out
}

fn title(s: &StatementReport) -> String {
    format!(
        "Lockstep: {} {}",
        verdict_word(s.verdict),
        s.change.unwrap_or("statement")
    )
}

fn message(s: &StatementReport) -> String {
    match (s.blocks, s.blocking_seconds) {
        (Some(b), Some(t)) => format!(
            "{} Blocks {} for up to {}.",
            s.reason,
            b.describe(),
            human_seconds_up(t)
        ),
        _ => s.reason.clone(),
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Safe => "safe",
        Verdict::Unsafe => "unsafe",
        Verdict::Unknown => "unknown",
    }
}

fn short(sql: &str) -> String {
    let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// An annotation's message: GitHub reads `%`, CR and LF escaped.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// An annotation's property value: also `:` and `,` escaped.
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_text_is_escaped() {
        assert_eq!(data("50%\nnext"), "50%25%0Anext");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
