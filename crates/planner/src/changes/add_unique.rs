//! add-unique: not planned yet.

use super::{Ctx, Paths};
use crate::input::FieldError;

pub fn paths(_ctx: &Ctx) -> Result<Paths, FieldError> {
    Err(FieldError::new(
        "change",
        "add-unique is not planned by this build yet; accepts add-index",
    ))
}
