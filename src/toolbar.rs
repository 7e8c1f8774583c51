//! Taking the plan away: the four downloads (built in memory), the share link, print.

use crate::browser;
use lockstep_planner::render::{json, markdown, sql};
use lockstep_planner::{Params, Plan};

/// The downloads, by the suffix of their file name.
pub const FILES: &[&str] = &["runbook.md", "forward.sql", "rollback.sql", "plan.json"];

/// The toolbar. Its buttons carry `data-act`, handled by the page's one click listener.
pub fn toolbar_html() -> String {
    let mut h = String::from(
        "<div class=toolbar><div class=downloads role=group aria-label=Download><span class=group-label>Download</span>",
    );
    for file in FILES {
        h.push_str(&format!(
            "<button type=button class=dl data-act={file}>{file}</button>"
        ));
    }
    h.push_str(
        "<button type=button class=dl data-act=print>Print</button></div><div class=share>\
         <label for=share-link>Share link</label><input id=share-link type=text readonly>\
         <button type=button data-act=copy-link>Copy link</button></div></div>",
    );
    h
}

/// `orders-add-index`: the table's own name (never its quoting), safe in any file system.
fn file_stem(plan: &Plan) -> String {
    format!("{}-{}", plan.table_name, plan.change)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Saves one of [`FILES`] for `plan`, made from `params` (the share-link parameters).
pub fn save(file: &str, plan: &Plan, params: &Params) {
    let (mime, text) = match file {
        "runbook.md" => ("text/markdown", markdown::render(plan, params)),
        "forward.sql" => ("application/sql", sql::forward(plan)),
        "rollback.sql" => ("application/sql", sql::rollback(plan)),
        _ => ("application/json", json::render(plan, params)),
    };
    browser::download(&format!("{}-{file}", file_stem(plan)), mime, &text);
}

/// Enables the downloads and print only while the plan on screen is the plan of the inputs.
pub fn set_fresh(fresh: bool) {
    let buttons = browser::document().get_elements_by_class_name("dl");
    for i in 0..buttons.length() {
        if let Some(b) = buttons.item(i) {
            let _ = if fresh {
                b.remove_attribute("disabled")
            } else {
                b.set_attribute("disabled", "")
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(db: &str, table: &str) -> Plan {
        let params = Params::new()
            .with("db", db)
            .with("change", "change-type")
            .with("table", table)
            .with("column", "amount")
            .with("from-type", "int")
            .with("to-type", "bigint")
            .with("rows", "1M")
            .with("size", "1GB")
            .with("max-downtime", "0");
        lockstep_planner::plan(&params).expect("plans")
    }

    #[test]
    fn download_names_are_the_table_not_its_quoting() {
        assert_eq!(
            file_stem(&plan("mysql@8.0.35", "orders")),
            "orders-change-type"
        );
        assert_eq!(
            file_stem(&plan("mariadb@10.11", "app.orders")),
            "orders-change-type"
        );
        assert_eq!(
            file_stem(&plan("postgresql@16", "public.Orders")),
            "Orders-change-type"
        );
        assert_eq!(
            file_stem(&plan("postgresql@16", "\"../x y\"")),
            "___x_y-change-type"
        );
    }
}
