//! The webhooks admin page: endpoints, the delivery log, replays. Administrators only.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::webhooks::*;

/// How many of the newest deliveries the page lists.
pub const DELIVERIES_SHOWN: i64 = 50;

#[server(endpoint = "admin_webhooks")]
pub async fn get_webhooks() -> Result<WebhooksOverview, AppError> {
    use crate::server::services::webhooks;
    crate::server::web::guard::admin(|state, _| async move { webhooks::overview(&state, DELIVERIES_SHOWN).await }).await
}

/// Registers an endpoint; answers with its signing secret, shown this once. `events` is
/// `*` or kinds separated by commas.
#[server(endpoint = "admin_webhook_add")]
pub async fn add_webhook(url: String, events: String) -> Result<NewWebhook, AppError> {
    use crate::server::services::webhooks;
    crate::server::web::guard::admin(|state, _| async move {
        let (endpoint, secret) = webhooks::add(&state, &url, &events).await?;
        Ok(NewWebhook { endpoint, secret })
    })
    .await
}

#[server(endpoint = "admin_webhook_remove")]
pub async fn remove_webhook(id: String) -> Result<(), AppError> {
    use crate::server::services::webhooks;
    crate::server::web::guard::admin(|state, _| async move { webhooks::remove(&state, id.trim()).await }).await
}

/// Sends a delivery again now.
#[server(endpoint = "admin_webhook_replay")]
pub async fn replay_webhook_delivery(id: String) -> Result<(), AppError> {
    use crate::server::services::webhooks;
    crate::server::web::guard::admin(|state, _| async move { webhooks::replay(&state, id.trim()).await }).await
}
