//! What several MySQL/MariaDB change types build the same way: the column-definition parser
//! and its lost-attribute checks, re-run guards (IF [NOT] EXISTS), the environment checks, and
//! the online schema-change tools (gh-ost, pt-online-schema-change, Spirit).

pub mod column_default;
pub mod definition;
pub mod enum_list;
pub mod environment;
pub mod index;
pub mod instant_bugs;
pub mod rerun;
pub mod tools;
