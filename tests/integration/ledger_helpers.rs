//! Short constructors for ledger requests in tests.

use tollgate::server::ledger::*;
use tollgate::shared::money::Micros;

pub fn usd(text: &str) -> Micros {
    Micros::parse(text).unwrap()
}

pub fn credit(
    key: &str,
    wallet: AccountId,
    amount: &str,
    kind: CreditKind,
    expires_at_ms: Option<i64>,
) -> CreditRequest {
    CreditRequest {
        idempotency_key: key.into(),
        wallet,
        amount: usd(amount),
        kind,
        description: format!("{kind:?}"),
        metadata: serde_json::json!({}),
        expires_at_ms,
    }
}

pub fn purchase(key: &str, wallet: AccountId, amount: &str) -> CreditRequest {
    credit(key, wallet, amount, CreditKind::Purchase, None)
}

pub fn usage(key: &str, wallet: AccountId, amount: &str) -> DebitRequest {
    DebitRequest {
        idempotency_key: key.into(),
        wallet,
        amount: usd(amount),
        kind: DebitKind::Usage,
        description: "fal-ai/flux/schnell".into(),
        metadata: serde_json::json!({ "model": "fal-ai/flux/schnell" }),
    }
}

pub fn hold(key: &str, wallet: AccountId, amount: &str, ttl_ms: i64) -> HoldRequest {
    HoldRequest {
        idempotency_key: key.into(),
        wallet,
        amount: usd(amount),
        ttl_ms,
        description: "generation".into(),
        metadata: serde_json::json!({}),
    }
}

pub fn capture(key: &str, hold_id: i64, actual: &str) -> CaptureRequest {
    CaptureRequest {
        idempotency_key: key.into(),
        hold_id,
        actual: usd(actual),
        description: "generation".into(),
        metadata: serde_json::json!({}),
    }
}
