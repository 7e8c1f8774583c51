//! The functions and types a PostgreSQL change names must exist on the server before anything
//! changes: a DEFAULT calling `gen_random_uuid()` on 11 without pgcrypto fails at the ALTER
//! ("function gen_random_uuid() does not exist"), after the runbook has started. The plan warns
//! where the version facts ([`facts::FUNCTION_FACTS`]) say a function needs an extension or
//! a later version, and its preflight returns every name the server lacks, expecting none.
//!
//! Functions are looked up in `pg_proc` with `pg_function_is_visible` (the same search-path
//! resolution the statement will do), not with `to_regproc`: `to_regproc` returns NULL for an
//! overloaded name (more than one candidate, `regproc.c`), so it would call `lower` or any
//! overloaded function of the user's missing. Types go through `to_regtype`, which parses
//! modifiers (`varchar(64)`, `numeric(10,2)`) and returns NULL for an unknown type (10+).

use crate::model::{Check, Expected, Warning};
use crate::postgres::facts::{self, FunctionSource};
use crate::postgres::shared::expressions::CalledFunction;
use crate::postgres::{check, Paths};
use crate::quote::{ident, literal};
use crate::request::Version;

/// The function as a reader would write it: `gen_random_uuid()`, `app.f()`.
fn display(f: &CalledFunction) -> String {
    match &f.schema {
        Some(s) => format!("{}.{}()", ident(s), ident(&f.name)),
        None => format!("{}()", f.name),
    }
}

/// The SQL condition that is true when `f` cannot be resolved.
fn function_absent(f: &CalledFunction) -> String {
    match &f.schema {
        Some(s) => format!(
            "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = {} AND n.nspname = {})",
            literal(&f.name),
            literal(s)
        ),
        None => format!(
            "NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.proname = {} AND pg_catalog.pg_function_is_visible(p.oid))",
            literal(&f.name)
        ),
    }
}

/// The preflight check: one row per function or type the server lacks; none expected.
pub fn names_check(functions: &[CalledFunction], types: &[String]) -> Option<Check> {
    let mut rows: Vec<String> = functions
        .iter()
        .map(|f| format!("({}, {})", literal(&display(f)), function_absent(f)))
        .collect();
    rows.extend(types.iter().map(|t| {
        format!(
            "({}, pg_catalog.to_regtype({}) IS NULL)",
            literal(&format!("type {t}")),
            literal(t)
        )
    }));
    if rows.is_empty() {
        return None;
    }
    let named: Vec<String> = functions
        .iter()
        .map(display)
        .chain(types.iter().map(|t| format!("type {t}")))
        .collect();
    Some(check(
        &format!("Every function and type the change names exists: {}", named.join(", ")),
        format!(
            "SELECT name AS missing FROM (VALUES {}) AS names(name, absent) WHERE absent;",
            rows.join(", ")
        ),
        "no rows. A row names what this database lacks: the statement using it would fail. Install the extension that provides it (CREATE EXTENSION IF NOT EXISTS ...), or create the function or type, then run the plan again",
        Expected::NoRows,
    )
    .proving(crate::model::Precondition::NamedObjectsExist))
}

/// The type name alone, as `to_regtype` parses it: a `COLLATE` or `GENERATED` clause written
/// after it is not part of the type (and would make `to_regtype` raise a syntax error).
pub fn type_name(written: &str) -> String {
    let lower = written.to_ascii_lowercase();
    let cut = [" collate ", " generated "]
        .iter()
        .filter_map(|k| lower.find(k))
        .min()
        .unwrap_or(written.len());
    written[..cut].trim().to_string()
}

/// What the version facts say about the called functions on version `v`.
pub fn function_warnings(functions: &[CalledFunction], v: Version) -> Vec<Warning> {
    functions
        .iter()
        .filter(|f| f.schema.is_none())
        .filter_map(|f| match facts::function_source(&f.name, v) {
            FunctionSource::BuiltIn => None,
            FunctionSource::Extension(fact) => Some(Warning {
                code: "function-needs-extension".to_string(),
                message: format!(
                    "{}() {} comes from the {ext} extension: run CREATE EXTENSION IF NOT EXISTS {} in this database before the plan (the preflight stops the script while the function is missing).",
                    f.name,
                    match fact.built_in_from {
                        Some(from) => format!("is built in from PostgreSQL {from}; on {v} it"),
                        None => "is not built in: it".to_string(),
                    },
                    ident(fact.extension.unwrap_or_default()),
                    ext = fact.extension.unwrap_or_default(),
                ),
            }),
            FunctionSource::NotOnThisVersion(fact) => Some(Warning {
                code: "function-not-on-this-version".to_string(),
                message: format!(
                    "{}() is built in from PostgreSQL {} only; {v} has it only if you created a function of that name yourself (the preflight stops the script otherwise).",
                    f.name,
                    fact.built_in_from.unwrap_or_default()
                ),
            }),
        })
        .collect()
}

/// Adds the check to the preflight of each path (right after the version check, before any
/// check that casts a type name) and the warnings to the plan.
pub fn require(paths: &mut Paths, functions: &[CalledFunction], types: &[String], v: Version) {
    paths.warnings.extend(function_warnings(functions, v));
    let Some(check) = names_check(functions, types) else {
        return;
    };
    for phases in [paths.direct.as_mut(), paths.online.as_mut()]
        .into_iter()
        .flatten()
    {
        if let Some(preflight) = phases.first_mut().filter(|p| p.steps.is_empty()) {
            let at = preflight.checks.len().min(1);
            preflight.checks.insert(at, check.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Expected, Plan};
    use crate::request::params::Params;

    fn add_column(db: &str, default: &str) -> Plan {
        let p = Params::new()
            .with("db", db)
            .with("change", "add-column")
            .with("table", "orders")
            .with("column", "public_id")
            .with("type", "uuid")
            .with("default", default)
            .with("rows", "500M")
            .with("size", "120GB")
            .with("max-downtime", "0");
        crate::plan(&p).unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// The names check of the plan's preflight (and of the alternative's, if any).
    fn names_checks(plan: &Plan) -> Vec<&crate::model::Check> {
        plan.phases
            .iter()
            .chain(plan.alternative.iter().flat_map(|a| a.phases.iter()))
            .flat_map(|p| p.checks.iter())
            .filter(|c| c.sql.contains("AS names(name, absent)"))
            .collect()
    }

    fn codes(plan: &Plan) -> Vec<&str> {
        plan.warnings.iter().map(|w| w.code.as_str()).collect()
    }

    #[test]
    fn gen_random_uuid_needs_pgcrypto_before_13() {
        let plan = add_column("postgresql@11.22", "gen_random_uuid()");
        let w = plan
            .warnings
            .iter()
            .find(|w| w.code == "function-needs-extension")
            .expect("the pgcrypto warning");
        assert!(
            w.message
                .contains("CREATE EXTENSION IF NOT EXISTS pgcrypto"),
            "{}",
            w.message
        );
        let checks = names_checks(&plan);
        assert!(!checks.is_empty());
        for c in &checks {
            assert_eq!(c.expected, Expected::NoRows);
            assert!(c.sql.contains("('gen_random_uuid()', NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p WHERE p.proname = 'gen_random_uuid' AND pg_catalog.pg_function_is_visible(p.oid)))"), "{}", c.sql);
            assert!(c
                .sql
                .contains("('type uuid', pg_catalog.to_regtype('uuid') IS NULL)"));
        }
        // Right after the version check: before any check that casts the type name.
        assert!(plan.phases[0].checks[1]
            .sql
            .contains("AS names(name, absent)"));

        let plan = add_column("postgresql@13.23", "gen_random_uuid()");
        assert!(!codes(&plan).contains(&"function-needs-extension"));
        assert!(!names_checks(&plan).is_empty());
    }

    #[test]
    fn extension_and_later_version_functions() {
        for db in ["postgresql@10", "postgresql@18"] {
            let plan = add_column(db, "uuid_generate_v4()");
            let w = plan
                .warnings
                .iter()
                .find(|w| w.code == "function-needs-extension")
                .expect("uuid-ossp on every version");
            assert!(w
                .message
                .contains("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\""));
        }
        assert!(codes(&add_column("postgresql@17", "uuidv7()"))
            .contains(&"function-not-on-this-version"));
        let plan = add_column("postgresql@18", "uuidv7()");
        assert!(!codes(&plan).iter().any(|c| c.starts_with("function-")));
        assert!(names_checks(&plan)[0].sql.contains("'uuidv7()'"));
    }

    #[test]
    fn type_names_without_clauses() {
        assert_eq!(super::type_name("text COLLATE \"C\""), "text");
        assert_eq!(super::type_name(" numeric(10, 2) "), "numeric(10, 2)");
        assert_eq!(
            super::type_name("bigint GENERATED ALWAYS AS IDENTITY"),
            "bigint"
        );
    }

    #[test]
    fn a_user_function_is_checked_without_a_warning() {
        let plan = add_column("postgresql@16", "app.next_public_id('o''rders(')");
        assert!(!codes(&plan).iter().any(|c| c.starts_with("function-")));
        let c = names_checks(&plan)[0];
        assert!(c.sql.contains("('app.next_public_id()', NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = 'next_public_id' AND n.nspname = 'app'))"), "{}", c.sql);
        // USING of change-type, with grammar that only looks like calls.
        let p = Params::new()
            .with("db", "postgresql@16")
            .with("change", "change-type")
            .with("table", "orders")
            .with("column", "code")
            .with("from-type", "text")
            .with("to-type", "integer")
            .with(
                "using",
                "COALESCE(parse_code(TRIM(code)), CAST(0 AS integer))",
            )
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", "0");
        let plan = crate::plan(&p).unwrap_or_else(|e| panic!("{e:?}"));
        let c = names_checks(&plan)[0];
        assert!(c.sql.contains("'parse_code()'"), "{}", c.sql);
        assert!(c
            .sql
            .contains("('type integer', pg_catalog.to_regtype('integer') IS NULL)"));
        for grammar in ["'coalesce()'", "'trim()'", "'cast()'"] {
            assert!(!c.sql.contains(grammar), "{grammar}: {}", c.sql);
        }
        // A collation after the new type is not part of the type to_regtype reads.
        let p = p
            .with("to-type", "varchar(20) COLLATE \"C\"")
            .with("using", "");
        let plan = crate::plan(&p).unwrap_or_else(|e| panic!("{e:?}"));
        let c = names_checks(&plan)[0];
        assert!(
            c.sql
                .contains("pg_catalog.to_regtype('varchar(20)') IS NULL"),
            "{}",
            c.sql
        );
    }
}
