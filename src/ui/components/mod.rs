//! Pieces shared by several pages.

pub mod billing_gate;
pub mod budget;
pub mod error_page;
pub mod forms;
pub mod frame;
pub mod notice;
pub mod tabs;
