//! The few browser APIs the page uses: the address bar, file downloads, the clipboard, print.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// `?v=1&...` of the current address, or "".
pub fn location_search() -> String {
    window().location().search().unwrap_or_default()
}

/// Keeps the address bar equal to the share link. Browsers refuse this for some `file://`
/// pages; the link box on the page still shows the link then.
pub fn replace_query(query: &str) {
    let url = format!("?{query}");
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&url));
    }
}

/// The page's address without its query, for building a full share link.
pub fn page_address() -> String {
    let location = window().location();
    let href = location.href().unwrap_or_default();
    href.split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Saves `text` as a file named `name`, from memory: no request is made.
pub fn download(name: &str, mime: &str, text: &str) {
    let parts = js_sys_array(text);
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
    use wasm_bindgen::closure::Closure;
    let promise = window().navigator().clipboard().write_text(text);
    let done = std::rc::Rc::new(std::cell::Cell::new(Some(done)));
    let other = done.clone();
    let ok = Closure::once(move |_: wasm_bindgen::JsValue| {
        if let Some(f) = done.take() {
            f(true)
        }
    });
    let failed = Closure::once(move |_: wasm_bindgen::JsValue| {
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

fn js_sys_array(text: &str) -> wasm_bindgen::JsValue {
    let array = js_sys::Array::new();
    array.push(&wasm_bindgen::JsValue::from_str(text));
    array.into()
}
