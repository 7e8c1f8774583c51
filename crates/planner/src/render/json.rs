//! The plan as JSON. The stable core (engine, version, phases with steps, rollback and checks,
//! warnings) is documented in the README; the other fields may grow.

use crate::model::Plan;
use crate::request::params::Params;
use serde::Serialize;

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    /// The request, as share-link parameters: feeding them back reproduces this plan.
    inputs: std::collections::BTreeMap<&'static str, &'a str>,
}

pub fn render(plan: &Plan, params: &Params) -> String {
    let doc = Document {
        plan,
        inputs: params.canonical().into_iter().collect(),
    };
    serde_json::to_string_pretty(&doc).expect("a plan always serializes")
}
