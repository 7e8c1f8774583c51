//! The one place identifiers and literals become SQL text, for PostgreSQL.
//!
//! Every identifier in every statement the planner emits goes through [`ident`]; every string
//! literal through [`literal`]. A table named `orders"; drop table x; --` therefore comes out as
//! `"orders""; drop table x; --"`, one harmless identifier.

/// PostgreSQL truncates identifiers longer than NAMEDATALEN - 1 bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// Keywords that must be quoted to be used as a column or table name (reserved,
/// type/function-name and column-name keywords of the PostgreSQL grammar). Quoting an
/// unreserved keyword is harmless, so the list errs on the side of inclusion.
const KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "bigint",
    "binary",
    "bit",
    "boolean",
    "both",
    "case",
    "cast",
    "char",
    "character",
    "check",
    "coalesce",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "dec",
    "decimal",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "exists",
    "extract",
    "false",
    "fetch",
    "float",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "greatest",
    "group",
    "grouping",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "inout",
    "int",
    "integer",
    "intersect",
    "interval",
    "into",
    "is",
    "isnull",
    "join",
    "json",
    "json_array",
    "json_arrayagg",
    "json_exists",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_scalar",
    "json_serialize",
    "json_table",
    "json_value",
    "lateral",
    "leading",
    "least",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "merge_action",
    "national",
    "natural",
    "nchar",
    "none",
    "normalize",
    "not",
    "notnull",
    "null",
    "nullif",
    "numeric",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "out",
    "outer",
    "overlaps",
    "overlay",
    "placing",
    "position",
    "precision",
    "primary",
    "real",
    "references",
    "returning",
    "right",
    "row",
    "select",
    "session_user",
    "setof",
    "similar",
    "smallint",
    "some",
    "substring",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "time",
    "timestamp",
    "to",
    "trailing",
    "treat",
    "trim",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "varchar",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
    "xmlattributes",
    "xmlconcat",
    "xmlelement",
    "xmlexists",
    "xmlforest",
    "xmlnamespaces",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
    "xmltable",
];

/// Quotes a PostgreSQL identifier when it needs it, like `quote_ident()`: plain lower-case names
/// stay bare so runbooks read naturally; anything else is double-quoted with `"` doubled.
pub fn ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !KEYWORDS.contains(&name) {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A possibly schema-qualified name: `schema.table` or `table`.
pub fn qualified(schema: Option<&str>, name: &str) -> String {
    match schema {
        Some(s) => format!("{}.{}", ident(s), ident(name)),
        None => ident(name),
    }
}

/// A string literal, with `'` doubled (standard_conforming_strings is on from 9.1).
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A single-quoted argument of a psql backslash command (`\\echo`): psql reads `''` as a
/// quote and interprets backslash escapes there, so both are escaped.
pub fn psql_arg(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}

/// A shell word for a command line the runbook prints (pg_repack): single-quoted, with `'`
/// written as `'\''`, so no name can break out of the argument.
pub fn shell(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// A comma-separated list of quoted identifiers.
pub fn ident_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name the planner derives (`orders_email_idx`, `orders_id_new`), cut to 63 bytes at a
/// character boundary exactly as PostgreSQL would keep it, so checks find the object by name.
pub fn derived_name(parts: &[&str]) -> String {
    let mut name = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("_");
    while name.len() > MAX_IDENT_BYTES {
        name.pop();
    }
    name
}

/// Checks a user-supplied identifier: non-empty, no NUL or other control character, at most
/// 63 bytes.
pub fn validate_ident(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty; accepts a name such as orders".to_string());
    }
    if name.contains('\0') {
        return Err("contains a NUL character, which PostgreSQL names cannot hold".to_string());
    }
    control_char(name)?;
    if name.len() > MAX_IDENT_BYTES {
        return Err(format!(
            "is {} bytes long; PostgreSQL keeps only the first {MAX_IDENT_BYTES} bytes of a name, so give the name exactly as the catalog stores it",
            name.len()
        ));
    }
    Ok(())
}

/// Refuses a control character in a name. A line break would end the `--` comment or the
/// client command line (psql `\echo`, mysql `system`) of the downloaded script that shows the
/// name, and run the rest of it as SQL; the others are never meant in a name either.
fn control_char(name: &str) -> Result<(), String> {
    match name.chars().find(|c| c.is_control()) {
        Some(c) => Err(format!(
            "contains the control character U+{:04X}; Lockstep refuses control characters in names (a line break would end a comment or a client command in the downloaded script)",
            c as u32
        )),
        None => Ok(()),
    }
}

/// Checks a user-supplied SQL fragment (a type, a default, a predicate): quotes and parentheses
/// balanced and no `;` outside them, so a fragment cannot end the statement it is pasted into;
/// on one line, because the scripts show it in `--` comments and client command lines.
pub fn validate_fragment(text: &str) -> Result<(), String> {
    if text.contains(['\n', '\r']) {
        return Err(
            "has a line break; give the expression on one line (a line break would end a comment or a client command in the downloaded script)"
                .to_string(),
        );
    }
    let mut depth: i32 = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                let mut closed = false;
                while let Some(d) = chars.next() {
                    if d == c {
                        if chars.peek() == Some(&c) {
                            chars.next();
                        } else {
                            closed = true;
                            break;
                        }
                    }
                }
                if !closed {
                    return Err(format!("has an unclosed {c} quote"));
                }
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err("has a ) without its (".to_string());
                }
            }
            ';' => return Err("contains ; — give one expression, not statements".to_string()),
            '-' if chars.peek() == Some(&'-') => {
                return Err(
                    "contains a -- comment, which would swallow the rest of the statement"
                        .to_string(),
                )
            }
            '/' if chars.peek() == Some(&'*') => return Err("contains a /* comment".to_string()),
            '$' if text.contains("$$") => {
                return Err("contains dollar quoting, which Lockstep does not parse".to_string())
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("has an unclosed (".to_string());
    }
    Ok(())
}

/// A dollar-quoted body (`$lockstep$ ... $lockstep$`) for DO blocks, with a tag that does not
/// occur in the body, so a name or literal holding `$lockstep$` cannot end the block early.
pub fn dollar_quoted(body: &str) -> String {
    let mut tag = "$lockstep$".to_string();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$lockstep{n}$");
    }
    format!("{tag}\n{body}\n{tag}")
}

/// `DO $lockstep$ ... $lockstep$;`: an anonymous PL/pgSQL block.
pub fn do_block(body: &str) -> String {
    format!("DO {};", dollar_quoted(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("orders"), "orders");
        assert_eq!(ident("Orders"), "\"Orders\"");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("1st"), "\"1st\"");
        assert_eq!(ident("my table"), "\"my table\"");
        assert_eq!(
            ident("orders\"; drop table x; --"),
            "\"orders\"\"; drop table x; --\""
        );
        assert_eq!(ident("zählung"), "\"zählung\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(shell("a'b; rm -rf /"), "'a'\\''b; rm -rf /'");
    }

    #[test]
    fn derived_names_fit_63_bytes() {
        let long = "é".repeat(40);
        let name = derived_name(&[&long, "idx"]);
        assert!(name.len() <= 63);
        assert!(name.is_char_boundary(name.len()));
        assert_eq!(
            derived_name(&["orders", "email", "idx"]),
            "orders_email_idx"
        );
    }

    #[test]
    fn fragments() {
        assert!(validate_fragment("varchar(64)").is_ok());
        assert!(validate_fragment("status = 'it''s; fine'").is_ok());
        assert!(validate_fragment("false; drop table x").is_err());
        assert!(validate_fragment("now(").is_err());
        assert!(validate_fragment("1 -- x").is_err());
        assert!(validate_fragment("a <> '\nDROP TABLE y; --'").is_err());
    }

    #[test]
    fn names_with_a_line_break_are_refused_on_both_engines() {
        for name in ["ord\nDROP TABLE x; --", "ord\rx", "a\u{1b}b"] {
            assert!(validate_ident(name)
                .unwrap_err()
                .contains("control character"));
            assert!(mysql::validate_ident(name)
                .unwrap_err()
                .contains("control character"));
        }
    }

    #[test]
    fn dollar_quoting_avoids_the_body() {
        assert_eq!(
            dollar_quoted("BEGIN END"),
            "$lockstep$\nBEGIN END\n$lockstep$"
        );
        let body = "SELECT 'a$lockstep$b'";
        let quoted = dollar_quoted(body);
        assert!(quoted.starts_with("$lockstep1$\n") && quoted.ends_with("\n$lockstep1$"));
    }
}

/// The one place identifiers and literals become SQL text for MySQL and MariaDB.
///
/// Identifiers are always backquoted with `` ` `` doubled (as mysqldump writes them), so no
/// name, reserved word or not, can end the identifier. Literals never depend on the
/// `NO_BACKSLASH_ESCAPES` SQL mode: a value holding a backslash is written as a hex string.
pub mod mysql {
    /// lock_wait_timeout takes whole seconds (at least 1): the plan's lock timeout rounded up.
    pub fn lock_wait_seconds(ms: u64) -> u64 {
        ms.div_ceil(1000).max(1)
    }

    /// MySQL and MariaDB names hold at most 64 characters (manual, "Identifier Length Limits").
    pub const MAX_IDENT_CHARS: usize = 64;

    /// `` `name` `` with `` ` `` doubled.
    pub fn ident(name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    /// `` `schema`.`table` `` or `` `table` ``.
    pub fn qualified(schema: Option<&str>, name: &str) -> String {
        match schema {
            Some(s) => format!("{}.{}", ident(s), ident(name)),
            None => ident(name),
        }
    }

    /// A comma-separated list of quoted identifiers.
    pub fn ident_list(names: &[String]) -> String {
        names
            .iter()
            .map(|n| ident(n))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A string literal: `'...'` with `'` doubled; a value with a backslash (whose meaning
    /// depends on the SQL mode) becomes `CONVERT(X'..' USING utf8mb4)`.
    pub fn literal(value: &str) -> String {
        if value.contains('\\') {
            let hex: String = value.bytes().map(|b| format!("{b:02X}")).collect();
            format!("CONVERT(X'{hex}' USING utf8mb4)")
        } else {
            format!("'{}'", value.replace('\'', "''"))
        }
    }

    /// A name the planner derives, cut to 64 characters as the server requires.
    pub fn derived_name(parts: &[&str]) -> String {
        parts
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("_")
            .chars()
            .take(MAX_IDENT_CHARS)
            .collect()
    }

    /// Checks a user-supplied name against MySQL's rules: not empty, at most 64 characters, no
    /// NUL, no trailing space (the server refuses each).
    pub fn validate_ident(name: &str) -> Result<(), String> {
        if name.is_empty() {
            return Err("is empty; accepts a name such as orders".to_string());
        }
        if name.contains('\0') {
            return Err("contains a NUL character, which names cannot hold".to_string());
        }
        super::control_char(name)?;
        if name.chars().count() > MAX_IDENT_CHARS {
            return Err(format!(
                "is {} characters long; MySQL and MariaDB names hold at most {MAX_IDENT_CHARS}",
                name.chars().count()
            ));
        }
        if name.ends_with(' ') {
            return Err("ends with a space, which MySQL and MariaDB names cannot".to_string());
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn hostile_names_stay_one_identifier() {
            assert_eq!(
                ident("orders`; drop table x; --"),
                "`orders``; drop table x; --`"
            );
            assert_eq!(qualified(Some("app"), "t"), "`app`.`t`");
        }

        #[test]
        fn literals_do_not_depend_on_backslash_mode() {
            assert_eq!(literal("o'k"), "'o''k'");
            assert_eq!(literal("a\\'"), "CONVERT(X'615C27' USING utf8mb4)");
        }

        #[test]
        fn derived_names_fit_64_characters() {
            let long = "é".repeat(40);
            assert_eq!(derived_name(&[&long, &long]).chars().count(), 64);
        }
    }
}

/// The SQL dialect of an engine: which quoting and which name rules apply. Code that serves
/// both engines picks it once from the engine instead of choosing a module by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
}

impl Dialect {
    /// Checks a user-supplied name against this dialect's rules.
    pub fn validate_ident(self, name: &str) -> Result<(), String> {
        match self {
            Dialect::Postgres => validate_ident(name),
            Dialect::Mysql => mysql::validate_ident(name),
        }
    }

    /// The name as this dialect writes it in SQL.
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Postgres => ident(name),
            Dialect::Mysql => mysql::ident(name),
        }
    }

    /// The most a name may hold, in this dialect's unit, for messages and tests.
    pub fn max_ident(self) -> (usize, &'static str) {
        match self {
            Dialect::Postgres => (MAX_IDENT_BYTES, "bytes"),
            Dialect::Mysql => (mysql::MAX_IDENT_CHARS, "characters"),
        }
    }
}
