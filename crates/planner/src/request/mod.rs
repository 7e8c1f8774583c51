//! The request: what the user wants changed, on which database, how big, within which budget.
//!
//! [`Request::from_params`] validates every field at once and returns every problem, each
//! naming its field and what the field accepts.

pub mod change;
pub mod params;
pub mod share;

pub use change::{Change, CHANGE_KINDS};

use crate::model::Warning;
pub use crate::model::{Engine, Version};
use crate::quote::{validate_fragment, Dialect};
use params::{accepts, flag, Params};
use serde::Serialize;
use std::fmt;

/// A problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// On a `max-downtime` too short for the change: the shortest budget that plans, in
    /// milliseconds rounded up. Programs (the live verifier) read this, never the message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_budget_ms: Option<u64>,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
            min_budget_ms: None,
        }
    }

    /// `max-downtime` is too short: the change blocks traffic for up to `seconds`.
    pub fn budget_too_short(message: impl Into<String>, seconds: f64) -> Self {
        Self {
            min_budget_ms: Some((seconds * 1000.0).ceil() as u64),
            ..Self::new("max-downtime", message)
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The database the plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Database {
    pub engine: Engine,
    pub version: Version,
}

/// Index access methods PostgreSQL ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexMethod {
    Btree,
    Hash,
    Gin,
    Gist,
    Brin,
    Spgist,
}

impl IndexMethod {
    pub fn name(self) -> &'static str {
        match self {
            IndexMethod::Btree => "btree",
            IndexMethod::Hash => "hash",
            IndexMethod::Gin => "gin",
            IndexMethod::Gist => "gist",
            IndexMethod::Brin => "brin",
            IndexMethod::Spgist => "spgist",
        }
    }
}

/// One key of an index: a column or an expression, with how it is ordered and compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexKey {
    pub target: KeyTarget,
    pub collate: Option<String>,
    /// Operator class (PostgreSQL), e.g. `text_pattern_ops`; may be schema-qualified.
    pub opclass: Option<String>,
    pub descending: bool,
    /// `NULLS FIRST` (true) or `NULLS LAST` (false), when given.
    pub nulls_first: Option<bool>,
}

/// What an index key indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum KeyTarget {
    /// A column name, raw as in the catalog.
    Column(String),
    /// An SQL expression (`lower(email)`), checked for balance, pasted in parentheses.
    Expression(String),
}

impl IndexKey {
    pub fn column(name: &str) -> IndexKey {
        IndexKey {
            target: KeyTarget::Column(name.to_string()),
            collate: None,
            opclass: None,
            descending: false,
            nulls_first: None,
        }
    }

    /// The column, when the key is a plain column.
    pub fn column_name(&self) -> Option<&str> {
        match &self.target {
            KeyTarget::Column(c) => Some(c),
            KeyTarget::Expression(_) => None,
        }
    }

    /// True when nothing but the column is given.
    pub fn is_plain_column(&self) -> bool {
        self.column_name().is_some()
            && self.collate.is_none()
            && self.opclass.is_none()
            && !self.descending
            && self.nulls_first.is_none()
    }

    /// The part of a derived index name: the column, or the expression's words
    /// (`lower(email)` -> `lower_email`).
    pub fn name_part(&self) -> String {
        match &self.target {
            KeyTarget::Column(c) => c.clone(),
            KeyTarget::Expression(e) => e
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join("_"),
        }
    }
}

/// What the `columns` field of add-index accepts, for its messages.
const KEYS_SHAPE: &str = "accepts columns and expressions separated by commas, each optionally followed by ASC or DESC, NULLS FIRST or NULLS LAST, COLLATE and an operator class: customer_id, created_at DESC, lower(email), name text_pattern_ops; a column whose name has a space or a parenthesis goes in double quotes";

/// `customer_id, created_at DESC NULLS LAST, lower(email), "odd name"`.
pub fn parse_index_keys(raw: &str) -> Result<Vec<IndexKey>, String> {
    let mut keys: Vec<IndexKey> = Vec::new();
    for element in split_top_level(raw) {
        let key = parse_index_key(element.trim())?;
        if keys.iter().any(|k| k.target == key.target) {
            return Err(format!("names {} twice", shown(element.trim())));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// Splits at commas outside parentheses and quotes (`date_trunc('day', t), a` is two parts).
fn split_top_level(raw: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut quote, mut start) = (0i32, None, 0);
    for (i, c) in raw.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ',') if depth == 0 => {
                parts.push(&raw[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&raw[start..]);
    parts
}

fn parse_index_key(element: &str) -> Result<IndexKey, String> {
    if element.is_empty() {
        return Err(format!("has an empty entry; {KEYS_SHAPE}"));
    }
    let (target, rest) = if let Some(quoted) = element.strip_prefix('"') {
        let (name, rest) = read_quoted(quoted, '"')
            .ok_or_else(|| format!("{} has an unclosed \"; {KEYS_SHAPE}", shown(element)))?;
        (KeyTarget::Column(name), rest)
    } else {
        let word_end = element
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(element.len());
        if element[word_end..].starts_with('(') {
            let end = balanced_end(element, word_end)
                .ok_or_else(|| format!("{} has an unclosed (; {KEYS_SHAPE}", shown(element)))?;
            let expression = &element[..end];
            validate_fragment(expression).map_err(|m| format!("{}: {m}", shown(expression)))?;
            (
                KeyTarget::Expression(expression.to_string()),
                &element[end..],
            )
        } else {
            (
                KeyTarget::Column(element[..word_end].to_string()),
                &element[word_end..],
            )
        }
    };
    let mut key = IndexKey {
        target,
        ..IndexKey::column("")
    };
    key_options(&mut key, rest).map_err(|m| format!("{}: {m}; {KEYS_SHAPE}", shown(element)))?;
    Ok(key)
}

/// The text after an opening quote up to its closing quote (doubled inside), and the rest.
fn read_quoted(text: &str, q: char) -> Option<(String, &str)> {
    let mut name = String::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == q {
            if chars.peek().map(|(_, d)| *d) == Some(q) {
                chars.next();
                name.push(q);
            } else {
                return Some((name, &text[i + 1..]));
            }
        } else {
            name.push(c);
        }
    }
    None
}

/// The byte just past the parenthesis that closes the one at `open`, skipping quotes.
fn balanced_end(text: &str, open: usize) -> Option<usize> {
    let (mut depth, mut quote) = (0i32, None);
    for (i, c) in text[open..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// `DESC NULLS LAST`, `COLLATE "C"`, `text_pattern_ops`, in any order.
fn key_options(key: &mut IndexKey, text: &str) -> Result<(), String> {
    let mut words = text.split_whitespace();
    while let Some(word) = words.next() {
        match word.to_ascii_lowercase().as_str() {
            "asc" => key.descending = false,
            "desc" => key.descending = true,
            "nulls" => {
                key.nulls_first = match words.next().map(str::to_ascii_lowercase).as_deref() {
                    Some("first") => Some(true),
                    Some("last") => Some(false),
                    _ => return Err("NULLS is followed by FIRST or LAST".to_string()),
                }
            }
            "collate" => {
                let name = words.next().ok_or("COLLATE is followed by a collation")?;
                let name = match name.strip_prefix('"') {
                    Some(q) => read_quoted(q, '"')
                        .filter(|(_, rest)| rest.is_empty())
                        .map(|(n, _)| n)
                        .ok_or("the collation's quotes do not close")?,
                    None => name.to_string(),
                };
                key.collate = Some(name);
            }
            _ if key.opclass.is_none() && is_plain_name(word) => {
                // Unquoted, so folded to lower case as the server folds it.
                key.opclass = Some(word.to_ascii_lowercase())
            }
            _ => {
                return Err(format!(
                    "{} is not an ordering, collation or operator class",
                    shown(word)
                ))
            }
        }
    }
    Ok(())
}

/// `text_pattern_ops` or `public.my_ops`: letters, digits and `_`, dot-separated.
fn is_plain_name(word: &str) -> bool {
    word.split('.').all(|part| {
        part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Facts about the table and the environment the user may know; defaults are stated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    /// Primary key column; `None` when the table has no primary key.
    pub primary_key: Option<String>,
    /// Peak rows written per second, when known.
    pub write_rate: Option<u64>,
    pub pg_repack: bool,
    pub replicas: bool,
    /// The table has foreign keys, or other tables reference it.
    pub foreign_keys: bool,
    /// Online-schema-change tools the user allows (MySQL family).
    pub osc_tools: Vec<OscTool>,
}

/// Online-schema-change tools for MySQL and MariaDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OscTool {
    GhOst,
    PtOnlineSchemaChange,
    Spirit,
}

impl OscTool {
    pub const ALL: [OscTool; 3] = [
        OscTool::GhOst,
        OscTool::PtOnlineSchemaChange,
        OscTool::Spirit,
    ];

    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            OscTool::GhOst => "gh-ost",
            OscTool::PtOnlineSchemaChange => "pt-online-schema-change",
            OscTool::Spirit => "spirit",
        }
    }
}

fn parse_osc_tools(raw: &str) -> Result<Vec<OscTool>, String> {
    let mut tools = Vec::new();
    for word in raw.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let tool = match word.to_ascii_lowercase().as_str() {
            "gh-ost" | "ghost" => OscTool::GhOst,
            "pt-online-schema-change" | "pt-osc" => OscTool::PtOnlineSchemaChange,
            "spirit" => OscTool::Spirit,
            other => {
                return Err(format!(
                    "{} is not a tool Lockstep plans with; {}",
                    shown(other),
                    accepts("osc-tools")
                ))
            }
        };
        if !tools.contains(&tool) {
            tools.push(tool);
        }
    }
    Ok(tools)
}

/// Overrides of the duration model's assumptions; `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Overrides {
    pub lock_timeout_ms: Option<u64>,
    pub batch_size: Option<u64>,
    pub backfill_rows_per_sec: Option<u64>,
    pub rewrite_mb_per_sec: Option<u64>,
    pub scan_mb_per_sec: Option<u64>,
    pub index_mb_per_sec: Option<u64>,
}

/// A validated request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    pub db: Database,
    pub schema: Option<String>,
    pub table: String,
    pub change: Change,
    pub rows: u64,
    pub bytes: u64,
    pub max_downtime_ms: u64,
    pub env: Environment,
    pub overrides: Overrides,
}

/// Collects field errors while parsing, so every problem is reported at once.
struct Parser<'a> {
    params: &'a Params,
    errors: Vec<FieldError>,
    /// The engine, once `db` parsed: names are checked against its rules.
    engine: Option<Engine>,
}

impl<'a> Parser<'a> {
    fn error(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    fn required(&mut self, field: &str) -> Option<&'a str> {
        let value = self.params.get(field);
        if value.is_none() {
            self.error(field, format!("is required; accepts {}", accepts(field)));
        }
        value
    }

    fn ident(&mut self, field: &str) -> String {
        match self.required(field) {
            Some(v) => self.check_ident(field, v),
            None => String::new(),
        }
    }

    fn optional_ident(&mut self, field: &str) -> Option<String> {
        let v = self.params.get(field)?;
        Some(self.check_ident(field, v))
    }

    fn check_ident(&mut self, field: &str, value: &str) -> String {
        if let Err(message) = self.name_rule(value) {
            self.error(field, message);
        }
        value.to_string()
    }

    /// The engine's name rule; before `db` is known (or when it is invalid), PostgreSQL's,
    /// the stricter of the two on length.
    fn name_rule(&self, name: &str) -> Result<(), String> {
        self.engine
            .map_or(Dialect::Postgres, Engine::dialect)
            .validate_ident(name)
    }

    fn ident_list(&mut self, field: &str) -> Vec<String> {
        let Some(raw) = self.required(field) else {
            return Vec::new();
        };
        let names: Vec<String> = raw.split(',').map(|s| s.trim().to_string()).collect();
        if names.iter().any(|n| n.is_empty()) {
            self.error(
                field,
                "has an empty name; accepts a comma-separated list such as a,b",
            );
        }
        for name in names.iter().filter(|n| !n.is_empty()) {
            if let Err(message) = self.name_rule(name) {
                self.error(field, format!("{}: {message}", shown(name)));
            } else if looks_like_a_key(name) {
                self.error(
                    field,
                    format!(
                        "{} looks like an expression or an ordering, but this change takes column names; an index on an expression or with DESC is add-index",
                        shown(name)
                    ),
                );
            }
        }
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                self.error(field, format!("names {} twice", shown(name)));
            }
        }
        names
    }

    /// The `schema` field and the `table` field, which may itself be `schema.table`; the
    /// schema may be given in one place or the other, or the same in both.
    fn schema_and_table(&mut self) -> (Option<String>, String) {
        let schema_field = self.optional_ident("schema");
        let Some(raw) = self.required("table") else {
            return (schema_field, String::new());
        };
        let (qualifier, table) = match split_qualified(raw) {
            Ok(parts) => parts,
            Err(message) => {
                self.error("table", message);
                return (schema_field, raw.to_string());
            }
        };
        let table = self.check_ident("table", &table);
        let Some(qualifier) = qualifier else {
            return (schema_field, table);
        };
        let qualifier = self.check_ident("table", &qualifier);
        if schema_field.as_ref().is_some_and(|s| *s != qualifier) {
            self.error(
                "table",
                format!(
                    "names the schema {} but {} says {}; give the schema in one place",
                    shown(&qualifier),
                    flag("schema"),
                    shown(schema_field.as_deref().unwrap_or_default())
                ),
            );
        }
        (Some(qualifier), table)
    }

    fn index_keys(&mut self, field: &str) -> Vec<IndexKey> {
        let Some(raw) = self.required(field) else {
            return Vec::new();
        };
        match parse_index_keys(raw) {
            Ok(keys) => {
                for name in keys.iter().filter_map(IndexKey::column_name) {
                    self.check_ident(field, name);
                }
                keys
            }
            Err(message) => {
                self.error(field, message);
                Vec::new()
            }
        }
    }

    fn fragment(&mut self, field: &str) -> String {
        match self.required(field) {
            Some(v) => self.check_fragment(field, v),
            None => String::new(),
        }
    }

    fn optional_fragment(&mut self, field: &str) -> Option<String> {
        let v = self.params.get(field)?;
        Some(self.check_fragment(field, v))
    }

    fn check_fragment(&mut self, field: &str, value: &str) -> String {
        if let Err(message) = validate_fragment(value) {
            self.error(field, message);
        }
        value.to_string()
    }

    fn flag(&mut self, field: &str) -> bool {
        match self
            .params
            .get(field)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("false") | Some("no") | Some("0") | Some("off") => false,
            Some("true") | Some("yes") | Some("1") | Some("on") => true,
            Some(other) => {
                self.error(
                    field,
                    format!(
                        "{} is not a yes/no value; accepts true or false",
                        shown(other)
                    ),
                );
                false
            }
        }
    }

    fn parsed<T>(&mut self, field: &str, parse: fn(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.params.get(field)?;
        match parse(raw) {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(field, message);
                None
            }
        }
    }
}

impl Request {
    /// Validates raw parameters. Every error names its field and what the field accepts.
    pub fn from_params(params: &Params) -> Result<Request, Vec<FieldError>> {
        let mut p = Parser {
            params,
            errors: Vec::new(),
            engine: None,
        };
        for name in params.unknown_names() {
            p.error(
                name,
                "is not a parameter Lockstep knows; see `lockstep plan --help`",
            );
        }
        let db = p.required("db").and_then(|raw| match parse_database(raw) {
            Ok(db) => Some(db),
            Err(message) => {
                p.error("db", message);
                None
            }
        });
        p.engine = db.map(|d| d.engine);
        let (schema, table) = p.schema_and_table();
        let change = change::parse_change(&mut p, schema.as_deref());
        let rows = p.required("rows").and(p.parsed("rows", parse_count));
        let bytes = p.required("size").and(p.parsed("size", parse_bytes));
        let max_downtime_ms = p
            .required("max-downtime")
            .and(p.parsed("max-downtime", parse_duration_ms));
        let primary_key = match params.get("primary-key") {
            Some(v) if v.eq_ignore_ascii_case("none") => None,
            Some(v) => Some(p.check_ident("primary-key", v)),
            None => Some("id".to_string()),
        };
        let env = Environment {
            primary_key,
            write_rate: p.parsed("write-rate", parse_count),
            pg_repack: p.flag("pg-repack"),
            replicas: p.flag("replicas"),
            foreign_keys: p.flag("foreign-keys"),
            osc_tools: p
                .parsed("osc-tools", parse_osc_tools)
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| OscTool::ALL.to_vec()),
        };
        let overrides = Overrides {
            lock_timeout_ms: p.parsed("lock-timeout", parse_duration_ms),
            batch_size: p.parsed("batch-size", parse_positive),
            backfill_rows_per_sec: p.parsed("backfill-rows-per-sec", parse_positive),
            rewrite_mb_per_sec: p.parsed("rewrite-mb-per-sec", parse_positive),
            scan_mb_per_sec: p.parsed("scan-mb-per-sec", parse_positive),
            index_mb_per_sec: p.parsed("index-mb-per-sec", parse_positive),
        };
        if overrides.lock_timeout_ms == Some(0) {
            p.error("lock-timeout", "must be above 0: a DDL statement without a lock_timeout can stall all traffic while it queues");
        }
        match (db, change, rows, bytes, max_downtime_ms) {
            (Some(db), Some(change), Some(rows), Some(bytes), Some(max_downtime_ms))
                if p.errors.is_empty() =>
            {
                Ok(Request {
                    db,
                    schema,
                    table,
                    change,
                    rows,
                    bytes,
                    max_downtime_ms,
                    env,
                    overrides,
                })
            }
            _ => Err(p.errors),
        }
    }
}

/// `lower(email)`, `created_at DESC`, `a NULLS LAST`: what add-index reads as a key, never
/// meant as a column name where a change takes only names.
fn looks_like_a_key(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let call = lower.ends_with(')')
        && lower.split_once('(').is_some_and(|(f, _)| {
            !f.is_empty() && f.chars().all(|c| c.is_alphanumeric() || c == '_')
        });
    let ordered = [" asc", " desc", " nulls first", " nulls last"]
        .iter()
        .any(|s| lower.ends_with(s));
    call || ordered
}

/// `orders` -> (None, `orders`); `public.orders` -> (`public`, `orders`); a part in double
/// quotes or backquotes is taken literally, with the quote doubled inside, so `"my.table"` is
/// one name holding a dot. On MySQL and MariaDB the qualifier is the database.
pub fn split_qualified(raw: &str) -> Result<(Option<String>, String), String> {
    let shape = "accepts table or schema.table; a name holding a dot goes in double quotes, e.g. \"my.table\"";
    let mut parts = Vec::new();
    let mut chars = raw.trim().chars().peekable();
    loop {
        let mut part = String::new();
        match chars.peek().copied() {
            Some(q @ ('"' | '`')) => {
                chars.next();
                loop {
                    match chars.next() {
                        Some(c) if c == q && chars.peek() == Some(&q) => {
                            chars.next();
                            part.push(q);
                        }
                        Some(c) if c == q => break,
                        Some(c) => part.push(c),
                        None => return Err(format!("{} has an unclosed {q}; {shape}", shown(raw))),
                    }
                }
                if !matches!(chars.peek(), None | Some('.')) {
                    return Err(format!(
                        "{} has text after a closing {q}; {shape}",
                        shown(raw)
                    ));
                }
            }
            _ => {
                while let Some(c) = chars.next_if(|c| *c != '.') {
                    part.push(c);
                }
                part = part.trim().to_string();
                if part.is_empty() {
                    return Err(format!("{} has an empty name; {shape}", shown(raw)));
                }
            }
        }
        parts.push(part);
        if chars.next().is_none() {
            break;
        }
    }
    match <[String; 2]>::try_from(parts) {
        Ok([schema, table]) => Ok((Some(schema), table)),
        Err(mut parts) if parts.len() == 1 => Ok((None, parts.remove(0))),
        Err(parts) => Err(format!(
            "{} has {} dot-separated parts; {shape}",
            shown(raw),
            parts.len()
        )),
    }
}

/// Fewest and most bytes a row plausibly takes on disk: a PostgreSQL row header alone is 24
/// bytes, an InnoDB record header 5 plus its 6-byte transaction id; a row of a megabyte is
/// almost always TOAST or off-page BLOBs counted twice, or a size given in the wrong unit.
pub const PLAUSIBLE_BYTES_PER_ROW: (f64, f64) = (10.0, 1024.0 * 1024.0);

impl Request {
    /// Warnings about the inputs themselves: a size that does not fit the row count (the
    /// durations are estimated from the size, so a wrong one misplans silently).
    pub fn input_warnings(&self) -> Vec<Warning> {
        let mut warnings = Vec::new();
        if self.rows == 0 {
            return warnings;
        }
        let per_row = self.bytes as f64 / self.rows as f64;
        let (low, high) = PLAUSIBLE_BYTES_PER_ROW;
        if per_row < low || per_row > high {
            warnings.push(Warning {
                code: "size-per-row".to_string(),
                message: format!(
                    "{} rows in {} is {} bytes per row, {} than rows usually take ({} to {} bytes). Every duration in this plan is estimated from the table size: check the row count and the size on disk (pg_total_relation_size, or data_length + index_length on MySQL).",
                    self.rows,
                    crate::model::human_bytes(self.bytes),
                    per_row_text(per_row),
                    if per_row < low { "fewer" } else { "more" },
                    low,
                    high
                ),
            });
        }
        warnings
    }
}

/// `0.02`, `12`, `209715200`: the ratio with as many decimals as it needs to read.
fn per_row_text(per_row: f64) -> String {
    if per_row < 1.0 {
        format!("{per_row:.2}")
    } else {
        format!("{per_row:.0}")
    }
}

/// What the `db` parameter accepts, for every message about it.
const DB_ACCEPTS: &str = "accepts postgresql@10 to postgresql@18 (optional minor: postgresql@14.3), mysql@5.7, mysql@8.0.<patch> or mysql@8.4 (e.g. mysql@8.0.35), mariadb@10.3 to mariadb@11.x (e.g. mariadb@10.11.6)";

/// `postgresql@16`, `postgresql@14.3`, `pg@18.1`, `mysql@8.0.35`, `mariadb@10.11.6`, and the
/// way engineers write them elsewhere: `PostgreSQL 16`, `postgres 16`, `pg16`, `pg 16`,
/// `mysql 8.0.35`, `MariaDB 10.11`. A bare version (`16`) gets a "did you mean".
pub fn parse_database(raw: &str) -> Result<Database, String> {
    let (engine, version) = split_database(raw)?;
    let engine = match engine.to_ascii_lowercase().as_str() {
        "postgresql" | "postgres" | "pg" => Engine::Postgresql,
        "mysql" => Engine::Mysql,
        "mariadb" => Engine::Mariadb,
        "" => return Err(did_you_mean(raw)),
        _ => {
            return Err(format!(
                "{} is not a supported database; {DB_ACCEPTS}",
                shown(engine)
            ))
        }
    };
    let version = parse_version(engine, version)?;
    Ok(Database { engine, version })
}

/// `postgresql@16`, `PostgreSQL 16`, `pg16` -> (`postgresql`, `16`): the name is the letters
/// before the version, with an `@` or spaces or nothing between.
fn split_database(raw: &str) -> Result<(&str, &str), String> {
    let raw = raw.trim();
    if let Some((engine, version)) = raw.split_once('@') {
        return Ok((engine.trim(), version.trim()));
    }
    let name_end = raw
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(raw.len());
    let (engine, version) = (&raw[..name_end], raw[name_end..].trim());
    if version.is_empty() {
        return Err(format!("{} has no version; {DB_ACCEPTS}", shown(raw)));
    }
    Ok((engine, version))
}

/// For a version without a database name: the databases it could be, or what is accepted.
fn did_you_mean(raw: &str) -> String {
    let raw = raw.trim();
    let candidates: Vec<String> = [Engine::Postgresql, Engine::Mysql, Engine::Mariadb]
        .into_iter()
        .filter_map(|e| {
            parse_version(e, raw)
                .ok()
                .map(|v| format!("{}@{v}", e.name()))
        })
        .collect();
    if candidates.is_empty() {
        format!("{} has no database name; {DB_ACCEPTS}", shown(raw))
    } else {
        format!(
            "{} has no database name: did you mean {}?",
            shown(raw),
            candidates.join(" or ")
        )
    }
}

/// `16`, `14.3`, `8.0.35` for `engine`, within the versions Lockstep plans for.
fn parse_version(engine: Engine, version: &str) -> Result<Version, String> {
    let parts: Vec<&str> = version.trim().split('.').collect();
    let numbers: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
    let numbers = numbers
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("{} is not a version; {DB_ACCEPTS}", shown(version)))?;
    let max_parts = if engine == Engine::Postgresql { 2 } else { 3 };
    if numbers.len() > max_parts {
        return Err(format!(
            "{} has too many parts: {} numbers releases {}; {DB_ACCEPTS}",
            shown(version),
            engine.label(),
            if max_parts == 2 {
                "major.minor"
            } else {
                "major.minor.patch"
            }
        ));
    }
    let version = Version {
        major: numbers[0],
        minor: numbers.get(1).copied(),
        patch: numbers.get(2).copied(),
    };
    let supported = match engine {
        Engine::Postgresql => (10..=18).contains(&version.major),
        // 8.0 and 8.4 are the supported lines; 5.7 is end-of-life but still common.
        Engine::Mysql => matches!(
            (version.major, version.minor),
            (5, Some(7)) | (8, Some(0)) | (8, Some(4))
        ),
        Engine::Mariadb => {
            (version.major == 10 && version.minor.is_some_and(|m| m >= 3)) || version.major == 11
        }
    };
    if !supported {
        return Err(format!(
            "{} {version} is not supported; {DB_ACCEPTS}",
            engine.label()
        ));
    }
    Ok(version)
}

/// The canonical spelling of a `db` value (`PostgreSQL 16` -> `postgresql@16`), for share
/// links; a value that does not parse is kept as typed, so the link reproduces the error.
pub fn canonical_database(raw: &str) -> String {
    parse_database(raw).map_or_else(|_| raw.to_string(), |db| db.to_string())
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.engine.name(), self.version)
    }
}

fn parse_method(raw: &str) -> Result<IndexMethod, String> {
    Ok(match raw.to_ascii_lowercase().as_str() {
        "btree" => IndexMethod::Btree,
        "hash" => IndexMethod::Hash,
        "gin" => IndexMethod::Gin,
        "gist" => IndexMethod::Gist,
        "brin" => IndexMethod::Brin,
        "spgist" => IndexMethod::Spgist,
        other => {
            return Err(format!(
                "{} is not an index method; accepts {}",
                shown(other),
                accepts("method")
            ))
        }
    })
}

/// `orders(id)`, `orders(a, b)` or `public.orders(id)`: (schema, table, columns).
/// Each name is checked with `name_rule`, the engine's.
fn parse_reference(
    raw: &str,
    name_rule: impl Fn(&str) -> Result<(), String>,
) -> Result<(Option<String>, String, Vec<String>), String> {
    let shape = "accepts table(column) or table(a, b), e.g. customers(id)";
    let open = raw
        .find('(')
        .ok_or_else(|| format!("{} has no (column); {shape}", shown(raw)))?;
    let inner = raw[open + 1..]
        .strip_suffix(')')
        .ok_or_else(|| format!("{} does not end with ); {shape}", shown(raw)))?;
    let (schema, table) = split_qualified(&raw[..open])?;
    name_rule(&table).map_err(|m| format!("table {}: {m}", shown(&table)))?;
    let columns: Vec<String> = inner.split(',').map(|c| c.trim().to_string()).collect();
    for c in &columns {
        name_rule(c).map_err(|m| format!("column {}: {m}", shown(c)))?;
    }
    Ok((schema, table, columns))
}

/// How a field's numbers may group thousands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grouping {
    /// Only `_` (`500_000`): in a size or a duration `1,5` may be a decimal comma.
    Underscore,
    /// Also `1,000,000` in a whole count without a suffix, where a decimal comma would mean a
    /// fraction of a row and so cannot be meant.
    CommasInWholeCounts,
}

/// Splits `1.2B` into the number and the unit, tolerating spaces and `_` separators, and
/// refusing separators that read two ways (`1,5TB`, `1.000.000`, `1.500GB`).
fn split_number(raw: &str, grouping: Grouping) -> Result<(f64, String), String> {
    let cleaned: String = raw.trim().chars().filter(|c| *c != '_').collect();
    let end = cleaned
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(cleaned.len());
    let (digits, unit) = (&cleaned[..end], cleaned[end..].trim().to_string());
    if !digits.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!("{} is not a number", shown(raw)));
    }
    let digits = if digits.contains(',') {
        if grouping == Grouping::CommasInWholeCounts && unit.is_empty() && is_comma_grouped(digits)
        {
            digits.replace(',', "")
        } else {
            return Err(format!(
                "{} is ambiguous: a comma is a decimal point in some languages and groups thousands in others; write the decimal with a point (1.5) and group thousands with _ (1_500)",
                shown(raw)
            ));
        }
    } else {
        digits.to_string()
    };
    if digits.matches('.').count() > 1 {
        return Err(format!(
            "{} is ambiguous: points group thousands in some languages; write 1000000, 1_000_000 or 1M",
            shown(raw)
        ));
    }
    if let Some((whole, fraction)) = digits.split_once('.') {
        if fraction.len() == 3 && !whole.starts_with('0') && whole.len() <= 3 {
            return Err(format!(
                "{} is ambiguous: {whole}.{fraction} may be {whole} and a fraction or {whole}{fraction} with the point grouping thousands; write {whole}{fraction} or {whole}_{fraction} for the thousands, or drop the trailing zeros of a fraction",
                shown(raw)
            ));
        }
    }
    let number: f64 = digits
        .parse()
        .map_err(|_| format!("{} is not a number", shown(raw)))?;
    if !number.is_finite() {
        return Err(format!("{} is not a number", shown(raw)));
    }
    Ok((number, unit))
}

/// `1,000` or `12,345,678`: commas every three digits.
fn is_comma_grouped(digits: &str) -> bool {
    let groups: Vec<&str> = digits.split(',').collect();
    groups[0].len() <= 3
        && !groups[0].is_empty()
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
}

fn to_u64(value: f64, raw: &str) -> Result<u64, String> {
    if value > 1e18 {
        return Err(format!("{} is too large", shown(raw)));
    }
    Ok(value.round() as u64)
}

/// What the `rows` field (and every count) accepts, for its messages.
const COUNT_SHAPE: &str = "accepts a count such as 500000, 500_000, 1,000,000, 10k, 500M or 1.2B";

/// Row counts: `500000`, `500_000`, `1,000,000`, `10k`, `500M`, `1.2B`.
pub fn parse_count(raw: &str) -> Result<u64, String> {
    let (n, unit) = split_number(raw, Grouping::CommasInWholeCounts)
        .map_err(|m| format!("{m}; {COUNT_SHAPE}"))?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "" if n.fract() != 0.0 => {
            return Err(format!(
                "{} has a fraction, and a count is whole; {COUNT_SHAPE}",
                shown(raw)
            ))
        }
        "" => 1.0,
        "k" => 1e3,
        "m" => 1e6,
        "b" | "g" => 1e9,
        "t" => 1e12,
        _ => {
            return Err(format!(
                "{} has an unknown suffix; {COUNT_SHAPE}",
                shown(raw)
            ))
        }
    };
    to_u64(n * scale, raw)
}

fn parse_positive(raw: &str) -> Result<u64, String> {
    match parse_count(raw)? {
        0 => Err("must be above 0".to_string()),
        n => Ok(n),
    }
}

/// What the `size` field accepts, for its messages.
const SIZE_SHAPE: &str = "accepts a size with its unit, such as 120GB, 1.5 TB, 800 MiB or 4096B";

/// Sizes: `800MiB`, `800 MB`, `120GB`, `1.5T`, `4096B`. Units are powers of 1024, the
/// convention of `pg_size_pretty`, whether written MB or MiB. A unit is required (only 0
/// goes without): a bare `200` is more likely 200 GB than 200 bytes.
pub fn parse_bytes(raw: &str) -> Result<u64, String> {
    let (n, unit) =
        split_number(raw, Grouping::Underscore).map_err(|m| format!("{m}; {SIZE_SHAPE}"))?;
    let lower = unit.to_ascii_lowercase();
    let power = match lower.as_str() {
        "" if n == 0.0 => 0,
        "" => return Err(format!("{} has no unit; {SIZE_SHAPE}", shown(raw))),
        "b" | "byte" | "bytes" => 0,
        "k" | "kb" | "kib" => 1,
        "m" | "mb" | "mib" => 2,
        "g" | "gb" | "gib" => 3,
        "t" | "tb" | "tib" => 4,
        "p" | "pb" | "pib" => 5,
        _ => return Err(format!("{} has an unknown unit; {SIZE_SHAPE}", shown(raw))),
    };
    to_u64(n * 1024f64.powi(power), raw)
}

/// A value quoted in a message: at most [`SHOWN_CHARS`] characters, then `…` and the length,
/// so a pasted 10,000-character value does not fill the page.
pub fn shown(value: &str) -> String {
    let count = value.chars().count();
    if count <= SHOWN_CHARS {
        format!("{value:?}")
    } else {
        let cut: String = value.chars().take(SHOWN_CHARS).collect();
        format!("{:?} ({count} characters)", format!("{cut}…"))
    }
}

/// How much of a value a message quotes.
pub const SHOWN_CHARS: usize = 80;

/// Durations: `0`, `500ms`, `30s`, `5m`, `1h`; a plain number is seconds.
pub fn parse_duration_ms(raw: &str) -> Result<u64, String> {
    let shape = "accepts a duration such as 0, 500ms, 30s, 5m or 1h";
    let (n, unit) = split_number(raw, Grouping::Underscore).map_err(|m| format!("{m}; {shape}"))?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "ms" => 1.0,
        "" | "s" | "sec" | "secs" => 1e3,
        "m" | "min" | "mins" => 60e3,
        "h" | "hour" | "hours" => 3600e3,
        other => return Err(format!("{} is not a duration unit; {shape}", shown(other))),
    };
    to_u64(n * scale, raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(parse_count("500M"), Ok(500_000_000));
        assert_eq!(parse_count("1.2B"), Ok(1_200_000_000));
        assert_eq!(parse_count("10k"), Ok(10_000));
        assert_eq!(parse_count("500_000"), Ok(500_000));
        assert_eq!(parse_bytes("120GB"), Ok(120 * 1024 * 1024 * 1024));
        assert_eq!(parse_bytes("800 MiB"), Ok(800 * 1024 * 1024));
        assert_eq!(parse_bytes("1.5TB"), Ok(1_649_267_441_664));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert!(parse_count("lots").unwrap_err().contains("500M"));
        assert!(parse_bytes("12 parsecs").unwrap_err().contains("120GB"));
        assert!(parse_duration_ms("-3s").is_err());
    }

    #[test]
    fn sizes_need_a_unit() {
        let error = parse_bytes("200").unwrap_err();
        assert!(error.contains("no unit") && error.contains("120GB, 1.5 TB, 800 MiB"));
        assert_eq!(parse_bytes("0"), Ok(0));
        assert_eq!(parse_bytes("4096B"), Ok(4096));
        assert_eq!(parse_bytes("1.5 TB"), Ok(1_649_267_441_664));
        assert_eq!(parse_bytes("2 TiB"), Ok(2 << 40));
        assert_eq!(parse_bytes("0.5TB"), Ok(1 << 39));
    }

    #[test]
    fn separators_that_read_two_ways_are_refused() {
        for raw in ["1,5TB", "1,500GB", "1.000.000B", "1.500GB"] {
            let error = parse_bytes(raw).unwrap_err();
            assert!(error.contains("ambiguous"), "{raw}: {error}");
            assert!(error.contains(&format!("{raw:?}")), "{raw}: {error}");
        }
        for raw in ["1.000.000", "1,5M", "1,000k", "1,00,000"] {
            assert!(parse_count(raw).unwrap_err().contains("ambiguous"), "{raw}");
        }
        assert!(parse_duration_ms("1,5s").unwrap_err().contains("ambiguous"));
    }

    #[test]
    fn counts_keep_every_unambiguous_spelling() {
        assert_eq!(parse_count("500000000"), Ok(500_000_000));
        assert_eq!(parse_count("500_000_000"), Ok(500_000_000));
        assert_eq!(parse_count("500,000,000"), Ok(500_000_000));
        assert_eq!(parse_count("1,000"), Ok(1_000));
        assert_eq!(parse_count("500M"), Ok(500_000_000));
        assert!(parse_count("1.5").unwrap_err().contains("whole"));
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "9".repeat(10_000) + "x";
        let error = parse_bytes(&long).unwrap_err();
        assert!(error.len() < 300, "{error}");
        assert!(error.contains("…") && error.contains("10001 characters"));
        assert_eq!(shown("orders"), "\"orders\"");
    }

    fn request(rows: &str, size: &str) -> Request {
        let params = Params::new()
            .with("db", "postgresql@16")
            .with("change", "add-index")
            .with("table", "orders")
            .with("columns", "email")
            .with("rows", rows)
            .with("size", size)
            .with("max-downtime", "0");
        Request::from_params(&params).unwrap()
    }

    #[test]
    fn implausible_bytes_per_row_is_a_warning_with_the_ratio() {
        let huge = request("10k", "2TB").input_warnings();
        assert_eq!(huge.len(), 1);
        assert_eq!(huge[0].code, "size-per-row");
        assert!(
            huge[0].message.contains("219902326 bytes per row"),
            "{}",
            huge[0].message
        );
        let tiny = request("500M", "200B").input_warnings();
        assert!(
            tiny[0].message.contains("0.00 bytes per row") && tiny[0].message.contains("fewer")
        );
        assert!(request("500M", "120GB").input_warnings().is_empty());
        assert!(request("0", "8kB").input_warnings().is_empty());
    }

    #[test]
    fn database_versions() {
        let db = parse_database("postgresql@14.3").unwrap();
        assert_eq!(db.version, Version::new(14, Some(3)));
        assert!(db.version.at_least(14, 3) && !db.version.at_least(14, 4));
        assert_eq!(parse_database("pg@18").unwrap().version.minor, None);
        assert!(parse_database("postgresql@9.6")
            .unwrap_err()
            .contains("postgresql@10 to postgresql@18"));
        let my = parse_database("mysql@8.0.35").unwrap();
        assert_eq!(
            (my.engine, my.version.to_string()),
            (Engine::Mysql, "8.0.35".to_string())
        );
        assert!(my.version.at_least_patch(8, 0, 29) && !my.version.at_least_patch(8, 0, 36));
        assert_eq!(
            parse_database("mariadb@10.11").unwrap().engine,
            Engine::Mariadb
        );
        assert!(parse_database("mysql@8.1")
            .unwrap_err()
            .contains("mysql@8.4"));
        assert!(parse_database("mariadb@10.2")
            .unwrap_err()
            .contains("not supported"));
        assert!(parse_database("postgresql@16.1.2")
            .unwrap_err()
            .contains("major.minor"));
        assert!(parse_database("postgresql")
            .unwrap_err()
            .contains("has no version"));
    }

    #[test]
    fn databases_as_engineers_write_them() {
        for (raw, canonical) in [
            ("PostgreSQL 16", "postgresql@16"),
            ("postgres 16", "postgresql@16"),
            ("pg16", "postgresql@16"),
            ("pg 16", "postgresql@16"),
            ("pg@18.1", "postgresql@18.1"),
            ("mysql 8.0.35", "mysql@8.0.35"),
            ("MySQL8.0.35", "mysql@8.0.35"),
            ("MariaDB 10.11", "mariadb@10.11"),
            (" postgresql@16 ", "postgresql@16"),
        ] {
            assert_eq!(canonical_database(raw), canonical, "{raw}");
        }
        assert_eq!(canonical_database("oracle 19"), "oracle 19");
        assert!(parse_database("oracle 19")
            .unwrap_err()
            .contains("\"oracle\" is not a supported database"));
    }

    #[test]
    fn name_lists_refuse_what_only_add_index_reads() {
        let params = Params::new()
            .with("db", "postgresql@16")
            .with("change", "add-unique")
            .with("table", "orders")
            .with("columns", "lower(email), created_at DESC")
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", "0");
        let errors = Request::from_params(&params).unwrap_err();
        assert_eq!(errors.len(), 2);
        assert!(errors[0]
            .message
            .contains("\"lower(email)\" looks like an expression"));
        assert!(errors[1].message.contains("is add-index"));
        let fine = params.with("columns", "email, \"Created At\"");
        assert!(Request::from_params(&fine).is_ok());
    }

    /// Every field that takes names (single, lists, the referenced table and its columns)
    /// applies the engine's own rule: 64 characters on MySQL and MariaDB, 63 bytes on
    /// PostgreSQL.
    #[test]
    fn every_name_field_applies_the_engines_length_rule() {
        let long = "c".repeat(64);
        let request = |db: &str, change: &str, field: &str, value: &str| {
            let mut p = Params::new()
                .with("db", db)
                .with("change", change)
                .with("table", "t")
                .with("rows", "1M")
                .with("size", "1GB")
                .with("max-downtime", "0");
            if change == "add-foreign-key" {
                p.set("columns", "a");
                p.set("references", "customers(id)");
            }
            if change == "split-table" {
                p.set("new-table", "t_details");
            }
            p.with(field, value)
        };
        let cases = [
            ("add-index", "columns", long.clone()),
            ("add-unique", "columns", long.clone()),
            ("split-table", "columns", long.clone()),
            ("add-foreign-key", "columns", long.clone()),
            ("add-foreign-key", "references", format!("{long}(id)")),
            (
                "add-foreign-key",
                "references",
                format!("customers({long})"),
            ),
        ];
        for (change, field, value) in &cases {
            for db in ["mysql@8.0.35", "mariadb@10.11"] {
                let params = request(db, change, field, value);
                assert!(
                    crate::plan(&params).is_ok(),
                    "{db} {change} --{field} {value}: {:?}",
                    crate::plan(&params).err()
                );
            }
            let params = request("postgresql@16", change, field, value);
            let errors = Request::from_params(&params).unwrap_err();
            assert_eq!(errors[0].field, *field);
            assert!(errors[0].message.contains("63 bytes"), "{:?}", errors[0]);
        }
        let over = "c".repeat(65);
        for (change, field, value) in &cases {
            let params = request("mysql@8.0.35", change, field, &value.replace(&long, &over));
            let errors = Request::from_params(&params).unwrap_err();
            assert_eq!(errors[0].field, *field);
            assert!(errors[0].message.contains("at most 64"), "{:?}", errors[0]);
        }
    }

    #[test]
    fn a_qualified_reference_must_be_the_tables_schema() {
        let params = Params::new()
            .with("db", "postgresql@16")
            .with("change", "add-foreign-key")
            .with("table", "app.orders")
            .with("column", "customer_id")
            .with("references", "app.customers(id)")
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", "0");
        let Change::AddForeignKey(change::AddForeignKey { ref_table, .. }) =
            Request::from_params(&params).unwrap().change
        else {
            panic!("add-foreign-key")
        };
        assert_eq!(ref_table, "customers");
        let other = params.with("references", "billing.customers(id)");
        let errors = Request::from_params(&other).unwrap_err();
        assert_eq!(errors[0].field, "references");
        assert!(errors[0].message.contains("names the schema \"billing\""));
    }

    #[test]
    fn qualified_table_names() {
        let split = |raw: &str| split_qualified(raw);
        assert_eq!(split("orders"), Ok((None, "orders".into())));
        assert_eq!(
            split("public.orders"),
            Ok((Some("public".into()), "orders".into()))
        );
        assert_eq!(split("\"my.table\""), Ok((None, "my.table".into())));
        assert_eq!(
            split("`app`.`my.t`"),
            Ok((Some("app".into()), "my.t".into()))
        );
        assert_eq!(split("\"a\"\"b\".c"), Ok((Some("a\"b".into()), "c".into())));
        assert_eq!(
            split("orders\"; drop table x; --"),
            Ok((None, "orders\"; drop table x; --".into()))
        );
        assert!(split("a.b.c")
            .unwrap_err()
            .contains("3 dot-separated parts"));
        assert!(split("public.").unwrap_err().contains("empty name"));
        assert!(split("\"open").unwrap_err().contains("unclosed"));
    }

    #[test]
    fn a_qualified_table_plans_schema_and_table_on_both_engines() {
        let base = |db: &str| {
            Params::new()
                .with("db", db)
                .with("change", "add-column")
                .with("table", "public.orders")
                .with("column", "note")
                .with("type", "text")
                .with("rows", "1M")
                .with("size", "1GB")
                .with("max-downtime", "5s")
        };
        let pg = crate::plan(&base("postgresql@16")).unwrap();
        assert_eq!(pg.table, "public.orders");
        let sql = crate::render::sql::forward(&pg);
        assert!(
            sql.contains("ALTER TABLE public.orders ADD COLUMN"),
            "{sql}"
        );
        assert!(!sql.contains("\"public.orders\""));
        let my = crate::plan(&base("mysql@8.0.35")).unwrap();
        assert_eq!(my.table, "`public`.`orders`");
        let same = base("postgresql@16").with("schema", "public");
        assert!(Request::from_params(&same).is_ok());
        let clash = base("postgresql@16").with("schema", "app");
        let errors = Request::from_params(&clash).unwrap_err();
        assert_eq!(errors[0].field, "table");
        assert!(errors[0].message.contains("but --schema says \"app\""));
    }

    #[test]
    fn a_bare_version_gets_did_you_mean() {
        assert_eq!(
            parse_database("16").unwrap_err(),
            "\"16\" has no database name: did you mean postgresql@16?"
        );
        assert!(parse_database("8.0.35")
            .unwrap_err()
            .ends_with("did you mean mysql@8.0.35?"));
        assert!(parse_database("10.11")
            .unwrap_err()
            .ends_with("did you mean postgresql@10.11 or mariadb@10.11?"));
        assert!(parse_database("99")
            .unwrap_err()
            .contains("accepts postgresql@10"));
    }

    #[test]
    fn errors_name_every_bad_field() {
        let params = Params::new()
            .with("db", "postgresql@99")
            .with("change", "add-index")
            .with("table", "orders")
            .with("rows", "many")
            .with("size", "1GB")
            .with("max-downtime", "0");
        let errors = Request::from_params(&params).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["db", "columns", "rows"]);
        assert!(errors[1].message.contains("comma-separated"));
    }
}
