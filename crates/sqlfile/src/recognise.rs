//! One parsed statement to Lockstep's changes: each with its parameters, under the same names
//! as the page's form and the share link, so a recognised statement plans exactly as the same
//! change entered by hand. Anything Lockstep's change would not carry (an `ON DELETE CASCADE`,
//! a column's `COLLATE`, a MySQL `AFTER`) makes the statement unknown rather than planned
//! without it.

use lockstep_planner::request::params::Params;
use lockstep_planner::request::Change;
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, ColumnOptionDef, CreateIndex,
    DataType, Expr, GeneratedExpressionMode, Ident, IndexColumn, ObjectName, ObjectNamePart,
    ObjectType, OrderBySort, RenameTableNameKind, Statement, TableConstraint, TableFactor,
};
use std::collections::HashMap;

/// How the statement is written compared with the plain form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The plain statement: Lockstep's direct path.
    Plain,
    /// Already the online form (`CONCURRENTLY`, `NOT VALID`, `VALIDATE CONSTRAINT`): a part of
    /// Lockstep's online path.
    OnlineForm(&'static str),
}

/// A statement (or one action of an `ALTER TABLE`) read as one of Lockstep's changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognised {
    pub kind: &'static str,
    pub schema: Option<String>,
    pub table: String,
    /// The change's own parameters plus `change`, `schema` and `table`.
    pub params: Params,
    pub written: Written,
}

/// What one statement (or one action of it) is.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Change(Recognised),
    /// Rows written, not schema: `UPDATE`, `DELETE`, `INSERT` on a table.
    DataChange {
        verb: &'static str,
        schema: Option<String>,
        table: String,
    },
    /// Not a change Lockstep plans, or one whose parameters the file does not give: why.
    Unknown(String),
}

/// What earlier statements of the file told: column types, indexes' tables, NOT VALID
/// constraints awaiting their VALIDATE.
#[derive(Debug, Default)]
pub struct FileFacts {
    column_types: HashMap<(String, String), String>,
    index_tables: HashMap<String, (Option<String>, String)>,
    not_valid: HashMap<(String, String), Recognised>,
}

/// Reads one statement; `postgres` decides identifier case folding (unquoted names fold to
/// lower case on PostgreSQL, stay as written on MySQL) and which forms exist.
pub struct Reader<'f> {
    pub postgres: bool,
    pub facts: &'f mut FileFacts,
}

impl Reader<'_> {
    /// The items of `statement`: one per action of an `ALTER TABLE`, one per index dropped.
    pub fn read(&mut self, statement: &Statement, drop_concurrently: bool) -> Vec<Item> {
        match statement {
            Statement::AlterTable(alter) => {
                let Some((schema, table)) = self.object(&alter.name) else {
                    return vec![unknown_name(&alter.name)];
                };
                let target = Target {
                    schema: schema.clone(),
                    table: table.clone(),
                };
                if let Some(forced) = alter.operations.iter().find_map(forces_blocking) {
                    return vec![Item::Unknown(format!(
                        "{forced}: the statement forces a blocking table copy or lock that Lockstep's plan of the change does not make; drop the clause and check again"
                    ))];
                }
                let items: Vec<Item> = alter
                    .operations
                    .iter()
                    .filter(|op| !is_option(op))
                    .map(|op| self.alter(&target, op))
                    .collect();
                if items.is_empty() {
                    vec![Item::Unknown(
                        "ALTER TABLE with only ALGORITHM or LOCK: no change".into(),
                    )]
                } else {
                    items
                }
            }
            Statement::CreateIndex(index) => vec![self.create_index(index)],
            Statement::RenameTable(renames) => renames
                .iter()
                .map(|r| self.rename_table(&r.old_name, &r.new_name))
                .collect(),
            Statement::Drop {
                object_type: ObjectType::Index,
                names,
                cascade,
                table,
                ..
            } => names
                .iter()
                .map(|n| self.drop_index(n, table.as_ref(), *cascade, drop_concurrently))
                .collect(),
            Statement::Drop {
                object_type: ObjectType::Table,
                names,
                cascade,
                ..
            } => names.iter().map(|n| self.drop_table(n, *cascade)).collect(),
            Statement::CreateTable(create) => {
                if let Some((schema, table)) = self.object(&create.name) {
                    for column in &create.columns {
                        self.remember_type(&schema, &table, &column.name, &column.data_type);
                    }
                }
                vec![Item::Unknown(
                    "CREATE TABLE: a new table, not a change Lockstep plans".into(),
                )]
            }
            Statement::Update(update) => vec![self.data_change("UPDATE", &update.table.relation)],
            Statement::Delete(delete) => {
                let tables = match &delete.from {
                    sqlparser::ast::FromTable::WithFromKeyword(t)
                    | sqlparser::ast::FromTable::WithoutKeyword(t) => t,
                };
                match tables.first() {
                    Some(t) => vec![self.data_change("DELETE", &t.relation)],
                    None => vec![Item::Unknown("DELETE without a table".into())],
                }
            }
            Statement::Insert(insert) => match &insert.table {
                sqlparser::ast::TableObject::TableName(name) => match self.object(name) {
                    Some((schema, table)) => vec![Item::DataChange {
                        verb: "INSERT",
                        schema,
                        table,
                    }],
                    None => vec![unknown_name(name)],
                },
                _ => vec![Item::Unknown("INSERT into a table function".into())],
            },
            other => vec![Item::Unknown(format!(
                "{}: not a change Lockstep plans",
                statement_label(other)
            ))],
        }
    }

    fn alter(&mut self, target: &Target, op: &AlterTableOperation) -> Item {
        use AlterTableOperation as Op;
        match op {
            Op::AddColumn {
                column_def,
                column_position,
                ..
            } => {
                if column_position.is_some() {
                    return Item::Unknown(
                        "ADD COLUMN with FIRST or AFTER: Lockstep's add-column does not place columns".into(),
                    );
                }
                self.remember_type(
                    &target.schema,
                    &target.table,
                    &column_def.name,
                    &column_def.data_type,
                );
                self.add_column(
                    target,
                    &column_def.name,
                    &column_def.data_type,
                    &column_def.options,
                )
            }
            Op::DropColumn {
                column_names,
                drop_behavior,
                ..
            } => {
                if matches!(drop_behavior, Some(sqlparser::ast::DropBehavior::Cascade)) {
                    return Item::Unknown(
                        "DROP COLUMN … CASCADE also drops what depends on the column; Lockstep's drop-column does not".into(),
                    );
                }
                match column_names.as_slice() {
                    [one] => target.change("drop-column", Written::Plain, |p| {
                        p.set("column", self.name(one));
                    }),
                    _ => Item::Unknown(
                        "DROP COLUMN of several columns in one action: write one DROP COLUMN per column".into(),
                    ),
                }
            }
            Op::RenameColumn {
                old_column_name,
                new_column_name,
            } => target.change("rename-column", Written::Plain, |p| {
                p.set("column", self.name(old_column_name));
                p.set("new-name", self.name(new_column_name));
            }),
            Op::RenameTable { table_name } => {
                let (RenameTableNameKind::As(name) | RenameTableNameKind::To(name)) = table_name;
                match self.object(name) {
                    Some((schema, new_name)) if schema.is_none() || schema == target.schema => {
                        target.change("rename-table", Written::Plain, |p| {
                            p.set("new-name", new_name.clone());
                        })
                    }
                    _ => Item::Unknown(
                        "RENAME TO another schema: Lockstep's rename-table keeps the schema".into(),
                    ),
                }
            }
            Op::AlterColumn { column_name, op } => self.alter_column(target, column_name, op),
            Op::AddConstraint {
                constraint,
                not_valid,
            } => self.add_constraint(target, constraint, *not_valid),
            Op::ValidateConstraint { name } => self.validate(target, name),
            Op::DropIndex { name } => target.change("drop-index", Written::Plain, |p| {
                p.set("index", self.name(name));
            }),
            Op::ModifyColumn {
                col_name,
                data_type,
                options,
                column_position: None,
            } => self.modify(target, col_name, col_name, data_type, options),
            Op::ChangeColumn {
                old_name,
                new_name,
                data_type,
                options,
                column_position: None,
            } => self.modify(target, old_name, new_name, data_type, options),
            other => Item::Unknown(format!(
                "ALTER TABLE … {}: not a change Lockstep plans",
                first_words(&other.to_string())
            )),
        }
    }

    fn add_column(
        &self,
        target: &Target,
        column: &Ident,
        data_type: &DataType,
        options: &[ColumnOptionDef],
    ) -> Item {
        let mut default = None;
        let mut not_null = false;
        let mut generated = None;
        for option in options {
            if option.name.is_some() {
                return Item::Unknown(
                    "ADD COLUMN with a named column constraint: Lockstep's add-column does not carry it".into(),
                );
            }
            match &option.option {
                ColumnOption::Null => {}
                ColumnOption::NotNull => not_null = true,
                ColumnOption::Default(e) => default = Some(e.to_string()),
                ColumnOption::Generated {
                    generation_expr: Some(e),
                    generation_expr_mode: Some(GeneratedExpressionMode::Stored),
                    ..
                } => generated = Some(e.to_string()),
                other => {
                    return Item::Unknown(format!(
                        "ADD COLUMN … {}: Lockstep's add-column does not carry that attribute",
                        first_words(&other.to_string())
                    ))
                }
            }
        }
        target.change("add-column", Written::Plain, |p| {
            p.set("column", self.name(column));
            p.set("type", data_type.to_string());
            if let Some(d) = default {
                p.set("default", d);
            }
            if not_null {
                p.set("not-null", "true");
            }
            if let Some(g) = generated {
                p.set("generated", g);
            }
        })
    }

    fn alter_column(&self, target: &Target, column: &Ident, op: &AlterColumnOperation) -> Item {
        match op {
            AlterColumnOperation::SetNotNull => {
                target.change("add-not-null", Written::Plain, |p| {
                    p.set("column", self.name(column));
                })
            }
            AlterColumnOperation::SetDataType {
                data_type, using, ..
            } => match self.known_type(target, column) {
                Some(from) => target.change("change-type", Written::Plain, |p| {
                    p.set("column", self.name(column));
                    p.set("from-type", from.clone());
                    p.set("to-type", data_type.to_string());
                    if let Some(u) = using {
                        p.set("using", u.to_string());
                    }
                }),
                None => Item::Unknown(format!(
                    "ALTER COLUMN … TYPE: the current type of {} is not in this file, and whether the table is rewritten depends on it",
                    self.name(column)
                )),
            },
            AlterColumnOperation::SetDefault { value } => {
                target.change("set-default", Written::Plain, |p| {
                    p.set("column", self.name(column));
                    p.set("default", value.to_string());
                })
            }
            AlterColumnOperation::DropDefault => {
                target.change("drop-default", Written::Plain, |p| {
                    p.set("column", self.name(column));
                })
            }
            AlterColumnOperation::DropNotNull if self.postgres => {
                target.change("drop-not-null", Written::Plain, |p| {
                    p.set("column", self.name(column));
                })
            }
            other => Item::Unknown(format!(
                "ALTER COLUMN … {}: not a change Lockstep plans",
                first_words(&other.to_string())
            )),
        }
    }

    /// MySQL's MODIFY / CHANGE restate the whole column: a rename when the name changes, NOT
    /// NULL added when the type stays, a type change when the file shows the old type.
    fn modify(
        &self,
        target: &Target,
        old: &Ident,
        new: &Ident,
        data_type: &DataType,
        options: &[ColumnOption],
    ) -> Item {
        let written = data_type.to_string();
        let not_null = options.iter().any(|o| matches!(o, ColumnOption::NotNull));
        let rest: Vec<String> = options
            .iter()
            .filter(|o| !matches!(o, ColumnOption::NotNull | ColumnOption::Null))
            .map(|o| o.to_string())
            .collect();
        let definition = std::iter::once(written.clone())
            .chain(rest.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        let known = self.known_type(target, old);
        if self.name(old) != self.name(new) {
            if known.as_ref().is_some_and(|k| !same_type(k, &written)) {
                return Item::Unknown("CHANGE renames the column and changes its type in one statement: write them apart".into());
            }
            return target.change("rename-column", Written::Plain, |p| {
                p.set("column", self.name(old));
                p.set("new-name", self.name(new));
                let nn = if not_null { " NOT NULL" } else { "" };
                p.set("type", format!("{definition}{nn}"));
            });
        }
        match known {
            Some(from) if !same_type(&from, &written) => {
                if !rest.is_empty() {
                    return Item::Unknown(
                        "MODIFY changes the type and restates attributes: Lockstep's change-type carries the type only".into(),
                    );
                }
                target.change("change-type", Written::Plain, |p| {
                    p.set("column", self.name(old));
                    p.set("from-type", from.clone());
                    p.set("to-type", written.clone());
                })
            }
            Some(_) if not_null => target.change("add-not-null", Written::Plain, |p| {
                p.set("column", self.name(old));
                p.set("type", definition.clone());
            }),
            Some(_) => Item::Unknown("MODIFY restating the column as it is: no change Lockstep plans".into()),
            None => Item::Unknown(format!(
                "MODIFY restates the whole column; the current definition of {} is not in this file, so a type change cannot be told from NOT NULL added",
                self.name(old)
            )),
        }
    }

    fn add_constraint(
        &mut self,
        target: &Target,
        constraint: &TableConstraint,
        not_valid: bool,
    ) -> Item {
        let written = if not_valid {
            Written::OnlineForm("ADD CONSTRAINT … NOT VALID")
        } else {
            Written::Plain
        };
        let item = match constraint {
            TableConstraint::Unique(u) => {
                if !u.include.is_empty()
                    || !u.index_options.is_empty()
                    || u.index_type.is_some()
                    || u.characteristics.is_some()
                    || !matches!(u.nulls_distinct, sqlparser::ast::NullsDistinctOption::None)
                {
                    return Item::Unknown(
                        "ADD UNIQUE with options Lockstep's add-unique does not carry".into(),
                    );
                }
                let Some(columns) = self.plain_columns(&u.columns) else {
                    return Item::Unknown(
                        "ADD UNIQUE on an expression or with ordering: use CREATE UNIQUE INDEX"
                            .into(),
                    );
                };
                let name = u
                    .name
                    .as_ref()
                    .or(u.index_name.as_ref())
                    .map(|n| self.name(n));
                target.change("add-unique", written, |p| {
                    p.set("columns", columns.clone());
                    if let Some(n) = &name {
                        p.set("name", n.clone());
                    }
                })
            }
            TableConstraint::ForeignKey(fk) => {
                if fk.on_delete.is_some()
                    || fk.on_update.is_some()
                    || fk.match_kind.is_some()
                    || fk.characteristics.is_some()
                {
                    return Item::Unknown("FOREIGN KEY with ON DELETE, ON UPDATE, MATCH or DEFERRABLE: Lockstep's add-foreign-key does not carry them".into());
                }
                let Some((ref_schema, ref_table)) = self.object(&fk.foreign_table) else {
                    return unknown_name(&fk.foreign_table);
                };
                if ref_schema.is_some() && ref_schema != target.schema {
                    return Item::Unknown("FOREIGN KEY to a table in another schema: Lockstep looks the referenced table up in the table's own schema".into());
                }
                if fk.referred_columns.is_empty() {
                    return Item::Unknown(
                        "FOREIGN KEY without the referenced columns: name them".into(),
                    );
                }
                let columns = self.join(&fk.columns);
                let references = format!(
                    "{}({})",
                    quoted(&ref_table),
                    self.join(&fk.referred_columns)
                );
                let name = fk.name.as_ref().map(|n| self.name(n));
                target.change("add-foreign-key", written, |p| {
                    p.set("columns", columns.clone());
                    p.set("references", references.clone());
                    if let Some(n) = &name {
                        p.set("name", n.clone());
                    }
                })
            }
            TableConstraint::Check(c) => {
                if c.no_inherit || c.enforced.is_some() {
                    return Item::Unknown("CHECK with NO INHERIT or [NOT] ENFORCED: Lockstep's add-check does not carry it".into());
                }
                let name = c.name.as_ref().map(|n| self.name(n));
                target.change("add-check", written, |p| {
                    p.set("check", c.expr.to_string());
                    if let Some(n) = &name {
                        p.set("name", n.clone());
                    }
                })
            }
            TableConstraint::Index(ix) => {
                if !ix.index_options.is_empty() {
                    return Item::Unknown(
                        "ADD INDEX with index options Lockstep's add-index does not carry".into(),
                    );
                }
                let Some(keys) = self.keys(&ix.columns) else {
                    return Item::Unknown("ADD INDEX with a key Lockstep cannot write back".into());
                };
                let method = ix.index_type.as_ref().map(|t| t.to_string().to_lowercase());
                let name = ix.name.as_ref().map(|n| self.name(n));
                target.change("add-index", Written::Plain, |p| {
                    p.set("columns", keys.clone());
                    if let Some(m) = &method {
                        p.set("method", m.clone());
                    }
                    if let Some(n) = &name {
                        p.set("name", n.clone());
                    }
                })
            }
            other => Item::Unknown(format!(
                "ADD {}: not a change Lockstep plans",
                first_words(&other.to_string())
            )),
        };
        if let (true, Item::Change(r)) = (not_valid, &item) {
            if let Some(name) = r.params.get("name") {
                self.facts
                    .not_valid
                    .insert((target.key(), name.to_string()), r.clone());
            }
        }
        item
    }

    /// The second half of the NOT VALID form, planned as the change the first half began.
    fn validate(&mut self, target: &Target, name: &Ident) -> Item {
        let key = (target.key(), self.name(name));
        match self.facts.not_valid.get(&key) {
            Some(added) => Item::Change(Recognised {
                written: Written::OnlineForm("VALIDATE CONSTRAINT"),
                ..added.clone()
            }),
            None => Item::Unknown(format!(
                "VALIDATE CONSTRAINT {}: the constraint is not added NOT VALID earlier in this file",
                self.name(name)
            )),
        }
    }

    fn create_index(&mut self, index: &CreateIndex) -> Item {
        let Some((schema, table)) = self.object(&index.table_name) else {
            return unknown_name(&index.table_name);
        };
        let target = Target { schema, table };
        if !index.include.is_empty()
            || !index.with.is_empty()
            || index.nulls_distinct.is_some()
            || !index.index_options.is_empty()
            || !index.alter_options.is_empty()
        {
            return Item::Unknown("CREATE INDEX with INCLUDE, WITH, NULLS [NOT] DISTINCT or index options: Lockstep's add-index does not carry them".into());
        }
        let Some(keys) = self.keys(&index.columns) else {
            return Item::Unknown("CREATE INDEX with a key Lockstep cannot write back".into());
        };
        let name = match &index.name {
            Some(n) => match self.object(n) {
                Some((_, name)) => Some(name),
                None => return unknown_name(n),
            },
            None => None,
        };
        if let Some(n) = &name {
            self.facts
                .index_tables
                .insert(n.clone(), (target.schema.clone(), target.table.clone()));
        }
        let written = if index.concurrently && self.postgres {
            Written::OnlineForm("CREATE INDEX CONCURRENTLY")
        } else {
            Written::Plain
        };
        let method = index.using.as_ref().map(|t| t.to_string().to_lowercase());
        target.change("add-index", written, |p| {
            p.set("columns", keys.clone());
            if index.unique {
                p.set("unique", "true");
            }
            if let Some(w) = &index.predicate {
                p.set("where", w.to_string());
            }
            if let Some(m) = &method {
                p.set("method", m.clone());
            }
            if let Some(n) = &name {
                p.set("name", n.clone());
            }
        })
    }

    /// `DROP TABLE t`: drop-table's rename-aside-then-drop; CASCADE also drops what depends
    /// on the table, which the plan does not.
    fn drop_table(&self, name: &ObjectName, cascade: bool) -> Item {
        if cascade {
            return Item::Unknown(
                "DROP TABLE … CASCADE also drops the views and foreign keys that depend on the table".into(),
            );
        }
        match self.object(name) {
            Some((schema, table)) => {
                Target { schema, table }.change("drop-table", Written::Plain, |_| {})
            }
            None => unknown_name(name),
        }
    }

    fn drop_index(
        &self,
        name: &ObjectName,
        table: Option<&ObjectName>,
        cascade: bool,
        concurrently: bool,
    ) -> Item {
        if cascade {
            return Item::Unknown(
                "DROP INDEX … CASCADE also drops what depends on the index".into(),
            );
        }
        let Some((index_schema, index)) = self.object(name) else {
            return unknown_name(name);
        };
        let target = match table.map(|t| self.object(t)) {
            Some(Some((schema, table))) => Target { schema, table },
            Some(None) => return Item::Unknown("DROP INDEX on a table name Lockstep cannot read".into()),
            None => match self.facts.index_tables.get(&index) {
                Some((schema, table)) => Target {
                    schema: schema.clone(),
                    table: table.clone(),
                },
                None => {
                    return Item::Unknown(format!(
                        "DROP INDEX {index}: its table is not named here nor created earlier in this file, and Lockstep plans per table"
                    ))
                }
            },
        };
        if index_schema.is_some() && index_schema != target.schema {
            return Item::Unknown("DROP INDEX in another schema than its table".into());
        }
        let written = if concurrently {
            Written::OnlineForm("DROP INDEX CONCURRENTLY")
        } else {
            Written::Plain
        };
        target.change("drop-index", written, |p| p.set("index", index.clone()))
    }

    /// MySQL's `RENAME TABLE a TO b`: a rename within one schema.
    fn rename_table(&self, old: &ObjectName, new: &ObjectName) -> Item {
        match (self.object(old), self.object(new)) {
            (Some((schema, table)), Some((new_schema, new_name)))
                if new_schema.is_none() || new_schema == schema =>
            {
                Target { schema, table }.change("rename-table", Written::Plain, |p| {
                    p.set("new-name", new_name.clone());
                })
            }
            _ => Item::Unknown(
                "RENAME TABLE to another schema: Lockstep's rename-table keeps the schema".into(),
            ),
        }
    }

    fn data_change(&self, verb: &'static str, relation: &TableFactor) -> Item {
        match relation {
            TableFactor::Table { name, .. } => match self.object(name) {
                Some((schema, table)) => Item::DataChange {
                    verb,
                    schema,
                    table,
                },
                None => unknown_name(name),
            },
            _ => Item::Unknown(format!("{verb} of something other than a table")),
        }
    }

    fn remember_type(
        &mut self,
        schema: &Option<String>,
        table: &str,
        column: &Ident,
        t: &DataType,
    ) {
        let key = Target {
            schema: schema.clone(),
            table: table.to_string(),
        }
        .key();
        self.facts
            .column_types
            .insert((key, self.name(column)), t.to_string());
    }

    fn known_type(&self, target: &Target, column: &Ident) -> Option<String> {
        self.facts
            .column_types
            .get(&(target.key(), self.name(column)))
            .cloned()
    }

    /// An identifier as the catalog holds it: PostgreSQL folds an unquoted name to lower case.
    fn name(&self, ident: &Ident) -> String {
        if self.postgres && ident.quote_style.is_none() {
            ident.value.to_lowercase()
        } else {
            ident.value.clone()
        }
    }

    /// `schema.table` or `table`; None for three parts or a function part.
    fn object(&self, name: &ObjectName) -> Option<(Option<String>, String)> {
        let parts: Option<Vec<String>> = name
            .0
            .iter()
            .map(|part| match part {
                ObjectNamePart::Identifier(ident) => Some(self.name(ident)),
                ObjectNamePart::Function(_) => None,
            })
            .collect();
        match parts?.as_slice() {
            [table] => Some((None, table.clone())),
            [schema, table] => Some((Some(schema.clone()), table.clone())),
            _ => None,
        }
    }

    fn join(&self, idents: &[Ident]) -> String {
        idents
            .iter()
            .map(|i| self.name(i))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The columns of a UNIQUE constraint as a plain list; None when one is an expression or
    /// carries an ordering.
    fn plain_columns(&self, columns: &[IndexColumn]) -> Option<String> {
        let names: Option<Vec<String>> = columns
            .iter()
            .map(|c| {
                match (
                    &c.column.expr,
                    &c.column.options.sort,
                    c.column.options.nulls_first,
                    &c.operator_class,
                ) {
                    (Expr::Identifier(i), None, None, None) => Some(self.name(i)),
                    _ => None,
                }
            })
            .collect();
        let names = names?;
        (!names.iter().any(|n| n.contains(','))).then(|| names.join(","))
    }

    /// The keys of an index as add-index's `columns` field writes them.
    fn keys(&self, columns: &[IndexColumn]) -> Option<String> {
        let keys: Option<Vec<String>> = columns.iter().map(|c| self.key(c)).collect();
        keys.map(|k| k.join(", "))
    }

    fn key(&self, column: &IndexColumn) -> Option<String> {
        let mut key = match &column.column.expr {
            Expr::Identifier(i) => quoted(&self.name(i)),
            Expr::Function(f) => f.to_string(),
            other => format!("({other})"),
        };
        if let Some(class) = &column.operator_class {
            key.push(' ');
            key.push_str(&class.to_string());
        }
        match column.column.options.sort {
            None | Some(OrderBySort::Asc) => {}
            Some(OrderBySort::Desc) => key.push_str(" DESC"),
            Some(_) => return None,
        }
        match column.column.options.nulls_first {
            Some(true) => key.push_str(" NULLS FIRST"),
            Some(false) => key.push_str(" NULLS LAST"),
            None => {}
        }
        column.column.with_fill.is_none().then_some(key)
    }
}

/// The SQL each change kind is read from. The match is exhaustive: a kind added to the
/// planner's list is a compile error here until it says how it is written (and the kinds test
/// then asks for a sample statement).
pub fn written_as(change: &Change) -> Option<&'static str> {
    match change {
        Change::AddColumn(_) => Some("ALTER TABLE … ADD [COLUMN]"),
        Change::DropColumn(_) => Some("ALTER TABLE … DROP [COLUMN]"),
        Change::RenameColumn(_) => Some("ALTER TABLE … RENAME COLUMN; MySQL CHANGE old new"),
        Change::RenameTable(_) => Some("ALTER TABLE … RENAME TO"),
        Change::ChangeType(_) => Some("ALTER COLUMN … [SET DATA] TYPE; MySQL MODIFY"),
        Change::AddIndex(_) => Some("CREATE [UNIQUE] INDEX [CONCURRENTLY]; MySQL ADD INDEX"),
        Change::DropIndex(_) => {
            Some("DROP INDEX [CONCURRENTLY]; MySQL DROP INDEX … ON, ALTER TABLE … DROP INDEX")
        }
        Change::AddNotNull(_) => Some("ALTER COLUMN … SET NOT NULL; MySQL MODIFY … NOT NULL"),
        Change::AddUnique(_) => Some("ADD [CONSTRAINT] … UNIQUE"),
        Change::AddForeignKey(_) => Some("ADD [CONSTRAINT] … FOREIGN KEY [NOT VALID]"),
        Change::AddCheck(_) => Some("ADD [CONSTRAINT] … CHECK [NOT VALID]"),
        Change::DropTable(_) => Some("DROP TABLE"),
        // sqlparser has no REINDEX statement: the file reports it unknown, never drops it.
        Change::Reindex(_) => None,
        Change::SetDefault(_) => Some("ALTER COLUMN … SET DEFAULT"),
        Change::DropDefault(_) => Some("ALTER COLUMN … DROP DEFAULT"),
        Change::DropNotNull(_) => Some("ALTER COLUMN … DROP NOT NULL (PostgreSQL)"),
        // The reader has no table for a type's labels, which every plan is sized by: an
        // ALTER TYPE statement is reported unknown with that reason.
        Change::RenameEnumValue(_) | Change::AddEnumValue(_) => None,
        // Several statements (a new table, a copy, a drop): no one statement is this change.
        Change::SplitTable(_) => None,
    }
}

/// The table an action applies to.
struct Target {
    schema: Option<String>,
    table: String,
}

impl Target {
    fn key(&self) -> String {
        match &self.schema {
            Some(s) => format!("{s}.{}", self.table),
            None => self.table.clone(),
        }
    }

    fn change(&self, kind: &'static str, written: Written, fill: impl FnOnce(&mut Params)) -> Item {
        let mut params = Params::new().with("change", kind);
        if let Some(s) = &self.schema {
            params.set("schema", s.clone());
        }
        params.set("table", quoted(&self.table));
        fill(&mut params);
        Item::Change(Recognised {
            kind,
            schema: self.schema.clone(),
            table: self.table.clone(),
            params,
            written,
        })
    }
}

/// A name as the form's fields read it: bare when plain, else in double quotes.
fn quoted(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn same_type(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// A MySQL `ALGORITHM=COPY` or `LOCK=SHARED|EXCLUSIVE`: the statement then blocks more than
/// the plan's direct path says.
fn forces_blocking(op: &AlterTableOperation) -> Option<String> {
    use sqlparser::ast::{AlterTableAlgorithm, AlterTableLock};
    match op {
        AlterTableOperation::Algorithm {
            algorithm: AlterTableAlgorithm::Copy,
            ..
        }
        | AlterTableOperation::Lock {
            lock: AlterTableLock::Shared | AlterTableLock::Exclusive,
            ..
        } => Some(op.to_string()),
        _ => None,
    }
}

fn is_option(op: &AlterTableOperation) -> bool {
    matches!(
        op,
        AlterTableOperation::Algorithm { .. } | AlterTableOperation::Lock { .. }
    )
}

fn unknown_name(name: &ObjectName) -> Item {
    Item::Unknown(format!(
        "{name}: a name Lockstep reads as table or schema.table only"
    ))
}

/// The opening words of a statement, for messages.
pub fn statement_label(statement: &Statement) -> String {
    first_words(&statement.to_string())
}

fn first_words(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    words.join(" ")
}
