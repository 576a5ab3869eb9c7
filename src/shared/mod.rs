//! What the browser and the server share, with no IO: money, the error type, formatting,
//! endpoint ids and the wire types.

pub mod dto;
pub mod endpoint;
pub mod error;
pub mod format;
pub mod http_status;
pub mod money;
pub mod states;
pub mod text_enum;
#[cfg(feature = "ssr")]
pub mod web_app;
