//! Everything that only runs on the server, in layers that call down only:
//! - `web`: the HTTP surface (router, app server, middleware, the JSON API, the gateway's
//!   routes, the Stripe webhook, OAuth routes);
//! - `cli`: the administrator commands and the API client;
//! - `services`: what the app does (accounts, purchases, gifts, keys, credits, usage, the
//!   Studio, the metering gateway);
//! - `ledger`: the only code that moves money;
//! - `adapters`: the outside services (Stripe, fal, OpenRouter) behind small interfaces;
//! - `infra`: settings, database, shared state, caches, crypto, telemetry.
//!
//! `web` and `cli` call services; services call the ledger, adapters and infra.

pub mod adapters;
pub mod cli;
pub mod infra;
pub mod ledger;
pub mod services;
pub mod web;
