//! One module per page.

pub mod credits;
pub mod home;
pub mod not_found;
pub mod settings;
