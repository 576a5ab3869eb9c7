//! Refunds and disputes: Stripe's signed events take purchased credits back (what was
//! already spent becomes owed, and blocks new work until paid), and a dispute decided
//! for the payer gives them back. Every event moves money once, however often it comes.

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::shared::money::Micros;

use crate::credits_page::spend;
use crate::helpers::{TestApp, spawn_app_with};
use crate::stripe_standin::{WHSEC, deliver};

backend_tests!(
    a_refund_after_spending_takes_what_is_left_and_the_rest_is_owed_until_paid,
    partial_refunds_take_back_their_share_once_even_when_delivered_at_once,
    a_won_dispute_gives_back_everything_it_took_and_a_lost_one_keeps_it,
    events_for_payments_that_are_not_ours_change_nothing,
    an_administrator_refund_goes_through_stripe_and_its_event_takes_the_credits,
    a_sandbox_refund_takes_the_credits_back_at_once,
    the_refund_command_refunds_a_purchase_and_names_a_bad_field,
    money_a_hold_no_longer_needs_pays_what_is_owed,
);

const MILLION: i64 = 1_000_000;

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC)]).await
}

/// Buys `dollars` in the sandbox; returns the Stripe payment it was paid with.
async fn buy(app: &TestApp, client: &reqwest::Client, dollars: &str) -> String {
    let res = app.call(client, "checkout_start", &[("amount", dollars)]).await;
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let session = location.strip_prefix("/sandbox/checkout/").unwrap().to_string();
    let paid = app.call(client, "sandbox_pay", &[("session", &session)]).await;
    assert_eq!(paid.status(), 200, "{:?}", paid.text().await);
    sqlx::query_scalar("select payment_intent from checkout_session where id = $1")
        .bind(&session)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

fn refund(payment: &str, refunded_cents: i64) -> Value {
    json!({ "id": "ch_1", "object": "charge", "payment_intent": payment, "amount_refunded": refunded_cents, "currency": "usd" })
}

fn dispute(id: &str, payment: &str, cents: i64, status: &str) -> Value {
    json!({ "id": id, "object": "dispute", "payment_intent": payment, "amount": cents, "status": status })
}

/// (available, owed) in micro-dollars.
async fn wallet(app: &TestApp, client: &reqwest::Client) -> (i64, i64) {
    let me = app.me(client).await.1;
    (me["balance"]["available_micros"].as_i64().unwrap(), me["balance"]["owed_micros"].as_i64().unwrap())
}

/// The person's payments as `GET /api/v1/billing/payments` lists them: (status, refunded).
async fn statuses(app: &TestApp, client: &reqwest::Client) -> Vec<(String, i64)> {
    let res = client.get(app.url("/api/v1/billing/payments")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["status"].as_str().unwrap().to_string(), p["refunded_micros"].as_i64().unwrap()))
        .collect()
}

async fn audit_clean(app: &TestApp) {
    let report = app.state.ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
}

async fn a_refund_after_spending_takes_what_is_left_and_the_rest_is_owed_until_paid(backend: Backend) {
    let app = app(backend).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    let payment = buy(&app, &ada, "50").await;
    assert_eq!(wallet(&app, &ada).await, (60 * MILLION, 0), "five to start, fifty and a five bonus bought");
    spend(&app, "ada@example.com", 1, Micros(58 * MILLION)).await;

    // The whole $50 refunded: $50 and its $5 bonus go back; $2 is left to take, $53 is owed.
    assert_eq!(deliver(&app, "evt_r1", "charge.refunded", refund(&payment, 5_000)).await, 200);
    assert_eq!(wallet(&app, &ada).await, (0, 53 * MILLION));
    audit_clean(&app).await;
    // The same event again, or another one with the same refunded total: nothing more.
    assert_eq!(deliver(&app, "evt_r1", "charge.refunded", refund(&payment, 5_000)).await, 200);
    assert_eq!(deliver(&app, "evt_r1b", "charge.refunded", refund(&payment, 5_000)).await, 200);
    assert_eq!(wallet(&app, &ada).await, (0, 53 * MILLION));

    // Owing blocks new work, even work that would fit in what is available.
    let res = ada.post(app.url("/api/v1/run/fal-ai/flux/schnell?dryRun=true")).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 402);
    let page = ada.get(app.url("/credits")).send().await.unwrap().text().await.unwrap();
    assert!(crate::helpers::visible(&page).contains("You owe $53.00"), "the Balance tab says so");

    // The next credits pay what is owed first.
    buy(&app, &ada, "50").await;
    assert_eq!(wallet(&app, &ada).await, (2 * MILLION, 0), "$55 bought, $53 of it paid what was owed");
    let res = ada.post(app.url("/api/v1/run/fal-ai/flux/schnell?dryRun=true")).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 200, "work can start again");
    let rows: Value = app.call(&ada, "transactions", &[("filter", "refunds")]).await.json().await.unwrap();
    let amounts: Vec<i64> = rows["rows"].as_array().unwrap().iter().map(|r| r["amount"].as_i64().unwrap()).collect();
    assert_eq!(
        amounts,
        vec![-3 * MILLION, -50 * MILLION, -2 * MILLION],
        "what was owed, paid by the purchase and then its bonus; and the $2 taken back"
    );
    audit_clean(&app).await;
}

async fn partial_refunds_take_back_their_share_once_even_when_delivered_at_once(backend: Backend) {
    let app = app(backend).await;
    let bo = app.signed_up("bo@example.com", "correct horse battery").await;
    let payment = buy(&app, &bo, "50").await;
    // $20 of $50 refunded: $20 and $2 of the bonus. Two deliveries at once take it once.
    let (a, b) = tokio::join!(
        deliver(&app, "evt_p1", "charge.refunded", refund(&payment, 2_000)),
        deliver(&app, "evt_p2", "charge.refunded", refund(&payment, 2_000)),
    );
    assert!([a, b].contains(&200), "{a} {b}");
    if a != 200 || b != 200 {
        // The one that lost the race is retried by Stripe, and then finds nothing to do.
        assert_eq!(deliver(&app, "evt_p3", "charge.refunded", refund(&payment, 2_000)).await, 200);
    }
    assert_eq!(wallet(&app, &bo).await, (38 * MILLION, 0));
    // The rest refunded later: the refunded total says how much more.
    assert_eq!(statuses(&app, &bo).await, vec![("partly_refunded".to_string(), 20 * MILLION)]);
    assert_eq!(deliver(&app, "evt_p4", "charge.refunded", refund(&payment, 5_000)).await, 200);
    assert_eq!(wallet(&app, &bo).await, (5 * MILLION, 0), "only the sign-up credit is left");
    let refunded: i64 =
        sqlx::query_scalar("select refunded_micros from checkout_session").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(refunded, 50 * MILLION);
    let history = statuses(&app, &bo).await;
    assert_eq!(history, vec![("refunded".to_string(), 50 * MILLION)]);
    // Its money events: the $55 taken back, once, however often it was delivered.
    let events: Value = bo.get(app.url("/api/v1/events?limit=1000")).send().await.unwrap().json().await.unwrap();
    let taken: i64 = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "purchase.refunded")
        .map(|e| e["data"]["amount_micros"].as_i64().unwrap())
        .sum();
    assert_eq!(taken, -55 * MILLION);
    audit_clean(&app).await;
}

async fn a_won_dispute_gives_back_everything_it_took_and_a_lost_one_keeps_it(backend: Backend) {
    let app = app(backend).await;
    let cy = app.signed_up("cy@example.com", "correct horse battery").await;
    let payment = buy(&app, &cy, "50").await;
    spend(&app, "cy@example.com", 1, Micros(40 * MILLION)).await;
    // Opened: $55 taken back; $20 was there, $35 is owed. Replays take nothing more.
    let opened = dispute("dp_1", &payment, 5_000, "needs_response");
    let (a, b) = tokio::join!(
        deliver(&app, "evt_d1", "charge.dispute.created", opened.clone()),
        deliver(&app, "evt_d1", "charge.dispute.created", opened.clone()),
    );
    assert!([a, b].contains(&200), "{a} {b}");
    assert_eq!(deliver(&app, "evt_d1b", "charge.dispute.created", opened).await, 200);
    assert_eq!(wallet(&app, &cy).await, (0, 35 * MILLION));
    assert_eq!(statuses(&app, &cy).await, vec![("disputed".to_string(), 0)]);
    // A purchase meanwhile pays $35 of what is owed.
    buy(&app, &cy, "50").await;
    assert_eq!(wallet(&app, &cy).await, (20 * MILLION, 0));
    // Won: the $20 taken and the $35 paid come back as credits.
    assert_eq!(deliver(&app, "evt_d2", "charge.dispute.closed", dispute("dp_1", &payment, 5_000, "won")).await, 200);
    assert_eq!(deliver(&app, "evt_d2b", "charge.dispute.closed", dispute("dp_1", &payment, 5_000, "won")).await, 200);
    assert_eq!(wallet(&app, &cy).await, (75 * MILLION, 0));
    let history = statuses(&app, &cy).await;
    assert!(
        history.contains(&("dispute_won".to_string(), 0)) && history.contains(&("paid".to_string(), 0)),
        "{history:?}"
    );
    let listed: Value = app.call(&cy, "payments", &[]).await.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "the Balance tab's list: {listed}");
    let events = app.event_kinds(&cy).await;
    let count = |kind: &str| events.iter().filter(|k| *k == kind).count();
    assert!(
        count("purchase.disputed") >= 1 && count("owed.repaid") == 1 && count("purchase.dispute_won") >= 1,
        "{events:?}"
    );
    assert_eq!(count("purchase.refunded"), 0, "a dispute is not a refund: {events:?}");
    audit_clean(&app).await;

    // A second purchase disputed and lost: what was taken stays taken.
    let dee = app.signed_up("dee@example.com", "correct horse battery").await;
    let payment = buy(&app, &dee, "50").await;
    assert_eq!(
        deliver(&app, "evt_d3", "charge.dispute.created", dispute("dp_2", &payment, 5_000, "needs_response")).await,
        200
    );
    assert_eq!(wallet(&app, &dee).await, (5 * MILLION, 0));
    assert_eq!(deliver(&app, "evt_d4", "charge.dispute.closed", dispute("dp_2", &payment, 5_000, "lost")).await, 200);
    assert_eq!(wallet(&app, &dee).await, (5 * MILLION, 0));
    let status: String =
        sqlx::query_scalar("select status from dispute where id = 'dp_2'").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(status, "lost");
    audit_clean(&app).await;
}

async fn events_for_payments_that_are_not_ours_change_nothing(backend: Backend) {
    let app = app(backend).await;
    let eve = app.signed_up("eve@example.com", "correct horse battery").await;
    let payment = buy(&app, &eve, "50").await;
    assert_eq!(deliver(&app, "evt_x1", "charge.refunded", refund("pi_elsewhere", 5_000)).await, 400);
    assert_eq!(deliver(&app, "evt_x2", "charge.dispute.closed", dispute("dp_none", &payment, 5_000, "won")).await, 400);
    assert_eq!(deliver(&app, "evt_x3", "charge.refunded", json!({ "payment_intent": payment })).await, 400);
    assert_eq!(deliver(&app, "evt_x4", "charge.dispute.closed", dispute("dp_1", &payment, 5_000, "odd")).await, 400);
    assert_eq!(wallet(&app, &eve).await, (60 * MILLION, 0));
    assert_eq!(statuses(&app, &eve).await, vec![("paid".to_string(), 0)]);
    let res = eve.get(app.url("/api/v1/billing/payments?limit=0")).send().await.unwrap();
    assert_eq!(res.status(), 400, "a bad limit names its field");
    let anonymous = app.client.get(app.url("/api/v1/billing/payments")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    audit_clean(&app).await;
}

async fn an_administrator_refund_goes_through_stripe_and_its_event_takes_the_credits(backend: Backend) {
    use tollgate::server::services::purchases::refund::refund;
    let (standin, addr) = crate::stripe_standin::StandIn::start().await;
    let base = format!("http://{addr}/");
    let app = spawn_app_with(
        backend,
        &[
            ("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC),
            ("TOLLGATE_STRIPE_SECRET_KEY", crate::stripe_standin::KEY),
            ("TOLLGATE_STRIPE_API_BASE", &base),
        ],
    )
    .await;
    let fay = app.signed_up("fay@example.com", "correct horse battery").await;
    assert_eq!(app.call(&fay, "checkout_start", &[("amount", "50")]).await.status(), 200);
    let paid = json!({ "id": "cs_test_standin_1", "payment_status": "paid", "amount_total": 5_000,
        "payment_intent": "pi_test_1", "currency": "usd" });
    assert_eq!(deliver(&app, "evt_s1", "checkout.session.completed", paid).await, 200);
    assert_eq!(wallet(&app, &fay).await, (60 * MILLION, 0));

    // Bad requests reach neither Stripe nor the ledger.
    let field = |e: tollgate::shared::error::AppError| match e {
        tollgate::shared::error::AppError::Validation { field, .. } => field,
        other => panic!("expected a validation error, got {other:?}"),
    };
    assert_eq!(field(refund(&app.state, "pi_unknown", None).await.unwrap_err()), "payment");
    assert_eq!(field(refund(&app.state, "pi_test_1", Some(Micros(51 * MILLION))).await.unwrap_err()), "amount_usd");
    assert_eq!(field(refund(&app.state, "pi_test_1", Some(Micros(1))).await.unwrap_err()), "amount_usd");
    assert!(standin.refunds.lock().unwrap().is_empty());

    // $20 of it, by the checkout session's id: Stripe is asked, with an idempotency key.
    let started = refund(&app.state, "cs_test_standin_1", Some(Micros(20 * MILLION))).await.unwrap();
    assert_eq!((started.refund_id.as_str(), started.payment_intent.as_str()), ("re_test_standin_1", "pi_test_1"));
    {
        let refunds = standin.refunds.lock().unwrap();
        let (form, key) = &refunds[0];
        let get = |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        assert_eq!((get("payment_intent"), get("amount")), (Some("pi_test_1"), Some("2000")));
        assert!(key.as_deref().is_some_and(|k| k.contains("cs_test_standin_1")), "{key:?}");
    }
    assert_eq!(wallet(&app, &fay).await, (60 * MILLION, 0), "nothing moves until Stripe says it refunded");
    assert_eq!(deliver(&app, "evt_s2", "charge.refunded", refund_event("pi_test_1", 2_000)).await, 200);
    assert_eq!(wallet(&app, &fay).await, (38 * MILLION, 0), "$20 and its $2 bonus share");
    audit_clean(&app).await;
}

fn refund_event(payment: &str, cents: i64) -> Value {
    refund(payment, cents)
}

async fn a_sandbox_refund_takes_the_credits_back_at_once(backend: Backend) {
    use tollgate::server::services::purchases::refund::refund;
    let app = app(backend).await;
    let gus = app.signed_up("gus@example.com", "correct horse battery").await;
    let payment = buy(&app, &gus, "50").await;
    let started = refund(&app.state, &payment, Some(Micros(10 * MILLION))).await.unwrap();
    assert!(started.refund_id.starts_with("re_sandbox_"));
    assert_eq!(wallet(&app, &gus).await, (49 * MILLION, 0), "$10 and its $1 bonus share");
    // The rest, by default.
    refund(&app.state, &payment, None).await.unwrap();
    assert_eq!(wallet(&app, &gus).await, (5 * MILLION, 0));
    let err = refund(&app.state, &payment, None).await.unwrap_err();
    assert!(matches!(err, tollgate::shared::error::AppError::Validation { ref field, .. } if field == "amount_usd"));
    audit_clean(&app).await;
}

async fn the_refund_command_refunds_a_purchase_and_names_a_bad_field(backend: Backend) {
    let app = app(backend).await;
    let hal = app.signed_up("hal@example.com", "correct horse battery").await;
    let payment = buy(&app, &hal, "50").await;
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TOLLGATE_")) {
            cmd.env_remove(k);
        }
        cmd.current_dir(dir.path())
            .env("TOLLGATE_DATABASE_URL", &app.database_handle().url)
            .env("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC)
            .env("TOLLGATE_MASTER_KEY", crate::helpers::TEST_MASTER_KEY)
            .env("TOLLGATE_SECRET_KEY", "test-secret-key-0123456789abcdef0123456789")
            .args(["admin", "refund"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--payment", &payment, "--amount-usd", "100"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("amount_usd") || err.contains("$50.00"), "{err}");
    let out = run(&["--payment", &payment, "--amount-usd", "20"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.starts_with("refund $20.00 of cs_sandbox_"), "{said}");
    assert_eq!(wallet(&app, &hal).await, (38 * MILLION, 0), "$20 and its $2 bonus share");
    audit_clean(&app).await;
}

async fn money_a_hold_no_longer_needs_pays_what_is_owed(backend: Backend) {
    use tollgate::server::ledger::HoldRequest;
    let app = app(backend).await;
    let ivy = app.signed_up("ivy@example.com", "correct horse battery").await;
    let payment = buy(&app, &ivy, "50").await;
    let user =
        tollgate::server::services::accounts::users::find_by_email(&app.db, "ivy@example.com").await.unwrap().unwrap();
    let account = app.state.ledger.find_wallet(&user.id).await.unwrap().unwrap();
    let hold = |key: &str| HoldRequest {
        idempotency_key: key.to_string(),
        wallet: account,
        amount: Micros(25 * MILLION),
        ttl_ms: 60_000,
        description: "Work in progress".into(),
        metadata: json!({}),
    };
    let first = app.state.ledger.create_hold(&hold("h1")).await.unwrap();
    let second = app.state.ledger.create_hold(&hold("h2")).await.unwrap();
    // Refunded while $50 is held: the $10 available is taken and $45 is owed.
    assert_eq!(deliver(&app, "evt_h1", "charge.refunded", refund(&payment, 5_000)).await, 200);
    assert_eq!(wallet(&app, &ivy).await, (0, 45 * MILLION));
    // A voided hold's $25 pays $25 of it; the other, captured at $5, frees $20 for the rest.
    app.state.ledger.void_hold(first.id).await.unwrap();
    assert_eq!(wallet(&app, &ivy).await, (0, 20 * MILLION));
    let capture = tollgate::server::ledger::CaptureRequest {
        idempotency_key: "c2".into(),
        hold_id: second.id,
        actual: Micros(5 * MILLION),
        description: "Done".into(),
        metadata: json!({}),
    };
    app.state.ledger.capture_hold(&capture).await.unwrap();
    assert_eq!(wallet(&app, &ivy).await, (0, 0));
    let journal: i64 = sqlx::query_scalar("select count(*) from owed_change").fetch_one(app.db.pool()).await.unwrap();
    assert_eq!(journal, 4, "owed for the purchase and its bonus, repaid twice");
    audit_clean(&app).await;
}
