//! Share links: parameters <-> URL query string, versioned (`v=1`), round-tripping exactly.
//! The same names are the CLI's flags, so `lockstep plan --link '<url>'` reproduces a page.

use super::params::{Params, FIELDS};
use super::{canonical_database, shown, FieldError};

/// The share-link format version this build writes and reads.
pub const VERSION: &str = "1";

/// `v=1&db=postgresql@16&...`, fields in canonical order, blank fields left out.
pub fn to_query(params: &Params) -> String {
    let mut parts = vec![format!("v={VERSION}")];
    for (name, value) in params.canonical() {
        let value = if name == "db" {
            canonical_database(value)
        } else {
            value.to_string()
        };
        parts.push(format!("{name}={}", encode(&value)));
    }
    parts.join("&")
}

/// Reads a query string (with or without a leading `?`), or a whole URL.
pub fn from_link(link: &str) -> Result<Params, FieldError> {
    let query = query_of(link);
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
                format!("has an unknown parameter {}", shown(&name)),
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

/// What [`restore`] could read from a link, and what it had to leave out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    pub params: Params,
    /// One sentence per thing the link had that could not be used, naming it.
    pub problems: Vec<String>,
}

/// Reads a link leniently, for the page: a link from an older or newer build, or one with a
/// damaged or unknown parameter, still restores every parameter it can, and says what it could
/// not. Values are taken as typed; the planner then reports bad values per field.
/// [`from_link`] stays strict for the CLI, where a half-read link must not run.
pub fn restore(link: &str) -> Restored {
    let mut out = Restored::default();
    let mut version = None;
    for pair in query_of(link).split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let Ok(name) = decode(raw_name) else {
            out.problems.push(format!(
                "The parameter {} is damaged and was left out.",
                shown(raw_name)
            ));
            continue;
        };
        if name == "v" {
            version = Some(raw_value.to_string());
            continue;
        }
        if !FIELDS.iter().any(|f| f.name == name) {
            out.problems.push(format!(
                "The link's parameter {} is unknown to this version and was left out.",
                shown(&name)
            ));
            continue;
        }
        match decode(raw_value) {
            Ok(value) => out.params.set(&name, value),
            Err(message) => out.problems.push(format!(
                "The value of {} {message} and was left out.",
                shown(&name)
            )),
        }
    }
    match version.as_deref() {
        Some(VERSION) => {}
        Some(other) => out.problems.insert(
            0,
            format!(
                "This link was made by share-link version {other}; this page reads version \
                 {VERSION}, so check the restored values."
            ),
        ),
        None => out.problems.insert(
            0,
            "This link has no v= parameter; the values it has were restored as they are."
                .to_string(),
        ),
    }
    out
}

/// The query part of a query string (with or without `?`) or of a whole URL, without `#...`.
fn query_of(link: &str) -> &str {
    let link = link.trim();
    let query = match link.find('?') {
        Some(i) => &link[i + 1..],
        None if link.contains("://") => "",
        None => link,
    };
    query.split('#').next().unwrap_or("")
}

/// Percent-encodes all but what reads well and is safe in a query, in a shell's single quotes
/// and in chat: `postgresql@16.4`, `customer_id,+created_at`, `customers(id)`.
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => out.push(b as char),
            b'-' | b'_' | b'.' | b'~' | b'@' | b':' | b',' | b'/' | b'(' | b')' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
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
        assert!(query.starts_with("v=1&db=postgresql@16.4&change=add-index&table=orders%22"));
        assert!(query.contains("&columns=gr%C3%B6%C3%9Fe,+%22a+b%22&"));
        assert!(query.contains("&where=status+%3D+%27open%27+%26+x%2B1+%3E+2+%25+3&"));
        let back = from_link(&format!("https://example.test/lockstep/?{query}#top")).unwrap();
        assert_eq!(back.canonical(), params.canonical());
    }

    #[test]
    fn links_carry_the_canonical_database() {
        let params = Params::new().with("db", "PostgreSQL 16").with("rows", "5M");
        assert_eq!(to_query(&params), "v=1&db=postgresql@16&rows=5M");
        let typo = Params::new().with("db", "16");
        assert_eq!(to_query(&typo), "v=1&db=16");
    }

    #[test]
    fn restore_keeps_what_it_can_read() {
        let query = to_query(
            &Params::new()
                .with("db", "postgresql@16")
                .with("rows", "lots"),
        );
        let good = restore(&query);
        assert_eq!(good.params.get("rows"), Some("lots"));
        assert!(good.problems.is_empty());

        let odd = restore("?v=7&db=postgresql%4016&color=red&table=%ZZ&rows=5M");
        assert_eq!(odd.params.get("db"), Some("postgresql@16"));
        assert_eq!(odd.params.get("rows"), Some("5M"));
        assert_eq!(odd.params.get("table"), None);
        assert_eq!(odd.problems.len(), 3);
        assert!(odd.problems[0].contains("version 7"));
        assert!(odd.problems[1].contains("\"color\""));
        assert!(odd.problems[2].contains("\"table\"") && odd.problems[2].contains("%ZZ"));

        let bare = restore("https://example.test/?db=postgresql%4015#x");
        assert_eq!(bare.params.get("db"), Some("postgresql@15"));
        assert!(bare.problems[0].contains("v="));
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
