//! Accounts and authentication: passwords, sessions, API tokens, throttling, CSRF.

pub mod passwords;
pub mod session_store;
pub mod sign_in;
pub mod throttle;
pub mod tokens;
pub mod users;
