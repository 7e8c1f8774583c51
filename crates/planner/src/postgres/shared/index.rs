//! The index both add-index and the changes that build an index on the way (add-unique,
//! change-type's swapped key) create: its CREATE INDEX [CONCURRENTLY] statement and the steps
//! that drop an INVALID leftover of a failed build first.

use crate::model::Step;
use crate::postgres::facts::Statement;
use crate::postgres::Ctx;
use crate::quote::{self, ident, ident_list};
use crate::request::{IndexKey, IndexMethod, KeyTarget};

/// Rough on-disk size of one btree entry (tuple header, key, line pointer), for disk headroom.
pub(crate) const INDEX_BYTES_PER_ROW: u64 = 40;

/// The index to build, as both paths need it.
pub(crate) struct IndexSpec<'c> {
    pub columns: &'c [String],
    /// The key list as written, when it holds more than plain columns (expressions,
    /// ordering, operator classes); `None` writes `columns`.
    pub key_sql: Option<String>,
    pub unique: bool,
    pub predicate: Option<&'c str>,
    pub method: IndexMethod,
    pub name: String,
}

impl IndexSpec<'_> {
    /// `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT EXISTS] name ON table USING m (cols) [WHERE p];`
    /// The name stays unqualified: CREATE INDEX refuses a schema there (the index always lives
    /// in its table's schema); DROP INDEX and catalog lookups use the qualified name.
    pub fn create_sql(&self, ctx: &Ctx, concurrently: bool) -> String {
        format!(
            "CREATE {}INDEX {}{}{} ON {} USING {} ({}){};",
            if self.unique { "UNIQUE " } else { "" },
            if concurrently { "CONCURRENTLY " } else { "" },
            if concurrently { "IF NOT EXISTS " } else { "" },
            ident(&self.name),
            ctx.table(),
            self.method.name(),
            self.key_sql
                .clone()
                .unwrap_or_else(|| ident_list(self.columns)),
            self.predicate
                .map(|p| format!(" WHERE {p}"))
                .unwrap_or_default()
        )
    }

    /// Indexes live in their table's schema.
    pub fn qualified_name(&self, ctx: &Ctx) -> String {
        ctx.sibling(&self.name)
    }

    /// `pg_index` row of the index, found by name in the table's schema.
    pub fn validity_sql(&self, ctx: &Ctx) -> String {
        format!(
            "SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = to_regclass({});",
            quote::literal(&self.qualified_name(ctx))
        )
    }

    /// True when an INVALID index of this name exists (left by a failed concurrent build).
    pub fn invalid_leftover_sql(&self, ctx: &Ctx) -> String {
        format!(
            "EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass({}) AND NOT indisvalid)",
            quote::literal(&self.qualified_name(ctx))
        )
    }

    /// The two steps of a safe, re-runnable concurrent build: drop an INVALID leftover, build.
    pub fn concurrent_build_steps(&self, ctx: &Ctx) -> Vec<Step> {
        let name = self.qualified_name(ctx);
        let mut drop_leftover = ctx.ddl(
            "Drop the INVALID index an earlier failed attempt left (only if there is one)",
            vec![format!("DROP INDEX CONCURRENTLY IF EXISTS {name};")],
            Statement::DropIndexConcurrently,
            crate::estimate::CATALOG_ONLY,
        );
        drop_leftover.in_transaction = false;
        drop_leftover.run_only_if("lockstep_invalid_leftover", &self.invalid_leftover_sql(ctx));
        drop_leftover.retry = "Safe to re-run: it only drops an index that is INVALID.".to_string();

        let mut build = ctx.ddl(
            "Build the index without blocking writes",
            vec![self.create_sql(ctx, true)],
            Statement::CreateIndexConcurrently,
            ctx.model.concurrent_index_build(),
        );
        build.in_transaction = false;
        build.scans_table = true;
        build.retry = "If it fails or is cancelled (lock timeout, deadlock, duplicate key, statement cancelled), it leaves an INVALID index: run the previous step again (it drops that index), then this one. IF NOT EXISTS alone would keep the INVALID index, which is why the previous step exists.".to_string();
        build.notes.push("Waits for every transaction older than the build to finish, twice; a long transaction makes it wait, not fail (lock_timeout is generous because this lock stops no reads or writes).".to_string());
        build.notes.push("Raise maintenance_work_mem for this session (e.g. SET maintenance_work_mem = '1GB') to speed the sort, if the server has the memory.".to_string());
        if self.unique {
            build.notes.push("A duplicate inserted while the index builds makes the build fail with a unique violation and leave an INVALID index.".to_string());
        }
        vec![drop_leftover, build]
    }
}

/// What a key indexes, as an expression: the quoted column or the expression in parentheses.
pub(crate) fn key_value(key: &IndexKey) -> String {
    match &key.target {
        KeyTarget::Column(c) => ident(c),
        KeyTarget::Expression(e) => format!("({e})"),
    }
}

/// One key as CREATE INDEX writes it: the column or `(expression)`, then COLLATE, the operator
/// class, DESC and NULLS FIRST/LAST (PostgreSQL docs, "CREATE INDEX", index_elem).
pub(crate) fn key_sql(key: &IndexKey) -> String {
    let mut sql = key_value(key);
    if let Some(collation) = &key.collate {
        sql.push_str(&format!(" COLLATE {}", ident(collation)));
    }
    if let Some(opclass) = &key.opclass {
        let parts: Vec<String> = opclass.split('.').map(ident).collect();
        sql.push_str(&format!(" {}", parts.join(".")));
    }
    if key.descending {
        sql.push_str(" DESC");
    }
    match key.nulls_first {
        Some(true) => sql.push_str(" NULLS FIRST"),
        Some(false) => sql.push_str(" NULLS LAST"),
        None => {}
    }
    sql
}
