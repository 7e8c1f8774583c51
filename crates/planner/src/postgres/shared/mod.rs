//! What several PostgreSQL change types build the same way: the batched keyset backfill, the
//! NOT VALID/VALIDATE constraint steps, and the catalog-name checks.

pub mod backfill;
pub mod catalog_names;
pub mod constraint;
