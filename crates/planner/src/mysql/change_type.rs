//! Change a column's type (MySQL, MariaDB).
//!
//! `ALTER TABLE ... MODIFY col <definition>` restates the whole column: whatever `--to-type`
//! does not say (NOT NULL, DEFAULT, AUTO_INCREMENT, ON UPDATE, COMMENT, CHARACTER SET / COLLATE,
//! a generated expression, INVISIBLE) is dropped. Seen on MariaDB 10.11: `MODIFY c varchar(20)`
//! of a column with `DEFAULT 'z'` drops the default, INSTANT and without a word. So definitions
//! are parsed ([`super::definition`]), the preflight returns every attribute the column has and
//! the statement (or its rollback) does not restate, expecting none, and a primary key given as
//! a bare type is refused outright. There is no USING clause: the server converts each value
//! with its implicit cast (strict mode makes a value that does not fit fail the statement).
//!
//! What InnoDB does (rules and sources in `engines::mysql`):
//! - **VARCHAR extension while the length prefix keeps its size** (at most 255 bytes before and
//!   after, or 256 and more both; MariaDB 10.4.3+ also from at most 127 bytes to any length):
//!   INPLACE without a rebuild on MySQL (documented), INSTANT on MariaDB (checked on 10.11:
//!   utf8mb4 varchar(10) -> (63) and (64) -> (128) INSTANT; (63) -> (64) refused). Bytes are
//!   counted in the character set the types name (utf8mb4 when they name none); the preflight
//!   stops when the column's own set would make the server decide otherwise. The statement is
//!   written with that ALGORITHM so the server refuses rather than copies when an assumption
//!   is wrong (another attribute changed).
//! - **Everything else** (INT -> BIGINT, shrinking, any other type): only ALGORITHM=COPY, which
//!   blocks writes for the whole copy (MariaDB 10.11: "Cannot change column type. Try
//!   ALGORITHM=COPY"). Direct: `MODIFY ..., ALGORITHM=COPY, LOCK=SHARED` (reads continue);
//!   online: gh-ost, pt-online-schema-change or Spirit (`tools`).
//! - **The primary key** (typically INT -> BIGINT before the ceiling): the same copy; the tools
//!   copy by that key and keep it. `--to-type` must be its full definition (`bigint NOT NULL
//!   AUTO_INCREMENT`), or the MODIFY would remove AUTO_INCREMENT. A key other tables' foreign keys reference cannot be retyped
//!   at all (MariaDB 10.11: error 1833 "Cannot change column 'id': used in a foreign key
//!   constraint", also with foreign_key_checks=0; and a foreign key between INT and BIGINT is
//!   "incorrectly formed"): the preflight lists such foreign keys and must return none.

use super::definition::{
    definition_check, from_type_check, lost_attributes_check, parse_field, strict_mode_check,
    Definition, OBSERVED_TYPE,
};
use super::{summary_paths, tools, Ctx};
use crate::estimate::CATALOG_ONLY;
use crate::model::{Check, Expected, MysqlLock, Phase, RollbackStep, Step, Warning};
use crate::mysql::facts;
use crate::mysql::facts::{charset_bytes_per_char, varchar_length, Server, ASSUMED_CHARSET};
use crate::quote::mysql::{ident, literal};
use crate::request::change::ChangeType;
use crate::request::FieldError;
use crate::strategy::{check, Paths};

/// Largest value of a signed INT.
const INT_MAX: u64 = 2_147_483_647;

/// A type as written, lowercased with single spaces, for comparisons.
fn normalized(t: &str) -> String {
    t.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

/// The definition that undoes the change: `--from-type` as given when it carries attributes
/// (the preflight proves it complete), else its type with the attributes `--to-type` gave, which
/// the forward MODIFY set and the preflight proved cover the column's. A DEFAULT or character
/// set written for another kind of type cannot be carried back: then the old definition is
/// asked for.
fn rollback_definition(from: &Definition, to: &Definition) -> Result<String, FieldError> {
    if !from.is_bare() {
        return Ok(from.text());
    }
    if to.is_bare() {
        return Ok(from.data_type.clone());
    }
    let typed = to.default.is_some() || to.charset.is_some() || to.collation.is_some();
    if typed && from.family() != to.family() {
        return Err(FieldError::new(
            "from-type",
            format!(
                "is a bare type, and the rollback cannot restate --to-type's DEFAULT / CHARACTER SET / COLLATE on {}: accepts the column's full current definition, e.g. '{} NOT NULL DEFAULT ...'",
                from.data_type, from.data_type
            ),
        ));
    }
    Ok(format!("{} {}", from.data_type, to.attributes))
}

/// The new type is in place, compared as `information_schema.columns` spells it (the whole
/// COLUMN_TYPE, so decimal(12,2) -> decimal(14,2) is told apart, which DATA_TYPE is not); for a
/// type whose stored spelling cannot be predicted, the VARCHAR length or the operator's reading.
fn type_check(ctx: &Ctx, column: &str, to_type: &str, to_def: &Definition) -> Check {
    let col = format!(
        "{} AND column_name = {}",
        ctx.where_table(&ctx.req.table),
        literal(column)
    );
    if let Some(spelled) = to_def.column_type_spelling() {
        check(
            "The column has its new type",
            format!("SELECT {OBSERVED_TYPE} AS column_type FROM information_schema.columns WHERE {col};"),
            &spelled,
            Expected::row(&[&spelled]),
        )
    } else if let Some(n) = varchar_length(to_type) {
        let n = n.to_string();
        check(
            "The column has its new length",
            format!("SELECT character_maximum_length FROM information_schema.columns WHERE {col};"),
            &n,
            Expected::row(&[&n]),
        )
    } else {
        check(
            "The column has its new type",
            format!("SELECT column_type FROM information_schema.columns WHERE {col};"),
            &format!("the server's spelling of {to_type}"),
            Expected::Manual,
        )
    }
}

/// Foreign keys of other tables that reference the column: the server refuses to retype it.
fn referencing_check(ctx: &Ctx, column: &str) -> Check {
    check(
        "No foreign key references the column (the server refuses to change its type, even with foreign_key_checks=0)",
        format!(
            "SELECT table_schema, table_name, constraint_name FROM information_schema.key_column_usage WHERE referenced_table_schema = {} AND referenced_table_name = {} AND referenced_column_name = {};",
            ctx.schema_value(),
            literal(&ctx.req.table),
            literal(column)
        ),
        &format!("no rows. Each listed foreign key must go first (ALTER TABLE <child> DROP FOREIGN KEY <name>{}), its column be changed to the same new type (its own change-type plan), and the key be added back afterwards (add-foreign-key plan): InnoDB needs the same type on both sides", ctx.lock_clause(ctx.server.drop_foreign_key_lock())),
        Expected::NoRows,
    )
}

/// The character set a VARCHAR's lengths are counted in: the one `--to-type` or
/// `--from-type` names (CHARACTER SET, or the set a COLLATE belongs to: a collation's name
/// starts with its set's), else [`ASSUMED_CHARSET`].
struct ColumnCharset {
    name: String,
    /// True when neither definition names one.
    assumed: bool,
    /// `None` for a set this build does not know, or when the two definitions name different
    /// sets (a conversion: every value is rewritten).
    bytes_per_char: Option<u32>,
}

impl ColumnCharset {
    fn of(from: &Definition, to: &Definition) -> Self {
        let named = |d: &Definition| {
            d.charset
                .clone()
                .or_else(|| {
                    d.collation
                        .as_deref()
                        .and_then(|c| c.split('_').next())
                        .map(str::to_string)
                })
                .map(|c| c.trim_matches(['\'', '"', '`']).to_ascii_lowercase())
        };
        let (from_set, to_set) = (named(from), named(to));
        let converts = matches!((&from_set, &to_set), (Some(a), Some(b)) if a != b);
        let assumed = from_set.is_none() && to_set.is_none();
        let name = to_set
            .or(from_set)
            .unwrap_or_else(|| ASSUMED_CHARSET.to_string());
        let bytes_per_char = charset_bytes_per_char(&name).filter(|_| !converts);
        ColumnCharset {
            name,
            assumed,
            bytes_per_char,
        }
    }
}

/// A VARCHAR widened from `f` to `t` characters keeps its length prefix, or not, depending on
/// the column's bytes per character: the check stops when the column's real character set
/// would make the server decide otherwise than the plan (refuse its in-place statement, or
/// extend without the copy it plans), and says how to re-plan.
fn length_prefix_check(
    ctx: &Ctx,
    column: &str,
    to: &str,
    (f, t): (u32, u32),
    bytes_per_char: u32,
    charset: &ColumnCharset,
) -> Check {
    let server: Server = ctx.server;
    let in_place = server.varchar_extend_without_copy(f, t, bytes_per_char);
    let same: Vec<String> = (1..=4)
        .filter(|b| server.varchar_extend_without_copy(f, t, *b) == in_place)
        .map(|b| b.to_string())
        .collect();
    let otherwise = if in_place {
        "the server would refuse the in-place statement"
    } else {
        "this copy is not needed: the server can extend the column without one"
    };
    check(
        &format!(
            "The column's character set puts the 255-byte length-prefix boundary where the plan assumes ({bytes_per_char} byte(s) per character, {}{})",
            charset.name,
            if charset.assumed { ", assumed" } else { "" }
        ),
        format!(
            "SELECT character_octet_length DIV character_maximum_length IN ({}) AS prefix_as_planned FROM information_schema.columns WHERE {} AND column_name = {};",
            same.join(", "),
            ctx.where_table(&ctx.req.table),
            literal(column)
        ),
        &format!(
            "1 (0: {otherwise}. Re-plan naming the column's character set (the definition check prints it) in --from-type and --to-type{})",
            if charset.assumed {
                format!(", e.g. --to-type '{to} CHARACTER SET <its set>'")
            } else {
                String::new()
            }
        ),
        Expected::row(&["1"]),
    )
    .proving(crate::model::Precondition::CharsetAsPlanned)
}

/// What every path of a type change shares: the two definitions, parsed, and the statement.
struct TypeChange<'a> {
    ctx: &'a Ctx<'a>,
    column: &'a str,
    from: &'a str,
    to: &'a str,
    from_def: Definition,
    to_def: Definition,
    table: String,
    col: String,
    /// The column is the primary key (`--primary-key`).
    is_pk: bool,
    /// The definition the rollback restores.
    back_definition: String,
    /// `MODIFY col <to>`.
    clause: String,
}

impl<'a> TypeChange<'a> {
    /// Refuses what MODIFY cannot say, then parses both definitions.
    fn new(ctx: &'a Ctx<'a>, change: &'a ChangeType) -> Result<Self, FieldError> {
        let ChangeType {
            column,
            from_type,
            to_type,
            using,
        } = change;
        if using.is_some() {
            return Err(FieldError::new(
                "using",
                "has no MySQL or MariaDB equivalent: MODIFY converts each stored value with the server's implicit cast. Leave it empty (if that cast is not what you want, add a column of the new type and fill it instead)",
            ));
        }
        let (from, to) = (from_type.trim(), to_type.trim());
        let from_def = parse_field("from-type", from)?;
        let to_def = parse_field("to-type", to)?;
        if normalized(from) == normalized(to) {
            return Err(FieldError::new(
                "to-type",
                format!("{to:?} is the type the column already has (--from-type {from:?}); accepts a different type, e.g. bigint or varchar(255)"),
            ));
        }
        let col = ident(column);
        let is_pk = ctx.req.env.primary_key.as_deref() == Some(column.as_str());
        if is_pk && to_def.is_bare() {
            return Err(FieldError::new(
                "to-type",
                format!(
                    "gives only a type for the primary key {col} (--primary-key): MODIFY restates the whole column, so a bare {to} would drop NOT NULL and AUTO_INCREMENT. Accepts the key's full new definition as SHOW CREATE TABLE prints it after the name, e.g. --to-type '{to} NOT NULL AUTO_INCREMENT' (AUTO_INCREMENT only if the key has it)"
                ),
            ));
        }
        let back_definition = rollback_definition(&from_def, &to_def)?;
        Ok(TypeChange {
            ctx,
            column,
            from,
            to,
            table: ctx.table(),
            clause: format!("MODIFY {col} {to}"),
            col,
            is_pk,
            back_definition,
            from_def,
            to_def,
        })
    }

    /// What retyping a primary key involves: the foreign keys that block it, the INT ceiling.
    fn key_warnings(&self) -> Vec<Warning> {
        let col = &self.col;
        let mut warnings = vec![Warning {
            code: "referenced-key".to_string(),
            message: format!(
                "Foreign keys of other tables that reference {col} block this change: InnoDB refuses to retype a referenced column and needs the same type on both sides. The preflight lists them; each must be dropped, its column widened too, and the key added back."
            ),
        }];
        if self.from_def.column_type_spelling().as_deref() == Some("int") {
            warnings.push(Warning {
                code: "int-ceiling".to_string(),
                message: format!(
                    "A signed INT key stops at {INT_MAX} (unsigned at twice that): once AUTO_INCREMENT reaches it every INSERT fails. The preflight prints how far the key is along; a copy of this table takes a while, so start well before the ceiling."
                ),
            });
        }
        warnings
    }

    /// The checks every path runs first: the column as it is, what MODIFY would lose, strict
    /// mode, and for a key what references it and how close it is to the INT ceiling.
    fn preflight_checks(&self) -> Vec<Check> {
        let TypeChange {
            ctx,
            column,
            from_def,
            to_def,
            clause,
            ..
        } = self;
        let mut pre = vec![
            ctx.column_check("The column exists", column, "1", Expected::row(&["1"])),
            definition_check(ctx, column, clause),
        ];
        pre.extend(from_type_check(
            ctx,
            column,
            from_def,
            "from-type",
            Some((column, to_def)),
        ));
        pre.extend(lost_attributes_check(ctx, column, to_def, "the MODIFY"));
        if !from_def.is_bare() {
            pre.extend(lost_attributes_check(
                ctx,
                column,
                from_def,
                "the rollback's MODIFY (--from-type)",
            ));
        }
        pre.push(strict_mode_check());
        if self.is_pk {
            pre.push(referencing_check(ctx, column));
            pre.push(check(
                "How far the key is along (next AUTO_INCREMENT value against the signed INT ceiling)",
                format!(
                    "SELECT auto_increment, ROUND(100 * auto_increment / {INT_MAX}, 1) AS percent_of_int FROM information_schema.tables WHERE {};",
                    ctx.where_table(&ctx.req.table)
                ),
                "for the record: the closer to 100, the sooner the change is needed",
                Expected::Manual,
            ));
        }
        pre
    }

    /// MODIFY back to the old definition, copying the table.
    fn rollback(&self) -> RollbackStep {
        let TypeChange {
            ctx,
            table,
            col,
            back_definition,
            ..
        } = self;
        ctx.rollback_ddl(
            format!(
                "ALTER TABLE {table} MODIFY {col} {back_definition}{};",
                ctx.lock_clause(tools::COPY_SHARED)
            ),
            Some("Copies the table back to the old type: writes wait for the whole copy (on a large table run it with the tool instead), and it fails if a value written since does not fit the old type."),
        )
    }

    /// varchar(f) -> varchar(t >= f) that the server does without a copy at this character
    /// set's bytes per character.
    fn extension(&self, charset: &ColumnCharset) -> Option<(u32, u32)> {
        let widen = match (varchar_length(self.from), varchar_length(self.to)) {
            (Some(f), Some(t)) if t >= f => Some((f, t)),
            _ => None,
        };
        match (widen, charset.bytes_per_char) {
            (Some((f, t)), Some(b)) if self.ctx.server.varchar_extend_without_copy(f, t, b) => {
                Some((f, t))
            }
            _ => None,
        }
    }

    /// The metadata-only extension of a VARCHAR (INSTANT where the server has it).
    fn extend_step(&self, (f, t): (u32, u32), charset: &ColumnCharset) -> Step {
        let ctx = self.ctx;
        let lock = if facts::VARCHAR_EXTEND_INSTANT.holds(ctx.server) {
            MysqlLock::INSTANT
        } else {
            MysqlLock::INPLACE_NONE
        };
        let mut step = ctx.alter(
            "Extend the column (only the data dictionary changes; no rebuild)",
            std::slice::from_ref(&self.clause),
            lock,
            CATALOG_ONLY,
        );
        let b = charset.bytes_per_char.unwrap_or(4);
        step.notes.push(format!(
            "varchar({f}) -> varchar({t}): the length prefix of every stored value stays valid (one byte up to 255 bytes, two from 256; at {b} byte(s) per {} character that boundary is {}/{} characters), so no row is rewritten.",
            charset.name,
            255 / b,
            255 / b + 1
        ));
        step.notes.push(format!(
            "If the server answers \"ALGORITHM={} is not supported\", something else changes too: another character set (the preflight compares the column's bytes per character), or an attribute the type does not restate (NOT NULL -> NULL rebuilds the table). Nothing happened; fix --to-type and re-plan.",
            if lock == MysqlLock::INSTANT { "INSTANT" } else { "INPLACE" }
        ));
        ctx.documented(step)
    }

    /// A shortened VARCHAR: no value may be longer than the new length.
    fn shortening_check(&self) -> Option<Check> {
        let (f, t) = (varchar_length(self.from)?, varchar_length(self.to)?);
        (t < f).then(|| {
            check(
                "No value is longer than the new length",
                format!(
                    "SELECT COUNT(*) AS too_long FROM {} WHERE CHAR_LENGTH({}) > {t};",
                    self.table, self.col
                ),
                "0 (otherwise the change fails in strict mode: shorten those values first)",
                Expected::row(&["0"]),
            )
        })
    }

    /// ALGORITHM=COPY, LOCK=SHARED: the server copies every row while writes wait.
    fn copy_step(&self) -> Step {
        let ctx = self.ctx;
        let mut step = ctx.alter(
            "Change the type by copying the table (writes wait for the whole copy; reads continue)",
            std::slice::from_ref(&self.clause),
            tools::COPY_SHARED,
            ctx.model.rewrite(),
        );
        step.rewrites_table = true;
        step.notes.push("InnoDB cannot change this type in place: the server copies every row into a new table while holding a lock that lets reads through and makes every write wait, then swaps the tables.".to_string());
        if self.is_pk {
            step.notes.push(format!(
                "{} is the primary key: the copy rebuilds the clustered index and every secondary index (each holds the key).",
                self.col
            ));
        }
        ctx.documented(step)
    }
}

pub fn paths(ctx: &Ctx, change: &ChangeType) -> Result<Paths, FieldError> {
    let change = TypeChange::new(ctx, change)?;
    let TypeChange {
        column,
        to,
        table,
        col,
        ..
    } = &change;
    let mut out = summary_paths(format!(
        "Change column {col} of {table} from {} to {to}",
        change.from
    ));
    if change.is_pk {
        out.warnings.extend(change.key_warnings());
    }
    let mut pre = change.preflight_checks();
    let after = vec![type_check(ctx, column, to, &change.to_def)];
    let charset = ColumnCharset::of(&change.from_def, &change.to_def);
    let widen = match (varchar_length(change.from), varchar_length(to)) {
        (Some(f), Some(t)) if t >= f => Some((f, t)),
        _ => None,
    };
    if let (Some(lengths), Some(b)) = (widen, charset.bytes_per_char) {
        pre.push(length_prefix_check(ctx, column, to, lengths, b, &charset));
    }
    if let Some(lengths) = change.extension(&charset) {
        out.direct = Some(vec![
            ctx.preflight(None, pre),
            Phase {
                name: "extend".to_string(),
                purpose: format!("Lengthen {col} in place; reads and writes continue."),
                app_change: None,
                steps: vec![change.extend_step(lengths, &charset)],
                rollback: vec![change.rollback()],
                irreversible: None,
                checks: after,
            },
        ]);
        return Ok(out);
    }
    pre.extend(change.shortening_check());
    out.direct = Some(vec![
        ctx.preflight(Some(ctx.req.bytes), pre.clone()),
        Phase {
            name: "change type".to_string(),
            purpose: format!("Copy {table} with {col} as {to}."),
            app_change: None,
            steps: vec![change.copy_step()],
            rollback: vec![change.rollback()],
            irreversible: None,
            checks: after.clone(),
        },
    ]);
    let inverse = format!("MODIFY {col} {}", change.back_definition);
    let online = tools::online_alter(
        ctx,
        &change.clause,
        tools::Inverse::Tool(&inverse),
        "InnoDB changes a column's type (INT -> BIGINT included) only by copying the table, and ALGORITHM=COPY blocks writes for the whole copy",
    );
    let direct = out.direct.as_deref().unwrap_or_default();
    out.online =
        tools::optional_online(ctx, direct, online, &mut out.warnings)?.map(|mut online| {
            online[0].checks.extend(pre);
            tools::check_after_cut_over(&mut online, after);
            online
        });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Blocks, Plan};
    use crate::request::params::Params;

    fn params(db: &str, column: &str, from: &str, to: &str, budget: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "change-type")
            .with("table", "orders`; drop table x; --")
            .with("column", column)
            .with("from-type", from)
            .with("to-type", to)
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", budget)
    }

    fn plan(p: &Params) -> Plan {
        crate::plan(p).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn sql(plan: &Plan) -> Vec<String> {
        plan.steps()
            .flat_map(|s| s.sql.iter().chain(s.shell.iter()).cloned())
            .collect()
    }

    /// The preflight's advice on a referencing foreign key drops it as the add-foreign-key
    /// plan's rollback does: NOCOPY on MariaDB, INPLACE on MySQL.
    #[test]
    fn referenced_key_is_dropped_with_the_engines_no_rebuild_clause() {
        let advice = |db: &str| {
            let p = plan(
                &params(
                    db,
                    "id",
                    "int NOT NULL AUTO_INCREMENT",
                    "bigint NOT NULL AUTO_INCREMENT",
                    "0",
                )
                .with("primary-key", "id"),
            );
            p.phases[0]
                .checks
                .iter()
                .find(|c| c.description.starts_with("No foreign key references"))
                .map(|c| c.expect.clone())
                .expect("the referencing-key check")
        };
        assert!(advice("mariadb@10.11")
            .contains("DROP FOREIGN KEY <name>, ALGORITHM=NOCOPY, LOCK=NONE)"));
        assert!(advice("mysql@8.0.35")
            .contains("DROP FOREIGN KEY <name>, ALGORITHM=INPLACE, LOCK=NONE)"));
    }

    /// The 255-byte boundary is counted in the column's character set: the plan is right when
    /// the definitions name it, and its preflight stops when the assumed utf8mb4 is wrong.
    #[test]
    fn varchar_boundary_follows_the_named_character_set() {
        let prefix_check = |p: &Plan| {
            p.phases[0]
                .checks
                .iter()
                .find(|c| c.sql.contains("prefix_as_planned"))
                .cloned()
                .expect("a length-prefix check")
        };
        // latin1, told: 60 -> 100 bytes keeps one length byte, INSTANT on MariaDB.
        let told = plan(&params(
            "mariadb@10.11.6",
            "code",
            "varchar(60) CHARACTER SET latin1",
            "varchar(100) CHARACTER SET latin1",
            "0",
        ));
        assert!(told.phases[1].steps[0].sql[0]
            .ends_with("varchar(100) CHARACTER SET latin1, ALGORITHM=INSTANT, LOCK=NONE;"));
        let check = prefix_check(&told);
        assert!(
            check.sql.contains("IN (1, 2) AS prefix_as_planned"),
            "{}",
            check.sql
        );
        assert_eq!(check.expected, Expected::row(&["1"]));
        // Untold, utf8mb4 is assumed: 240 -> 400 bytes crosses, so a copy; a latin1 column
        // (1 byte per character) stops the preflight, naming what to re-plan with.
        let untold = plan(&params(
            "mariadb@10.11.6",
            "code",
            "varchar(60)",
            "varchar(100)",
            "0",
        ));
        assert!(sql(&untold)
            .iter()
            .all(|s| !s.contains("ALGORITHM=INSTANT")));
        let check = prefix_check(&untold);
        assert!(
            check.sql.contains("IN (3, 4) AS prefix_as_planned"),
            "{}",
            check.sql
        );
        assert!(
            check.expect.contains("CHARACTER SET <its set>"),
            "{}",
            check.expect
        );
        assert_eq!(check.on_fail, crate::model::OnFail::Stop);
        // utf8mb3 on MySQL: 85 characters is 255 bytes, still one length byte.
        let mb3 = plan(&params(
            "mysql@8.0.35",
            "code",
            "varchar(64) CHARACTER SET utf8mb3",
            "varchar(85) CHARACTER SET utf8mb3",
            "0",
        ));
        assert!(mb3.phases[1].steps[0].sql[0].ends_with("ALGORITHM=INPLACE, LOCK=NONE;"));
        assert!(mb3.phases[1].steps[0]
            .notes
            .iter()
            .any(|n| n.contains("3 byte(s) per utf8mb3 character that boundary is 85/86")));
        // A conversion between sets rewrites every value: never in place.
        let converts = plan(&params(
            "mariadb@10.11.6",
            "code",
            "varchar(60) CHARACTER SET latin1",
            "varchar(100) CHARACTER SET utf8mb4",
            "0",
        ));
        assert!(sql(&converts)
            .iter()
            .all(|s| !s.contains("ALGORITHM=INSTANT")));
    }

    #[test]
    fn varchar_extension_is_instant_on_mariadb_and_inplace_on_mysql() {
        let p = plan(&params(
            "mariadb@10.11.6",
            "email",
            "varchar(64)",
            "varchar(128)",
            "0",
        ));
        assert_eq!(p.strategy.chosen, "direct");
        assert_eq!(
            p.phases[1].steps[0].sql[0],
            "ALTER TABLE `orders``; drop table x; --` MODIFY `email` varchar(128), ALGORITHM=INSTANT, LOCK=NONE;"
        );
        assert!(p.phases[1].steps[0].unverified.is_none());
        let p = plan(&params(
            "mysql@8.0.35",
            "email",
            "varchar(10)",
            "varchar(63)",
            "0",
        ));
        let step = &p.phases[1].steps[0];
        assert!(step.sql[0].ends_with("varchar(63), ALGORITHM=INPLACE, LOCK=NONE;"));
        assert!(step.unverified.is_some());
        assert!(step.hold_seconds.high <= 0.05);
        assert!(p.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("prefix_as_planned")));
    }

    #[test]
    fn crossing_the_length_prefix_boundary_copies() {
        let p = plan(&params(
            "mysql@8.0.35",
            "email",
            "varchar(63)",
            "varchar(64)",
            "0",
        ));
        assert_eq!(p.strategy.chosen, "online");
        assert!(sql(&p).iter().any(|s| s.contains("spirit")));
        // MariaDB: from under 128 bytes the extension stays instant.
        let p = plan(&params(
            "mariadb@10.11.6",
            "email",
            "varchar(31)",
            "varchar(64)",
            "0",
        ));
        assert!(p.phases[1].steps[0].sql[0].contains("ALGORITHM=INSTANT"));
    }

    #[test]
    fn int_to_bigint_copies_online_or_blocks_writes_directly() {
        let p = plan(&params(
            "mariadb@10.11.6",
            "customer_id",
            "int",
            "bigint NOT NULL",
            "0",
        ));
        assert_eq!(p.strategy.chosen, "online");
        let all = sql(&p);
        assert!(all.iter().any(|s| s.starts_with("pt-online-schema-change")
            && s.contains("--alter='MODIFY `customer_id` bigint NOT NULL'")));
        let direct = &p.alternative.as_ref().unwrap().phases;
        let step = &direct[1].steps[0];
        assert!(step.sql[0]
            .ends_with("MODIFY `customer_id` bigint NOT NULL, ALGORITHM=COPY, LOCK=SHARED;"));
        assert_eq!(step.blocks, Blocks::Writes);
        assert!(step.hold_seconds.high > 60.0);
        // The type check after the swap, and the definition check before.
        assert!(p
            .phases
            .iter()
            .flat_map(|ph| ph.checks.iter())
            .any(|c| c.expected == Expected::row(&["bigint"])));
        assert!(p.phases[0]
            .checks
            .iter()
            .any(|c| c.sql.contains("column_default")));
        // 'bigint NOT NULL' restates NOT NULL: only the other attributes are looked for.
        let lost = p.phases[0]
            .checks
            .iter()
            .find(|c| c.sql.contains("would_be_dropped"))
            .unwrap();
        assert!(!lost.sql.contains("'NOT NULL'"));
        assert!(lost.sql.contains("'AUTO_INCREMENT'"));
        assert_eq!(lost.expected, Expected::NoRows);
        // A budget the copy fits: the direct statement.
        let mut small = params("mariadb@10.11.6", "customer_id", "int", "bigint", "10m");
        small.set("size", "200MB");
        small.set("rows", "1M");
        let p = plan(&small);
        assert_eq!(p.strategy.chosen, "direct");
        assert!(p.phases[1].rollback[0]
            .sql
            .contains("MODIFY `customer_id` int, ALGORITHM=COPY, LOCK=SHARED;"));
    }

    /// The command of issue 10 item 2: a primary key given as a bare type is refused, naming
    /// the flag and the definition it accepts.
    #[test]
    fn primary_key_as_a_bare_type_is_refused() {
        let mut p = params("mysql@5.7.44", "id", "int", "bigint", "0");
        p.set("table", "orders");
        p.set("size", "200GB");
        let err = crate::plan(&p).unwrap_err();
        assert_eq!(err.len(), 1, "{err:?}");
        assert_eq!(err[0].field, "to-type");
        assert!(
            err[0]
                .message
                .contains("e.g. --to-type 'bigint NOT NULL AUTO_INCREMENT'"),
            "{}",
            err[0].message
        );
    }

    /// Every MODIFY the plan writes (the statement, each tool's --alter, the rollbacks)
    /// restates AUTO_INCREMENT, and no warning about dropped attributes is left.
    #[test]
    fn restated_auto_increment_is_in_every_modify() {
        for db in ["mysql@5.7.44", "mysql@8.0.35", "mariadb@10.11.6"] {
            let p = plan(&params(
                db,
                "id",
                "int",
                "bigint NOT NULL AUTO_INCREMENT",
                "0",
            ));
            let direct = p
                .alternative
                .as_ref()
                .expect("the direct copy")
                .phases
                .clone();
            let mut texts: Vec<String> = Vec::new();
            for phase in p.phases.iter().chain(direct.iter()) {
                for step in &phase.steps {
                    texts.extend(step.sql.iter().cloned());
                    texts.extend(step.shell.iter().cloned());
                }
                for back in &phase.rollback {
                    texts.push(back.sql.clone());
                    texts.extend(back.shell.iter().cloned());
                }
            }
            let modifies: Vec<&String> = texts.iter().filter(|t| t.contains("MODIFY")).collect();
            // Forward and back: the tool's runs and its inverse, the direct copy and its undo.
            assert!(modifies.len() >= 4, "{db}: {modifies:?}");
            for m in &modifies {
                assert!(
                    m.contains("MODIFY `id` bigint NOT NULL AUTO_INCREMENT")
                        || m.contains("MODIFY `id` int NOT NULL AUTO_INCREMENT"),
                    "{db}: {m}"
                );
            }
            assert!(modifies.iter().any(|m| m.contains("--alter")), "{db}");
            assert!(
                modifies.iter().any(|m| m.contains("--alter")
                    && m.contains("MODIFY `id` int NOT NULL AUTO_INCREMENT")),
                "{db}: the tool's inverse"
            );
            assert!(p
                .warnings
                .iter()
                .all(|w| w.code != "modify-restates-column" && w.code != "auto-increment"));
            assert!(p.warnings.iter().any(|w| w.code == "int-ceiling"));
            let pre = &p.phases[0].checks;
            let lost = pre
                .iter()
                .find(|c| c.sql.contains("would_be_dropped"))
                .expect("the lost-attributes check");
            assert_eq!(lost.expected, Expected::NoRows);
            assert!(!lost.sql.contains("'AUTO_INCREMENT'") && !lost.sql.contains("'NOT NULL'"));
            for kept in ["'DEFAULT '", "'COMMENT '", "'on update'", "'INVISIBLE'"] {
                assert!(lost.sql.contains(kept), "{db}: {kept} in {}", lost.sql);
            }
            assert!(pre.iter().any(
                |c| c.sql.contains("AS current_type") && c.expected == Expected::row(&["int"])
            ));
            assert!(pre
                .iter()
                .any(|c| c.sql.contains("referenced_column_name = 'id'")
                    && c.expected == Expected::NoRows));
        }
    }

    #[test]
    fn lost_attributes_query_for_hostile_names() {
        let mut p = params(
            "mariadb@10.11.6",
            "e`m'ail",
            "varchar(64)",
            "varchar(200) NOT NULL",
            "0",
        );
        p.set("schema", "app'; drop table x; --");
        let plan = plan(&p);
        let lost = plan.phases[0]
            .checks
            .iter()
            .find(|c| c.sql.contains("would_be_dropped"))
            .unwrap();
        insta::assert_snapshot!(lost.sql);
    }

    #[test]
    fn the_rollback_restates_the_old_type_with_the_new_attributes() {
        let p = plan(&params(
            "mariadb@10.11.6",
            "note",
            "varchar(64)",
            "varchar(200) NOT NULL DEFAULT '' COMMENT 'why'",
            "0",
        ));
        let backs: Vec<String> = p
            .phases
            .iter()
            .chain(p.alternative.iter().flat_map(|a| a.phases.iter()))
            .flat_map(|ph| ph.rollback.iter())
            .flat_map(|r| r.shell.iter().chain(std::iter::once(&r.sql)).cloned())
            .filter(|t| t.contains("MODIFY"))
            .collect();
        assert!(!backs.is_empty());
        for b in &backs {
            assert!(
                b.contains("MODIFY `note` varchar(64) NOT NULL DEFAULT "),
                "{b}"
            );
            assert!(b.contains("COMMENT "), "{b}");
        }
        // A DEFAULT written for a text type cannot go back onto an INT: the old definition is asked.
        let err = crate::plan(&params(
            "mariadb@10.11.6",
            "code",
            "int",
            "varchar(20) NOT NULL DEFAULT ''",
            "0",
        ))
        .unwrap_err();
        assert_eq!(err[0].field, "from-type", "{err:?}");
        // Given in full, it is used as written and proven complete by its own check.
        let p = plan(&params(
            "mariadb@10.11.6",
            "code",
            "int NOT NULL DEFAULT 0",
            "varchar(20) NOT NULL DEFAULT ''",
            "0",
        ));
        let checks: Vec<_> = p.phases[0]
            .checks
            .iter()
            .filter(|c| c.sql.contains("would_be_dropped"))
            .collect();
        assert_eq!(checks.len(), 2);
        assert!(checks[1].description.contains("--from-type"));
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let mut p = params("mysql@8.0.35", "n", "int", "bigint", "0");
        p.set("using", "n * 2");
        let err = crate::plan(&p).unwrap_err();
        assert!(err.iter().any(|e| e.field == "using"), "{err:?}");
        let err = crate::plan(&params("mysql@8.0.35", "n", "INT", " int ", "0")).unwrap_err();
        assert!(err.iter().any(|e| e.field == "to-type"), "{err:?}");
    }

    #[test]
    fn without_a_tool_the_direct_copy_stands_alone_when_it_fits() {
        let mut small = params("mysql@8.0.35", "n", "int", "bigint", "10m");
        small.set("size", "200MB");
        small.set("primary-key", "none");
        let p = plan(&small);
        assert_eq!(p.strategy.chosen, "direct");
        assert!(p.alternative.is_none());
        assert!(p.warnings.iter().any(|w| w.code == "no-online-tool"));
        let mut big = params("mysql@8.0.35", "n", "int", "bigint", "0");
        big.set("primary-key", "none");
        let err = crate::plan(&big).unwrap_err();
        assert!(err.iter().any(|e| e.field == "primary-key"), "{err:?}");
    }

    /// Issue 18 item 8: DATA_TYPE is `decimal` before and after decimal(12,2) -> (14,2), so a
    /// check reading it passed when the change never ran; the whole COLUMN_TYPE tells them apart.
    #[test]
    fn the_new_type_check_compares_the_whole_column_type() {
        for (from, to, spelled) in [
            ("decimal(12,2)", "decimal(14,2)", "decimal(14,2)"),
            ("int", "bigint unsigned", "bigint unsigned"),
            ("int(11)", "bigint", "bigint"),
        ] {
            let plan = crate::plan(&params("mariadb@10.11.6", "amount", from, to, "30s")).unwrap();
            let check = plan
                .phases
                .iter()
                .chain(plan.alternative.iter().flat_map(|a| &a.phases))
                .flat_map(|p| &p.checks)
                .find(|c| c.description == "The column has its new type")
                .unwrap_or_else(|| panic!("{from} -> {to}: no new-type check"));
            assert!(
                check
                    .sql
                    .contains("AS column_type FROM information_schema.columns"),
                "{}",
                check.sql
            );
            assert_eq!(check.expected, Expected::row(&[spelled]), "{from} -> {to}");
        }
    }
}
