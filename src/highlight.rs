//! Text as HTML: [`esc`] for every text the page writes, [`sql_html`] for SQL blocks.
//! Deliberately tiny: the planner writes keywords in upper case, so an upper-case word is a
//! keyword; no SQL grammar is needed, and nothing but these spans ever reaches `innerHTML`.

/// `sql` as HTML: every character escaped, tokens wrapped in `<span class=..>`:
/// `k` keyword, `s` string, `i` quoted identifier, `c` comment, `n` number, `m` psql meta.
pub fn sql_html(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() * 2);
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        let (len, class) = token(rest, c);
        let (text, tail) = rest.split_at(len);
        if class.is_empty() {
            escape_into(&mut out, text);
        } else {
            out.push_str("<span class=");
            out.push_str(class);
            out.push('>');
            escape_into(&mut out, text);
            out.push_str("</span>");
        }
        rest = tail;
    }
    out
}

/// Length in bytes and class of the token starting `s` (whose first char is `c`).
fn token(s: &str, c: char) -> (usize, &'static str) {
    let b = s.as_bytes();
    match c {
        '-' if s.starts_with("--") => (s.find('\n').unwrap_or(s.len()), "c"),
        '\'' => (quoted(s, b'\''), "s"),
        '"' => (quoted(s, b'"'), "i"),
        '`' => (quoted(s, b'`'), "i"),
        '$' => match s[1..].find('$') {
            // Dollar quoting: $$...$$ or $tag$...$tag$.
            Some(i)
                if s[1..=i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                let tag = &s[..i + 2];
                let end = s[tag.len()..]
                    .find(tag)
                    .map_or(s.len(), |j| tag.len() + j + tag.len());
                (end, "s")
            }
            _ => (1, ""),
        },
        ':' if s.starts_with("::") => (2, ""),
        ':' if s.starts_with(":'") => (1 + quoted(&s[1..], b'\''), "m"),
        '\\' | ':' if b.len() > 1 && b[1].is_ascii_alphabetic() => (1 + word_len(&s[1..]), "m"),
        '0'..='9' => (word_len(s), "n"),
        c if c.is_alphabetic() || c == '_' => {
            let len = word_len(s);
            let word = &s[..len];
            let keyword = len > 1 && word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
            (len, if keyword { "k" } else { "" })
        }
        c => (c.len_utf8(), ""),
    }
}

/// A quoted run with doubled quotes as escapes; unterminated runs end with the text.
fn quoted(s: &str, q: u8) -> usize {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        if b[i] == q {
            if b.get(i + 1) == Some(&q) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

fn word_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(s.len())
}

/// Text escaped for HTML content and double-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sql_html;

    #[test]
    fn classes_and_escapes() {
        assert_eq!(
            sql_html("CREATE INDEX \"a<b>\" ON t (x) WHERE y = 'it''s & <ok>'; -- done"),
            "<span class=k>CREATE</span> <span class=k>INDEX</span> <span class=i>&quot;a&lt;b&gt;&quot;</span> \
             <span class=k>ON</span> t (x) <span class=k>WHERE</span> y = \
             <span class=s>'it''s &amp; &lt;ok&gt;'</span>; <span class=c>-- done</span>"
        );
    }

    #[test]
    fn mysql_backticks_are_identifiers() {
        assert_eq!(
            sql_html("ALTER TABLE `ORDER` ADD INDEX `i` (`a`)"),
            "<span class=k>ALTER</span> <span class=k>TABLE</span> <span class=i>`ORDER`</span> \
             <span class=k>ADD</span> <span class=k>INDEX</span> <span class=i>`i`</span> (<span class=i>`a`</span>)"
        );
    }

    #[test]
    fn psql_meta_numbers_and_dollar_quotes() {
        assert_eq!(
            sql_html("\\if :guard\nSET lock_timeout = 500;\nDO $x$ <b> $x$"),
            "<span class=m>\\if</span> <span class=m>:guard</span>\n<span class=k>SET</span> \
             lock_timeout = <span class=n>500</span>;\n<span class=k>DO</span> <span class=s>$x$ &lt;b&gt; $x$</span>"
        );
    }

    #[test]
    fn never_loses_or_breaks_text() {
        for text in [
            "'open",
            "\"x",
            "$$ never closed",
            "a:b",
            "\\",
            "größe = 'ü'",
            "--",
            ":'v'",
        ] {
            let html = sql_html(text);
            let plain: String = html
                .replace("</span>", "")
                .split("<span class=")
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part.to_string()
                    } else {
                        part[2..].to_string()
                    }
                })
                .collect();
            assert_eq!(
                plain
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&amp;", "&"),
                text
            );
        }
    }
}
