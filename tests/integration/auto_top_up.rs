//! Saved cards and auto top-up: a card saved through Checkout in setup mode (or the
//! sandbox), an off-session charge when spending takes the balance under the threshold,
//! credits only from Stripe's signed event, once; the monthly cap, the cooldown, and a
//! declined card that pauses auto top-up until the person acts.

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::server::infra::installation::now_ms;
use tollgate::server::services::accounts::users;
use tollgate::server::services::payments::auto_top_up::run_if_due;
use tollgate::shared::money::Micros;

use crate::credits_page::spend;
use crate::helpers::{TestApp, spawn_app_with, test_config};
use crate::stripe_standin::{StandIn, WHSEC, deliver};

backend_tests!(
    a_sandbox_card_is_saved_shown_and_removed_and_removing_it_turns_auto_top_up_off,
    auto_top_up_settings_are_checked_field_by_field_and_need_a_card,
    spending_under_the_threshold_refills_the_balance_once,
    two_instances_crossing_the_threshold_at_once_charge_one_top_up,
    a_declined_card_pauses_auto_top_up_with_a_notice_and_is_not_retried,
    the_monthly_cap_and_the_cooldown_hold,
    a_card_saved_through_stripe_checkout_replaces_the_old_one_once,
    late_refused_and_contrary_answers_from_stripe_charge_once_and_say_so,
    a_sandbox_card_is_never_charged_once_stripe_is_set_up,
);

const MILLION: i64 = 1_000_000;

async fn sandbox_app(backend: Backend, cooldown_secs: &str) -> TestApp {
    spawn_app_with(
        backend,
        &[("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC), ("TOLLGATE_AUTO_TOP_UP_COOLDOWN_SECS", cooldown_secs)],
    )
    .await
}

/// The stand-in's settings, with no cooldown between attempts.
fn stripe_settings(base: &str) -> Vec<(&'static str, String)> {
    let mut settings = crate::stripe_standin::settings(base);
    settings.push(("TOLLGATE_AUTO_TOP_UP_COOLDOWN_SECS", "0".to_string()));
    settings
}

async fn stripe_app(backend: Backend) -> (TestApp, StandIn, String) {
    crate::stripe_standin::app_with_standin(backend, &[("TOLLGATE_AUTO_TOP_UP_COOLDOWN_SECS", "0")]).await
}

async fn save_sandbox_card(app: &TestApp, client: &reqwest::Client, card: &str) {
    let res = app.call(client, "card_setup", &[]).await;
    assert_eq!(res.headers()["location"], "/sandbox/card");
    let res = app.call(client, "sandbox_card", &[("card", card)]).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
}

async fn put_auto(client: &reqwest::Client, app: &TestApp, body: Value) -> (u16, Value) {
    let res = client.put(app.url("/api/v1/billing/auto-top-up")).json(&body).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

fn enable(threshold: &str, amount: &str, cap: &str) -> Value {
    json!({ "enabled": true, "threshold_usd": threshold, "amount_usd": amount, "monthly_cap_usd": cap })
}

async fn available(app: &TestApp, client: &reqwest::Client) -> i64 {
    app.me(client).await.1["balance"]["available_micros"].as_i64().unwrap()
}

async fn billing(app: &TestApp, client: &reqwest::Client) -> Value {
    client.get(app.url("/api/v1/billing")).send().await.unwrap().json().await.unwrap()
}

async fn user_id(app: &TestApp, email: &str) -> String {
    users::find_by_email(&app.db, email).await.unwrap().unwrap().id
}

async fn top_ups(app: &TestApp) -> Vec<(String, Option<String>)> {
    use sqlx::Row;
    sqlx::query("select status, failure from checkout_session where kind = 'auto_top_up' order by created_at_ms, id")
        .fetch_all(app.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn audit_clean(app: &TestApp) {
    let report = app.state.ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
}

/// Spends `micros` of `email`'s credits under its own idempotency key.
async fn debit(app: &TestApp, email: &str, key: &str, micros: i64) {
    use tollgate::server::ledger::{DebitKind, DebitRequest};
    let wallet = app.state.ledger.find_wallet(&user_id(app, email).await).await.unwrap().unwrap();
    let request = DebitRequest {
        idempotency_key: format!("{email}:{key}"),
        wallet,
        amount: Micros(micros),
        kind: DebitKind::Usage,
        description: "Generating".into(),
        metadata: json!({}),
    };
    app.state.ledger.debit(&request).await.unwrap();
}

/// Waits (bounded) for `check` to hold: the top-up after a call runs in the background.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let within = std::time::Duration::from_secs(5);
    crate::helpers::wait_for(what, within, async || check().await.then_some(())).await
}

async fn a_sandbox_card_is_saved_shown_and_removed_and_removing_it_turns_auto_top_up_off(backend: Backend) {
    let app = sandbox_app(backend, "0").await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    assert_eq!(billing(&app, &ada).await["card"], Value::Null);
    let res = app.call(&ada, "sandbox_card", &[("card", "pm_not_a_sandbox_card")]).await;
    assert_eq!(res.status(), 422, "an unknown card names its field");
    save_sandbox_card(&app, &ada, "pm_sandbox_visa").await;
    let card = ada.get(app.url("/api/v1/billing/card")).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(card["card"]["description"], "Visa ending in 4242, expires 12/2034");
    assert_eq!(card["card"]["sandbox"], true);
    let page = ada.get(app.url("/credits")).send().await.unwrap().text().await.unwrap();
    assert!(crate::helpers::visible(&page).contains("Visa ending in 4242"), "the Balance tab shows the card");

    assert_eq!(put_auto(&ada, &app, enable("2", "25", "200")).await.0, 200);
    let res = ada.delete(app.url("/api/v1/billing/card")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let b = billing(&app, &ada).await;
    assert_eq!((b["card"].clone(), b["auto_top_up"]["enabled"].clone()), (Value::Null, json!(false)));
    let res = ada.delete(app.url("/api/v1/billing/card")).send().await.unwrap();
    assert_eq!(res.status(), 404, "nothing left to remove");
    assert_eq!(app.client.get(app.url("/api/v1/billing/card")).send().await.unwrap().status(), 401);
}

async fn auto_top_up_settings_are_checked_field_by_field_and_need_a_card(backend: Backend) {
    let app = sandbox_app(backend, "0").await;
    let bo = app.signed_up("bo@example.com", "correct horse battery").await;
    let anonymous = app.client.put(app.url("/api/v1/billing/auto-top-up")).json(&enable("5", "25", "200"));
    assert_eq!(anonymous.send().await.unwrap().status(), 401);
    let (status, body) = put_auto(&bo, &app, enable("5", "25", "200")).await;
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("enabled")), "a card first: {body}");
    save_sandbox_card(&app, &bo, "pm_sandbox_visa").await;
    for (body, field) in [
        (enable("-1", "25", "200"), "threshold_usd"),
        (enable("five", "25", "200"), "threshold_usd"),
        (enable("5", "4", "200"), "amount_usd"),
        (enable("5", "1000.01", "5000"), "amount_usd"),
        (enable("5", "25.001", "200"), "amount_usd"),
        (enable("5", "25", "20"), "monthly_cap_usd"),
        (json!({ "enabled": "yes", "threshold_usd": 5, "amount_usd": 25, "monthly_cap_usd": 200 }), "enabled"),
        (json!({ "enabled": true, "threshold_usd": 5, "amount_usd": [25], "monthly_cap_usd": 200 }), "amount_usd"),
        (json!({ "enabled": true, "threshold_usd": 5, "monthly_cap_usd": 200 }), "amount_usd"),
    ] {
        let (status, answer) = put_auto(&bo, &app, body.clone()).await;
        assert_eq!((status, answer["error"]["field"].as_str()), (422, Some(field)), "{body} -> {answer}");
    }
    let res = bo.put(app.url("/api/v1/billing/auto-top-up")).body("not json").send().await.unwrap();
    assert_eq!(res.status(), 422);
    let now = bo.get(app.url("/api/v1/billing/auto-top-up")).send().await.unwrap().json::<Value>().await.unwrap();
    assert_eq!(now["enabled"], false, "bad input changed nothing: {now}");
    // Numbers or strings; off keeps the amounts.
    let (status, on) =
        put_auto(&bo, &app, json!({ "enabled": true, "threshold_usd": 2, "amount_usd": 25, "monthly_cap_usd": "200" }))
            .await;
    assert_eq!((status, on["amount_usd"].as_f64()), (200, Some(25.0)), "{on}");
    let (status, off) = put_auto(&bo, &app, json!({ "enabled": false })).await;
    assert_eq!((status, off["enabled"].as_bool(), off["monthly_cap_usd"].as_f64()), (200, Some(false), Some(200.0)));
    // The server function names its fields the same way.
    let res = app
        .call(
            &bo,
            "auto_top_up",
            &[("enabled", "on"), ("threshold_usd", "5"), ("amount_usd", "2"), ("monthly_cap_usd", "9")],
        )
        .await;
    assert_eq!(res.status(), 422);
}

async fn spending_under_the_threshold_refills_the_balance_once(backend: Backend) {
    let app = sandbox_app(backend, "600").await;
    let cy = app.signed_up("cy@example.com", "correct horse battery").await;
    save_sandbox_card(&app, &cy, "pm_sandbox_visa").await;
    // $5 available is not under a $5 threshold: saving starts nothing.
    assert_eq!(put_auto(&cy, &app, enable("5", "25", "200")).await.0, 200);
    assert!(top_ups(&app).await.is_empty());
    // A charged call takes it under: the card is charged $25 and the event credits it.
    let res = cy.post(app.url("/api/v1/run/fal-ai/flux/schnell")).json(&json!({ "prompt": "a fox" })).send().await;
    assert_eq!(res.unwrap().status(), 200);
    eventually("the top-up", || async { available(&app, &cy).await == 5 * MILLION - 3_000 + 25 * MILLION }).await;
    assert_eq!(top_ups(&app).await, vec![("completed".to_string(), None)]);
    let b = billing(&app, &cy).await;
    assert_eq!(b["auto_top_up"]["this_month_usd"].as_f64(), Some(25.0));
    let kinds: Vec<&str> = b["purchases"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["auto_top_up"]);
    // Its money event says it was a top-up, not a purchase on the page.
    let events = app.event_kinds(&cy).await;
    assert_eq!(events.iter().filter(|k| *k == "top_up.succeeded").count(), 1, "{events:?}");
    assert!(!events.iter().any(|k| k == "purchase.credited"), "{events:?}");
    // Its printable receipt, for its owner only.
    let receipt = format!("/credits/receipts/{}", b["purchases"][0]["id"].as_str().unwrap());
    let page = crate::helpers::visible(&cy.get(app.url(&receipt)).send().await.unwrap().text().await.unwrap());
    assert!(page.contains("<dd>Auto top-up</dd>") && page.contains("<dd>$25.00</dd>"), "{page}");
    let zed = app.signed_up("zed@example.com", "correct horse battery").await;
    let page = crate::helpers::visible(&zed.get(app.url(&receipt)).send().await.unwrap().text().await.unwrap());
    assert!(!page.contains("$25.00") && page.to_lowercase().contains("not found"), "{page}");
    // Checking again changes nothing: the balance is over the threshold.
    let id = user_id(&app, "cy@example.com").await;
    assert_eq!(run_if_due(&app.state, &id).await.unwrap(), None);
    audit_clean(&app).await;
}

async fn two_instances_crossing_the_threshold_at_once_charge_one_top_up(backend: Backend) {
    let (app, standin, base) = stripe_app(backend).await;
    let dee = app.signed_up("dee@example.com", "correct horse battery").await;
    // A card through Checkout in setup mode; its signed event saves it.
    let res = app.call(&dee, "card_setup", &[]).await;
    assert!(res.headers()["location"].to_str().unwrap().starts_with("https://checkout.stripe.test/"));
    let id = user_id(&app, "dee@example.com").await;
    let setup = json!({ "id": "cs_test_standin_1", "object": "checkout.session", "mode": "setup",
        "client_reference_id": id, "customer": "cus_standin_1", "setup_intent": "seti_visa" });
    assert_eq!(deliver(&app, "evt_setup_1", "checkout.session.completed", setup).await, 200);
    assert_eq!(put_auto(&dee, &app, enable("4", "25", "200")).await.0, 200);
    spend(&app, "dee@example.com", 1, Micros(2 * MILLION)).await;

    // Two instances, eight checks each, all at once: one attempt, one charge.
    let settings = stripe_settings(&base);
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let other = tollgate::server::web::app_server::AppServer::build(
        test_config(app.database_handle(), &pairs),
        tollgate::ui::app::web_app(),
    )
    .await
    .unwrap();
    let states = [app.state.clone(), other.state().clone()];
    let checks: Vec<_> = (0..16)
        .map(|i| {
            let (state, id) = (states[i % 2].clone(), id.clone());
            tokio::spawn(async move { run_if_due(&state, &id).await.unwrap() })
        })
        .collect();
    let mut started = Vec::new();
    for check in checks {
        started.extend(check.await.unwrap());
    }
    assert_eq!(started.len(), 1, "{started:?}");
    let intents = standin.payment_intents.lock().unwrap().clone();
    assert_eq!(intents.len(), 1);
    let (form, key) = &intents[0];
    let get = |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
    assert_eq!(
        (get("amount"), get("customer"), get("payment_method"), get("off_session"), get("confirm")),
        (Some("2500"), Some("cus_standin_1"), Some("pm_standin_visa"), Some("true"), Some("true"))
    );
    assert_eq!(key.as_deref(), Some(format!("tollgate-top-up:{id}:1").as_str()));
    assert_eq!(available(&app, &dee).await, 3 * MILLION, "nothing is credited before Stripe's event");

    // The event, delivered twice at once and again later: credited once.
    let paid = json!({ "id": "pi_standin_1", "object": "payment_intent", "amount": 2500, "amount_received": 2500,
        "currency": "usd", "status": "succeeded", "metadata": { "tollgate_session": started[0] } });
    let (a, b) = tokio::join!(
        deliver(&app, "evt_pi_1", "payment_intent.succeeded", paid.clone()),
        deliver(&app, "evt_pi_1", "payment_intent.succeeded", paid.clone()),
    );
    assert!([a, b].contains(&200), "{a} {b}");
    assert_eq!(deliver(&app, "evt_pi_1b", "payment_intent.succeeded", paid).await, 200);
    assert_eq!(available(&app, &dee).await, 28 * MILLION);
    // A Checkout purchase's own payment event is not ours to act on.
    let foreign = json!({ "id": "pi_other", "object": "payment_intent", "amount_received": 5000, "currency": "usd",
        "metadata": {} });
    assert_eq!(deliver(&app, "evt_pi_2", "payment_intent.succeeded", foreign).await, 200);
    assert_eq!(available(&app, &dee).await, 28 * MILLION);
    audit_clean(&app).await;
}

async fn a_declined_card_pauses_auto_top_up_with_a_notice_and_is_not_retried(backend: Backend) {
    let app = sandbox_app(backend, "0").await;
    let eve = app.signed_up("eve@example.com", "correct horse battery").await;
    save_sandbox_card(&app, &eve, "pm_sandbox_declined").await;
    // Saved under the threshold: the attempt starts at once and is declined.
    assert_eq!(put_auto(&eve, &app, enable("10", "25", "200")).await.0, 200);
    let paused = |b: Value| b["auto_top_up"]["paused_reason"].as_str().map(str::to_string);
    assert_eq!(paused(billing(&app, &eve).await), Some("Your card was declined.".to_string()));
    assert_eq!(top_ups(&app).await, vec![("open".to_string(), Some("Your card was declined.".to_string()))]);
    let page = eve.get(app.url("/credits")).send().await.unwrap().text().await.unwrap();
    assert!(crate::helpers::visible(&page).contains("Auto top-up is paused: Your card was declined."));
    let b = billing(&app, &eve).await;
    assert_eq!(b["purchases"][0]["status"], "declined");
    assert_eq!(b["auto_top_up"]["this_month_usd"].as_f64(), Some(0.0), "a declined attempt costs nothing");
    let events = app.event_kinds(&eve).await;
    assert_eq!(events.iter().filter(|k| *k == "top_up.failed").count(), 1, "{events:?}");
    // Spending more, and checking again: no retry while paused.
    let id = user_id(&app, "eve@example.com").await;
    spend(&app, "eve@example.com", 1, Micros(MILLION)).await;
    for _ in 0..3 {
        assert_eq!(run_if_due(&app.state, &id).await.unwrap(), None);
    }
    assert_eq!(top_ups(&app).await.len(), 1);
    // Turning it on again is one new attempt (declined again), not a loop.
    assert_eq!(put_auto(&eve, &app, enable("10", "25", "200")).await.0, 200);
    assert_eq!(top_ups(&app).await.len(), 2);
    // A good card lifts the pause; the next check tops up.
    save_sandbox_card(&app, &eve, "pm_sandbox_visa").await;
    assert_eq!(paused(billing(&app, &eve).await), None);
    assert!(run_if_due(&app.state, &id).await.unwrap().is_some());
    assert_eq!(available(&app, &eve).await, 4 * MILLION + 25 * MILLION);
    audit_clean(&app).await;

    // Stripe's own decline: a 402 from an off-session charge, and a failure event later.
    let (app, _standin, _) = stripe_app(backend).await;
    let fay = app.signed_up("fay@example.com", "correct horse battery").await;
    let id = user_id(&app, "fay@example.com").await;
    assert_eq!(app.call(&fay, "card_setup", &[]).await.status(), 200);
    let setup = json!({ "id": "cs_test_standin_1", "mode": "setup", "client_reference_id": id,
        "customer": "cus_standin_1", "setup_intent": "seti_declined" });
    assert_eq!(deliver(&app, "evt_setup_2", "checkout.session.completed", setup).await, 200);
    assert_eq!(put_auto(&fay, &app, enable("10", "25", "200")).await.0, 200);
    assert_eq!(paused(billing(&app, &fay).await), Some("Your card was declined.".to_string()));
    let failed = json!({ "id": "pi_x", "object": "payment_intent", "metadata": { "tollgate_session": format!("topup_1_{id}") },
        "last_payment_error": { "message": "Your card was declined." } });
    assert_eq!(deliver(&app, "evt_fail_1", "payment_intent.payment_failed", failed).await, 200);
    assert_eq!(top_ups(&app).await.len(), 1, "the event repeats what the answer said");
    assert_eq!(available(&app, &fay).await, 5 * MILLION);
}

async fn the_monthly_cap_and_the_cooldown_hold(backend: Backend) {
    let app = sandbox_app(backend, "0").await;
    let gus = app.signed_up("gus@example.com", "correct horse battery").await;
    let id = user_id(&app, "gus@example.com").await;
    save_sandbox_card(&app, &gus, "pm_sandbox_visa").await;
    assert_eq!(put_auto(&gus, &app, enable("4", "25", "50")).await.0, 200);
    // Each time the balance falls under $4 it is refilled, until the $50 cap.
    for round in 0..3 {
        let before = available(&app, &gus).await;
        debit(&app, "gus@example.com", &format!("round-{round}"), before - MILLION).await;
        let started = run_if_due(&app.state, &id).await.unwrap();
        assert_eq!(started.is_some(), round < 2, "round {round}");
    }
    assert_eq!(available(&app, &gus).await, MILLION, "the third would pass the cap");
    let b = billing(&app, &gus).await;
    assert_eq!(b["auto_top_up"]["this_month_usd"].as_f64(), Some(50.0));
    audit_clean(&app).await;

    // With a cooldown, a second attempt waits for it even when the first is settled.
    let app = sandbox_app(backend, "600").await;
    let hal = app.signed_up("hal@example.com", "correct horse battery").await;
    let id = user_id(&app, "hal@example.com").await;
    save_sandbox_card(&app, &hal, "pm_sandbox_visa").await;
    assert_eq!(put_auto(&hal, &app, enable("4", "25", "500")).await.0, 200);
    spend(&app, "hal@example.com", 1, Micros(2 * MILLION)).await;
    assert!(run_if_due(&app.state, &id).await.unwrap().is_some());
    debit(&app, "hal@example.com", "second", 27 * MILLION).await;
    assert_eq!(run_if_due(&app.state, &id).await.unwrap(), None, "within the cooldown");
    assert_eq!(top_ups(&app).await.len(), 1);
}

async fn a_card_saved_through_stripe_checkout_replaces_the_old_one_once(backend: Backend) {
    let (app, standin, _) = stripe_app(backend).await;
    let ivy = app.signed_up("ivy@example.com", "correct horse battery").await;
    let id = user_id(&app, "ivy@example.com").await;
    // Two setups: one customer, made once with the account's idempotency key.
    for _ in 0..2 {
        assert_eq!(app.call(&ivy, "card_setup", &[]).await.status(), 200);
    }
    let customers = standin.customers.lock().unwrap().clone();
    assert_eq!(customers.len(), 1, "the customer is kept after the first");
    assert_eq!(customers[0].0.as_deref(), Some(format!("tollgate-customer:{id}").as_str()));
    assert_eq!(standin.field(0, "mode").as_deref(), Some("setup"));
    assert_eq!(standin.field(0, "customer").as_deref(), Some("cus_standin_1"));
    let setup = |seti: &str| json!({ "id": "cs_1", "mode": "setup", "client_reference_id": id, "customer": "cus_standin_1", "setup_intent": seti });
    assert_eq!(deliver(&app, "evt_a", "checkout.session.completed", setup("seti_first")).await, 200);
    assert_eq!(deliver(&app, "evt_b", "checkout.session.completed", setup("seti_second")).await, 200);
    assert_eq!(standin.detached.lock().unwrap().clone(), vec!["pm_standin_first".to_string()]);
    // Another customer's setup, or a setup id that is not one, changes nothing.
    let wrong = json!({ "id": "cs_2", "mode": "setup", "client_reference_id": id, "customer": "cus_other",
        "setup_intent": "seti_third" });
    assert_eq!(deliver(&app, "evt_c", "checkout.session.completed", wrong).await, 400);
    assert_eq!(deliver(&app, "evt_d", "checkout.session.completed", setup("seti_../../v1/charges")).await, 400);
    // Removing detaches it; replaying the old event does not bring it back.
    assert_eq!(ivy.delete(app.url("/api/v1/billing/card")).send().await.unwrap().status(), 200);
    assert_eq!(deliver(&app, "evt_b", "checkout.session.completed", setup("seti_second")).await, 200);
    assert_eq!(billing(&app, &ivy).await["card"], Value::Null);
    assert_eq!(standin.detached.lock().unwrap().len(), 2);
}

/// Saves a Stripe card (through the setup event) and turns auto top-up on at `threshold`.
async fn stripe_card(app: &TestApp, client: &reqwest::Client, email: &str, seti: &str, threshold: &str) -> String {
    let id = user_id(app, email).await;
    assert_eq!(app.call(client, "card_setup", &[]).await.status(), 200);
    let customer: String = sqlx::query_scalar("select stripe_customer from billing_profile where user_id = $1")
        .bind(&id)
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    let setup = json!({ "id": "cs_setup", "mode": "setup", "client_reference_id": id,
        "customer": customer, "setup_intent": seti });
    assert_eq!(deliver(app, &format!("evt_{seti}"), "checkout.session.completed", setup).await, 200);
    assert_eq!(put_auto(client, app, enable(threshold, "25", "200")).await.0, 200);
    id
}

async fn late_refused_and_contrary_answers_from_stripe_charge_once_and_say_so(backend: Backend) {
    use tollgate::server::services::payments::attempts;
    let (app, standin, _) = stripe_app(backend).await;
    let jo = app.signed_up("jo@example.com", "correct horse battery").await;
    // Accepted by Stripe, its event late: however late, no second charge.
    let id = stripe_card(&app, &jo, "jo@example.com", "seti_visa", "10").await;
    assert_eq!(standin.payment_intents.lock().unwrap().len(), 1);
    let price = |m: Micros| app.state.purchase_rules().quote_micros(m);
    let two_hours_later = now_ms() + 2 * 3_600_000;
    assert!(attempts::claim(&app.db, &id, two_hours_later, 0, price).await.unwrap().is_none());

    // Refused by Stripe (the card is gone there): recorded as declined, paused, not retried.
    let kim = app.signed_up("kim@example.com", "correct horse battery").await;
    stripe_card(&app, &kim, "kim@example.com", "seti_missing", "10").await;
    let b = billing(&app, &kim).await;
    assert_eq!(b["auto_top_up"]["paused_reason"], "Stripe refused this: No such PaymentMethod.", "{b}");
    assert_eq!(b["auto_top_up"]["this_month_usd"].as_f64(), Some(0.0));

    // Declined, then paid after all: credited once, the pause lifted, the month counted.
    let lu = app.signed_up("lu@example.com", "correct horse battery").await;
    let id = stripe_card(&app, &lu, "lu@example.com", "seti_declined", "10").await;
    let session = format!("topup_1_{id}");
    let receipt = lu.get(app.url(&format!("/credits/receipts/{session}"))).send().await.unwrap().text().await.unwrap();
    assert!(!receipt.contains("$25.00"), "a declined attempt has no receipt");
    let paid = json!({ "id": "pi_late", "object": "payment_intent", "amount_received": 2500, "currency": "usd",
        "metadata": { "tollgate_session": session } });
    assert_eq!(deliver(&app, "evt_late", "payment_intent.succeeded", paid.clone()).await, 200);
    assert_eq!(deliver(&app, "evt_late", "payment_intent.succeeded", paid).await, 200);
    assert_eq!(available(&app, &lu).await, 30 * MILLION);
    let b = billing(&app, &lu).await;
    assert_eq!(b["auto_top_up"]["paused_reason"], Value::Null);
    assert_eq!(b["auto_top_up"]["this_month_usd"].as_f64(), Some(25.0));
    assert_eq!(b["purchases"][0]["status"], "paid");
    audit_clean(&app).await;
}

async fn a_sandbox_card_is_never_charged_once_stripe_is_set_up(backend: Backend) {
    let app = sandbox_app(backend, "0").await;
    let max = app.signed_up("max@example.com", "correct horse battery").await;
    save_sandbox_card(&app, &max, "pm_sandbox_visa").await;
    assert_eq!(put_auto(&max, &app, enable("4", "25", "200")).await.0, 200);
    debit(&app, "max@example.com", "spent", 2 * MILLION).await;
    // The same database, now served with a Stripe account.
    let (_standin, addr) = StandIn::start().await;
    let settings = stripe_settings(&format!("http://{addr}/"));
    let pairs: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let live = tollgate::server::web::app_server::AppServer::build(
        test_config(app.database_handle(), &pairs),
        tollgate::ui::app::web_app(),
    )
    .await
    .unwrap();
    let id = user_id(&app, "max@example.com").await;
    assert!(run_if_due(live.state(), &id).await.unwrap().is_some(), "an attempt, declined");
    assert_eq!(available(&app, &max).await, 3 * MILLION, "no credits from a sandbox card");
    let reason = billing(&app, &max).await["auto_top_up"]["paused_reason"].as_str().unwrap().to_string();
    assert!(reason.contains("sandbox card"), "{reason}");
    audit_clean(&app).await;
}
