//! Who pays for a call: the rule the gateway applies before any work starts.
//!
//! A key of the person's own for the provider, accepted by the provider at its last check,
//! pays (and costs no credits). Otherwise credits pay, and there must be enough available
//! for the estimate; if not, the answer is the typed insufficient-credits error the pages
//! turn into the "Insufficient credits" toast and the billing gate. An unchecked or refused
//! key never skips this check.

use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::keys;
use crate::shared::dto::keys::Provider;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::PaidWith;

#[derive(Clone, PartialEq, Eq)]
pub enum Payer {
    /// The person's own key for the provider, as saved in Settings.
    OwnKey(String),
    /// A key of their own sent with this call only (never stored).
    CallKey(String),
    /// Their credits.
    Credits,
}

impl Payer {
    /// The key that pays, when it is not credits.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::OwnKey(k) | Self::CallKey(k) => Some(k),
            Self::Credits => None,
        }
    }

    /// Who paid, as usage records and API answers name it.
    pub fn paid_with(&self) -> PaidWith {
        match self {
            Self::OwnKey(_) | Self::CallKey(_) => PaidWith::OwnKey,
            Self::Credits => PaidWith::Credits,
        }
    }
}

impl std::fmt::Debug for Payer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OwnKey(_) => f.write_str("OwnKey(***)"),
            Self::CallKey(_) => f.write_str("CallKey(***)"),
            Self::Credits => f.write_str("Credits"),
        }
    }
}

pub async fn payer_for(
    state: &AppState,
    user_id: &str,
    provider: Provider,
    estimate: Micros,
) -> Result<Payer, AppError> {
    if let Some(key) = keys::usable_key(state, user_id, provider).await? {
        return Ok(Payer::OwnKey(key));
    }
    // A recent read that covers the estimate lets the call through (the hold, taken in the
    // database, decides for real); a refusal is always checked against the database.
    // Read before the database is asked, so a write committed meanwhile makes the answer
    // stored below stale.
    let generation = state.db.write_generation();
    if let Some((_, available)) = state.caches.balances.get_if(user_id, |(read_at, _)| *read_at == generation)
        && available >= estimate
    {
        return Ok(Payer::Credits);
    }
    let balance = state.ledger.balance_of(user_id).await?;
    // What may be spent: available credits and a postpaid wallet's credit line, nothing
    // while credits taken back after they were spent are owed.
    let mut available = balance.spendable();
    let postpaid = balance.credit_limit.is_positive() || balance.credit_used.is_positive();
    // A postpaid account with an invoice unpaid past its due date starts no new work. An
    // invoice falls due with time, not with a write, so a postpaid account's answer is
    // never kept.
    if postpaid && crate::server::services::payments::invoices::overdue(&state.db, user_id, now_ms()).await? {
        available = Micros::ZERO;
    }
    if !postpaid {
        state.caches.balances.insert(user_id.to_string(), (generation, available));
    }
    if available < estimate {
        return Err(AppError::InsufficientCredits { needed_micros: estimate.get(), available_micros: available.get() });
    }
    Ok(Payer::Credits)
}
