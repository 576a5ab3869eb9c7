//! The ledger's behaviour, on both backends.

use tollgate::server::infra::db::Backend;
use tollgate::server::ledger::*;
use tollgate::shared::money::Micros;

use crate::helpers::{DAY_MS, T0_MS, TestLedger};
use crate::ledger_helpers::*;

backend_tests!(
    credits_and_debits_move_money_and_keep_the_books_balanced,
    a_debit_beyond_available_funds_is_refused_and_writes_nothing,
    replaying_a_request_returns_the_first_answer_and_writes_nothing,
    bad_input_gets_a_typed_error_and_writes_nothing,
    a_hold_reserves_funds_and_capture_charges_the_real_cost,
    capturing_more_than_the_hold_takes_what_is_available_and_reports_the_rest,
    a_hold_keeps_running_work_funded_when_the_balance_runs_out,
    voided_and_expired_holds_release_funds_and_cannot_be_captured,
    spending_draws_promotional_lots_first_then_earliest_expiry,
    expiry_moves_out_unspent_credit_but_not_what_a_hold_reserved,
    credits_about_to_expire_are_announced_once_and_every_change_is_an_event,
    reversing_a_transfer_restores_the_balance_and_its_lots,
    history_pages_newest_first_and_filters_by_code,
    the_audit_finds_a_tampered_balance,
    transfers_cannot_be_changed_or_deleted,
    opening_a_wallet_twice_gives_the_same_wallet,
);

async fn lot_remaining(t: &TestLedger, wallet: AccountId) -> Vec<(String, i64)> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select source, remaining_micros from credit_lot where wallet_id = $1 order by id")
            .bind(wallet.0)
            .fetch_all(t.ledger.db().pool())
            .await
            .unwrap();
    rows
}

async fn credits_and_debits_move_money_and_keep_the_books_balanced(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    let bought = t.ledger.credit(&purchase("stripe:evt_1", w, "10")).await.unwrap();
    assert_eq!(bought.wallet_balance_after, usd("10"));
    assert_eq!(bought.code, TransferCode::Purchase);
    let spent = t.ledger.debit(&usage("job-1", w, "0.003")).await.unwrap();
    assert_eq!(spent.wallet_balance_after, usd("9.997"));
    let balance = t.ledger.balance(w).await.unwrap();
    assert_eq!(
        balance,
        Balance {
            posted: usd("9.997"),
            reserved: Micros::ZERO,
            available: usd("9.997"),
            owed: Micros::ZERO,
            ..Balance::default()
        }
    );
    let page = t.ledger.history(w, &[], None, 10).await.unwrap();
    let amounts: Vec<i64> = page.entries.iter().map(|e| e.amount.get()).collect();
    assert_eq!(amounts, vec![-3_000, 10_000_000]);
    assert_eq!(page.entries[0].metadata["model"], "fal-ai/flux/schnell");
    t.assert_audit_clean().await;
}

async fn a_debit_beyond_available_funds_is_refused_and_writes_nothing(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("p1", w, "1")).await.unwrap();
    let before = (t.count("transfer").await, t.count("idempotency_key").await, t.count("lot_draw").await);
    let err = t.ledger.debit(&usage("job-1", w, "1.000001")).await.unwrap_err();
    assert!(
        matches!(err, LedgerError::InsufficientFunds { needed, available } if needed == usd("1.000001") && available == usd("1")),
        "{err:?}"
    );
    assert_eq!(before, (t.count("transfer").await, t.count("idempotency_key").await, t.count("lot_draw").await));
    assert_eq!(t.ledger.balance(w).await.unwrap().posted, usd("1"));
    // The refused request did not use up its key: after a top-up the same request goes through.
    t.ledger.credit(&purchase("p2", w, "1")).await.unwrap();
    let ok = t.ledger.debit(&usage("job-1", w, "1.000001")).await.unwrap();
    assert_eq!(ok.wallet_balance_after, usd("0.999999"));
    t.assert_audit_clean().await;
}

async fn replaying_a_request_returns_the_first_answer_and_writes_nothing(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    let first = t.ledger.credit(&purchase("stripe:evt_1", w, "25")).await.unwrap();
    t.clock.advance(60_000);
    let again = t.ledger.credit(&purchase("stripe:evt_1", w, "25")).await.unwrap();
    assert_eq!(first, again, "a replay returns the first answer, timestamps included");
    assert_eq!(t.count("transfer").await, 1);
    assert_eq!(t.ledger.balance(w).await.unwrap().posted, usd("25"));

    let different = t.ledger.credit(&purchase("stripe:evt_1", w, "30")).await.unwrap_err();
    assert!(matches!(different, LedgerError::IdempotencyConflict(ref k) if k == "stripe:evt_1"), "{different:?}");
    let other_operation = t.ledger.debit(&usage("stripe:evt_1", w, "25")).await.unwrap_err();
    assert!(matches!(other_operation, LedgerError::IdempotencyConflict(_)), "{other_operation:?}");
    assert_eq!(t.count("transfer").await, 1);

    let held = t.ledger.create_hold(&hold("h1", w, "5", 60_000)).await.unwrap();
    assert_eq!(t.ledger.create_hold(&hold("h1", w, "5", 60_000)).await.unwrap(), held);
    let captured = t.ledger.capture_hold(&capture("c1", held.id, "2")).await.unwrap();
    assert_eq!(t.ledger.capture_hold(&capture("c1", held.id, "2")).await.unwrap(), captured);
    assert_eq!(t.ledger.balance(w).await.unwrap().posted, usd("23"));
    t.assert_audit_clean().await;
}

async fn bad_input_gets_a_typed_error_and_writes_nothing(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    let system = t.ledger.system_account(SystemAccount::Promotions);
    let mut zero = purchase("k0", w, "1");
    zero.amount = Micros::ZERO;
    assert!(matches!(t.ledger.credit(&zero).await, Err(LedgerError::NonPositiveAmount(0))));
    let mut negative = usage("k1", w, "1");
    negative.amount = Micros(-5);
    assert!(matches!(t.ledger.debit(&negative).await, Err(LedgerError::NonPositiveAmount(-5))));
    assert!(matches!(
        t.ledger.credit(&purchase("k2", AccountId(999_999), "1")).await,
        Err(LedgerError::UnknownAccount(_))
    ));
    assert!(matches!(t.ledger.credit(&purchase("k3", system, "1")).await, Err(LedgerError::NotAWallet(_))));
    assert!(matches!(t.ledger.debit(&usage("k4", system, "1")).await, Err(LedgerError::NotAWallet(_))));
    assert!(matches!(
        t.ledger.create_hold(&hold("k5", AccountId(999_999), "1", 1000)).await,
        Err(LedgerError::UnknownAccount(_))
    ));
    assert!(matches!(t.ledger.credit(&purchase("", w, "1")).await, Err(LedgerError::Invalid(_))));
    let mut not_object = purchase("k6", w, "1");
    not_object.metadata = serde_json::json!([1, 2]);
    assert!(matches!(t.ledger.credit(&not_object).await, Err(LedgerError::Invalid(_))));
    assert!(matches!(t.ledger.create_hold(&hold("k7", w, "1", 0)).await, Err(LedgerError::Invalid(_))));
    assert!(matches!(
        t.ledger.capture_hold(&capture("k8", 424_242, "1")).await,
        Err(LedgerError::UnknownHold(424_242))
    ));
    assert!(matches!(t.ledger.void_hold(424_242).await, Err(LedgerError::UnknownHold(424_242))));
    assert!(matches!(t.ledger.reverse("k9", 424_242, "oops").await, Err(LedgerError::UnknownTransfer(424_242))));
    assert_eq!((t.count("transfer").await, t.count("credit_lot").await, t.count("hold").await), (0, 0, 0));

    // Overflow: the biggest balance the ledger can hold, and not a micro-dollar more.
    let mut huge = purchase("big", w, "1");
    huge.amount = Micros(i64::MAX);
    t.ledger.credit(&huge).await.unwrap();
    let mut more = purchase("more", w, "1");
    more.amount = Micros(1);
    assert!(matches!(t.ledger.credit(&more).await, Err(LedgerError::Overflow)));
    assert_eq!(t.ledger.balance(w).await.unwrap().posted, Micros(i64::MAX));
    assert_eq!(t.count("transfer").await, 1);
}

async fn a_hold_reserves_funds_and_capture_charges_the_real_cost(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("p", w, "1")).await.unwrap();
    let h = t.ledger.create_hold(&hold("h", w, "0.50", 60_000)).await.unwrap();
    assert_eq!(h.status, HoldStatus::Open);
    assert_eq!(h.expires_at_ms, T0_MS + 60_000);
    assert_eq!(
        t.ledger.balance(w).await.unwrap(),
        Balance {
            posted: usd("1"),
            reserved: usd("0.50"),
            available: usd("0.50"),
            owed: Micros::ZERO,
            ..Balance::default()
        }
    );
    assert!(matches!(t.ledger.debit(&usage("d", w, "0.60")).await, Err(LedgerError::InsufficientFunds { .. })));
    assert!(matches!(
        t.ledger.create_hold(&hold("h2", w, "0.51", 60_000)).await,
        Err(LedgerError::InsufficientFunds { .. })
    ));
    let c = t.ledger.capture_hold(&capture("c", h.id, "0.30")).await.unwrap();
    assert_eq!((c.charged, c.uncollected), (usd("0.30"), Micros::ZERO));
    assert_eq!(c.transfer.as_ref().unwrap().wallet_balance_after, usd("0.70"));
    assert_eq!(
        t.ledger.balance(w).await.unwrap(),
        Balance {
            posted: usd("0.70"),
            reserved: Micros::ZERO,
            available: usd("0.70"),
            owed: Micros::ZERO,
            ..Balance::default()
        }
    );
    assert_eq!(t.ledger.hold(h.id).await.unwrap().status, HoldStatus::Captured);
    // A capture of nothing releases the whole hold and writes no transfer.
    let h0 = t.ledger.create_hold(&hold("h0", w, "0.10", 60_000)).await.unwrap();
    let c0 = t.ledger.capture_hold(&capture("c0", h0.id, "0")).await.unwrap();
    assert_eq!((c0.charged, c0.transfer), (Micros::ZERO, None));
    assert_eq!(t.ledger.balance(w).await.unwrap().available, usd("0.70"));
    t.assert_audit_clean().await;
}

async fn capturing_more_than_the_hold_takes_what_is_available_and_reports_the_rest(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("p", w, "1")).await.unwrap();
    let h = t.ledger.create_hold(&hold("h", w, "0.40", 60_000)).await.unwrap();
    let small = t.ledger.capture_hold(&capture("c", h.id, "0.55")).await.unwrap();
    assert_eq!((small.charged, small.uncollected), (usd("0.55"), Micros::ZERO), "above the hold but within funds");
    let h2 = t.ledger.create_hold(&hold("h2", w, "0.40", 60_000)).await.unwrap();
    let big = t.ledger.capture_hold(&capture("c2", h2.id, "1.50")).await.unwrap();
    assert_eq!((big.charged, big.uncollected), (usd("0.45"), usd("1.05")));
    assert_eq!(t.ledger.balance(w).await.unwrap(), Balance::default());
    t.assert_audit_clean().await;
}

async fn a_hold_keeps_running_work_funded_when_the_balance_runs_out(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("p", w, "1")).await.unwrap();
    let running = t.ledger.create_hold(&hold("job", w, "0.60", 60_000)).await.unwrap();
    t.ledger.debit(&usage("other", w, "0.40")).await.unwrap();
    let refused = t.ledger.debit(&usage("more", w, "0.01")).await.unwrap_err();
    assert!(matches!(refused, LedgerError::InsufficientFunds { available, .. } if available == Micros::ZERO));
    let done = t.ledger.capture_hold(&capture("job-done", running.id, "0.60")).await.unwrap();
    assert_eq!((done.charged, done.uncollected), (usd("0.60"), Micros::ZERO));
    assert_eq!(t.ledger.balance(w).await.unwrap(), Balance::default());
    t.assert_audit_clean().await;
}

async fn voided_and_expired_holds_release_funds_and_cannot_be_captured(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("p", w, "1")).await.unwrap();
    let h = t.ledger.create_hold(&hold("h", w, "0.70", 60_000)).await.unwrap();
    assert_eq!(t.ledger.void_hold(h.id).await.unwrap().status, HoldStatus::Voided);
    assert_eq!(t.ledger.balance(w).await.unwrap().available, usd("1"));
    assert_eq!(t.ledger.void_hold(h.id).await.unwrap().status, HoldStatus::Voided, "voiding twice is harmless");
    let err = t.ledger.capture_hold(&capture("c", h.id, "0.10")).await.unwrap_err();
    assert!(matches!(err, LedgerError::HoldNotOpen { status: HoldStatus::Voided, .. }), "{err:?}");

    let stale = t.ledger.create_hold(&hold("stale", w, "0.30", 1_000)).await.unwrap();
    t.clock.advance(2_000);
    assert!(matches!(t.ledger.capture_hold(&capture("c2", stale.id, "0.10")).await, Err(LedgerError::HoldExpired(_))));
    assert_eq!(t.ledger.balance(w).await.unwrap().reserved, usd("0.30"), "reserved until swept");
    assert_eq!(t.ledger.expire_holds().await.unwrap(), 1);
    assert_eq!(t.ledger.expire_holds().await.unwrap(), 0);
    assert_eq!(
        t.ledger.balance(w).await.unwrap(),
        Balance {
            posted: usd("1"),
            reserved: Micros::ZERO,
            available: usd("1"),
            owed: Micros::ZERO,
            ..Balance::default()
        }
    );
    assert!(matches!(
        t.ledger.capture_hold(&capture("c3", stale.id, "0.10")).await,
        Err(LedgerError::HoldNotOpen { status: HoldStatus::Expired, .. })
    ));
    assert!(matches!(
        t.ledger.void_hold(stale.id).await,
        Err(LedgerError::HoldNotOpen { status: HoldStatus::Expired, .. })
    ));
    assert_eq!(t.count("transfer").await, 1, "nothing was charged");
    t.assert_audit_clean().await;
}

async fn spending_draws_promotional_lots_first_then_earliest_expiry(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("paid", w, "5")).await.unwrap();
    t.ledger.credit(&credit("grant", w, "2", CreditKind::SignupGrant, Some(T0_MS + 10 * DAY_MS))).await.unwrap();
    t.ledger.credit(&credit("gift", w, "1", CreditKind::GiftCode, Some(T0_MS + DAY_MS))).await.unwrap();
    t.ledger.debit(&usage("u1", w, "1.5")).await.unwrap();
    let lots = lot_remaining(&t, w).await;
    assert_eq!(lots, vec![("purchase".into(), 5_000_000), ("signup_grant".into(), 1_500_000), ("gift_code".into(), 0)]);
    t.ledger.debit(&usage("u2", w, "2")).await.unwrap();
    assert_eq!(lot_remaining(&t, w).await[..2], [("purchase".into(), 4_500_000), ("signup_grant".into(), 0)]);
    // A spend the first lot with money left covers is taken from that lot alone; one that
    // takes it to exactly zero as well.
    let u3 = t.ledger.debit(&usage("u3", w, "0.25")).await.unwrap();
    let u4 = t.ledger.debit(&usage("u4", w, "4.25")).await.unwrap();
    assert_eq!(lot_remaining(&t, w).await[0], ("purchase".into(), 0));
    for (receipt, amount) in [(u3, 250_000), (u4, 4_250_000)] {
        let draws: Vec<(i64,)> = sqlx::query_as("select amount_micros from lot_draw where transfer_id = $1")
            .bind(receipt.transfer_id)
            .fetch_all(t.ledger.db().pool())
            .await
            .unwrap();
        assert_eq!(draws, [(amount,)]);
    }
    // Nothing left in any lot: a debit is refused by the balance before a lot is touched.
    assert!(t.ledger.debit(&usage("u5", w, "0.01")).await.is_err());
    t.assert_audit_clean().await;
}

async fn expiry_moves_out_unspent_credit_but_not_what_a_hold_reserved(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("paid", w, "1")).await.unwrap();
    t.ledger.credit(&credit("grant", w, "2", CreditKind::SignupGrant, Some(T0_MS + DAY_MS))).await.unwrap();
    let job = t.ledger.create_hold(&hold("job", w, "2.5", 3 * DAY_MS)).await.unwrap();
    t.clock.advance(DAY_MS);
    // Available is 0.50: only that much of the expired grant can go now.
    let first = t.ledger.sweep().await.unwrap();
    assert_eq!((first.lots_expired, first.expired), (1, usd("0.50")));
    assert_eq!(
        t.ledger.balance(w).await.unwrap(),
        Balance {
            posted: usd("2.5"),
            reserved: usd("2.5"),
            available: Micros::ZERO,
            owed: Micros::ZERO,
            ..Balance::default()
        }
    );
    let done = t.ledger.capture_hold(&capture("done", job.id, "1")).await.unwrap();
    assert_eq!(done.charged, usd("1"), "the expired grant paid for the running job first");
    let second = t.ledger.sweep().await.unwrap();
    assert_eq!(second.expired, usd("0.50"));
    assert_eq!(t.ledger.balance(w).await.unwrap().posted, usd("1"), "the paid lot never expires");
    let third = t.ledger.sweep().await.unwrap();
    assert_eq!(third.lots_expired, 0);
    let expiries = t.ledger.history(w, &[TransferCode::Expiry], None, 10).await.unwrap();
    assert_eq!(expiries.entries.len(), 2);
    assert!(expiries.entries.iter().all(|e| e.amount == usd("-0.50")));
    t.assert_audit_clean().await;
}

async fn credits_about_to_expire_are_announced_once_and_every_change_is_an_event(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&credit("grant", w, "2", CreditKind::SignupGrant, Some(T0_MS + 10 * DAY_MS))).await.unwrap();
    // Ten days out: not yet.
    assert_eq!(t.ledger.sweep().await.unwrap().lots_expiring, 0);
    t.clock.advance(4 * DAY_MS);
    // Six days out: announced once, by whichever of two instances gets there.
    let other = t.second_instance().await;
    let (a, b) = tokio::join!(t.ledger.warn_expiring_lots(), other.warn_expiring_lots());
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(t.ledger.sweep().await.unwrap().lots_expiring, 0);
    let job = t.ledger.create_hold(&hold("job", w, "0.5", DAY_MS)).await.unwrap();
    t.ledger.void_hold(job.id).await.unwrap();
    t.clock.advance(7 * DAY_MS);
    assert_eq!(t.ledger.sweep().await.unwrap().lots_expired, 1);
    let events: Vec<(i64, String, String)> =
        sqlx::query_as("select seq, kind, data from event where wallet_id = $1 order by seq")
            .bind(w.0)
            .fetch_all(t.ledger.db().pool())
            .await
            .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.1.as_str()).collect();
    // Nothing left: under the $1.00 threshold as well.
    assert_eq!(
        kinds,
        ["credits.granted", "credits.expiring", "hold.placed", "hold.voided", "credits.expired", "balance.low"]
    );
    assert_eq!(events.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);
    let expiring: serde_json::Value = serde_json::from_str(&events[1].2).unwrap();
    assert_eq!(
        (expiring["remaining_micros"].as_i64(), expiring["expires_at_ms"].as_i64()),
        (Some(2_000_000), Some(T0_MS + 10 * DAY_MS))
    );
    let expired: serde_json::Value = serde_json::from_str(&events[4].2).unwrap();
    assert_eq!(expired["amount_micros"], -2_000_000);
    assert_eq!(expired["balance"]["available_micros"], 0);
    t.assert_audit_clean().await;
}

async fn reversing_a_transfer_restores_the_balance_and_its_lots(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    let bought = t.ledger.credit(&purchase("paid", w, "5")).await.unwrap();
    t.ledger.credit(&credit("grant", w, "1", CreditKind::SignupGrant, None)).await.unwrap();
    let spent = t.ledger.debit(&usage("u1", w, "1.5")).await.unwrap();
    let undo = t.ledger.reverse("undo-u1", spent.transfer_id, "Provider failed").await.unwrap();
    assert_eq!((undo.code, undo.wallet_balance_after), (TransferCode::Usage, usd("6")));
    assert_eq!(lot_remaining(&t, w).await, vec![("purchase".into(), 5_000_000), ("signup_grant".into(), 1_000_000)]);
    assert_eq!(t.ledger.reverse("undo-u1", spent.transfer_id, "Provider failed").await.unwrap(), undo, "replay");
    assert!(matches!(
        t.ledger.reverse("undo-again", spent.transfer_id, "x").await,
        Err(LedgerError::AlreadyReversed(_))
    ));
    assert!(matches!(t.ledger.reverse("undo-undo", undo.transfer_id, "x").await, Err(LedgerError::NotReversible(_))));

    // Reversing a purchase takes the money back out of that purchase's lot first.
    let refund = t.ledger.reverse("refund", bought.transfer_id, "Refunded").await.unwrap();
    assert_eq!(refund.wallet_balance_after, usd("1"));
    assert_eq!(lot_remaining(&t, w).await, vec![("purchase".into(), 0), ("signup_grant".into(), 1_000_000)]);
    let page = t.ledger.history(w, &[], None, 1).await.unwrap();
    assert_eq!(page.entries[0].reverses_transfer_id, Some(bought.transfer_id));
    assert_eq!(page.entries[0].amount, usd("-5"));

    // A credit whose money is gone cannot be reversed.
    let gift = t.ledger.credit(&credit("gift", w, "2", CreditKind::GiftCode, None)).await.unwrap();
    t.ledger.debit(&usage("u2", w, "2.5")).await.unwrap();
    assert!(matches!(
        t.ledger.reverse("undo-gift", gift.transfer_id, "x").await,
        Err(LedgerError::InsufficientFunds { .. })
    ));
    t.assert_audit_clean().await;
}

async fn history_pages_newest_first_and_filters_by_code(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    let other = t.ledger.open_wallet("user-2").await.unwrap();
    t.ledger.credit(&purchase("p", w, "100")).await.unwrap();
    t.ledger.credit(&purchase("p-other", other, "100")).await.unwrap();
    for i in 0..24 {
        t.ledger.debit(&usage(&format!("u{i}"), w, "0.01")).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = t.ledger.history(w, &[], before, 10).await.unwrap();
        seen.extend(page.entries.iter().map(|e| e.transfer_id));
        match page.next_before {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25, "24 usages and the purchase, and nothing of the other wallet");
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats");
    let purchases = t.ledger.history(w, &[TransferCode::Purchase], None, 10).await.unwrap();
    assert_eq!(purchases.entries.len(), 1);
    assert_eq!(purchases.next_before, None);
    let both = t.ledger.history(w, &[TransferCode::Purchase, TransferCode::Usage], None, 100).await.unwrap();
    assert_eq!(both.entries.len(), 25);
    let none = t.ledger.history(w, &[TransferCode::Refund, TransferCode::Expiry], None, 100).await.unwrap();
    assert!(none.entries.is_empty());
    let last = t.ledger.history(w, &[], None, 1).await.unwrap();
    assert_eq!(last.entries[0].balance_after, usd("99.76"));
}

async fn the_audit_finds_a_tampered_balance(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("p", w, "5")).await.unwrap();
    t.assert_audit_clean().await;
    sqlx::query("update account set posted_micros = posted_micros + 1 where id = $1")
        .bind(w.0)
        .execute(t.ledger.db().pool())
        .await
        .unwrap();
    let report = t.ledger.audit().await.unwrap();
    let checks: Vec<&str> = report.findings.iter().map(|f| f.check).collect();
    assert_eq!(
        checks,
        vec!["books sum to zero", "wallet balance equals its transfers", "credit lots sum to the balance"]
    );
    assert!(report.findings[1].detail.contains(&format!("wallet {}", w.0)), "{:?}", report.findings);
    assert!(report.findings[1].detail.contains("posted 5000001 but transfers sum to 5000000"), "{:?}", report.findings);
}

async fn transfers_cannot_be_changed_or_deleted(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let w = t.ledger.open_wallet("user-1").await.unwrap();
    t.ledger.credit(&purchase("p", w, "5")).await.unwrap();
    let pool = t.ledger.db().pool();
    assert!(sqlx::query("update transfer set amount_micros = 1").execute(pool).await.is_err());
    assert!(sqlx::query("delete from transfer").execute(pool).await.is_err());
    assert_eq!(t.count("transfer").await, 1);
    // And the database itself refuses an overdrawn wallet, whatever the code does.
    assert!(
        sqlx::query("update account set reserved_micros = posted_micros + 1 where id = $1")
            .bind(w.0)
            .execute(pool)
            .await
            .is_err()
    );
}

async fn opening_a_wallet_twice_gives_the_same_wallet(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let (a, b) = tokio::join!(t.ledger.open_wallet("same"), t.ledger.open_wallet("same"));
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(t.ledger.find_wallet("same").await.unwrap(), Some(t.ledger.open_wallet("same").await.unwrap()));
    assert_eq!(t.ledger.find_wallet("nobody").await.unwrap(), None);
    assert!(matches!(t.ledger.open_wallet(" ").await, Err(LedgerError::Invalid(_))));
}
