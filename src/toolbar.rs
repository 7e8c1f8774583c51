//! Taking the plan away: the four downloads (built in memory), the share link, print.

use crate::browser;
use leptos::prelude::*;
use lockstep_planner::render::{json, markdown, sql};
use lockstep_planner::{Params, Plan};

/// What a download contains; the file is named after the table and the change.
#[derive(Clone, Copy)]
enum File {
    Runbook,
    Forward,
    Rollback,
    Json,
}

impl File {
    fn suffix(self) -> &'static str {
        match self {
            File::Runbook => "runbook.md",
            File::Forward => "forward.sql",
            File::Rollback => "rollback.sql",
            File::Json => "plan.json",
        }
    }
}

/// `orders-add-index`: safe in any file system, whatever the table is called.
fn file_stem(plan: &Plan) -> String {
    let table = plan.table.rsplit('.').next().unwrap_or(&plan.table);
    format!("{table}-{}", plan.change)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `fresh` is false while the inputs are invalid: downloads then wait for a plan of these inputs.
#[component]
pub fn Toolbar(
    params: RwSignal<Params>,
    plan: Memo<Option<Plan>>,
    fresh: Signal<bool>,
    query: Memo<String>,
) -> impl IntoView {
    let save = move |file: File| {
        let Some(plan) = plan.get_untracked() else {
            return;
        };
        let params = params.with_untracked(Params::relevant);
        let (mime, text) = match file {
            File::Runbook => ("text/markdown", markdown::render(&plan, &params)),
            File::Forward => ("application/sql", sql::forward(&plan)),
            File::Rollback => ("application/sql", sql::rollback(&plan)),
            File::Json => ("application/json", json::render(&plan, &params)),
        };
        let name = format!("{}-{}", file_stem(&plan), file.suffix());
        browser::download(&name, mime, &text);
    };
    let button = move |file: File| {
        view! {
            <button type="button" on:click=move |_| save(file) disabled=move || !fresh.get()>
                {file.suffix()}
            </button>
        }
    };
    let link = Memo::new(move |_| format!("{}?{}", browser::page_address(), query.get()));
    let copied = RwSignal::new("Copy link");
    let copy_link = move |_| {
        browser::copy_text(&link.get_untracked(), move |ok| {
            copied.set(if ok {
                "Link copied"
            } else {
                "Copy failed: select the link"
            });
            set_timeout(
                move || copied.set("Copy link"),
                std::time::Duration::from_millis(1500),
            );
        })
    };
    view! {
        <div class="toolbar">
            <div class="downloads" role="group" aria-label="Download">
                <span class="group-label">"Download"</span>
                {button(File::Runbook)}
                {button(File::Forward)}
                {button(File::Rollback)}
                {button(File::Json)}
                <button type="button" on:click=|_| browser::print() disabled=move || !fresh.get()>"Print"</button>
            </div>
            <div class="share">
                <label for="share-link">"Share link"</label>
                <input id="share-link" type="text" readonly prop:value=move || link.get() on:focus=|ev| {
                    use wasm_bindgen::JsCast;
                    if let Some(input) = ev.target().and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok()) {
                        input.select();
                    }
                }/>
                <button type="button" on:click=copy_link><span aria-live="polite">{move || copied.get()}</span></button>
            </div>
        </div>
    }
}
