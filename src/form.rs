//! The request form. Every input writes its raw text into `Params`, so nothing typed is lost
//! to parsing; the planner's field errors are shown next to the field they name. Which fields
//! exist comes from `lockstep_planner::params`, so new change types and options appear here
//! without UI changes.

use crate::PlanResult;
use leptos::prelude::*;
use lockstep_planner::input::CHANGE_KINDS;
use lockstep_planner::params::{accepts, change_fields, OPTION_FIELDS, SWITCH_FIELDS};
use lockstep_planner::{FieldError, Params};

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
        "max-downtime" => "Longest acceptable blocking".into(),
        "where" => "Partial index WHERE".into(),
        "size" => "Table size on disk".into(),
        "rows" => "Row count".into(),
        "pg-repack" => "pg_repack is installed".into(),
        "replicas" => "Streaming replicas follow this server".into(),
        "not-null" => "NOT NULL".into(),
        "unique" => "Unique index".into(),
        other => {
            let text = other.replace('-', " ");
            let mut chars = text.chars();
            chars
                .next()
                .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
        }
    }
}

#[component]
pub fn RequestForm(params: RwSignal<Params>, result: Memo<PlanResult>) -> impl IntoView {
    let errors = Memo::new(move |_| result.with(|r| r.as_ref().err().cloned().unwrap_or_default()));
    let kind = Memo::new(move |_| params.with(|p| p.raw("change").to_string()));
    let fields = move |names: &'static [&'static str]| {
        names
            .iter()
            .map(|name| field(name, params, errors))
            .collect_view()
    };
    // Open when a link brought options, and whenever one of them is wrong: never hide an error.
    let advanced =
        RwSignal::new(params.with_untracked(|p| OPTION_FIELDS.iter().any(|n| p.get(n).is_some())));
    Effect::new(move |_| {
        if errors.with(|e| e.iter().any(|e| OPTION_FIELDS.contains(&e.field.as_str()))) {
            advanced.set(true);
        }
    });
    view! {
        <form class="request" novalidate on:submit=|ev| ev.prevent_default() aria-label="Migration request">
            <fieldset>
                <legend>"Database"</legend>
                {field("db", params, errors)}
                <datalist id="db-list">
                    {DATABASES.iter().map(|v| view! { <option value=*v></option> }).collect_view()}
                </datalist>
            </fieldset>
            <fieldset>
                <legend>"Change"</legend>
                <ChangeSelect params=params errors=errors/>
                {fields(&["table", "schema"])}
                {move || fields(change_fields(&kind.get()))}
            </fieldset>
            <fieldset>
                <legend>"Table size"</legend>
                {fields(&["rows", "size"])}
            </fieldset>
            <fieldset>
                <legend>"Downtime budget"</legend>
                {field("max-downtime", params, errors)}
            </fieldset>
            <details class="advanced" prop:open=move || advanced.get() on:toggle=move |ev| {
                use wasm_bindgen::JsCast;
                if let Some(d) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
                    advanced.set(d.has_attribute("open"));
                }
            }>
                <summary>"Advanced facts: primary key, write rate, pg_repack, replicas, estimate assumptions"</summary>
                <fieldset>
                    <legend class="visually-hidden">"Advanced facts"</legend>
                    {fields(OPTION_FIELDS)}
                </fieldset>
            </details>
        </form>
    }
}

fn field(name: &'static str, params: RwSignal<Params>, errors: Memo<Vec<FieldError>>) -> AnyView {
    if SWITCH_FIELDS.contains(&name) {
        view! { <Switch name=name params=params errors=errors/> }.into_any()
    } else {
        view! { <TextField name=name params=params errors=errors/> }.into_any()
    }
}

/// The messages the planner has for one field, joined; empty when it is fine.
fn message(errors: Memo<Vec<FieldError>>, name: &str) -> String {
    errors.with(|e| {
        e.iter()
            .filter(|e| e.field == name)
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// The accepts text and, when invalid, the error: what a screen reader says about the field.
fn described_by(name: &str, invalid: bool) -> String {
    if invalid {
        format!("e-{name} a-{name}")
    } else {
        format!("a-{name}")
    }
}

#[component]
fn TextField(
    name: &'static str,
    params: RwSignal<Params>,
    errors: Memo<Vec<FieldError>>,
) -> impl IntoView {
    let error = Memo::new(move |_| message(errors, name));
    let invalid = move || !error.with(String::is_empty);
    view! {
        <div class="field" class:invalid=invalid>
            <label for=format!("f-{name}")>{label(name)}</label>
            <input
                type="text"
                id=format!("f-{name}")
                name=name
                list=(name == "db").then_some("db-list")
                spellcheck="false"
                autocomplete="off"
                autocapitalize="off"
                aria-invalid=move || invalid().then_some("true")
                aria-describedby=move || described_by(name, invalid())
                prop:value=move || params.with(|p| p.raw(name).to_string())
                on:input=move |ev| params.update(|p| p.set(name, event_target_value(&ev)))
            />
            <span class="field-error" id=format!("e-{name}")>{move || error.get()}</span>
            <small class="accepts" id=format!("a-{name}")>{accepts(name)}</small>
        </div>
    }
}

#[component]
fn Switch(
    name: &'static str,
    params: RwSignal<Params>,
    errors: Memo<Vec<FieldError>>,
) -> impl IntoView {
    let error = Memo::new(move |_| message(errors, name));
    let invalid = move || !error.with(String::is_empty);
    view! {
        <div class="field switch" class:invalid=invalid>
            <input
                type="checkbox"
                id=format!("f-{name}")
                name=name
                aria-invalid=move || invalid().then_some("true")
                aria-describedby=move || described_by(name, invalid())
                prop:checked=move || params.with(|p| p.get(name) == Some("true"))
                on:change=move |ev| params.update(|p| p.set(name, if event_target_checked(&ev) { "true" } else { "" }))
            />
            <label for=format!("f-{name}")>{label(name)}</label>
            <span class="field-error" id=format!("e-{name}")>{move || error.get()}</span>
            <small class="accepts" id=format!("a-{name}")>{accepts(name)}</small>
        </div>
    }
}

#[component]
fn ChangeSelect(params: RwSignal<Params>, errors: Memo<Vec<FieldError>>) -> impl IntoView {
    let error = Memo::new(move |_| message(errors, "change"));
    let invalid = move || !error.with(String::is_empty);
    view! {
        <div class="field" class:invalid=invalid>
            <label for="f-change">"Change type"</label>
            <select
                id="f-change"
                name="change"
                aria-invalid=move || invalid().then_some("true")
                aria-describedby=move || described_by("change", invalid())
                prop:value=move || params.with(|p| p.raw("change").to_string())
                on:change=move |ev| params.update(|p| p.set("change", event_target_value(&ev)))
            >
                {CHANGE_KINDS.iter().map(|k| view! { <option value=*k>{k.replace('-', " ")}</option> }).collect_view()}
            </select>
            <span class="field-error" id="e-change">{move || error.get()}</span>
            <small class="accepts" id="a-change">"What must change; the fields below follow the change type."</small>
        </div>
    }
}
