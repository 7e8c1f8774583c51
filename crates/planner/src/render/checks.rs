//! A check as the forward script runs it. A stopping check shows what it found and, when that
//! differs from what the plan expects, stops the script before the next step with a message
//! naming the check, what it expects and the variable that skips it knowingly. An informing
//! check shows its result and says the script goes on. Written here once for psql and once
//! for the mysql client; every check of every plan goes through these functions.

use crate::model::{Check, Expected};
use crate::quote;
use crate::request::Engine;

/// The check's query without its final `;`, to nest it in another query.
fn query(check: &Check) -> &str {
    check.sql.trim_end().trim_end_matches(';').trim_end()
}

/// The comment lines every check starts with: number, description, expectation, and whether
/// it reads the whole table (`runs`: how often the script runs its query).
fn heading(number: &str, check: &Check, runs: &str) -> String {
    let mut out = format!(
        "\n-- Check {number}: {}\n-- Expect: {}\n",
        check.description, check.expect
    );
    if check.scans_table {
        out.push_str(&format!("-- Reads the whole table{runs}: on a big table it takes as long as a full scan. Run its query on a replica first to know the answer early.\n"));
    }
    out
}

/// The message a failed check stops with.
fn failure(number: &str, check: &Check) -> String {
    format!(
        "Lockstep check {number} failed: {}. Expected {}",
        check.description, check.expect
    )
}

/// PostgreSQL: one row's values as `record_out` prints the row (`(a,"b c",)`): a value holding
/// a quote, a backslash, a parenthesis, a comma or white space is double-quoted with `"` and
/// `\` doubled; an empty value is a NULL (the verifier reads NULL as an empty value).
pub fn pg_record_text(values: &[String]) -> String {
    let fields: Vec<String> = values
        .iter()
        .map(|v| {
            let special = v
                .chars()
                .any(|c| matches!(c, '"' | '\\' | '(' | ')' | ',') || c.is_whitespace());
            if special {
                format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\"\""))
            } else {
                v.clone()
            }
        })
        .collect();
    format!("({})", fields.join(","))
}

/// PostgreSQL: the expected rows as a `text[]` of record texts, in order.
fn pg_expected_array(expected: &Expected) -> String {
    let rows = match expected {
        Expected::Rows(rows) => rows.as_slice(),
        Expected::NoRows | Expected::Manual => &[],
    };
    if rows.is_empty() {
        return "'{}'::text[]".to_string();
    }
    let items: Vec<String> = rows
        .iter()
        .map(|r| quote::literal(&pg_record_text(r)))
        .collect();
    format!("ARRAY[{}]::text[]", items.join(", "))
}

/// PostgreSQL: a query returning `found` (the rows as a `text[]`, the query run once) and `ok`
/// (true when they are the expected rows, in order).
pub fn pg_found_ok(check: &Check) -> String {
    pg_select(check, "lockstep_found AS found, ")
}

/// PostgreSQL: a query returning `ok` alone. (`lockstep_found`, not `found`: the completion
/// test runs inside PL/pgSQL, where `found` is a variable.)
fn pg_ok(check: &Check) -> String {
    pg_select(check, "")
}

fn pg_select(check: &Check, found: &str) -> String {
    format!(
        "SELECT {found}lockstep_found = {} AS ok FROM (SELECT ARRAY(SELECT lockstep_q::text FROM ({}) lockstep_q) AS lockstep_found) lockstep_r",
        pg_expected_array(&check.expected),
        query(check)
    )
}

/// psql: the check as the forward script runs it.
pub fn pg(number: &str, check: &Check) -> String {
    let mut out = heading(number, check, "");
    let Some(var) = check.skip_var.as_deref().filter(|_| check.stops()) else {
        out.push_str(
            "-- Informs only: the script shows the result and goes on; judge it yourself.\n",
        );
        out.push_str(&format!(
            "\\echo {}\n{}\n",
            quote::psql_arg(&format!(
                "Check {number} (informs only, the script goes on): {}. Expect {}",
                check.description, check.expect
            )),
            check.sql.trim_end()
        ));
        return out;
    };
    out.push_str(&format!(
        "-- Stops the script when the result differs. To go on knowingly without it: psql -X -v {var}=1 -f <this file>\n"
    ));
    let body = format!(
        "BEGIN RAISE EXCEPTION USING MESSAGE = {}, HINT = {}; END",
        quote::literal(&failure(number, check)),
        quote::literal(&format!(
            "Fix what the check found (printed above), then run the script again; it resumes where it stopped. To go on knowingly without this check: psql -X -v {var}=1 -f <this file>"
        ))
    );
    out.push_str(&format!(
        "\\if :{{?{var}}}\n\\echo {skipped}\n\\else\n{found_ok} \\gset lockstep_check_\n\\echo {label} :lockstep_check_found\n\\if :lockstep_check_ok\n\\else\nDO {body};\n\\endif\n\\endif\n",
        skipped = quote::psql_arg(&format!(
            "Check {number} skipped: {var} is set. {}",
            check.description
        )),
        found_ok = pg_found_ok(check),
        label = quote::psql_arg(&format!("Check {number} ({}) found:", check.description)),
        body = quote::literal(&body),
    ));
    out
}

/// psql: a query returning one boolean, `applied`, true when every check passes; a check
/// whose query fails (a relation not there yet) counts as not passing.
pub fn pg_all_pass(checks: &[&Check]) -> String {
    let all = checks
        .iter()
        .map(|c| format!("({})", pg_ok(c)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let body = format!(
        "BEGIN PERFORM set_config('lockstep.applied', ({all})::text, false); EXCEPTION WHEN OTHERS THEN PERFORM set_config('lockstep.applied', 'false', false); END"
    );
    format!(
        "DO {};\nSELECT current_setting('lockstep.applied')::boolean AS applied",
        quote::literal(&body)
    )
}

/// psql: the script's opening question: when the plan is already complete it says so and
/// ends, so a re-run of a finished script changes nothing.
pub fn pg_already_applied(checks: &[&Check]) -> String {
    if checks.is_empty() {
        return String::new();
    }
    let numbers = checks
        .iter()
        .map(|c| c.description.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "\n-- Already applied? When the last phase's checks all pass ({numbers}), the plan is complete: the script says so and ends without changing anything.\n{} \\gset lockstep_\n\\if :lockstep_applied\n\\echo 'Lockstep: this plan is already applied (the last phase''s checks all pass): nothing to do.'\n\\quit\n\\endif\n",
        pg_all_pass(checks)
    )
}

/// MySQL/MariaDB: true when the check's query returns the expected rows (order aside).
fn mysql_ok(check: &Check) -> String {
    let q = query(check);
    let rows = match &check.expected {
        Expected::Rows(rows) if !rows.is_empty() => rows,
        _ => return format!("NOT EXISTS ({q})"),
    };
    let row_value = |r: &Vec<String>| {
        let values: Vec<String> = r.iter().map(|v| quote::mysql::literal(v)).collect();
        if values.len() == 1 {
            values[0].clone()
        } else {
            format!("({})", values.join(", "))
        }
    };
    if rows.len() == 1 {
        return format!("COALESCE({} = ({q}), FALSE)", row_value(&rows[0]));
    }
    let mut parts = vec![format!(
        "(SELECT COUNT(*) FROM ({q}) lockstep_q) = {}",
        rows.len()
    )];
    for r in rows {
        parts.push(format!(
            "{} IN (SELECT * FROM ({q}) lockstep_q)",
            row_value(r)
        ));
    }
    format!("COALESCE({}, FALSE)", parts.join(" AND "))
}

/// mysql client: the check as the forward script runs it. The client has no conditional, so
/// a failed check prints its message as a row and then sets `sql_mode` to a value the server
/// refuses, which stops the client (no routine, no privilege beyond the session's).
pub fn mysql(number: &str, check: &Check, engine: Engine) -> String {
    if let (Some(guard), Engine::Mariadb) = (&check.only_if, engine) {
        return mariadb_guarded(number, check, guard);
    }
    let runs = if check.stops() {
        " (twice here: once to show, once to decide)"
    } else {
        ""
    };
    let mut out = heading(number, check, runs);
    let Some(var) = check.skip_var.as_deref().filter(|_| check.stops()) else {
        out.push_str(
            "-- Informs only: the script shows the result and goes on; judge it yourself.\n",
        );
        out.push_str(&format!("{}\n", check.sql.trim_end()));
        return out;
    };
    out.push_str(&format!(
        "-- Stops the script when the result differs. To go on knowingly without it: mysql --init-command='SET @{var}=1' ...\n"
    ));
    out.push_str(&format!(
        "{sql}\nSET @lockstep_check_ok = COALESCE(@{var}, 0) = 1 OR {ok};\nSELECT {message} AS lockstep_check_failed FROM DUAL WHERE NOT @lockstep_check_ok;\nSET SESSION sql_mode = IF(@lockstep_check_ok, @@SESSION.sql_mode, {stop});\n",
        sql = check.sql.trim_end(),
        ok = mysql_ok(check),
        message = quote::mysql::literal(&format!(
            "{}. Fix what the check found (shown above), then run the script again. To go on knowingly without this check: mysql --init-command='SET @{var}=1' ...",
            failure(number, check)
        )),
        stop = quote::mysql::literal(&format!("lockstep check {number} failed")),
    ));
    out
}

/// MariaDB, a check of a transition state (`only_if`): it runs, shows and decides only while its
/// guard returns 1. Its query names objects a completed plan has removed, so even the decision
/// is a prepared statement: the server never parses it once the guard is 0 (a re-run of the
/// finished script skips the check instead of failing on it).
fn mariadb_guarded(number: &str, check: &Check, guard: &str) -> String {
    let guard = guard.trim_end().trim_end_matches(';');
    let prepared = |sql: &str, otherwise: &str| {
        format!(
            "SET @lockstep_sql = IF(@lockstep_run, {}, {});\nPREPARE lockstep_stmt FROM @lockstep_sql;\nEXECUTE lockstep_stmt;\nDEALLOCATE PREPARE lockstep_stmt;\n",
            quote::mysql::literal(sql),
            quote::mysql::literal(otherwise)
        )
    };
    let mut out = heading(number, check, "");
    out.push_str(
        "-- Runs only while this plan has not gone past its phase (on a re-run of the finished script it is skipped).\n",
    );
    out.push_str(&format!("SET @lockstep_run = ({guard});\n"));
    let query = check.sql.trim_end().trim_end_matches(';');
    out.push_str(&prepared(
        query,
        "SELECT 'skipped: the plan has gone past this phase' AS skipped",
    ));
    let Some(var) = check.skip_var.as_deref().filter(|_| check.stops()) else {
        return out;
    };
    out.push_str(&prepared(
        &format!("SELECT {} INTO @lockstep_check_ok", mysql_ok(check)),
        "SELECT TRUE INTO @lockstep_check_ok",
    ));
    out.push_str(&format!(
        "SET @lockstep_check_ok = COALESCE(@{var}, 0) = 1 OR @lockstep_check_ok;\nSELECT {message} AS lockstep_check_failed FROM DUAL WHERE NOT @lockstep_check_ok;\nSET SESSION sql_mode = IF(@lockstep_check_ok, @@SESSION.sql_mode, {stop});\n",
        message = quote::mysql::literal(&format!(
            "{}. Fix what the check found (shown above), then run the script again. To go on knowingly without this check: mysql --init-command='SET @{var}=1' ...",
            failure(number, check)
        )),
        stop = quote::mysql::literal(&format!("lockstep check {number} failed")),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::pg_record_text;
    use crate::model::Plan;
    use crate::render::sql::forward;
    use crate::request::params::Params;

    fn plan(db: &str, table: &str, change: &[(&str, &str)]) -> Plan {
        crate::plan(&Params::zero_budget(db, table, change)).unwrap()
    }

    fn not_null(db: &str, table: &str) -> Plan {
        plan(
            db,
            table,
            &[
                ("change", "add-not-null"),
                ("column", "email"),
                ("type", "varchar(64)"),
            ],
        )
    }

    #[test]
    fn psql_stops_on_the_null_check_before_the_first_change() {
        let s = forward(&not_null("postgresql@12", "orders"));
        let check = s.find("-- Check 1.6: No NULL is left").unwrap();
        let block = &s[check..s.find("-- ===== Phase 2").unwrap()];
        assert!(block.contains("-- Reads the whole table"), "{block}");
        assert!(block.contains("\\if :{?lockstep_skip_1_6}\n"), "{block}");
        assert!(
            block.contains("lockstep_found = ARRAY['(0)']::text[] AS ok FROM (SELECT ARRAY(SELECT lockstep_q::text FROM (SELECT count(*) AS null_rows FROM orders WHERE email IS NULL) lockstep_q) AS lockstep_found) lockstep_r \\gset lockstep_check_\n"),
            "{block}"
        );
        let raise = block.find("\\if :lockstep_check_ok\n\\else\nDO 'BEGIN RAISE EXCEPTION USING MESSAGE = ''Lockstep check 1.6 failed: No NULL").unwrap();
        assert!(block[raise..].contains("psql -X -v lockstep_skip_1_6=1 -f"));
        // The first change comes after every preflight check's stop.
        assert!(s.find("ALTER TABLE").unwrap() > check + block.len());
    }

    #[test]
    fn psql_script_first_asks_whether_the_plan_is_already_applied() {
        let s = forward(&not_null("postgresql@16", "orders"));
        let ask = s
            .find("\\if :lockstep_applied\n\\echo 'Lockstep: this plan is already applied")
            .unwrap();
        assert!(ask < s.find("-- ===== Phase 1").unwrap());
        assert!(s[..ask].contains(
            "EXCEPTION WHEN OTHERS THEN PERFORM set_config(''lockstep.applied'', ''false'', false)"
        ));
        assert!(s[ask..].starts_with("\\if :lockstep_applied\n\\echo 'Lockstep: this plan is already applied (the last phase''s checks all pass): nothing to do.'\n\\quit\n\\endif\n"));
    }

    #[test]
    fn informing_checks_say_so_and_never_stop() {
        let s = forward(&plan(
            "postgresql@12",
            "orders",
            &[
                ("change", "add-not-null"),
                ("column", "email"),
                ("replicas", "true"),
            ],
        ));
        // Replication lag is judged by the operator.
        let check = s.find("-- Check 1.4: Replicas are caught up").unwrap();
        let block = &s[check..s.find("-- Check 1.5").unwrap()];
        assert!(block.contains("-- Informs only: the script shows the result and goes on"));
        assert!(
            !block.contains("\\if") && !block.contains("RAISE"),
            "{block}"
        );
    }

    #[test]
    fn mysql_stops_with_one_failing_statement_after_showing_the_finding() {
        let s = forward(&not_null("mariadb@10.11", "orders"));
        let check = s.find("-- Check 1.8: No NULL is left").unwrap();
        let block = &s[check..s.find("-- Check 1.9").unwrap()];
        let lines: Vec<&str> = block.lines().collect();
        let show = lines
            .iter()
            .position(|l| *l == "SELECT COUNT(*) AS null_rows FROM `orders` WHERE `email` IS NULL;")
            .unwrap();
        assert_eq!(lines[show + 1], "SET @lockstep_check_ok = COALESCE(@lockstep_skip_1_8, 0) = 1 OR COALESCE('0' = (SELECT COUNT(*) AS null_rows FROM `orders` WHERE `email` IS NULL), FALSE);");
        assert!(lines[show + 2].starts_with("SELECT 'Lockstep check 1.8 failed: No NULL"));
        assert!(lines[show + 2]
            .ends_with("AS lockstep_check_failed FROM DUAL WHERE NOT @lockstep_check_ok;"));
        assert_eq!(lines[show + 3], "SET SESSION sql_mode = IF(@lockstep_check_ok, @@SESSION.sql_mode, 'lockstep check 1.8 failed');");
        assert!(block.contains("(twice here: once to show, once to decide)"));
        assert!(s.find("ALTER TABLE").unwrap() > check + block.len());
    }

    #[test]
    fn mysql_compares_several_columns_and_rows() {
        use super::mysql_ok;
        use crate::model::Expected;
        use crate::strategy::check;
        let one = check("c", "SELECT a, b FROM t;", "x", Expected::row(&["x", "1"]));
        assert_eq!(
            mysql_ok(&one),
            "COALESCE(('x', '1') = (SELECT a, b FROM t), FALSE)"
        );
        let two = check(
            "c",
            "SELECT a FROM t LIMIT 5;",
            "x",
            Expected::Rows(vec![vec!["x".into()], vec!["y".into()]]),
        );
        assert_eq!(
            mysql_ok(&two),
            "COALESCE((SELECT COUNT(*) FROM (SELECT a FROM t LIMIT 5) lockstep_q) = 2 AND 'x' IN (SELECT * FROM (SELECT a FROM t LIMIT 5) lockstep_q) AND 'y' IN (SELECT * FROM (SELECT a FROM t LIMIT 5) lockstep_q), FALSE)"
        );
    }

    #[test]
    fn hostile_names_stay_inside_the_stop_message_literal() {
        let hostile = "orders'; drop table x; --";
        let s = forward(&not_null("postgresql@12", hostile));
        for line in s.lines().filter(|l| l.starts_with("DO '")) {
            let body = &line["DO '".len()..line.len() - "';".len()];
            assert!(line.ends_with("';"), "{line}");
            // Inside the literal every quote is doubled: no lone quote ends it early.
            assert!(!body.replace("''", "").contains('\''), "{line}");
        }
        for line in s.lines().filter(|l| l.starts_with("\\echo ")) {
            let arg = line.trim_start_matches("\\echo ");
            let quoted = arg.split(" :lockstep_check_found").next().unwrap();
            assert!(quoted.starts_with('\'') && quoted.ends_with('\''), "{line}");
            assert!(
                !quoted[1..quoted.len() - 1].replace("''", "").contains('\''),
                "{line}"
            );
        }
        let m = forward(&not_null("mariadb@10.11", hostile));
        assert!(m.contains("FROM `orders'; drop table x; --` WHERE `email` IS NULL), FALSE);"));
    }

    #[test]
    fn record_text_quotes_as_postgres_prints_rows() {
        let row = |v: &[&str]| pg_record_text(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(row(&["12"]), "(12)");
        assert_eq!(row(&["c", "f"]), "(c,f)");
        assert_eq!(
            row(&["a b", "x,y", "q\"\\"]),
            "(\"a b\",\"x,y\",\"q\"\"\\\\\")"
        );
        assert_eq!(row(&["", "t"]), "(,t)");
    }
}
