//! Pieces shared by several pages.

pub mod error_page;
pub mod forms;
pub mod frame;
pub mod tabs;
