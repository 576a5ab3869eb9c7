//! A local stand-in for the Stripe API: it speaks the wire format (form-encoded requests,
//! JSON objects, idempotency keys) of Checkout Sessions, Customers, SetupIntents, payment
//! methods, PaymentIntents and Refunds, so the real async-stripe calls run over HTTP
//! without reaching the internet. A payment method whose id contains `declined` is
//! declined as Stripe declines an off-session payment (HTTP 402, a card error); one whose
//! id contains `missing` is refused as unknown (HTTP 400).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

pub const KEY: &str = "sk_test_standin_0123456789";

/// The signing secret of the webhook endpoint in apps that tests send Stripe events to.
pub const WHSEC: &str = "whsec_test_0123456789";

/// Posts a Stripe event, signed with [`WHSEC`] as Stripe signs it, to the app's webhook;
/// answers its status.
pub async fn deliver(app: &crate::helpers::TestApp, id: &str, kind: &str, object: Value) -> u16 {
    let body = serde_json::to_vec(&json!({ "id": id, "type": kind, "data": { "object": object } })).unwrap();
    let now = tollgate::server::infra::installation::now_ms();
    let signature = tollgate::server::adapters::stripe::signature::sign(WHSEC.as_bytes(), now / 1000, &body);
    let res = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    res.status().as_u16()
}

/// The settings of an app whose Stripe is the stand-in at `base`, with its webhook secret.
pub fn settings(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC.to_string()),
        ("TOLLGATE_STRIPE_SECRET_KEY", KEY.to_string()),
        ("TOLLGATE_STRIPE_API_BASE", base.to_string()),
    ]
}

/// An app whose Stripe is a new stand-in, with `extra` settings; and the stand-in's base.
pub async fn app_with_standin(
    backend: tollgate::server::infra::db::Backend,
    extra: &[(&str, &str)],
) -> (crate::helpers::TestApp, StandIn, String) {
    let (standin, addr) = StandIn::start().await;
    let base = format!("http://{addr}/");
    let settings = settings(&base);
    let mut pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend_from_slice(extra);
    (crate::helpers::spawn_app_with(backend, &pairs).await, standin, base)
}

#[derive(Clone, Default)]
pub struct StandIn {
    /// Every create-session request, as form pairs.
    pub requests: Arc<Mutex<Vec<Vec<(String, String)>>>>,
    /// Every create-refund request: its form pairs and its Idempotency-Key.
    pub refunds: Arc<Mutex<Vec<(Vec<(String, String)>, Option<String>)>>>,
    /// Every create-customer request's Idempotency-Key, and the customer it got.
    pub customers: Arc<Mutex<Vec<(Option<String>, String)>>>,
    /// Every create-PaymentIntent request: its form pairs and its Idempotency-Key.
    pub payment_intents: Arc<Mutex<Vec<(Vec<(String, String)>, Option<String>)>>>,
    /// Payment methods detached.
    pub detached: Arc<Mutex<Vec<String>>>,
}

/// A JSON object from the stand-in, as Stripe answers.
type Answer = Result<Json<Value>, Response>;

fn authorized(headers: &HeaderMap) -> Result<(), Response> {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}")) {
        return Ok(());
    }
    let error = json!({ "error": { "type": "invalid_request_error", "message": "Invalid API Key provided" } });
    Err((StatusCode::UNAUTHORIZED, Json(error)).into_response())
}

fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes()).into_owned().collect()
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `POST /v1/customers`: a new customer, or (same Idempotency-Key) the one made before.
async fn create_customer(State(standin): State<StandIn>, headers: HeaderMap) -> Answer {
    authorized(&headers)?;
    let key = idempotency_key(&headers);
    let mut customers = standin.customers.lock().unwrap();
    let id = match customers.iter().find(|(k, _)| k.is_some() && *k == key) {
        Some((_, id)) => id.clone(),
        None => format!("cus_standin_{}", customers.len() + 1),
    };
    customers.push((key, id.clone()));
    Ok(Json(json!({ "id": id, "object": "customer", "created": 1_795_000_000, "livemode": false })))
}

fn card_method(id: &str) -> Value {
    let declines = id.contains("declined");
    json!({
        "id": id, "object": "payment_method", "type": "card", "created": 1_795_000_000, "livemode": false,
        "billing_details": {},
        "card": { "brand": "visa", "last4": if declines { "0002" } else { "4242" }, "exp_month": 12,
                  "exp_year": 2031, "funding": "credit" },
    })
}

/// `GET /v1/setup_intents/{id}`: a succeeded setup whose card (expanded) is
/// `pm_standin_<rest of the setup id>`.
async fn retrieve_setup_intent(headers: HeaderMap, Path(id): Path<String>) -> Answer {
    authorized(&headers)?;
    let method = format!("pm_standin_{}", id.trim_start_matches("seti_"));
    Ok(Json(json!({
        "id": id, "object": "setup_intent", "created": 1_795_000_000, "livemode": false, "status": "succeeded",
        "usage": "off_session", "payment_method_types": ["card"], "payment_method": card_method(&method),
    })))
}

/// `POST /v1/payment_methods/{id}/detach`.
async fn detach(State(standin): State<StandIn>, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    authorized(&headers)?;
    standin.detached.lock().unwrap().push(id.clone());
    Ok(Json(card_method(&id)))
}

/// `POST /v1/payment_intents`, confirmed off session: succeeded, or declined (402) for a
/// declining card. The same Idempotency-Key gets the same PaymentIntent.
async fn create_payment_intent(State(standin): State<StandIn>, headers: HeaderMap, body: String) -> Answer {
    authorized(&headers)?;
    let pairs = form(&body);
    let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let key = idempotency_key(&headers);
    let n = {
        let mut intents = standin.payment_intents.lock().unwrap();
        let earlier = intents.iter().position(|(_, k)| k.is_some() && *k == key);
        intents.push((pairs.clone(), key));
        earlier.unwrap_or(intents.len() - 1) + 1
    };
    if get("payment_method").unwrap_or_default().contains("missing") {
        let error = json!({ "error": { "type": "invalid_request_error", "code": "resource_missing",
            "message": "No such PaymentMethod." } });
        return Err((StatusCode::BAD_REQUEST, Json(error)).into_response());
    }
    if get("payment_method").unwrap_or_default().contains("declined") {
        let error = json!({ "error": { "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
            "message": "Your card was declined." } });
        return Err((StatusCode::PAYMENT_REQUIRED, Json(error)).into_response());
    }
    let amount: i64 = get("amount").and_then(|v| v.parse().ok()).unwrap_or(0);
    let metadata: serde_json::Map<String, Value> = pairs
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("metadata[")?.strip_suffix(']')?.to_string(), json!(v))))
        .collect();
    Ok(Json(json!({
        "id": format!("pi_standin_{n}"), "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_received": amount, "capture_method": "automatic", "confirmation_method": "automatic",
        "created": 1_795_000_000, "currency": "usd", "livemode": false, "metadata": metadata,
        "payment_method_types": ["card"], "status": "succeeded", "customer": get("customer"),
        "payment_method": get("payment_method"),
    })))
}

impl StandIn {
    pub async fn start() -> (Self, SocketAddr) {
        let standin = Self::default();
        let app = Router::new()
            .route("/v1/checkout/sessions", post(create))
            .route("/v1/refunds", post(create_refund))
            .route("/v1/customers", post(create_customer))
            .route("/v1/setup_intents/{id}", get(retrieve_setup_intent))
            .route("/v1/payment_methods/{id}/detach", post(detach))
            .route("/v1/payment_intents", post(create_payment_intent))
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
    Json(json!({
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
        "mode": get("mode").unwrap_or_else(|| "payment".into()),
        "customer": get("customer"),
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
