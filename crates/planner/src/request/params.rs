//! The one wire format of a request: named string parameters.
//!
//! The page's form, the share link's query string and the CLI's `--flags` all carry the same
//! names and the same raw text, so a link copied from the page is a valid CLI invocation and the
//! user's typing is never lost to parsing: parsing happens later, in [`crate::request`].

/// Every parameter the planner understands, with what it accepts.
/// The order is the order of the share link and of `lockstep plan --help`.
pub const FIELDS: &[Field] = &[
    f("db", "database and version: postgresql@10 to postgresql@18 (postgresql@14.3), mysql@5.7, mysql@8.0.35, mysql@8.4, mariadb@10.3 to mariadb@11.x (mariadb@10.11.6); PostgreSQL 16, pg16 or MySQL 8.0.35 are read the same"),
    f("change", super::change::CHANGE_ACCEPTS),
    f("schema", "schema of the table (optional; default: the search_path; MySQL/MariaDB: the database, default the connection's); or write schema.table in the table field"),
    f("table", "table name, exactly as in the catalog (case-sensitive; at most 63 bytes on PostgreSQL, 64 characters on MySQL and MariaDB), or schema.table (MySQL/MariaDB: database.table); a name holding a dot goes in double quotes, \"my.table\", with \"\" for a quote inside"),
    f("column", "column name (add/drop/rename column, change-type, add-not-null, drop-not-null, set-default, drop-default, add-foreign-key; MySQL/MariaDB rename-enum-value and add-enum-value: the ENUM column)"),
    f("type", "SQL type of a new column (add-column), e.g. boolean, bigint, varchar(64); MySQL/MariaDB add-not-null, drop-not-null, rename-column, rename-enum-value and add-enum-value: the column's current full type, e.g. int or varchar(64) DEFAULT ''"),
    f("default", "default expression of a new column (add-column) or the new default of an existing one (set-default), e.g. false, 0, now(), gen_random_uuid()"),
    f("not-null", "true when the new column is NOT NULL (add-column; needs a default on a non-empty table)"),
    f("generated", "expression of a GENERATED ALWAYS AS (...) STORED column (add-column)"),
    f("columns", "comma-separated column list (add-index, add-unique, add-foreign-key, split-table); add-index also takes expressions and ordering: lower(email), created_at DESC NULLS LAST, name text_pattern_ops (PostgreSQL; MySQL: expressions from 8.0.13, and ASC or DESC; MariaDB: columns with ASC or DESC), with a name holding a space or parenthesis in double quotes"),
    f("unique", "true for a unique index (add-index)"),
    f("where", "predicate of a partial index (add-index)"),
    f("method", "index method: btree, hash, gin, gist, brin, spgist (add-index; default btree)"),
    f("index", "name of the index to drop (drop-index) or rebuild (reindex)"),
    f("name", "name of the new index or constraint (optional; derived from the table and columns)"),
    f("new-name", "new name (rename-column, rename-table)"),
    f("from-type", "current type of the column (change-type), e.g. integer, varchar(64)"),
    f("to-type", "new type of the column (change-type), e.g. bigint, text"),
    f("using", "USING expression converting the old value (change-type; optional)"),
    f("references", "referenced table and column, as table(column) (add-foreign-key); the table is looked up in the table's schema, so a qualified schema.table(column) must name that schema"),
    f("check", "boolean expression of the CHECK constraint (add-check)"),
    f("type-name", "the enum type (PostgreSQL: rename-enum-value, add-enum-value), looked up in the table's schema, e.g. order_status"),
    f("value", "the enum label to rename (rename-enum-value) or to add (add-enum-value), exactly as stored, e.g. cancelled"),
    f("before", "the existing label the new one goes before (add-enum-value; optional, default: at the end)"),
    f("after", "the existing label the new one goes after (add-enum-value; optional, default: at the end)"),
    f("new-value", "the label's new spelling (rename-enum-value), e.g. canceled"),
    f("new-table", "name of the new table receiving the columns (split-table)"),
    f("rows", "row count: 0, 10000, 500_000, 1,000,000, 10k, 500M, 1.2B (a comma only groups thousands: 1,5M is refused)"),
    f("size", "table size on disk, with its unit: 800MiB, 120GB, 1.5 TB, 4096B (1 GB = 1024 MB, as pg_size_pretty prints; a decimal is written with a point, 1,5TB is refused)"),
    f("max-downtime", "longest acceptable blocking of reads or writes: 0, 500ms, 30s, 5m"),
    f("primary-key", "primary key column (default id), or none when the table has no primary key"),
    f("write-rate", "rows written per second at peak (optional), e.g. 2000 or 5k"),
    f("pg-repack", "true when pg_repack is installed on the server"),
    f("replicas", "true when replicas follow this server (streaming replicas; MySQL/MariaDB replication)"),
    f("foreign-keys", "true when the table has foreign keys or other tables reference it (MySQL/MariaDB: decides the online-schema-change tool)"),
    f("osc-tools", "online-schema-change tools you allow (MySQL/MariaDB): comma-separated gh-ost, pt-online-schema-change, spirit; default all three"),
    f("lock-timeout", "lock_timeout for each DDL statement (default: what the budget leaves after the step holds its lock, 100ms..5s; MySQL and MariaDB whole seconds, 1s..5s)"),
    f("batch-size", "rows per backfill batch (default 5000; 1000 on MySQL and MariaDB)"),
    f("backfill-rows-per-sec", "assumed backfill throughput in rows/s (default 20000)"),
    f("rewrite-mb-per-sec", "assumed table rewrite throughput in MB/s (default 60)"),
    f("scan-mb-per-sec", "assumed sequential scan throughput in MB/s (default 250)"),
    f("index-mb-per-sec", "assumed index build throughput in MB of table per second (default 40)"),
];

/// Fields that every request has, whatever the change.
pub const COMMON_FIELDS: &[&str] = &[
    "db",
    "change",
    "schema",
    "table",
    "rows",
    "size",
    "max-downtime",
];

/// Optional facts and model overrides, shown under "more options".
pub const OPTION_FIELDS: &[&str] = &[
    "primary-key",
    "write-rate",
    "pg-repack",
    "replicas",
    "foreign-keys",
    "osc-tools",
    "lock-timeout",
    "batch-size",
    "backfill-rows-per-sec",
    "rewrite-mb-per-sec",
    "scan-mb-per-sec",
    "index-mb-per-sec",
];

/// Yes/no fields: a checkbox on the page, a bare `--flag` on the command line.
pub const SWITCH_FIELDS: &[&str] = &[
    "unique",
    "not-null",
    "pg-repack",
    "replicas",
    "foreign-keys",
];

pub use super::change::change_fields;

/// A field named in a message or a plan's prose, spelled as the CLI spells it (`--name`).
/// The page shows the field's label there instead ([`label_refs`]), so one message reads
/// right in both places. Only names of [`FIELDS`] are fields; a tool's flag is not.
pub fn flag(name: &str) -> String {
    debug_assert!(FIELDS.iter().any(|f| f.name == name), "{name} is no field");
    format!("--{name}")
}

/// `text` with every `--<field>` of [`FIELDS`] (as [`flag`] writes it) replaced by
/// `label(field)`: the page's reading of a message. Other `--words` (a tool's flags, SQL
/// comments) stay as they are.
pub fn label_refs(text: &str, label: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("--") {
        let before = &rest[..at];
        let after = &rest[at + 2..];
        let word_len = after
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .unwrap_or(after.len());
        let word = &after[..word_len];
        let starts_token = !before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
        let ends_token = !after[word_len..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
        out.push_str(before);
        if starts_token && ends_token && FIELDS.iter().any(|f| f.name == word) {
            out.push_str(&label(word));
        } else {
            out.push_str("--");
            out.push_str(word);
        }
        rest = &after[word_len..];
    }
    out.push_str(rest);
    out
}

/// A parameter's name and a sentence saying what it accepts.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub accepts: &'static str,
}

const fn f(name: &'static str, accepts: &'static str) -> Field {
    Field { name, accepts }
}

/// What a field accepts, for error messages and help text.
pub fn accepts(name: &str) -> &'static str {
    FIELDS
        .iter()
        .find(|f| f.name == name)
        .map_or("", |f| f.accepts)
}

/// Named raw values, in insertion order. Empty values count as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`, replacing an earlier value.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set(name, value);
        self
    }

    /// Test fixture: `change` on `table`, a 500M-row, 120 GB table, at a zero budget on `db`.
    #[cfg(test)]
    pub(crate) fn zero_budget(db: &str, table: &str, change: &[(&str, &str)]) -> Self {
        let mut p = Params::new()
            .with("db", db)
            .with("table", table)
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        for (k, v) in change {
            p.set(k, *v);
        }
        p
    }

    /// The trimmed value, or `None` when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value exactly as typed (untrimmed), or "" when absent: what a form field shows.
    pub fn raw(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Names that no field of [`FIELDS`] has.
    pub fn unknown_names(&self) -> Vec<&str> {
        self.0
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !FIELDS.iter().any(|f| f.name == *n))
            .collect()
    }

    /// Only the fields the chosen change reads (plus common fields and options): what a share
    /// link carries, so values typed for another change type stay on the page but not in links.
    pub fn relevant(&self) -> Params {
        let kind = self.get("change").unwrap_or("");
        let mut out = Params::new();
        for (name, value) in self.canonical() {
            if COMMON_FIELDS.contains(&name)
                || OPTION_FIELDS.contains(&name)
                || change_fields(kind).contains(&name)
                || (kind == "add-foreign-key" && name == "column")
            {
                out.set(name, value);
            }
        }
        out
    }

    /// The non-blank values in the canonical order of [`FIELDS`].
    pub fn canonical(&self) -> Vec<(&'static str, &str)> {
        FIELDS
            .iter()
            .filter_map(|f| self.get(f.name).map(|v| (f.name, v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_references_read_as_labels_on_the_page() {
        let label = |name: &str| format!("“{}”", name.replace('-', " "));
        assert_eq!(
            label_refs(
                &format!(
                    "pass {} with a free name, or lower {}.",
                    flag("name"),
                    flag("batch-size")
                ),
                label
            ),
            "pass “name” with a free name, or lower “batch size”."
        );
        assert_eq!(
            label_refs(
                "keep --defer-cutover; -- a comment; x--name; --names",
                label
            ),
            "keep --defer-cutover; -- a comment; x--name; --names"
        );
    }
}
