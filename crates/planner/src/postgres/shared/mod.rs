//! What several PostgreSQL change types build or read the same way: the batched keyset
//! backfill, the NOT VALID/VALIDATE constraint steps, the catalog-name checks, the expression
//! tokenizer (volatile defaults, called functions) and the type-change rewrite rules.

pub mod backfill;
pub mod catalog_names;
pub mod column;
pub mod compat_view;
pub mod constraint;
pub mod expressions;
pub mod index;
pub mod types;
