//! Tollgate: prepaid credits and metered billing for AI generation apps.
//!
//! The crate builds twice: with `ssr` as the server (axum, sqlx, the CLI) and with
//! `hydrate` as the browser bundle. Modules outside `server` are shared by both.
//!
//! Layers call down only: `ui` (pages) -> `api` (server functions) -> `server`
//! (services, ledger, adapters, infrastructure); all of them may use `shared` (money,
//! errors, formatting, endpoint ids, stored states, wire types). Nothing in `server`
//! imports `ui` or `api`.
#![recursion_limit = "256"]

pub mod api;
pub mod shared;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the browser bundle: takes over the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(ui::app::App);
}
