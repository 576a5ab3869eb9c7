//! What can go wrong in the ledger, and how it reaches people.

use super::{AccountId, HoldStatus};
use crate::shared::money::Micros;

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

impl crate::server::infra::group_commit::GroupError for LedgerError {
    fn database(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}
