//! Change a column's type.
//!
//! Which statement is safe depends on what `ALTER COLUMN ... TYPE` does to the table, decided by
//! [`types::alter_type_effect`] (rules in `postgres/shared/types.rs`, boundaries in `postgres/facts.rs`):
//!
//! - **Binary-coercible** (varchar(n) -> varchar(m >= n) / varchar / text, text -> varchar,
//!   numeric(p,s) -> numeric(p2 >= p, s) / numeric, timestamp(p) -> timestamp(q >= p)): the plain
//!   statement is catalog-only under ACCESS EXCLUSIVE; the table and its indexes keep their files.
//!   It still re-validates CHECK constraints that mention the column (a scan under the lock:
//!   preflight lists them) and drops the column's statistics (the plan runs ANALYZE after). A USING
//!   clause keeps this only when it is the bare column or a plain cast of it (`col::text`); any
//!   other expression rewrites.
//! - **timestamp <-> timestamptz** on 12+: with the session TimeZone set to UTC (`SET LOCAL` in the
//!   step's transaction) the table is not rewritten, but every index containing the column is
//!   rebuilt under ACCESS EXCLUSIVE. On 10/11 it is a rewrite. Either way the conversion reads the
//!   stored values as UTC: the plan says so.
//! - **Anything else** rewrites the table and all its indexes under ACCESS EXCLUSIVE (estimated
//!   with the rewrite model). The online path is expand/contract: a new column of the new type, a
//!   BEFORE INSERT OR UPDATE trigger converting every write, a keyset-paginated backfill, copies of
//!   the column's indexes built CONCURRENTLY, a NOT NULL proof (CHECK ... NOT VALID + VALIDATE,
//!   only when the old column is NOT NULL: the plan's guards read `attnotnull`), a deploy gate,
//!   one short ACCESS EXCLUSIVE transaction swapping the names, and the old column dropped later.
//! - **The primary key column** (`--primary-key`, default `id`), typically integer -> bigint: the
//!   same expansion plus a UNIQUE index built CONCURRENTLY, foreign keys of other tables copied
//!   onto the new column NOT VALID and validated, and a swap transaction that sets NOT NULL (no
//!   scan from 12 thanks to the validated CHECK; a scan under the lock on 10/11), moves the
//!   referencing foreign keys, drops the old primary key and adds it back `USING INDEX`, and moves
//!   the sequence (OWNED BY, default, `AS bigint`) or the identity.

use super::backfill::KeysetPass;
use super::constraint::{add_step, by_name, state_check, validate_step};
use super::{catalog_names, check, rollback, Ctx, Paths, RETRY_LOCK_TIMEOUT};
use crate::estimate::CATALOG_ONLY;
use crate::model::{human_seconds, Check, Estimate, Expected, Phase, RollbackStep, Step, Warning};
use crate::postgres::facts::{self, Statement};
use crate::postgres::shared::expressions;
use crate::postgres::shared::index::IndexSpec;
use crate::postgres::shared::types::{self, AlterTypeEffect, ColumnType, TypeName};
use crate::quote::{self, derived_name, ident, literal};
use crate::request::change::ChangeType;
use crate::request::{FieldError, IndexMethod};

/// Largest value of a PostgreSQL integer (int4).
const INT4_MAX: u64 = 2_147_483_647;

/// Everything the paths need about the requested change.
struct Spec<'a> {
    column: &'a str,
    from_raw: &'a str,
    to_raw: &'a str,
    from: TypeName,
    to: TypeName,
    using: Option<&'a str>,
    is_pk: bool,
    /// timestamp <-> timestamptz without USING: converted as UTC.
    zone: bool,
    new_col: String,
    old_col: String,
    trigger: String,
    function: String,
    not_null_check: String,
    pk_index: String,
}

impl Spec<'_> {
    /// The new value computed from a row, as SQL over the row's (unqualified) columns.
    fn value(&self) -> String {
        let conv = match (self.using, self.zone) {
            (Some(u), _) => format!("({u})"),
            (None, true) => format!("({} AT TIME ZONE 'UTC')", ident(self.column)),
            (None, false) => ident(self.column),
        };
        format!("{conv}::{}", self.to_raw)
    }

    fn widens_sequence(&self) -> bool {
        matches!(self.to.ty, ColumnType::Bigint)
            && matches!(self.from.ty, ColumnType::Integer | ColumnType::Smallint)
    }
}

/// The paths, with the preflight proof that the new type and every function the USING
/// expression calls exist ([`catalog_names`]).
pub fn paths(ctx: &Ctx, change: &ChangeType) -> Result<Paths, FieldError> {
    let ChangeType { to_type, using, .. } = change;
    let mut out = type_paths(ctx, change)?;
    let functions = using
        .as_deref()
        .map(expressions::called_functions)
        .unwrap_or_default();
    let types = [catalog_names::type_name(to_type)];
    catalog_names::require(&mut out, &functions, &types, ctx.version());
    Ok(out)
}

fn type_paths(ctx: &Ctx, change: &ChangeType) -> Result<Paths, FieldError> {
    let spec = spec(ctx, change)?;
    let mut warnings = type_warnings(ctx, &spec);
    let summary = format!(
        "Change column {} of {} from {} to {}{}",
        ident(spec.column),
        ctx.table(),
        spec.from_raw,
        spec.to_raw,
        spec.using
            .map(|u| format!(" USING {u}"))
            .unwrap_or_default()
    );
    let plain = spec
        .using
        .is_none_or(|u| types::using_is_plain_cast(u, spec.column, &spec.to.ty));
    let effect = if plain {
        types::alter_type_effect(ctx.version(), &spec.from.ty, &spec.to.ty)
    } else {
        AlterTypeEffect::Rewrite
    };
    if let AlterTypeEffect::CatalogOnly = effect {
        warnings.extend(ctx.version_warnings(false));
        return Ok(Paths {
            summary,
            direct: Some(catalog_only_direct(ctx, &spec)),
            online: None,
            online_required: None,
            warnings,
        });
    }
    warnings.extend(ctx.version_warnings(true));
    let direct = rewrite_direct(ctx, &spec, effect);
    let online = ctx
        .req
        .env
        .primary_key
        .as_ref()
        .map(|pk| online(ctx, &spec, pk));
    if online.is_none() {
        warnings.push(no_primary_key(ctx, &direct)?);
    }
    Ok(Paths {
        summary,
        direct: Some(direct),
        online,
        online_required: None,
        warnings,
    })
}

/// The change's types parsed and the names the online path adds, after the refusals (a serial
/// target, the same type).
fn spec<'a>(ctx: &Ctx, change: &'a ChangeType) -> Result<Spec<'a>, FieldError> {
    let ChangeType {
        column,
        from_type,
        to_type,
        using,
    } = change;
    let from = types::parse_column_type(from_type);
    let to = types::parse_column_type(to_type);
    if to.serial {
        return Err(FieldError::new(
            "to-type",
            format!("{} is not a type ALTER COLUMN TYPE accepts (serial types are an integer type plus a sequence default); accepts a real type such as bigint: the column keeps its sequence", crate::request::shown(to_type)),
        ));
    }
    if from.ty == to.ty && using.is_none() {
        return Err(FieldError::new(
            "to-type",
            format!("{} is the type the column already has ({} {}); accepts a different type, e.g. bigint or text", crate::request::shown(to_type), crate::request::params::flag("from-type"), crate::request::shown(from_type)),
        ));
    }
    let table = &ctx.req.table;
    let new_col = derived_name(&[column, "new"]);
    Ok(Spec {
        column,
        from_raw: from_type,
        to_raw: to_type,
        zone: using.is_none() && types::is_timestamp_zone_change(&from.ty, &to.ty),
        from,
        to,
        using: using.as_deref(),
        is_pk: ctx.req.env.primary_key.as_deref() == Some(column.as_str()),
        old_col: derived_name(&[column, "old"]),
        trigger: derived_name(&[table, column, "lockstep_sync"]),
        function: derived_name(&[table, column, "lockstep_sync"]),
        not_null_check: derived_name(&[table, &new_col, "not_null_check"]),
        pk_index: derived_name(&[table, &new_col, "key"]),
        new_col,
    })
}

/// The time zone a timestamp conversion assumes, and an integer key's ceiling.
fn type_warnings(ctx: &Ctx, spec: &Spec) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if spec.zone {
        warnings.push(Warning {
            code: "timestamp-zone".to_string(),
            message: format!(
                "Converting between timestamp and timestamptz reads every stored value in a time zone. This plan uses UTC (SET LOCAL TimeZone = 'UTC' for the direct statement, AT TIME ZONE 'UTC' online), so a stored {} is taken as UTC. If the application wrote local times, re-plan with --using \"{} AT TIME ZONE 'Europe/Paris'\" (your zone): that always rewrites the table.",
                ident(spec.column),
                ident(spec.column)
            ),
        });
    }
    if spec.is_pk && matches!(spec.from.ty, ColumnType::Integer) {
        warnings.push(Warning {
            code: "int4-ceiling".to_string(),
            message: format!(
                "An integer key stops at {INT4_MAX}: once the sequence passes it every INSERT fails. Preflight prints the current maximum and how far it is along; the online path takes about {} of backfill on this table, so start well before the ceiling.",
                human_seconds(ctx.model.backfill().high)
            ),
        });
    }
    warnings
}

/// Without a key there is no online path: refused unless the direct statement fits the budget.
fn no_primary_key(ctx: &Ctx, direct: &[Phase]) -> Result<Warning, FieldError> {
    let blocking = crate::model::longest_blocking(direct);
    if blocking > ctx.req.max_downtime_ms as f64 / 1000.0 {
        return Err(FieldError::new(
            "primary-key",
            format!("is none, but the online path (new column, trigger, backfill, swap) pages through the table by a primary key or a unique NOT NULL column, and the direct ALTER COLUMN TYPE blocks traffic for up to {} here. Accepts the name of such a column (e.g. id)", human_seconds(blocking)),
        ));
    }
    Ok(Warning {
        code: "no-primary-key".to_string(),
        message: "Without a primary key (or a unique NOT NULL column) there is no online path: the backfill pages by key. The direct statement fits the budget.".to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Shared SQL helpers (also used by split-table)
// ---------------------------------------------------------------------------------------------

/// `pg_attribute` predicate for column `name` of the target table.
pub(crate) fn attr(ctx: &Ctx, name: &str) -> String {
    format!(
        "attrelid = {} AND attname = {} AND NOT attisdropped",
        ctx.regclass(),
        literal(name)
    )
}

/// A check that column `name` exists (`true`) or not.
pub(crate) fn column_exists_check(ctx: &Ctx, name: &str, exists: bool) -> Check {
    let n = if exists { "1" } else { "0" };
    check(
        &format!(
            "Column {} {}",
            ident(name),
            if exists { "exists" } else { "is gone" }
        ),
        format!(
            "SELECT count(*) FROM pg_attribute WHERE {};",
            attr(ctx, name)
        ),
        n,
        Expected::row(&[n]),
    )
}

// ---------------------------------------------------------------------------------------------
// Direct paths
// ---------------------------------------------------------------------------------------------

fn alter_type_sql(ctx: &Ctx, spec: &Spec) -> String {
    format!(
        "ALTER TABLE {} ALTER COLUMN {} TYPE {}{};",
        ctx.table(),
        ident(spec.column),
        spec.to_raw,
        spec.using
            .map(|u| format!(" USING {u}"))
            .unwrap_or_default()
    )
}

fn type_check(ctx: &Ctx, column: &str, ty: &TypeName, raw: &str, when: &str) -> Check {
    let sql = format!(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE {};",
        attr(ctx, column)
    );
    match ty.ty.format_type() {
        Some(f) => check(
            &format!("Column {} is {raw} {when}", ident(column)),
            sql,
            &f,
            Expected::row(&[&f]),
        ),
        None => check(
            &format!("Column {} is {raw} {when}", ident(column)),
            sql,
            &format!("{raw}, as format_type spells it"),
            Expected::Manual,
        ),
    }
}

/// CHECK constraints that mention the column: ALTER COLUMN TYPE re-validates them under the lock.
fn checks_on_column(ctx: &Ctx, column: &str) -> Check {
    check(
        "No CHECK constraint mentions the column (ALTER COLUMN TYPE re-validates each one with a full scan under ACCESS EXCLUSIVE, even when the table is not rewritten)",
        format!(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = {} AND contype = 'c' AND (SELECT attnum FROM pg_attribute WHERE {}) = ANY (conkey);",
            ctx.regclass(),
            attr(ctx, column)
        ),
        "no rows. A row means the statement scans the table under ACCESS EXCLUSIVE (about the sequential scan estimate): on a large table drop that CHECK first, run the statement, then add the CHECK back NOT VALID and VALIDATE it",
        Expected::NoRows,
    )
}

fn analyze_step(ctx: &Ctx, column: &str) -> Step {
    let mut s = ctx.ddl(
        "Rebuild the column's statistics",
        vec![format!("ANALYZE {} ({});", ctx.table(), ident(column))],
        Statement::Analyze,
        Estimate::new(0.1, 30.0),
    );
    s.notes.push("ALTER COLUMN TYPE drops the column's statistics (pg_stats has no row for it until the next ANALYZE): run it now so query plans do not fall back to default estimates. Reads a sample; reads and writes continue.".to_string());
    s.retry = "Safe to re-run.".to_string();
    s
}

fn catalog_only_direct(ctx: &Ctx, spec: &Spec) -> Vec<Phase> {
    let mut step = ctx.brief(
        "Change the type (catalog-only: no rewrite, indexes kept)",
        vec![alter_type_sql(ctx, spec)],
        Statement::AlterTableAccessExclusive,
    );
    step.notes.push(format!(
        "{} -> {} is binary-coercible{}: PostgreSQL only updates the catalog. The table and its indexes keep their files (pg_relation_filenode does not change), so the ACCESS EXCLUSIVE lock is held for a moment.",
        spec.from_raw,
        spec.to_raw,
        if spec.using.is_some() { " and the USING expression is a plain cast of the column" } else { "" }
    ));
    step.notes.push("Clients with prepared statements that return this column may get \"cached plan must not change result type\" once: they re-prepare on retry.".to_string());
    step.retry = format!(
        "{RETRY_LOCK_TIMEOUT} Changing the type again to the type it already has does nothing."
    );
    vec![
        ctx.preflight(
            None,
            vec![
                type_check(ctx, spec.column, &spec.from, spec.from_raw, "now"),
                checks_on_column(ctx, spec.column),
            ],
        ),
        Phase {
            name: "change type".to_string(),
            purpose: "Change the type in the catalog: a moment under ACCESS EXCLUSIVE, no rewrite."
                .to_string(),
            app_change: None,
            steps: vec![step, analyze_step(ctx, spec.column)],
            rollback: vec![ctx.rollback_ddl(
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE {};",
                    ctx.table(),
                    ident(spec.column),
                    spec.from_raw
                ),
                Some("Going back narrows the type: it rewrites the table under ACCESS EXCLUSIVE (and fails if a longer or wider value was written since). Run it only on a small table or in a maintenance window."),
            )],
            irreversible: None,
            checks: vec![type_check(ctx, spec.column, &spec.to, spec.to_raw, "now")],
        },
    ]
}

fn rewrite_direct(ctx: &Ctx, spec: &Spec, effect: AlterTypeEffect) -> Vec<Phase> {
    let rebuild_only = effect == AlterTypeEffect::IndexRebuildOnly;
    let mut checks = vec![
        type_check(ctx, spec.column, &spec.from, spec.from_raw, "now"),
        checks_on_column(ctx, spec.column),
    ];
    if rebuild_only {
        checks.push(indexes_on_column_check(
            ctx,
            spec.column,
            "Indexes containing the column (each is rebuilt under the lock)",
        ));
    }
    vec![
        ctx.preflight(Some(if rebuild_only { ctx.req.bytes / 4 } else { ctx.req.bytes }), checks),
        Phase {
            name: "change type".to_string(),
            purpose: if rebuild_only {
                "Change the type under a UTC session: no table rewrite, but indexes on the column are rebuilt while reads and writes wait.".to_string()
            } else {
                "Change the type in one statement, which rewrites the table while reads and writes wait.".to_string()
            },
            app_change: Some(format!(
                "The application reads and writes {} as {} (and tolerates a failed query while the statement holds its lock).",
                ident(spec.column),
                spec.to_raw
            )),
            steps: vec![alter_type_step(ctx, spec, rebuild_only), analyze_step(ctx, spec.column)],
            rollback: vec![ctx.rollback_ddl(
                format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE {};",
                    ctx.table(),
                    ident(spec.column),
                    spec.from_raw
                ),
                Some("Another rewrite under ACCESS EXCLUSIVE, as long as the forward one; it fails if a value written since does not fit the old type."),
            )],
            irreversible: None,
            checks: vec![type_check(ctx, spec.column, &spec.to, spec.to_raw, "now")],
        },
    ]
}

/// The ALTER COLUMN TYPE (under UTC for a time zone change), and the serial sequence widened
/// where it keeps its type.
fn alter_type_statements(ctx: &Ctx, spec: &Spec) -> Vec<String> {
    let mut sql = Vec::new();
    if spec.zone {
        sql.push("SET LOCAL TimeZone = 'UTC';".to_string());
    }
    sql.push(alter_type_sql(ctx, spec));
    if spec.widens_sequence() && facts::SERIAL_SEQUENCE_KEEPS_TYPE.holds(ctx.version()) {
        sql.push(quote::do_block(&format!(
            "DECLARE\n  lockstep_seq text := pg_get_serial_sequence({}, {});\nBEGIN\n  IF lockstep_seq IS NOT NULL THEN\n    EXECUTE format('ALTER SEQUENCE %s AS bigint', lockstep_seq);\n  END IF;\nEND",
            literal(&ctx.table()),
            literal(spec.column)
        )));
    }
    sql
}

fn alter_type_step(ctx: &Ctx, spec: &Spec, rebuild_only: bool) -> Step {
    let v = ctx.version();
    let (title, duration) = if rebuild_only {
        (
            "Change the type under a UTC session (no table rewrite; indexes on the column are rebuilt)",
            Estimate::new(
                CATALOG_ONLY.low,
                ctx.model.index_build().high.min(ctx.model.rewrite().high),
            ),
        )
    } else {
        (
            "Change the type (rewrites the table and every index under ACCESS EXCLUSIVE)",
            ctx.model.rewrite(),
        )
    };
    let mut step = ctx.ddl(
        title,
        alter_type_statements(ctx, spec),
        Statement::AlterTableAccessExclusive,
        duration,
    );
    step.rewrites_table = !rebuild_only;
    if rebuild_only {
        step.notes.push(format!("PostgreSQL {v}: timestamp <-> timestamptz skips the table rewrite when the session TimeZone is UTC (12+), which SET LOCAL sets for this transaction only. Every index containing the column is still rebuilt under the lock (its operator class changes): the duration runs from a catalog-only moment (no such index) to one index build (preflight lists them)."));
    } else {
        step.notes.push("ACCESS EXCLUSIVE is held while the table and all its indexes are rewritten: even SELECTs wait. Needs free disk for a full copy of the table and its indexes.".to_string());
        if spec.zone {
            step.notes.push(format!("PostgreSQL {v} rewrites the table for timestamp <-> timestamptz whatever the TimeZone (the UTC shortcut arrived in 12); SET LOCAL TimeZone = 'UTC' still fixes how stored values are read."));
        }
        if spec.using.is_some() {
            step.notes.push("A USING expression other than the bare column (or a plain cast of it) always rewrites the table.".to_string());
        }
    }
    if spec.is_pk {
        step.notes.push("Every foreign key that references this column is re-checked against the new type: each referencing table is read under a lock that blocks its writes too.".to_string());
    }
    if spec.widens_sequence() {
        step.notes.push("A serial column's sequence keeps its integer type (max 2147483647) after ALTER COLUMN TYPE bigint: the DO block makes it AS bigint. An identity column's sequence follows the column by itself.".to_string());
    }
    step.notes.push("Clients with prepared statements that return this column may get \"cached plan must not change result type\" once: they re-prepare on retry.".to_string());
    step.retry = format!("{RETRY_LOCK_TIMEOUT} The transaction is all-or-nothing: after a failure the column still has its old type.");
    step
}

fn indexes_on_column_check(ctx: &Ctx, column: &str, description: &str) -> Check {
    check(
        description,
        format!(
            "SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) AS definition FROM pg_index WHERE indrelid = {} AND (SELECT attnum FROM pg_attribute WHERE {}) = ANY (indkey::int2[]);",
            ctx.regclass(),
            attr(ctx, column)
        ),
        "the list, for the record (no rows: nothing to copy or rebuild)",
        Expected::Manual,
    )
}

// ---------------------------------------------------------------------------------------------
// Online path (expand/contract)
// ---------------------------------------------------------------------------------------------

/// The expand/backfill/swap/contract path: a new column filled by a trigger and a backfill,
/// swapped in by name.
fn online(ctx: &Ctx, spec: &Spec, pk: &str) -> Vec<Phase> {
    let pass = KeysetPass {
        key: pk,
        progress: derived_name(&[&ctx.req.table, spec.column, "lockstep_progress"]),
        title: "Backfill the new column in keyset-paginated batches",
    };
    let mut phases = vec![
        online_preflight(ctx, spec),
        expand_phase(ctx, spec),
        backfill_phase(ctx, spec, &pass),
        indexes_phase(ctx, spec),
    ];
    if spec.is_pk {
        phases.push(foreign_keys_phase(ctx, spec));
    }
    phases.push(swap_phase(ctx, spec));
    phases.push(contract_phase(ctx, spec, &pass));
    phases
}

/// The checks of the primary key case: the key is whole, its headroom, its sequence and the
/// foreign keys that reference it.
fn primary_key_checks(ctx: &Ctx, spec: &Spec) -> Vec<Check> {
    let table = ctx.table();
    let col = ident(spec.column);
    let mut pre = vec![check(
        "The column is the table's whole primary key",
        format!(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {} AND contype = 'p' AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE {})]::int2[]) AS is_primary_key;",
            ctx.regclass(),
            attr(ctx, spec.column)
        ),
        "t",
        Expected::row(&["t"]),
    )];
    if matches!(spec.from.ty, ColumnType::Integer) {
        pre.push(check(
            "Headroom below the integer ceiling (2147483647): the current maximum and the sequence's last value (an index probe, not a scan)",
            format!(
                "SELECT max({col}) AS max_id, round(100.0 * max({col}) / {INT4_MAX}, 1) AS pct_of_int4, (SELECT pg_sequence_last_value(s::regclass) FROM pg_get_serial_sequence({}, {}) AS s WHERE s IS NOT NULL) AS sequence_last_value FROM {table};",
                literal(&table),
                literal(spec.column)
            ),
            "pct_of_int4 well below 100 with room for the backfill's duration at your insert rate; above ~85 %, start now and skip nothing",
            Expected::Manual,
        ));
    }
    pre.push(check(
        "Sequence or identity behind the column (the swap moves either one)",
        format!(
            "SELECT pg_get_serial_sequence({}, {}) AS sequence, (SELECT attidentity FROM pg_attribute WHERE {}) AS identity, (SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = {} AND adnum = (SELECT attnum FROM pg_attribute WHERE {})) AS column_default;",
            literal(&table),
            literal(spec.column),
            attr(ctx, spec.column),
            ctx.regclass(),
            attr(ctx, spec.column)
        ),
        "for the record: a serial column shows its sequence and a nextval default; an identity column shows identity a (ALWAYS) or d (BY DEFAULT)",
        Expected::Manual,
    ));
    pre.push(check(
        "Foreign keys of other tables that reference the table (each one referencing the column gets a copy on the new column; their own columns need the same type change later)",
        format!(
            "SELECT conrelid::regclass AS referencing_table, conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE confrelid = {} AND contype = 'f' ORDER BY 1, 2;",
            ctx.regclass()
        ),
        "the list. Each referencing column of the old type must be converted too (plan a change-type for each, e.g. order_id integer -> bigint): until then it overflows at the same ceiling",
        Expected::Manual,
    ));
    pre
}

/// Refused on a plain column: constraints this plan does not copy.
fn constraints_on_column_check(ctx: &Ctx, spec: &Spec) -> Check {
    check(
        "No UNIQUE, PRIMARY KEY, EXCLUDE or FOREIGN KEY constraint involves the column (this plan copies plain indexes only)",
        format!(
            "SELECT conname, contype FROM pg_constraint WHERE ((conrelid = {reg} AND (SELECT attnum FROM pg_attribute WHERE {a}) = ANY (conkey)) OR (confrelid = {reg} AND (SELECT attnum FROM pg_attribute WHERE {a}) = ANY (confkey))) AND contype IN ('u', 'p', 'x', 'f');",
            reg = ctx.regclass(),
            a = attr(ctx, spec.column)
        ),
        "no rows (a constraint on the column needs its own handling: re-create it on the new column after the swap)",
        Expected::NoRows,
    )
}

fn online_preflight(ctx: &Ctx, spec: &Spec) -> Phase {
    let mut pre = vec![
        type_check(ctx, spec.column, &spec.from, spec.from_raw, "now"),
        check(
            "The names this plan adds are free",
            format!(
                "SELECT count(*) FROM pg_attribute WHERE attrelid = {} AND attname IN ({}, {}) AND NOT attisdropped;",
                ctx.regclass(),
                literal(&spec.new_col),
                literal(&spec.old_col)
            ),
            "0 (1 or 2: an earlier attempt of this plan left its column: its steps are re-runnable; otherwise rename that column first)",
            Expected::row(&["0"]),
        ),
        check(
            "No view or rule depends on the column (a view keeps pointing at the old column after the swap, and the contract phase could not drop it)",
            format!(
                "SELECT DISTINCT r.ev_class::regclass AS dependent FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = {} AND d.refobjsubid = (SELECT attnum FROM pg_attribute WHERE {}) AND r.ev_class <> {};",
                ctx.regclass(),
                attr(ctx, spec.column),
                ctx.regclass()
            ),
            "no rows (otherwise re-create those views right after the swap, in the same deploy)",
            Expected::NoRows,
        ),
        indexes_on_column_check(ctx, spec.column, "Indexes containing the column (the plan builds a copy of each on the new column)"),
    ];
    if spec.is_pk {
        pre.extend(primary_key_checks(ctx, spec));
    } else {
        pre.push(constraints_on_column_check(ctx, spec));
    }
    let extra_bytes = ctx
        .req
        .bytes
        .saturating_add(ctx.req.rows.saturating_mul(40));
    ctx.preflight(Some(extra_bytes), pre)
}

/// The mirror function and its BEFORE trigger, guarded by the trigger's absence.
fn sync_step(ctx: &Ctx, spec: &Spec) -> Step {
    let table = ctx.table();
    let new_col = ident(&spec.new_col);
    let value = spec.value();
    let function_body = format!(
        "#variable_conflict use_column\nBEGIN\n  NEW.{new_col} := (SELECT {value} FROM (SELECT NEW.*) AS lockstep_row);\n  RETURN NEW;\nEND"
    );
    let function_sql = format!(
        "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {};",
        ctx.sibling(&spec.function),
        quote::dollar_quoted(&function_body)
    );
    let trigger_sql = format!(
        "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {table} FOR EACH ROW EXECUTE {} {}();",
        ident(&spec.trigger),
        facts::trigger_execute_keyword(ctx.version()),
        ctx.sibling(&spec.function)
    );
    let trigger_missing = format!(
        "NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = {} AND tgname = {})",
        ctx.regclass(),
        literal(&spec.trigger)
    );
    let mut s = ctx.brief(
        "Keep the new column in sync on every write (trigger)",
        vec![function_sql, trigger_sql],
        Statement::AddForeignKeyOrTrigger,
    );
    s.run_only_if("lockstep_trigger_missing", &trigger_missing);
    s.notes.push(format!("BEFORE INSERT OR UPDATE: every row written from now on carries {new_col} = {value}, computed from the row being written (the subquery lets the expression name the row's columns as the USING clause would)."));
    s.notes.push(
        "CREATE TRIGGER takes SHARE ROW EXCLUSIVE: writes wait for a moment, reads continue."
            .to_string(),
    );
    s.retry = format!("{RETRY_LOCK_TIMEOUT} The guard skips it once the trigger exists (CREATE TRIGGER has no IF NOT EXISTS before 14).");
    s
}

/// The NOT VALID CHECK that the new column holds no NULL; on a plain column only when the old
/// column is NOT NULL.
fn not_null_check_step(ctx: &Ctx, spec: &Spec) -> Step {
    let col = ident(spec.column);
    let new_col = ident(&spec.new_col);
    let mut s = add_step(
        ctx,
        if spec.is_pk {
            "Reject NULL in the new column from now on (CHECK ... NOT VALID)"
        } else {
            "Reject NULL in the new column from now on, if the old column is NOT NULL (CHECK ... NOT VALID)"
        },
        &spec.not_null_check,
        &format!("CHECK ({new_col} IS NOT NULL) NOT VALID"),
        Statement::AlterTableAccessExclusive,
        CATALOG_ONLY,
    );
    if !spec.is_pk {
        s.run_only_if(
            "lockstep_add_not_null_check",
            &format!("coalesce((SELECT attnotnull FROM pg_attribute WHERE {}), false) AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE {})",
            attr(ctx, spec.column),
            by_name(ctx, &spec.not_null_check)
        ),
        );
        s.notes.push(format!("Runs only when {col} is NOT NULL (the guard reads pg_attribute.attnotnull): then the new column must end NOT NULL too, and a validated CHECK is what lets SET NOT NULL skip its scan later (12+)."));
    }
    s.notes.push("NOT VALID: catalog-only, existing rows are not checked yet. The trigger fills the column on every write, so new rows pass.".to_string());
    s
}

/// Undoing the expansion: the CHECK, the trigger, its function, the new column.
fn expand_rollback(ctx: &Ctx, spec: &Spec) -> Vec<RollbackStep> {
    let table = ctx.table();
    let new_col = ident(&spec.new_col);
    vec![
        // The CHECK goes first: a NOT VALID CHECK still applies to every row written, and
        // once the trigger is gone nothing fills the new column, so an UPDATE of a row not yet
        // backfilled would fail between the two statements (seen on 16.14 under load).
        ctx.rollback_ddl(format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {};", ident(&spec.not_null_check)), Some("Drops the NOT NULL proof first, so no write can fail while the trigger is going away; ACCESS EXCLUSIVE for a moment.")),
        ctx.rollback_ddl(format!("DROP TRIGGER IF EXISTS {} ON {table};", ident(&spec.trigger)), Some("Takes ACCESS EXCLUSIVE for a moment.")),
        rollback(format!("DROP FUNCTION IF EXISTS {}();", ctx.sibling(&spec.function)), None),
        ctx.rollback_ddl(format!("ALTER TABLE {table} DROP COLUMN IF EXISTS {new_col};"), Some("Drops the new column and its CHECK; catalog-only (the space is reclaimed as rows are rewritten).")),
    ]
}

fn expand_phase(ctx: &Ctx, spec: &Spec) -> Phase {
    let table = ctx.table();
    let col = ident(spec.column);
    let new_col = ident(&spec.new_col);
    let mut add_col = ctx.brief(
        "Add the new column (nullable, no default: catalog-only)",
        vec![format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {new_col} {};",
            spec.to_raw
        )],
        Statement::AlterTableAccessExclusive,
    );
    add_col.retry = format!("{RETRY_LOCK_TIMEOUT} IF NOT EXISTS makes it a no-op once done.");
    Phase {
        name: "expand".to_string(),
        purpose: format!("Add {new_col} {} beside {col} and keep it in sync on every write. Each step holds its lock for a moment.", spec.to_raw),
        app_change: None,
        steps: vec![add_col, sync_step(ctx, spec), not_null_check_step(ctx, spec)],
        rollback: expand_rollback(ctx, spec),
        irreversible: None,
        checks: vec![
            type_check(ctx, &spec.new_col, &spec.to, spec.to_raw, "(the new column)"),
            check(
                "The sync trigger is in place and enabled",
                format!("SELECT tgenabled FROM pg_trigger WHERE tgrelid = {} AND tgname = {};", ctx.regclass(), literal(&spec.trigger)),
                "O (enabled)",
                Expected::row(&["O"]),
            ),
        ],
    }
}

fn backfill_phase(ctx: &Ctx, spec: &Spec, pass: &KeysetPass) -> Phase {
    let table = ctx.table();
    let new_col = ident(&spec.new_col);
    let value = spec.value();
    let apply = |pred: &str| {
        format!("UPDATE {table} SET {new_col} = {value} WHERE {pred} AND {new_col} IS DISTINCT FROM {value}")
    };
    let mut backfill_steps = pass.steps(ctx, &apply);
    if spec.using.is_some() {
        if let Some(first) = backfill_steps.last_mut() {
            first.notes.push("A row whose value the USING expression cannot convert makes the batch fail: fix or delete that row (the error names the value), then run the step again.".to_string());
        }
    }
    let mut rollback = expand_rollback(ctx, spec);
    if let Some(first) = rollback.first_mut() {
        first.note = Some("Undoing the backfill means undoing the expansion: the values written so far live in the new column, which these statements drop with the trigger (each takes ACCESS EXCLUSIVE for a moment).".to_string());
        first.also_undoes = 1;
    }
    rollback.push(pass.cleanup_rollback(ctx));
    Phase {
        name: "backfill".to_string(),
        purpose: format!("Fill {new_col} for the rows written before the trigger existed, in small committed batches while traffic continues."),
        app_change: None,
        steps: backfill_steps,
        rollback,
        irreversible: None,
        checks: vec![check(
            "Every row's new value matches the conversion (a full scan: run it on a replica if you have one)",
            format!("SELECT count(*) AS rows_out_of_sync FROM {table} WHERE {new_col} IS DISTINCT FROM {value};"),
            "0",
            Expected::row(&["0"]),
        ).scanning()],
    }
}

/// The unique index the new primary key will use, built CONCURRENTLY, and its check.
fn pk_index_steps(ctx: &Ctx, spec: &Spec) -> (Vec<Step>, Check) {
    let cols = [spec.new_col.clone()];
    let idx = IndexSpec {
        columns: &cols,
        key_sql: None,
        unique: true,
        predicate: None,
        method: IndexMethod::Btree,
        name: spec.pk_index.clone(),
    };
    let mut steps = idx.concurrent_build_steps(ctx);
    // CREATE INDEX takes the index name unqualified: the index goes in its table's schema.
    if let Some(build) = steps.last_mut() {
        build.sql = vec![format!(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} USING btree ({});",
            ident(&spec.pk_index),
            ctx.table(),
            ident(&spec.new_col)
        )];
    }
    let valid = check(
        "The unique index on the new column is valid and ready",
        idx.validity_sql(ctx),
        "one row: indisvalid = t, indisready = t",
        Expected::row(&["t", "t"]),
    );
    (steps, valid)
}

/// VALIDATE of the NOT NULL CHECK: reads and writes continue.
fn validate_not_null_step(ctx: &Ctx, spec: &Spec) -> Step {
    let failure = "If it fails with \"check constraint ... is violated by some row\", a row still has NULL in the new column: the backfill missed it or the conversion returns NULL for it. Run the backfill again and look at that row.";
    let mut validate = validate_step(ctx, &spec.not_null_check, ctx.model.scan(), failure);
    validate.title =
        "Prove the new column holds no NULL (VALIDATE: reads and writes continue)".to_string();
    validate
}

fn not_null_proof_check(ctx: &Ctx, spec: &Spec) -> Check {
    if spec.is_pk {
        return state_check(ctx, &spec.not_null_check, "c", true);
    }
    check(
        "The NOT NULL proof is validated, or was not needed (the old column is nullable)",
        format!(
            "SELECT NOT coalesce((SELECT attnotnull FROM pg_attribute WHERE {}), false) OR EXISTS (SELECT 1 FROM pg_constraint WHERE {} AND convalidated) AS ready;",
            attr(ctx, spec.column),
            by_name(ctx, &spec.not_null_check)
        ),
        "t",
        Expected::row(&["t"]),
    )
}

/// Undoing the indexes phase: the unique index, the index copies, the CHECK back to NOT VALID.
fn indexes_rollback(ctx: &Ctx, spec: &Spec) -> Vec<RollbackStep> {
    let mut r = Vec::new();
    if spec.is_pk {
        r.push(ctx.rollback_ddl(format!("DROP INDEX CONCURRENTLY IF EXISTS {};", ctx.sibling(&spec.pk_index)), Some("Outside a transaction; SHARE UPDATE EXCLUSIVE: traffic continues. The validated CHECK goes with the expand rollback.")));
    }
    r.push(ctx.rollback_ddl(
        quote::do_block(&format!(
            "DECLARE\n  lockstep_idx record;\nBEGIN\n  FOR lockstep_idx IN SELECT indexrelid::regclass AS idx FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = {} AND c.relname LIKE 'lockstep\\_idx\\_%' LOOP\n    EXECUTE format('DROP INDEX %s', lockstep_idx.idx);\n  END LOOP;\nEND",
            ctx.regclass()
        )),
        Some("Drops the index copies (lockstep_idx_*). Each DROP INDEX takes ACCESS EXCLUSIVE on the table for a moment (a DO block cannot drop CONCURRENTLY). Dropping the new column (expand rollback) would drop them too."),
    ));
    r.push(ctx.rollback_ddl(
        quote::do_block(&format!(
            "BEGIN\n  IF EXISTS (SELECT 1 FROM pg_constraint WHERE {by} AND convalidated) THEN\n    ALTER TABLE {table} DROP CONSTRAINT {check};\n    ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({new_col} IS NOT NULL) NOT VALID;\n  END IF;\nEND",
            by = by_name(ctx, &spec.not_null_check),
            table = ctx.table(),
            check = ident(&spec.not_null_check),
            new_col = ident(&spec.new_col),
        )),
        Some("A validated CHECK cannot be marked NOT VALID again: it is dropped and re-added NOT VALID (catalog-only, ACCESS EXCLUSIVE for a moment), as it was before this phase."),
    ));
    r
}

fn indexes_phase(ctx: &Ctx, spec: &Spec) -> Phase {
    let col = ident(spec.column);
    let new_col = ident(&spec.new_col);
    let mut index_steps = Vec::new();
    let mut index_checks = Vec::new();
    if spec.is_pk {
        let (steps, valid) = pk_index_steps(ctx, spec);
        index_steps.extend(steps);
        index_checks.push(valid);
    }
    index_steps.push(index_copy_steps(ctx, spec));
    index_checks.push(check(
        "Every index on the old column (apart from the primary key's) has a valid copy on the new one",
        format!(
            "SELECT count(*) FROM pg_index i WHERE {} AND NOT EXISTS (SELECT 1 FROM pg_index c WHERE c.indexrelid = {} AND c.indisvalid);",
            originals_filter(ctx, spec, "i"),
            copy_regclass("i.indexrelid")
        ),
        "0",
        Expected::row(&["0"]),
    ));
    index_steps.push(validate_not_null_step(ctx, spec));
    index_checks.push(not_null_proof_check(ctx, spec));
    Phase {
        name: if spec.is_pk {
            "unique index and NOT NULL proof"
        } else {
            "index copies and NOT NULL proof"
        }
        .to_string(),
        purpose: if spec.is_pk {
            format!("Build the unique index the new primary key will use, and prove {new_col} holds no NULL, while reads and writes continue.")
        } else {
            format!("Copy every index of {col} onto {new_col} and prove {new_col} holds no NULL when {col} is NOT NULL, while reads and writes continue.")
        },
        app_change: None,
        steps: index_steps,
        rollback: indexes_rollback(ctx, spec),
        irreversible: None,
        checks: index_checks,
    }
}

fn copy_regclass(oid_sql: &str) -> String {
    format!("to_regclass(format('%s.%I', (SELECT relnamespace::regnamespace FROM pg_class WHERE oid = {oid_sql}), 'lockstep_idx_' || {oid_sql}))")
}

/// Copies of the column's indexes on the new column, named `lockstep_idx_<oid of the original>`
/// (short, unique, ASCII: the swap renames each copy to its original's name).
fn index_copy_steps(ctx: &Ctx, spec: &Spec) -> Step {
    let originals = originals_filter(ctx, spec, "i");
    let new_name = literal(&spec.new_col);
    let old_name = literal(spec.column);
    let old_attnum = format!(
        "(SELECT attnum FROM pg_attribute WHERE {})",
        attr(ctx, spec.column)
    );
    let copy = copy_regclass("i.indexrelid");
    let sql = format!(
        "SELECT lockstep_statement FROM (\n  SELECT i.indexrelid AS lockstep_index, 1 AS lockstep_order, format('DROP INDEX CONCURRENTLY IF EXISTS %s;', {copy}) AS lockstep_statement\n  FROM pg_index i WHERE {originals} AND EXISTS (SELECT 1 FROM pg_index c WHERE c.indexrelid = {copy} AND NOT c.indisvalid)\n  UNION ALL\n  SELECT i.indexrelid, 2, format('CREATE %sINDEX CONCURRENTLY IF NOT EXISTS %I ON %s USING %s (%s)%s;',\n    CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,\n    'lockstep_idx_' || i.indexrelid,\n    i.indrelid::regclass,\n    (SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.oid = i.indexrelid),\n    (SELECT string_agg(CASE WHEN k.attnum = {old_attnum} THEN quote_ident({new_name}) ELSE quote_ident(a.attname) END, ', ' ORDER BY k.pos)\n       FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum),\n    CASE WHEN i.indpred IS NULL THEN '' WHEN quote_ident({old_name}) = {old_name}\n      THEN ' WHERE ' || regexp_replace(pg_get_expr(i.indpred, i.indrelid), '\\m' || {old_name} || '\\M', quote_ident({new_name}), 'g')\n      ELSE ' WHERE ' || replace(pg_get_expr(i.indpred, i.indrelid), quote_ident({old_name}), quote_ident({new_name})) END)\n  FROM pg_index i WHERE {originals} AND NOT EXISTS (SELECT 1 FROM pg_index c WHERE c.indexrelid = {copy} AND c.indisvalid)\n) AS lockstep_copies ORDER BY lockstep_index, lockstep_order;"
    );
    let mut step = ctx.query(
        "Generate the CREATE INDEX CONCURRENTLY statements that copy the old column's indexes, then run each one",
        vec![sql],
    );
    step.in_transaction = false;
    step.run = crate::model::Run::EachRow;
    // The statements it generates are CREATE INDEX CONCURRENTLY: the step as run takes their lock.
    step.lock = Statement::CreateIndexConcurrently.lock();
    step.lock_timeout_ms = Some(super::NON_BLOCKING_LOCK_TIMEOUT_MS);
    step.estimate = ctx.model.concurrent_index_build();
    step.notes.push("CREATE INDEX CONCURRENTLY cannot run inside a function or DO block, and the indexes to copy are only known to the catalog, so this query writes the statements: run each row it returns on its own, outside a transaction (the psql script ends the query with \\gexec, which runs them all). It returns nothing when the old column has no index, or when every copy exists and is valid.".to_string());
    step.notes.push("Each copy is named lockstep_idx_<oid of the original>, with the same method, the same other columns and the partial predicate with the old column renamed; operator classes are the new type's defaults. Read the statements before running them: an operator class or a predicate written for the old type may not fit the new one. Indexes on expressions and constraint indexes are not copied (preflight lists them). The swap renames each copy to its original's name.".to_string());
    step.notes.push(format!("Each generated build takes SHARE UPDATE EXCLUSIVE: reads and writes continue; it waits for older transactions. About {} per index. A failed build leaves an INVALID copy: run this query again, it then starts with a DROP INDEX CONCURRENTLY of that copy.", ctx.model.concurrent_index_build().describe()));
    step.retry =
        "Read-only: run it again at any time; it only returns what is still missing.".to_string();
    step
}

/// `pg_index` rows (alias `i`) of the indexes the plan copies: on the old column, plain columns
/// only, not backing a constraint.
fn originals_filter(ctx: &Ctx, spec: &Spec, i: &str) -> String {
    format!(
        "{i}.indrelid = {} AND (SELECT attnum FROM pg_attribute WHERE {}) = ANY ({i}.indkey::int2[]) AND {i}.indexprs IS NULL AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = {i}.indexrelid)",
        ctx.regclass(),
        attr(ctx, spec.column)
    )
}

/// In the swap: refuse to start while an index of the old column has no valid copy.
fn copies_guard(ctx: &Ctx, spec: &Spec) -> String {
    format!(
        "  IF EXISTS (SELECT 1 FROM pg_index i WHERE {} AND NOT EXISTS (SELECT 1 FROM pg_index c WHERE c.indexrelid = {} AND c.indisvalid)) THEN\n    RAISE EXCEPTION 'lockstep: an index of the old column has no valid copy on the new column: run the statements the index-copy step generates first';\n  END IF;\n",
        originals_filter(ctx, spec, "i"),
        copy_regclass("i.indexrelid")
    )
}

/// PK only: copy each foreign key that references the column onto the new column, NOT VALID,
/// then validate the copies.
fn foreign_keys_phase(ctx: &Ctx, spec: &Spec) -> Phase {
    let reg = ctx.regclass();
    let table = ctx.table();
    let old_attnum = format!(
        "(SELECT attnum FROM pg_attribute WHERE {})",
        attr(ctx, spec.column)
    );
    let originals = format!(
        "SELECT oid, conrelid::regclass AS child, conname, conkey, confupdtype, confdeltype, confmatchtype, condeferrable, condeferred FROM pg_constraint WHERE confrelid = {reg} AND contype = 'f' AND confkey = ARRAY[{old_attnum}]::int2[]"
    );
    let add_body = format!(
        "DECLARE\n  lockstep_fk record;\n  lockstep_action text[] := ARRAY['a', 'NO ACTION', 'r', 'RESTRICT', 'c', 'CASCADE', 'n', 'SET NULL', 'd', 'SET DEFAULT'];\nBEGIN\n  FOR lockstep_fk IN {originals} LOOP\n    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = lockstep_fk.child AND conname = 'lockstep_fk_' || lockstep_fk.oid) THEN\n      EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I FOREIGN KEY (%s) REFERENCES {} ({}) MATCH %s ON UPDATE %s ON DELETE %s%s NOT VALID',\n        lockstep_fk.child, 'lockstep_fk_' || lockstep_fk.oid,\n        (SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = lockstep_fk.child AND attnum = lockstep_fk.conkey[1]),\n        CASE lockstep_fk.confmatchtype WHEN 'f' THEN 'FULL' ELSE 'SIMPLE' END,\n        lockstep_action[array_position(lockstep_action, lockstep_fk.confupdtype::text) + 1],\n        lockstep_action[array_position(lockstep_action, lockstep_fk.confdeltype::text) + 1],\n        CASE WHEN lockstep_fk.condeferrable THEN ' DEFERRABLE INITIALLY ' || CASE WHEN lockstep_fk.condeferred THEN 'DEFERRED' ELSE 'IMMEDIATE' END ELSE '' END);\n    END IF;\n  END LOOP;\nEND",
        table.replace('%', "%%").replace('\'', "''"),
        ident(&spec.new_col).replace('%', "%%").replace('\'', "''")
    );
    let mut add = ctx.brief(
        "Copy each referencing foreign key onto the new column, NOT VALID",
        vec![quote::do_block(&add_body)],
        Statement::AddForeignKeyOrTrigger,
    );
    add.lock = facts::foreign_key_referenced_lock(Statement::AddForeignKeyOrTrigger);
    add.notes.push(format!("For every foreign key of another table that references {}, adds `lockstep_fk_<oid>` with the same column, actions, MATCH and deferrability, referencing the new column (its unique index already exists). NOT VALID: catalog-only. Each ADD takes SHARE ROW EXCLUSIVE on the referencing table and on this one: writes to both wait for a moment.", ident(spec.column)));
    add.notes
        .push("With no referencing foreign key the block does nothing.".to_string());
    add.retry = format!("{RETRY_LOCK_TIMEOUT} Copies that exist already are skipped.");

    let validate_body = format!(
        "DECLARE\n  lockstep_fk record;\nBEGIN\n  FOR lockstep_fk IN SELECT conrelid::regclass AS child, conname FROM pg_constraint WHERE confrelid = {reg} AND contype = 'f' AND conname LIKE 'lockstep\\_fk\\_%' AND NOT convalidated LOOP\n    EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', lockstep_fk.child, lockstep_fk.conname);{}\n  END LOOP;\nEND",
        if facts::DO_BLOCK_COMMIT.holds(ctx.version()) { "\n    COMMIT;" } else { "" }
    );
    let mut validate = ctx.ddl(
        "Validate the foreign-key copies (reads and writes continue)",
        vec![quote::do_block(&validate_body)],
        Statement::ValidateConstraint,
        ctx.model.scan(),
    );
    validate.lock = facts::foreign_key_referenced_lock(Statement::ValidateConstraint);
    validate.blocks = crate::model::Blocks::Nothing;
    validate.in_transaction = false;
    validate.statement_timeout_ms = Some(0);
    validate.notes.push("Each VALIDATE reads its referencing table under SHARE UPDATE EXCLUSIVE and takes ROW SHARE on this table: reads and writes continue on both. The duration depends on the referencing tables' sizes (the estimate assumes about this table's size).".to_string());
    if facts::DO_BLOCK_COMMIT.holds(ctx.version()) {
        validate.notes.push("The block COMMITs after each constraint (11+), so each referencing table is released as soon as its check is done.".to_string());
    }
    validate.retry = "If it fails with \"insert or update on table ... violates foreign key constraint\", a referencing row points at a key the new column lacks: the backfill is incomplete; run it again, then this. Otherwise run it again: only copies not yet validated are checked.".to_string();

    Phase {
        name: "foreign keys".to_string(),
        purpose: format!("Give every foreign key that references {} a validated twin on {}, so the swap only has to drop the originals.", ident(spec.column), ident(&spec.new_col)),
        app_change: None,
        steps: vec![add, validate],
        rollback: vec![ctx.rollback_ddl(
            quote::do_block(&format!(
                "DECLARE\n  lockstep_fk record;\nBEGIN\n  FOR lockstep_fk IN SELECT conrelid::regclass AS child, conname FROM pg_constraint WHERE confrelid = {reg} AND contype = 'f' AND conname LIKE 'lockstep\\_fk\\_%' LOOP\n    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', lockstep_fk.child, lockstep_fk.conname);\n  END LOOP;\nEND"
            )),
            Some("Drops the foreign-key copies (lockstep_fk_*); each DROP takes ACCESS EXCLUSIVE on its referencing table and on this one for a moment."),
        )],
        irreversible: None,
        checks: vec![
            check(
                "Every foreign key referencing the column has a copy on the new column",
                format!("SELECT count(*) FROM ({originals}) AS o WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = o.child AND c.conname = 'lockstep_fk_' || o.oid);"),
                "0",
                Expected::row(&["0"]),
            ),
            check(
                "Every copy is validated",
                format!("SELECT count(*) FROM pg_constraint WHERE confrelid = {reg} AND contype = 'f' AND conname LIKE 'lockstep\\_fk\\_%' AND NOT convalidated;"),
                "0",
                Expected::row(&["0"]),
            ),
        ],
    }
}

/// Moves the old column's default to the new column (a sequence's nextval included).
/// Moves the old column's default to the new column (a sequence's nextval included). A default
/// of the old type that the new column does not accept as it is (`'1'::character varying` for an
/// integer) is cast explicitly to the new type.
fn move_default_sql(ctx: &Ctx, spec: &Spec, indent: &str) -> String {
    let set = format!(
        "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT",
        esc_fmt(&ctx.table()),
        esc_fmt(&ident(&spec.new_col))
    );
    format!(
        "{i}SELECT pg_get_expr(adbin, adrelid) INTO lockstep_default FROM pg_attrdef WHERE adrelid = {} AND adnum = (SELECT attnum FROM pg_attribute WHERE {});\n{i}IF lockstep_default IS NOT NULL THEN\n{i}  BEGIN\n{i}    EXECUTE format('{set} %s', lockstep_default);\n{i}  EXCEPTION WHEN datatype_mismatch THEN\n{i}    EXECUTE format('{set} (%s)::{}', lockstep_default);\n{i}  END;\n{i}  ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT;\n{i}END IF;\n",
        ctx.regclass(),
        attr(ctx, spec.column),
        esc_fmt(spec.to_raw),
        ctx.table(),
        ident(spec.column),
        i = indent
    )
}

/// In the swap: each index copy (`lockstep_idx_<oid>`) takes its original's name; the original,
/// renamed `lockstep_old_<oid>`, goes with the old column in the contract phase.
fn index_rename_loop(ctx: &Ctx, spec: &Spec) -> String {
    let reg = ctx.regclass();
    format!(
        "  FOR lockstep_idx IN SELECT c.oid, c.relname, c.relnamespace::regnamespace AS nsp FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = {reg} AND (SELECT attnum FROM pg_attribute WHERE {}) = ANY (i.indkey::int2[]) AND {} IS NOT NULL LOOP\n    EXECUTE format('ALTER INDEX %s.%I RENAME TO %I', lockstep_idx.nsp, lockstep_idx.relname, 'lockstep_old_' || lockstep_idx.oid);\n    EXECUTE format('ALTER INDEX %s.%I RENAME TO %I', lockstep_idx.nsp, 'lockstep_idx_' || lockstep_idx.oid, lockstep_idx.relname);\n  END LOOP;\n",
        attr(ctx, spec.column),
        copy_regclass("c.oid")
    )
}

/// The swap rollback's counterpart of [`index_rename_loop`], run after the column names are
/// back: each original (`lockstep_old_<oid>`, on the old column again) takes back its name
/// from the copy that matches it with the new column in place of the old one, and the copy
/// becomes `lockstep_idx_<oid>` again, so a later swap finds it. Key lists are compared as
/// text: `int2vector` casts to an array with lower bound 0, which never equals an `array_agg`.
fn index_rename_back(ctx: &Ctx, spec: &Spec, new_col: &str) -> String {
    let reg = ctx.regclass();
    let body = format!(
        "DECLARE\n  lockstep_idx record;\nBEGIN\n  FOR lockstep_idx IN SELECT o.oid AS old_oid, o.relname AS old_name, n.relname AS copy_name, o.relnamespace::regnamespace AS nsp\n    FROM pg_index oi JOIN pg_class o ON o.oid = oi.indexrelid\n    JOIN pg_index ni ON ni.indrelid = oi.indrelid AND ni.indexrelid <> oi.indexrelid\n    JOIN pg_class n ON n.oid = ni.indexrelid\n    WHERE oi.indrelid = {reg} AND o.relname = 'lockstep_old_' || o.oid\n      AND n.relam = o.relam AND ni.indisunique = oi.indisunique AND (ni.indpred IS NULL) = (oi.indpred IS NULL)\n      AND ni.indkey::text = (SELECT string_agg(CASE WHEN k.attnum = (SELECT attnum FROM pg_attribute WHERE {old}) THEN (SELECT attnum FROM pg_attribute WHERE {new}) ELSE k.attnum END::text, ' ' ORDER BY k.pos) FROM unnest(oi.indkey::int2[]) WITH ORDINALITY AS k(attnum, pos))\n  LOOP\n    EXECUTE format('ALTER INDEX %s.%I RENAME TO %I', lockstep_idx.nsp, lockstep_idx.copy_name, 'lockstep_idx_' || lockstep_idx.old_oid);\n    EXECUTE format('ALTER INDEX %s.%I RENAME TO %I', lockstep_idx.nsp, lockstep_idx.old_name, lockstep_idx.copy_name);\n  END LOOP;\nEND",
        old = attr(ctx, spec.column),
        new = attr(ctx, new_col),
    );
    quote::do_block(&body)
}

/// The swap rollback's NOT NULL move, run after the names are back: when the new column is
/// NOT NULL (the swap moved it there), the old one gets it back and the new one gets its
/// validated CHECK again, which is the state before the swap. Before 12 the swap kept the
/// CHECK (renamed `<table>_<col>_not_null`) instead of SET NOT NULL: it gets its name back.
fn not_null_back(ctx: &Ctx, spec: &Spec) -> String {
    let table = ctx.table();
    quote::do_block(&format!(
        "BEGIN\n  IF (SELECT attnotnull FROM pg_attribute WHERE {new}) THEN\n    ALTER TABLE {table} ALTER COLUMN {new_col} DROP NOT NULL;\n    ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL;\n    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE {by}) THEN\n      ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({new_col} IS NOT NULL);\n    END IF;\n  ELSIF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {reg} AND conname = {kept} AND contype = 'c') THEN\n    ALTER TABLE {table} RENAME CONSTRAINT {kept_ident} TO {check};\n    ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL;\n  END IF;\nEND",
        reg = ctx.regclass(),
        kept = literal(&derived_name(&[&ctx.req.table, spec.column, "not_null"])),
        kept_ident = ident(&derived_name(&[&ctx.req.table, spec.column, "not_null"])),
        new = attr(ctx, &spec.new_col),
        new_col = ident(&spec.new_col),
        col = ident(spec.column),
        by = by_name(ctx, &spec.not_null_check),
        check = ident(&spec.not_null_check),
    ))
}

/// The swap: one transaction under ACCESS EXCLUSIVE that gives the column its new type by name.
fn swap_phase(ctx: &Ctx, spec: &Spec) -> Phase {
    let col = ident(spec.column);
    let new_col = ident(&spec.new_col);
    let old_col = ident(&spec.old_col);
    let scan_in_swap = swap_scans(ctx, spec);
    let (rollback_steps, irreversible) = swap_rollback(ctx, spec);
    Phase {
        name: "swap".to_string(),
        purpose: format!("Give {col} its new type by swapping the columns' names: one transaction under ACCESS EXCLUSIVE{}.", if scan_in_swap { ", which on this version includes a scan" } else { ", catalog-only" }),
        app_change: Some(format!(
            "Deploy the application version that reads and writes {col} as {} (values of both types work until this phase: the trigger converts). It must not name {new_col} or {old_col}, and must not depend on the column order of SELECT *.",
            spec.to_raw
        )),
        steps: vec![swap_step(ctx, spec)],
        rollback: rollback_steps,
        irreversible,
        checks: swap_checks(ctx, spec),
    }
}

/// Before 12, SET NOT NULL of the new primary key scans the table under the swap's lock.
fn swap_scans(ctx: &Ctx, spec: &Spec) -> bool {
    spec.is_pk && !facts::SET_NOT_NULL_USES_CHECK.holds(ctx.version())
}

/// The swap's statements: LOCK, the swap itself, DROP TRIGGER.
fn swap_sql(ctx: &Ctx, spec: &Spec) -> Vec<String> {
    let table = ctx.table();
    let uses_check = facts::SET_NOT_NULL_USES_CHECK.holds(ctx.version());
    let mut sql = vec![format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;")];
    if spec.is_pk {
        sql.extend(pk_swap_sql(ctx, spec, uses_check));
    } else {
        sql.push(quote::do_block(&plain_swap_block(ctx, spec, uses_check)));
    }
    sql.push(format!(
        "DROP TRIGGER IF EXISTS {} ON {table};",
        ident(&spec.trigger)
    ));
    sql
}

/// The primary key swap: the CHECK guard (12+), SET NOT NULL, the DO block, the CHECK's removal.
fn pk_swap_sql(ctx: &Ctx, spec: &Spec, uses_check: bool) -> Vec<String> {
    let table = ctx.table();
    let mut sql = Vec::new();
    if uses_check {
        sql.push(quote::do_block(&format!(
            "BEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE {} AND convalidated) THEN\n    RAISE EXCEPTION 'lockstep: CHECK {} is not validated yet: run the previous phases first (SET NOT NULL would scan the table under ACCESS EXCLUSIVE)';\n  END IF;\nEND",
            by_name(ctx, &spec.not_null_check),
            esc_fmt(&spec.not_null_check)
        )));
    }
    sql.push(format!(
        "ALTER TABLE {table} ALTER COLUMN {} SET NOT NULL;",
        ident(&spec.new_col)
    ));
    sql.push(quote::do_block(&pk_swap_body(ctx, spec)));
    sql.push(format!(
        "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {};",
        ident(&spec.not_null_check)
    ));
    sql
}

/// The primary key swap's DO block: foreign keys, primary key, sequence or identity, indexes,
/// names.
fn pk_swap_body(ctx: &Ctx, spec: &Spec) -> String {
    let table = ctx.table();
    let reg = ctx.regclass();
    let col = ident(spec.column);
    let new_col = ident(&spec.new_col);
    let old_col = ident(&spec.old_col);
    let esc = esc_fmt;
    let mut body = String::from("DECLARE\n  lockstep_nn name;\n  lockstep_idx record;\n  lockstep_pk name;\n  lockstep_fk record;\n  lockstep_identity \"char\";\n  lockstep_next bigint;\n  lockstep_default text;\n  lockstep_seq_name name;\n");
    body.push_str(&format!(
        "  lockstep_seq text := pg_get_serial_sequence({}, {});\nBEGIN\n",
        literal(&table),
        literal(spec.column)
    ));
    body.push_str(&copies_guard(ctx, spec));
    body.push_str(&format!(
        "  SELECT conname INTO lockstep_pk FROM pg_constraint WHERE conrelid = {reg} AND contype = 'p';\n  FOR lockstep_fk IN SELECT oid, conrelid::regclass AS child, conname FROM pg_constraint WHERE confrelid = {reg} AND contype = 'f' AND confkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE {})]::int2[] LOOP\n    IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = lockstep_fk.child AND conname = 'lockstep_fk_' || lockstep_fk.oid AND convalidated) THEN\n      RAISE EXCEPTION 'lockstep: foreign key % on % has no validated copy on the new column: run the foreign-key phase first', lockstep_fk.conname, lockstep_fk.child;\n    END IF;\n    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', lockstep_fk.child, lockstep_fk.conname);\n    EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', lockstep_fk.child, 'lockstep_fk_' || lockstep_fk.oid, lockstep_fk.conname);\n  END LOOP;\n  EXECUTE format('ALTER TABLE {} DROP CONSTRAINT %I', lockstep_pk);\n",
        attr(ctx, spec.column),
        esc(&table)
    ));
    body.push_str(&format!(
        "  SELECT attidentity INTO lockstep_identity FROM pg_attribute WHERE {};\n  IF lockstep_identity IN ('a', 'd') THEN\n    lockstep_next := nextval(lockstep_seq);\n    SELECT relname INTO lockstep_seq_name FROM pg_class WHERE oid = lockstep_seq::regclass;\n    ALTER TABLE {table} ALTER COLUMN {col} DROP IDENTITY;\n    EXECUTE format('ALTER TABLE {} ALTER COLUMN {} ADD GENERATED %s AS IDENTITY (START WITH %s)', CASE lockstep_identity WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END, lockstep_next);\n    EXECUTE format('ALTER SEQUENCE %s RENAME TO %I', pg_get_serial_sequence({}, {}), lockstep_seq_name);\n  ELSE\n",
        attr(ctx, spec.column),
        esc(&table),
        esc(&new_col),
        literal(&table),
        literal(&spec.new_col)
    ));
    body.push_str(&move_default_sql(ctx, spec, "    "));
    body.push_str(&format!(
        "    IF lockstep_seq IS NOT NULL THEN\n      EXECUTE format('ALTER SEQUENCE %s OWNED BY {}.{}', lockstep_seq);\n{}    END IF;\n  END IF;\n",
        esc(&table),
        esc(&new_col),
        if spec.widens_sequence() { "      EXECUTE format('ALTER SEQUENCE %s AS bigint', lockstep_seq);\n" } else { "" }
    ));
    body.push_str(&index_rename_loop(ctx, spec));
    body.push_str(&format!(
        "  ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL;\n  ALTER TABLE {table} RENAME COLUMN {col} TO {old_col};\n  ALTER TABLE {table} RENAME COLUMN {new_col} TO {col};\n  EXECUTE format('ALTER TABLE {} ADD CONSTRAINT %I PRIMARY KEY USING INDEX {}', lockstep_pk);\n",
        esc(&table),
        esc(&ident(&spec.pk_index))
    ));
    body.push_str(&not_null_names(ctx, spec, false));
    body.push_str("END");
    body
}

/// A plain column's swap DO block: NOT NULL by the CHECK (12+) or the CHECK kept (before),
/// default, indexes, names.
fn plain_swap_block(ctx: &Ctx, spec: &Spec, uses_check: bool) -> String {
    let table = ctx.table();
    let col = ident(spec.column);
    let new_col = ident(&spec.new_col);
    let old_col = ident(&spec.old_col);
    let mut body = String::from(
        "DECLARE\n  lockstep_nn name;\n  lockstep_default text;\n  lockstep_idx record;\nBEGIN\n",
    );
    body.push_str(&copies_guard(ctx, spec));
    if uses_check {
        body.push_str(&format!(
            "  IF EXISTS (SELECT 1 FROM pg_constraint WHERE {} AND convalidated) THEN\n    ALTER TABLE {table} ALTER COLUMN {new_col} SET NOT NULL;\n    ALTER TABLE {table} DROP CONSTRAINT {};\n  ELSIF EXISTS (SELECT 1 FROM pg_constraint WHERE {}) THEN\n    RAISE EXCEPTION 'lockstep: CHECK {} is not validated yet: run the previous phases first';\n  END IF;\n",
            by_name(ctx, &spec.not_null_check),
            ident(&spec.not_null_check),
            by_name(ctx, &spec.not_null_check),
            esc_fmt(&spec.not_null_check)
        ));
    } else {
        body.push_str(&format!(
            "  IF EXISTS (SELECT 1 FROM pg_constraint WHERE {} AND NOT convalidated) THEN\n    RAISE EXCEPTION 'lockstep: CHECK {} is not validated yet: run the previous phases first';\n  END IF;\n",
            by_name(ctx, &spec.not_null_check),
            esc_fmt(&spec.not_null_check)
        ));
    }
    body.push_str(&move_default_sql(ctx, spec, "  "));
    body.push_str(&index_rename_loop(ctx, spec));
    body.push_str(&format!(
        "  ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL;\n  ALTER TABLE {table} RENAME COLUMN {col} TO {old_col};\n  ALTER TABLE {table} RENAME COLUMN {new_col} TO {col};\n"
    ));
    body.push_str(&not_null_names(ctx, spec, !uses_check));
    body.push_str("END");
    body
}

/// The swap step, guarded by the new column's existence, and what it does on this version.
fn swap_step(ctx: &Ctx, spec: &Spec) -> Step {
    let v = ctx.version();
    let old_col = ident(&spec.old_col);
    let uses_check = facts::SET_NOT_NULL_USES_CHECK.holds(v);
    let scan_in_swap = swap_scans(ctx, spec);
    let duration = if scan_in_swap {
        ctx.model.scan()
    } else {
        CATALOG_ONLY
    };
    let mut step = ctx.ddl(
        "Swap the columns in one short transaction",
        swap_sql(ctx, spec),
        Statement::AlterTableAccessExclusive,
        duration,
    );
    step.scans_table = scan_in_swap;
    step.run_only_if(
        "lockstep_swap_pending",
        &format!(
            "EXISTS (SELECT 1 FROM pg_attribute WHERE {})",
            attr(ctx, &spec.new_col)
        ),
    );
    if spec.is_pk {
        if uses_check {
            step.notes.push("SET NOT NULL finds the validated CHECK and skips its scan (PostgreSQL 12+); ADD PRIMARY KEY USING INDEX then needs no scan and no index build: the whole transaction is catalog-only. The first DO block refuses to start if the CHECK is not validated.".to_string());
        } else {
            step.notes.push(format!("PostgreSQL {v}: SET NOT NULL reads every row under ACCESS EXCLUSIVE even though the validated CHECK proves it (the scan is skipped only from 12), and ADD PRIMARY KEY needs the column NOT NULL: this transaction blocks reads and writes for about one sequential scan (estimated above). There is no way around it on this version; on 12+ the swap is catalog-only."));
        }
        step.notes.push("Foreign keys: each original is dropped (ACCESS EXCLUSIVE on its table and this one, for a moment) and its validated copy takes its name. The old primary key is dropped and re-added under the same name USING the new unique index.".to_string());
        step.notes.push(format!("Sequence/identity: a serial sequence becomes OWNED BY the new column{} and its nextval default moves there (dropping the old column later would otherwise drop the sequence); an identity is dropped from the old column and re-created on the new one, starting at the old sequence's next value (its CACHE/INCREMENT options are not carried over: re-apply them with ALTER TABLE ... ALTER COLUMN ... SET if you changed them).", if spec.widens_sequence() { ", AS bigint (its limit was 2147483647)" } else { "" }));
    } else if uses_check {
        step.notes.push("When the old column was NOT NULL, SET NOT NULL finds the validated CHECK and skips its scan (12+), and the CHECK is dropped.".to_string());
    } else {
        step.notes.push(format!("PostgreSQL {v}: SET NOT NULL would scan the table under this lock (the CHECK shortcut arrived in 12), so when the old column was NOT NULL the new one keeps the validated CHECK as its NOT NULL guarantee, renamed {}: no row holds NULL and every write of NULL fails, but pg_attribute.attnotnull stays false. After an upgrade to 12+, SET NOT NULL is catalog-only thanks to the CHECK.", ident(&derived_name(&[&ctx.req.table, spec.column, "not_null"]))));
    }
    step.notes.push(format!("The old column becomes {old_col}: nullable, without default, no longer written by new rows. Its values stay until the contract phase drops it."));
    step.notes.push("`SELECT *` now returns the new column last and the old one in its place: code that reads columns by position must not rely on the order. Prepared statements returning the column may fail once with \"cached plan must not change result type\" and re-prepare.".to_string());
    step.retry = format!("{RETRY_LOCK_TIMEOUT} All-or-nothing: after a failure nothing changed. The guard skips the step once the swap is done.");
    step
}

fn swap_checks(ctx: &Ctx, spec: &Spec) -> Vec<Check> {
    let table = ctx.table();
    let reg = ctx.regclass();
    let uses_check = facts::SET_NOT_NULL_USES_CHECK.holds(ctx.version());
    let mut checks = vec![
        type_check(
            ctx,
            spec.column,
            &spec.to,
            spec.to_raw,
            "now (the new column under the old name)",
        ),
        column_exists_check(ctx, &spec.old_col, true),
        check(
            "The sync trigger is gone",
            format!(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = {reg} AND tgname = {};",
                literal(&spec.trigger)
            ),
            "0",
            Expected::row(&["0"]),
        ),
    ];
    if spec.is_pk {
        checks.push(check(
            "The primary key is on the new column",
            format!("SELECT a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] WHERE c.conrelid = {reg} AND c.contype = 'p';"),
            spec.column,
            Expected::row(&[spec.column]),
        ));
        checks.push(check(
            "No foreign key still references the old column",
            format!("SELECT count(*) FROM pg_constraint WHERE confrelid = {reg} AND contype = 'f' AND confkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE {})]::int2[];", attr(ctx, &spec.old_col)),
            "0",
            Expected::row(&["0"]),
        ));
        if spec.widens_sequence() {
            checks.push(check(
                "The column's sequence (if any) is bigint",
                format!("SELECT NOT EXISTS (SELECT 1 FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence({}, {})::regclass AND seqtypid <> 'bigint'::regtype) AS sequence_ok;", literal(&table), literal(spec.column)),
                "t",
                Expected::row(&["t"]),
            ));
        }
    } else if uses_check {
        checks.push(check(
            "The temporary NOT NULL proof is gone (SET NOT NULL took its place, when the old column was NOT NULL)",
            format!("SELECT count(*) FROM pg_constraint WHERE {};", by_name(ctx, &spec.not_null_check)),
            "0",
            Expected::row(&["0"]),
        ));
    }
    checks
}

/// Going back after the swap: by hand for a primary key, two statements for a plain column.
fn swap_rollback(ctx: &Ctx, spec: &Spec) -> (Vec<RollbackStep>, Option<String>) {
    let table = ctx.table();
    let col = ident(spec.column);
    let new_col = ident(&spec.new_col);
    let old_col = ident(&spec.old_col);
    if spec.is_pk {
        return (Vec::new(), Some(format!("the old primary key, its index and the foreign keys on {old_col} are gone: going back is the same migration in the other direction (a unique index CONCURRENTLY on {old_col} after refilling it, foreign-key copies, another swap), and ids above the old type's limit could not go back at all. Until the contract phase the old values are still in {old_col}.")));
    }
    let from_value = format!("{col}::{}", spec.from_raw);
    (
        vec![
            rollback(
                format!("UPDATE {table} SET {old_col} = {from_value} WHERE {old_col} IS DISTINCT FROM {from_value};"),
                Some("First bring the old column up to date with the writes made since the swap (here as one statement: on a large table run it in keyset batches like the backfill). It fails for a value that does not fit the old type; convert such values by hand."),
            ),
            ctx.rollback_ddl(
                format!("BEGIN;\nLOCK TABLE {table} IN ACCESS EXCLUSIVE MODE;\nUPDATE {table} SET {old_col} = {from_value} WHERE {old_col} IS DISTINCT FROM {from_value};\nALTER TABLE {table} RENAME COLUMN {col} TO {new_col};\nALTER TABLE {table} RENAME COLUMN {old_col} TO {col};\n{}\n{}\n{}\nCOMMIT;", not_null_back(ctx, spec), index_rename_back(ctx, spec, &spec.new_col), trigger_sql_for(ctx, spec)),
                Some("Then, in one transaction under ACCESS EXCLUSIVE: catch up the rows written since the previous statement, swap the names back, move NOT NULL back to the old column (with the validated CHECK on the new one, as before the swap), give the indexes their names back and restart the sync trigger. When the old column was NOT NULL this scans the table up to three times under the lock (catch-up, SET NOT NULL, CHECK): it blocks reads and writes for that long. Defaults stay on the new column; move them back by hand if you keep the old type for long."),
            ),
        ],
        None,
    )
}

/// `'...'` text escaped for a `format()` pattern inside a string literal.
fn esc_fmt(s: &str) -> String {
    s.replace('%', "%%").replace('\'', "''")
}

/// The final name of the column's NOT NULL guarantee: `<table>_<column>_not_null`, as
/// PostgreSQL 18 names a column's NOT NULL constraint and add-not-null names its CHECK. On 18 the
/// constraint SET NOT NULL created carries the new column's name (`..._new_not_null`); on 10/11
/// (`keep_check`) the validated CHECK stays as the guarantee. Either is renamed; other versions
/// have neither, and the block does nothing.
fn not_null_names(ctx: &Ctx, spec: &Spec, keep_check: bool) -> String {
    let target = literal(&derived_name(&[&ctx.req.table, spec.column, "not_null"]));
    let reg = ctx.regclass();
    let mut s = format!(
        "  SELECT conname INTO lockstep_nn FROM pg_constraint WHERE conrelid = {reg} AND contype = 'n' AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE {})]::int2[];\n",
        attr(ctx, spec.column)
    );
    if keep_check {
        s.push_str(&format!(
            "  IF lockstep_nn IS NULL THEN\n    SELECT conname INTO lockstep_nn FROM pg_constraint WHERE {};\n  END IF;\n",
            by_name(ctx, &spec.not_null_check)
        ));
    }
    s.push_str(&format!(
        "  IF lockstep_nn IS NOT NULL AND lockstep_nn <> {target} AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {reg} AND conname = {target}) THEN\n    EXECUTE format('ALTER TABLE {} RENAME CONSTRAINT %I TO %I', lockstep_nn, {target});\n  END IF;\n",
        esc_fmt(&ctx.table())
    ));
    s
}

fn trigger_sql_for(ctx: &Ctx, spec: &Spec) -> String {
    format!(
        "CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW EXECUTE {} {}();",
        ident(&spec.trigger),
        ctx.table(),
        facts::trigger_execute_keyword(ctx.version()),
        ctx.sibling(&spec.function)
    )
}

fn contract_phase(ctx: &Ctx, spec: &Spec, pass: &KeysetPass) -> Phase {
    let table = ctx.table();
    let old_col = ident(&spec.old_col);
    let mut drop = ctx.brief(
        "Drop the old column (catalog-only)",
        vec![format!(
            "ALTER TABLE {table} DROP COLUMN IF EXISTS {old_col};"
        )],
        Statement::AlterTableAccessExclusive,
    );
    drop.notes.push("DROP COLUMN only marks the column dropped: no rewrite; its space is reused as rows are updated (or reclaimed by a later VACUUM FULL / pg_repack). Indexes still on the old column go with it.".to_string());
    drop.retry = format!("{RETRY_LOCK_TIMEOUT} IF EXISTS makes it a no-op once done.");
    let mut func = ctx.ddl(
        "Drop the sync function",
        vec![format!(
            "DROP FUNCTION IF EXISTS {}();",
            ctx.sibling(&spec.function)
        )],
        Statement::Dml,
        CATALOG_ONLY,
    );
    func.retry = "Safe to re-run (IF EXISTS).".to_string();
    let mut steps = vec![drop, func];
    steps.push(pass.cleanup(ctx));
    steps.push(analyze_step(ctx, spec.column));
    Phase {
        name: "contract".to_string(),
        purpose: format!("Remove what only the transition needed: the old column {old_col} and the sync function."),
        app_change: Some(format!("Every application version that could still read {old_col} is gone, and you no longer need the swap's way back (the old values are dropped here).")),
        steps,
        rollback: Vec::new(),
        irreversible: Some(format!("DROP COLUMN discards {old_col}'s values; the data lives on, converted, in {}.", ident(spec.column))),
        checks: vec![
            column_exists_check(ctx, &spec.old_col, false),
            type_check(ctx, spec.column, &spec.to, spec.to_raw, "now"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::super::constraint::tests::{markdown, params, step};
    use crate::estimate::CATALOG_ONLY;
    use crate::model::{Blocks, Lock, PgLock};
    use crate::postgres::shared::types::{self, AlterTypeEffect, ColumnType};
    use crate::request::params::Params;
    use crate::request::Version;

    fn ct(
        db: &str,
        rows: &str,
        size: &str,
        budget: &str,
        column: &str,
        from: &str,
        to: &str,
    ) -> Params {
        params("change-type", db, rows, size, budget)
            .with("column", column)
            .with("from-type", from)
            .with("to-type", to)
    }

    fn v(major: u32) -> Version {
        Version::new(major, None)
    }

    fn effect(major: u32, from: &str, to: &str) -> AlterTypeEffect {
        types::alter_type_effect(
            v(major),
            &types::parse_column_type(from).ty,
            &types::parse_column_type(to).ty,
        )
    }

    #[test]
    fn type_parsing() {
        use ColumnType as T;
        let p = |s| types::parse_column_type(s).ty;
        assert_eq!(p("character varying (64)"), T::Varchar(Some(64)));
        assert_eq!(p("VARCHAR"), T::Varchar(None));
        assert_eq!(p("numeric(10, 2)"), T::Numeric(Some((10, 2))));
        assert_eq!(p("decimal(10)"), T::Numeric(Some((10, 0))));
        assert_eq!(p("timestamp with time zone"), T::Timestamptz(None));
        assert_eq!(p("timestamp(3) without time zone"), T::Timestamp(Some(3)));
        assert_eq!(p("int4"), T::Integer);
        assert!(types::parse_column_type("serial").serial);
        assert_eq!(p("jsonb"), T::Other("jsonb".to_string()));
        assert_eq!(
            T::Timestamp(Some(3)).format_type().unwrap(),
            "timestamp(3) without time zone"
        );
        assert_eq!(
            T::Varchar(Some(64)).format_type().unwrap(),
            "character varying(64)"
        );
    }

    #[test]
    fn coercibility_rules_match_the_servers() {
        use AlterTypeEffect::*;
        for major in [10, 11, 12, 15, 18] {
            assert_eq!(effect(major, "varchar(10)", "varchar(20)"), CatalogOnly);
            assert_eq!(effect(major, "varchar(10)", "varchar(10)"), CatalogOnly);
            assert_eq!(effect(major, "varchar(10)", "text"), CatalogOnly);
            assert_eq!(effect(major, "varchar(10)", "varchar"), CatalogOnly);
            assert_eq!(effect(major, "text", "varchar"), CatalogOnly);
            assert_eq!(effect(major, "text", "varchar(20)"), Rewrite);
            assert_eq!(effect(major, "varchar(20)", "varchar(10)"), Rewrite);
            assert_eq!(effect(major, "numeric(10,2)", "numeric(12,2)"), CatalogOnly);
            assert_eq!(effect(major, "numeric(10,2)", "numeric"), CatalogOnly);
            assert_eq!(effect(major, "numeric(10)", "numeric(12,0)"), CatalogOnly);
            assert_eq!(effect(major, "numeric(10,2)", "numeric(12,3)"), Rewrite);
            assert_eq!(effect(major, "timestamp(3)", "timestamp(6)"), CatalogOnly);
            assert_eq!(effect(major, "timestamp(6)", "timestamp(3)"), Rewrite);
            assert_eq!(effect(major, "int", "bigint"), Rewrite);
            assert_eq!(effect(major, "smallint", "int"), Rewrite);
            assert_eq!(effect(major, "char(10)", "text"), Rewrite);
            assert_eq!(effect(major, "timestamp", "timestamptz(3)"), Rewrite);
        }
        assert_eq!(effect(10, "timestamp", "timestamptz"), Rewrite);
        assert_eq!(effect(11, "timestamp", "timestamptz"), Rewrite);
        assert_eq!(effect(12, "timestamp", "timestamptz"), IndexRebuildOnly);
        assert_eq!(effect(18, "timestamptz", "timestamp"), IndexRebuildOnly);
        assert_eq!(effect(12, "timestamp(3)", "timestamptz"), IndexRebuildOnly);
    }

    #[test]
    fn using_that_is_a_plain_cast_keeps_it_catalog_only() {
        let to = ColumnType::Text;
        assert!(types::using_is_plain_cast("c::text", "c", &to));
        assert!(types::using_is_plain_cast("c", "c", &to));
        assert!(types::using_is_plain_cast("CAST(c AS text)", "c", &to));
        assert!(types::using_is_plain_cast("\"Col\"::text", "Col", &to));
        assert!(!types::using_is_plain_cast("trim(c)", "c", &to));
        assert!(!types::using_is_plain_cast("c::varchar(5)", "c", &to));
        let plan = crate::plan(
            &ct(
                "postgresql@16",
                "500M",
                "120GB",
                "0",
                "email",
                "varchar(64)",
                "text",
            )
            .with("using", "email::text"),
        )
        .unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        let plan = crate::plan(
            &ct(
                "postgresql@16",
                "500M",
                "120GB",
                "0",
                "email",
                "varchar(64)",
                "text",
            )
            .with("using", "lower(email)"),
        )
        .unwrap();
        assert_eq!(plan.strategy.chosen, "online");
    }

    #[test]
    fn binary_coercible_is_catalog_only_under_zero_budget() {
        let p = ct(
            "postgresql@16.4",
            "500M",
            "120GB",
            "0",
            "email",
            "varchar(64)",
            "varchar(255)",
        );
        let plan = crate::plan(&p).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        let s = step(&plan, "Change the type");
        assert_eq!(s.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert!(!s.rewrites_table);
        assert_eq!(s.hold_seconds, CATALOG_ONLY);
        assert_eq!(
            s.sql,
            ["ALTER TABLE orders ALTER COLUMN email TYPE varchar(255);"]
        );
        let analyze = step(&plan, "Rebuild the column's statistics");
        assert_eq!(analyze.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert_eq!(analyze.blocks, Blocks::Nothing);
    }

    #[test]
    fn timestamptz_sets_utc_and_depends_on_the_version() {
        let p = |db| {
            ct(
                db,
                "10k",
                "2MB",
                "30s",
                "created_at",
                "timestamp",
                "timestamptz",
            )
        };
        let plan = crate::plan(&p("postgresql@12")).unwrap();
        let s = step(&plan, "Change the type");
        assert_eq!(s.sql[0], "SET LOCAL TimeZone = 'UTC';");
        assert!(!s.rewrites_table);
        assert!(plan.warnings.iter().any(|w| w.code == "timestamp-zone"));
        let plan = crate::plan(&p("postgresql@11")).unwrap();
        let s = step(&plan, "Change the type");
        assert!(s.rewrites_table);
        // Online, the conversion does not depend on the writers' TimeZone.
        let plan = crate::plan(&ct(
            "postgresql@16",
            "500M",
            "120GB",
            "0",
            "created_at",
            "timestamp",
            "timestamptz",
        ))
        .unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        assert!(step(&plan, "Keep the new column in sync").sql[0]
            .contains("(created_at AT TIME ZONE 'UTC')::timestamptz"));
    }

    #[test]
    fn general_rewrite_goes_online_under_zero_budget() {
        let plan = crate::plan(&ct(
            "postgresql@16",
            "500M",
            "120GB",
            "0",
            "amount",
            "integer",
            "numeric(12,2)",
        ))
        .unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        assert!(plan
            .steps()
            .all(|s| s.hold_seconds.high <= CATALOG_ONLY.high));
        let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "preflight",
                "expand",
                "backfill",
                "index copies and NOT NULL proof",
                "swap",
                "contract"
            ]
        );
        let backfill = step(&plan, "Backfill");
        assert!(!backfill.in_transaction);
        assert_eq!(backfill.statement_timeout_ms, Some(0));
        assert!(backfill.sql[0].contains("COMMIT;"));
        assert!(backfill.sql[0].contains("amount_new IS DISTINCT FROM amount::numeric(12,2)"));
        let swap = step(&plan, "Swap");
        assert_eq!(swap.lock, Some(Lock::Pg(PgLock::AccessExclusive)));
        assert!(swap.in_transaction);
        assert!(swap
            .only_if
            .as_deref()
            .unwrap()
            .ends_with("AS lockstep_swap_pending;"));
        assert!(plan.phases[5].irreversible.is_some());
        let alt = plan.alternative.unwrap();
        assert!(alt.phases[1].steps[0].rewrites_table);
    }

    #[test]
    fn pg10_backfill_is_a_repeated_statement_with_a_progress_table() {
        let plan = crate::plan(&ct(
            "postgresql@10",
            "500M",
            "120GB",
            "0",
            "amount",
            "integer",
            "numeric(12,2)",
        ))
        .unwrap();
        let setup = step(&plan, "Create the progress table");
        assert!(setup.sql[0].contains(
            "CREATE TABLE IF NOT EXISTS orders_amount_lockstep_progress AS SELECT id AS last_key"
        ));
        let batch = step(&plan, "Backfill");
        assert!(!batch.sql[0].contains("COMMIT"));
        assert!(batch.sql[0].contains("SELECT count(*) AS rows_in_batch"));
        assert!(step(&plan, "Drop the backfill progress table").sql[0]
            .starts_with("DROP TABLE IF EXISTS"));
        assert!(step(&plan, "Keep the new column").sql[1].contains("EXECUTE PROCEDURE"));
    }

    #[test]
    fn primary_key_int_to_bigint_online() {
        let plan = crate::plan(&ct(
            "postgresql@16",
            "1.2B",
            "200GB",
            "0",
            "id",
            "integer",
            "bigint",
        ))
        .unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        assert!(plan.warnings.iter().any(|w| w.code == "int4-ceiling"));
        let names: Vec<&str> = plan.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "preflight",
                "expand",
                "backfill",
                "unique index and NOT NULL proof",
                "foreign keys",
                "swap",
                "contract"
            ]
        );
        let idx = step(&plan, "Build the index");
        assert!(idx.sql[0].starts_with(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS orders_id_new_key ON orders"
        ));
        let swap = step(&plan, "Swap");
        assert!(!swap.scans_table);
        assert_eq!(swap.hold_seconds, CATALOG_ONLY);
        let all = swap.sql.join("\n");
        assert!(all.contains("ALTER TABLE orders ALTER COLUMN id_new SET NOT NULL;"));
        assert!(all.contains("PRIMARY KEY USING INDEX orders_id_new_key"));
        assert!(all.contains("ALTER SEQUENCE %s AS bigint"));
        assert!(all.contains("OWNED BY orders.id_new"));
        assert!(all.contains("DROP IDENTITY"));
        let fk = step(&plan, "Validate the foreign-key copies");
        assert_eq!(fk.lock, Some(Lock::Pg(PgLock::RowShare)));
        assert_eq!(fk.blocks, Blocks::Nothing);
        let add_fk = step(&plan, "Copy each referencing foreign key");
        assert_eq!(add_fk.lock, Some(Lock::Pg(PgLock::ShareRowExclusive)));
        assert!(plan.phases[5].irreversible.is_some());
    }

    #[test]
    fn primary_key_swap_scans_on_10_and_11() {
        // The scan of 20 GB does not fit a zero budget: no online path reaches a PRIMARY KEY.
        let err = crate::plan(&ct(
            "postgresql@11",
            "200M",
            "20GB",
            "0",
            "id",
            "integer",
            "bigint",
        ))
        .unwrap_err();
        assert_eq!(err[0].field, "max-downtime");
        let plan = crate::plan(&ct(
            "postgresql@11",
            "1M",
            "200MB",
            "5s",
            "id",
            "integer",
            "bigint",
        ))
        .unwrap();
        let swap = plan
            .alternative
            .iter()
            .flat_map(|a| a.phases.iter())
            .chain(plan.phases.iter())
            .flat_map(|p| p.steps.iter())
            .find(|s| s.title.starts_with("Swap"))
            .unwrap();
        assert!(swap.scans_table);
        assert!(swap.hold_seconds.high > CATALOG_ONLY.high);
    }

    #[test]
    fn bad_inputs_name_their_field() {
        let err = crate::plan(&ct(
            "postgresql@16",
            "1M",
            "1GB",
            "0",
            "id",
            "integer",
            "bigserial",
        ))
        .unwrap_err();
        assert_eq!(err[0].field, "to-type");
        let err = crate::plan(&ct(
            "postgresql@16",
            "1M",
            "1GB",
            "0",
            "id",
            "int4",
            "integer",
        ))
        .unwrap_err();
        assert_eq!(err[0].field, "to-type");
        let err = crate::plan(
            &ct(
                "postgresql@16",
                "500M",
                "120GB",
                "0",
                "amount",
                "integer",
                "bigint",
            )
            .with("primary-key", "none"),
        )
        .unwrap_err();
        assert_eq!(err[0].field, "primary-key");
    }

    #[test]
    fn hostile_names_stay_quoted_inside_dollar_quotes() {
        let plan = crate::plan(
            &ct(
                "postgresql@16",
                "500M",
                "120GB",
                "0",
                "a$lockstep$b",
                "integer",
                "bigint",
            )
            .with("table", "Or'ders\"x")
            .with("primary-key", "Key"),
        )
        .unwrap();
        let sync = step(&plan, "Keep the new column");
        assert!(sync.sql[0].contains("$lockstep1$"));
        assert!(sync.sql[0].contains("\"a$lockstep$b_new\""));
        let backfill = step(&plan, "Backfill");
        assert!(backfill.sql[0].starts_with("DO $lockstep1$"));
        assert!(backfill.sql[0].contains("SELECT \"Key\" AS lockstep_key FROM \"Or'ders\"\"x\""));
    }

    #[test]
    fn snapshots() {
        let cases = [
            (
                "change_type_varchar_grow_16",
                ct(
                    "postgresql@16.4",
                    "500M",
                    "120GB",
                    "0",
                    "email",
                    "varchar(64)",
                    "varchar(255)",
                ),
            ),
            (
                "change_type_timestamptz_11",
                ct(
                    "postgresql@11.22",
                    "10k",
                    "2MB",
                    "30s",
                    "created_at",
                    "timestamp",
                    "timestamptz",
                ),
            ),
            (
                "change_type_timestamptz_12",
                ct(
                    "postgresql@12.22",
                    "10k",
                    "2MB",
                    "30s",
                    "created_at",
                    "timestamp",
                    "timestamptz",
                ),
            ),
            (
                "change_type_general_10",
                ct(
                    "postgresql@10.23",
                    "50M",
                    "8GB",
                    "0",
                    "amount",
                    "integer",
                    "numeric(12,2)",
                ),
            ),
            (
                "change_type_general_16",
                ct(
                    "postgresql@16.4",
                    "50M",
                    "8GB",
                    "0",
                    "amount",
                    "integer",
                    "numeric(12,2)",
                ),
            ),
            (
                "change_type_pk_bigint_11",
                ct(
                    "postgresql@11.22",
                    "1M",
                    "200MB",
                    "5s",
                    "id",
                    "integer",
                    "bigint",
                ),
            ),
            (
                "change_type_pk_bigint_12",
                ct(
                    "postgresql@12.22",
                    "1.2B",
                    "200GB",
                    "0",
                    "id",
                    "integer",
                    "bigint",
                ),
            ),
        ];
        for (name, p) in cases {
            let plan = crate::plan(&p).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            insta::assert_snapshot!(name, markdown(&plan, &p));
        }
    }
}
