//! Wire types for the webhooks admin page.

use serde::{Deserialize, Serialize};

/// A registered endpoint. Its signing secret is never listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// `*` or a comma-separated list of event kinds.
    pub events: String,
    pub created_at_ms: i64,
}

/// An endpoint just made, with its signing secret: shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

/// One delivery in the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: String,
    pub endpoint_id: String,
    /// The id the receiver de-duplicates on: `evt_<n>`.
    pub event_id: i64,
    pub kind: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i64,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub delivered_at_ms: Option<i64>,
}

/// What the admin page shows: the endpoints and the newest deliveries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhooksOverview {
    pub endpoints: Vec<WebhookEndpoint>,
    pub deliveries: Vec<WebhookDelivery>,
    /// Every event kind an endpoint can ask for.
    pub kinds: Vec<String>,
}
