//! The request form. Inputs are the source of truth for what was typed: every input event
//! writes its raw text into `Params`, so nothing is lost to parsing, and the planner's field
//! errors are written next to the field they name. Which fields exist comes from
//! `lockstep_planner::request::params`, so new change types and options appear without UI changes.

use crate::browser::by_id;
use crate::highlight::esc;
use lockstep_planner::request::params::{
    accepts, change_fields, label_refs, COMMON_FIELDS, OPTION_FIELDS, SWITCH_FIELDS,
};
use lockstep_planner::request::CHANGE_KINDS;
use lockstep_planner::{FieldError, Params};
use std::fmt::Write;

/// Suggestions for the database field; any version the planner accepts can be typed.
const DATABASES: &[&str] = &[
    "postgresql@18",
    "postgresql@17",
    "postgresql@16",
    "postgresql@15",
    "postgresql@14",
    "postgresql@13",
    "postgresql@12",
    "postgresql@11",
    "postgresql@10",
    "mysql@8.4",
    "mysql@8.0",
    "mysql@5.7",
    "mariadb@11.4",
    "mariadb@10.11",
    "mariadb@10.6",
];

/// A human label for a parameter name.
pub fn label(name: &str) -> String {
    match name {
        "db" => "Database and version".into(),
        "change" => "Change type".into(),
        "max-downtime" => "Longest acceptable blocking".into(),
        "where" => "Partial index WHERE".into(),
        "size" => "Table size on disk".into(),
        "rows" => "Row count".into(),
        "pg-repack" => "pg_repack is installed".into(),
        "replicas" => "Streaming replicas follow this server".into(),
        "not-null" => "NOT NULL".into(),
        "unique" => "Unique index".into(),
        "osc-tools" => "Online schema change tools".into(),
        "write-rate" => "Peak write rate".into(),
        other => {
            let text = other.replace('-', " ");
            let mut chars = text.chars();
            chars
                .next()
                .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
        }
    }
}

/// The whole form for `params`. The advanced section starts open when a link brought options.
pub fn form_html(params: &Params) -> String {
    let mut h = String::with_capacity(16 * 1024);
    h.push_str("<form class=request id=request novalidate autocomplete=off aria-label=\"Migration request\"><fieldset><legend>Database</legend>");
    field(&mut h, "db", params);
    h.push_str("<datalist id=db-list>");
    for db in DATABASES {
        let _ = write!(h, "<option value=\"{db}\"></option>");
    }
    h.push_str("</datalist></fieldset><fieldset><legend>Change</legend>");
    change_select(&mut h, params.raw("change"));
    field(&mut h, "table", params);
    field(&mut h, "schema", params);
    let _ = write!(
        h,
        "<div id=change-fields>{}</div></fieldset><fieldset><legend>Table size</legend>",
        change_fields_html(params)
    );
    field(&mut h, "rows", params);
    field(&mut h, "size", params);
    h.push_str("</fieldset><fieldset><legend>Downtime budget</legend>");
    field(&mut h, "max-downtime", params);
    let open = OPTION_FIELDS.iter().any(|n| params.get(n).is_some());
    let _ = write!(
        h,
        "</fieldset><details class=advanced id=advanced{}><summary>Advanced: facts about the table and server, \
         and the assumptions of the estimates</summary><fieldset>\
         <legend class=visually-hidden>Advanced facts</legend>",
        if open { " open" } else { "" }
    );
    for name in OPTION_FIELDS {
        field(&mut h, name, params);
    }
    h.push_str("</fieldset></details></form>");
    h
}

/// The fields of the chosen change type, with the values typed so far.
pub fn change_fields_html(params: &Params) -> String {
    let mut h = String::new();
    for name in change_fields(params.raw("change")) {
        field(&mut h, name, params);
    }
    h
}

/// The fields the form shows for `params`, in order.
pub fn shown_fields(params: &Params) -> impl Iterator<Item = &'static str> + '_ {
    COMMON_FIELDS
        .iter()
        .chain(change_fields(params.raw("change")))
        .chain(OPTION_FIELDS)
        .copied()
}

fn field(h: &mut String, name: &str, params: &Params) {
    let accepts = esc(accepts(name));
    let label = esc(&label(name));
    if SWITCH_FIELDS.contains(&name) {
        let checked = if params.get(name) == Some("true") {
            " checked"
        } else {
            ""
        };
        let _ = write!(
            h,
            "<div class=\"field switch\" id=w-{name}><input type=checkbox id=f-{name} name={name}{checked} \
             aria-describedby=a-{name}><label for=f-{name}>{label}</label>\
             <span class=field-error id=e-{name}></span><small class=accepts id=a-{name}>{accepts}</small></div>"
        );
    } else {
        let list = if name == "db" { " list=db-list" } else { "" };
        let _ = write!(
            h,
            "<div class=field id=w-{name}><label for=f-{name}>{label}</label><input type=text id=f-{name} \
             name={name}{list} value=\"{}\" spellcheck=false autocomplete=off autocapitalize=off \
             aria-describedby=a-{name}><span class=field-error id=e-{name}></span>\
             <small class=accepts id=a-{name}>{accepts}</small></div>",
            esc(params.raw(name))
        );
    }
}

fn change_select(h: &mut String, current: &str) {
    h.push_str(
        "<div class=field id=w-change><label for=f-change>Change type</label>\
         <select id=f-change name=change aria-describedby=a-change>",
    );
    // A link may name no change, or one this version does not know: show it, not another.
    if !CHANGE_KINDS.contains(&current) {
        let text = if current.is_empty() {
            "choose a change type".to_string()
        } else {
            format!("{} (unknown to this version)", esc(current))
        };
        let _ = write!(
            h,
            "<option value=\"{}\" selected>{text}</option>",
            esc(current)
        );
    }
    for kind in CHANGE_KINDS {
        let selected = if *kind == current { " selected" } else { "" };
        let _ = write!(
            h,
            "<option value={kind}{selected}>{}</option>",
            kind.replace('-', " ")
        );
    }
    h.push_str(
        "</select><span class=field-error id=e-change></span><small class=accepts id=a-change>\
         What must change; the fields below follow the change type.</small></div>",
    );
}

/// Marks each shown field valid or invalid, with its messages. Opens the advanced section
/// when one of its fields is wrong: an error is never hidden.
pub fn show_errors(params: &Params, errors: &[FieldError]) {
    for name in shown_fields(params) {
        let message = errors
            .iter()
            .filter(|e| e.field == name)
            .map(|e| label_refs(&e.message, |n| format!("“{}”", label(n))))
            .collect::<Vec<_>>()
            .join("; ");
        let invalid = !message.is_empty();
        if let Some(error) = by_id(&format!("e-{name}")) {
            if error.text_content().unwrap_or_default() != message {
                error.set_text_content(Some(&message));
            }
        }
        if let Some(wrap) = by_id(&format!("w-{name}")) {
            let _ = wrap.class_list().toggle_with_force("invalid", invalid);
        }
        if let Some(input) = by_id(&format!("f-{name}")) {
            let _ = if invalid {
                input.set_attribute("aria-invalid", "true")
            } else {
                input.remove_attribute("aria-invalid")
            };
            let described = if invalid {
                format!("e-{name} a-{name}")
            } else {
                format!("a-{name}")
            };
            let _ = input.set_attribute("aria-describedby", &described);
        }
        if invalid && OPTION_FIELDS.contains(&name) {
            if let Some(advanced) = by_id("advanced") {
                let _ = advanced.set_attribute("open", "");
            }
        }
    }
}
