//! What the ledger answers: balances, receipts, holds and history.

use serde::{Deserialize, Serialize};

use super::{AccountId, TransferCode};
use crate::shared::money::Micros;

/// What a wallet has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Credits minus debits.
    pub posted: Micros,
    /// Held for work in progress.
    pub reserved: Micros,
    /// What can be spent or held now: posted minus reserved.
    pub available: Micros,
    /// Credits taken back (a refund, a dispute) that had already been spent: paid first
    /// out of the next credits, and no new work until then.
    pub owed: Micros,
    /// A postpaid wallet's credit line: how far it may spend past its credits, and how
    /// much of that is drawn and not yet paid.
    pub credit_limit: Micros,
    pub credit_used: Micros,
}

impl Balance {
    /// What the credit line can still lend.
    pub fn credit_room(&self) -> Micros {
        Micros((self.credit_limit.get() - self.credit_used.get()).max(0))
    }

    /// What work may be started with: available credits and the credit line's room;
    /// nothing while credits taken back are owed.
    pub fn spendable(&self) -> Micros {
        if self.owed.is_positive() {
            return Micros::ZERO;
        }
        Micros(self.available.get().saturating_add(self.credit_room().get()))
    }
}

/// The answer to a write that moved money.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReceipt {
    pub transfer_id: i64,
    pub amount: Micros,
    pub code: TransferCode,
    /// The wallet's posted balance right after the transfer.
    pub wallet_balance_after: Micros,
    pub created_at_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldStatus {
    Open,
    Captured,
    Voided,
    Expired,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Captured, Self::Voided, Self::Expired].into_iter().find(|h| h.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub id: i64,
    pub wallet: AccountId,
    pub amount: Micros,
    pub status: HoldStatus,
    pub expires_at_ms: i64,
    pub created_at_ms: i64,
}

/// The answer to a capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureReceipt {
    pub hold_id: i64,
    /// What was taken from the wallet.
    pub charged: Micros,
    /// Cost above the hold that the wallet could not cover. Never taken later; the caller
    /// decides what to do about it (stop further work, report it).
    pub uncollected: Micros,
    /// The usage transfer, when anything was charged.
    pub transfer: Option<TransferReceipt>,
}

/// One line of a wallet's history, signed from the wallet's point of view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub transfer_id: i64,
    pub code: TransferCode,
    /// Positive when money came in.
    pub amount: Micros,
    pub balance_after: Micros,
    pub description: String,
    pub metadata: serde_json::Value,
    pub hold_id: Option<i64>,
    pub reverses_transfer_id: Option<i64>,
    pub created_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub entries: Vec<HistoryEntry>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}
