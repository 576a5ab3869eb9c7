//! Postpaid wallets: spending past the credits down to the credit limit (never past it,
//! however many instances race), credit a hold did not use given back, paying the credit
//! line, and the 402 that names the credit limit.

use serde_json::json;
use tollgate::server::infra::db::Backend;
use tollgate::server::ledger::{CreditLine, LedgerError};
use tollgate::shared::money::Micros;

use crate::helpers::{TestLedger, spawn_app};
use crate::ledger_helpers::{capture, hold, purchase, usage, usd};

backend_tests!(
    a_postpaid_wallet_spends_past_its_credits_down_to_its_limit_and_no_further,
    sixty_four_holds_on_two_instances_never_draw_past_the_credit_limit,
    paying_the_credit_line_lowers_what_is_drawn_once,
    the_gateway_names_the_credit_limit_and_the_command_switches_modes,
);

const MINUTE_MS: i64 = 60_000;

fn line(limit: &str, used: &str) -> CreditLine {
    CreditLine { limit: usd(limit), used: usd(used) }
}

async fn a_postpaid_wallet_spends_past_its_credits_down_to_its_limit_and_no_further(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("ada").await.unwrap();
    t.ledger.credit(&purchase("p", w, "5")).await.unwrap();
    t.ledger.set_credit_limit(w, usd("10")).await.unwrap();
    // $12 held: $5 of credits and $7 drawn on credit.
    let h = t.ledger.create_hold(&hold("h1", w, "12", MINUTE_MS)).await.unwrap();
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("10", "7"));
    // Captured at $8: the $4 not used goes back to the credit line.
    let receipt = t.ledger.capture_hold(&capture("c1", h.id, "8")).await.unwrap();
    assert_eq!(receipt.charged, usd("8"));
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("10", "3"));
    assert_eq!(t.ledger.balance(w).await.unwrap().posted, Micros::ZERO);
    // $8 more would pass the limit ($7 left): refused, and nothing drawn.
    let err = t.ledger.create_hold(&hold("h2", w, "8", MINUTE_MS)).await.unwrap_err();
    assert!(matches!(err, LedgerError::InsufficientFunds { .. }), "{err:?}");
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("10", "3"));
    // $7 fits; voided, all of it goes back.
    let h = t.ledger.create_hold(&hold("h3", w, "7", MINUTE_MS)).await.unwrap();
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("10", "10"));
    t.ledger.void_hold(h.id).await.unwrap();
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("10", "3"));
    // A debit draws exactly what it lacks; a replay draws nothing more.
    t.ledger.debit(&usage("u1", w, "2")).await.unwrap();
    t.ledger.debit(&usage("u1", w, "2")).await.unwrap();
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("10", "5"));
    // A hold past its time, swept: its drawn credit goes back as well.
    t.ledger.create_hold(&hold("h4", w, "5", MINUTE_MS)).await.unwrap();
    t.clock.advance(2 * MINUTE_MS);
    assert_eq!(t.ledger.expire_holds().await.unwrap(), 1);
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("10", "5"));
    // Only usage is spent on credit, and the credit line's transfers are not reversed.
    let mut refund = usage("r1", w, "1");
    refund.kind = tollgate::server::ledger::DebitKind::Refund;
    assert!(matches!(t.ledger.debit(&refund).await, Err(LedgerError::InsufficientFunds { .. })));
    let drawn: i64 = sqlx::query_scalar("select min(id) from transfer where code = 'credit_line'")
        .fetch_one(t.ledger.db().pool())
        .await
        .unwrap();
    assert!(matches!(t.ledger.reverse("undo", drawn, "undo").await, Err(LedgerError::NotReversible(_))));
    // Prepaid again: nothing more is drawn.
    t.ledger.set_credit_limit(w, Micros::ZERO).await.unwrap();
    assert!(t.ledger.debit(&usage("u2", w, "0.01")).await.is_err());
    t.assert_audit_clean().await;
}

async fn sixty_four_holds_on_two_instances_never_draw_past_the_credit_limit(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let other = t.second_instance().await;
    let w = t.ledger.open_wallet("team").await.unwrap();
    t.ledger.set_credit_limit(w, usd("10")).await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let ledger = if i % 2 == 0 { t.ledger.clone() } else { other.clone() };
            tokio::spawn(async move { ledger.create_hold(&hold(&format!("race-{i}"), w, "1", MINUTE_MS)).await })
        })
        .collect();
    let mut held = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => held += 1,
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(e) => panic!("unexpected: {e:?}"),
        }
    }
    assert_eq!(held, 10, "exactly what the limit allows");
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("10", "10"));
    assert_eq!(t.ledger.balance(w).await.unwrap().reserved, usd("10"));
    t.assert_audit_clean().await;
}

async fn paying_the_credit_line_lowers_what_is_drawn_once(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("bo").await.unwrap();
    t.ledger.set_credit_limit(w, usd("50")).await.unwrap();
    t.ledger.debit(&usage("u", w, "30")).await.unwrap();
    // $20 paid: $20 less drawn.
    let mut tx = t.ledger.db().begin_write().await.unwrap();
    let paid = t.ledger.pay_credit_line_in(&mut tx, w, usd("20"), "invoice:1", "Invoice paid").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((paid.paid_down, paid.credited), (usd("20"), Micros::ZERO));
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("50", "10"));
    // The same payment again is refused (the caller rolls back).
    let mut tx = t.ledger.db().begin_write().await.unwrap();
    let again = t.ledger.pay_credit_line_in(&mut tx, w, usd("20"), "invoice:1", "Invoice paid").await;
    assert!(matches!(again, Err(LedgerError::IdempotencyConflict(_))), "{again:?}");
    tx.rollback().await.unwrap();
    // Paying more than is drawn: the rest becomes credits.
    let mut tx = t.ledger.db().begin_write().await.unwrap();
    let paid = t.ledger.pay_credit_line_in(&mut tx, w, usd("15"), "invoice:2", "Invoice paid").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!((paid.paid_down, paid.credited), (usd("10"), usd("5")));
    assert_eq!(t.ledger.credit_line(w).await.unwrap(), line("50", "0"));
    assert_eq!(t.ledger.balance(w).await.unwrap().available, usd("5"));
    t.assert_audit_clean().await;
}

async fn the_gateway_names_the_credit_limit_and_the_command_switches_modes(backend: Backend) {
    use tollgate::server::services::payments::postpaid::set_mode;
    let app = spawn_app(backend).await;
    let cy = app.signed_up("cy@example.com", "correct horse battery").await;
    let field = |r: Result<_, tollgate::shared::error::AppError>| match r {
        Err(tollgate::shared::error::AppError::Validation { field, .. }) => field,
        other => panic!("expected a validation error, got {other:?}"),
    };
    assert_eq!(field(set_mode(&app.state, "cy@example.com", "weird", None).await), "mode");
    assert_eq!(field(set_mode(&app.state, "cy@example.com", "postpaid", None).await), "credit_limit_usd");
    assert_eq!(field(set_mode(&app.state, "cy@example.com", "postpaid", Some("-5")).await), "credit_limit_usd");
    assert_eq!(field(set_mode(&app.state, "nobody@example.com", "prepaid", None).await), "email");
    let set = set_mode(&app.state, "cy@example.com", "postpaid", Some("1")).await.unwrap();
    assert_eq!(set.describe(), "cy@example.com is postpaid with a credit limit of $1.00 ($0.00 drawn)");
    // $5 of credits spent, then $1 on credit: nothing is left to start work with.
    crate::credits_page::spend(&app, "cy@example.com", 1, Micros::from_usd(6)).await;
    let res = cy.post(app.url("/api/v1/run/fal-ai/flux/schnell?dryRun=true")).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 402);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["limit"], "credit_limit", "{body}");
    let me = app.me(&cy).await.1;
    assert_eq!(
        (me["balance"]["credit_limit_micros"].as_i64(), me["balance"]["credit_used_micros"].as_i64()),
        (Some(1_000_000), Some(1_000_000))
    );
    let page = crate::helpers::visible(&cy.get(app.url("/credits")).send().await.unwrap().text().await.unwrap());
    assert!(page.contains("you can spend up to $1.00 on credit"), "the Balance tab says so");
    // A higher limit lets work start again.
    set_mode(&app.state, "cy@example.com", "postpaid", Some("100")).await.unwrap();
    let res =
        cy.post(app.url("/api/v1/run/fal-ai/flux/schnell")).json(&json!({ "prompt": "a fox" })).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let back = set_mode(&app.state, "cy@example.com", "prepaid", None).await.unwrap();
    assert!(back.describe().starts_with("cy@example.com is prepaid ($1.0030 drawn"), "{}", back.describe());
    let audit = app.state.ledger.audit().await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.findings);
}
