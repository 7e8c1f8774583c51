//! What each database engine allows, by version. One engine's rules live in one file.

pub mod mysql;
pub mod postgres;
