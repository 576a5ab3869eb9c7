//! Buying credits: the sandbox checkout and the signed Stripe webhook path.

use tollgate::server::adapters::stripe::signature::sign;
use tollgate::server::infra::db::Backend;
use tollgate::server::infra::installation::now_ms;

use crate::helpers::{TestApp, spawn_app_with};

backend_tests!(
    buying_fifty_dollars_in_the_sandbox_adds_fifty_five_as_two_transactions,
    amounts_outside_the_limits_are_refused_and_start_nothing,
    webhooks_credit_once_however_often_and_in_whatever_order_they_arrive,
    forged_stale_and_unknown_webhooks_are_refused_and_credit_nothing,
    nobody_can_pay_or_read_someone_elses_checkout,
    with_a_stripe_key_checkout_goes_to_stripe_and_its_webhook_credits_once,
    a_stripe_error_starts_no_checkout,
    checkout_keeps_the_way_back_to_where_the_person_was,
);

const WHSEC: &str = "whsec_test_0123456789";

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC)]).await
}

/// Starts a checkout and returns the session id from the redirect.
async fn checkout(app: &TestApp, client: &reqwest::Client, amount: &str) -> String {
    let res = app.call(client, "checkout_start", &[("amount", amount)]).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    location.strip_prefix("/sandbox/checkout/").expect("the sandbox checkout page").to_string()
}

fn event(id: &str, session: &str, cents: i64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": id,
        "type": "checkout.session.completed",
        "data": { "object": { "id": session, "payment_status": "paid", "amount_total": cents } }
    }))
    .unwrap()
}

async fn deliver(app: &TestApp, body: &[u8], signature: Option<String>) -> u16 {
    let mut req =
        app.client.post(app.url("/webhooks/stripe")).body(body.to_vec()).header("content-type", "application/json");
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    req.send().await.unwrap().status().as_u16()
}

fn signed(body: &[u8]) -> Option<String> {
    Some(sign(WHSEC.as_bytes(), now_ms() / 1000, body))
}

async fn balance(app: &TestApp, client: &reqwest::Client) -> i64 {
    app.me(client).await.1["balance"]["available_micros"].as_i64().unwrap()
}

async fn buying_fifty_dollars_in_the_sandbox_adds_fifty_five_as_two_transactions(backend: Backend) {
    let app = app(backend).await;
    let client = app.signed_up("buyer@example.com", "a good password").await;
    let session = checkout(&app, &client, "50").await;
    let state: serde_json::Value =
        app.call(&client, "checkout_state", &[("session", &session)]).await.json().await.unwrap();
    assert_eq!(state, serde_json::json!("Processing"), "not paid yet");
    let quote: serde_json::Value =
        app.call(&client, "sandbox_checkout", &[("session", &session)]).await.json().await.unwrap();
    assert_eq!(quote, serde_json::json!({ "pay": 50_000_000, "bonus": 5_000_000, "get": 55_000_000 }));

    let paid = app.call(&client, "sandbox_pay", &[("session", &session)]).await;
    assert_eq!(paid.status(), 200);
    assert_eq!(paid.headers()["location"], format!("/credits?checkout=success&session={session}"));
    assert_eq!(balance(&app, &client).await, 60_000_000, "five to start, fifty-five bought");
    let state: serde_json::Value =
        app.call(&client, "checkout_state", &[("session", &session)]).await.json().await.unwrap();
    assert_eq!(state, serde_json::json!({ "Completed": { "get": 55_000_000 } }));
    let rows: serde_json::Value =
        app.call(&client, "transactions", &[("filter", "purchases")]).await.json().await.unwrap();
    let codes: Vec<&str> = rows["rows"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(codes, vec!["purchase_bonus", "purchase"], "the bonus is its own transaction");
    // Paying twice does nothing more.
    assert_eq!(app.call(&client, "sandbox_pay", &[("session", &session)]).await.status(), 409);
    assert_eq!(balance(&app, &client).await, 60_000_000);
}

async fn amounts_outside_the_limits_are_refused_and_start_nothing(backend: Backend) {
    let app = app(backend).await;
    let client = app.signed_up("limits@example.com", "a good password").await;
    for bad in ["4.99", "1000.01", "ten", "10.001", "-5"] {
        let res = app.call(&client, "checkout_start", &[("amount", bad)]).await;
        assert_eq!(res.status(), 422, "{bad}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["field"], "amount");
    }
    let sessions: i64 =
        sqlx::query_scalar("select count(*) from checkout_session").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(sessions, 0);
    assert_eq!(app.call(&app.browser(), "checkout_start", &[("amount", "10")]).await.status(), 401);
}

async fn webhooks_credit_once_however_often_and_in_whatever_order_they_arrive(backend: Backend) {
    let app = app(backend).await;
    let client = app.signed_up("hooks@example.com", "a good password").await;
    let first = checkout(&app, &client, "10").await;
    let second = checkout(&app, &client, "100").await;
    // The later checkout's confirmation arrives first; each is then replayed ten times.
    let second_event = event("evt_second", &second, 10_000);
    let first_event = event("evt_first", &first, 1_000);
    for body in [&second_event, &first_event] {
        for _ in 0..10 {
            assert_eq!(deliver(&app, body, signed(body)).await, 200);
        }
    }
    // Stripe may also send a new event id for a session already credited.
    let again = event("evt_first_again", &first, 1_000);
    assert_eq!(deliver(&app, &again, signed(&again)).await, 200);
    assert_eq!(balance(&app, &client).await, 5_000_000 + 10_000_000 + 110_000_000);
    let transfers: i64 =
        sqlx::query_scalar("select count(*) from transfer where code in ('purchase', 'purchase_bonus')")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(transfers, 3, "two purchases and one bonus");
}

async fn forged_stale_and_unknown_webhooks_are_refused_and_credit_nothing(backend: Backend) {
    let app = app(backend).await;
    let client = app.signed_up("forged@example.com", "a good password").await;
    let session = checkout(&app, &client, "20").await;
    let body = event("evt_1", &session, 2_000);
    assert_eq!(deliver(&app, &body, None).await, 400, "unsigned");
    assert_eq!(deliver(&app, &body, Some(sign(b"whsec_wrong", now_ms() / 1000, &body))).await, 400, "wrong secret");
    assert_eq!(
        deliver(&app, &body, Some(sign(WHSEC.as_bytes(), now_ms() / 1000 - 600, &body))).await,
        400,
        "ten minutes old"
    );
    let tampered = event("evt_1", &session, 200_000);
    assert_eq!(deliver(&app, &tampered, signed(&tampered)).await, 400, "paid a different amount");
    let unknown = event("evt_2", "cs_not_ours", 2_000);
    assert_eq!(deliver(&app, &unknown, signed(&unknown)).await, 400, "unknown session");
    let other_type =
        serde_json::to_vec(&serde_json::json!({ "id": "evt_3", "type": "charge.refunded", "data": { "object": {} } }))
            .unwrap();
    assert_eq!(deliver(&app, &other_type, signed(&other_type)).await, 400, "unhandled type");
    assert_eq!(balance(&app, &client).await, 5_000_000, "nothing was credited");
    assert_eq!(deliver(&app, &body, signed(&body)).await, 200, "the genuine event still works");
    assert_eq!(balance(&app, &client).await, 25_000_000);
}

async fn nobody_can_pay_or_read_someone_elses_checkout(backend: Backend) {
    let app = app(backend).await;
    let alice = app.signed_up("alice@example.com", "a good password").await;
    let mallory = app.signed_up("mallory@example.com", "a good password").await;
    let session = checkout(&app, &alice, "30").await;
    assert_eq!(app.call(&mallory, "sandbox_pay", &[("session", &session)]).await.status(), 404);
    assert_eq!(app.call(&mallory, "checkout_state", &[("session", &session)]).await.status(), 404);
    assert_eq!(balance(&app, &alice).await, 5_000_000);
    assert_eq!(balance(&app, &mallory).await, 5_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_sandbox_mode_the_sandbox_cannot_be_used_to_pay() {
    let app = spawn_app_with(tollgate::server::infra::db::Backend::Sqlite, &[("TOLLGATE_SANDBOX", "false")]).await;
    let client = app.signed_up("live@example.com", "a good password").await;
    let res = app.call(&client, "checkout_start", &[("amount", "50")]).await;
    assert_eq!(res.status(), 409);
    // Even a session left over from sandbox days cannot be paid through the sandbox.
    let user =
        tollgate::server::services::accounts::users::find_by_email(&app.db, "live@example.com").await.unwrap().unwrap();
    sqlx::query("insert into checkout_session (id, user_id, provider, amount_micros, bonus_micros, status, created_at_ms) values ('cs_sandbox_old', $1, 'sandbox', 50000000, 5000000, 'open', 0)")
        .bind(&user.id)
        .execute(app.db.pool())
        .await
        .unwrap();
    assert_eq!(app.call(&client, "sandbox_pay", &[("session", "cs_sandbox_old")]).await.status(), 404);
    assert_eq!(balance(&app, &client).await, 5_000_000);
}

async fn stripe_app(backend: Backend, key: &str) -> (TestApp, crate::stripe_standin::StandIn) {
    let (standin, addr) = crate::stripe_standin::StandIn::start().await;
    let base = format!("http://{addr}/");
    let app = spawn_app_with(
        backend,
        &[
            ("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC),
            ("TOLLGATE_STRIPE_SECRET_KEY", key),
            ("TOLLGATE_STRIPE_API_BASE", &base),
        ],
    )
    .await;
    (app, standin)
}

async fn with_a_stripe_key_checkout_goes_to_stripe_and_its_webhook_credits_once(backend: Backend) {
    let (app, standin) = stripe_app(backend, crate::stripe_standin::KEY).await;
    let client = app.signed_up("stripe@example.com", "a good password").await;
    let res = app.call(&client, "checkout_start", &[("amount", "50"), ("next", "/studio")]).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    assert_eq!(res.headers()["location"], "https://checkout.stripe.test/c/pay/cs_test_standin_1");

    // What async-stripe sent, as Stripe would receive it.
    let user = tollgate::server::services::accounts::users::find_by_email(&app.db, "stripe@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(standin.field(0, "mode").as_deref(), Some("payment"));
    assert_eq!(standin.field(0, "client_reference_id"), Some(user.id.clone()));
    assert_eq!(standin.field(0, "line_items[0][price_data][unit_amount]").as_deref(), Some("5000"));
    assert_eq!(standin.field(0, "line_items[0][price_data][currency]").as_deref(), Some("usd"));
    assert_eq!(standin.field(0, "line_items[0][quantity]").as_deref(), Some("1"));
    let success = standin.field(0, "success_url").unwrap();
    assert!(success.ends_with("/credits?checkout=success&session={CHECKOUT_SESSION_ID}&next=/studio"), "{success}");
    assert!(standin.field(0, "cancel_url").unwrap().ends_with("/credits?checkout=cancel&next=/studio"));

    // With a key, the sandbox is off.
    assert_eq!(app.call(&client, "sandbox_pay", &[("session", "cs_test_standin_1")]).await.status(), 404);
    let rules: serde_json::Value = app.call(&client, "purchase_rules", &[]).await.json().await.unwrap();
    assert_eq!((rules["sandbox"].as_bool(), rules["available"].as_bool()), (Some(false), Some(true)));

    let body = event("evt_stripe_1", "cs_test_standin_1", 5_000);
    for _ in 0..3 {
        assert_eq!(deliver(&app, &body, signed(&body)).await, 200);
    }
    assert_eq!(balance(&app, &client).await, 60_000_000);
}

async fn a_stripe_error_starts_no_checkout(backend: Backend) {
    let (app, standin) = stripe_app(backend, "sk_test_wrong_key").await;
    let client = app.signed_up("stripe-err@example.com", "a good password").await;
    let res = app.call(&client, "checkout_start", &[("amount", "50")]).await;
    assert_eq!(res.status(), 500);
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(!body.to_string().contains("sk_test"), "no key in the answer: {body}");
    assert!(standin.requests.lock().unwrap().is_empty());
    let sessions: i64 =
        sqlx::query_scalar("select count(*) from checkout_session").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(sessions, 0);
}

async fn checkout_keeps_the_way_back_to_where_the_person_was(backend: Backend) {
    let app = app(backend).await;
    let client = app.signed_up("back@example.com", "a good password").await;
    let res = app.call(&client, "checkout_start", &[("amount", "10"), ("next", "/studio?model=flux")]).await;
    assert_eq!(res.status(), 200);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let (page, query) = location.split_once('?').expect("the way back rides along");
    assert_eq!(query, "next=/studio%3Fmodel%3Dflux");
    let session = page.strip_prefix("/sandbox/checkout/").unwrap();
    let paid = app.call(&client, "sandbox_pay", &[("session", session), ("next", "/studio?model=flux")]).await;
    assert_eq!(
        paid.headers()["location"].to_str().unwrap(),
        format!("/credits?checkout=success&session={session}&next=/studio%3Fmodel%3Dflux")
    );
    // Another site is never a way back.
    let res = app.call(&client, "checkout_start", &[("amount", "10"), ("next", "https://evil.example/")]).await;
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(!location.contains("evil"), "{location}");
}
