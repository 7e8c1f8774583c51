//! What a default or USING expression calls, read with a small SQL tokenizer: whether a
//! default is volatile (one value per row, so ADD COLUMN rewrites) and which functions the
//! preflight must find in the catalog.

/// Functions whose default value differs per row: an ADD COLUMN ... DEFAULT with one of these
/// rewrites the table on every version. Source: `pg_proc.provolatile = 'v'`.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "clock_timestamp",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "nextval",
    "timeofday",
    "txid_current",
    "setseed",
];

/// Non-volatile functions commonly used in defaults (`now()` and friends are STABLE: evaluated
/// once per statement, so catalog-only from 11).
const NON_VOLATILE_FUNCTIONS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "statement_timestamp",
    "transaction_timestamp",
    "current_user",
    "session_user",
    "lower",
    "upper",
    "coalesce",
    "to_timestamp",
    "make_date",
    "jsonb_build_object",
    "json_build_object",
    "array",
    "interval",
];

/// How a default expression behaves when PostgreSQL evaluates it for existing rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultKind {
    /// Constants and STABLE/IMMUTABLE calls: one value for every existing row.
    NonVolatile,
    /// A known volatile function: one value per row, so the table is rewritten.
    Volatile,
    /// A call the planner does not know: treated as volatile, the safe reading.
    Unknown,
}

/// Classifies a default expression by the function calls it contains.
pub fn classify_default(expr: &str) -> DefaultKind {
    let lower = expr.to_ascii_lowercase();
    let mut kind = DefaultKind::NonVolatile;
    for name in function_calls(&lower) {
        if VOLATILE_FUNCTIONS.contains(&name.as_str()) {
            return DefaultKind::Volatile;
        }
        if !NON_VOLATILE_FUNCTIONS.contains(&name.as_str()) {
            kind = DefaultKind::Unknown;
        }
    }
    kind
}

/// The unqualified names of the functions an expression calls ([`called_functions`]).
fn function_calls(expr: &str) -> Vec<String> {
    called_functions(expr).into_iter().map(|c| c.name).collect()
}

/// A function an expression calls: its schema when written qualified, and its name, both as
/// the catalog spells them (unquoted identifiers folded to lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalledFunction {
    pub schema: Option<String>,
    pub name: String,
}

/// Words that are followed by `(` in SQL but are grammar, not a lookup of a function by that
/// name in `pg_proc`: `coalesce`, `cast`, `trim`, `current_timestamp(3)` ... and the operators
/// and clauses around a parenthesis (`NOT (`, `IN (`). Checking them against the catalog would
/// report them missing (there is no `pg_proc` row named `coalesce` or `trim`).
const CALL_LIKE_KEYWORDS: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "between",
    "case",
    "cast",
    "coalesce",
    "collate",
    "current_time",
    "current_timestamp",
    "distinct",
    "else",
    "exists",
    "extract",
    "filter",
    "from",
    "greatest",
    "grouping",
    "ilike",
    "in",
    "is",
    "least",
    "like",
    "localtime",
    "localtimestamp",
    "not",
    "nullif",
    "on",
    "or",
    "over",
    "overlay",
    "position",
    "row",
    "select",
    "similar",
    "some",
    "substring",
    "then",
    "treat",
    "trim",
    "using",
    "values",
    "when",
    "where",
    "within",
    "xmlelement",
    "xmlforest",
    "xmlparse",
    "xmlpi",
    "xmlroot",
    "xmlserialize",
];

/// One lexical token of an expression, as far as finding calls needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An identifier or keyword, as the catalog spells it; `quoted` if written in `"..."`.
    Name {
        text: String,
        quoted: bool,
    },
    Punct(char),
    /// `::`, a cast: the name after it is a type.
    Cast,
    /// A string or number literal.
    Literal,
}

/// Splits an expression into tokens: string literals (`'...'` with `''`, `E'...'` with
/// backslash escapes) and quoted identifiers kept whole, unquoted identifiers folded.
fn tokens(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            // E'..' allows backslash escapes: the E is the token just before, touching.
            let escapes = matches!(out.last(), Some(Token::Name { text, quoted: false }) if text == "e")
                && i > 0
                && chars[i - 1].eq_ignore_ascii_case(&'e');
            if escapes {
                out.pop();
            }
            i += 1;
            while i < chars.len() {
                if escapes && chars[i] == '\\' {
                    i += 2;
                    continue;
                }
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Literal);
        } else if c == '"' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == '"' {
                    if chars.get(i + 1) == Some(&'"') {
                        text.push('"');
                        i += 2;
                        continue;
                    }
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push(Token::Name { text, quoted: true });
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect::<String>().to_lowercase();
            out.push(Token::Name {
                text,
                quoted: false,
            });
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Literal);
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            i += 2;
            out.push(Token::Cast);
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The functions an expression calls: every name (possibly `schema.name`) followed by `(`,
/// except grammar keywords (`CALL_LIKE_KEYWORDS`) and type names after `::` or `AS` (a
/// cast's `varchar(10)` is a type, not a call).
pub fn called_functions(expr: &str) -> Vec<CalledFunction> {
    let toks = tokens(expr);
    let mut calls: Vec<CalledFunction> = Vec::new();
    for (i, tok) in toks.iter().enumerate() {
        let Token::Name { text, quoted } = tok else {
            continue;
        };
        if toks.get(i + 1) != Some(&Token::Punct('(')) {
            continue;
        }
        if !quoted && CALL_LIKE_KEYWORDS.contains(&text.as_str()) {
            continue;
        }
        // `schema.name(`: the schema is the name two tokens back, across a dot.
        let (schema, first) = match (
            i.checked_sub(2).map(|j| &toks[j]),
            i.checked_sub(1).map(|j| &toks[j]),
        ) {
            (Some(Token::Name { text: s, .. }), Some(Token::Punct('.'))) => {
                (Some(s.clone()), i - 2)
            }
            _ => (None, i),
        };
        let before = first.checked_sub(1).map(|j| &toks[j]);
        let is_type = matches!(before, Some(Token::Cast))
            || matches!(before, Some(Token::Name { text, quoted: false }) if text == "as");
        let call = CalledFunction {
            schema,
            name: text.clone(),
        };
        if !is_type && !calls.contains(&call) {
            calls.push(call);
        }
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        assert_eq!(classify_default("false"), DefaultKind::NonVolatile);
        assert_eq!(classify_default("'pending'"), DefaultKind::NonVolatile);
        assert_eq!(classify_default("now()"), DefaultKind::NonVolatile);
        assert_eq!(classify_default("gen_random_uuid()"), DefaultKind::Volatile);
        assert_eq!(
            classify_default("pg_catalog.random()"),
            DefaultKind::Volatile
        );
        assert_eq!(classify_default("my_func()"), DefaultKind::Unknown);
        assert_eq!(classify_default("'random()'"), DefaultKind::NonVolatile);
        assert_eq!(classify_default("now ()"), DefaultKind::NonVolatile);
        assert_eq!(
            classify_default("false OR random() > 0.5"),
            DefaultKind::Volatile
        );
    }

    #[test]
    fn calls_found_by_the_tokenizer() {
        let names = |e: &str| -> Vec<(Option<String>, String)> {
            called_functions(e)
                .into_iter()
                .map(|c| (c.schema, c.name))
                .collect()
        };
        let plain = |n: &str| (None, n.to_string());
        assert_eq!(names("gen_random_uuid()"), [plain("gen_random_uuid")]);
        assert_eq!(names("NOW ()"), [plain("now")]);
        assert_eq!(
            names("coalesce(f('a(b'), g(x::varchar(10)))"),
            [plain("f"), plain("g")]
        );
        assert_eq!(names("CAST(x AS numeric(10, 2))"), []);
        assert_eq!(names("E'it\\'s h(' || k()"), [plain("k")]);
        assert_eq!(names("\"MyFn\"(1) + \"MyFn\"(2)"), [plain("MyFn")]);
        assert_eq!(
            names("App.Next_Id()"),
            [(Some("app".to_string()), "next_id".to_string())]
        );
        assert_eq!(names("x IN (1, 2) AND NOT (y)"), []);
    }

    proptest::proptest! {
        /// Any text tokenizes without a panic, and every call found is a non-empty name.
        #[test]
        fn finding_calls_never_panics(text in "[a-zA-Z_ ().:,'\"\\\\0-9é]{0,40}") {
            for call in called_functions(&text) {
                proptest::prop_assert!(!call.name.is_empty() || text.contains("\"\""));
            }
        }
    }
}
