//! Property test: random sequences of ledger operations against a plain in-memory model.
//! After every step the wallet's balance, each lot and each hold must match the model,
//! and every audit invariant must hold.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tollgate::server::infra::db::Backend;
use tollgate::server::ledger::*;
use tollgate::shared::money::Micros;

use crate::helpers::TestLedger;

const HOUR_MS: i64 = 3_600_000;
const KINDS: [CreditKind; 5] = [
    CreditKind::Purchase,
    CreditKind::PurchaseBonus,
    CreditKind::SignupGrant,
    CreditKind::GiftCode,
    CreditKind::Adjustment,
];

#[derive(Clone, Debug)]
enum Op {
    Credit { kind: usize, amount: i64, expires_in_hours: Option<i64> },
    Debit { amount: i64 },
    Hold { amount: i64, ttl_hours: i64 },
    Capture { which: usize, actual: i64 },
    Void { which: usize },
    Advance { hours: i64 },
    Sweep,
    ReplayLastCredit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..KINDS.len(), 1..3_000_000i64, proptest::option::of(1..96i64))
            .prop_map(|(kind, amount, expires_in_hours)| Op::Credit { kind, amount, expires_in_hours }),
        3 => (1..2_000_000i64).prop_map(|amount| Op::Debit { amount }),
        2 => (1..2_000_000i64, 1..48i64).prop_map(|(amount, ttl_hours)| Op::Hold { amount, ttl_hours }),
        2 => (0..8usize, 0..3_000_000i64).prop_map(|(which, actual)| Op::Capture { which, actual }),
        1 => (0..8usize).prop_map(|which| Op::Void { which }),
        1 => (1..48i64).prop_map(|hours| Op::Advance { hours }),
        1 => Just(Op::Sweep),
        1 => Just(Op::ReplayLastCredit),
    ]
}

#[derive(Clone, Debug, PartialEq)]
struct MLot {
    promotional: bool,
    expires_at_ms: Option<i64>,
    remaining: i64,
}

#[derive(Clone, Debug, PartialEq)]
struct MHold {
    id: i64,
    amount: i64,
    expires_at_ms: i64,
    status: HoldStatus,
}

#[derive(Default)]
struct Model {
    posted: i64,
    reserved: i64,
    lots: Vec<MLot>,
    holds: Vec<MHold>,
}

impl Model {
    fn available(&self) -> i64 {
        self.posted - self.reserved
    }

    fn draw(&mut self, mut amount: i64) {
        let mut order: Vec<usize> = (0..self.lots.len()).collect();
        order.sort_by_key(|&i| (!self.lots[i].promotional, self.lots[i].expires_at_ms.unwrap_or(i64::MAX), i));
        for i in order {
            let take = self.lots[i].remaining.min(amount);
            self.lots[i].remaining -= take;
            amount -= take;
        }
        assert_eq!(amount, 0, "model: lots do not cover the balance");
    }

    fn sweep(&mut self, now: i64) {
        for h in &mut self.holds {
            if h.status == HoldStatus::Open && h.expires_at_ms <= now {
                h.status = HoldStatus::Expired;
                self.reserved -= h.amount;
            }
        }
        let mut due: Vec<usize> = (0..self.lots.len())
            .filter(|&i| self.lots[i].remaining > 0 && self.lots[i].expires_at_ms.is_some_and(|e| e <= now))
            .collect();
        due.sort_by_key(|&i| (self.lots[i].expires_at_ms, i));
        for i in due {
            let take = self.lots[i].remaining.min(self.posted - self.reserved);
            self.lots[i].remaining -= take;
            self.posted -= take;
        }
    }
}

async fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let t = TestLedger::new(Backend::Sqlite).await;
    let w = t.ledger.open_wallet("model").await.unwrap();
    let mut m = Model::default();
    let mut last_credit: Option<(CreditRequest, TransferReceipt)> = None;
    for (step, op) in ops.into_iter().enumerate() {
        let now = t.clock.now_ms();
        let key = format!("step-{step}");
        match op {
            Op::Credit { kind, amount, expires_in_hours } => {
                let kind = KINDS[kind];
                let req = CreditRequest {
                    idempotency_key: key,
                    wallet: w,
                    amount: Micros(amount),
                    kind,
                    description: "model".into(),
                    metadata: serde_json::json!({}),
                    expires_at_ms: expires_in_hours.map(|h| now + h * HOUR_MS),
                };
                let receipt = t.ledger.credit(&req).await.unwrap();
                m.posted += amount;
                m.lots.push(MLot {
                    promotional: kind.promotional(),
                    expires_at_ms: req.expires_at_ms,
                    remaining: amount,
                });
                last_credit = Some((req, receipt));
            }
            Op::Debit { amount } => {
                let req = DebitRequest {
                    idempotency_key: key,
                    wallet: w,
                    amount: Micros(amount),
                    kind: DebitKind::Usage,
                    description: "model".into(),
                    metadata: serde_json::json!({}),
                };
                let result = t.ledger.debit(&req).await;
                if m.available() >= amount {
                    prop_assert!(result.is_ok(), "step {step}: {result:?}");
                    m.posted -= amount;
                    m.draw(amount);
                } else {
                    prop_assert!(
                        matches!(result, Err(LedgerError::InsufficientFunds { .. })),
                        "step {step}: {result:?}"
                    );
                }
            }
            Op::Hold { amount, ttl_hours } => {
                let req = HoldRequest {
                    idempotency_key: key,
                    wallet: w,
                    amount: Micros(amount),
                    ttl_ms: ttl_hours * HOUR_MS,
                    description: "model".into(),
                    metadata: serde_json::json!({}),
                };
                let result = t.ledger.create_hold(&req).await;
                if m.available() >= amount {
                    let h = result.unwrap();
                    m.reserved += amount;
                    m.holds.push(MHold {
                        id: h.id,
                        amount,
                        expires_at_ms: now + ttl_hours * HOUR_MS,
                        status: HoldStatus::Open,
                    });
                } else {
                    prop_assert!(
                        matches!(result, Err(LedgerError::InsufficientFunds { .. })),
                        "step {step}: {result:?}"
                    );
                }
            }
            Op::Capture { which, actual } => {
                let Some(h) = m.holds.get(which).cloned() else { continue };
                let req = CaptureRequest {
                    idempotency_key: key,
                    hold_id: h.id,
                    actual: Micros(actual),
                    description: "model".into(),
                    metadata: serde_json::json!({}),
                };
                let result = t.ledger.capture_hold(&req).await;
                match h.status {
                    HoldStatus::Open if now < h.expires_at_ms => {
                        let receipt = result.unwrap();
                        m.reserved -= h.amount;
                        let charged = actual.min(m.available());
                        prop_assert_eq!(receipt.charged.get(), charged);
                        prop_assert_eq!(receipt.uncollected.get(), actual - charged);
                        m.posted -= charged;
                        m.draw(charged);
                        m.holds[which].status = HoldStatus::Captured;
                    }
                    HoldStatus::Open => prop_assert!(matches!(result, Err(LedgerError::HoldExpired(_))), "{result:?}"),
                    status => prop_assert!(
                        matches!(result, Err(LedgerError::HoldNotOpen { status: s, .. }) if s == status),
                        "{result:?}"
                    ),
                }
            }
            Op::Void { which } => {
                let Some(h) = m.holds.get(which).cloned() else { continue };
                let result = t.ledger.void_hold(h.id).await;
                match h.status {
                    HoldStatus::Open => {
                        result.unwrap();
                        m.reserved -= h.amount;
                        m.holds[which].status = HoldStatus::Voided;
                    }
                    HoldStatus::Voided => prop_assert!(result.is_ok()),
                    status => prop_assert!(
                        matches!(result, Err(LedgerError::HoldNotOpen { status: s, .. }) if s == status),
                        "{result:?}"
                    ),
                }
            }
            Op::Advance { hours } => t.clock.advance(hours * HOUR_MS),
            Op::Sweep => {
                t.ledger.sweep().await.unwrap();
                m.sweep(now);
            }
            Op::ReplayLastCredit => {
                let Some((req, first)) = &last_credit else { continue };
                prop_assert_eq!(&t.ledger.credit(req).await.unwrap(), first);
            }
        }
        let balance = t.ledger.balance(w).await.unwrap();
        prop_assert_eq!((balance.posted.get(), balance.reserved.get()), (m.posted, m.reserved), "after step {}", step);
        let lots: Vec<i64> = sqlx::query_scalar("select remaining_micros from credit_lot order by id")
            .fetch_all(t.ledger.db().pool())
            .await
            .unwrap();
        prop_assert_eq!(lots, m.lots.iter().map(|l| l.remaining).collect::<Vec<_>>(), "lots after step {}", step);
        for h in &m.holds {
            prop_assert_eq!(t.ledger.hold(h.id).await.unwrap().status, h.status, "hold {} after step {}", h.id, step);
        }
        let audit = t.ledger.audit().await.unwrap();
        prop_assert!(audit.is_clean(), "audit after step {}: {:?}", step, audit.findings);
    }
    Ok(())
}

#[test]
fn random_operation_sequences_match_the_model_after_every_step() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cases = std::env::var("LEDGER_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(40);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    runner.run(&proptest::collection::vec(op(), 1..40), |ops| rt.block_on(run_case(ops))).unwrap();
}
