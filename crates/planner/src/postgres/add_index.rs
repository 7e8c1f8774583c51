//! Add an index.
//!
//! Online: `CREATE INDEX CONCURRENTLY` (SHARE UPDATE EXCLUSIVE: reads and writes continue; two
//! table scans; not inside a transaction block). A failed or cancelled build leaves an INVALID
//! index behind that `IF NOT EXISTS` would then silently accept, so the plan first drops an
//! INVALID leftover, builds, and proves `pg_index.indisvalid`.
//! Direct: plain `CREATE INDEX` takes SHARE and blocks writes for the whole build.

use super::{check, Ctx, Paths};
use crate::model::{Check, Expected, Phase};
use crate::postgres::facts::Statement;
use crate::postgres::shared::index::{key_sql, key_value, IndexSpec, INDEX_BYTES_PER_ROW};
use crate::quote::{derived_name, ident};
use crate::request::change::AddIndex;
use crate::request::{FieldError, IndexKey, IndexMethod};

pub fn paths(ctx: &Ctx, change: &AddIndex) -> Result<Paths, FieldError> {
    let AddIndex { unique, method, .. } = change;
    if *unique && !matches!(method, IndexMethod::Btree) {
        return Err(FieldError::new(
            "unique",
            format!(
                "{} indexes cannot be unique in PostgreSQL; only btree supports UNIQUE",
                method.name()
            ),
        ));
    }
    let columns: Vec<String> = change
        .keys
        .iter()
        .filter_map(IndexKey::column_name)
        .map(str::to_string)
        .collect();
    let spec = index_spec(ctx, change, &columns);
    let index_bytes = ctx.req.rows.saturating_mul(INDEX_BYTES_PER_ROW);
    let extra_checks = preflight_checks(ctx, change);
    Ok(Paths {
        summary: summary(ctx, change, &spec),
        direct: Some(vec![
            ctx.preflight(Some(index_bytes), extra_checks.clone()),
            direct_build_phase(ctx, &spec),
        ]),
        online: Some(vec![
            ctx.preflight(Some(index_bytes), extra_checks),
            online_build_phase(ctx, &spec),
        ]),
        online_required: None,
        warnings: ctx.version_warnings(true),
    })
}

/// The index: its keys as SQL, its name given or derived from the table and keys.
fn index_spec<'a>(ctx: &Ctx, change: &'a AddIndex, columns: &'a [String]) -> IndexSpec<'a> {
    let key_names: Vec<String> = change.keys.iter().map(IndexKey::name_part).collect();
    let mut name_parts: Vec<&str> = vec![&ctx.req.table];
    name_parts.extend(key_names.iter().map(String::as_str));
    name_parts.push(if change.unique { "key" } else { "idx" });
    IndexSpec {
        columns,
        key_sql: Some(key_list(change)),
        unique: change.unique,
        predicate: change.predicate.as_deref(),
        method: change.method,
        name: change
            .name
            .clone()
            .unwrap_or_else(|| derived_name(&name_parts)),
    }
}

fn key_list(change: &AddIndex) -> String {
    change
        .keys
        .iter()
        .map(key_sql)
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(ctx: &Ctx, change: &AddIndex, spec: &IndexSpec) -> String {
    format!(
        "Add {}{} index {} on {} ({}){}",
        if change.unique { "unique " } else { "" },
        change.method.name(),
        ident(&spec.name),
        ctx.table(),
        key_list(change),
        change
            .predicate
            .as_deref()
            .map(|p| format!(" WHERE {p}"))
            .unwrap_or_default()
    )
}

/// A plain table (both paths' check), and no duplicates for a unique index.
fn preflight_checks(ctx: &Ctx, change: &AddIndex) -> Vec<Check> {
    let mut checks = vec![check(
        "The table is a plain table: CONCURRENTLY cannot build on a partitioned parent",
        format!("SELECT relkind FROM pg_class WHERE oid = {};", ctx.regclass()),
        "r (for p, build the index CONCURRENTLY on each partition, then CREATE INDEX ON ONLY the parent and ATTACH each one)",
        Expected::row(&["r"]),
    )];
    if change.unique {
        checks.push(duplicates_check(ctx, change));
    }
    checks
}

fn duplicates_check(ctx: &Ctx, change: &AddIndex) -> Check {
    let keys = &change.keys;
    check(
        "No duplicates exist among rows without NULLs, which a unique index never compares (a full scan: run it on a replica if you have one)",
        format!(
            "SELECT {cols}, count(*) FROM {table} WHERE {not_null}{pred} GROUP BY {cols} HAVING count(*) > 1 LIMIT 10;",
            cols = keys.iter().map(key_value).collect::<Vec<_>>().join(", "),
            table = ctx.table(),
            not_null = keys
                .iter()
                .map(|k| format!("{} IS NOT NULL", key_value(k)))
                .collect::<Vec<_>>()
                .join(" AND "),
            pred = change.predicate.as_deref().map(|p| format!(" AND ({p})")).unwrap_or_default()
        ),
        "no rows",
        Expected::NoRows,
    ).scanning().proving(crate::model::Precondition::NoDuplicates)
}

fn valid_check(ctx: &Ctx, spec: &IndexSpec) -> Check {
    check(
        "The index is valid and ready",
        spec.validity_sql(ctx),
        "one row: indisvalid = t, indisready = t",
        Expected::row(&["t", "t"]),
    )
}

/// CREATE INDEX CONCURRENTLY: reads and writes continue.
fn online_build_phase(ctx: &Ctx, spec: &IndexSpec) -> Phase {
    Phase {
        name: "build index".to_string(),
        purpose: "Build the index while reads and writes continue.".to_string(),
        app_change: None,
        steps: spec.concurrent_build_steps(ctx),
        rollback: vec![ctx.rollback_ddl(
            format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {};",
                spec.qualified_name(ctx)
            ),
            Some("Runs outside a transaction; takes SHARE UPDATE EXCLUSIVE, so traffic continues."),
        )],
        irreversible: None,
        checks: vec![valid_check(ctx, spec)],
    }
}

/// A plain CREATE INDEX: writes wait for the build.
fn direct_build_phase(ctx: &Ctx, spec: &IndexSpec) -> Phase {
    let mut build = ctx.ddl(
        "Build the index (blocks writes until it finishes)",
        vec![spec.create_sql(ctx, false)],
        Statement::CreateIndex,
        ctx.model.index_build(),
    );
    build.scans_table = true;
    build.retry =
        "If it fails, the transaction rolls back and leaves nothing behind: run it again."
            .to_string();
    Phase {
        name: "build index".to_string(),
        purpose: "Build the index in one statement; writes wait until it finishes, reads continue."
            .to_string(),
        app_change: None,
        steps: vec![build],
        rollback: vec![ctx.rollback_ddl(
            format!("DROP INDEX IF EXISTS {};", spec.qualified_name(ctx)),
            Some("Takes ACCESS EXCLUSIVE on the table briefly: run it with a lock_timeout."),
        )],
        irreversible: None,
        checks: vec![valid_check(ctx, spec)],
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Blocks, Lock, PgLock};
    use crate::request::params::Params;

    fn params(rows: &str, size: &str, budget: &str) -> Params {
        Params::new()
            .with("db", "postgresql@16.4")
            .with("change", "add-index")
            .with("table", "orders")
            .with("columns", "customer_id,created_at")
            .with("rows", rows)
            .with("size", size)
            .with("max-downtime", budget)
    }

    fn build_sql(keys: &str, unique: bool) -> (String, crate::model::Plan) {
        let mut p = params("500M", "120GB", "0").with("columns", keys);
        if unique {
            p.set("unique", "true");
        }
        let plan = crate::plan(&p).unwrap();
        let build = plan.steps().find(|s| s.title.starts_with("Build")).unwrap();
        (build.sql[0].clone(), plan.clone())
    }

    #[test]
    fn expressions_ordering_and_operator_classes_are_planned_as_such() {
        let (sql, _) = build_sql("lower(email)", false);
        assert_eq!(sql, "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_lower_email_idx ON orders USING btree ((lower(email)));");
        let (sql, _) = build_sql("customer_id, created_at DESC NULLS LAST", false);
        assert!(sql.contains("orders_customer_id_created_at_idx ON orders USING btree (customer_id, created_at DESC NULLS LAST);"), "{sql}");
        let (sql, _) = build_sql("name COLLATE \"C\" text_pattern_ops", false);
        assert!(
            sql.contains("(name COLLATE \"C\" text_pattern_ops)"),
            "{sql}"
        );
        let (sql, _) = build_sql("date_trunc('day', created_at), \"Odd (name)\"", false);
        assert!(
            sql.contains("orders_date_trunc_day_created_at_Odd (name)_idx"),
            "{sql}"
        );
        assert!(
            sql.contains("((date_trunc('day', created_at)), \"Odd (name)\")"),
            "{sql}"
        );
        let (_, plan) = build_sql("lower(email)", true);
        let duplicates = &plan.phases[0].checks.last().unwrap().sql;
        assert!(duplicates.contains("SELECT (lower(email)), count(*) FROM orders WHERE (lower(email)) IS NOT NULL GROUP BY (lower(email))"), "{duplicates}");
    }

    #[test]
    fn derived_names_fit_and_bad_keys_are_refused() {
        let long = format!("lower({})", "x".repeat(80));
        let (sql, _) = build_sql(&long, false);
        let name = sql.split_whitespace().nth(6).unwrap();
        assert_eq!(name.len(), 63, "{name}");
        let bad =
            crate::plan(&params("1M", "1GB", "0").with("columns", "created_at + 1")).unwrap_err();
        assert_eq!(bad[0].field, "columns");
        assert!(
            bad[0].message.contains("\"+\" is not an ordering"),
            "{}",
            bad[0].message
        );
        let injected =
            crate::plan(&params("1M", "1GB", "0").with("columns", "lower(a; drop table x)"))
                .unwrap_err();
        assert!(
            injected[0].message.contains("contains ;"),
            "{}",
            injected[0].message
        );
        let twice =
            crate::plan(&params("1M", "1GB", "0").with("columns", "a, a DESC")).unwrap_err();
        assert!(twice[0].message.contains("twice"));
    }

    #[test]
    fn big_table_zero_budget_builds_concurrently() {
        let plan = crate::plan(&params("500M", "120GB", "0")).unwrap();
        assert_eq!(plan.strategy.chosen, "online");
        let build = plan.steps().find(|s| s.title.starts_with("Build")).unwrap();
        assert_eq!(
            build.sql,
            ["CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_created_at_idx ON orders USING btree (customer_id, created_at);"]
        );
        assert_eq!(build.lock, Some(Lock::Pg(PgLock::ShareUpdateExclusive)));
        assert_eq!(build.blocks, Blocks::Nothing);
        assert!(!build.in_transaction);
        let drop = plan.steps().next().unwrap();
        assert!(drop.only_if.as_deref().unwrap().contains("NOT indisvalid"));
        let phase = &plan.phases[1];
        assert!(phase.checks[0].sql.contains("indisvalid"));
        assert_eq!(
            phase.rollback[0].sql,
            "SET lock_timeout = '100ms';\nDROP INDEX CONCURRENTLY IF EXISTS orders_customer_id_created_at_idx;"
        );
        let alt = plan.alternative.unwrap();
        assert!(alt.label.contains("NOT"));
        assert_eq!(alt.phases[1].steps[0].lock, Some(Lock::Pg(PgLock::Share)));
    }

    #[test]
    fn small_table_generous_budget_offers_the_plain_build() {
        let plan = crate::plan(&params("10k", "2MB", "30s")).unwrap();
        assert_eq!(plan.strategy.chosen, "direct");
        assert_eq!(plan.phases[1].steps[0].blocks, Blocks::Writes);
        assert!(plan.alternative.is_some());
    }

    #[test]
    fn schema_qualifies_the_table_and_drops_but_never_the_new_index_name() {
        let plan = crate::plan(&params("1M", "1GB", "0").with("schema", "Sales")).unwrap();
        let build = plan.steps().find(|s| s.title.starts_with("Build")).unwrap();
        assert!(
            build.sql[0]
                .contains("IF NOT EXISTS orders_customer_id_created_at_idx ON \"Sales\".orders "),
            "{}",
            build.sql[0]
        );
        assert!(plan.phases[1].rollback[0].sql.contains(
            "DROP INDEX CONCURRENTLY IF EXISTS \"Sales\".orders_customer_id_created_at_idx;"
        ));
        let direct = &plan.alternative.unwrap().phases[1].steps[0].sql[0];
        assert!(
            direct
                .starts_with("CREATE INDEX orders_customer_id_created_at_idx ON \"Sales\".orders "),
            "{direct}"
        );
    }

    #[test]
    fn snapshots() {
        for (name, p) in [
            (
                "add_index_pg14_3_zero_budget",
                params("500M", "120GB", "0").with("db", "postgresql@14.3"),
            ),
            (
                "add_index_pg14_4_zero_budget",
                params("500M", "120GB", "0").with("db", "postgresql@14.4"),
            ),
            (
                "add_index_small_table_direct",
                params("10k", "2MB", "30s").with("unique", "true"),
            ),
            (
                "add_index_partial_gin",
                params("500M", "120GB", "0")
                    .with("method", "gin")
                    .with("columns", "tags")
                    .with("where", "archived_at IS NULL"),
            ),
        ] {
            let plan = crate::plan(&p).unwrap();
            insta::assert_snapshot!(name, crate::render::markdown::render(&plan, &p));
        }
    }

    #[test]
    fn pg14_before_14_4_warns() {
        let plan = crate::plan(&params("1M", "1GB", "0").with("db", "postgresql@14.3")).unwrap();
        assert!(plan
            .warnings
            .iter()
            .any(|w| w.code == "pg14-cic-corruption"));
        let plan = crate::plan(&params("1M", "1GB", "0").with("db", "postgresql@14.4")).unwrap();
        assert!(plan.warnings.is_empty());
    }

    #[test]
    fn unique_gin_is_refused_naming_the_field() {
        let errors = crate::plan(
            &params("1M", "1GB", "0")
                .with("unique", "true")
                .with("method", "gin"),
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "unique");
    }
}
