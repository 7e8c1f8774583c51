//! The vocabulary every part shares: the database a plan is for and the plan itself (phases,
//! steps, locks, checks, estimates). Depends on nothing else in the crate.

pub mod db;
pub mod plan;

pub use db::{Engine, Version};
pub use plan::*;
