//! Many tasks, two connection pools (as two app instances would have), one wallet.

use std::collections::HashSet;

use tollgate::server::infra::db::Backend;
use tollgate::server::ledger::*;
use tollgate::shared::money::Micros;

use crate::helpers::TestLedger;
use crate::ledger_helpers::*;

backend_tests!(
    sixty_four_tasks_on_two_instances_cannot_overdraw_one_wallet,
    sixty_four_holds_on_two_instances_cannot_reserve_more_than_the_wallet_has,
    sixteen_tasks_sending_one_idempotency_key_write_exactly_one_transfer,
    two_captures_of_one_hold_charge_once,
);

async fn sixty_four_tasks_on_two_instances_cannot_overdraw_one_wallet(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let second = t.second_instance().await;
    let w = t.ledger.open_wallet("shared").await.unwrap();
    t.ledger.credit(&purchase("fund", w, "1")).await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let ledger = if i % 2 == 0 { t.ledger.clone() } else { second.clone() };
            // Amounts from 0.01 to 0.05: together far more than the wallet holds.
            let amount = Micros(10_000 + (i * 7_919) % 40_000);
            tokio::spawn(async move {
                let mut req = usage(&format!("job-{i}"), w, "1");
                req.amount = amount;
                (amount, ledger.debit(&req).await)
            })
        })
        .collect();
    let mut spent = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (amount, Ok(_)) => spent += amount.get(),
            (_, Err(LedgerError::InsufficientFunds { .. })) => refused += 1,
            (_, Err(e)) => panic!("unexpected error: {e}"),
        }
    }
    let balance = t.ledger.balance(w).await.unwrap();
    assert!(balance.posted.get() >= 0);
    assert_eq!(spent, 1_000_000 - balance.posted.get(), "successful debits add up to exactly the drop");
    assert!(refused > 0, "the wallet could not cover every task");
    assert!(balance.posted.get() < 50_000, "tasks kept spending until little was left");
    assert_eq!(t.count("transfer").await, 1 + 64 - refused);
    t.assert_audit_clean().await;
    assert_batched(&[&t.ledger, &second]);
}

/// The debits above went through group commit, several to a transaction: refusals and
/// successes shared batches, and neither changed the other's answer.
fn assert_batched(instances: &[&Ledger]) {
    let (mut batches, mut pieces) = (0, 0);
    for ledger in instances {
        let stats = ledger.db().group_stats().expect("writes are grouped by default");
        (batches, pieces) = (batches + stats.batches, pieces + stats.pieces);
    }
    assert!(pieces > batches, "some batch held more than one piece of work ({pieces} in {batches} batches)");
}

async fn sixty_four_holds_on_two_instances_cannot_reserve_more_than_the_wallet_has(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let second = t.second_instance().await;
    let w = t.ledger.open_wallet("shared").await.unwrap();
    t.ledger.credit(&purchase("fund", w, "1")).await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let ledger = if i % 2 == 0 { t.ledger.clone() } else { second.clone() };
            tokio::spawn(async move {
                let held = ledger.create_hold(&hold(&format!("h-{i}"), w, "0.05", 60_000)).await?;
                // Half the jobs cost more than they held.
                let cost = if i % 2 == 0 { "0.03" } else { "0.08" };
                ledger.capture_hold(&capture(&format!("c-{i}"), held.id, cost)).await
            })
        })
        .collect();
    let mut charged = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(receipt) => charged += receipt.charged.get(),
            Err(LedgerError::InsufficientFunds { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    let balance = t.ledger.balance(w).await.unwrap();
    assert_eq!(balance.reserved, Micros::ZERO);
    assert_eq!(charged, 1_000_000 - balance.posted.get());
    assert!(balance.posted.get() >= 0);
    t.assert_audit_clean().await;
    assert_batched(&[&t.ledger, &second]);
}

async fn sixteen_tasks_sending_one_idempotency_key_write_exactly_one_transfer(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let second = t.second_instance().await;
    let w = t.ledger.open_wallet("shared").await.unwrap();
    t.ledger.credit(&purchase("fund", w, "1")).await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let ledger = if i % 2 == 0 { t.ledger.clone() } else { second.clone() };
            tokio::spawn(async move { ledger.debit(&usage("the-one-job", w, "0.25")).await })
        })
        .collect();
    let mut receipts = HashSet::new();
    for task in tasks {
        let receipt = task.await.unwrap().expect("every copy of the request succeeds");
        receipts.insert(receipt.transfer_id);
    }
    assert_eq!(receipts.len(), 1, "all sixteen got the same answer");
    assert_eq!(t.count("transfer").await, 2);
    assert_eq!(t.ledger.balance(w).await.unwrap().posted, usd("0.75"));
    t.assert_audit_clean().await;
}

async fn two_captures_of_one_hold_charge_once(backend: Backend) {
    let t = TestLedger::new(backend).await;
    let second = t.second_instance().await;
    let w = t.ledger.open_wallet("shared").await.unwrap();
    t.ledger.credit(&purchase("fund", w, "1")).await.unwrap();
    let h = t.ledger.create_hold(&hold("h", w, "0.50", 60_000)).await.unwrap();
    let (first, other) = (capture("capture-a", h.id, "0.40"), capture("capture-b", h.id, "0.40"));
    let (a, b) = tokio::join!(t.ledger.capture_hold(&first), second.capture_hold(&other));
    let wins = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    let loser = if a.is_err() { a } else { b };
    assert!(matches!(loser, Err(LedgerError::HoldNotOpen { status: HoldStatus::Captured, .. })));
    assert_eq!(t.ledger.balance(w).await.unwrap().posted, usd("0.60"));
    t.assert_audit_clean().await;
}
