//! Share links: parameters <-> URL query string, versioned (`v=1`), round-tripping exactly.
//! The same names are the CLI's flags, so `lockstep plan --link '<url>'` reproduces a page.

use crate::input::FieldError;
use crate::params::{Params, FIELDS};

/// The share-link format version this build writes and reads.
pub const VERSION: &str = "1";

/// `v=1&db=postgresql%4016&...`, fields in canonical order, blank fields left out.
pub fn to_query(params: &Params) -> String {
    let mut parts = vec![format!("v={VERSION}")];
    for (name, value) in params.canonical() {
        parts.push(format!("{name}={}", encode(value)));
    }
    parts.join("&")
}

/// Reads a query string (with or without a leading `?`), or a whole URL.
pub fn from_link(link: &str) -> Result<Params, FieldError> {
    let link = link.trim();
    let query = match link.find('?') {
        Some(i) => &link[i + 1..],
        None if link.contains("://") => "",
        None => link,
    };
    let query = query.split('#').next().unwrap_or("");
    let mut params = Params::new();
    let mut version = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name).map_err(|m| FieldError::new("link", m))?;
        let value = decode(value).map_err(|m| FieldError::new("link", format!("{name}: {m}")))?;
        if name == "v" {
            version = Some(value);
        } else if FIELDS.iter().any(|f| f.name == name) {
            params.set(&name, value);
        } else {
            return Err(FieldError::new(
                "link",
                format!("has an unknown parameter {name:?}"),
            ));
        }
    }
    match version.as_deref() {
        Some(VERSION) => Ok(params),
        Some(other) => Err(FieldError::new(
            "link",
            format!("is share-link version {other}; this build reads version {VERSION}"),
        )),
        None => Err(FieldError::new(
            "link",
            "has no v= parameter; accepts a link copied from the Lockstep page",
        )),
    }
}

fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3).ok_or("has a truncated %-escape")?;
                out.push(
                    u8::from_str_radix(hex, 16)
                        .map_err(|_| format!("has a bad %-escape %{hex}"))?,
                );
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "is not valid UTF-8 after %-decoding".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_hostile_values() {
        let params = Params::new()
            .with("db", "postgresql@16.4")
            .with("change", "add-index")
            .with("table", "orders\"; drop table x; --")
            .with("columns", "größe, \"a b\"")
            .with("where", "status = 'open' & x+1 > 2 % 3")
            .with("rows", "500M");
        let query = to_query(&params);
        assert!(query.starts_with("v=1&db=postgresql%4016.4&change=add-index&table=orders%22"));
        let back = from_link(&format!("https://example.test/lockstep/?{query}#top")).unwrap();
        assert_eq!(back.canonical(), params.canonical());
    }

    #[test]
    fn bad_links_name_the_problem() {
        assert!(from_link("?v=2&db=x")
            .unwrap_err()
            .message
            .contains("version 2"));
        assert!(from_link("?db=x").unwrap_err().message.contains("v="));
        assert!(from_link("?v=1&color=red")
            .unwrap_err()
            .message
            .contains("color"));
        assert!(from_link("?v=1&table=%ZZ")
            .unwrap_err()
            .message
            .contains("%ZZ"));
    }
}
