//! Monthly invoices for postpaid accounts: made once per account and month however often
//! the run repeats, lines per model, paid by the saved card (sandbox or Stripe's signed
//! event, once), and an invoice unpaid past its due date stops new work.

use serde_json::{Value, json};
use tollgate::server::infra::db::Backend;
use tollgate::server::infra::installation::now_ms;
use tollgate::server::services::payments::invoices::{Month, run_month, tell_overdue};
use tollgate::server::services::payments::postpaid::set_mode;
use tollgate::shared::money::Micros;

use crate::credits_page::spend;
use crate::helpers::{TestApp, spawn_app_with};
use crate::stripe_standin::{WHSEC, deliver};

backend_tests!(
    a_month_is_invoiced_once_with_lines_per_model_and_paid_by_the_saved_card,
    an_invoice_unpaid_past_its_due_date_stops_new_work_until_paid,
    an_invoice_paid_through_stripe_settles_the_credit_line_once,
);

fn last_month() -> Month {
    Month::of(now_ms()).previous()
}

/// Moves the account's calls into last month, as if they were made then.
async fn calls_made_last_month(app: &TestApp) {
    sqlx::query("update usage_record set finished_at_ms = $1, created_at_ms = $1")
        .bind(last_month().start_ms() + 86_400_000)
        .execute(app.db.pool())
        .await
        .unwrap();
}

async fn run(app: &TestApp, path: &str, client: &reqwest::Client) -> (u16, Value) {
    let res = client.post(app.url(path)).json(&json!({ "prompt": "a fox" })).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

async fn credit_used(app: &TestApp, client: &reqwest::Client) -> i64 {
    app.me(client).await.1["balance"]["credit_used_micros"].as_i64().unwrap()
}

async fn audit_clean(app: &TestApp) {
    let report = app.state.ledger.audit().await.unwrap();
    assert!(report.is_clean(), "{:?}", report.findings);
}

async fn a_month_is_invoiced_once_with_lines_per_model_and_paid_by_the_saved_card(backend: Backend) {
    let app = spawn_app_with(backend, &[("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC)]).await;
    let ada = app.signed_up("ada@example.com", "correct horse battery").await;
    set_mode(&app.state, "ada@example.com", "postpaid", Some("100")).await.unwrap();
    assert_eq!(app.call(&ada, "sandbox_card", &[("card", "pm_sandbox_visa")]).await.status(), 200);
    // $6 spent with $5 of credits: $1 on credit. Then two calls, on credit too.
    spend(&app, "ada@example.com", 1, Micros::from_usd(6)).await;
    for _ in 0..2 {
        assert_eq!(run(&app, "/api/v1/run/fal-ai/flux/schnell", &ada).await.0, 200);
    }
    assert_eq!(credit_used(&app, &ada).await, 1_006_000);
    calls_made_last_month(&app).await;

    // Run three times, two of them at once: one invoice.
    let (a, b) =
        tokio::join!(run_month(&app.state, last_month(), now_ms()), run_month(&app.state, last_month(), now_ms()));
    let again = run_month(&app.state, last_month(), now_ms()).await.unwrap();
    let made = a.unwrap().made.len() + b.unwrap().made.len() + again.made.len();
    assert_eq!(made, 1);
    let events = app.event_kinds(&ada).await;
    assert_eq!(events.iter().filter(|k| *k == "invoice.created").count(), 1, "{events:?}");
    let list: Value = ada.get(app.url("/api/v1/invoices")).send().await.unwrap().json().await.unwrap();
    let invoices = list["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 1, "{list}");
    let id = invoices[0]["id"].as_str().unwrap().to_string();
    let one: Value = ada.get(app.url(&format!("/api/v1/invoices/{id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!((one["month"].as_str(), one["status"].as_str()), (Some(last_month().label().as_str()), Some("paid")));
    assert_eq!((one["usage_micros"].as_i64(), one["amount_due_micros"].as_i64()), (Some(6_000), Some(1_006_000)));
    let line = &one["lines"][0];
    assert_eq!(
        (line["endpoint_id"].as_str(), line["calls"].as_i64(), line["amount_micros"].as_i64()),
        (Some("fal-ai/flux/schnell"), Some(2), Some(6_000))
    );
    // Paid with the card ($1.01, rounded up to the cent): nothing drawn is left, and the
    // fraction of a cent paid over is credits.
    assert_eq!(credit_used(&app, &ada).await, 0);
    assert_eq!(app.me(&ada).await.1["balance"]["available_micros"].as_i64(), Some(4_000));
    // In the payment history, with a receipt.
    let payments: Value = ada.get(app.url("/api/v1/billing/payments")).send().await.unwrap().json().await.unwrap();
    let paid = &payments["payments"][0];
    assert_eq!(
        (paid["kind"].as_str(), paid["status"].as_str(), paid["amount_micros"].as_i64()),
        (Some("invoice"), Some("paid"), Some(1_010_000)),
        "{payments}"
    );
    let receipt = ada.get(app.url(&format!("/credits/receipts/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(crate::helpers::visible(&receipt).contains("<dd>Invoice payment</dd>"), "{receipt}");
    // The printable page, and the command line.
    let page = crate::helpers::visible(
        &ada.get(app.url(&format!("/credits/invoices/{id}"))).send().await.unwrap().text().await.unwrap(),
    );
    assert!(page.contains("fal-ai/flux/schnell") && page.contains("<dd>$1.0060</dd>"), "{page}");
    let token: Value = app.call(&ada, "tokens_create", &[("name", "cli")]).await.json().await.unwrap();
    let token = token["secret"].as_str().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = crate::usage_api::cli(&app, home.path(), &token, &["invoices"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&last_month().label()) && out.contains("$1.0060") && out.contains("paid"), "{out}");
    let (code, out, _) = crate::usage_api::cli(&app, home.path(), &token, &["invoices", "--id", &id]);
    assert_eq!(code, 0);
    assert!(out.contains("fal-ai/flux/schnell") && out.contains("Due (spent on credit): $1.0060"), "{out}");
    let (code, _, err) = crate::usage_api::cli(&app, home.path(), &token, &["invoices", "--id", "../me"]);
    assert_eq!(code, 2, "{err}");
    // Auto top-up from the command line, with a bad amount named.
    let (code, out, err) = crate::usage_api::cli(
        &app,
        home.path(),
        &token,
        &["billing", "auto-top-up", "--enable", "--threshold", "0", "--amount", "25", "--monthly-cap", "100"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Auto top-up: on. Under $0.00 of credits, buys $25.00"), "{out}");
    let (code, _, err) = crate::usage_api::cli(
        &app,
        home.path(),
        &token,
        &["billing", "auto-top-up", "--enable", "--threshold", "0", "--amount", "2", "--monthly-cap", "100"],
    );
    assert!(code == 1 && err.contains("amount_usd"), "{code} {err}");
    let (code, out, _) = crate::usage_api::cli(&app, home.path(), &token, &["billing", "auto-top-up", "--disable"]);
    assert!(code == 0 && out.contains("Auto top-up: off"), "{out}");
    let (_, out, _) = crate::usage_api::cli(&app, home.path(), &token, &["billing"]);
    assert!(out.contains("Saved card: Visa ending in 4242"), "{out}");
    // Someone else's invoice is not found; a month that has not ended is refused.
    let bo = app.signed_up("bo@example.com", "correct horse battery").await;
    assert_eq!(bo.get(app.url(&format!("/api/v1/invoices/{id}"))).send().await.unwrap().status(), 404);
    let page = bo.get(app.url(&format!("/credits/invoices/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("fal-ai/flux/schnell"), "only its owner sees it");
    assert_eq!(app.client.get(app.url("/api/v1/invoices")).send().await.unwrap().status(), 401);
    let this_month = run_month(&app.state, Month::of(now_ms()), now_ms()).await.unwrap_err();
    assert!(matches!(this_month, tollgate::shared::error::AppError::Validation { ref field, .. } if field == "month"));
    audit_clean(&app).await;
}

async fn an_invoice_unpaid_past_its_due_date_stops_new_work_until_paid(backend: Backend) {
    let app = spawn_app_with(backend, &[("TOLLGATE_STRIPE_WEBHOOK_SECRET", WHSEC)]).await;
    let cy = app.signed_up("cy@example.com", "correct horse battery").await;
    set_mode(&app.state, "cy@example.com", "postpaid", Some("10")).await.unwrap();
    assert_eq!(app.call(&cy, "sandbox_card", &[("card", "pm_sandbox_declined")]).await.status(), 200);
    spend(&app, "cy@example.com", 1, Micros::from_usd(6)).await;
    let made = run_month(&app.state, last_month(), now_ms()).await.unwrap().made;
    let invoice: Value =
        cy.get(app.url(&format!("/api/v1/invoices/{}", made[0]))).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        (invoice["status"].as_str(), invoice["failure"].as_str()),
        (Some("open"), Some("Your card was declined."))
    );
    let payments: Value = cy.get(app.url("/api/v1/billing/payments")).send().await.unwrap().json().await.unwrap();
    assert_eq!(payments["payments"][0]["status"], "declined", "{payments}");
    // Not yet due: work goes on.
    let dry = "/api/v1/run/fal-ai/flux/schnell?dryRun=true";
    assert_eq!(run(&app, dry, &cy).await.0, 200);
    // Past its due date: 402 naming the unpaid invoice.
    sqlx::query("update invoice set due_at_ms = $1").bind(now_ms() - 1).execute(app.db.pool()).await.unwrap();
    let (status, body) = run(&app, dry, &cy).await;
    assert_eq!((status, body["limit"].as_str()), (402, Some("unpaid_invoice")), "{body}");
    // Its owner is told once, however many instances look.
    let (a, b) = tokio::join!(tell_overdue(&app.state, now_ms()), tell_overdue(&app.state, now_ms()));
    assert_eq!(a.unwrap() + b.unwrap() + tell_overdue(&app.state, now_ms()).await.unwrap(), 1);
    let events = app.event_kinds(&cy).await;
    assert_eq!(events.iter().filter(|k| *k == "invoice.overdue").count(), 1, "{events:?}");
    // A card that pays: the open invoice is charged at once, and work starts again.
    assert_eq!(app.call(&cy, "sandbox_card", &[("card", "pm_sandbox_visa")]).await.status(), 200);
    let invoice: Value =
        cy.get(app.url(&format!("/api/v1/invoices/{}", made[0]))).send().await.unwrap().json().await.unwrap();
    assert_eq!(invoice["status"], "paid", "{invoice}");
    assert_eq!(run(&app, dry, &cy).await.0, 200);
    audit_clean(&app).await;
}

async fn an_invoice_paid_through_stripe_settles_the_credit_line_once(backend: Backend) {
    let (app, standin, _) = crate::stripe_standin::app_with_standin(backend, &[]).await;
    let dee = app.signed_up("dee@example.com", "correct horse battery").await;
    let id = tollgate::server::services::accounts::users::find_by_email(&app.db, "dee@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(app.call(&dee, "card_setup", &[]).await.status(), 200);
    let setup = json!({ "id": "cs_1", "mode": "setup", "client_reference_id": id, "customer": "cus_standin_1",
        "setup_intent": "seti_visa" });
    assert_eq!(deliver(&app, "evt_setup", "checkout.session.completed", setup).await, 200);
    set_mode(&app.state, "dee@example.com", "postpaid", Some("50")).await.unwrap();
    spend(&app, "dee@example.com", 1, Micros::from_usd(25)).await;
    // Work still running holds $5 drawn on credit: not billed until it is spent.
    let wallet = app.state.ledger.find_wallet(&id).await.unwrap().unwrap();
    let running = crate::ledger_helpers::hold("running", wallet, "5", 600_000);
    let running = app.state.ledger.create_hold(&running).await.unwrap();
    assert_eq!(credit_used(&app, &dee).await, 25_000_000);
    let invoice = run_month(&app.state, last_month(), now_ms()).await.unwrap().made.remove(0);
    {
        let intents = standin.payment_intents.lock().unwrap();
        assert_eq!(intents.len(), 1);
        let (form, key) = &intents[0];
        let get = |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        assert_eq!((get("amount"), get("metadata[tollgate_invoice]")), (Some("2000"), Some(invoice.as_str())));
        assert_eq!(key.as_deref(), Some(format!("tollgate-invoice:{invoice}:1").as_str()));
    }
    assert_eq!(credit_used(&app, &dee).await, 25_000_000, "nothing is settled before Stripe's event");
    let paid = |cents: i64| {
        json!({ "id": "pi_standin_1", "object": "payment_intent", "amount_received": cents, "currency": "usd",
            "metadata": { "tollgate_invoice": invoice } })
    };
    assert_eq!(deliver(&app, "evt_bad", "payment_intent.succeeded", paid(1999)).await, 400, "the amount must match");
    let (a, b) = tokio::join!(
        deliver(&app, "evt_paid", "payment_intent.succeeded", paid(2000)),
        deliver(&app, "evt_paid", "payment_intent.succeeded", paid(2000)),
    );
    assert!([a, b].contains(&200), "{a} {b}");
    assert_eq!(deliver(&app, "evt_paid_again", "payment_intent.succeeded", paid(2000)).await, 200);
    assert_eq!(credit_used(&app, &dee).await, 5_000_000, "what the running work drew");
    assert_eq!(app.me(&dee).await.1["balance"]["available_micros"].as_i64(), Some(0));
    app.state.ledger.void_hold(running.id).await.unwrap();
    assert_eq!(credit_used(&app, &dee).await, 0);
    audit_clean(&app).await;
}
