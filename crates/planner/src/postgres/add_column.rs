//! Add a column.
//!
//! What `ALTER TABLE ... ADD COLUMN` costs depends on the default and the version (docs,
//! "ALTER TABLE", notes; `postgres::facts`):
//! - no default, or a non-volatile default (a constant, `now()`) from 11: catalog-only, ACCESS
//!   EXCLUSIVE for a moment. From 11 the default is stored once in `pg_attribute.attmissingval`
//!   and existing rows read it from there, NOT NULL included. This is the only path: nothing to
//!   gain from an online one.
//! - a non-volatile default on 10, a volatile default (`random()`, `gen_random_uuid()`,
//!   `clock_timestamp()`) on every version, or a call Lockstep does not know (treated as
//!   volatile, with a warning): the table and its indexes are rewritten under ACCESS EXCLUSIVE.
//!   Online path: add the column without a default (catalog-only) and `SET DEFAULT` in the same
//!   transaction (catalog-only: it applies to new rows only), fill the existing rows in
//!   keyset-paginated batches, then enforce NOT NULL if asked without a long lock: on 18
//!   `ADD CONSTRAINT ... NOT NULL ... NOT VALID` + `VALIDATE`; on 12-17 `CHECK (col IS NOT NULL)
//!   NOT VALID` + `VALIDATE` + `SET NOT NULL` (which then skips its scan) + drop the CHECK; on 10
//!   and 11 `SET NOT NULL` always scans under ACCESS EXCLUSIVE, so the validated CHECK stays as
//!   the enforcement.
//! - serial and identity types, and domains with constraints, rewrite on every version; a
//!   `GENERATED ALWAYS AS (...) STORED` column (12+) too. These have no online path that yields
//!   the same column: the plan is the single statement when it fits the budget, or an error
//!   naming `max-downtime` that says what would work instead. PostgreSQL 18 makes generated
//!   columns VIRTUAL by default, so the SQL always says STORED.
//!
//! The backfill is the shared keyset pass ([`super::backfill`]): it resumes after a failure and
//! skips rows already filled.

use super::backfill::KeysetPass;
use super::{catalog_names, check, Ctx, Paths};
use crate::model::{
    human_seconds, human_seconds_up, Check, Estimate, Expected, Phase, Step, Warning,
};
use crate::postgres::facts::{self, Statement};
use crate::postgres::shared::expressions::{self, DefaultKind};
use crate::postgres::shared::types;
use crate::quote::{derived_name, ident, literal};
use crate::request::change::AddColumn;
use crate::request::FieldError;

/// The column being added, as the request gives it.
struct Column<'a> {
    name: &'a str,
    data_type: &'a str,
    default: Option<&'a str>,
    not_null: bool,
}

impl Column<'_> {
    /// The type as `'...'::regtype` accepts it: serial types are integers with a sequence,
    /// identity and collation clauses are not part of the type.
    fn base_type(&self) -> String {
        let lower = self.data_type.trim().to_ascii_lowercase();
        let serial = match lower.as_str() {
            "serial" | "serial4" => Some("integer"),
            "bigserial" | "serial8" => Some("bigint"),
            "smallserial" | "serial2" => Some("smallint"),
            _ => None,
        };
        if let Some(t) = serial {
            return t.to_string();
        }
        let cut = [" generated ", " collate "]
            .iter()
            .filter_map(|k| lower.find(k))
            .min()
            .unwrap_or(lower.len());
        self.data_type.trim()[..cut].trim().to_string()
    }

    fn attribute(&self, ctx: &Ctx) -> String {
        format!(
            "FROM pg_attribute WHERE attrelid = {} AND attname = {} AND NOT attisdropped",
            ctx.regclass(),
            literal(self.name)
        )
    }
}

/// A direct rewrite that holds its lock for `hold` fits the budget, its lock wait included.
fn fits_budget(ctx: &Ctx, hold: Estimate) -> bool {
    ctx.model.fits_hold(hold)
}

fn budget_text(ctx: &Ctx) -> String {
    match ctx.req.max_downtime_ms {
        0 => "a zero-downtime budget".to_string(),
        ms => format!("a budget of {}", human_seconds(ms as f64 / 1000.0)),
    }
}

fn absent_check(ctx: &Ctx, c: &Column) -> Check {
    check(
        &format!("No column {} exists yet (ADD COLUMN IF NOT EXISTS would silently keep a different one)", ident(c.name)),
        // A column of this name and type is this plan's own, left by an earlier attempt: the
        // re-run goes on (its ADD COLUMN IF NOT EXISTS keeps it).
        format!(
            "SELECT count(*) AS existing {} AND atttypid IS DISTINCT FROM to_regtype({});",
            c.attribute(ctx),
            literal(&c.base_type())
        ),
        "0 (1: a column of that name and another type exists; one of this type is taken for this plan's own, left by an earlier attempt)",
        Expected::row(&["0"]),
    )
}

/// A domain with constraints (CHECK or NOT NULL, on it or a domain it is based on) makes
/// ADD COLUMN rewrite the table on every version.
fn domain_check(c: &Column) -> Check {
    check(
        "The type is not a domain with constraints (such a domain makes ADD COLUMN rewrite the table on every version)",
        format!(
            "WITH RECURSIVE lockstep_types AS (SELECT {}::regtype::oid AS oid UNION ALL SELECT t.typbasetype FROM pg_type t JOIN lockstep_types l ON t.oid = l.oid WHERE t.typtype = 'd') SELECT EXISTS (SELECT 1 FROM lockstep_types l JOIN pg_type t ON t.oid = l.oid WHERE t.typtype = 'd' AND (t.typnotnull OR EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contypid = t.oid))) AS domain_with_constraints;",
            literal(&c.base_type())
        ),
        "f (if t, the ADD COLUMN rewrites the table: plan it in a window, or use the base type)",
        Expected::row(&["f"]),
    )
}

/// The keyset pagination needs a unique, NOT NULL, single-column index on the key.
fn key_check(ctx: &Ctx, pk: &str) -> Check {
    check(
        &format!("{} is unique and NOT NULL, so batches can walk it in order", ident(pk)),
        format!(
            "SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = {} AND i.indisunique AND i.indisvalid AND i.indnatts = 1 AND i.indpred IS NULL AND a.attname = {} AND a.attnotnull) AS usable_key;",
            ctx.regclass(),
            literal(pk)
        ),
        "t",
        Expected::row(&["t"]),
    )
}

fn add_sql(ctx: &Ctx, c: &Column, default: Option<&str>, not_null: bool) -> String {
    format!(
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}{}{};",
        ctx.table(),
        ident(c.name),
        c.data_type,
        default.map(|d| format!(" DEFAULT {d}")).unwrap_or_default(),
        if not_null { " NOT NULL" } else { "" }
    )
}

fn drop_column_rollback(ctx: &Ctx, c: &Column) -> crate::model::RollbackStep {
    ctx.rollback_ddl(
        format!(
            "ALTER TABLE {} DROP COLUMN IF EXISTS {};",
            ctx.table(),
            ident(c.name)
        ),
        Some("Catalog-only. Run it before the application writes to the column: whatever it wrote is lost."),
    )
}

/// The one statement that rewrites the table, with its preflight.
fn rewrite_direct(ctx: &Ctx, title: &str, sql: String, checks: Vec<Check>) -> Vec<Phase> {
    let mut step = ctx.ddl(
        title,
        vec![sql],
        Statement::AlterTableAccessExclusive,
        ctx.model.rewrite(),
    );
    step.rewrites_table = true;
    step.retry = "If it fails or hits its statement_timeout, the transaction rolls back and the table is as before: run it again in a quieter period or with a larger budget.".to_string();
    step.notes.push("Writes a new copy of the table and all its indexes while reads and writes wait: needs free disk about the table's total size, and as much WAL for replicas to replay.".to_string());
    vec![
        ctx.preflight(Some(ctx.req.bytes), Vec::new()),
        Phase {
            name: "add column".to_string(),
            purpose: "Add the column in one statement that rewrites the table.".to_string(),
            app_change: None,
            steps: vec![step],
            rollback: Vec::new(),
            irreversible: None,
            checks,
        },
    ]
}

/// The paths, with the preflight proof that the type and every function the default or the
/// generation expression calls exist ([`catalog_names`]).
pub fn paths(ctx: &Ctx, change: &AddColumn) -> Result<Paths, FieldError> {
    let AddColumn {
        data_type,
        default,
        generated,
        ..
    } = change;
    let mut out = column_paths(ctx, change)?;
    let expressions = [default.as_deref(), generated.as_deref()];
    let functions: Vec<_> = expressions
        .into_iter()
        .flatten()
        .flat_map(expressions::called_functions)
        .collect();
    let column = Column {
        name: "",
        data_type,
        default: None,
        not_null: false,
    };
    catalog_names::require(&mut out, &functions, &[column.base_type()], ctx.version());
    Ok(out)
}

fn column_paths(ctx: &Ctx, change: &AddColumn) -> Result<Paths, FieldError> {
    let c = Column {
        name: &change.column,
        data_type: &change.data_type,
        // DEFAULT NULL is no default at all.
        default: change
            .default
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.eq_ignore_ascii_case("null")),
        not_null: change.not_null,
    };
    let summary = summary(ctx, &c, change.generated.as_deref());
    if let Some(expr) = change.generated.as_deref() {
        refuse_generated(ctx, &c)?;
        return generated_paths(ctx, &c, expr, summary);
    }
    if c.not_null && c.default.is_none() && ctx.req.rows > 0 {
        return Err(FieldError::new(
            "not-null",
            format!("a NOT NULL column without a default cannot be added to a table that has rows ({} stated): every existing row would be NULL. Accepts true only with --default (the value existing rows get); or add the column nullable, fill it, then use change add-not-null", ctx.req.rows),
        ));
    }
    if types::add_column_type_rewrites(c.data_type) {
        return type_rewrite_paths(ctx, &c, summary);
    }
    let mut warnings = Vec::new();
    let kind = c.default.map(expressions::classify_default);
    if let Some(w) = unknown_volatility_warning(&c, kind) {
        warnings.push(w);
    }
    if !default_rewrites(ctx, kind) {
        return Ok(Paths {
            summary,
            direct: Some(fast_path(ctx, &c)),
            online: None,
            online_required: None,
            warnings,
        });
    }
    warnings.push(default_rewrite_warning(ctx, &c, kind));
    default_rewrite_paths(ctx, &c, kind, summary, warnings)
}

/// The one-line summary: the column as it would be declared.
fn summary(ctx: &Ctx, c: &Column, generated: Option<&str>) -> String {
    format!(
        "Add column {} {}{}{} to {}",
        ident(c.name),
        c.data_type,
        c.default
            .map(|d| format!(" DEFAULT {d}"))
            .unwrap_or_default(),
        match generated {
            Some(g) => format!(" GENERATED ALWAYS AS ({g}) STORED"),
            None => String::new(),
        } + if c.not_null { " NOT NULL" } else { "" },
        ctx.table()
    )
}

/// A generated column takes no default, and needs PostgreSQL 12.
fn refuse_generated(ctx: &Ctx, c: &Column) -> Result<(), FieldError> {
    let v = ctx.version();
    if c.default.is_some() {
        return Err(FieldError::new(
            "default",
            "a generated column cannot also have a default; accepts either --default or --generated, not both",
        ));
    }
    if !facts::GENERATED_COLUMNS.holds(v) {
        return Err(FieldError::new(
            "generated",
            format!("generated columns exist from PostgreSQL 12; PostgreSQL {v} has none. Accepts an expression only for 12 or later; on {v}, add a plain column and keep it computed with a trigger"),
        ));
    }
    Ok(())
}

/// Whether ADD COLUMN ... DEFAULT rewrites the table: a volatile or unknown default always, a
/// non-volatile one before 11.
fn default_rewrites(ctx: &Ctx, kind: Option<DefaultKind>) -> bool {
    match kind {
        None => false,
        Some(DefaultKind::NonVolatile) => !facts::FAST_DEFAULT.holds(ctx.version()),
        Some(DefaultKind::Volatile) | Some(DefaultKind::Unknown) => true,
    }
}

fn unknown_volatility_warning(c: &Column, kind: Option<DefaultKind>) -> Option<Warning> {
    matches!(kind, Some(DefaultKind::Unknown)).then(|| Warning {
        code: "default-volatility-unknown".to_string(),
        message: format!(
            "The default {} calls a function Lockstep does not know, so it is treated as volatile: ADD COLUMN ... DEFAULT would rewrite the table. If the function is STABLE or IMMUTABLE (SELECT proname, provolatile FROM pg_proc WHERE proname = '<name>'; s or i), the default is catalog-only from 11 and this plan is more cautious than it needs to be.",
            c.default.unwrap_or_default()
        ),
    })
}

fn default_rewrite_warning(ctx: &Ctx, c: &Column, kind: Option<DefaultKind>) -> Warning {
    let v = ctx.version();
    let default = c.default.unwrap_or_default();
    match kind {
        Some(DefaultKind::NonVolatile) => Warning {
            code: "pg10-default-rewrites".to_string(),
            message: format!("PostgreSQL {v}: ADD COLUMN with any DEFAULT rewrites the whole table, even a constant one (catalog-only defaults arrived in 11). The online path adds the column without a default, sets the default for new rows, and fills existing rows in batches."),
        },
        _ => Warning {
            code: "volatile-default-rewrites".to_string(),
            message: format!("The default {default} gives each row its own value, so ADD COLUMN ... DEFAULT rewrites the whole table on every version. The online path adds the column without a default, sets the default for new rows, and fills existing rows in batches."),
        },
    }
}

/// The single ADD COLUMN ... DEFAULT that rewrites the table.
fn default_rewrite_direct(ctx: &Ctx, c: &Column) -> Vec<Phase> {
    let checks = vec![
        check(
            "The column exists with its type and NOT NULL",
            format!(
                "SELECT atttypid = {}::regtype AS type_ok, attnotnull {};",
                literal(&c.base_type()),
                c.attribute(ctx)
            ),
            if c.not_null { "t, t" } else { "t, f" },
            Expected::row(&["t", if c.not_null { "t" } else { "f" }]),
        ),
        check(
            "No row was left without the default",
            format!(
                "SELECT count(*) AS unfilled FROM {} WHERE {} IS NULL;",
                ctx.table(),
                ident(c.name)
            ),
            "0",
            Expected::row(&["0"]),
        ),
    ];
    let mut direct = rewrite_direct(
        ctx,
        "Add the column with its default (rewrites the table under ACCESS EXCLUSIVE)",
        add_sql(ctx, c, c.default, c.not_null),
        checks,
    );
    direct[1].rollback.push(drop_column_rollback(ctx, c));
    direct
}

/// A default that rewrites: the single statement, and the online path (add without default,
/// backfill, NOT NULL) when a key to walk exists.
fn default_rewrite_paths(
    ctx: &Ctx,
    c: &Column,
    kind: Option<DefaultKind>,
    summary: String,
    mut warnings: Vec<Warning>,
) -> Result<Paths, FieldError> {
    let direct = default_rewrite_direct(ctx, c);
    let Some(pk) = ctx.req.env.primary_key.as_deref() else {
        if fits_budget(ctx, ctx.model.rewrite()) {
            warnings.push(Warning {
                code: "no-primary-key".to_string(),
                message: "Without a primary key there is no online path (its batches walk the key in order); the single statement fits the budget.".to_string(),
            });
            return Ok(Paths {
                summary,
                direct: Some(direct),
                online: None,
                online_required: None,
                warnings,
            });
        }
        return Err(FieldError::new(
            "primary-key",
            format!("the online path fills existing rows in batches walking a primary key or a unique NOT NULL column, and none was given (primary-key=none); the single statement would block traffic for up to {}. Accepts the name of such a column", human_seconds(ctx.model.worst_case(ctx.model.rewrite()))),
        ));
    };
    let default = c.default.unwrap_or_default();
    let mut online = vec![
        ctx.preflight(
            Some(ctx.req.bytes),
            vec![absent_check(ctx, c), domain_check(c), key_check(ctx, pk)],
        ),
        expand_phase(ctx, c, default),
        backfill_phase(ctx, c, pk, default, kind),
    ];
    if c.not_null {
        let (phase, warning) = not_null_phase(ctx, c);
        online.push(phase);
        warnings.extend(warning);
    }
    Ok(Paths {
        summary,
        direct: Some(direct),
        online: Some(online),
        online_required: None,
        warnings,
    })
}

/// Catalog-only: no default, or a non-volatile one from 11.
fn fast_path(ctx: &Ctx, c: &Column) -> Vec<Phase> {
    let mut step = ctx.brief(
        "Add the column (catalog-only)",
        vec![add_sql(ctx, c, c.default, c.not_null)],
        Statement::AlterTableAccessExclusive,
    );
    if c.default.is_some() {
        step.notes.push("From 11 a non-volatile default is evaluated once and kept in the catalog (pg_attribute.attmissingval); existing rows read it from there, so nothing is rewritten.".to_string());
    }
    if c.not_null && c.default.is_none() {
        step.notes.push("NOT NULL without a default only works on an empty table: PostgreSQL checks the existing rows and fails on the first one.".to_string());
    }
    let mut checks = vec![check(
        "The column exists with its type and NOT NULL",
        format!(
            "SELECT atttypid = {}::regtype AS type_ok, attnotnull {};",
            literal(&c.base_type()),
            c.attribute(ctx)
        ),
        if c.not_null { "t, t" } else { "t, f" },
        Expected::row(&["t", if c.not_null { "t" } else { "f" }]),
    )];
    if c.default.is_some() {
        checks.push(check(
            "Existing rows read the default from the catalog: the table was not rewritten (on a partitioned table, check each partition)",
            format!("SELECT atthasmissing {};", c.attribute(ctx)),
            "t",
            Expected::row(&["t"]),
        ));
    }
    vec![
        ctx.preflight(None, vec![absent_check(ctx, c), domain_check(c)]),
        Phase {
            name: "add column".to_string(),
            purpose: "Add the column; the application may use it once this phase is done."
                .to_string(),
            app_change: None,
            steps: vec![step],
            rollback: vec![drop_column_rollback(ctx, c)],
            irreversible: None,
            checks,
        },
    ]
}

/// Add the column without a default for existing rows; new rows get the default.
fn expand_phase(ctx: &Ctx, c: &Column, default: &str) -> Phase {
    let table = ctx.table();
    let mut step = ctx.brief(
        "Add the column without a default, then set the default for new rows (one transaction, catalog-only)",
        vec![
            add_sql(ctx, c, None, false),
            format!(
                "ALTER TABLE {table} ALTER COLUMN {} SET DEFAULT {default};",
                ident(c.name)
            ),
        ],
        Statement::AlterTableAccessExclusive,
    );
    step.notes.push("SET DEFAULT only changes the catalog: it applies to rows inserted from now on, and existing rows stay NULL until the backfill.".to_string());
    Phase {
        name: "expand: add the column".to_string(),
        purpose:
            "Add the column without rewriting the table; rows inserted from now on get the default."
                .to_string(),
        app_change: None,
        steps: vec![step],
        rollback: vec![drop_column_rollback(ctx, c)],
        irreversible: None,
        checks: vec![check(
            "The column exists with its type and a default",
            format!(
                "SELECT atttypid = {}::regtype AS type_ok, atthasdef {};",
                literal(&c.base_type()),
                c.attribute(ctx)
            ),
            "t, t",
            Expected::row(&["t", "t"]),
        )],
    }
}

/// Fills `column IS NULL` rows with `value`, in batches walking `pk`, resumable.
fn backfill_phase(
    ctx: &Ctx,
    c: &Column,
    pk: &str,
    value: &str,
    kind: Option<DefaultKind>,
) -> Phase {
    let table = ctx.table();
    let col = ident(c.name);
    let pass = KeysetPass {
        key: pk,
        progress: derived_name(&["lockstep_backfill", &ctx.req.table, c.name]),
        title: "Fill existing rows in keyset-paginated batches",
    };
    let apply =
        |pred: &str| format!("UPDATE {table} SET {col} = {value} WHERE {pred} AND {col} IS NULL");
    let mut steps = pass.steps(ctx, &apply);
    if let Some(fill) = steps.last_mut() {
        fill.notes.push("Rows inserted since the expand phase already have the default; the batches skip rows that are no longer NULL, so a batch run twice changes nothing.".to_string());
        if kind == Some(DefaultKind::NonVolatile) && value.contains('(') {
            fill.notes.push(format!("{value} is evaluated per batch here (for now(), each batch's transaction time), not once for the whole table as ADD COLUMN ... DEFAULT would."));
        }
        fill.notes.push("Every filled row leaves a dead row version behind until autovacuum cleans it: expect the table to grow by up to its size while the fill runs.".to_string());
    }
    steps.push(pass.guarded_cleanup(ctx));

    Phase {
        name: "backfill".to_string(),
        purpose: "Give every existing row the default, in small batches that block nothing."
            .to_string(),
        app_change: None,
        steps,
        rollback: vec![{
            let mut r = pass.cleanup_rollback(ctx);
            r.note = Some("The values written so far go away with the column when the expand phase is rolled back; nothing else to undo.".to_string());
            r
        }],
        irreversible: None,
        checks: vec![check(
            "No existing row is left without a value (reads the whole table; blocks nothing)",
            format!("SELECT count(*) AS unfilled FROM {table} WHERE {col} IS NULL;"),
            "0",
            Expected::row(&["0"]),
        )
        .scanning()],
    }
}

/// Enforces NOT NULL without a long ACCESS EXCLUSIVE scan, by version.
fn not_null_phase(ctx: &Ctx, c: &Column) -> (Phase, Option<Warning>) {
    let v = ctx.version();
    let table = ctx.table();
    let col = ident(c.name);
    let name = derived_name(&[&ctx.req.table, c.name, "not_null"]);
    let constraint = ident(&name);
    let attnotnull = check(
        "The column is NOT NULL",
        format!("SELECT attnotnull {};", c.attribute(ctx)),
        "t",
        Expected::row(&["t"]),
    );
    let drop_constraint = format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint};");
    let mut steps = vec![
        add_not_null_step(ctx, c, &name),
        validate_not_null_step(ctx, &name),
    ];
    let mut warning = None;
    let (checks, rollback_sql) = if facts::NOT_NULL_NOT_VALID.holds(v) {
        (
            vec![validated_check(ctx, &name), attnotnull],
            drop_constraint,
        )
    } else if facts::SET_NOT_NULL_USES_CHECK.holds(v) {
        steps.push(set_not_null_step(ctx, c, &name));
        let helper_gone = check(
            "The helper CHECK is gone",
            format!(
                "SELECT count(*) AS helper FROM pg_constraint WHERE conrelid = {} AND conname = {};",
                ctx.regclass(),
                literal(&name)
            ),
            "0",
            Expected::row(&["0"]),
        );
        (
            vec![attnotnull, helper_gone],
            format!("ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL;\n{drop_constraint}"),
        )
    } else {
        warning = Some(Warning {
            code: "not-null-as-check".to_string(),
            message: format!("PostgreSQL {v}: SET NOT NULL always scans the whole table under ACCESS EXCLUSIVE (the CHECK shortcut arrived in 12), so the online path leaves NOT NULL enforced by the validated constraint {constraint} CHECK ({col} IS NOT NULL); pg_attribute.attnotnull stays false. After upgrading to 12+, SET NOT NULL uses that CHECK and skips the scan; then drop the CHECK."),
        });
        (vec![validated_check(ctx, &name)], drop_constraint)
    };
    (
        Phase {
            name: "enforce NOT NULL".to_string(),
            purpose: "Make the column NOT NULL without a long lock.".to_string(),
            app_change: None,
            steps,
            rollback: vec![ctx.rollback_ddl(rollback_sql, None)],
            irreversible: None,
            checks,
        },
        warning,
    )
}

/// NOT NULL NOT VALID on 18+, CHECK (col IS NOT NULL) NOT VALID before.
fn add_not_null_step(ctx: &Ctx, c: &Column, name: &str) -> Step {
    let (table, col, constraint) = (ctx.table(), ident(c.name), ident(name));
    let native = facts::NOT_NULL_NOT_VALID.holds(ctx.version());
    let mut add = ctx.brief(
        if native {
            "Add the NOT NULL constraint without checking existing rows (NOT VALID)"
        } else {
            "Add CHECK (column IS NOT NULL) without checking existing rows (NOT VALID)"
        },
        vec![if native {
            format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} NOT NULL {col} NOT VALID;")
        } else {
            format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} CHECK ({col} IS NOT NULL) NOT VALID;")
        }],
        Statement::AlterTableAccessExclusive,
    );
    // Skipped once the constraint exists, or once the column is NOT NULL (the 12-17 path
    // drops its helper CHECK at the end, and must not add it again on a re-run).
    add.run_only_if(
        "lockstep_constraint_missing",
        &format!("NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {} AND conname = {}) AND NOT EXISTS (SELECT 1 {} AND attnotnull)",
        ctx.regclass(),
        literal(name),
        c.attribute(ctx)
    ),
    );
    add.notes
        .push("New and updated rows are checked from now on.".to_string());
    add
}

fn validate_not_null_step(ctx: &Ctx, name: &str) -> Step {
    let mut validate = ctx.ddl(
        "Validate it: scans the table while reads and writes continue",
        vec![format!(
            "ALTER TABLE {} VALIDATE CONSTRAINT {};",
            ctx.table(),
            ident(name)
        )],
        Statement::ValidateConstraint,
        ctx.model.scan(),
    );
    validate.scans_table = true;
    validate.run_only_if(
        "lockstep_needs_validation",
        &format!("EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {} AND conname = {} AND NOT convalidated)",
        ctx.regclass(),
        literal(name)
    ),
    );
    validate.retry = "Safe to re-run: it runs only while the constraint is not yet validated. If it fails on a NULL, a row escaped the backfill: run the backfill again, then this.".to_string();
    validate
}

fn validated_check(ctx: &Ctx, name: &str) -> Check {
    check(
        "The constraint is validated",
        format!(
            "SELECT convalidated FROM pg_constraint WHERE conrelid = {} AND conname = {};",
            ctx.regclass(),
            literal(name)
        ),
        "t",
        Expected::row(&["t"]),
    )
}

/// 12-17: SET NOT NULL without a scan thanks to the validated CHECK, then the CHECK goes.
fn set_not_null_step(ctx: &Ctx, c: &Column, name: &str) -> Step {
    let (table, col, constraint) = (ctx.table(), ident(c.name), ident(name));
    let mut set = ctx.brief(
        "Mark the column NOT NULL (no scan: the validated CHECK proves it) and drop the CHECK (one transaction)",
        vec![
            format!("ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL;"),
            format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint};"),
        ],
        Statement::AlterTableAccessExclusive,
    );
    set.notes.push("From 12, SET NOT NULL skips its full-table scan when a validated CHECK (col IS NOT NULL) exists.".to_string());
    set
}

/// Serial and identity columns: a rewrite on every version, and no online path yields one.
fn type_rewrite_paths(ctx: &Ctx, c: &Column, summary: String) -> Result<Paths, FieldError> {
    let blocking = ctx.model.worst_case(ctx.model.rewrite());
    if !fits_budget(ctx, ctx.model.rewrite()) {
        return Err(FieldError::budget_too_short(
            format!("{} is too short: adding a {} column rewrites the whole table under ACCESS EXCLUSIVE on every version (up to {} estimated here). Accepts a duration such as 0, 500ms, 30s or 5m: raise it to at least {}; or, online: create a sequence, then add-column with --type bigint --default \"nextval('<sequence>')\" (filled in batches), and attach the sequence with ALTER SEQUENCE ... OWNED BY", budget_text(ctx), c.data_type, human_seconds_up(blocking), human_seconds_up(blocking)),
            blocking,
        ));
    }
    let mut direct = rewrite_direct(
        ctx,
        "Add the column (rewrites the table under ACCESS EXCLUSIVE)",
        add_sql(ctx, c, c.default, c.not_null),
        vec![check(
            "The column exists with its type",
            format!(
                "SELECT atttypid = {}::regtype AS type_ok {};",
                literal(&c.base_type()),
                c.attribute(ctx)
            ),
            "t",
            Expected::row(&["t"]),
        )],
    );
    direct[1].rollback.push(drop_column_rollback(ctx, c));
    direct[0].checks.push(absent_check(ctx, c));
    Ok(Paths {
        summary,
        direct: Some(direct),
        online: None,
        online_required: None,
        warnings: vec![Warning {
            code: "type-rewrites".to_string(),
            message: format!("{}: serial and identity columns fill every existing row from a sequence, which rewrites the table on every version. It fits the budget here.", c.data_type),
        }],
    })
}

/// `GENERATED ALWAYS AS (...) STORED` (12+): computed for every row, so a rewrite.
fn generated_paths(
    ctx: &Ctx,
    c: &Column,
    expr: &str,
    summary: String,
) -> Result<Paths, FieldError> {
    let v = ctx.version();
    let blocking = ctx.model.worst_case(ctx.model.rewrite());
    let virtual_hint = if facts::VIRTUAL_GENERATED_COLUMNS.holds(v) {
        "; or a VIRTUAL generated column (PostgreSQL 18: computed when read, catalog-only to add, but it cannot be indexed)"
    } else {
        ""
    };
    if !fits_budget(ctx, ctx.model.rewrite()) {
        return Err(FieldError::budget_too_short(
            format!("{} is too short: adding a STORED generated column computes it for every row, rewriting the whole table under ACCESS EXCLUSIVE on every version (up to {} estimated here), and no online path produces a generated column. Accepts a duration such as 0, 500ms, 30s or 5m: raise it to at least {}{virtual_hint}; or add a plain column kept by a trigger and filled in batches (not a generated column, and not planned by Lockstep)", budget_text(ctx), human_seconds_up(blocking), human_seconds_up(blocking)),
            blocking,
        ));
    }
    let sql = format!(
        "ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {} GENERATED ALWAYS AS ({expr}) STORED{};",
        ctx.table(),
        ident(c.name),
        c.data_type,
        if c.not_null { " NOT NULL" } else { "" }
    );
    let mut direct = rewrite_direct(
        ctx,
        "Add the generated column (computes every row: rewrites the table under ACCESS EXCLUSIVE)",
        sql,
        vec![check(
            "The column exists, STORED generated, with its type",
            format!(
                "SELECT attgenerated, atttypid = {}::regtype AS type_ok {};",
                literal(&c.base_type()),
                c.attribute(ctx)
            ),
            "s, t",
            Expected::row(&["s", "t"]),
        )],
    );
    direct[1].rollback.push(drop_column_rollback(ctx, c));
    direct[0].checks.push(absent_check(ctx, c));
    let mut warnings = Vec::new();
    if facts::VIRTUAL_GENERATED_COLUMNS.holds(v) {
        warnings.push(Warning {
            code: "pg18-generated-virtual".to_string(),
            message: "PostgreSQL 18 makes generated columns VIRTUAL unless told otherwise; this plan says STORED explicitly, as asked. A VIRTUAL column would be catalog-only to add but computed on every read and not indexable.".to_string(),
        });
    }
    Ok(Paths {
        summary,
        direct: Some(direct),
        online: None,
        online_required: None,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn params(db: &str) -> Params {
        Params::new()
            .with("db", db)
            .with("change", "add-column")
            .with("table", "orders")
            .with("column", "is_flagged")
            .with("type", "boolean")
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0")
    }

    fn step_sql(plan: &crate::Plan) -> Vec<String> {
        plan.steps().flat_map(|s| s.sql.clone()).collect()
    }

    #[test]
    fn constant_default_is_catalog_only_from_11() {
        let plan = crate::plan(&params("postgresql@11.22").with("default", "false")).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        let step = &plan.phases[1].steps[0];
        assert_eq!(
            step.sql,
            ["ALTER TABLE orders ADD COLUMN IF NOT EXISTS is_flagged boolean DEFAULT false;"]
        );
        assert_eq!(step.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert!(!step.rewrites_table);
        assert!(step.hold_seconds.high <= crate::estimate::CATALOG_ONLY.high);
        assert!(plan.phases[1]
            .checks
            .iter()
            .any(|c| c.sql.contains("atthasmissing")));
        assert!(plan.alternative.is_none());
    }

    #[test]
    fn constant_default_on_10_goes_online_for_a_big_table() {
        let plan = crate::plan(&params("postgresql@10.23").with("default", "false")).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "pg10-default-rewrites"));
        assert!(plan.steps().all(|s| !s.rewrites_table));
        let expand = &plan.phases[1].steps[0];
        assert_eq!(
            expand.sql,
            [
                "ALTER TABLE orders ADD COLUMN IF NOT EXISTS is_flagged boolean;",
                "ALTER TABLE orders ALTER COLUMN is_flagged SET DEFAULT false;"
            ]
        );
        assert!(expand.in_transaction);
        let fill = &plan.phases[2].steps[1];
        assert_eq!(fill.run, crate::model::Run::UntilDone);
        assert!(fill.sql[0].starts_with("WITH lockstep_batch AS"));
        assert!(fill.sql[0].contains("UPDATE orders SET is_flagged = false WHERE id IN (SELECT lockstep_key FROM lockstep_batch) AND is_flagged IS NULL"));
        assert!(!fill.sql[0].contains("DO "));
        assert!(fill
            .notes
            .iter()
            .any(|n| n.contains("until it returns no row")));
        let drop = &plan.phases[2].steps[2];
        assert!(drop.sql[0].starts_with("DROP TABLE IF EXISTS lockstep_backfill_orders_is_flagged"));
        assert!(drop.only_if.is_some());
        let alt = plan.alternative.unwrap();
        assert!(alt.phases[1].steps[0].rewrites_table);
        assert_eq!(alt.phases[1].steps[0].blocks, Blocks::ReadsAndWrites);
        // A small table with a generous budget takes the single statement.
        let plan = crate::plan(
            &params("postgresql@10.23")
                .with("default", "false")
                .with("rows", "10k")
                .with("size", "2MB")
                .with("max-downtime", "30s"),
        )
        .unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        assert!(plan.phases[1].steps[0].rewrites_table);
    }

    #[test]
    fn volatile_default_backfills_on_every_version() {
        for db in [
            "postgresql@10",
            "postgresql@11",
            "postgresql@16",
            "postgresql@18",
        ] {
            let plan = crate::plan(
                &params(db)
                    .with("column", "public_id")
                    .with("type", "uuid")
                    .with("default", "gen_random_uuid()"),
            )
            .unwrap();
            assert_eq!(plan.strategy.chosen, "online", "{db}");
            assert!(plan
                .warnings
                .iter()
                .any(|w| w.code == "volatile-default-rewrites"));
            let fill = &plan.phases[2].steps[1];
            assert_eq!(fill.lock, None);
            assert_eq!(fill.blocks, Blocks::Nothing);
            assert!(!fill.in_transaction);
            if db == "postgresql@10" {
                assert_eq!(fill.run, crate::model::Run::UntilDone);
            } else {
                assert!(fill.sql[0].starts_with("DO $lockstep$"));
                assert!(fill.sql[0].contains("COMMIT;"));
                assert_eq!(fill.statement_timeout_ms, Some(0));
            }
        }
    }

    #[test]
    fn unknown_function_is_treated_as_volatile_with_a_warning() {
        let plan = crate::plan(&params("postgresql@16").with("default", "my_func()")).unwrap();
        assert!(plan.steps().all(|s| !s.rewrites_table));
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "default-volatility-unknown"));
        assert_eq!(plan.strategy.chosen, "online");
    }

    #[test]
    fn not_null_by_version() {
        let nn = |db: &str| {
            crate::plan(
                &params(db)
                    .with("column", "public_id")
                    .with("type", "uuid")
                    .with("default", "gen_random_uuid()")
                    .with("not-null", "true"),
            )
            .unwrap()
        };
        let p18 = nn("postgresql@18.4");
        let sql = step_sql(&p18);
        assert!(sql.iter().any(|s| s == "ALTER TABLE orders ADD CONSTRAINT orders_public_id_not_null NOT NULL public_id NOT VALID;"));
        assert!(!sql.iter().any(|s| s.contains("SET NOT NULL")));
        let p12 = nn("postgresql@12");
        let sql = step_sql(&p12);
        assert!(sql
            .iter()
            .any(|s| s.contains("CHECK (public_id IS NOT NULL) NOT VALID")));
        assert!(sql.iter().any(|s| s.ends_with("SET NOT NULL;")));
        let validate = p12.steps().find(|s| s.sql[0].contains("VALIDATE")).unwrap();
        assert_eq!(validate.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert!(validate.scans_table);
        let p11 = nn("postgresql@11");
        assert!(!step_sql(&p11).iter().any(|s| s.contains("SET NOT NULL")));
        assert!(p11.warnings.iter().any(|w| w.code == "not-null-as-check"));
        // A constant default on 11+ makes NOT NULL catalog-only in one statement.
        let plan = crate::plan(
            &params("postgresql@11")
                .with("default", "false")
                .with("not-null", "true"),
        )
        .unwrap();
        assert_eq!(
            step_sql(&plan),
            ["ALTER TABLE orders ADD COLUMN IF NOT EXISTS is_flagged boolean DEFAULT false NOT NULL;"]
        );
    }

    #[test]
    fn not_null_without_default_on_a_table_with_rows_is_refused() {
        let errors = crate::plan(&params("postgresql@16").with("not-null", "true")).unwrap_err();
        assert_eq!(errors[0].field, "not-null");
        assert!(errors[0].message.contains("default"));
        let plan = crate::plan(
            &params("postgresql@16")
                .with("not-null", "true")
                .with("rows", "0")
                .with("size", "8kB"),
        )
        .unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
    }

    #[test]
    fn generated_columns() {
        let gen = |db: &str, budget: &str| {
            crate::plan(
                &params(db)
                    .with("column", "total")
                    .with("type", "numeric")
                    .with("generated", "price * quantity")
                    .with("rows", "10k")
                    .with("size", "2MB")
                    .with("max-downtime", budget),
            )
        };
        let errors = gen("postgresql@11", "30s").unwrap_err();
        assert_eq!(errors[0].field, "generated");
        assert!(errors[0].message.contains("12"));
        let plan = gen("postgresql@18", "30s").unwrap();
        assert_eq!(
            step_sql(&plan),
            ["ALTER TABLE orders ADD COLUMN IF NOT EXISTS total numeric GENERATED ALWAYS AS (price * quantity) STORED;"]
        );
        assert!(plan.steps().any(|s| s.rewrites_table));
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "pg18-generated-virtual"));
        let errors = gen("postgresql@16", "0").unwrap_err();
        assert_eq!(errors[0].field, "max-downtime");
        assert!(errors[0].message.contains("STORED"));
    }

    #[test]
    fn backfill_needs_a_key() {
        let errors = crate::plan(
            &params("postgresql@16")
                .with("column", "sample")
                .with("default", "random()")
                .with("type", "float8")
                .with("primary-key", "none"),
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "primary-key");
    }

    #[test]
    fn serial_types_rewrite() {
        let errors = crate::plan(&params("postgresql@16").with("type", "bigserial")).unwrap_err();
        assert_eq!(errors[0].field, "max-downtime");
        assert!(errors[0].message.contains("nextval"));
    }

    #[test]
    fn runbooks_at_each_boundary() {
        let cases = [
            (
                "add_column_constant_default_pg10",
                params("postgresql@10.23").with("default", "false"),
            ),
            (
                "add_column_constant_default_pg11",
                params("postgresql@11.22").with("default", "false"),
            ),
            (
                "add_column_volatile_not_null_pg11",
                params("postgresql@11.22")
                    .with("column", "public_id")
                    .with("type", "uuid")
                    .with("default", "gen_random_uuid()")
                    .with("not-null", "true"),
            ),
            (
                "add_column_volatile_not_null_pg12",
                params("postgresql@12.22")
                    .with("column", "public_id")
                    .with("type", "uuid")
                    .with("default", "gen_random_uuid()")
                    .with("not-null", "true"),
            ),
            (
                "add_column_volatile_not_null_pg17",
                params("postgresql@17.10")
                    .with("column", "public_id")
                    .with("type", "uuid")
                    .with("default", "gen_random_uuid()")
                    .with("not-null", "true"),
            ),
            (
                "add_column_volatile_not_null_pg18",
                params("postgresql@18.4")
                    .with("column", "public_id")
                    .with("type", "uuid")
                    .with("default", "gen_random_uuid()")
                    .with("not-null", "true"),
            ),
            (
                "add_column_generated_pg12",
                params("postgresql@12.22")
                    .with("column", "total")
                    .with("type", "numeric")
                    .with("generated", "price * quantity")
                    .with("rows", "10k")
                    .with("size", "2MB")
                    .with("max-downtime", "30s"),
            ),
            (
                "add_column_generated_pg18",
                params("postgresql@18.4")
                    .with("column", "total")
                    .with("type", "numeric")
                    .with("generated", "price * quantity")
                    .with("rows", "10k")
                    .with("size", "2MB")
                    .with("max-downtime", "30s"),
            ),
        ];
        for (name, p) in cases {
            let plan = crate::plan(&p).unwrap();
            insta::assert_snapshot!(name, crate::render::markdown::render(&plan, &p));
        }
    }
}
