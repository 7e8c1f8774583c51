//! SQL text helpers: splitting a script into statements the way psql sends them, and running
//! queries in the simple protocol so every value comes back in PostgreSQL's text form.

use postgres::{Client, SimpleQueryMessage};

/// Splits a script into statements at top-level `;`, respecting quotes, dollar quotes and
/// comments (as psql does when it runs a file). Each statement keeps its text without the `;`.
pub fn split_statements(script: &str) -> Vec<String> {
    let b = script.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut paren = 0i32;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                let q = b[i];
                i += 1;
                while i < b.len() {
                    if b[i] == q {
                        if i + 1 < b.len() && b[i + 1] == q {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if i + 1 < b.len() && b[i + 1] == b'-' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if i + 1 < b.len() && b[i + 1] == b'*' => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'$' => {
                // $tag$ ... $tag$ (a tag is empty or an identifier; $1 is a parameter).
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let is_tag =
                    j < b.len() && b[j] == b'$' && (j == i + 1 || !b[i + 1].is_ascii_digit());
                if is_tag {
                    let tag = &script[i..=j];
                    if let Some(end) = script[j + 1..].find(tag) {
                        i = j + 1 + end + tag.len() - 1;
                    } else {
                        i = b.len();
                    }
                }
            }
            b'(' => paren += 1,
            b')' => paren -= 1,
            b';' if paren <= 0 => {
                let s = script[start..i].trim();
                if !s.is_empty() {
                    out.push(s.to_string());
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let s = script[start.min(b.len())..].trim();
    if !s.is_empty() && !only_comments(s) {
        out.push(s.to_string());
    }
    out
}

fn only_comments(s: &str) -> bool {
    s.lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with("--"))
}

/// Rows of every result of a simple-protocol query, values in text form (`None` for NULL).
pub fn text_rows(client: &mut Client, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    let messages = client.simple_query(sql).map_err(|e| pg_error(&e))?;
    let mut rows = Vec::new();
    for m in messages {
        if let SimpleQueryMessage::Row(row) = m {
            rows.push(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_string))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

/// The first column of the first row, in text form.
pub fn text_value(client: &mut Client, sql: &str) -> Result<Option<String>, String> {
    Ok(text_rows(client, sql)?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}

/// Runs statements (simple protocol) and discards their results.
pub fn exec(client: &mut Client, sql: &str) -> Result<(), String> {
    client.batch_execute(sql).map_err(|e| pg_error(&e))
}

/// A server error as `ERROR 55P03: canceling statement due to lock timeout`, else the client error.
pub fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(d) = db.detail() {
                s.push_str(&format!(" (detail: {d})"));
            }
            s
        }
        None => e.to_string(),
    }
}

/// SQLSTATE of a server error in [`pg_error`]'s form.
pub fn sqlstate(message: &str) -> Option<&str> {
    let rest = message.split_once(' ')?.1;
    rest.split(':').next().filter(|c| c.len() == 5)
}

/// A string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_psql() {
        let s = "SET lock_timeout = '500ms';\nDROP INDEX CONCURRENTLY IF EXISTS \"a;b\";";
        assert_eq!(
            split_statements(s),
            [
                "SET lock_timeout = '500ms'",
                "DROP INDEX CONCURRENTLY IF EXISTS \"a;b\""
            ]
        );
        let d = "DO $$BEGIN PERFORM 1; COMMIT; END$$;\nSELECT 'it''s;';\n-- done;\n";
        assert_eq!(
            split_statements(d),
            ["DO $$BEGIN PERFORM 1; COMMIT; END$$", "SELECT 'it''s;'"]
        );
        let f = "CREATE FUNCTION f() RETURNS trigger AS $fn$ BEGIN NEW.a := 1; RETURN NEW; END $fn$ LANGUAGE plpgsql; SELECT $1";
        assert_eq!(split_statements(f).len(), 2);
    }

    #[test]
    fn sqlstate_of_error() {
        assert_eq!(
            sqlstate("ERROR 55P03: canceling statement due to lock timeout"),
            Some("55P03")
        );
    }
}
