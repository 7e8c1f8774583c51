//! A MySQL / MariaDB column definition as written after the column name (`bigint NOT NULL
//! AUTO_INCREMENT COMMENT 'id'`), parsed into what it restates.
//!
//! `MODIFY` and `CHANGE` replace the whole column: "column_definition must include the data type
//! and all attributes that should apply to the new column, other than index attributes such as
//! PRIMARY KEY or UNIQUE. Attributes present in the original definition but not specified for
//! the new definition are not carried forward" (MySQL 8.0 manual, "ALTER TABLE Statement",
//! Renaming, Redefining, and Reordering Columns; MariaDB behaves the same, seen on 10.11). The
//! planner therefore knows, from this parse, which attributes a statement restates, and its
//! preflight ([`lost_attributes_check`]) asks the server for the ones the column has and the
//! statement does not.

use crate::model::{Check, Expected};
use crate::mysql::facts;
use crate::mysql::Ctx;
use crate::quote::mysql::literal;
use crate::request::FieldError;
use crate::strategy::check;

/// What a column definition says, beyond its type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Definition {
    /// The data type with its modifiers, as written: `bigint unsigned`, `varchar(64)`.
    pub data_type: String,
    /// Everything after the data type, as written (the attributes), possibly empty.
    pub attributes: String,
    /// `Some(true)` for NOT NULL, `Some(false)` for an explicit NULL.
    pub not_null: Option<bool>,
    pub default: Option<String>,
    pub auto_increment: bool,
    pub on_update: Option<String>,
    pub comment: Option<String>,
    pub charset: Option<String>,
    pub collation: Option<String>,
    /// `[GENERATED ALWAYS] AS (expr) [VIRTUAL | STORED | PERSISTENT]`.
    pub generated: bool,
    pub invisible: bool,
    /// `SRID n` (MySQL 8.0 spatial columns).
    pub srid: Option<String>,
}

/// The broad kind of a data type: a DEFAULT or CHARACTER SET written for one kind does not fit
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Text,
    Numeric,
    Temporal,
    Other,
}

/// Words that end the data type and start an attribute.
const ATTRIBUTE_WORDS: &[&str] = &[
    "not",
    "null",
    "default",
    "auto_increment",
    "comment",
    "character",
    "charset",
    "collate",
    "on",
    "generated",
    "as",
    "virtual",
    "stored",
    "persistent",
    "visible",
    "invisible",
    "srid",
    "primary",
    "key",
    "unique",
    "references",
    "check",
    "constraint",
    "first",
    "after",
    "serial",
    "column_format",
    "storage",
    "engine_attribute",
    "secondary_engine_attribute",
];

/// What a definition may say, for messages.
pub const ACCEPTED: &str = "the data type followed by the attributes SHOW CREATE TABLE prints after the column name: NOT NULL, DEFAULT ..., AUTO_INCREMENT, ON UPDATE ..., COMMENT '...', CHARACTER SET ..., COLLATE ..., [GENERATED ALWAYS] AS (...) VIRTUAL|STORED, INVISIBLE";

/// Splits a definition into words, keeping quoted strings and parenthesized groups (with what
/// touches them: `varchar(64)`, `CURRENT_TIMESTAMP(6)`, `'a b'`) whole.
pub fn words(definition: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in definition.chars() {
        match quote {
            Some(q) => {
                word.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' | '`' => {
                    quote = Some(c);
                    word.push(c);
                }
                '(' => {
                    depth += 1;
                    word.push(c);
                }
                ')' => {
                    depth = depth.saturating_sub(1);
                    word.push(c);
                }
                c if c.is_whitespace() && depth == 0 => {
                    if !word.is_empty() {
                        out.push(std::mem::take(&mut word));
                    }
                }
                c => word.push(c),
            },
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The keyword part of a word (`default(0)` -> `default`), lowercased.
fn keyword(word: &str) -> String {
    word.split('(').next().unwrap_or("").to_ascii_lowercase()
}

impl Definition {
    /// Parses `text`; the error says what is wrong, for a field message. Long because it is one
    /// pass over the words with one arm per attribute.
    pub fn parse(text: &str) -> Result<Definition, String> {
        let words = words(text);
        let Some(first) = words.first() else {
            return Err(format!("is empty; accepts {ACCEPTED}"));
        };
        // CHARACTER VARYING is a type; every other attribute word is not.
        let k = keyword(first);
        if k != "character" && ATTRIBUTE_WORDS.contains(&k.as_str()) {
            return Err(format!(
                "starts with {first}, not a data type; accepts {ACCEPTED}"
            ));
        }
        let type_len = 1 + words[1..]
            .iter()
            .take_while(|w| !ATTRIBUTE_WORDS.contains(&keyword(w).as_str()))
            .count();
        let mut def = Definition {
            data_type: words[..type_len].join(" "),
            attributes: words[type_len..].join(" "),
            ..Definition::default()
        };
        let mut rest = words[type_len..].iter().map(String::as_str).peekable();
        while let Some(w) = rest.next() {
            let k = keyword(w);
            // `DEFAULT(0)`: the value touches the keyword.
            let glued = w.get(k.len()..).filter(|v| !v.is_empty());
            match k.as_str() {
                "not" => match rest.next() {
                    Some(n) if n.eq_ignore_ascii_case("null") => def.not_null = Some(true),
                    _ => return Err(format!("has NOT without NULL; accepts {ACCEPTED}")),
                },
                "null" => def.not_null = Some(false),
                "default" => def.default = Some(value(glued, &mut rest, "DEFAULT")?),
                "auto_increment" => def.auto_increment = true,
                "comment" => def.comment = Some(value(None, &mut rest, "COMMENT")?),
                "charset" => def.charset = Some(value(None, &mut rest, "CHARSET")?),
                "character" => {
                    match rest.next() {
                        Some(s) if s.eq_ignore_ascii_case("set") => {}
                        _ => return Err(format!("has CHARACTER without SET; accepts {ACCEPTED}")),
                    }
                    def.charset = Some(value(None, &mut rest, "CHARACTER SET")?);
                }
                "collate" => def.collation = Some(value(None, &mut rest, "COLLATE")?),
                "on" => {
                    match rest.next() {
                        Some(u) if u.eq_ignore_ascii_case("update") => {}
                        _ => return Err(format!("has ON without UPDATE; accepts {ACCEPTED}")),
                    }
                    def.on_update = Some(value(None, &mut rest, "ON UPDATE")?);
                }
                "generated" => match (rest.next(), rest.next()) {
                    (Some(a), Some(b))
                        if a.eq_ignore_ascii_case("always") && b.eq_ignore_ascii_case("as") =>
                    {
                        value(None, &mut rest, "GENERATED ALWAYS AS")?;
                        def.generated = true;
                    }
                    _ => {
                        return Err(format!(
                            "has GENERATED without ALWAYS AS (...); accepts {ACCEPTED}"
                        ))
                    }
                },
                "as" => {
                    value(glued, &mut rest, "AS")?;
                    def.generated = true;
                }
                "virtual" | "stored" | "persistent" if def.generated => {}
                "visible" => def.invisible = false,
                "invisible" => def.invisible = true,
                "srid" => def.srid = Some(value(None, &mut rest, "SRID")?),
                _ => {
                    return Err(format!(
                        "has {w}, which a column definition restated by MODIFY cannot carry here (keys, foreign keys, CHECK and positions are separate changes); accepts {ACCEPTED}"
                    ))
                }
            }
        }
        Ok(def)
    }

    /// The whole definition, as written.
    pub fn text(&self) -> String {
        format!("{} {}", self.data_type, self.attributes)
            .trim()
            .to_string()
    }

    /// True when the text is a data type alone, with no attribute.
    pub fn is_bare(&self) -> bool {
        self.attributes.is_empty()
    }

    /// The first word of the type, lowercased, without its parentheses.
    pub fn base_type(&self) -> String {
        keyword(&self.data_type)
    }

    /// The broad kind of the data type.
    pub fn family(&self) -> Family {
        match self.base_type().as_str() {
            "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum"
            | "set" | "character" | "national" | "nchar" | "nvarchar" | "long" => Family::Text,
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "bool"
            | "boolean" | "decimal" | "numeric" | "dec" | "fixed" | "float" | "double" | "real"
            | "bit" => Family::Numeric,
            "date" | "datetime" | "timestamp" | "time" | "year" => Family::Temporal,
            _ => Family::Other,
        }
    }

    /// How `information_schema.columns` spells this type, as [`OBSERVED_TYPE`] computes it from
    /// the server's columns: integer display widths dropped (MySQL 8.0.19 stopped printing them,
    /// 5.7 and MariaDB print them), synonyms resolved. `None` for a type whose stored spelling
    /// depends on the engine or its settings (float, json, enum, ...): compared by the operator.
    pub fn column_type_spelling(&self) -> Option<String> {
        let lowered = words(&self.data_type.to_ascii_lowercase());
        let (head, rest) = lowered.split_first()?;
        let head = head.as_str();
        let modifiers: Vec<&str> = rest.iter().map(String::as_str).collect();
        let (base, args) = match head.split_once('(') {
            Some((b, a)) => (b, Some(a.trim_end_matches(')').replace(' ', ""))),
            None => (head, None),
        };
        let integer = match base {
            "tinyint" | "bool" | "boolean" => Some("tinyint"),
            "smallint" => Some("smallint"),
            "mediumint" => Some("mediumint"),
            "int" | "integer" => Some("int"),
            "bigint" => Some("bigint"),
            "year" => Some("year"),
            _ => None,
        };
        let sign = |modifiers: &[&str]| -> Option<String> {
            let zerofill = modifiers.contains(&"zerofill");
            let unsigned = zerofill || modifiers.contains(&"unsigned");
            if modifiers
                .iter()
                .any(|m| !matches!(*m, "zerofill" | "unsigned" | "signed"))
            {
                return None;
            }
            Some(format!(
                "{}{}",
                if unsigned { " unsigned" } else { "" },
                if zerofill { " zerofill" } else { "" }
            ))
        };
        if let Some(name) = integer {
            return Some(format!("{name}{}", sign(&modifiers)?));
        }
        let spelled = match (base, args.as_deref()) {
            ("decimal" | "numeric" | "dec" | "fixed", None) => "decimal(10,0)".to_string(),
            ("decimal" | "numeric" | "dec" | "fixed", Some(a)) if !a.contains(',') => {
                format!("decimal({a},0)")
            }
            ("decimal" | "numeric" | "dec" | "fixed", Some(a)) => format!("decimal({a})"),
            ("char" | "binary", None) if modifiers.is_empty() => format!("{base}(1)"),
            ("char" | "varchar" | "binary" | "varbinary", Some(a)) if modifiers.is_empty() => {
                format!("{base}({a})")
            }
            (
                "tinytext" | "text" | "mediumtext" | "longtext" | "tinyblob" | "blob"
                | "mediumblob" | "longblob" | "date",
                None,
            ) if modifiers.is_empty() => base.to_string(),
            ("datetime" | "timestamp" | "time", None) if modifiers.is_empty() => base.to_string(),
            ("datetime" | "timestamp" | "time", Some(a)) if modifiers.is_empty() && a != "0" => {
                format!("{base}({a})")
            }
            _ => return None,
        };
        if spelled.starts_with("decimal") {
            return Some(format!("{spelled}{}", sign(&modifiers)?));
        }
        Some(spelled)
    }
}

/// The value after a keyword: the glued part (`DEFAULT(0)`) or the next word; the words of
/// `CURRENT_TIMESTAMP (6)` style values are kept apart, as written.
fn value<'a>(
    glued: Option<&'a str>,
    rest: &mut std::iter::Peekable<impl Iterator<Item = &'a str>>,
    what: &str,
) -> Result<String, String> {
    if let Some(v) = glued {
        return Ok(v.to_string());
    }
    match rest.next() {
        Some(v) => Ok(v.to_string()),
        None => Err(format!("ends with {what} and no value; accepts {ACCEPTED}")),
    }
}

/// The column's type as [`Definition::column_type_spelling`] spells it, computed from
/// `information_schema.columns` (MySQL 5.7 / 8.x, MariaDB).
pub const OBSERVED_TYPE: &str = "IF(data_type IN ('tinyint', 'smallint', 'mediumint', 'int', 'bigint', 'year'), CONCAT(data_type, IF(column_type LIKE '%unsigned%', ' unsigned', ''), IF(column_type LIKE '%zerofill%', ' zerofill', '')), LOWER(column_type))";

/// The check that the column's current type is the one the field `field` (`from-type`, or
/// `type` where the change restates the current definition) names: the rollback and the plan's
/// claims assume it. `None` when the type's stored spelling cannot be predicted.
/// `done`: the column and definition a completed run of the plan leaves. A re-run of the
/// script finds them instead and the check reads them as the from-type, so it accepts the
/// completed plan (and only it).
pub fn from_type_check(
    ctx: &Ctx,
    column: &str,
    from: &Definition,
    field: &str,
    done: Option<(&str, &Definition)>,
) -> Option<Check> {
    let spelled = from.column_type_spelling()?;
    let flag = crate::request::params::flag(field);
    let table = ctx.where_table(&ctx.req.table);
    let query = match done.and_then(|(c, d)| Some((c, d.column_type_spelling()?))) {
        None => format!(
            "SELECT {OBSERVED_TYPE} AS current_type FROM information_schema.columns WHERE {table} AND column_name = {};",
            literal(column)
        ),
        Some((after, to)) => format!(
            "SELECT IF(column_name = {after} AND {OBSERVED_TYPE} = {to}, {from}, {OBSERVED_TYPE}) AS current_type FROM information_schema.columns WHERE {table} AND column_name = IF(EXISTS (SELECT 1 FROM information_schema.columns WHERE {table} AND column_name = {col}), {col}, {after});",
            after = literal(after),
            to = literal(&to),
            from = literal(&spelled),
            col = literal(column)
        ),
    };
    Some(check(
        &format!("The column's current type is the one {flag} names (or, on a re-run, the one this plan leaves)"),
        query,
        &format!("{spelled} (another type: re-plan with {flag} giving the column's real type, or the rollback restores the wrong one)"),
        Expected::row(&[&spelled]),
    ))
}

/// The SQL, one expression per attribute the column may have and `restated` does not say,
/// each naming the attribute (with its value) when the column has it and NULL otherwise.
fn lost_items(ctx: &Ctx, restated: &Definition) -> Vec<String> {
    let mut items = Vec::new();
    if restated.not_null.is_none() {
        items.push("IF(c.is_nullable = 'NO', 'NOT NULL', NULL)".to_string());
    }
    if restated.default.is_none() {
        // MariaDB (10.2.7+) spells "no default" of a nullable column as the text NULL and
        // quotes string defaults; MySQL leaves column_default NULL.
        let has_default = if ctx.server.is_mariadb() {
            "c.column_default IS NOT NULL AND c.column_default <> 'NULL'"
        } else {
            "c.column_default IS NOT NULL"
        };
        items.push(format!(
            "IF({has_default}, CONCAT('DEFAULT ', c.column_default), NULL)"
        ));
    }
    if !restated.auto_increment {
        items.push("IF(c.extra LIKE '%auto_increment%', 'AUTO_INCREMENT', NULL)".to_string());
    }
    if restated.on_update.is_none() {
        items.push(
            "IF(c.extra LIKE '%on update%', SUBSTRING(c.extra, LOCATE('on update', c.extra)), NULL)"
                .to_string(),
        );
    }
    if restated.comment.is_none() {
        items.push(
            "IF(c.column_comment <> '', CONCAT('COMMENT ', QUOTE(c.column_comment)), NULL)"
                .to_string(),
        );
    }
    if !restated.generated {
        // DEFAULT_GENERATED (MySQL 8.0.13+, an expression default) is not a generated column.
        items.push("IF(c.extra LIKE '%VIRTUAL%' OR c.extra LIKE '%STORED%' OR c.extra LIKE '%PERSISTENT%', CONCAT('GENERATED ALWAYS AS (', c.generation_expression, ')'), NULL)".to_string());
    }
    if !restated.invisible {
        items.push("IF(c.extra LIKE '%INVISIBLE%', 'INVISIBLE', NULL)".to_string());
    }
    if restated.srid.is_none() && facts::SRS_ID.holds(ctx.server) {
        items.push("IF(c.srs_id IS NOT NULL, CONCAT('SRID ', c.srs_id), NULL)".to_string());
    }
    if restated.family() == Family::Text && restated.collation.is_none() {
        items.push(match &restated.charset {
            // Without CHARACTER SET or COLLATE the column takes the table's default.
            None => "IF(c.collation_name <> (SELECT t.table_collation FROM information_schema.tables t WHERE t.table_schema = c.table_schema AND t.table_name = c.table_name), CONCAT('CHARACTER SET ', c.character_set_name, ' COLLATE ', c.collation_name), NULL)".to_string(),
            // With CHARACTER SET alone it takes that set's default collation.
            Some(set) => format!(
                "IF(c.character_set_name = {set} AND c.collation_name <> (SELECT s.default_collate_name FROM information_schema.character_sets s WHERE s.character_set_name = {set}), CONCAT('COLLATE ', c.collation_name), NULL)",
                set = literal(set.trim_matches(|ch| ch == '\'' || ch == '"' || ch == '`'))
            ),
        });
    }
    items
}

/// The preflight check that `restated` (the whole definition a MODIFY or CHANGE writes) keeps
/// every attribute the column has: it returns one row naming each one that would be dropped,
/// and must return none. `None` when the definition restates every attribute there is.
pub fn lost_attributes_check(
    ctx: &Ctx,
    column: &str,
    restated: &Definition,
    statement: &str,
) -> Option<Check> {
    let items = lost_items(ctx, restated);
    if items.is_empty() {
        return None;
    }
    Some(check(
        &format!("Nothing the column has would be dropped by {statement}"),
        format!(
            "SELECT would_be_dropped FROM (SELECT CONCAT_WS(', ', {}) AS would_be_dropped FROM information_schema.columns c WHERE c.table_schema = {} AND c.table_name = {} AND c.column_name = {}) AS current_column WHERE would_be_dropped <> '';",
            items.join(", "),
            ctx.schema_value(),
            literal(&ctx.req.table),
            literal(column)
        ),
        &format!(
            "no rows. A row names what the column has and `{}` does not restate (MODIFY and CHANGE drop it without a word): re-plan with it written into the definition",
            restated.text()
        ),
        Expected::NoRows,
    )
    .proving(crate::model::Precondition::ColumnKeepsAttributes))
}

/// The column as `information_schema` describes it, printed for the record next to the
/// definition the statement restates (the lost-attributes check is the one that stops).
pub(crate) fn definition_check(ctx: &Ctx, column: &str, restated: &str) -> Check {
    check(
        "The column's current definition (MODIFY restates all of it)",
        format!(
            "SELECT column_type, is_nullable, column_default, extra, character_set_name, collation_name, column_comment FROM information_schema.columns WHERE {} AND column_name = {};",
            ctx.where_table(&ctx.req.table),
            literal(column)
        ),
        &format!("one row, for the record: the statement restates it as `{restated}`"),
        Expected::Manual,
    )
}

/// Parses a definition field, its error naming the flag.
pub(crate) fn parse_field(field: &str, text: &str) -> Result<Definition, FieldError> {
    Definition::parse(text.trim()).map_err(|m| FieldError::new(field, m))
}

/// Strict SQL mode: without it a value that does not fit is silently cut or clamped, and a
/// NULL becomes the type's implicit default, instead of failing the statement.
pub(crate) fn strict_mode_check() -> Check {
    check(
        "Strict SQL mode in this session (otherwise values that do not fit are silently truncated)",
        "SELECT @@SESSION.sql_mode LIKE '%STRICT_TRANS_TABLES%' OR @@SESSION.sql_mode LIKE '%STRICT_ALL_TABLES%' AS strict_mode;",
        "1",
        Expected::row(&["1"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Definition {
        Definition::parse(t).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn attributes_are_read_not_searched() {
        let d = parse("bigint unsigned NOT NULL AUTO_INCREMENT COMMENT 'default on update'");
        assert_eq!(d.data_type, "bigint unsigned");
        assert_eq!(d.not_null, Some(true));
        assert!(d.auto_increment);
        assert_eq!(d.comment.as_deref(), Some("'default on update'"));
        assert_eq!(d.default, None);
        assert_eq!(d.on_update, None);
        let d =
            parse("timestamp(6) NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)");
        assert_eq!(d.data_type, "timestamp(6)");
        assert_eq!(d.not_null, Some(false));
        assert_eq!(d.default.as_deref(), Some("CURRENT_TIMESTAMP(6)"));
        assert_eq!(d.on_update.as_deref(), Some("CURRENT_TIMESTAMP(6)"));
        let d = parse("varchar(64) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT('')");
        assert_eq!(d.data_type, "varchar(64)");
        assert_eq!(d.charset.as_deref(), Some("latin1"));
        assert_eq!(d.collation.as_deref(), Some("latin1_bin"));
        let d = parse("decimal(10, 2) GENERATED ALWAYS AS (a * 2) STORED INVISIBLE");
        assert_eq!(d.data_type, "decimal(10, 2)");
        assert!(d.generated && d.invisible);
        assert!(parse("bigint").is_bare());
        assert!(!parse("bigint NOT NULL").is_bare());
        assert_eq!(
            parse("character varying(10)").data_type,
            "character varying(10)"
        );
    }

    #[test]
    fn what_cannot_be_restated_is_refused() {
        for bad in [
            "",
            "NOT NULL",
            "int NOT",
            "int DEFAULT",
            "int PRIMARY KEY",
            "int REFERENCES customers(id)",
            "int FIRST",
            "varchar(10) CHARACTER latin1",
            "int COMMENT",
        ] {
            assert!(Definition::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn stored_type_spellings() {
        let spell = |t: &str| parse(t).column_type_spelling();
        assert_eq!(spell("INT").as_deref(), Some("int"));
        assert_eq!(spell("int(11) NOT NULL").as_deref(), Some("int"));
        assert_eq!(spell("integer unsigned").as_deref(), Some("int unsigned"));
        assert_eq!(spell("boolean").as_deref(), Some("tinyint"));
        assert_eq!(spell("decimal(10, 2)").as_deref(), Some("decimal(10,2)"));
        assert_eq!(spell("numeric").as_deref(), Some("decimal(10,0)"));
        assert_eq!(spell("varchar(64)").as_deref(), Some("varchar(64)"));
        assert_eq!(spell("char").as_deref(), Some("char(1)"));
        assert_eq!(spell("datetime(6)").as_deref(), Some("datetime(6)"));
        assert_eq!(spell("json"), None);
        assert_eq!(spell("float"), None);
        assert_eq!(spell("enum('a','b')"), None);
    }

    proptest::proptest! {
        /// Any text parses or is refused with a message; never a panic, and what parses keeps
        /// its type first.
        #[test]
        fn parsing_never_panics(text in "[a-zA-Z_ ()',`\"0-9é]{0,40}") {
            if let Ok(d) = Definition::parse(&text) {
                proptest::prop_assert!(d.text().starts_with(d.data_type.trim()));
                let _ = d.column_type_spelling();
            }
        }
    }

    #[test]
    fn families() {
        assert_eq!(parse("varchar(3)").family(), Family::Text);
        assert_eq!(parse("bigint").family(), Family::Numeric);
        assert_eq!(parse("datetime").family(), Family::Temporal);
        assert_eq!(parse("json").family(), Family::Other);
    }
}
