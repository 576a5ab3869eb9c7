//! A local stand-in for the Stripe API: it speaks the Checkout Sessions endpoint's wire
//! format (form-encoded request, JSON session) so the real async-stripe calls run over
//! HTTP without reaching the internet.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

pub const KEY: &str = "sk_test_standin_0123456789";

#[derive(Clone, Default)]
pub struct StandIn {
    /// Every create-session request, as form pairs.
    pub requests: Arc<Mutex<Vec<Vec<(String, String)>>>>,
    /// Every create-refund request: its form pairs and its Idempotency-Key.
    pub refunds: Arc<Mutex<Vec<(Vec<(String, String)>, Option<String>)>>>,
}

impl StandIn {
    pub async fn start() -> (Self, SocketAddr) {
        let standin = Self::default();
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create))
            .route("/v1/refunds", post(create_refund))
            .with_state(standin.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (standin, addr)
    }

    pub fn field(&self, index: usize, key: &str) -> Option<String> {
        self.requests.lock().unwrap().get(index)?.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
}

async fn create(State(standin): State<StandIn>, headers: HeaderMap, body: String) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
        let error =
            serde_json::json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } });
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let amount: i64 = get("line_items[0][price_data][unit_amount]").and_then(|v| v.parse().ok()).unwrap_or(0);
    let n = {
        let mut requests = standin.requests.lock().unwrap();
        requests.push(pairs.clone());
        requests.len()
    };
    let id = format!("cs_test_standin_{n}");
    Json(serde_json::json!({
        "id": id,
        "object": "checkout.session",
        "amount_total": amount,
        "automatic_tax": { "enabled": false },
        "client_reference_id": get("client_reference_id"),
        "created": 1_795_000_000,
        "currency": "usd",
        "custom_fields": [],
        "custom_text": {},
        "expires_at": 1_795_086_400,
        "livemode": false,
        "mode": "payment",
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "shipping_options": [],
        "status": "open",
        "success_url": get("success_url"),
        "cancel_url": get("cancel_url"),
        "url": format!("https://checkout.stripe.test/c/pay/{id}"),
    }))
    .into_response()
}

/// `POST /v1/refunds`: records the request and answers with a pending refund.
async fn create_refund(State(standin): State<StandIn>, headers: HeaderMap, body: String) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
        let error =
            serde_json::json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } });
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let n = {
        let mut refunds = standin.refunds.lock().unwrap();
        refunds.push((pairs.clone(), key));
        refunds.len()
    };
    Json(serde_json::json!({
        "id": format!("re_test_standin_{n}"),
        "object": "refund",
        "amount": get("amount").and_then(|v| v.parse::<i64>().ok()).unwrap_or(0),
        "created": 1_795_000_000,
        "currency": "usd",
        "payment_intent": get("payment_intent"),
        "status": "pending",
    }))
    .into_response()
}
