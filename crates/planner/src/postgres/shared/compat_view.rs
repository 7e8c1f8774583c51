//! The compatibility view both renames put in the table's place while clients move to the new
//! name: its SQL (owner and grants copied), the preflight proving nothing is lost through it,
//! the checks that it is updatable, and what it changes for clients.

use crate::model::{Check, Expected};
use crate::postgres::facts;
use crate::postgres::{check, Ctx};
use crate::quote::{self, ident, literal};

/// `CREATE VIEW <view> AS SELECT *<extra> FROM <base>` and the statement giving it the base
/// table's owner and grants. `view` and `base` are raw names in the table's schema; `extra` is
/// appended to the select list (`, new AS old` for a column rename).
pub(crate) fn compat_view_sql(ctx: &Ctx, view: &str, base: &str, extra: &str) -> Vec<String> {
    let options = if facts::SECURITY_INVOKER_VIEWS.holds(ctx.version()) {
        " WITH (security_invoker = true)"
    } else {
        ""
    };
    vec![
        format!(
            "CREATE VIEW {}{options} AS SELECT *{extra} FROM {};",
            ctx.sibling(view),
            ctx.sibling(base)
        ),
        copy_owner_and_grants_sql(ctx, view, base),
    ]
}

/// A DO block that gives the view the table's owner and the table's SELECT, INSERT, UPDATE and
/// DELETE grants (a view has its own ACL: the table's grants do not reach it).
fn copy_owner_and_grants_sql(ctx: &Ctx, view: &str, base: &str) -> String {
    let view_text = literal(&ctx.sibling(view));
    let base_oid = format!("{}::regclass", literal(&ctx.sibling(base)));
    let body = format!(
        "DECLARE
  lockstep_grant record;
BEGIN
  EXECUTE format('ALTER VIEW %s OWNER TO %s', {view_text}, (SELECT relowner::regrole::text FROM pg_class WHERE oid = {base_oid}));
  FOR lockstep_grant IN
    SELECT a.privilege_type, a.is_grantable,
           CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee
    FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
    WHERE c.oid = {base_oid} AND a.privilege_type IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')
  LOOP
    EXECUTE format('GRANT %s ON %s TO %s%s', lockstep_grant.privilege_type, {view_text}, lockstep_grant.grantee,
                   CASE WHEN lockstep_grant.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
  END LOOP;
END"
    );
    format!("DO {};", quote::dollar_quoted(&body))
}

/// Preflight checks of every plan that puts a view in front of the table: it is a table, the
/// migration role may own the view, no privilege or policy would be lost through the view, and
/// `free` (the name the table moves to) is not taken.
pub(crate) fn compat_view_checks(ctx: &Ctx, free: &str) -> Vec<Check> {
    let t = ctx.regclass();
    let mut checks = vec![
        check(
            "The relation is a table (plain or partitioned)",
            format!("SELECT relkind IN ('r', 'p') AS is_table FROM pg_class WHERE oid = {t};"),
            "t",
            Expected::row(&["t"]),
        ),
        check(
            "You run the plan as the table's owner or a member of its role (RENAME needs it, and the view takes the table's owner)",
            format!("SELECT pg_has_role(relowner, 'MEMBER') AS may_own FROM pg_class WHERE oid = {t};"),
            "t",
            Expected::row(&["t"]),
        ),
        check(
            "No column-level grants (the view copies table-level grants only)",
            format!("SELECT count(*) AS column_grants FROM pg_attribute WHERE attrelid = {t} AND attnum > 0 AND attacl IS NOT NULL;"),
            "0 (otherwise grant the same column privileges on the view right after the expand phase)",
            Expected::row(&["0"]),
        ),
        check(
            &format!("The name {} is free", ident(free)),
            format!(
                "SELECT to_regclass({}) IS NULL AS name_free;",
                literal(&ctx.sibling(free))
            ),
            "t",
            Expected::row(&["t"]),
        ),
    ];
    if !facts::SECURITY_INVOKER_VIEWS.holds(ctx.version()) {
        checks.push(check(
            "Row-level security is off: before 15 a view reads its table with the owner's rights, which would bypass the policies",
            format!("SELECT relrowsecurity FROM pg_class WHERE oid = {t};"),
            "f (if t, do not use the view path on this version: rename during a short window when every client is stopped, or upgrade to 15+ where the view can be security_invoker)",
            Expected::row(&["f"]),
        ));
    }
    checks
}

/// Checks that `name` now is an automatically updatable view.
pub(crate) fn view_checks(ctx: &Ctx, name: &str) -> Vec<Check> {
    let lit = literal(&ctx.sibling(name));
    vec![
        check(
            &format!("{} is now a view", ident(name)),
            format!("SELECT relkind FROM pg_class WHERE oid = to_regclass({lit});"),
            "v",
            Expected::row(&["v"]),
        ),
        check(
            "The view accepts INSERT, UPDATE and DELETE (automatically updatable)",
            format!("SELECT pg_relation_is_updatable(to_regclass({lit}), false) & 28 = 28 AS updatable;"),
            "t",
            Expected::row(&["t"]),
        ),
    ]
}

/// Logical replication matches tables and columns by name: a rename on the publisher stops a
/// subscriber that still has the old name.
pub(crate) fn publication_check(ctx: &Ctx, what: &str) -> Check {
    check(
        &format!("The table is in no publication (logical replication matches {what} by name)"),
        format!(
            "SELECT pubname FROM pg_publication_tables WHERE (schemaname, tablename) = (SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = {});",
            ctx.regclass()
        ),
        "no rows (otherwise make the same rename on every subscriber in the same window, or replication stops)",
        Expected::NoRows,
    )
}

/// What the view path changes for clients while the view stands in for the table, which is
/// named `table_now` meanwhile.
pub(crate) fn view_limits(table_now: &str) -> String {
    format!("While the view stands in for the table, these fail on the old name: TRUNCATE, COPY ... FROM (COPY (SELECT ...) TO works), LOCK TABLE, ALTER TABLE and other DDL. Run them on {} instead, but add no column until the contract phase: the view's SELECT * was expanded when it was created and would not show it.", ident(table_now))
}
