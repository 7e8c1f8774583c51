//! Shared by the property tests of both engines: names generated to be hard (quotes of both
//! dialects, comment and client-command markers, line breaks, unicode, reserved words, names at
//! and one past each engine's length limit), and the checks that lex what the planner renders.

use lockstep_planner::lex::{tokens, Token};
use lockstep_planner::quote::Dialect;
use proptest::prelude::*;

/// Starts of generated names: reserved words, case, unicode, both dialects' quotes, and text
/// that ends a statement, opens a comment or runs a client command if it escapes its quotes.
const BASES: &[&str] = &[
    "orders",
    "Orders",
    "Order Items",
    "select",
    "user",
    "order",
    "table",
    "zählung",
    "注文",
    "📦box",
    "a\"b",
    "a`b",
    "a'b",
    "orders\"; drop table x; --",
    "orders`; drop table x; --",
    "hash#tag",
    "back\\slash",
    "line\ndrop table x; --",
    "$lockstep$",
    ":gate",
    "\\echo",
    "/*c*/",
];

/// A generated name and, when the engine must refuse it, what its message says.
#[derive(Debug, Clone)]
pub struct Name {
    pub text: String,
    pub refused_for: Option<&'static str>,
}

impl Name {
    pub fn valid(&self) -> bool {
        self.refused_for.is_none()
    }

    fn new(text: String, dialect: Dialect) -> Name {
        let (max, unit) = dialect.max_ident();
        let length = match dialect {
            Dialect::Postgres => text.len(),
            Dialect::Mysql => text.chars().count(),
        };
        let refused_for = if text.contains('\n') {
            Some("control character")
        } else if length > max {
            Some(if unit == "bytes" {
                "63 bytes"
            } else {
                "at most 64"
            })
        } else {
            None
        };
        Name { text, refused_for }
    }
}

/// `text` padded with `é` and `a` to exactly the dialect's limit (`over`: one unit past it).
fn at_limit(text: &str, dialect: Dialect, over: bool) -> String {
    let (max, _) = dialect.max_ident();
    let max = max + usize::from(over);
    let mut name: String = text.chars().take(8).collect();
    match dialect {
        Dialect::Postgres => {
            while name.len() + 2 <= max {
                name.push('é');
            }
            while name.len() < max {
                name.push('a');
            }
        }
        Dialect::Mysql => {
            while name.chars().count() < max {
                name.push('é');
            }
        }
    }
    name
}

/// Names for `dialect`: mostly a base with a few hard characters after it; one in six at the
/// length limit, one in twelve one past it (which the engine must refuse, as a line break).
pub fn names(dialect: Dialect) -> impl Strategy<Value = Name> {
    let base = prop::sample::select(BASES);
    let tail = "[a-z0-9_ \"'`;#\\\\$:é注-]{0,4}";
    prop_oneof![
        9 => (base.clone(), tail).prop_map(move |(b, t)| Name::new(format!("{b}{t}").trim_end().to_string(), dialect)),
        2 => base.clone().prop_map(move |b| Name::new(at_limit(b, dialect, false), dialect)),
        1 => base.prop_map(move |b| Name::new(at_limit(b, dialect, true), dialect)),
    ]
}

/// `name` as the `table` field reads it literally: quoted, its quote doubled.
pub fn table_field(name: &str, dialect: Dialect) -> String {
    let q = if dialect == Dialect::Mysql { '`' } else { '"' };
    format!("{q}{}{q}", name.replace(q, &format!("{q}{q}")))
}

/// The MySQL reserved words among [`BASES`]: bare, they are a syntax error.
const MYSQL_RESERVED: &[&str] = &["select", "order", "table"];

/// Whether `name` written bare would read as this same name in `dialect`, so that a bare
/// occurrence may be the planner's own word (MySQL's processlist has a column `user`).
/// MySQL plans backquote every name anyway; this only narrows what the leak check can tell.
fn bare_is_fine(name: &str, dialect: Dialect) -> bool {
    match dialect {
        Dialect::Postgres => dialect.ident(name) == name,
        Dialect::Mysql => {
            name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !MYSQL_RESERVED.contains(&name)
        }
    }
}

/// Whether `name` occurs in code text: as a whole word when it is one, else anywhere.
/// An occurrence only counts at word boundaries where the name itself starts or ends with a
/// word character (`order;` does not leak in `lockstep_order;`).
fn leaks(text: &str, name: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let starts_word = name.chars().next().is_some_and(word);
    let ends_word = name.chars().last().is_some_and(word);
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        let joined_before = starts_word && before.is_some_and(word);
        let joined_after = ends_word && after.is_some_and(word);
        !joined_before && !joined_after
    })
}

/// The statement a literal holds when the planner runs it (PostgreSQL `DO '...'`, MySQL
/// `PREPARE ... FROM '...'` or a statement kept in a variable), with its `''` undone.
fn executed_literal(text: &str, before: &str) -> Option<String> {
    let inner = text.replace("''", "'");
    let statement = [
        "ALTER ", "CREATE ", "DROP ", "SELECT ", "SET ", "DO ", "RENAME ", "INSERT ", "UPDATE ",
        "DELETE ", "BEGIN ",
    ]
    .iter()
    .any(|k| inner.starts_with(k));
    (statement || before.trim_end().ends_with("DO")).then_some(inner)
}

/// Lexes `sql` per `dialect` and checks what runs: every quote closes, every name in `names`
/// that needs quoting occurs only inside quotes, the hostile text never runs, and only the
/// client commands the renderer writes appear. Executed bodies and literals are checked too.
pub fn check_sql(sql: &str, dialect: Dialect, names: &[&str]) -> Result<(), String> {
    check_code(sql, dialect, names, false)
}

/// [`check_sql`]; `nested`: text the server runs (a body, a literal), where a backslash is
/// no client command.
fn check_code(sql: &str, dialect: Dialect, names: &[&str], nested: bool) -> Result<(), String> {
    let pieces = tokens(sql, dialect).map_err(|e| format!("{e} in:\n{sql}"))?;
    let clients: &[&str] = match dialect {
        Dialect::Postgres => &[
            "\\set", "\\echo", "\\if", "\\elif", "\\else", "\\endif", "\\quit", "\\prompt",
            "\\gset", "\\watch", "\\gexec",
        ],
        Dialect::Mysql => &["system"],
    };
    let mut before = "";
    for piece in &pieces {
        let code = match piece {
            Token::Bare(text) => Some(text.as_str()),
            Token::Client { command, unquoted } => {
                if !nested && !clients.contains(&command.as_str()) {
                    return Err(format!("client command {command} in:\n{sql}"));
                }
                Some(unquoted.as_str())
            }
            Token::Body(body) => {
                check_code(body, dialect, names, true)?;
                None
            }
            Token::Literal(text) => {
                if let Some(inner) = executed_literal(text, before) {
                    check_code(&inner, dialect, names, true)?;
                }
                None
            }
            Token::Ident(_) | Token::Comment(_) => None,
        };
        if let Some(code) = code {
            if code.to_lowercase().contains("drop table x") {
                return Err(format!("hostile text runs in:\n{sql}"));
            }
            for name in names.iter().filter(|n| !bare_is_fine(n, dialect)) {
                if leaks(code, name) {
                    return Err(format!("{name:?} outside quotes in {code:?} of:\n{sql}"));
                }
            }
        }
        before = match piece {
            Token::Bare(text) => text,
            _ => "",
        };
    }
    Ok(())
}

/// One statement: the only `;` outside quotes and comments ends it.
pub fn check_one_statement(sql: &str, dialect: Dialect) -> Result<(), String> {
    let pieces = tokens(sql, dialect)?;
    let semicolons: usize = pieces
        .iter()
        .map(|t| match t {
            Token::Bare(text) => text.matches(';').count(),
            _ => 0,
        })
        .sum();
    if semicolons != 1 || !sql.trim_end().ends_with(';') {
        return Err(format!("not exactly one statement:\n{sql}"));
    }
    Ok(())
}

/// The generated names of one request: the table, a column, and another (a new name, a
/// referenced table, a constraint or index name).
pub type Names = [Name; 3];

/// The names `field` carries for change `kind` (indices into [`Names`]) and its value, or
/// `None` when the field takes no name.
pub fn name_field(
    field: &str,
    kind: &str,
    names: &Names,
    dialect: Dialect,
) -> Option<(String, Vec<usize>)> {
    let [_, column, other] = names.each_ref().map(|n| n.text.as_str());
    Some(match field {
        "column" | "index" => (column.to_string(), vec![1]),
        "columns" if kind == "add-index" => (
            format!("\"{}\", customer_id", column.replace('"', "\"\"")),
            vec![1],
        ),
        "columns" => (format!("{column}, customer_id"), vec![1]),
        "new-name" | "new-table" | "name" | "type-name" => (other.to_string(), vec![2]),
        "references" => (
            format!("{}({column}, id)", table_field(other, dialect)),
            vec![1, 2],
        ),
        _ => return None,
    })
}

/// The fields holding an invalid name: where its refusal must point.
pub fn fields_of_invalid(kind: &str, names: &Names, dialect: Dialect) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if !names[0].valid() {
        fields.push("table");
    }
    for field in lockstep_planner::request::params::change_fields(kind) {
        if let Some((_, carried)) = name_field(field, kind, names, dialect) {
            if carried.iter().any(|i| !names[*i].valid()) {
                fields.push(*field);
            }
        }
    }
    fields
}
