//! Lockstep's page: a form that becomes a `Params`, and the planner's `Plan` written as HTML.
//! No planning logic lives here: everything it shows comes from `lockstep_planner`.
//!
//! No UI framework: the page is a form and a document. HTML strings (always escaped) and
//! three delegated listeners (input, click, focus) do all of it in a fraction of the wasm a
//! reactive framework costs (measured on the same engine: the wasm was 249.1 KB gzipped with
//! Leptos 0.8 and 192.3 KB without, against a 250 KB budget for everything the page loads),
//! and a re-plan replaces only the parts of the plan that changed.

mod browser;
mod form;
mod highlight;
mod plan_view;
mod toolbar;

use browser::by_id;
use lockstep_planner::request::share;
use lockstep_planner::{FieldError, Params, Plan};
use std::cell::RefCell;
use wasm_bindgen::JsCast;

fn main() {
    console_error_panic_hook::set_once();
    let (params, link_problems) = initial_params();
    mount(&params, &link_problems);
    PAGE.with(|page| {
        let mut page = page.borrow_mut();
        page.params = params;
        page.update();
    });
    listen();
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

/// Writes the page's skeleton: header, link problems, form, toolbar, status and plan area.
fn mount(params: &Params, link_problems: &[String]) {
    let mut h = String::from(
        "<a class=skip href=\"#plan\">Skip to the plan</a><header class=top><h1>Lockstep</h1>\
         <p class=tagline>Zero-downtime schema migration runbooks. Runs entirely in your browser: \
         nothing you type leaves this page.</p></header>",
    );
    if !link_problems.is_empty() {
        h.push_str(
            "<div class=banner id=banner role=alert><p><strong>Some of this link could not be \
             restored.</strong> Everything else was.</p><ul>",
        );
        for p in link_problems {
            h.push_str(&format!("<li>{}</li>", highlight::esc(p)));
        }
        h.push_str("</ul><button type=button data-act=dismiss>Dismiss</button></div>");
    }
    h.push_str("<main class=layout>");
    h.push_str(&form::form_html(params));
    h.push_str("<section class=output id=plan aria-label=Plan tabindex=-1>");
    h.push_str(&toolbar::toolbar_html());
    h.push_str(
        "<p class=status id=status role=status aria-live=polite></p><div id=problems></div>\
         <div class=plan-wrap id=plan-wrap></div>\
         <p class=visually-hidden id=announce aria-live=polite></p></section></main>",
    );
    // The hosted page offers the single file to carry into an air-gapped network.
    if browser::window()
        .location()
        .protocol()
        .is_ok_and(|p| p.starts_with("http"))
    {
        h.push_str(
            "<footer class=bottom><a href=lockstep.html download>Download lockstep.html</a>: \
             this whole page in one file that works from <code>file://</code>, with no network.</footer>",
        );
    }
    if let Some(loading) = by_id("loading") {
        loading.remove();
    }
    if let Ok(root) = browser::document().create_element("div") {
        root.set_id("app");
        root.set_inner_html(&h);
        if let Some(body) = browser::document().body() {
            let _ = body.append_child(&root);
        }
    }
}

/// What is on screen, so each update touches only what changed.
#[derive(Default)]
struct Page {
    params: Params,
    /// The change type whose fields the form shows; `None` before the first update.
    kind: Option<String>,
    /// The last plan that planned: kept on screen, dimmed, while an input is invalid.
    shown: Option<Plan>,
    doc: Option<plan_view::Doc>,
    fresh: Option<bool>,
    status: String,
    problems: String,
    query: String,
    /// Counts query changes, so only the last one of a burst writes the address bar.
    address_updates: u32,
}

thread_local! {
    static PAGE: RefCell<Page> = RefCell::default();
}

impl Page {
    /// Re-plans and brings the page up to date with `params`.
    fn update(&mut self) {
        let kind = self.params.raw("change").to_string();
        if self.kind.as_ref() != Some(&kind) {
            // The form was written with the first kind's fields; later kinds replace them.
            if self.kind.is_some() {
                if let Some(fields) = by_id("change-fields") {
                    fields.set_inner_html(&form::change_fields_html(&self.params));
                }
            }
            self.kind = Some(kind);
        }
        let result = lockstep_planner::plan(&self.params);
        let errors: &[FieldError] = result.as_ref().err().map_or(&[], |e| e.as_slice());
        form::show_errors(&self.params, errors);
        set_if_changed(&mut self.problems, plan_view::problems_html(errors), |h| {
            if let Some(el) = by_id("problems") {
                el.set_inner_html(h);
            }
        });
        set_if_changed(&mut self.status, plan_view::status_text(&result), |t| {
            if let Some(el) = by_id("status") {
                el.set_text_content(Some(t));
            }
        });
        let fresh = result.is_ok();
        if self.fresh != Some(fresh) {
            self.fresh = Some(fresh);
            toolbar::set_fresh(fresh);
            if let Some(wrap) = by_id("plan-wrap") {
                let _ = wrap.class_list().toggle_with_force("stale", !fresh);
            }
        }
        if let Ok(plan) = result {
            if self.shown.as_ref() != Some(&plan) {
                let doc = plan_view::plan_doc(&plan);
                if let Some(wrap) = by_id("plan-wrap") {
                    plan_view::show(&wrap, &doc, self.doc.as_ref());
                }
                self.doc = Some(doc);
                self.shown = Some(plan);
            }
        }
        let query = share::to_query(&self.params.relevant());
        if query != self.query {
            if let Some(input) =
                by_id("share-link").and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
            {
                input.set_value(&format!("{}?{query}", browser::page_address()));
            }
            // The address bar follows once typing pauses: browsers throttle a flood of
            // replaceState calls (held-down keys), and would then keep a stale address.
            self.address_updates += 1;
            if self.query.is_empty() {
                browser::replace_query(&query);
            } else {
                let update = self.address_updates;
                browser::after(250, move || {
                    PAGE.with(|page| {
                        let page = page.borrow();
                        if page.address_updates == update {
                            browser::replace_query(&page.query);
                        }
                    })
                });
            }
            self.query = query;
        }
    }

    /// A click on a `data-act` button.
    fn act(&self, act: &str, button: web_sys::Element) {
        match act {
            "print" => browser::print(),
            "dismiss" => {
                if let Some(banner) = by_id("banner") {
                    banner.remove();
                }
            }
            "copy-link" => {
                let link = format!("{}?{}", browser::page_address(), self.query);
                browser::copy_text(&link, move |ok| {
                    button.set_text_content(Some(if ok { "Link copied" } else { "Copy failed" }));
                    if !ok {
                        // Selected (by the focus listener), ready for Ctrl+C.
                        let input = by_id("share-link")
                            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
                        if let Some(input) = input {
                            let _ = input.focus();
                        }
                    }
                    plan_view::announce(if ok {
                        "Copied the share link."
                    } else {
                        "Could not copy: select the link and copy it by hand."
                    });
                    browser::after(1500, move || button.set_text_content(Some("Copy link")));
                });
            }
            file => {
                if let (Some(plan), Some(true)) = (&self.shown, self.fresh) {
                    toolbar::save(file, plan, &self.params.relevant());
                }
            }
        }
    }
}

/// Runs `apply` with `new` when it differs from what `slot` holds, and keeps it.
fn set_if_changed(slot: &mut String, new: String, apply: impl FnOnce(&str)) {
    if *slot != new {
        apply(&new);
        *slot = new;
    }
}

/// The page's three listeners: typing in the form, clicks on buttons, focus on the link box.
fn listen() {
    let document = browser::document();
    if let Some(form) = by_id("request") {
        browser::listen(&form, "input", |ev| {
            let Some(target) = ev.target() else { return };
            let (name, value) = if let Some(input) = target.dyn_ref::<web_sys::HtmlInputElement>() {
                let value = if input.type_() == "checkbox" {
                    if input.checked() { "true" } else { "" }.to_string()
                } else {
                    input.value()
                };
                (input.name(), value)
            } else if let Some(select) = target.dyn_ref::<web_sys::HtmlSelectElement>() {
                (select.name(), select.value())
            } else {
                return;
            };
            PAGE.with(|page| {
                let mut page = page.borrow_mut();
                page.params.set(&name, value);
                page.update();
            });
        });
        browser::listen(&form, "submit", |ev| ev.prevent_default());
    }
    browser::listen(&document, "click", |ev| {
        let Some(target) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        // A problem's link focuses its field (a plain fragment link would only scroll).
        if let Ok(Some(link)) = target.closest(".problems a") {
            let field = link
                .get_attribute("href")
                .and_then(|h| by_id(h.trim_start_matches('#')));
            if let Some(field) = field.and_then(|f| f.dyn_into::<web_sys::HtmlElement>().ok()) {
                ev.prevent_default();
                let _ = field.focus();
            }
            return;
        }
        let Ok(Some(button)) = target.closest("button") else {
            return;
        };
        if button.class_list().contains("copy") {
            plan_view::copy_clicked(button);
        } else if let Some(act) = button.get_attribute("data-act") {
            PAGE.with(|page| page.borrow().act(&act, button));
        }
    });
    browser::listen(&document, "focusin", |ev| {
        if let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            .filter(|i| i.id() == "share-link")
        {
            input.select();
        }
    });
}
