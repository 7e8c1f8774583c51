//! An ENUM column's member list, as `--type` writes it and `information_schema` spells it.

/// One storage byte holds the position of up to 255 members (MySQL manual, "Data Type Storage
/// Requirements": ENUM takes 1 or 2 bytes, depending on the number of enumeration values); a
/// change of the list that crosses it changes every row's storage, so the table is copied.
pub const ONE_BYTE_MEMBERS: usize = 255;

/// The members of `enum('a','b''c')` at the start of `text`, and the byte offset of its
/// closing parenthesis; `None` when `text` does not start with an ENUM of quoted members.
pub fn enum_members(text: &str) -> Option<(Vec<String>, usize)> {
    let lower = text.to_ascii_lowercase();
    let open = lower.strip_prefix("enum")?.trim_start();
    let mut at = text.len() - open.len();
    if !open.starts_with('(') {
        return None;
    }
    at += 1;
    let bytes = text.as_bytes();
    let mut members = Vec::new();
    loop {
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
        if bytes.get(at) != Some(&b'\'') {
            return None;
        }
        at += 1;
        let mut member = String::new();
        loop {
            let rest = &text[at..];
            let ch = rest.chars().next()?;
            if ch == '\'' {
                if rest[1..].starts_with('\'') {
                    member.push('\'');
                    at += 2;
                    continue;
                }
                at += 1;
                break;
            }
            member.push(ch);
            at += ch.len_utf8();
        }
        members.push(member);
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
        match bytes.get(at) {
            Some(b',') => at += 1,
            Some(b')') => return Some((members, at)),
            _ => return None,
        }
    }
}

/// `enum('a','b')` as `information_schema.columns.column_type` spells it.
pub fn spelled(members: &[String]) -> String {
    let quoted: Vec<String> = members
        .iter()
        .map(|m| format!("'{}'", m.replace('\'', "''")))
        .collect();
    format!("enum({})", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_with_doubled_quotes() {
        let (m, close) = enum_members("ENUM('a', 'it''s','c') NOT NULL").unwrap();
        assert_eq!(m, ["a", "it's", "c"]);
        assert_eq!(&"ENUM('a', 'it''s','c') NOT NULL"[close..], ") NOT NULL");
        assert!(enum_members("varchar(16)").is_none());
        assert!(enum_members("enum(a)").is_none());
    }

    #[test]
    fn spelled_as_information_schema_does() {
        let members = ["a".to_string(), "it's".to_string()];
        assert_eq!(spelled(&members), "enum('a','it''s')");
    }
}
