//! Lockstep's planning engine: from a [`Request`] (change, table size, database version,
//! downtime budget) to a phased [`Plan`]. Pure Rust, no web dependency: the browser UI, the
//! `lockstep` CLI and the live verifier all call [`plan`].

pub mod estimate;
pub mod lex;
pub mod model;
pub mod mysql;
pub mod postgres;
pub mod quote;
pub mod render;
pub mod request;
pub mod series;
pub mod strategy;

pub use model::Plan;
pub use request::params::Params;
pub use request::{FieldError, Request};

/// Validates the parameters and plans the change; every error names its field.
pub fn plan(params: &Params) -> Result<Plan, Vec<FieldError>> {
    let request = Request::from_params(params)?;
    plan_request(&request).map_err(|e| vec![e])
}

/// Plans a validated request, with the warnings about the inputs first: a size that does not
/// fit the row count makes every estimate below it wrong.
/// A version without its minor or patch release is planned for the oldest of the series,
/// with the releases where the plan changes named first ([`crate::series`]).
fn plan_request(req: &Request) -> Result<Plan, FieldError> {
    let exact = |r: &Request| plan_for_version(r).ok();
    let mut plan = plan_for_version(req).map_err(|mut e| {
        if let Some(v) = crate::series::first_release_that_plans(req, exact) {
            e.message.push_str(&format!(
                " ({} {v} and later can make this change: if the server runs one, give its exact version in {}.)",
                req.db.engine.label(),
                crate::request::params::flag("db")
            ));
        }
        e
    })?;
    let mut first = req.input_warnings();
    first.extend(crate::series::warning(req, exact));
    first.append(&mut plan.warnings);
    plan.warnings = first;
    Ok(plan)
}

/// Plans for exactly the version the request names, with that engine's planner.
fn plan_for_version(req: &Request) -> Result<Plan, FieldError> {
    if req.db.engine.is_mysql_family() {
        mysql::plan_request(req)
    } else {
        postgres::plan_request(req)
    }
}
