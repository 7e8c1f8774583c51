//! Lockstep's planning engine: from a [`Request`] (change, table size, database version,
//! downtime budget) to a phased [`Plan`]. Pure Rust, no web dependency: the browser UI, the
//! `lockstep` CLI and the live verifier all call [`plan`].

pub mod changes;
pub mod engines;
pub mod estimate;
pub mod input;
pub mod lex;
pub mod mysql;
pub mod params;
pub mod plan;
pub mod quote;
pub mod render;
pub mod series;
pub mod share;

pub use input::{FieldError, Request};
pub use params::Params;
pub use plan::Plan;

/// Validates the parameters and plans the change; every error names its field.
pub fn plan(params: &Params) -> Result<Plan, Vec<FieldError>> {
    let request = Request::from_params(params)?;
    changes::plan_request(&request).map_err(|e| vec![e])
}
