//! Integration tests: the real app on port 0 with its own database, over HTTP.
//!
//! Every test in a `backend_tests!` list runs twice: on a fresh SQLite file, and on a
//! fresh PostgreSQL database when TEST_DATABASE_URL points at a server.

#[macro_use]
mod helpers;

mod accounts;
mod auto_top_up;
mod budgets;
mod calls_in_flight;
mod cli;
mod crash_kill;
mod crash_recovery;
mod credits_page;
mod email;
mod events;
mod gateway;
mod gift_codes;
mod group_commit;
mod hardening;
mod health;
mod invoices;
mod jobs;
mod ledger;
mod ledger_concurrency;
mod ledger_helpers;
mod ledger_model;
mod onboarding;
mod openrouter_oauth;
mod pages;
mod postpaid;
mod pricing;
mod provider_keys;
mod provider_standin;
mod purchases;
mod refunds;
mod server_fns;
mod smtp_standin;
mod storage;
mod stripe_standin;
mod team_keys;
mod team_wallets;
mod teams;
mod tokens;
mod usage_api;
mod webhooks;
