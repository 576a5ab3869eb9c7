//! The ledger's vocabulary: accounts, codes, requests, receipts and errors.

use serde::{Deserialize, Serialize};

use crate::shared::money::Micros;

/// A row in `account`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub i64);

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The accounts on the other side of every wallet movement. Together with the wallets
/// they sum to zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemAccount {
    /// Money received from (or returned to) payment providers.
    PaymentsClearing,
    /// Bonuses and sign-up grants given away.
    Promotions,
    /// Credit handed out through gift codes.
    GiftCodes,
    /// What usage earned.
    UsageRevenue,
    /// Credit that expired unused.
    ExpiredCredit,
    /// Manual corrections.
    Adjustments,
}

impl SystemAccount {
    pub const ALL: [Self; 6] = [
        Self::PaymentsClearing,
        Self::Promotions,
        Self::GiftCodes,
        Self::UsageRevenue,
        Self::ExpiredCredit,
        Self::Adjustments,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::PaymentsClearing => "system:payments_clearing",
            Self::Promotions => "system:promotions",
            Self::GiftCodes => "system:gift_codes",
            Self::UsageRevenue => "system:usage_revenue",
            Self::ExpiredCredit => "system:expired_credit",
            Self::Adjustments => "system:adjustments",
        }
    }
}

/// Why money moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferCode {
    Purchase,
    PurchaseBonus,
    SignupGrant,
    GiftCode,
    Usage,
    Adjustment,
    Refund,
    Expiry,
}

impl TransferCode {
    pub const ALL: [Self; 8] = [
        Self::Purchase,
        Self::PurchaseBonus,
        Self::SignupGrant,
        Self::GiftCode,
        Self::Usage,
        Self::Adjustment,
        Self::Refund,
        Self::Expiry,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purchase => "purchase",
            Self::PurchaseBonus => "purchase_bonus",
            Self::SignupGrant => "signup_grant",
            Self::GiftCode => "gift_code",
            Self::Usage => "usage",
            Self::Adjustment => "adjustment",
            Self::Refund => "refund",
            Self::Expiry => "expiry",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Kinds of money coming into a wallet: each decides the system account it comes from
/// and whether its lot is promotional (spent first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    Purchase,
    PurchaseBonus,
    SignupGrant,
    GiftCode,
    Adjustment,
}

impl CreditKind {
    pub fn code(self) -> TransferCode {
        match self {
            Self::Purchase => TransferCode::Purchase,
            Self::PurchaseBonus => TransferCode::PurchaseBonus,
            Self::SignupGrant => TransferCode::SignupGrant,
            Self::GiftCode => TransferCode::GiftCode,
            Self::Adjustment => TransferCode::Adjustment,
        }
    }

    pub fn source(self) -> SystemAccount {
        match self {
            Self::Purchase => SystemAccount::PaymentsClearing,
            Self::PurchaseBonus | Self::SignupGrant => SystemAccount::Promotions,
            Self::GiftCode => SystemAccount::GiftCodes,
            Self::Adjustment => SystemAccount::Adjustments,
        }
    }

    pub fn promotional(self) -> bool {
        matches!(self, Self::PurchaseBonus | Self::SignupGrant | Self::GiftCode)
    }
}

/// Kinds of money leaving a wallet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DebitKind {
    Usage,
    Adjustment,
    /// Money handed back to the payer.
    Refund,
}

impl DebitKind {
    pub fn code(self) -> TransferCode {
        match self {
            Self::Usage => TransferCode::Usage,
            Self::Adjustment => TransferCode::Adjustment,
            Self::Refund => TransferCode::Refund,
        }
    }

    pub fn destination(self) -> SystemAccount {
        match self {
            Self::Usage => SystemAccount::UsageRevenue,
            Self::Adjustment => SystemAccount::Adjustments,
            Self::Refund => SystemAccount::PaymentsClearing,
        }
    }
}

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

/// What a wallet has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Credits minus debits.
    pub posted: Micros,
    /// Held for work in progress.
    pub reserved: Micros,
    /// What can be spent or held now: posted minus reserved.
    pub available: Micros,
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

/// What can go wrong. Every variant but `Database` means nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("the amount must be more than zero (got {0} micro-USD)")]
    NonPositiveAmount(i64),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("account {0} does not exist")]
    UnknownAccount(AccountId),
    #[error("account {0} is not a wallet")]
    NotAWallet(AccountId),
    #[error("insufficient funds: {needed} needed, {available} available")]
    InsufficientFunds { needed: Micros, available: Micros },
    #[error("the balance would exceed the largest amount the ledger can hold")]
    Overflow,
    #[error("idempotency key {0:?} was already used for a different request")]
    IdempotencyConflict(String),
    #[error("hold {0} does not exist")]
    UnknownHold(i64),
    #[error("hold {id} is {status:?}, not open")]
    HoldNotOpen { id: i64, status: HoldStatus },
    #[error("hold {0} has expired")]
    HoldExpired(i64),
    #[error("transfer {0} does not exist")]
    UnknownTransfer(i64),
    #[error("transfer {0} was already reversed")]
    AlreadyReversed(i64),
    #[error("transfer {0} cannot be reversed: it is itself a reversal or an expiry")]
    NotReversible(i64),
    #[error("ledger inconsistency: {0}")]
    Inconsistent(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The service boundary's view of a ledger error: what the person can act on, in their
/// words. The ledger's own message (keys, hold ids, states) is logged, never shown.
impl From<LedgerError> for crate::shared::error::AppError {
    fn from(e: LedgerError) -> Self {
        use crate::shared::error::AppError;
        let conflict = |message: &str| {
            tracing::warn!(error = %e, "ledger refused a repeated or settled operation");
            AppError::Conflict { message: message.to_string() }
        };
        match &e {
            LedgerError::InsufficientFunds { needed, available } => {
                AppError::InsufficientCredits { needed_micros: needed.get(), available_micros: available.get() }
            }
            LedgerError::NonPositiveAmount(_) => AppError::validation("amount", "The amount must be more than zero."),
            LedgerError::Overflow => AppError::validation("amount", "That amount is too large."),
            LedgerError::UnknownAccount(_) | LedgerError::NotAWallet(_) => AppError::not_found("The account"),
            LedgerError::UnknownHold(_) => AppError::not_found("That reservation of credits"),
            LedgerError::UnknownTransfer(_) => AppError::not_found("The transaction"),
            LedgerError::IdempotencyConflict(_) => {
                conflict("This was already done with different details, so nothing was changed.")
            }
            LedgerError::HoldNotOpen { .. } | LedgerError::HoldExpired(_) => {
                conflict("This work was already settled, so nothing was charged again.")
            }
            LedgerError::AlreadyReversed(_) => conflict("This transaction was already reversed."),
            LedgerError::NotReversible(_) => conflict("This transaction cannot be reversed."),
            // The services check what they pass the ledger: a refusal here is our bug.
            LedgerError::Invalid(_) | LedgerError::Inconsistent(_) | LedgerError::Database(_) => {
                AppError::internal("ledger", &e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::error::AppError;

    #[test]
    fn ledger_errors_reach_people_without_the_ledgers_details() {
        let cases = [
            LedgerError::IdempotencyConflict("capture:3f2c-request".into()),
            LedgerError::HoldNotOpen { id: 4242, status: HoldStatus::Captured },
            LedgerError::HoldExpired(4242),
            LedgerError::AlreadyReversed(4242),
            LedgerError::NotReversible(4242),
            LedgerError::NonPositiveAmount(-4242),
            LedgerError::Invalid("an idempotency key must be 1 to 255 characters".into()),
            LedgerError::Inconsistent("wallet 4242 is off".into()),
        ];
        for e in cases {
            let before = e.to_string();
            let shown = AppError::from(e);
            let text = shown.to_string();
            for leak in ["4242", "capture:", "idempotency", "hold ", "Captured", "wallet"] {
                assert!(!text.contains(leak), "{before:?} was shown as {text:?}");
            }
            assert_ne!(shown.status_code(), 200);
        }
        let conflict = AppError::from(LedgerError::HoldNotOpen { id: 1, status: HoldStatus::Voided });
        assert_eq!(conflict.status_code(), 409);
        assert_eq!(AppError::from(LedgerError::Invalid("x".into())), AppError::Internal);
    }
}
