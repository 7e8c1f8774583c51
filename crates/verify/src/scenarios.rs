//! What is run for each change type: the seeded table, the change's parameters, how the
//! simulated application reads and writes at each deploy gate, and what the data must look like
//! at the end.

use crate::load::AppStage;
use lockstep_planner::model::Precondition;

/// One verified case: a change type with one set of parameters.
#[derive(Debug, Clone)]
pub struct Case {
    /// The `change` parameter: the row of the matrix.
    pub change: &'static str,
    /// What distinguishes this case from the others of the same change type.
    pub name: &'static str,
    /// Change-specific parameters (table, rows, size, db and max-downtime are added by the runner).
    pub params: Vec<(&'static str, &'static str)>,
    pub budget: &'static str,
    /// `orders.id` is `integer` (serial) instead of `bigint` (bigserial).
    pub int_id: bool,
    /// The application at stage 0 (before any deploy gate), 1, 2, ...; the last one is kept
    /// for any later gate.
    pub stages: Vec<AppStage>,
    pub data: DataCheck,
    /// Before the phase that builds an index concurrently, leave an INVALID index of the same
    /// name behind (a cancelled build), so the plan's `only_if` cleanup step really runs.
    pub inject_failed_build: bool,
    /// The plan must choose this path (`direct` or `online`), or the case fails.
    pub expect_strategy: Option<&'static str>,
    /// The verifier's own control: every blocking step of the plan is relabelled "blocks
    /// nothing" before the run, and the case passes only if each of those claims is caught.
    pub control: bool,
    /// SQL run on the case's seeded database before planning (and on the copy forward.sql
    /// runs on): a precondition such as an extension or a column attribute; empty for none.
    pub setup: &'static str,
    /// A precondition the plan must catch before it changes anything ([`Stop`]).
    pub stop: Option<Stop>,
}

/// An unsafe precondition (the seed, or the case's `setup`): the walk must end at the preflight
/// check whose description starts with `check`, which must return `rows` (not what the plan
/// expects, so the script stops there); every check before it must pass, and no step runs.
#[derive(Debug, Clone)]
pub struct Stop {
    /// The precondition the stopping check proves: matched by the check's typed field, never
    /// by its description.
    pub check: Precondition,
    pub rows: Vec<Vec<&'static str>>,
    /// Only on servers whose major version is below this one (`None`: on every server); on the
    /// others the case runs whole.
    pub below_major: Option<u32>,
}

impl Stop {
    /// Whether the case stops on a server of this major version.
    pub fn applies(&self, major: u32) -> bool {
        self.below_major.is_none_or(|m| major < m)
    }
}

/// The final content check: the migrated shape against `verify.truth`.
#[derive(Debug, Clone)]
pub struct DataCheck {
    /// FROM clause of the migrated shape.
    pub from: String,
    /// Expressions of the migrated shape, in the order of `truth`.
    pub cols: Vec<String>,
    /// The same values computed from `verify.truth` (the original shape, never migrated).
    pub truth: Vec<String>,
}

const BASE_COLS: [&str; 7] = [
    "id",
    "customer_id",
    "status",
    "amount",
    "created_at",
    "email",
    "note",
];

impl DataCheck {
    /// Every original column, unchanged.
    pub fn unchanged() -> DataCheck {
        let cols: Vec<String> = BASE_COLS.iter().map(|c| c.to_string()).collect();
        DataCheck {
            from: "public.orders".to_string(),
            cols: cols.clone(),
            truth: cols,
        }
    }

    /// Original columns, with `(new expression, truth expression)` replacing column `name`
    /// (`None` drops it from the comparison) and extra pairs appended.
    pub fn with(
        from: &str,
        replace: &[(&str, Option<(&str, &str)>)],
        extra: &[(&str, &str)],
    ) -> DataCheck {
        let mut cols = Vec::new();
        let mut truth = Vec::new();
        for c in BASE_COLS {
            match replace.iter().find(|(n, _)| *n == c) {
                Some((_, Some((new, old)))) => {
                    cols.push(new.to_string());
                    truth.push(old.to_string());
                }
                Some((_, None)) => {}
                None => {
                    cols.push(c.to_string());
                    truth.push(c.to_string());
                }
            }
        }
        for (new, old) in extra {
            cols.push(new.to_string());
            truth.push(old.to_string());
        }
        DataCheck {
            from: from.to_string(),
            cols,
            truth,
        }
    }

    /// `count | md5 of every row in id order`, NULLs spelled out.
    pub fn sql(from: &str, cols: &[String]) -> String {
        let values: Vec<String> = cols
            .iter()
            .map(|c| format!("coalesce(({c})::text, '<null>')"))
            .collect();
        format!(
            "SELECT count(*)::text || ' rows, md5 ' || coalesce(md5(string_agg(concat_ws('|', {}), E'\\n' ORDER BY ({})::bigint)), '-') FROM {from}",
            values.join(", "),
            cols[0]
        )
    }
}

fn stage(table: &str, note: Option<&str>) -> AppStage {
    AppStage {
        table: table.to_string(),
        note: note.map(str::to_string),
        ..AppStage::plain()
    }
}

fn case(change: &'static str, name: &'static str, params: &[(&'static str, &'static str)]) -> Case {
    Case {
        change,
        name,
        params: params.to_vec(),
        budget: "0",
        int_id: false,
        stages: vec![AppStage::plain()],
        data: DataCheck::unchanged(),
        inject_failed_build: false,
        expect_strategy: None,
        control: false,
        setup: "",
        stop: None,
    }
}

/// A broken precondition a case's change type guards with a preflight check, on the seeded
/// columns the cases use, and the fix an operator would make.
pub struct Violation {
    /// A NULL for add-not-null (email), a duplicate for add-unique (email), an orphan for
    /// add-foreign-key (customer_id -> customers), a row violating add-check's `amount >= 0`.
    pub breaks: &'static str,
    /// Makes the row valid again (allowed with the plan's NOT VALID constraint in place).
    pub repairs: &'static str,
}

/// The case's violation: forward.sql must stop before its first change; skipped, it fails in a
/// step; once repaired, a re-run completes the plan.
pub fn violation(case: &Case) -> Option<Violation> {
    let (breaks, repairs) = match case.change {
        "add-not-null" => (
            "UPDATE orders SET email = NULL WHERE id = (SELECT min(id) FROM orders);",
            "UPDATE orders SET email = 'repaired' || id || '@example.com' WHERE email IS NULL;",
        ),
        "add-unique" => (
            "UPDATE orders SET email = (SELECT email FROM orders WHERE email IS NOT NULL ORDER BY id LIMIT 1) WHERE id = (SELECT max(id) FROM orders WHERE email IS NOT NULL);",
            "UPDATE orders SET email = 'repaired' || id || '@example.com' WHERE id = (SELECT max(id) FROM orders WHERE email IS NOT NULL);",
        ),
        "add-foreign-key" => (
            "UPDATE orders SET customer_id = (SELECT max(id) + 1 FROM customers) WHERE id = (SELECT min(id) FROM orders);",
            "UPDATE orders SET customer_id = (SELECT min(id) FROM customers) WHERE customer_id NOT IN (SELECT id FROM customers);",
        ),
        "add-check" => (
            "UPDATE orders SET amount = -1 WHERE id = (SELECT min(id) FROM orders);",
            "UPDATE orders SET amount = 0 WHERE amount < 0;",
        ),
        _ => return None,
    };
    Some(Violation { breaks, repairs })
}

/// The change types in matrix order (the order of `lockstep_planner::request::CHANGE_KINDS`).
pub fn change_kinds() -> Vec<&'static str> {
    lockstep_planner::request::CHANGE_KINDS.to_vec()
}

/// Every case, in matrix order.
pub fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();

    // add-column: catalog-only on 11+ for a constant default; a volatile default rewrites.
    let mut c = case(
        "add-column",
        "not-null-default",
        &[
            ("column", "is_gift"),
            ("type", "boolean"),
            ("default", "false"),
            ("not-null", "true"),
        ],
    );
    c.data = DataCheck::with("public.orders", &[], &[("is_gift", "false")]);
    cases.push(c);
    let mut c = case(
        "add-column",
        "nullable",
        &[("column", "tag"), ("type", "text")],
    );
    c.data = DataCheck::with("public.orders", &[], &[("tag", "NULL::text")]);
    cases.push(c);
    let mut c = case(
        "add-column",
        "volatile-default",
        &[
            ("column", "seen_at"),
            ("type", "timestamptz"),
            ("default", "clock_timestamp()"),
        ],
    );
    c.data = DataCheck::with("public.orders", &[], &[("seen_at IS NOT NULL", "true")]);
    cases.push(c);
    // gen_random_uuid() is built in from 13, from pgcrypto before: without the extension the
    // preflight returns the missing function and the script stops before any change.
    let mut c = case(
        "add-column",
        "gen-random-uuid",
        &[
            ("column", "public_id"),
            ("type", "uuid"),
            ("default", "gen_random_uuid()"),
        ],
    );
    c.data = DataCheck::with("public.orders", &[], &[("public_id IS NOT NULL", "true")]);
    c.stop = Some(Stop {
        check: Precondition::NamedObjectsExist,
        rows: vec![vec!["gen_random_uuid()"]],
        below_major: Some(13),
    });
    cases.push(c.clone());
    // With pgcrypto installed, as the plan's warning says, the same plan runs whole.
    c.name = "gen-random-uuid-pgcrypto";
    c.setup = "CREATE EXTENSION IF NOT EXISTS pgcrypto";
    c.stop = None;
    cases.push(c);

    // drop-column: the application stops using the column before it is dropped.
    let mut c = case("drop-column", "online", &[("column", "note")]);
    c.stages = vec![AppStage::plain(), stage("orders", None)];
    c.data = DataCheck::with("public.orders", &[("note", None)], &[]);
    cases.push(c);

    // rename-column: the application moves from the old name to the new one at the gates.
    let mut c = case(
        "rename-column",
        "online",
        &[("column", "note"), ("new-name", "remark")],
    );
    c.stages = vec![AppStage::plain(), stage("orders", Some("remark"))];
    c.data = DataCheck::with("public.orders", &[("note", Some(("remark", "note")))], &[]);
    cases.push(c);

    // rename-table.
    let mut c = case("rename-table", "online", &[("new-name", "purchases")]);
    c.stages = vec![AppStage::plain(), stage("purchases", Some("note"))];
    c.data = DataCheck::with("public.purchases", &[], &[]);
    cases.push(c);

    // change-type: integer primary key to bigint (the expand/contract swap), and a varchar
    // widening that PostgreSQL does in the catalog only.
    let mut c = case(
        "change-type",
        "int-pk-to-bigint",
        &[
            ("column", "id"),
            ("from-type", "integer"),
            ("to-type", "bigint"),
        ],
    );
    c.int_id = true;
    cases.push(c);
    let mut c = case(
        "change-type",
        "int-to-bigint",
        &[
            ("column", "customer_id"),
            ("from-type", "integer"),
            ("to-type", "bigint"),
        ],
    );
    c.int_id = true;
    cases.push(c);
    cases.push(case(
        "change-type",
        "varchar-widen",
        &[
            ("column", "email"),
            ("from-type", "varchar(64)"),
            ("to-type", "varchar(128)"),
        ],
    ));

    // The single statements, with a budget they fit: their lock and rewrite claims matter as
    // much (they are what the runbook offers beside the online path, and what it runs when
    // the table is small).
    let mut c = case(
        "change-type",
        "int-to-bigint-direct",
        &[
            ("column", "customer_id"),
            ("from-type", "integer"),
            ("to-type", "bigint"),
        ],
    );
    c.int_id = true;
    c.budget = "10m";
    c.expect_strategy = Some("direct");
    cases.push(c);
    let mut c = case(
        "change-type",
        "timestamp-to-timestamptz-direct",
        &[
            ("column", "created_at"),
            ("from-type", "timestamp"),
            ("to-type", "timestamptz"),
        ],
    );
    c.budget = "10m";
    c.expect_strategy = Some("direct");
    c.data = DataCheck::with(
        "public.orders",
        &[(
            "created_at",
            Some(("created_at AT TIME ZONE 'UTC'", "created_at")),
        )],
        &[],
    );
    cases.push(c);
    let mut c = case(
        "add-column",
        "volatile-default-direct",
        &[
            ("column", "seen_at"),
            ("type", "timestamptz"),
            ("default", "clock_timestamp()"),
        ],
    );
    c.budget = "10m";
    c.data = DataCheck::with("public.orders", &[], &[("seen_at IS NOT NULL", "true")]);
    c.expect_strategy = Some("direct");
    cases.push(c.clone());
    // The same rewrite, its blocking step labelled "blocks nothing": the verifier must catch it.
    c.name = "control-mislabelled";
    c.control = true;
    cases.push(c);
    for (change, params) in [
        ("add-not-null", vec![("column", "email")]),
        ("add-unique", vec![("columns", "email")]),
        (
            "add-foreign-key",
            vec![("columns", "customer_id"), ("references", "customers(id)")],
        ),
        ("add-check", vec![("check", "amount >= 0")]),
    ] {
        let mut c = case(change, "direct", &params);
        c.budget = "10m";
        c.expect_strategy = Some("direct");
        cases.push(c);
    }

    // add-index: online (zero budget), direct (generous budget), a retry after a failed
    // concurrent build, a unique index, and expression and ordered keys.
    let idx = [("columns", "customer_id,created_at")];
    let mut c = case("add-index", "online", &idx);
    c.expect_strategy = Some("online");
    cases.push(c);
    let mut c = case("add-index", "direct", &idx);
    c.budget = "10m";
    c.expect_strategy = Some("direct");
    cases.push(c);
    let mut c = case("add-index", "retry-after-failed-build", &idx);
    c.inject_failed_build = true;
    cases.push(c);
    let mut c = case(
        "add-index",
        "unique",
        &[("columns", "email"), ("unique", "true")],
    );
    c.expect_strategy = Some("online");
    cases.push(c);
    // An expression key and an ordered key, as engineers type them.
    let mut c = case(
        "add-index",
        "expression",
        &[("columns", "lower(email), created_at DESC NULLS LAST")],
    );
    c.expect_strategy = Some("online");
    cases.push(c);

    // drop-index.
    cases.push(case(
        "drop-index",
        "online",
        &[("index", "orders_status_idx")],
    ));

    // reindex: REINDEX CONCURRENTLY from 12, a copy built concurrently and swapped in on
    // 10-11; the plain REINDEX (blocks reads too: the planner opens every index) with a
    // generous budget; and the primary key's index, which 10-11 cannot swap (the preflight
    // stops there) and 12+ rebuilds concurrently.
    let mut c = case("reindex", "online", &[("index", "orders_status_idx")]);
    c.expect_strategy = Some("online");
    cases.push(c);
    let mut c = case("reindex", "direct", &[("index", "orders_status_idx")]);
    c.budget = "10m";
    c.expect_strategy = Some("direct");
    cases.push(c.clone());
    // The plain REINDEX labelled "blocks nothing": the verifier must catch it.
    c.name = "control-mislabelled";
    c.control = true;
    cases.push(c);
    let mut c = case("reindex", "primary-key", &[("index", "orders_pkey")]);
    c.expect_strategy = Some("online");
    c.stop = Some(Stop {
        check: Precondition::IndexBacksNoConstraint,
        rows: vec![vec!["orders_pkey", "p", "orders"]],
        below_major: Some(12),
    });
    cases.push(c);

    // drop-table: the application has already moved to orders_v2 (its own copy with its own
    // sequence), which the load uses at every stage, so orders can go; with order_events
    // referencing orders (the integer-key seed), the preflight must stop.
    let mut c = case("drop-table", "online", &[]);
    c.setup = ORDERS_V2;
    let v2 = AppStage {
        table: "orders_v2".to_string(),
        ..AppStage::plain()
    };
    c.stages = vec![v2];
    c.data = DataCheck::with("public.orders_v2", &[], &[]);
    c.expect_strategy = Some("online");
    cases.push(c.clone());
    // No control case: a control needs the load's own lock wait as evidence, and the load no
    // longer uses the table; the held-lock probe (INSERT and SELECT refused) judges both steps.
    c.name = "referenced";
    c.int_id = true;
    c.stop = Some(Stop {
        check: Precondition::NotReferenced,
        rows: vec![vec!["order_events_order_id_fkey", "order_events"]],
        below_major: None,
    });
    cases.push(c);

    // add-not-null: email is nullable but holds no NULL.
    cases.push(case("add-not-null", "online", &[("column", "email")]));

    // add-unique.
    cases.push(case("add-unique", "online", &[("columns", "email")]));

    // add-foreign-key: orders.customer_id -> customers(id).
    cases.push(case(
        "add-foreign-key",
        "online",
        &[("columns", "customer_id"), ("references", "customers(id)")],
    ));

    // add-check.
    cases.push(case("add-check", "online", &[("check", "amount >= 0")]));

    // set-default / drop-default / drop-not-null: catalog-only moments under ACCESS
    // EXCLUSIVE; the simulated application writes every column, so no row depends on the
    // default and the data stay as they were.
    cases.push(case(
        "set-default",
        "online",
        &[("column", "note"), ("default", "'n/a'")],
    ));
    let mut c = case("drop-default", "online", &[("column", "status")]);
    // The deploy gate: the application already writes status on every INSERT.
    c.stages = vec![AppStage::plain(), AppStage::plain()];
    cases.push(c);
    cases.push(case("drop-not-null", "online", &[("column", "amount")]));
    // The same catalog-only step labelled "blocks nothing": the verifier must catch it.
    let mut c = case(
        "drop-not-null",
        "control-mislabelled",
        &[("column", "amount")],
    );
    c.control = true;
    cases.push(c);

    // rename-enum-value: status becomes an enum with a label the application never writes
    // ('refunded', on every 50th row); the rename locks no table and every such row reads the
    // new label at once.
    let mut c = case(
        "rename-enum-value",
        "online",
        &[
            ("type-name", "order_status"),
            ("value", "refunded"),
            ("new-value", "returned"),
        ],
    );
    c.setup = "CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled', 'refunded'); \
ALTER TABLE orders ALTER COLUMN status DROP DEFAULT, ALTER COLUMN status TYPE order_status USING status::order_status, ALTER COLUMN status SET DEFAULT 'new'; \
UPDATE orders SET status = 'refunded' WHERE id % 50 = 0; UPDATE verify.truth SET status = 'refunded' WHERE id % 50 = 0";
    c.stages = vec![AppStage::plain(), AppStage::plain(), AppStage::plain()];
    c.data = DataCheck::with(
        "public.orders",
        &[(
            "status",
            Some(("status::text", "replace(status, 'refunded', 'returned')")),
        )],
        &[],
    );
    cases.push(c);

    // add-enum-value: status becomes an enum; a label is added at the end (outside a
    // transaction block before 12, inside one from 12) and one in the middle.
    for (name, params) in [
        (
            "online",
            vec![("type-name", "order_status"), ("value", "refunded")],
        ),
        (
            "before",
            vec![
                ("type-name", "order_status"),
                ("value", "refunded"),
                ("before", "cancelled"),
            ],
        ),
    ] {
        let mut c = case("add-enum-value", name, &params);
        c.setup = "CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled'); \
ALTER TABLE orders ALTER COLUMN status DROP DEFAULT, ALTER COLUMN status TYPE order_status USING status::order_status, ALTER COLUMN status SET DEFAULT 'new'";
        c.stages = vec![AppStage::plain(), AppStage::plain()];
        c.data = DataCheck::with(
            "public.orders",
            &[("status", Some(("status::text", "status")))],
            &[],
        );
        cases.push(c);
    }

    // split-table: email and note move to order_contacts (keyed by the order id).
    let mut c = case(
        "split-table",
        "online",
        &[("columns", "email,note"), ("new-table", "order_contacts")],
    );
    // Gates: reads move to order_contacts (phase "switch reads"), then writes (phase "switch
    // writes"), then the contract phase.
    let reads_new = AppStage {
        contacts_read: Some("order_contacts".to_string()),
        ..AppStage::plain()
    };
    let writes_new = AppStage {
        note: None,
        contacts_write: Some("order_contacts".to_string()),
        contacts_read: Some("order_contacts".to_string()),
        ..AppStage::plain()
    };
    c.stages = vec![AppStage::plain(), reads_new, writes_new];
    c.data = DataCheck::with(
        "public.orders o LEFT JOIN public.order_contacts c ON c.id = o.id",
        &[
            ("id", Some(("o.id", "id"))),
            ("email", Some(("c.email", "email"))),
            ("note", Some(("c.note", "note"))),
        ],
        &[],
    );
    cases.push(c);

    cases
}

/// drop-table's replacement table: a copy of orders with its own sequence, so dropping orders
/// (and the sequence it owns) leaves it whole.
const ORDERS_V2: &str = "CREATE TABLE public.orders_v2 (LIKE public.orders INCLUDING ALL);
CREATE SEQUENCE public.orders_v2_id_seq OWNED BY public.orders_v2.id;
ALTER TABLE public.orders_v2 ALTER id SET DEFAULT nextval('public.orders_v2_id_seq');
INSERT INTO public.orders_v2 SELECT * FROM public.orders;
SELECT setval('public.orders_v2_id_seq', (SELECT max(id) FROM public.orders_v2));";

/// The seeded schema: `customers` (10k rows) and `orders` (`rows` rows, an index on
/// customer_id and one on status), with an integer key also `order_events` referencing
/// `orders (id)`; plus `verify.truth`, the never-migrated copy of `orders`.
pub fn seed_sql(rows: u64, int_id: bool) -> String {
    let id = if int_id { "serial" } else { "bigserial" };
    format!(
        "CREATE SCHEMA verify;
CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 10000) g;
CREATE TABLE orders (
  id {id} PRIMARY KEY,
  customer_id {cid} NOT NULL,
  status text NOT NULL DEFAULT 'new',
  amount numeric(12,2) NOT NULL,
  created_at timestamp NOT NULL DEFAULT now(),
  email varchar(64),
  note text
);
INSERT INTO orders (customer_id, status, amount, created_at, email, note)
SELECT 1 + (g::bigint * 7919) % 10000,
       (ARRAY['new', 'paid', 'shipped', 'cancelled'])[1 + g % 4],
       (g % 100000) / 100.0,
       timestamp '2024-01-01' + g * interval '1 minute',
       'user' || g || '@example.com',
       CASE WHEN g % 5 = 0 THEN NULL ELSE 'note ' || g END
FROM generate_series(1, {rows}) g;
CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE INDEX orders_status_idx ON orders (status);
{events}CREATE TABLE verify.truth AS SELECT * FROM orders;
ALTER TABLE verify.truth ADD PRIMARY KEY (id);
",
        cid = if int_id { "integer" } else { "bigint" },
        // An integer key is the int -> bigint case: give it a referencing foreign key, as real
        // tables have, so the plan's foreign-key steps run for real.
        events = if int_id {
            format!(
                "CREATE TABLE order_events (id bigserial PRIMARY KEY, order_id integer NOT NULL REFERENCES orders (id), kind text NOT NULL);
INSERT INTO order_events (order_id, kind) SELECT g, 'created' FROM generate_series(1, {rows}, 10) g;
CREATE INDEX order_events_order_id_idx ON order_events (order_id);
"
            )
        } else {
            String::new()
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_applies_below_its_version_only() {
        let stop = |below_major| Stop {
            check: Precondition::NoNulls,
            rows: vec![vec!["y"]],
            below_major,
        };
        assert!(stop(Some(13)).applies(11));
        assert!(!stop(Some(13)).applies(13));
        assert!(stop(None).applies(18));
        // The gen_random_uuid case stops below 13 and runs whole from 13.
        let case = all_cases()
            .into_iter()
            .find(|c| c.name == "gen-random-uuid")
            .unwrap();
        let s = case.stop.unwrap();
        assert!(s.applies(12) && !s.applies(13));
    }

    /// Every PostgreSQL version fact the planner says a live case proves names a case that
    /// exists, so renaming or dropping a case cannot leave a fact unproven silently.
    #[test]
    fn every_fact_proven_by_a_case_names_a_real_case() {
        use lockstep_planner::postgres::facts::{Proof, FACTS};
        let cases: Vec<String> = all_cases()
            .iter()
            .map(|c| format!("{}/{}", c.change, c.name))
            .collect();
        for fact in FACTS {
            if let Proof::Case(case) = fact.proof {
                assert!(
                    cases.iter().any(|c| c == case),
                    "{}: no case {case}",
                    fact.name
                );
            }
        }
    }
}
