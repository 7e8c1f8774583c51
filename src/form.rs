//! The request form. Every input writes its raw text into `Params`, so nothing typed is lost
//! to parsing; the planner's field errors are shown next to the field they name.

use leptos::prelude::*;
use lockstep_planner::input::CHANGE_KINDS;
use lockstep_planner::params::{accepts, change_fields, OPTION_FIELDS, SWITCH_FIELDS};
use lockstep_planner::{FieldError, Params, Plan};

type PlanResult = Result<Plan, Vec<FieldError>>;

/// A human label for a parameter name.
fn label(name: &str) -> String {
    match name {
        "db" => "Database".to_string(),
        "max-downtime" => "Max downtime".to_string(),
        "where" => "Partial index WHERE".to_string(),
        "size" => "Table size".to_string(),
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
    let errors =
        Signal::derive(move || result.with(|r| r.as_ref().err().cloned().unwrap_or_default()));
    let kind = Memo::new(move |_| params.with(|p| p.raw("change").to_string()));
    view! {
        <form class="request" on:submit=|ev| ev.prevent_default() aria-label="Migration request">
            <fieldset>
                <legend>"Database and change"</legend>
                <TextField name="db" params=params errors=errors list="db-versions"/>
                <datalist id="db-versions">
                    {(10..=18).rev().map(|v| view! { <option value=format!("postgresql@{v}")></option> }).collect_view()}
                </datalist>
                <ChangeSelect params=params errors=errors/>
                <TextField name="table" params=params errors=errors list=""/>
                <TextField name="schema" params=params errors=errors list=""/>
            </fieldset>
            <fieldset>
                <legend>"Change details"</legend>
                {move || change_fields(&kind.get()).iter().map(|name| field(name, params, errors)).collect_view()}
            </fieldset>
            <fieldset>
                <legend>"Table and budget"</legend>
                <TextField name="rows" params=params errors=errors list=""/>
                <TextField name="size" params=params errors=errors list=""/>
                <TextField name="max-downtime" params=params errors=errors list=""/>
            </fieldset>
            <details>
                <summary>"More options: environment and duration model"</summary>
                {OPTION_FIELDS.iter().map(|name| field(name, params, errors)).collect_view()}
            </details>
        </form>
    }
}

fn field(name: &'static str, params: RwSignal<Params>, errors: Signal<Vec<FieldError>>) -> AnyView {
    if SWITCH_FIELDS.contains(&name) {
        view! { <Switch name=name params=params errors=errors/> }.into_any()
    } else {
        view! { <TextField name=name params=params errors=errors list=""/> }.into_any()
    }
}

/// The errors the planner reported for one field.
fn field_errors(name: &'static str, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    move || {
        errors
            .get()
            .into_iter()
            .filter(|e| e.field == name)
            .map(|e| view! { <span class="field-error" role="alert">{e.message}</span> })
            .collect_view()
    }
}

#[component]
fn TextField(
    name: &'static str,
    params: RwSignal<Params>,
    errors: Signal<Vec<FieldError>>,
    list: &'static str,
) -> impl IntoView {
    let invalid = move || errors.with(|e| e.iter().any(|e| e.field == name));
    view! {
        <label class="field" class:invalid=invalid>
            <span class="name">{label(name)}</span>
            <input
                type="text"
                name=name
                list=(!list.is_empty()).then_some(list)
                spellcheck="false"
                autocomplete="off"
                prop:value=move || params.with(|p| p.raw(name).to_string())
                on:input=move |ev| params.update(|p| p.set(name, event_target_value(&ev)))
            />
            <small class="accepts">{accepts(name)}</small>
            {field_errors(name, errors)}
        </label>
    }
}

#[component]
fn Switch(
    name: &'static str,
    params: RwSignal<Params>,
    errors: Signal<Vec<FieldError>>,
) -> impl IntoView {
    view! {
        <label class="field switch">
            <input
                type="checkbox"
                name=name
                prop:checked=move || params.with(|p| p.get(name) == Some("true"))
                on:change=move |ev| params.update(|p| p.set(name, if event_target_checked(&ev) { "true" } else { "" }))
            />
            <span class="name">{label(name)}</span>
            <small class="accepts">{accepts(name)}</small>
            {field_errors(name, errors)}
        </label>
    }
}

#[component]
fn ChangeSelect(params: RwSignal<Params>, errors: Signal<Vec<FieldError>>) -> impl IntoView {
    view! {
        <label class="field">
            <span class="name">"Change"</span>
            <select
                name="change"
                prop:value=move || params.with(|p| p.raw("change").to_string())
                on:change=move |ev| params.update(|p| p.set("change", event_target_value(&ev)))
            >
                {CHANGE_KINDS.iter().map(|k| view! { <option value=*k>{k.replace('-', " ")}</option> }).collect_view()}
            </select>
            {field_errors("change", errors)}
        </label>
    }
}
