//! The change to make: one struct per kind, each reading its own fields, and the one list that
//! names every kind ([`for_each_change_kind`]). The `change` parameter's accepted values, the
//! fields each kind reads (help text, the page's form), parsing, and both engines' dispatch
//! to the kind's own file are all derived from that list: a new kind is one line there, one
//! struct here and one file per engine.
//!
//! Identifiers are raw (as in the catalog); expressions and types are SQL fragments checked
//! for balance, pasted as written.

use super::{parse_method, parse_reference, shown, IndexKey, IndexMethod, Parser};
use serde::Serialize;

/// Calls `$callback!` with every change kind as `Variant module "name" [fields...],`: the
/// variant of [`Change`] and its struct, the file that plans it in each engine's planner, its
/// name in the `change` parameter, and the parameters it reads beyond the common ones. The
/// order is the order of help text, the page's select and the verifier's matrix.
#[macro_export]
macro_rules! for_each_change_kind {
    ($callback:ident) => {
        $callback! {
            AddColumn add_column "add-column" ["column", "type", "default", "not-null", "generated"],
            DropColumn drop_column "drop-column" ["column"],
            RenameColumn rename_column "rename-column" ["column", "new-name", "type"],
            RenameTable rename_table "rename-table" ["new-name"],
            ChangeType change_type "change-type" ["column", "from-type", "to-type", "using"],
            AddIndex add_index "add-index" ["columns", "unique", "where", "method", "name"],
            DropIndex drop_index "drop-index" ["index"],
            AddNotNull add_not_null "add-not-null" ["column", "type"],
            AddUnique add_unique "add-unique" ["columns", "name"],
            AddForeignKey add_foreign_key "add-foreign-key" ["columns", "references", "name"],
            AddCheck add_check "add-check" ["check", "name"],
            SplitTable split_table "split-table" ["columns", "new-table"],
            SetDefault set_default "set-default" ["column", "default"],
            DropDefault drop_default "drop-default" ["column"],
            DropNotNull drop_not_null "drop-not-null" ["column", "type"],
            RenameEnumValue rename_enum_value "rename-enum-value" ["type-name", "value", "new-value", "column", "type"],
            AddEnumValue add_enum_value "add-enum-value" ["type-name", "value", "before", "after", "column", "type"],
            Reindex reindex "reindex" ["index"],
            DropTable drop_table "drop-table" [],
        }
    };
}
pub use for_each_change_kind;

/// Called by [`for_each_change_kind`] inside an engine's planner: defines `kind_paths`, which
/// hands each kind to the `paths` function of the file of the same name in that planner, with
/// the kind's own struct (so no planner ever sees another kind).
#[macro_export]
macro_rules! change_dispatch {
    ($($variant:ident $module:ident $name:literal [$($field:literal),*],)+) => {
        /// The ways this engine can make the change, from the change kind's own file.
        fn kind_paths(ctx: &Ctx, change: &$crate::request::Change) -> Result<Paths, FieldError> {
            match change {
                $($crate::request::Change::$variant(c) => $module::paths(ctx, c),)+
            }
        }
    };
}

/// The enum of every kind, its name, the list of names and fields, and the parser's dispatch.
macro_rules! define_changes {
    ($($variant:ident $module:ident $name:literal [$($field:literal),*],)+) => {
        /// The change to make, with its own parameters.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(tag = "kind", rename_all = "kebab-case")]
        pub enum Change {
            $($variant($variant),)+
        }

        impl Change {
            /// The name, as the `change` parameter spells it.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Change::$variant(_) => $name,)+
                }
            }
        }

        /// The names of the change types, as the `change` parameter spells them.
        pub const CHANGE_KINDS: &[&str] = &[$($name),+];

        /// What the `change` parameter accepts, for help text and messages.
        pub const CHANGE_ACCEPTS: &str = define_changes!(@join $($name),+);

        /// The fields a change type reads, beyond the common ones.
        pub fn change_fields(kind: &str) -> &'static [&'static str] {
            match kind {
                $($name => &[$($field),*],)+
                _ => &[],
            }
        }

        /// Reads the change the `change` parameter names, or records why it cannot.
        pub(super) fn parse_change(p: &mut Parser, schema: Option<&str>) -> Option<Change> {
            let kind = p.required("change")?;
            match kind {
                $($name => Some(Change::$variant($variant::parse(p, schema))),)+
                other => {
                    p.error(
                        "change",
                        format!("{} is not a change type; accepts {CHANGE_ACCEPTS}", shown(other)),
                    );
                    None
                }
            }
        }
    };
    (@join $first:literal $(, $rest:literal)*) => { concat!($first $(, ", ", $rest)*) };
}

for_each_change_kind!(define_changes);

/// A new column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddColumn {
    pub column: String,
    pub data_type: String,
    pub default: Option<String>,
    pub not_null: bool,
    pub generated: Option<String>,
}

impl AddColumn {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        AddColumn {
            column: p.ident("column"),
            data_type: p.fragment("type"),
            default: p.optional_fragment("default"),
            not_null: p.flag("not-null"),
            generated: p.optional_fragment("generated"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropColumn {
    pub column: String,
}

impl DropColumn {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        DropColumn {
            column: p.ident("column"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenameColumn {
    pub column: String,
    pub new_name: String,
    /// The column's full current type; MySQL's `CHANGE old new <definition>` (5.7,
    /// MariaDB before 10.5.2) restates it. Not used for PostgreSQL.
    pub data_type: Option<String>,
}

impl RenameColumn {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        RenameColumn {
            column: p.ident("column"),
            new_name: p.ident("new-name"),
            data_type: p.optional_fragment("type"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenameTable {
    pub new_name: String,
}

impl RenameTable {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        RenameTable {
            new_name: p.ident("new-name"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeType {
    pub column: String,
    pub from_type: String,
    pub to_type: String,
    pub using: Option<String>,
}

impl ChangeType {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        ChangeType {
            column: p.ident("column"),
            from_type: p.fragment("from-type"),
            to_type: p.fragment("to-type"),
            using: p.optional_fragment("using"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddIndex {
    /// The keys, as the `columns` field lists them: columns or expressions, with ordering.
    pub keys: Vec<IndexKey>,
    pub unique: bool,
    pub predicate: Option<String>,
    pub method: IndexMethod,
    pub name: Option<String>,
}

impl AddIndex {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        AddIndex {
            keys: p.index_keys("columns"),
            unique: p.flag("unique"),
            predicate: p.optional_fragment("where"),
            method: p
                .parsed("method", parse_method)
                .unwrap_or(IndexMethod::Btree),
            name: p.optional_ident("name"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropIndex {
    pub index: String,
}

impl DropIndex {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        DropIndex {
            index: p.ident("index"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddNotNull {
    pub column: String,
    /// The column's full current type; MySQL's `MODIFY` restates the whole column. Not
    /// used for PostgreSQL.
    pub data_type: Option<String>,
}

impl AddNotNull {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        AddNotNull {
            column: p.ident("column"),
            data_type: p.optional_fragment("type"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddUnique {
    pub columns: Vec<String>,
    pub name: Option<String>,
}

impl AddUnique {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        AddUnique {
            columns: p.ident_list("columns"),
            name: p.optional_ident("name"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddForeignKey {
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub name: Option<String>,
}

impl AddForeignKey {
    /// The referenced table is looked up in the table's own schema, so a qualified reference
    /// must name that schema; the two column lists must pair up.
    fn parse(p: &mut Parser, schema: Option<&str>) -> Self {
        let columns = match p.params.get("columns") {
            Some(_) => p.ident_list("columns"),
            None => vec![p.ident("column")],
        };
        let (ref_table, ref_columns) = Self::reference(p, schema);
        if !ref_columns.is_empty() && ref_columns.len() != columns.len() {
            p.error(
                "references",
                format!(
                    "names {} column(s) but the foreign key has {}; they must pair up",
                    ref_columns.len(),
                    columns.len()
                ),
            );
        }
        AddForeignKey {
            columns,
            ref_table,
            ref_columns,
            name: p.optional_ident("name"),
        }
    }

    fn reference(p: &mut Parser, schema: Option<&str>) -> (String, Vec<String>) {
        let reference = p
            .required("references")
            .map(|raw| parse_reference(raw, |name| p.name_rule(name)));
        match reference {
            Some(Ok((Some(ref_schema), _, _))) if Some(ref_schema.as_str()) != schema => {
                p.error(
                    "references",
                    format!(
                        "names the schema {}, but the plan looks the referenced table up in the table's own schema ({}); give the referenced table unqualified, or plan from that schema",
                        shown(&ref_schema),
                        schema.map_or("the search_path".to_string(), shown)
                    ),
                );
                (String::new(), Vec::new())
            }
            Some(Ok((_, table, columns))) => (table, columns),
            Some(Err(message)) => {
                p.error("references", message);
                (String::new(), Vec::new())
            }
            None => (String::new(), Vec::new()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddCheck {
    pub expression: String,
    pub name: Option<String>,
}

impl AddCheck {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        AddCheck {
            expression: p.fragment("check"),
            name: p.optional_ident("name"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitTable {
    pub columns: Vec<String>,
    pub new_table: String,
}

impl SplitTable {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        SplitTable {
            columns: p.ident_list("columns"),
            new_table: p.ident("new-table"),
        }
    }
}

/// A new DEFAULT for an existing column: only rows inserted afterwards get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetDefault {
    pub column: String,
    pub default: String,
}

impl SetDefault {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        SetDefault {
            column: p.ident("column"),
            default: p.fragment("default"),
        }
    }
}

/// Remove a column's DEFAULT: inserts that omit the column get NULL (or fail) from then on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropDefault {
    pub column: String,
}

impl DropDefault {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        DropDefault {
            column: p.ident("column"),
        }
    }
}

/// Let a NOT NULL column accept NULL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropNotNull {
    pub column: String,
    /// The column's full current definition without NOT NULL; MySQL's `MODIFY` restates the
    /// whole column. Not used for PostgreSQL.
    pub data_type: Option<String>,
}

impl DropNotNull {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        DropNotNull {
            column: p.ident("column"),
            data_type: p.optional_fragment("type"),
        }
    }
}

/// Rename one label of an enum type (PostgreSQL) or one member of an ENUM column (MySQL,
/// MariaDB). Labels are checked by the engine's name rule: PostgreSQL's 63-byte limit on
/// identifiers is also its limit on enum labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenameEnumValue {
    /// The enum type (PostgreSQL), looked up in the table's schema.
    pub type_name: Option<String>,
    pub value: String,
    pub new_value: String,
    /// The ENUM column (MySQL, MariaDB).
    pub column: Option<String>,
    /// The column's full current definition, `enum('a','b') NOT NULL DEFAULT 'a'` (MySQL,
    /// MariaDB: MODIFY restates it).
    pub data_type: Option<String>,
}

impl RenameEnumValue {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        let value = p.ident("value");
        let new_value = p.ident("new-value");
        if !value.is_empty() && value == new_value {
            p.error("new-value", "is the same as value; accepts another label");
        }
        RenameEnumValue {
            type_name: p.optional_ident("type-name"),
            value,
            new_value,
            column: p.optional_ident("column"),
            data_type: p.optional_fragment("type"),
        }
    }
}

/// Where a new enum label goes: at the end, or next to an existing one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "at", content = "label", rename_all = "kebab-case")]
pub enum EnumPlace {
    End,
    Before(String),
    After(String),
}

/// Add one label to an enum type (PostgreSQL) or one member to an ENUM column (MySQL,
/// MariaDB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddEnumValue {
    /// The enum type (PostgreSQL), looked up in the table's schema.
    pub type_name: Option<String>,
    pub value: String,
    pub place: EnumPlace,
    /// The ENUM column (MySQL, MariaDB).
    pub column: Option<String>,
    /// The column's full current definition (MySQL, MariaDB: MODIFY restates it).
    pub data_type: Option<String>,
}

impl AddEnumValue {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        let value = p.ident("value");
        let before = p.optional_ident("before");
        let after = p.optional_ident("after");
        let place = match (before, after) {
            (Some(_), Some(_)) => {
                p.error(
                    "after",
                    "cannot be given with before; accepts one of the two",
                );
                EnumPlace::End
            }
            (Some(b), None) => EnumPlace::Before(b),
            (None, Some(a)) => EnumPlace::After(a),
            (None, None) => EnumPlace::End,
        };
        if matches!(&place, EnumPlace::Before(n) | EnumPlace::After(n) if *n == value) {
            p.error(
                "value",
                "is the label it is placed next to; accepts a new label",
            );
        }
        AddEnumValue {
            type_name: p.optional_ident("type-name"),
            value,
            place,
            column: p.optional_ident("column"),
            data_type: p.optional_fragment("type"),
        }
    }
}

/// Rebuild an existing index (bloat, corruption) under the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reindex {
    pub index: String,
}

impl Reindex {
    fn parse(p: &mut Parser, _schema: Option<&str>) -> Self {
        Reindex {
            index: p.ident("index"),
        }
    }
}

/// Drop the table the request names (no fields of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DropTable {}

impl DropTable {
    fn parse(_p: &mut Parser, _schema: Option<&str>) -> Self {
        DropTable {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_listed_once_with_its_fields() {
        let mut names = CHANGE_KINDS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CHANGE_KINDS.len());
        assert!(CHANGE_KINDS.iter().all(|k| CHANGE_ACCEPTS.contains(k)));
        assert_eq!(CHANGE_ACCEPTS.matches(", ").count(), CHANGE_KINDS.len() - 1);
        assert_eq!(change_fields("add-column")[0], "column");
        assert!(change_fields("no-such-kind").is_empty());
    }
}
