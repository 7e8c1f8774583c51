//! The plan: a status line, the problems with the inputs, and the plan itself.
//!
//! The plan is a read-only document rebuilt whenever it changes, so it is written as escaped
//! HTML strings and set with `innerHTML`: far less wasm than a view framework (the page has a
//! 250 KB budget that the engine mostly needs), and only the blocks that changed are replaced.
//! Every text from the plan goes through [`esc`]; copy buttons are handled by delegation.

use crate::browser::{self, by_id};
use crate::{form::label, highlight::esc, highlight::sql_html};
use lockstep_planner::model::{human_seconds_up, Blocks, Phase, Step};
use lockstep_planner::render::step_text;
use lockstep_planner::request::params::label_refs;
use lockstep_planner::{FieldError, Plan};
use std::fmt::Write;

/// A message or a plan's prose as the page shows it, escaped: a field it names by its CLI
/// flag (`--batch-size`) reads as the field's label (“Batch size”).
pub fn prose(text: &str) -> String {
    esc(&label_refs(text, |name| format!("“{}”", label(name))))
}

/// One line saying what is on screen (an `aria-live` region: announced as it changes).
pub fn status_text(result: &Result<Plan, Vec<FieldError>>) -> String {
    match result {
        Ok(plan) => format!(
            "Plan: {}, {}; {}.",
            count(plan.phases.len(), "phase"),
            count(plan.steps().count(), "step"),
            longest_blocking(plan.longest_blocking_seconds)
        ),
        Err(errors) if errors.len() == 1 => {
            "1 input needs attention; the last valid plan stays below, dimmed.".to_string()
        }
        Err(errors) => format!(
            "{} inputs need attention; the last valid plan stays below, dimmed.",
            errors.len()
        ),
    }
}

/// `1 step`, `2 steps`.
fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn longest_blocking(seconds: f64) -> String {
    if seconds <= 0.0 {
        "no step blocks reads or writes beyond waiting for its lock".into()
    } else {
        format!(
            "the longest step blocks traffic for up to {}",
            human_seconds_up(seconds)
        )
    }
}

/// The list of input problems, each linking to its field; "" when there are none.
pub fn problems_html(errors: &[FieldError]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let mut h = String::from("<div class=problems role=alert><h2>Check these inputs</h2><ul>");
    for e in errors {
        let _ = write!(
            h,
            "<li><a href=\"#f-{}\">{}</a>: {}</li>",
            esc(&e.field),
            esc(&label(&e.field)),
            prose(&e.message)
        );
    }
    h.push_str("</ul></div>");
    h
}

/// Sets the plan's HTML; the sections the user had opened (rollback, checks...) stay open.
fn replace_keeping_open(el: &web_sys::Element, html: &str) {
    let mut open = Vec::new();
    let details = el.get_elements_by_tag_name("details");
    for i in 0..details.length() {
        if let Some(d) = details.item(i).filter(|d| d.has_attribute("open")) {
            open.extend(d.get_attribute("data-k"));
        }
    }
    el.set_inner_html(html);
    for key in open {
        if let Ok(Some(d)) = el.query_selector(&format!("details[data-k={key}]")) {
            let _ = d.set_attribute("open", "");
        }
    }
}

/// A click on a copy button copies the SQL block it belongs to, as plain text.
pub fn copy_clicked(button: web_sys::Element) {
    let code = button
        .parent_element()
        .and_then(|p| p.query_selector("code").ok().flatten());
    let Some(code) = code else { return };
    let what = button.get_attribute("aria-label").unwrap_or_default();
    browser::copy_text(&code.text_content().unwrap_or_default(), move |ok| {
        button.set_text_content(Some(if ok { "Copied" } else { "Copy failed" }));
        announce(&if ok {
            format!("Copied the {}.", what.trim_start_matches("Copy "))
        } else {
            "Could not copy: select the text and copy it by hand.".to_string()
        });
        browser::after(1500, move || button.set_text_content(Some("Copy")));
    });
}

/// Says `text` through the page's polite live region.
pub fn announce(text: &str) {
    if let Some(live) = by_id("announce") {
        live.set_text_content(Some(text));
    }
}

/// `postgresql` → `PostgreSQL`; unknown engines as they come.
fn engine_label(engine: &str) -> &str {
    match engine {
        "postgresql" => "PostgreSQL",
        "mysql" => "MySQL",
        "mariadb" => "MariaDB",
        other => other,
    }
}

/// The plan as HTML, and where its leaf blocks are: elements marked `data-b=N` that never
/// nest. A re-plan that keeps the rest (the skeleton) replaces only the leaves that changed,
/// so typing a row count re-parses a few durations, not every SQL block.
#[derive(Default)]
pub struct Doc {
    pub html: String,
    leaves: Vec<std::ops::Range<usize>>,
    open: usize,
}

impl Doc {
    /// Starts a leaf: `<{tag_and_class} data-b=N>`.
    fn leaf(&mut self, tag_and_class: &str) {
        self.open = self.html.len();
        let _ = write!(self.html, "<{tag_and_class} data-b={}>", self.leaves.len());
    }

    /// Ends the current leaf with `</{tag}>`.
    fn end(&mut self, tag: &str) {
        let _ = write!(self.html, "</{tag}>");
        self.leaves.push(self.open..self.html.len());
    }

    fn leaf_html(&self, i: usize) -> &str {
        &self.html[self.leaves[i].clone()]
    }

    /// The text between the leaves: the elements that hold them.
    fn skeleton(&self) -> Vec<&str> {
        let mut at = 0;
        let mut out = Vec::with_capacity(self.leaves.len() + 1);
        for r in &self.leaves {
            out.push(&self.html[at..r.start]);
            at = r.end;
        }
        out.push(&self.html[at..]);
        out
    }

    /// True when both have the same elements outside their leaves.
    fn same_skeleton(&self, other: &Doc) -> bool {
        self.skeleton() == other.skeleton()
    }
}

/// Shows `doc` in `el`: only its changed leaves when `last` has the same skeleton, else all.
pub fn show(el: &web_sys::Element, doc: &Doc, last: Option<&Doc>) {
    match last {
        Some(last) if last.same_skeleton(doc) => {
            for i in 0..doc.leaves.len() {
                if doc.leaf_html(i) == last.leaf_html(i) {
                    continue;
                }
                let selector = format!("[data-b=\"{i}\"]");
                if let Ok(Some(old)) = el.query_selector(&selector) {
                    let open = old.has_attribute("open");
                    old.set_outer_html(doc.leaf_html(i));
                    if open {
                        if let Ok(Some(new)) = el.query_selector(&selector) {
                            let _ = new.set_attribute("open", "");
                        }
                    }
                }
            }
        }
        _ => replace_keeping_open(el, &doc.html),
    }
}

/// The whole plan: header, reasoning, the phased runbook, assumptions.
pub fn plan_doc(plan: &Plan) -> Doc {
    let mut d = Doc::default();
    d.html.reserve(32 * 1024);
    let longest = plan.steps().map(|s| s.estimate.high).fold(0.0, f64::max);
    d.html.push_str("<article class=plan>");
    d.leaf("div class=head");
    let _ = write!(
        d.html,
        "<h2 class=summary>{}</h2><p class=meta>{} {} · table {} · {}</p>",
        esc(&plan.summary),
        esc(engine_label(&plan.engine)),
        esc(&plan.version),
        esc(&plan.table),
        esc(&longest_blocking(plan.longest_blocking_seconds)),
    );
    let _ = write!(
        d.html,
        "<p class=rerun>{}</p>",
        if plan.rerun_safe {
            "forward.sql is safe to re-run once finished: it first asks whether the plan is already applied and then ends without changing anything (verified live)."
        } else {
            "Re-running forward.sql is not proven a no-op for this plan: after a failure, run only the phases that did not complete."
        }
    );
    let _ = write!(
        d.html,
        "<p class=resume>{}</p>",
        if plan.resumes {
            "After a stop between phases, fix the cause and run forward.sql again: it resumes and completes the plan (verified)."
        } else if plan.rerun_safe {
            "After a stop between phases, forward.sql's preflight stops a re-run before any change: run the remaining phases by hand (verified)."
        } else {
            "After a stop between phases, run the remaining phases by hand."
        }
    );
    d.end("div");
    reasoning(&mut d, plan);
    d.html
        .push_str("<h3 class=timeline-title>Runbook</h3><ol class=phases>");
    for (i, phase) in plan.phases.iter().enumerate() {
        phase_html(&mut d, i + 1, phase, longest);
    }
    d.html.push_str("</ol>");
    d.leaf("details class=assumptions data-k=as");
    d.html
        .push_str("<summary>Assumptions behind the durations</summary><ul>");
    for a in &plan.assumptions {
        let _ = write!(d.html, "<li>{}: {}", esc(&a.name), esc(&a.value));
        if !a.overridden_by.is_empty() {
            let _ = write!(d.html, " (option: {})", esc(&label(&a.overridden_by)));
        }
        d.html.push_str("</li>");
    }
    d.html.push_str("</ul>");
    d.end("details");
    d.html.push_str("</article>");
    d
}

/// Why this strategy, what the other path (often the naive statement) would do, the warnings.
fn reasoning(d: &mut Doc, plan: &Plan) {
    d.leaf("section class=reasoning aria-label=\"Why this plan\"");
    let h = &mut d.html;
    let _ = write!(
        h,
        "<p class=rule><strong>Strategy: {}.</strong> {}</p>",
        esc(&plan.strategy.chosen),
        prose(&plan.strategy.rule)
    );
    if let Some(alt) = &plan.alternative {
        let _ = write!(
            h,
            "<div class=alternative><p><strong>{}:</strong> {}</p><ul>",
            esc(&alt.label),
            prose(&alt.why)
        );
        for (i, s) in alt.phases.iter().flat_map(|p| p.steps.iter()).enumerate() {
            h.push_str("<li>");
            badge(h, s);
            let _ = write!(
                h,
                " {} — lock {}, takes {}<details data-k=a{i}><summary>SQL</summary><div class=sql>",
                esc(&s.title),
                esc(&lock_name(s)),
                esc(&s.estimate.describe())
            );
            step_block(h, s, &format!("SQL of “{}”", s.title));
            h.push_str("</div></details></li>");
        }
        h.push_str("</ul></div>");
    }
    if !plan.warnings.is_empty() {
        h.push_str("<ul class=warnings aria-label=Warnings>");
        for w in &plan.warnings {
            // The code is for machines (JSON, tests), not a title: the message says it all.
            let _ = write!(
                h,
                "<li data-code=\"{}\">{}</li>",
                esc(&w.code),
                prose(&w.message)
            );
        }
        h.push_str("</ul>");
    }
    d.end("section");
}

fn phase_html(d: &mut Doc, n: usize, phase: &Phase, longest: f64) {
    d.html.push_str("<li class=phase>");
    d.leaf("div class=phase-head");
    if let Some(app) = &phase.app_change {
        let _ = write!(
            d.html,
            "<p class=gate><strong>Deploy gate before phase {n}:</strong> {}</p>",
            esc(app)
        );
    }
    let _ = write!(
        d.html,
        "<h3>Phase {n}: {}</h3><p class=purpose>{}</p>",
        esc(&phase.name),
        esc(&phase.purpose)
    );
    d.end("div");
    d.html.push_str("<ol class=steps>");
    for (j, step) in phase.steps.iter().enumerate() {
        step_html(d, &format!("{n}.{}", j + 1), step, longest);
    }
    d.html.push_str("</ol>");
    if !phase.checks.is_empty() {
        d.leaf(&format!("details class=checks data-k=c{n}"));
        let _ = write!(
            d.html,
            "<summary>Validation: {}</summary>",
            count(phase.checks.len(), "check")
        );
        for c in &phase.checks {
            let _ = write!(
                d.html,
                "<p>{} — expect <em>{}</em></p><div class=sql>",
                prose(&c.description),
                prose(&c.expect)
            );
            let effect = match c.skip_var.as_deref().filter(|_| c.stops()) {
                Some(var) => format!(
                    "Stops forward.sql when the result differs (to go on knowingly, set {var})."
                ),
                None => "Informs only: forward.sql shows the result and goes on.".to_string(),
            };
            let scan = if c.scans_table {
                " Reads the whole table: on a big table run it on a replica first."
            } else {
                ""
            };
            let _ = write!(d.html, "<p class=effect>{}{scan}</p>", esc(&effect));
            sql_block(&mut d.html, &c.sql, &format!("check query of phase {n}"));
            d.html.push_str("</div>");
            if let Some(guard) = &c.only_if {
                d.html.push_str("<p>Only while this returns 1 (a re-run skips it once the plan has gone past this phase):</p><div class=sql>");
                sql_block(&mut d.html, guard, &format!("check guard of phase {n}"));
                d.html.push_str("</div>");
            }
        }
        d.end("details");
    }
    d.leaf(&format!("details class=rollback data-k=r{n}"));
    let _ = write!(d.html, "<summary>Rollback of phase {n}</summary>");
    match &phase.irreversible {
        Some(why) => {
            let _ = write!(d.html, "<p>Cannot be rolled back: {}</p>", esc(why));
        }
        None if phase.rollback.is_empty() => d.html.push_str("<p>Nothing to undo.</p>"),
        None => {
            for r in &phase.rollback {
                d.html.push_str("<div class=sql>");
                let what = format!("rollback of phase {n}");
                match &r.shell {
                    Some(command) => shell_block(&mut d.html, command, &what),
                    None => sql_block(&mut d.html, &r.sql, &what),
                }
                d.html.push_str("</div>");
                if let Some(note) = &r.note {
                    let _ = write!(d.html, "<p class=note>{}</p>", esc(note));
                }
            }
        }
    }
    d.end("details");
    d.html.push_str("</li>");
}

fn lock_name(step: &Step) -> String {
    step.lock
        .map_or("no table lock".to_string(), |l| l.name().to_string())
}

/// What a step blocks, in colour and in words.
fn badge(h: &mut String, step: &Step) {
    let stall = lockstep_planner::render::server_stall(step);
    let (class, text) = match step.blocks {
        Blocks::Nothing if !stall.is_empty() => ("warn", "Blocks nothing, but"),
        Blocks::Nothing => ("ok", "Blocks nothing"),
        Blocks::Writes => ("warn", "Blocks writes"),
        Blocks::ReadsAndWrites => ("stop", "Blocks reads and writes"),
    };
    let _ = write!(h, "<span class=\"badge {class}\">{text}");
    let blocked_for = lockstep_planner::render::blocked_for(step);
    if !blocked_for.is_empty() {
        let _ = write!(h, " {}", esc(&blocked_for));
    }
    if !stall.is_empty() {
        let _ = write!(h, " {}", esc(&stall));
    }
    h.push_str("</span>");
}

fn step_html(d: &mut Doc, label: &str, step: &Step, longest: f64) {
    // The duration bar, in twentieths of the longest step (style classes: CSP forbids inline style).
    let width = if longest > 0.0 {
        (step.estimate.high / longest * 20.0).round() as u32
    } else {
        0
    };
    let data = match (step.rewrites_table, step.scans_table) {
        (true, _) => "Rewrites the table",
        (false, true) => "Scans the table",
        _ => "Does not touch table data",
    };
    let txn = if step.in_transaction {
        "one transaction"
    } else {
        "outside any transaction"
    };
    d.html.push_str("<li class=step>");
    d.leaf("div class=step-head");
    let _ = write!(
        d.html,
        "<h4>Step {label}: {}</h4><p class=facts>",
        esc(&step.title)
    );
    badge(&mut d.html, step);
    let _ = write!(
        d.html,
        "<span class=lock>Lock: <code>{}</code></span><span class=duration>Takes {}</span>{}</p>\
         <div class=\"bar w{width}\" aria-hidden=true><span></span></div>",
        esc(&lock_name(step)),
        esc(&step.estimate.describe()),
        if step.unverified.is_some() {
            "<span class=tag>from the documentation, not verified live</span>"
        } else {
            ""
        }
    );
    d.end("div");
    d.leaf("div class=sql");
    step_block(&mut d.html, step, &format!("SQL of step {label}"));
    d.end("div");
    d.leaf("ul class=notes");
    let _ = write!(d.html, "<li>{data}; {txn}.</li>");
    if let Some(why) = &step.unverified {
        let _ = write!(
            d.html,
            "<li class=unverified>Verification: {}</li>",
            esc(why)
        );
    }
    for note in &step.notes {
        let _ = write!(d.html, "<li>{}</li>", prose(note));
    }
    let _ = write!(d.html, "<li>If it fails: {}</li>", prose(&step.retry));
    if let Some(rerun) = step.rerun.sentence() {
        let _ = write!(d.html, "<li>Re-run: {}</li>", esc(rerun));
    }
    d.end("ul");
    d.html.push_str("</li>");
}

/// A step's text: its shell command (an online-schema-change tool) when it has one
/// ([`Step::shell`]), else its SQL as the client runs it.
fn step_block(h: &mut String, step: &Step, what: &str) {
    match &step.shell {
        Some(command) => shell_block(h, command, what),
        None => sql_block(h, &step_text(step), what),
    }
}

/// A shell command as plain text under a `# shell` mark, and its copy button.
fn shell_block(h: &mut String, command: &str, what: &str) {
    let code = format!("<span class=c># shell</span>\n{}", esc(command));
    code_block(h, &code, what);
}

/// Highlighted SQL and its copy button (handled by [`copy_clicked`]), inside a `div.sql`.
fn sql_block(h: &mut String, sql: &str, what: &str) {
    code_block(h, &sql_html(sql), what);
}

fn code_block(h: &mut String, code: &str, what: &str) {
    let _ = write!(
        h,
        "<pre><code>{code}</code></pre><button type=button class=copy aria-label=\"Copy {}\">Copy</button>",
        esc(what)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_planner::Params;

    #[test]
    fn hostile_names_stay_text() {
        let params = Params::new()
            .with("db", "postgresql@16")
            .with("change", "add-index")
            .with("table", "<img src=x onerror=alert(1)>\"&")
            .with("columns", "a")
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", "0");
        let plan = lockstep_planner::plan(&params).expect("plans");
        let doc = plan_doc(&plan);
        let html = &doc.html;
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("class=phases"));
        assert!(doc.same_skeleton(&plan_doc(&plan)));
        for i in 0..doc.leaves.len() {
            let leaf = doc.leaf_html(i);
            assert!(leaf.starts_with('<') && leaf.contains(&format!(" data-b={i}>")));
        }
    }

    #[test]
    fn fields_named_in_messages_read_as_labels() {
        let errors = [FieldError::new(
            "max-downtime",
            "raise it, or lower --batch-size; keep --defer-cutover",
        )];
        let html = problems_html(&errors);
        assert!(
            html.contains("raise it, or lower “Batch size”; keep --defer-cutover"),
            "{html}"
        );
    }

    #[test]
    fn a_drop_that_stalls_the_server_is_no_green_badge() {
        let params = Params::new()
            .with("db", "mariadb@10.11")
            .with("change", "change-type")
            .with("table", "orders")
            .with("column", "amount")
            .with("from-type", "int")
            .with("to-type", "bigint")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        let html = plan_doc(&lockstep_planner::plan(&params).expect("plans")).html;
        assert!(
            html.contains("<span class=\"badge warn\">Blocks nothing, but stalls every query on the server for up to 13 s (no lock)</span>"),
            "{html}"
        );
    }

    #[test]
    fn warning_codes_are_attributes_not_titles() {
        let params = Params::new()
            .with("db", "postgresql@14.2")
            .with("change", "add-index")
            .with("table", "orders")
            .with("columns", "a")
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", "0");
        let html = plan_doc(&lockstep_planner::plan(&params).expect("plans")).html;
        assert!(html.contains("<li data-code=\"pg14-cic-corruption\">PostgreSQL 14.2:"));
        assert!(!html.contains(">pg14-cic-corruption<"));
    }

    #[test]
    fn each_check_says_whether_it_stops_the_script() {
        let params = Params::new()
            .with("db", "postgresql@12")
            .with("change", "add-not-null")
            .with("table", "orders")
            .with("column", "customer_id")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
            .with("replicas", "true");
        let html = plan_doc(&lockstep_planner::plan(&params).expect("plans")).html;
        assert!(html.contains("<p class=rerun>forward.sql is safe to re-run once finished"));
        assert!(html.contains("<p class=effect>Stops forward.sql when the result differs (to go on knowingly, set lockstep_skip_1_7). Reads the whole table"));
        assert!(html.contains(
            "<p class=effect>Informs only: forward.sql shows the result and goes on.</p>"
        ));
    }

    #[test]
    fn tool_commands_show_as_shell_text_never_empty_blocks() {
        let params = Params::new()
            .with("db", "mysql@8.0")
            .with("change", "change-type")
            .with("table", "orders")
            .with("column", "amount")
            .with("from-type", "int")
            .with("to-type", "bigint")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        let plan = lockstep_planner::plan(&params).expect("plans");
        let html = plan_doc(&plan).html;
        // Every command, step or rollback, from its `shell` field; the SQL shows none.
        let shells = plan.steps().filter(|s| s.shell.is_some()).count()
            + plan
                .phases
                .iter()
                .flat_map(|p| &p.rollback)
                .filter(|r| r.shell.is_some())
                .count();
        assert!(shells >= 2);
        assert_eq!(html.matches("<span class=c># shell</span>").count(), shells);
        assert!(html.contains("<li class=unverified>Verification: documented"));
        assert!(!html.contains("<code></code>"));
    }

    #[test]
    fn a_new_row_count_changes_leaves_not_the_skeleton() {
        let params = Params::new()
            .with("db", "postgresql@16")
            .with("change", "change-type")
            .with("table", "orders")
            .with("column", "id")
            .with("from-type", "integer")
            .with("to-type", "bigint")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        let a = plan_doc(&lockstep_planner::plan(&params).expect("plans"));
        let b = plan_doc(&lockstep_planner::plan(&params.with("rows", "640M")).expect("plans"));
        assert!(a.same_skeleton(&b));
        let changed = (0..a.leaves.len())
            .filter(|&i| a.leaf_html(i) != b.leaf_html(i))
            .count();
        assert!(changed > 0 && changed < a.leaves.len());
    }
}
