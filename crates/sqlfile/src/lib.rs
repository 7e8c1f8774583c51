//! A migration file read into Lockstep's changes, each with a verdict: safe as written,
//! unsafe (what it blocks and for how long, from Lockstep's own plan of that change) or
//! unknown (why). The parser is sqlparser; this crate keeps it out of the planner and of the
//! page's first load.

pub mod check;
pub mod recognise;
pub mod render;
pub mod sizes;
pub mod split;
