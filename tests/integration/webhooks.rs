//! Webhooks out: money events delivered, signed, in order per account, retried after a
//! receiver's error, kept across a crash between commit and delivery; endpoints checked.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::server::services::webhooks::{self, send_due};
use tollgate::shared::error::AppError;

use crate::helpers::{TestApp, spawn_app_on, spawn_app_with};

backend_tests!(
    events_are_delivered_signed_in_order_and_retried_after_an_error,
    a_delivery_committed_before_a_crash_is_sent_after_the_restart,
    endpoints_must_be_public_http_urls_for_known_events,
);

const ALLOW_PRIVATE: (&str, &str) = ("TOLLGATE_WEBHOOKS_ALLOW_PRIVATE", "true");

/// A receiver that records what it is sent and answers with the statuses queued (200
/// once they run out).
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> (Self, SocketAddr) {
        let receiver = Self::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/hook", post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, addr)
    }

    fn bodies(&self) -> Vec<Value> {
        self.got.lock().unwrap().iter().map(|(_, b)| serde_json::from_str(b).unwrap()).collect()
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.got.lock().unwrap().push((headers, String::from_utf8(body.to_vec()).unwrap()));
    let status = r.answers.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// Checks a `Tollgate-Signature` header as a receiver would.
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    expected == v1
}

async fn run(app: &TestApp, client: &reqwest::Client, input: Value) -> u16 {
    let url = app.url("/api/v1/run/fal-ai/flux/schnell");
    client.post(url).json(&input).send().await.unwrap().status().as_u16()
}

/// Runs sender rounds (as the background sender does) until `done` or 5 s.
async fn until(app: &TestApp, what: &str, done: impl Fn() -> bool) {
    for _ in 0..100 {
        send_due(&app.state).await.unwrap();
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

async fn events_are_delivered_signed_in_order_and_retried_after_an_error(backend: Backend) {
    let (receiver, addr) = Receiver::start().await;
    let app = spawn_app_with(backend, &[ALLOW_PRIVATE]).await;
    let url = format!("http://{addr}/hook");
    let (endpoint, secret) = webhooks::add(&app.state, &url, "usage.charged,hold.voided").await.unwrap();
    assert!(endpoint.id.starts_with("we_") && secret.starts_with("whsec_"));
    // The first delivery is answered with a 500: it is tried again, and the ones after it
    // (same account) wait for it.
    receiver.answers.lock().unwrap().push_back(500);
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    assert_eq!(run(&app, &ada, json!({"prompt": "one"})).await, 200);
    assert_eq!(run(&app, &ada, json!({"prompt": "two", "sandbox_failure": "server_error"})).await, 502);
    assert_eq!(run(&app, &ada, json!({"prompt": "three"})).await, 200);
    until(&app, "the first attempt", || !receiver.got.lock().unwrap().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_due(&app.state).await.unwrap();
    assert_eq!(receiver.got.lock().unwrap().len(), 1, "the rest wait behind the one that failed");
    let log = webhooks::deliveries(&app.state, Some(&endpoint.id), 10).await.unwrap();
    let first = log.iter().find(|d| d.attempts == 1).unwrap();
    assert_eq!((first.status.as_str(), first.last_status), ("pending", Some(500)));
    // Its pause over (10 s; moved here instead of waited for), it goes, then the rest.
    sqlx::query("update webhook_delivery set next_attempt_at_ms = 0 where status = 'pending'")
        .execute(app.db.pool())
        .await
        .unwrap();
    until(&app, "all deliveries", || receiver.got.lock().unwrap().len() == 4).await;

    let got = receiver.got.lock().unwrap().clone();
    for (headers, body) in &got {
        let signature = headers["tollgate-signature"].to_str().unwrap();
        assert!(verify(&secret, signature, body), "the signature verifies: {signature}");
        assert!(!verify("whsec_wrong", signature, body));
        let parsed: Value = serde_json::from_str(body).unwrap();
        assert_eq!(headers["tollgate-event-id"].to_str().unwrap(), parsed["id"].as_str().unwrap());
    }
    let bodies = receiver.bodies();
    let seen: Vec<(&str, i64)> =
        bodies.iter().map(|b| (b["type"].as_str().unwrap(), b["seq"].as_i64().unwrap())).collect();
    // The failed first attempt, then each event once, in the account's order.
    assert_eq!(seen[0], seen[1], "the retry is the same event");
    let kinds: Vec<&str> = seen[1..].iter().map(|s| s.0).collect();
    assert_eq!(kinds, ["usage.charged", "hold.voided", "usage.charged"]);
    assert!(seen[1..].windows(2).all(|w| w[0].1 < w[1].1), "in order: {seen:?}");
    assert_eq!(bodies[1]["id"], bodies[0]["id"], "the id to de-duplicate on");
    assert_eq!(bodies[1]["data"]["amount_micros"], -3_000);
    let me = app.me(&ada).await.1;
    assert_eq!(bodies[1]["account"], me["id"]);
    let log = webhooks::deliveries(&app.state, Some(&endpoint.id), 10).await.unwrap();
    assert!(log.iter().all(|d| d.status == "delivered" && d.last_status == Some(200)), "{log:?}");
    assert_eq!(log.iter().map(|d| d.attempts).sum::<i64>(), 4);

    // Sent again by hand: the same event id.
    webhooks::replay(&app.state, &log[0].id).await.unwrap();
    until(&app, "the replay", || receiver.got.lock().unwrap().len() == 5).await;
    assert_eq!(receiver.bodies()[4]["id"], json!(format!("evt_{}", log[0].event_id)));
    assert!(matches!(webhooks::replay(&app.state, "wd_nope").await, Err(AppError::NotFound { .. })));

    // Removed: nothing more is sent to it.
    webhooks::remove(&app.state, &endpoint.id).await.unwrap();
    assert_eq!(run(&app, &ada, json!({"prompt": "four"})).await, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    send_due(&app.state).await.unwrap();
    assert_eq!(receiver.got.lock().unwrap().len(), 5);
    assert!(webhooks::list(&app.state).await.unwrap().is_empty());
    let written: i64 =
        sqlx::query_scalar("select count(*) from webhook_delivery").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(written, 3, "one delivery per wanted event, none for a removed endpoint");
}

async fn a_delivery_committed_before_a_crash_is_sent_after_the_restart(backend: Backend) {
    let (receiver, addr) = Receiver::start().await;
    let app = spawn_app_with(backend, &[ALLOW_PRIVATE]).await;
    let (_, secret) = webhooks::add(&app.state, &format!("http://{addr}/hook"), "*").await.unwrap();
    // Nobody is listening yet: the receiver refuses for now.
    for _ in 0..50 {
        receiver.answers.lock().unwrap().push_back(503);
    }
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    assert_eq!(run(&app, &ada, json!({"prompt": "one"})).await, 200);
    // Written with the events, in their transaction: there before anything is sent.
    let pending: i64 = sqlx::query_scalar("select count(*) from webhook_delivery where status = 'pending'")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(pending, 3, "credits.granted, hold.placed, usage.charged");
    let database = app.crash().await;
    receiver.answers.lock().unwrap().clear();
    let app = spawn_app_on(database, &[ALLOW_PRIVATE]).await;
    sqlx::query("update webhook_delivery set next_attempt_at_ms = 0, lease_until_ms = 0 where status = 'pending'")
        .execute(app.db.pool())
        .await
        .unwrap();
    // The restarted instance's own sender delivers them.
    for _ in 0..100 {
        let delivered: i64 = sqlx::query_scalar("select count(*) from webhook_delivery where status = 'delivered'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        if delivered == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bodies = receiver.bodies();
    let delivered: Vec<&str> = bodies.iter().rev().take(3).rev().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(delivered, ["credits.granted", "hold.placed", "usage.charged"]);
    let got = receiver.got.lock().unwrap().clone();
    let (headers, body) = got.last().unwrap();
    assert!(verify(&secret, headers["tollgate-signature"].to_str().unwrap(), body));
}

async fn endpoints_must_be_public_http_urls_for_known_events(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await;
    let field = |r: Result<_, AppError>| match r {
        Err(AppError::Validation { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    for url in ["http://127.0.0.1:8080/hook", "http://10.0.0.5/hook", "http://[::1]/hook", "ftp://example.com/"] {
        assert_eq!(field(webhooks::add(&app.state, url, "*").await), "url", "{url}");
    }
    assert_eq!(field(webhooks::add(&app.state, "https://example.com/hook", "usage.charged,nope").await), "events");
    let count: i64 =
        sqlx::query_scalar("select count(*) from webhook_endpoint").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(count, 0, "nothing was added");
    // The command line says the same, naming the field.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["admin", "webhooks", "add", "--url", "http://127.0.0.1/x", "--events", "*"])
        .env("TOLLGATE_DATABASE_URL", &app.database_handle().url)
        .env("TOLLGATE_DATA_DIR", app.database_handle().data_dir())
        .env("TOLLGATE_MASTER_KEY", crate::helpers::TEST_MASTER_KEY)
        .env("TOLLGATE_SECRET_KEY", "test-secret-key-0123456789abcdef0123456789")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("url") && err.contains("private or local"), "{err}");
}
