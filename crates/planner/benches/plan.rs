//! How long planning takes, per change type and engine: prints numbers, asserts nothing.
//! Run with `make bench` (or `cargo bench -p lockstep-planner`).

use lockstep_planner::render::markdown;
use lockstep_planner::Params;
use std::time::Instant;

fn request(change: &str, extra: &[(&str, &str)]) -> Params {
    let mut p = Params::new()
        .with("db", "postgresql@16.4")
        .with("type", "int")
        .with("change", change)
        .with("table", "orders")
        .with("rows", "500M")
        .with("size", "120GB")
        .with("max-downtime", "0");
    for (k, v) in extra {
        p.set(k, *v);
    }
    p
}

fn main() {
    let cases = [
        request(
            "add-column",
            &[
                ("column", "is_flagged"),
                ("type", "boolean"),
                ("default", "false"),
            ],
        ),
        request("drop-column", &[("column", "legacy")]),
        request(
            "rename-column",
            &[("column", "email"), ("new-name", "email_address")],
        ),
        request("rename-table", &[("new-name", "purchases")]),
        request(
            "change-type",
            &[
                ("column", "id"),
                ("from-type", "integer"),
                ("to-type", "bigint"),
            ],
        ),
        request("add-index", &[("columns", "customer_id,created_at")]),
        request("drop-index", &[("index", "orders_status_idx")]),
        request("add-not-null", &[("column", "customer_id")]),
        request("add-unique", &[("columns", "email")]),
        request(
            "add-foreign-key",
            &[("columns", "customer_id"), ("references", "customers(id)")],
        ),
        request("add-check", &[("check", "amount >= 0")]),
        request(
            "split-table",
            &[
                ("columns", "notes,metadata"),
                ("new-table", "order_details"),
            ],
        ),
    ];
    println!(
        "{:<16} {:<18} {:>14} {:>18}",
        "database", "change", "plan (µs)", "plan+markdown (µs)"
    );
    // Every case on each engine's planner: PostgreSQL, then the MySQL family.
    let all: Vec<Params> = ["postgresql@16.4", "mysql@8.0.35", "mariadb@10.11.6"]
        .iter()
        .flat_map(|db| cases.iter().map(|p| p.clone().with("db", *db)))
        .collect();
    for params in &all {
        let iterations = 2_000;
        let start = Instant::now();
        for _ in 0..iterations {
            std::hint::black_box(lockstep_planner::plan(std::hint::black_box(params)).ok());
        }
        let plan_us = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
        let start = Instant::now();
        for _ in 0..iterations {
            if let Ok(plan) = lockstep_planner::plan(params) {
                std::hint::black_box(markdown::render(&plan, params));
            }
        }
        let md_us = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
        let status = if lockstep_planner::plan(params).is_ok() {
            ""
        } else {
            "  (error: no plan)"
        };
        println!(
            "{:<16} {:<18} {:>14.1} {:>18.1}{status}",
            params.get("db").unwrap_or(""),
            params.get("change").unwrap_or(""),
            plan_us,
            md_us
        );
    }
}
