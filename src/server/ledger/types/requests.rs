//! What callers ask the ledger to do: credit, debit, hold and capture.

use serde::{Deserialize, Serialize};

use super::{AccountId, CreditKind, DebitKind};
use crate::shared::money::Micros;

/// Money into a wallet, as a new credit lot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditRequest {
    pub idempotency_key: String,
    pub wallet: AccountId,
    pub amount: Micros,
    pub kind: CreditKind,
    pub description: String,
    pub metadata: serde_json::Value,
    /// When the lot's unspent remainder expires; `None` for never.
    pub expires_at_ms: Option<i64>,
}

/// Money out of a wallet, only from available funds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebitRequest {
    pub idempotency_key: String,
    pub wallet: AccountId,
    pub amount: Micros,
    pub kind: DebitKind,
    pub description: String,
    pub metadata: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldRequest {
    pub idempotency_key: String,
    pub wallet: AccountId,
    pub amount: Micros,
    /// How long the hold lives before the sweeper releases it.
    pub ttl_ms: i64,
    pub description: String,
    pub metadata: serde_json::Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRequest {
    pub idempotency_key: String,
    pub hold_id: i64,
    /// The effective cost of the work; may be less or more than the hold.
    pub actual: Micros,
    pub description: String,
    pub metadata: serde_json::Value,
}
