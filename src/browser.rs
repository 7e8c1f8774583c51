//! The few browser APIs the page uses: the document, events, the address bar, downloads, the
//! clipboard, timers and print. Failures of optional APIs are ignored: the page still works.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Document, Element, Window};

pub fn window() -> Window {
    web_sys::window().expect("the page runs in a browser window")
}

pub fn document() -> Document {
    window().document().expect("the window has a document")
}

/// The element with this id, if the page has it.
pub fn by_id(id: &str) -> Option<Element> {
    document().get_element_by_id(id)
}

/// Calls `handler` for every `kind` event that reaches `target` (delegation: one listener for
/// many elements). Listeners live as long as the page.
pub fn listen(
    target: &web_sys::EventTarget,
    kind: &str,
    handler: impl FnMut(web_sys::Event) + 'static,
) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(handler);
    let _ = target.add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref());
    closure.forget();
}

/// Runs `f` once after `ms` milliseconds.
pub fn after(ms: i32, f: impl FnOnce() + 'static) {
    let f = Closure::once_into_js(f);
    let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(f.unchecked_ref(), ms);
}

/// `?v=1&...` of the current address, or "".
pub fn location_search() -> String {
    window().location().search().unwrap_or_default()
}

/// Keeps the address bar equal to the share link without adding history entries. Browsers
/// refuse this for some `file://` pages; the link box on the page still shows the link then.
pub fn replace_query(query: &str) {
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("?{query}")));
    }
}

/// The page's address without its query, for building a full share link.
pub fn page_address() -> String {
    let href = window().location().href().unwrap_or_default();
    href.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Saves `text` as a file named `name`, from memory: no request is made.
pub fn download(name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Ok(anchor) = document().create_element("a") {
        if let Ok(anchor) = anchor.dyn_into::<web_sys::HtmlAnchorElement>() {
            anchor.set_href(&url);
            anchor.set_download(name);
            anchor.click();
        }
    }
    let _ = web_sys::Url::revoke_object_url(&url);
}

/// Puts `text` on the clipboard; `done` learns whether it worked (the API can refuse, e.g.
/// without a user gesture or outside a secure context).
pub fn copy_text(text: &str, done: impl FnOnce(bool) + 'static) {
    // Plain-http pages other than localhost have no `navigator.clipboard`: calling it would
    // throw through the wasm frames.
    let navigator = window().navigator();
    let available = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .is_ok_and(|c| !c.is_undefined() && !c.is_null());
    if !available {
        return done(false);
    }
    let promise = navigator.clipboard().write_text(text);
    let done = std::rc::Rc::new(std::cell::Cell::new(Some(done)));
    let other = done.clone();
    let ok = Closure::once(move |_: JsValue| {
        if let Some(f) = done.take() {
            f(true)
        }
    });
    let failed = Closure::once(move |_: JsValue| {
        if let Some(f) = other.take() {
            f(false)
        }
    });
    let _ = promise.then2(&ok, &failed);
    // Each runs at most once; the browser drops them with the promise.
    ok.forget();
    failed.forget();
}

/// Opens the print dialog; the print stylesheet turns the page into the runbook.
pub fn print() {
    let _ = window().print();
}
