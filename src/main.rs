//! Lockstep's page: a form that becomes a `Params`, and the planner's `Plan` rendered to DOM.
//! No planning logic lives here: everything it shows comes from `lockstep_planner`.

mod browser;
mod form;
mod highlight;
mod plan_view;
mod toolbar;

use leptos::prelude::*;
use lockstep_planner::{share, FieldError, Params, Plan};

/// What the planner answered for the current inputs.
pub type PlanResult = Result<Plan, Vec<FieldError>>;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(App);
}

/// The example a first visit starts from.
fn example() -> Params {
    Params::new()
        .with("db", "postgresql@16.4")
        .with("change", "add-index")
        .with("table", "orders")
        .with("columns", "customer_id, created_at")
        .with("rows", "500M")
        .with("size", "120GB")
        .with("max-downtime", "0")
}

/// The inputs the page opens with: the link's, as far as they can be read, or the example;
/// plus what the link had that could not be restored.
fn initial_params() -> (Params, Vec<String>) {
    let search = browser::location_search();
    if search.trim_start_matches('?').is_empty() {
        return (example(), Vec::new());
    }
    let restored = share::restore(&search);
    if restored.params.iter().next().is_none() {
        let mut problems = restored.problems;
        problems.push("Nothing in this link could be used: showing the example instead.".into());
        return (example(), problems);
    }
    (restored.params, restored.problems)
}

#[component]
fn App() -> impl IntoView {
    let (initial, link_problems) = initial_params();
    let params = RwSignal::new(initial);
    let result = Memo::new(move |_| params.with(lockstep_planner::plan));
    // The last plan that planned stays on screen (dimmed) while an input is invalid.
    let shown = Memo::new(move |last: Option<&Option<Plan>>| match result.get() {
        Ok(plan) => Some(plan),
        Err(_) => last.cloned().flatten(),
    });
    let query = Memo::new(move |_| share::to_query(&params.with(Params::relevant)));
    Effect::new(move |_| browser::replace_query(&query.get()));

    view! {
        <a class="skip" href="#plan">"Skip to the plan"</a>
        <header class="top">
            <h1>"Lockstep"</h1>
            <p class="tagline">"Zero-downtime schema migration runbooks. Runs entirely in your browser: nothing you type leaves this page."</p>
        </header>
        {(!link_problems.is_empty()).then(|| view! { <LinkProblems problems=link_problems/> })}
        <main class="layout">
            <form::RequestForm params=params result=result/>
            <section class="output" id="plan" aria-label="Plan" tabindex="-1">
                <toolbar::Toolbar params=params plan=shown fresh=Signal::derive(move || result.with(Result::is_ok)) query=query/>
                <plan_view::Status result=result/>
                <plan_view::Output result=result shown=shown/>
            </section>
        </main>
    }
}

/// What a share link had that could not be restored; dismissable.
#[component]
fn LinkProblems(problems: Vec<String>) -> impl IntoView {
    let open = RwSignal::new(true);
    view! {
        <Show when=move || open.get()>
            <div class="banner" role="alert">
                <p><strong>"Some of this link could not be restored."</strong>" Everything else was."</p>
                <ul>{problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
                <button type="button" on:click=move |_| open.set(false)>"Dismiss"</button>
            </div>
        </Show>
    }
}
