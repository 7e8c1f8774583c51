//! The MariaDB cases: every change type, with MySQL types and defaults, on the direct path
//! (a budget the ALTER fits) and the online path (zero budget: INSTANT, INPLACE with
//! LOCK=NONE, or pt-online-schema-change), and the seeded schema they run on.

use crate::load::AppStage;
use crate::scenarios::{Case, DataCheck, Stop};
use lockstep_planner::model::Precondition;

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
        // Unqualified: the session's default database holds the case.
        data: DataCheck::with("orders", &[], &[]),
        inject_failed_build: false,
        expect_strategy: None,
        control: false,
        setup: "",
        stop: None,
    }
}

/// Every MariaDB case, in matrix order.
pub fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();

    // add-column: INSTANT for a constant default (10.3.2+), anywhere (10.4+); a default
    // computed per row needs a copy.
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
    c.data = DataCheck::with("orders", &[], &[("is_gift", "0")]);
    cases.push(c);
    let mut c = case(
        "add-column",
        "nullable",
        &[("column", "tag"), ("type", "varchar(32)")],
    );
    c.data = DataCheck::with("orders", &[], &[("tag", "NULL")]);
    cases.push(c);
    let mut c = case(
        "add-column",
        "computed-default",
        &[
            ("column", "token"),
            ("type", "char(36)"),
            ("default", "(uuid())"),
        ],
    );
    c.data = DataCheck::with("orders", &[], &[("token IS NOT NULL", "1")]);
    cases.push(c);
    let mut c = case(
        "add-column",
        "computed-default-direct",
        &[
            ("column", "token"),
            ("type", "char(36)"),
            ("default", "(uuid())"),
        ],
    );
    c.budget = "10m";
    c.expect_strategy = Some("direct");
    c.data = DataCheck::with("orders", &[], &[("token IS NOT NULL", "1")]);
    cases.push(c.clone());
    // The same copy, its blocking step labelled "blocks nothing": the verifier must catch it.
    c.name = "control-mislabelled";
    c.control = true;
    cases.push(c);
    // What refuses INSTANT ADD COLUMN on every version: the preflight stops before any change.
    let mut c = case(
        "add-column",
        "fulltext-refuses-instant",
        &[("column", "tag"), ("type", "varchar(32)")],
    );
    c.setup = "ALTER TABLE orders ADD FULLTEXT INDEX orders_status_ft (status)";
    c.stop = Some(Stop {
        check: Precondition::NoFulltextIndex,
        rows: vec![vec!["0"]],
        below_major: None,
    });
    cases.push(c);
    let mut c = case(
        "add-column",
        "compressed-refuses-instant",
        &[("column", "tag"), ("type", "varchar(32)")],
    );
    c.setup = "ALTER TABLE orders ROW_FORMAT=COMPRESSED";
    c.stop = Some(Stop {
        check: Precondition::NotCompressed,
        rows: vec![vec!["0"]],
        below_major: None,
    });
    cases.push(c);

    // drop-column: the application stops using the column before it is dropped.
    let mut c = case("drop-column", "online", &[("column", "note")]);
    c.stages = vec![AppStage::plain(), stage("orders", None)];
    c.data = DataCheck::with("orders", &[("note", None)], &[]);
    cases.push(c);

    // rename-column: the application moves from the old name to the new one at the gates.
    let mut c = case(
        "rename-column",
        "online",
        // CHANGE restates the column: its current full type.
        &[("column", "note"), ("new-name", "remark"), ("type", "text")],
    );
    c.stages = vec![AppStage::plain(), stage("orders", Some("remark"))];
    c.data = DataCheck::with("orders", &[("note", Some(("remark", "note")))], &[]);
    cases.push(c);

    // rename-table.
    let mut c = case("rename-table", "online", &[("new-name", "purchases")]);
    c.stages = vec![AppStage::plain(), stage("purchases", Some("note"))];
    c.data = DataCheck::with("purchases", &[], &[]);
    cases.push(c);

    // change-type: INT -> BIGINT needs a copy on InnoDB: pt-online-schema-change online, a
    // blocking ALGORITHM=COPY with a budget; the key column too (order_events references it).
    // MODIFY restates the whole column: the types carry NOT NULL (and AUTO_INCREMENT), as the
    // plan's warning asks.
    let mut c = case(
        "change-type",
        "int-to-bigint",
        &[
            ("column", "customer_id"),
            ("from-type", "int NOT NULL"),
            ("to-type", "bigint NOT NULL"),
            ("foreign-keys", "true"),
        ],
    );
    c.int_id = true;
    cases.push(c);
    // The key itself: no table references it here (a referencing INT column would have to
    // change first; the plan's preflight says so).
    let mut c = case(
        "change-type",
        "int-pk-to-bigint",
        &[
            ("column", "id"),
            ("from-type", "int NOT NULL AUTO_INCREMENT"),
            ("to-type", "bigint NOT NULL AUTO_INCREMENT"),
        ],
    );
    c.int_id = true;
    cases.push(c);
    let mut c = case(
        "change-type",
        "int-to-bigint-direct",
        &[
            ("column", "customer_id"),
            ("from-type", "int NOT NULL"),
            ("to-type", "bigint NOT NULL"),
            ("foreign-keys", "true"),
        ],
    );
    c.int_id = true;
    c.budget = "10m";
    c.expect_strategy = Some("direct");
    cases.push(c);
    // MODIFY restates the whole column: a definition that leaves out an attribute the column
    // has is caught by the preflight, which returns what would be dropped, before any change.
    let mut c = case(
        "change-type",
        "int-pk-loses-auto-increment",
        &[
            ("column", "id"),
            ("from-type", "int NOT NULL AUTO_INCREMENT"),
            ("to-type", "bigint NOT NULL"),
        ],
    );
    c.int_id = true;
    c.stop = Some(Stop {
        check: Precondition::ColumnKeepsAttributes,
        rows: vec![vec!["AUTO_INCREMENT"]],
        below_major: None,
    });
    cases.push(c);
    let mut c = case(
        "change-type",
        "loses-on-update",
        &[
            ("column", "touched_at"),
            ("from-type", "timestamp"),
            (
                "to-type",
                "datetime NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT 'last change'",
            ),
        ],
    );
    c.setup = "ALTER TABLE orders ADD COLUMN touched_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'last change'";
    c.stop = Some(Stop {
        check: Precondition::ColumnKeepsAttributes,
        rows: vec![vec!["on update current_timestamp()"]],
        below_major: None,
    });
    cases.push(c);
    // The same column restated whole: the check passes, and the copy and its rollback keep
    // every attribute.
    let mut c = case(
        "change-type",
        "keeps-every-attribute",
        &[
            ("column", "touched_at"),
            ("from-type", "timestamp"),
            (
                "to-type",
                "datetime NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'last change'",
            ),
        ],
    );
    c.setup = "ALTER TABLE orders ADD COLUMN touched_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT 'last change'";
    cases.push(c);
    let mut c = case(
        "change-type",
        "loses-default-comment-charset",
        &[
            ("column", "label"),
            ("from-type", "varchar(20)"),
            ("to-type", "varchar(40) NOT NULL"),
        ],
    );
    c.setup = "ALTER TABLE orders ADD COLUMN label varchar(20) CHARACTER SET latin1 NOT NULL DEFAULT 'none' COMMENT 'shown to staff' INVISIBLE";
    c.stop = Some(Stop {
        check: Precondition::ColumnKeepsAttributes,
        rows: vec![vec![
            "DEFAULT 'none', COMMENT 'shown to staff', INVISIBLE, CHARACTER SET latin1 COLLATE latin1_swedish_ci",
        ]],
        below_major: None,
    });
    cases.push(c);
    let mut c = case(
        "change-type",
        "loses-generated",
        &[
            ("column", "amount_cents"),
            ("from-type", "bigint"),
            ("to-type", "decimal(14,0)"),
        ],
    );
    c.setup = "ALTER TABLE orders ADD COLUMN amount_cents bigint AS (amount * 100) VIRTUAL";
    c.stop = Some(Stop {
        check: Precondition::ColumnKeepsAttributes,
        rows: vec![vec!["GENERATED ALWAYS AS (`amount` * 100)"]],
        below_major: None,
    });
    cases.push(c);
    // utf8mb4: 64 and 128 characters both need two length bytes, so INSTANT.
    cases.push(case(
        "change-type",
        "varchar-widen",
        &[
            ("column", "email"),
            ("from-type", "varchar(64)"),
            ("to-type", "varchar(128)"),
        ],
    ));
    // latin1, named in the types: 60 -> 100 characters is 60 -> 100 bytes, one length byte
    // throughout, so INSTANT (counted as utf8mb4 it would cross 255 bytes and need a copy).
    let mut c = case(
        "change-type",
        "varchar-latin1",
        &[
            ("column", "code"),
            ("from-type", "varchar(60) CHARACTER SET latin1"),
            ("to-type", "varchar(100) CHARACTER SET latin1"),
        ],
    );
    c.setup = "ALTER TABLE orders ADD COLUMN code varchar(60) CHARACTER SET latin1";
    c.expect_strategy = Some("direct");
    cases.push(c);
    // The same latin1 column (the table's default set, so the types need not name it) planned
    // without its set: utf8mb4 is assumed, the plan would copy the table needlessly, and its
    // preflight stops, naming what to re-plan with.
    let mut c = case(
        "change-type",
        "varchar-charset-assumed",
        &[
            ("column", "code"),
            ("from-type", "varchar(60)"),
            ("to-type", "varchar(100)"),
        ],
    );
    c.setup = "ALTER TABLE orders DEFAULT CHARACTER SET latin1, ADD COLUMN code varchar(60)";
    c.stop = Some(Stop {
        check: Precondition::CharsetAsPlanned,
        rows: vec![vec!["0"]],
        below_major: None,
    });
    cases.push(c);

    // add-index: NOCOPY with LOCK=NONE, plain and unique (the server refuses rather than
    // rebuild; TABLE_ID must not change): the single ALTER is already online, so the plan
    // calls it the direct path.
    cases.push(case(
        "add-index",
        "online",
        &[("columns", "customer_id,created_at")],
    ));
    cases.push(case(
        "add-index",
        "unique",
        &[("columns", "email"), ("unique", "true")],
    ));
    // A descending key (built as one from MariaDB 10.8).
    cases.push(case(
        "add-index",
        "descending",
        &[("columns", "customer_id, created_at DESC")],
    ));

    cases.push(case(
        "drop-index",
        "online",
        &[("index", "orders_status_idx")],
    ));

    // drop-table: the application already uses orders_v2 (a copy), so orders can go: renamed
    // aside, then dropped (the drop stalls the server for its commit moment).
    let mut c = case("drop-table", "online", &[]);
    c.setup = "CREATE TABLE orders_v2 LIKE orders; INSERT INTO orders_v2 SELECT * FROM orders";
    c.stages = vec![stage("orders_v2", Some("note"))];
    c.data = DataCheck::with("orders_v2", &[], &[]);
    cases.push(c);

    // reindex: InnoDB rebuilds the whole table (FORCE, INPLACE, LOCK=NONE).
    cases.push(case("reindex", "online", &[("index", "orders_status_idx")]));

    // add-not-null: email is nullable but holds no NULL; INPLACE rebuild with LOCK=NONE (and
    // NOCOPY refused: the rebuild is needed).
    cases.push(case(
        "add-not-null",
        "online",
        &[("column", "email"), ("type", "varchar(64)")],
    ));

    // Each guarded precondition broken on purpose: the downloaded script must stop at the
    // check that guards it, before the first change, the table untouched (issue 10). The
    // never-migrated truth gets the same row, so the data check compares like with like.
    let mut c = case(
        "add-not-null",
        "null-row",
        &[("column", "email"), ("type", "varchar(64)")],
    );
    c.setup = "UPDATE orders SET email = NULL ORDER BY id LIMIT 1; UPDATE verify.truth SET email = NULL ORDER BY id LIMIT 1";
    c.stop = Some(Stop {
        check: Precondition::NoNulls,
        rows: vec![vec!["1"]],
        below_major: None,
    });
    cases.push(c);

    cases.push(case("add-unique", "online", &[("columns", "email")]));
    let mut c = case("add-unique", "duplicate", &[("columns", "email")]);
    c.setup = "UPDATE orders SET email = 'twice@example.com' ORDER BY id LIMIT 2; UPDATE verify.truth SET email = 'twice@example.com' ORDER BY id LIMIT 2";
    c.stop = Some(Stop {
        check: Precondition::NoDuplicates,
        rows: vec![vec!["twice@example.com", "2"]],
        below_major: None,
    });
    cases.push(c);

    // add-foreign-key: orders.customer_id -> customers(id); NOCOPY (no rebuild) only with
    // foreign_key_checks=0, so the plan must validate the rows itself.
    cases.push(case(
        "add-foreign-key",
        "online",
        &[("columns", "customer_id"), ("references", "customers(id)")],
    ));

    let mut c = case(
        "add-foreign-key",
        "orphan",
        &[("columns", "customer_id"), ("references", "customers(id)")],
    );
    c.setup = "UPDATE orders SET customer_id = 999999999 ORDER BY id LIMIT 1; UPDATE verify.truth SET customer_id = 999999999 ORDER BY id LIMIT 1";
    c.stop = Some(Stop {
        check: Precondition::NoOrphans,
        rows: vec![vec!["999999999"]],
        below_major: None,
    });
    cases.push(c);

    // add-check: MariaDB can only add a CHECK by copying the table.
    cases.push(case("add-check", "online", &[("check", "amount >= 0")]));
    let mut c = case("add-check", "violating-row", &[("check", "amount >= 0")]);
    c.setup = "UPDATE orders SET amount = -1 ORDER BY id LIMIT 1; UPDATE verify.truth SET amount = -1 ORDER BY id LIMIT 1";
    c.stop = Some(Stop {
        check: Precondition::NoViolatingRows,
        rows: vec![vec!["1"]],
        below_major: None,
    });
    cases.push(c);
    let mut c = case("add-check", "direct", &[("check", "amount >= 0")]);
    c.budget = "10m";
    c.expect_strategy = Some("direct");
    cases.push(c);

    // set-default / drop-default: ALGORITHM=INSTANT (metadata only); drop-not-null: an
    // in-place rebuild with LOCK=NONE restating the column.
    cases.push(case(
        "set-default",
        "online",
        &[("column", "note"), ("default", "'n/a'")],
    ));
    let mut c = case("drop-default", "online", &[("column", "status")]);
    c.stages = vec![AppStage::plain(), AppStage::plain()];
    cases.push(c);
    cases.push(case(
        "drop-not-null",
        "online",
        &[("column", "status"), ("type", "varchar(16) DEFAULT 'new'")],
    ));
    // Restating the column without its DEFAULT would drop it: the preflight stops.
    let mut c = case(
        "drop-not-null",
        "lost-default",
        &[("column", "status"), ("type", "varchar(16)")],
    );
    c.stop = Some(Stop {
        check: Precondition::ColumnKeepsAttributes,
        rows: vec![vec!["DEFAULT 'new'"]],
        below_major: None,
    });
    cases.push(c);

    // rename-enum-value: status becomes an ENUM with a member the application never writes
    // ('refunded', on every 50th row): the new member is appended (INSTANT), then the rows move.
    let mut c = case(
        "rename-enum-value",
        "online",
        &[
            ("column", "status"),
            (
                "type",
                "enum('new','paid','shipped','cancelled','refunded') NOT NULL DEFAULT 'new'",
            ),
            ("value", "refunded"),
            ("new-value", "returned"),
        ],
    );
    c.setup = "ALTER TABLE orders MODIFY status enum('new','paid','shipped','cancelled','refunded') NOT NULL DEFAULT 'new'; \
UPDATE orders SET status = 'refunded' WHERE id % 50 = 0; UPDATE verify.truth SET status = 'refunded' WHERE id % 50 = 0";
    c.stages = vec![AppStage::plain(), AppStage::plain(), AppStage::plain()];
    c.data = DataCheck::with(
        "orders",
        &[(
            "status",
            Some(("status", "REPLACE(status, 'refunded', 'returned')")),
        )],
        &[],
    );
    cases.push(c);

    // add-enum-value: appended (INSTANT), and placed in the middle (a copy: writes wait).
    let enum_type = "enum('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new'";
    for (name, place, budget) in [
        ("online", None, "0"),
        ("before-copy", Some(("before", "cancelled")), "10m"),
    ] {
        let mut params = vec![
            ("column", "status"),
            ("type", enum_type),
            ("value", "refunded"),
        ];
        params.extend(place);
        let mut c = case("add-enum-value", name, &params);
        c.setup = "ALTER TABLE orders MODIFY status enum('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new'";
        c.stages = vec![AppStage::plain(), AppStage::plain()];
        c.budget = budget;
        cases.push(c.clone());
        // The copy labelled "blocks nothing": the verifier must catch it.
        if place.is_some() {
            c.name = "control-mislabelled";
            c.control = true;
            cases.push(c);
        }
    }

    // split-table: email and note move to order_contacts (keyed by the order id).
    let mut c = case(
        "split-table",
        "online",
        &[("columns", "email,note"), ("new-table", "order_contacts")],
    );
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
        "orders o LEFT JOIN order_contacts c ON c.id = o.id",
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

/// Whether the case's seed has `order_events` referencing `orders (id)`: every INT-key case but
/// those changing the key itself.
pub fn with_events(case: &Case) -> bool {
    case.int_id && !case.name.starts_with("int-pk-")
}

/// `count | md5 of every row in id order`, NULLs spelled out (MariaDB's form of
/// [`DataCheck::sql`]; the session needs a large `group_concat_max_len`).
pub fn data_sql(from: &str, cols: &[String]) -> String {
    let values: Vec<String> = cols
        .iter()
        .map(|c| format!("COALESCE(CAST(({c}) AS CHAR), '<null>')"))
        .collect();
    format!(
        "SELECT CONCAT(COUNT(*), ' rows, md5 ', COALESCE(MD5(GROUP_CONCAT(CONCAT_WS('|', {}) ORDER BY ({}) SEPARATOR '\\n')), '-')) FROM {from}",
        values.join(", "),
        cols[0]
    )
}

/// The seeded schema in database `app` (utf8mb4, InnoDB): `customers` (10k rows), `orders`
/// (`rows` rows, an index on customer_id and one on status), with an INT key also
/// `order_events` referencing `orders (id)` (unless `events` is false); and `verify.truth`, the never-migrated copy of
/// `orders`. Rows come from the SEQUENCE engine (`seq_1_to_N`).
pub fn seed_sql(rows: u64, int_id: bool, events: bool) -> String {
    let int = if int_id { "int" } else { "bigint" };
    let events = if int_id && events {
        format!(
            "CREATE TABLE order_events (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, order_id int NOT NULL, kind varchar(16) NOT NULL, \
             KEY order_events_order_id_idx (order_id), CONSTRAINT order_events_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id));
INSERT INTO order_events (order_id, kind) SELECT seq, 'created' FROM seq_1_to_{rows}_step_10;
"
        )
    } else {
        String::new()
    };
    format!(
        "CREATE TABLE customers (id bigint NOT NULL PRIMARY KEY, name varchar(100) NOT NULL);
INSERT INTO customers SELECT seq, CONCAT('customer ', seq) FROM seq_1_to_10000;
CREATE TABLE orders (
  id {int} NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id {cid} NOT NULL,
  status varchar(16) NOT NULL DEFAULT 'new',
  amount decimal(12,2) NOT NULL,
  created_at datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  email varchar(64),
  note text,
  KEY orders_customer_id_idx (customer_id),
  KEY orders_status_idx (status)
);
INSERT INTO orders (customer_id, status, amount, created_at, email, note)
SELECT 1 + (seq * 7919) % 10000, ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'cancelled'),
       (seq % 100000) / 100.0, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq MINUTE,
       CONCAT('user', seq, '@example.com'), IF(seq % 5 = 0, NULL, CONCAT('note ', seq))
FROM seq_1_to_{rows};
{events}CREATE TABLE verify.truth LIKE orders;
INSERT INTO verify.truth SELECT * FROM orders;
ANALYZE TABLE customers, orders;
",
        // customers.id is BIGINT: a foreign key needs the same type on both sides, so the
        // INT case (int -> bigint) has no customers FK case.
        cid = int,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every MySQL-family version fact the planner says a live case proves names a MariaDB
    /// case that exists, so renaming or dropping a case cannot leave a fact unproven silently.
    #[test]
    fn every_fact_proven_by_a_case_names_a_real_case() {
        use lockstep_planner::mysql::facts::{Proof, FACTS};
        let cases: Vec<String> = all_cases()
            .iter()
            .map(|c| format!("{}/{}", c.change, c.name))
            .collect();
        for fact in FACTS {
            if let Proof::Case(case) = fact.proof {
                assert!(
                    cases.iter().any(|c| c == case),
                    "{}: no MariaDB case {case}",
                    fact.name
                );
            }
        }
    }
}
