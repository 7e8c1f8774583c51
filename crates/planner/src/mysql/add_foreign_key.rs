//! Add a FOREIGN KEY constraint (MySQL, MariaDB).
//!
//! InnoDB adds a foreign key in place (LOCK=NONE, reads and writes continue) only while the
//! session has `foreign_key_checks=0`; with checks on it must copy the table, checking every row,
//! while writes wait (MySQL manual, "Online DDL Operations": "The INPLACE algorithm is supported
//! when foreign_key_checks is disabled. Otherwise, only the COPY algorithm is supported."; seen on
//! MariaDB 10.11: "Adding foreign keys needs foreign_key_checks=OFF. Try ALGORITHM=COPY").
//!
//! - **online**: `SET SESSION foreign_key_checks = 0` + `ADD CONSTRAINT ... FOREIGN KEY ...,
//!   ALGORITHM=INPLACE, LOCK=NONE` (MariaDB: `ALGORITHM=NOCOPY`, which refuses a rebuild;
//!   `Server::add_foreign_key_unchecked_lock`) + `SET SESSION foreign_key_checks = 1`. From its end every
//!   write of every session is checked, but the rows that existed (and those written while the
//!   ALTER ran) were NOT validated: the plan runs the orphan query before and again after, and
//!   that query is the validation. When no index on the child columns exists, the same ALTER
//!   builds one (named after the constraint; in place, DML continues; seen on MariaDB 10.11).
//! - **direct**: the same ALTER with checks on, `ALGORITHM=COPY, LOCK=SHARED`: every row is
//!   validated, writes wait for the whole copy.
//!
//! Preflight: the referenced columns are the leading columns of an index of the parent (InnoDB
//! refuses the key otherwise) and have the same types (same integer size and sign; strings the
//! same character set and collation: "Foreign key constraint is incorrectly formed" otherwise);
//! no orphan rows (a NULL in any child column is not checked, MATCH SIMPLE).
//! Rollback: `DROP FOREIGN KEY`, in place and metadata-only (LOCK=NONE; checked on MariaDB 10.11).
//! A table with foreign keys can no longer be changed with gh-ost or Spirit, and
//! pt-online-schema-change needs `--alter-foreign-keys-method`: the plan warns.

use super::{summary_paths, tools, Ctx};
use crate::model::{Check, Expected, Phase, RollbackStep, Step, Warning};
use crate::mysql::facts;
use crate::quote::mysql::{derived_name, ident, ident_list, literal};
use crate::request::change::AddForeignKey;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// `name1` / `name2` pairs as `(c.column_name = 'a' AND p.column_name = 'x') OR ...`.
fn pairs(columns: &[String], ref_columns: &[String]) -> String {
    columns
        .iter()
        .zip(ref_columns)
        .map(|(c, p)| {
            format!(
                "(c.column_name = {} AND p.column_name = {})",
                literal(c),
                literal(p)
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// `<alias>.table_schema = ... AND <alias>.table_name = '...'`.
fn aliased(ctx: &Ctx, alias: &str, table: &str) -> String {
    format!(
        "{alias}.table_schema = {} AND {alias}.table_name = {}",
        ctx.schema_value(),
        literal(table)
    )
}

/// True (1) when `table` has an index whose leading columns are exactly `columns`, in order.
fn leading_index_sql(ctx: &Ctx, table: &str, columns: &[String]) -> String {
    let wanted = columns.join("`");
    format!(
        "SELECT COUNT(*) > 0 AS has_index FROM (SELECT index_name, GROUP_CONCAT(IF(seq_in_index <= {n}, column_name, NULL) ORDER BY seq_in_index SEPARATOR '`') AS leading_columns FROM information_schema.statistics WHERE {} GROUP BY index_name) AS lockstep_indexes WHERE leading_columns = {};",
        ctx.where_table(table),
        literal(&wanted),
        n = columns.len()
    )
}

/// Child rows whose key is not in the parent: what the constraint would reject.
fn orphans_check(
    ctx: &Ctx,
    description: &str,
    columns: &[String],
    parent: &str,
    ref_columns: &[String],
) -> Check {
    let not_null = columns
        .iter()
        .map(|c| format!("lockstep_c.{} IS NOT NULL", ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let join = columns
        .iter()
        .zip(ref_columns)
        .map(|(c, p)| format!("lockstep_p.{} = lockstep_c.{}", ident(p), ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let select = columns
        .iter()
        .map(|c| format!("lockstep_c.{}", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    check(
        description,
        format!(
            "SELECT DISTINCT {select} FROM {} AS lockstep_c WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {parent} AS lockstep_p WHERE {join}) LIMIT 20;",
            ctx.table()
        ),
        "no rows. Listed keys are missing from the parent: insert the parent rows or fix / delete the child rows (rows with a NULL in a key column are not checked)",
        Expected::NoRows,
    )
}

/// The foreign key both paths add, named and quoted once.
struct ForeignKey<'a> {
    ctx: &'a Ctx<'a>,
    columns: &'a [String],
    ref_table: &'a str,
    ref_columns: &'a [String],
    /// The constraint's name (raw): `--name` or derived from the table and columns.
    name: String,
    table: String,
    parent: String,
    cols: String,
    ref_cols: String,
    /// `ADD CONSTRAINT ... FOREIGN KEY ... REFERENCES ...`.
    clause: String,
}

impl<'a> ForeignKey<'a> {
    fn new(ctx: &'a Ctx<'a>, change: &'a AddForeignKey) -> Self {
        let AddForeignKey {
            columns,
            ref_table,
            ref_columns,
            name,
        } = change;
        let mut name_parts: Vec<&str> = vec![&ctx.req.table];
        name_parts.extend(columns.iter().map(String::as_str));
        name_parts.push("fkey");
        let name = name.clone().unwrap_or_else(|| derived_name(&name_parts));
        let table = ctx.table();
        let parent = ctx.sibling(ref_table);
        let cols = ident_list(columns);
        let ref_cols = ident_list(ref_columns);
        let clause = format!(
            "ADD CONSTRAINT {} FOREIGN KEY ({cols}) REFERENCES {parent} ({ref_cols})",
            ident(&name)
        );
        ForeignKey {
            ctx,
            columns,
            ref_table,
            ref_columns,
            name,
            table,
            parent,
            cols,
            ref_cols,
            clause,
        }
    }

    /// Before either path: the name free, the parent indexed, the types alike, no orphans, the child index.
    fn preflight_checks(&self) -> Vec<Check> {
        let ForeignKey {
            ctx,
            columns,
            ref_table,
            ref_columns,
            name,
            parent,
            ..
        } = self;
        vec![
            check(
                "The constraint name is free in the schema (InnoDB foreign key names are unique per schema), or already this table's foreign key to the parent (this plan ran)",
                format!(
                    "SELECT COUNT(*) AS taken FROM information_schema.table_constraints WHERE constraint_schema = {s} AND constraint_name = {n} AND NOT EXISTS (SELECT 1 FROM information_schema.referential_constraints WHERE constraint_schema = {s} AND constraint_name = {n} AND table_name = {t} AND referenced_table_name = {p});",
                    s = ctx.schema_value(),
                    n = literal(name),
                    t = literal(&ctx.req.table),
                    p = literal(ref_table)
                ),
                "0",
                Expected::row(&["0"]),
            ),
            check(
                "The referenced columns lead an index of the parent table (InnoDB refuses the key otherwise)",
                leading_index_sql(ctx, ref_table, ref_columns),
                "1 (0: add a primary key, unique or plain index on those columns of the parent first)",
                Expected::row(&["1"]),
            ),
            check(
                "Child and parent columns have the same type (integer size and sign, decimal precision, string character set and collation)",
                format!(
                    "SELECT c.column_name, c.column_type, c.collation_name, p.column_name AS parent_column, p.column_type AS parent_type, p.collation_name AS parent_collation FROM information_schema.columns AS c JOIN information_schema.columns AS p ON {} WHERE {} AND {} AND (c.data_type <> p.data_type OR (c.column_type LIKE '%unsigned%') <> (p.column_type LIKE '%unsigned%') OR COALESCE(c.numeric_precision, -1) <> COALESCE(p.numeric_precision, -1) OR COALESCE(c.numeric_scale, -1) <> COALESCE(p.numeric_scale, -1) OR COALESCE(c.collation_name, '') <> COALESCE(p.collation_name, ''));",
                    pairs(columns, ref_columns),
                    aliased(ctx, "c", &ctx.req.table),
                    aliased(ctx, "p", ref_table)
                ),
                "no rows (a listed pair makes the server refuse: \"Foreign key constraint is incorrectly formed\"; change one side first)",
                Expected::NoRows,
            ),
            orphans_check(
                ctx,
                "No orphan rows: every child key exists in the parent (a scan of the table joined to the parent: run it on a replica if you have one)",
                columns,
                parent,
                ref_columns,
            ).scanning().proving(crate::model::Precondition::NoOrphans),
            check(
                "Whether the child columns already have an index (the ALTER builds one when they do not)",
                leading_index_sql(ctx, &ctx.req.table, columns),
                "1: the ALTER only changes metadata; 0: it also builds an index named after the constraint, in place while reads and writes continue (the estimate allows for it)",
                Expected::Manual,
            ),
        ]
    }

    /// The foreign key exists.
    fn after_checks(&self) -> Vec<Check> {
        let ForeignKey { ctx, name, .. } = self;
        vec![check(
            "The foreign key exists",
            format!(
                "SELECT COUNT(*) AS present FROM information_schema.referential_constraints WHERE constraint_schema = {} AND table_name = {} AND constraint_name = {};",
                ctx.schema_value(),
                literal(&ctx.req.table),
                literal(name)
            ),
            "1",
            Expected::row(&["1"]),
        )]
    }

    /// DROP FOREIGN KEY, metadata only.
    fn rollback(&self) -> RollbackStep {
        let ForeignKey {
            ctx, name, table, ..
        } = self;
        ctx.rollback_ddl(
            format!(
                "ALTER TABLE {table} DROP FOREIGN KEY {}{};",
                ident(name),
                ctx.lock_clause(ctx.server.drop_foreign_key_lock())
            ),
            Some(&format!("Metadata only, reads and writes continue. An index the ALTER built for the key stays: drop it too (DROP INDEX, {}) if the preflight showed none before.", ctx.server.drop_index_lock().name())),
        )
    }

    /// What the application must stop doing once the key exists.
    fn app_change(&self) -> String {
        let ForeignKey {
            table,
            parent,
            cols,
            ..
        } = self;
        format!(
            "The application no longer writes ({cols}) values that are missing from {parent}, nor deletes or re-keys {parent} rows that {table} still references: from this phase on, such writes fail."
        )
    }

    /// The online step: the key added in place with foreign_key_checks off for this session only.
    fn unchecked_step(&self) -> Step {
        let ForeignKey {
            ctx,
            name,
            parent,
            clause,
            ..
        } = self;
        let mut step = ctx.alter(
            "Add the foreign key in place without checking existing rows (reads and writes continue)",
            std::slice::from_ref(clause),
            ctx.server.add_foreign_key_unchecked_lock(),
            ctx.model.index_build(),
        );
        step.sql
            .insert(0, "SET SESSION foreign_key_checks = 0;".to_string());
        step.sql
            .push("SET SESSION foreign_key_checks = 1;".to_string());
        step.notes.push("foreign_key_checks = 0 applies to this session only, and is what lets InnoDB add the key in place: without it the server copies the table. It also means the existing rows are NOT checked: the orphan query after this step is the validation.".to_string());
        if facts::NOCOPY.holds(ctx.server) {
            step.notes.push("ALGORITHM=NOCOPY: the table is not rebuilt, and the server refuses the statement rather than rebuild it (or copy it: with checks on it answers \"Adding foreign keys needs foreign_key_checks=OFF\").".to_string());
        }
        step.notes.push("Run the three statements in one session. If the ALTER fails, still run the last SET (or close the session): later statements of a session with checks off are not checked either.".to_string());
        step.notes.push(format!(
            "If the child columns have no index yet, this ALTER builds one (named {}) in place: reads and writes continue; the duration above allows for that build, and is a moment when the index exists.",
            ident(name)
        ));
        step.notes.push(format!(
            "The server also takes a metadata lock on {parent} for a moment: the preflight's long-transaction check covers both tables."
        ));
        ctx.documented(step)
    }

    /// Online: checks off for this session's ALTER only, then the skipped validation as a query.
    fn online(&self) -> Vec<Phase> {
        let ForeignKey {
            ctx,
            columns,
            ref_columns,
            table,
            parent,
            ..
        } = self;
        vec![
            ctx.preflight(None, self.preflight_checks()),
            Phase {
                name: "add foreign key".to_string(),
                purpose: format!("Check every write from now on, without checking the existing rows of {table}."),
                app_change: Some(self.app_change()),
                steps: vec![self.unchecked_step()],
                rollback: vec![self.rollback()],
                irreversible: None,
                checks: self.after_checks(),
            },
            Phase {
                name: "validate".to_string(),
                purpose: "Prove the rows that existed, and those written while the ALTER ran, all have their parent: InnoDB did not check them.".to_string(),
                app_change: None,
                steps: Vec::new(),
                rollback: vec![self.rollback()],
                irreversible: None,
                checks: vec![orphans_check(
                    ctx,
                    "No orphan rows (the validation InnoDB skipped; a scan joined to the parent)",
                    columns,
                    parent,
                    ref_columns,
                ).scanning()],
            },
        ]
    }

    /// Direct: the copy validates every row while writes wait.
    fn direct(&self) -> Vec<Phase> {
        let ForeignKey {
            ctx, table, clause, ..
        } = self;
        let mut copy = ctx.alter(
            "Add the foreign key by copying the table, checking every row (writes wait for the whole copy)",
            std::slice::from_ref(clause),
            tools::COPY_SHARED,
            ctx.model.rewrite(),
        );
        copy.rewrites_table = true;
        copy.scans_table = true;
        copy.notes.push("With foreign_key_checks on (the default), InnoDB copies the table and checks every row against the parent; an orphan makes it fail and nothing changes.".to_string());
        vec![
            ctx.preflight(Some(ctx.req.bytes), self.preflight_checks()),
            Phase {
                name: "add foreign key".to_string(),
                purpose: format!("Copy {table} with the foreign key, checking every row."),
                app_change: Some(self.app_change()),
                steps: vec![ctx.documented(copy)],
                rollback: vec![self.rollback()],
                irreversible: None,
                checks: self.after_checks(),
            },
        ]
    }
}

pub fn paths(ctx: &Ctx, change: &AddForeignKey) -> Result<Paths, FieldError> {
    let key = ForeignKey::new(ctx, change);
    let ForeignKey {
        name,
        table,
        parent,
        cols,
        ref_cols,
        ..
    } = &key;
    let mut out = summary_paths(format!(
        "Add foreign key {} on {table} ({cols}) referencing {parent} ({ref_cols})",
        ident(name)
    ));
    out.online = Some(key.online());
    out.direct = Some(key.direct());
    out.warnings.push(Warning {
        code: "fk-existing-rows-unchecked".to_string(),
        message: format!(
            "The online path adds the key with foreign_key_checks = 0: InnoDB checks every write from then on but never checks the rows already in {table}. The plan runs the orphan query before and after; an orphan it lists stays until you fix it (InnoDB does not complain about it until that row is updated)."
        ),
    });
    out.warnings.push(Warning {
        code: "osc-tools-and-foreign-keys".to_string(),
        message: format!(
            "Once {table} has a foreign key, gh-ost and Spirit can no longer change {table} (nor {parent}, which it references), and pt-online-schema-change needs --alter-foreign-keys-method: plan later copies with --foreign-keys."
        ),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Expected};
    use crate::request::params::Params;

    fn params(db: &str, budget: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "add-foreign-key")
            .with("table", "orders`; drop table x; --")
            .with("columns", "customer_id")
            .with("references", "customers(id)")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", budget)
    }

    #[test]
    fn in_place_with_checks_off_then_validated_by_query() {
        let p = crate::plan(&params("mariadb@10.11.6", "0")).unwrap();
        assert_eq!(p.strategy.chosen, "online");
        let step = &p.phases[1].steps[0];
        assert_eq!(
            step.sql,
            vec![
                "SET SESSION foreign_key_checks = 0;".to_string(),
                "ALTER TABLE `orders``; drop table x; --` ADD CONSTRAINT `orders``; drop table x; --_customer_id_fkey` FOREIGN KEY IF NOT EXISTS (`customer_id`) REFERENCES `customers` (`id`), ALGORITHM=NOCOPY, LOCK=NONE;".to_string(),
                "SET SESSION foreign_key_checks = 1;".to_string(),
            ]
        );
        assert_eq!(
            step.lock,
            Some(crate::model::Lock::Mysql(
                crate::model::MysqlLock::NOCOPY_NONE
            ))
        );
        assert!(!step.rewrites_table);
        assert!(step.hold_seconds.high <= 0.05);
        assert!(step.unverified.is_none());
        // Orphans before and after.
        let orphan = |c: &crate::model::Check| {
            c.sql.contains("NOT EXISTS") && c.expected == Expected::NoRows
        };
        assert!(p.phases[0].checks.iter().any(orphan));
        assert!(p.phases[2].checks.iter().any(orphan));
        assert!(p.phases[1].rollback[0]
            .sql
            .contains("DROP FOREIGN KEY `orders``; drop table x; --_customer_id_fkey`, ALGORITHM=NOCOPY, LOCK=NONE;"));
        assert!(p
            .warnings
            .iter()
            .any(|w| w.code == "fk-existing-rows-unchecked"));
        // The copy is what not to do here.
        let direct = &p.alternative.as_ref().unwrap().phases[1].steps[0];
        assert!(direct.sql[0].ends_with("ALGORITHM=COPY, LOCK=SHARED;"));
        assert_eq!(direct.blocks, Blocks::Writes);
    }

    /// MySQL has no NOCOPY: its in-place key and rollback stay INPLACE.
    #[test]
    fn mysql_adds_the_key_inplace() {
        let p = crate::plan(&params("mysql@8.0.35", "0")).unwrap();
        let step = &p.phases[1].steps[0];
        assert!(
            step.sql[1].ends_with("ALGORITHM=INPLACE, LOCK=NONE;"),
            "{}",
            step.sql[1]
        );
        assert!(p.phases[1].rollback[0]
            .sql
            .ends_with("ALGORITHM=INPLACE, LOCK=NONE;"));
    }

    #[test]
    fn small_table_with_a_budget_copies_and_checks_every_row() {
        let mut p = params("mysql@8.0.35", "10m");
        p.set("rows", "10k");
        p.set("size", "5MB");
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        assert!(plan.phases[1].steps[0].sql[0].contains("ALGORITHM=COPY, LOCK=SHARED"));
        assert!(plan.phases[1].steps[0].sql.len() == 1);
    }
}
