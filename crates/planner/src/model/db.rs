//! The database a plan is for: which engine, which release.

use crate::quote::Dialect;
use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgresql,
    Mysql,
    Mariadb,
}

impl Engine {
    /// The name as the `db` parameter and the JSON spell it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgresql => "postgresql",
            Engine::Mysql => "mysql",
            Engine::Mariadb => "mariadb",
        }
    }

    /// The product name, for prose.
    pub fn label(self) -> &'static str {
        match self {
            Engine::Postgresql => "PostgreSQL",
            Engine::Mysql => "MySQL",
            Engine::Mariadb => "MariaDB",
        }
    }

    /// MySQL and MariaDB share the InnoDB online-DDL rules, SQL dialect and tools.
    pub fn is_mysql_family(self) -> bool {
        matches!(self, Engine::Mysql | Engine::Mariadb)
    }

    /// The SQL dialect the engine speaks: its quoting and its name rules.
    pub fn dialect(self) -> Dialect {
        if self.is_mysql_family() {
            Dialect::Mysql
        } else {
            Dialect::Postgres
        }
    }
}

/// A server version. Parts the user did not give are `None`. PostgreSQL 10+ numbers releases
/// `major.minor`; MySQL and MariaDB `major.minor.patch` (8.0.35, 10.11.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch: Option<u32>,
}

impl Version {
    pub fn new(major: u32, minor: Option<u32>) -> Version {
        Version {
            major,
            minor,
            patch: None,
        }
    }

    /// True when this version is at least `major.minor`. An unknown minor counts as `.0`, the
    /// conservative reading: a fix that arrived in a minor release is not assumed present.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor.unwrap_or(0)) >= (major, minor)
    }

    /// True when this version is at least `major.minor.patch`; unknown parts count as 0.
    pub fn at_least_patch(&self, major: u32, minor: u32, patch: u32) -> bool {
        (self.major, self.minor.unwrap_or(0), self.patch.unwrap_or(0)) >= (major, minor, patch)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.major)?;
        if let Some(minor) = self.minor {
            write!(f, ".{minor}")?;
        }
        if let Some(patch) = self.patch {
            write!(f, ".{patch}")?;
        }
        Ok(())
    }
}
