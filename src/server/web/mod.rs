//! The HTTP surface: the router and its middleware, starting and stopping the server, the
//! JSON API under `/api/v1`, and the OpenRouter connect routes.

pub mod api_billing;
pub mod api_budgets;
pub mod api_events;
pub mod api_usage;
pub mod api_v1;
pub mod app_server;
pub mod csrf;
pub mod form_posts;
pub mod gateway;
pub mod guard;
pub mod http;
pub mod middleware;
pub mod oauth;
pub mod stripe_webhook;
