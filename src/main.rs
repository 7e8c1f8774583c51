//! Lockstep's page: a form that becomes a `Params`, and the planner's `Plan` rendered to DOM.
//! No planning logic lives here: everything it shows comes from `lockstep_planner`.

mod browser;
mod form;
mod plan_view;

use leptos::prelude::*;
use lockstep_planner::{share, Params};

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

#[component]
fn App() -> impl IntoView {
    let search = browser::location_search();
    let (initial, link_error) = if search.trim_start_matches('?').is_empty() {
        (example(), None)
    } else {
        match share::from_link(&search) {
            Ok(params) => (params, None),
            Err(e) => (
                example(),
                Some(format!(
                    "This link could not be read ({e}); showing the example instead."
                )),
            ),
        }
    };
    let params = RwSignal::new(initial);
    let result = Memo::new(move |_| params.with(lockstep_planner::plan));
    let query = Memo::new(move |_| share::to_query(&params.with(Params::relevant)));
    Effect::new(move |_| browser::replace_query(&query.get()));

    view! {
        <header class="top">
            <h1>"Lockstep"</h1>
            <p class="tagline">"Zero-downtime schema migration runbooks for PostgreSQL 10–18. Runs entirely in your browser: nothing you type leaves this page."</p>
        </header>
        {link_error.map(|m| view! { <p class="banner error" role="alert">{m}</p> })}
        <div class="layout">
            <form::RequestForm params=params result=result/>
            <section class="output" aria-live="polite">
                <plan_view::Downloads params=params result=result query=query/>
                <plan_view::Output result=result/>
            </section>
        </div>
    }
}
