//! Postpaid accounts: an administrator gives an account a credit limit, and the ledger
//! lets it spend past its credits down to that limit (its credit line); what it spent on
//! credit is billed monthly.

use crate::server::infra::state::AppState;
use crate::server::services::accounts::users;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// An account's billing mode, as set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingMode {
    pub email: String,
    pub credit_limit: Micros,
    pub credit_used: Micros,
}

impl BillingMode {
    pub fn describe(&self) -> String {
        if self.credit_limit.is_positive() {
            format!(
                "{} is postpaid with a credit limit of {} ({} drawn)",
                self.email,
                self.credit_limit.format(),
                self.credit_used.format()
            )
        } else if self.credit_used.is_positive() {
            format!("{} is prepaid ({} drawn on credit is still to be billed)", self.email, self.credit_used.format())
        } else {
            format!("{} is prepaid", self.email)
        }
    }
}

/// Makes the account with `email` postpaid with a credit limit of `limit_usd`, or
/// prepaid (no credit line; anything drawn is still billed).
pub async fn set_mode(
    state: &AppState,
    email: &str,
    mode: &str,
    limit_usd: Option<&str>,
) -> Result<BillingMode, AppError> {
    let email = users::normalize_email(email)?;
    let user = users::find_by_email(&state.db, &email)
        .await?
        .ok_or_else(|| AppError::validation("email", "No account has that email."))?;
    let limit = match (mode.trim(), limit_usd) {
        ("prepaid", None) => Micros::ZERO,
        ("prepaid", Some(_)) => {
            return Err(AppError::validation("credit_limit_usd", "A prepaid account has no credit limit."));
        }
        ("postpaid", Some(raw)) => {
            let limit =
                Micros::parse_positive(raw).map_err(|e| AppError::validation("credit_limit_usd", e.to_string()))?;
            if limit.to_cents_exact().is_none() || limit > Micros::from_usd(1_000_000) {
                return Err(AppError::validation("credit_limit_usd", "Use whole cents, up to $1,000,000.00."));
            }
            limit
        }
        ("postpaid", None) => {
            return Err(AppError::validation("credit_limit_usd", "A postpaid account needs --credit-limit-usd."));
        }
        _ => return Err(AppError::validation("mode", "The mode is prepaid or postpaid.")),
    };
    let wallet = state.ledger.open_wallet(&user.id).await?;
    state.ledger.set_credit_limit(wallet, limit).await?;
    let line = state.ledger.credit_line(wallet).await?;
    tracing::info!(user_id = %user.id, credit_limit_micros = limit.get(), "billing mode set");
    Ok(BillingMode { email, credit_limit: line.limit, credit_used: line.used })
}
