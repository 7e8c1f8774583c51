//! The typed fields the live verifier reads instead of a note (how far a rollback reaches back,
//! what it leaves, which errors the application retries, which precondition a check proves),
//! set for every case the verifier relies on: a planner change that drops one fails here, not
//! only in the live run. Parameters as the verifier's cases give them (`crates/verify`).

use lockstep_planner::model::{AppRetry, Leftover, Plan, Precondition, Run};
use lockstep_planner::Params;

/// A plan for `db` at zero budget on a 200 000-row `orders`, as the verifier seeds it.
fn plan(db: &str, change: &str, fields: &[(&str, &str)]) -> Plan {
    let mut p = Params::new()
        .with("db", db)
        .with("change", change)
        .with("table", "orders")
        .with("rows", "200000")
        .with("size", "40000000B")
        .with("max-downtime", "0");
    for (k, v) in fields {
        p.set(k, *v);
    }
    lockstep_planner::plan(&p).unwrap_or_else(|e| panic!("{db} {change}: {e:?}"))
}

/// `(phase name, how many earlier phases its rollback also undoes, the name of the earliest)`.
fn reaches(plan: &Plan) -> Vec<(String, usize, String)> {
    plan.phases
        .iter()
        .enumerate()
        .filter(|(_, p)| p.rollback_also_undoes() > 0)
        .map(|(i, p)| {
            let n = p.rollback_also_undoes();
            (p.name.clone(), n, plan.phases[i - n].name.clone())
        })
        .collect()
}

fn reach(name: &str, n: usize, earliest: &str) -> (String, usize, String) {
    (name.to_string(), n, earliest.to_string())
}

#[test]
fn a_rollback_that_drops_a_validated_constraint_also_undoes_its_not_valid_phase() {
    let nn = [("column", "customer_id")];
    assert_eq!(
        reaches(&plan("postgresql@12", "add-not-null", &nn)),
        vec![
            reach("validate", 1, "add check (NOT VALID)"),
            reach("set not null", 2, "add check (NOT VALID)"),
        ]
    );
    assert_eq!(
        reaches(&plan("postgresql@18", "add-not-null", &nn)),
        vec![reach("validate", 1, "add constraint (NOT VALID)")]
    );
    let check = plan("postgresql@16", "add-check", &[("check", "amount >= 0")]);
    assert_eq!(reaches(&check).len(), 1, "{:?}", reaches(&check));
    assert_eq!(reaches(&check)[0].0, "validate");
    let fk = plan(
        "postgresql@16",
        "add-foreign-key",
        &[("columns", "customer_id"), ("references", "customers(id)")],
    );
    assert_eq!(reaches(&fk).len(), 1, "{:?}", reaches(&fk));
    assert_eq!(reaches(&fk)[0].0, "validate");
}

/// Dropping a UNIQUE constraint drops the index it owns: the rollback of the attach phase
/// also undoes the build (the live verifier found the reach missing on every PostgreSQL).
#[test]
fn dropping_the_unique_constraint_also_undoes_the_index_build() {
    for db in ["postgresql@10", "postgresql@16", "postgresql@18"] {
        let unique = plan(db, "add-unique", &[("columns", "email")]);
        assert_eq!(
            reaches(&unique),
            vec![reach("add constraint", 1, "build unique index")],
            "{db}"
        );
    }
}

#[test]
fn undoing_a_copy_or_backfill_also_undoes_the_expansion() {
    let split = [("columns", "email,note"), ("new-table", "order_contacts")];
    for db in ["postgresql@10", "postgresql@18", "mariadb@10.11"] {
        let got = reaches(&plan(db, "split-table", &split));
        assert_eq!(got.len(), 1, "{db}: {got:?}");
        assert_eq!((got[0].0.as_str(), got[0].1), ("copy", 1), "{db}");
        assert!(got[0].2.starts_with("expand"), "{db}: {got:?}");
    }
    let change = [
        ("column", "customer_id"),
        ("from-type", "integer"),
        ("to-type", "bigint"),
    ];
    for db in ["postgresql@10", "postgresql@18"] {
        let got = reaches(&plan(db, "change-type", &change));
        assert_eq!(got.len(), 1, "{db}: {got:?}");
        assert_eq!((got[0].0.as_str(), got[0].1), ("backfill", 1), "{db}");
        assert!(got[0].2.starts_with("expand"), "{db}: {got:?}");
    }
    let rename = [("column", "note"), ("new-name", "remark"), ("type", "text")];
    let got = reaches(&plan("mariadb@10.11", "rename-column", &rename));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0].0.as_str(), got[0].1), ("backfill", 1));
    assert!(got[0].2.starts_with("expand"), "{got:?}");
}

#[test]
fn pt_online_schema_change_names_the_retries_and_the_renamed_child_keys() {
    let fields = [
        ("column", "customer_id"),
        ("from-type", "int NOT NULL"),
        ("to-type", "bigint NOT NULL"),
        ("foreign-keys", "true"),
    ];
    let p = plan("mariadb@10.11", "change-type", &fields);
    let both = vec![AppRetry::Deadlock, AppRetry::LockWaitTimeout];
    let copy = p
        .steps()
        .find(|s| s.shell.as_deref().is_some_and(|c| !c.contains("--dry-run")))
        .expect("a pt-online-schema-change run");
    assert_eq!(copy.app_retries, both);
    let inverse = p
        .phases
        .iter()
        .flat_map(|ph| &ph.rollback)
        .find(|r| r.shell.is_some())
        .expect("the inverse run");
    assert_eq!(inverse.app_retries, both);
    assert_eq!(inverse.leaves, vec![Leftover::ChildForeignKeysRenamed]);
    // Without foreign keys the tool renames nothing.
    let p = plan("mariadb@10.11", "change-type", &fields[..3]);
    assert!(p
        .phases
        .iter()
        .flat_map(|ph| &ph.rollback)
        .all(|r| r.leaves.is_empty()));
    // Only the tool's runs make the application retry.
    assert!(p
        .steps()
        .filter(|s| s.shell.is_none())
        .all(|s| s.app_retries.is_empty()));
}

/// The first check of the plan proving `p`, with its phase index.
fn proving(plan: &Plan, p: Precondition) -> Option<usize> {
    plan.phases
        .iter()
        .position(|ph| ph.checks.iter().any(|c| c.precondition == Some(p)))
}

/// Server, change type, its fields, and the precondition its preflight proves.
type StopCase = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    Precondition,
);

#[test]
fn every_stopping_precondition_the_verifier_names_is_a_typed_check() {
    let cases: &[StopCase] = &[
        (
            "postgresql@12",
            "add-column",
            &[
                ("column", "public_id"),
                ("type", "uuid"),
                ("default", "gen_random_uuid()"),
            ],
            Precondition::NamedObjectsExist,
        ),
        (
            "mariadb@10.11",
            "change-type",
            &[
                ("column", "id"),
                ("from-type", "int NOT NULL AUTO_INCREMENT"),
                ("to-type", "bigint NOT NULL"),
            ],
            Precondition::ColumnKeepsAttributes,
        ),
        (
            "mariadb@10.11",
            "add-not-null",
            &[("column", "email"), ("type", "varchar(64)")],
            Precondition::NoNulls,
        ),
        (
            "postgresql@16",
            "add-not-null",
            &[("column", "customer_id")],
            Precondition::NoNulls,
        ),
        (
            "mariadb@10.11",
            "add-unique",
            &[("columns", "email")],
            Precondition::NoDuplicates,
        ),
        (
            "postgresql@16",
            "add-unique",
            &[("columns", "email")],
            Precondition::NoDuplicates,
        ),
        (
            "mariadb@10.11",
            "add-foreign-key",
            &[("columns", "customer_id"), ("references", "customers(id)")],
            Precondition::NoOrphans,
        ),
        (
            "postgresql@16",
            "add-foreign-key",
            &[("columns", "customer_id"), ("references", "customers(id)")],
            Precondition::NoOrphans,
        ),
        (
            "mariadb@10.11",
            "add-check",
            &[("check", "amount >= 0")],
            Precondition::NoViolatingRows,
        ),
        (
            "postgresql@16",
            "add-check",
            &[("check", "amount >= 0")],
            Precondition::NoViolatingRows,
        ),
    ];
    for (db, change, fields, p) in cases {
        let plan = plan(db, change, fields);
        // In the preflight, before the first change: the script stops there untouched.
        assert_eq!(proving(&plan, *p), Some(0), "{db} {change}: {p:?}");
        let check = plan.phases[0]
            .checks
            .iter()
            .find(|c| c.precondition == Some(*p))
            .unwrap();
        assert!(check.stops(), "{db} {change}: {p:?} only informs");
    }
}

#[test]
fn repeated_batches_are_typed_as_such() {
    let split = [("columns", "email,note"), ("new-table", "order_contacts")];
    let p = plan("mariadb@10.11", "split-table", &split);
    assert_eq!(p.steps().filter(|s| s.run == Run::UntilDone).count(), 1);
    let p = plan("postgresql@10", "split-table", &split);
    assert!(p.steps().any(|s| s.run == Run::UntilDone));
}

/// A pt-online-schema-change plan whose rollback runs the tool again.
fn tool_plan() -> (Plan, Params) {
    let p = Params::new()
        .with("db", "mariadb@10.11")
        .with("change", "change-type")
        .with("table", "orders")
        .with("column", "customer_id")
        .with("from-type", "int NOT NULL")
        .with("to-type", "bigint NOT NULL")
        .with("foreign-keys", "true")
        .with("rows", "200000")
        .with("size", "40000000B")
        .with("max-downtime", "0");
    (lockstep_planner::plan(&p).unwrap(), p)
}

#[test]
fn shell_commands_render_from_the_field_never_a_marker_in_the_text() {
    use lockstep_planner::render::{json, markdown, sql, step_text};
    let (plan, params) = tool_plan();
    let step = plan.steps().find(|s| s.shell.is_some()).unwrap();
    let command = step.shell.as_deref().unwrap();
    assert_eq!(step_text(step), command);
    let md = markdown::render(&plan, &params);
    assert!(md.contains(&format!("```sh\n{command}\n```")), "{md}");
    let forward = sql::forward(&plan);
    let first_line = command.lines().next().unwrap();
    assert!(forward.contains(&format!("-- Run in a shell:\n--   {first_line}")));
    let rollback = sql::rollback(&plan);
    for text in [&md, &forward, &rollback] {
        assert!(!text.contains("# shell"), "{text}");
    }
    let value: serde_json::Value = serde_json::from_str(&json::render(&plan, &params)).unwrap();
    let shells: Vec<&str> = value["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["steps"].as_array().unwrap())
        .filter_map(|s| s["shell"].as_str())
        .collect();
    assert!(shells.contains(&command));
}

#[test]
fn the_typed_fields_are_in_plan_json() {
    use lockstep_planner::render::json;
    let (plan, params) = tool_plan();
    let value: serde_json::Value = serde_json::from_str(&json::render(&plan, &params)).unwrap();
    let rollbacks: Vec<&serde_json::Value> = value["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["rollback"].as_array().unwrap())
        .collect();
    let inverse = rollbacks.iter().find(|r| r["shell"].is_string()).unwrap();
    assert_eq!(
        inverse["leaves"],
        serde_json::json!(["child_foreign_keys_renamed"])
    );
    assert_eq!(
        inverse["app_retries"],
        serde_json::json!(["deadlock", "lock_wait_timeout"])
    );
    let nn = plan_json(
        "postgresql@12",
        "add-not-null",
        &[("column", "customer_id")],
    );
    let phases = nn["phases"].as_array().unwrap();
    let validate = phases.iter().find(|p| p["name"] == "validate").unwrap();
    assert_eq!(validate["rollback"][0]["also_undoes"], 1);
    let preflight_checks = phases[0]["checks"].as_array().unwrap();
    assert!(preflight_checks
        .iter()
        .any(|c| c["precondition"] == "no_nulls"));
    let guarded = phases
        .iter()
        .flat_map(|p| p["steps"].as_array().unwrap())
        .find(|s| s["only_if"].is_string())
        .unwrap();
    assert!(guarded["guard_var"]
        .as_str()
        .unwrap()
        .starts_with("lockstep_guard_"));
}

fn plan_json(db: &str, change: &str, fields: &[(&str, &str)]) -> serde_json::Value {
    let mut p = Params::new()
        .with("db", db)
        .with("change", change)
        .with("table", "orders")
        .with("rows", "200000")
        .with("size", "40000000B")
        .with("max-downtime", "0");
    for (k, v) in fields {
        p.set(k, *v);
    }
    let plan = lockstep_planner::plan(&p).unwrap();
    serde_json::from_str(&lockstep_planner::render::json::render(&plan, &p)).unwrap()
}

#[test]
fn a_too_short_budget_names_the_shortest_one_as_a_number() {
    // The verifier's pg10 int-pk-to-bigint case: refused at zero, verified at the budget named.
    let p = Params::new()
        .with("db", "postgresql@10")
        .with("change", "change-type")
        .with("table", "orders")
        .with("column", "id")
        .with("from-type", "integer")
        .with("to-type", "bigint")
        .with("rows", "200000")
        .with("size", "40000000B")
        .with("max-downtime", "0");
    let errors = lockstep_planner::plan(&p).expect_err("refused at zero");
    let refusal = errors
        .iter()
        .find(|e| e.field == "max-downtime")
        .expect("on max-downtime");
    let ms = refusal.min_budget_ms.expect("the shortest budget, typed");
    assert!(ms > 0);
    let at = p.with("max-downtime", format!("{ms}ms"));
    assert!(lockstep_planner::plan(&at).is_ok(), "{ms} ms does not plan");
}
