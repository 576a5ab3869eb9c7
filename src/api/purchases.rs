//! Buying credits: the price rules shared by the page (to show the quote) and the server
//! (to charge it), and the server functions.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::money::Micros;

/// The purchase rules in force, from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseRules {
    pub min: Micros,
    pub max: Micros,
    /// Purchases of at least this much get a bonus.
    pub bonus_threshold: Micros,
    pub bonus_percent: u32,
    /// Payments are simulated locally.
    pub sandbox: bool,
    /// Credits can be bought on this server (through Stripe or the sandbox).
    pub available: bool,
}

/// What a purchase costs and gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub pay: Micros,
    pub bonus: Micros,
    pub get: Micros,
}

pub const PRESETS_USD: [i64; 4] = [10, 25, 50, 100];

impl PurchaseRules {
    /// Checks an amount typed in dollars and prices it. Amounts are whole cents: that is
    /// what a card is charged in.
    pub fn quote(&self, text: &str) -> Result<Quote, AppError> {
        let field = |m: String| AppError::validation("amount", m);
        let pay = Micros::parse_positive(text).map_err(|e| field(e.to_string()))?;
        if pay.to_cents_exact().is_none() {
            return Err(field("Use whole cents, e.g. 12.50.".into()));
        }
        if pay < self.min {
            return Err(field(format!("The smallest purchase is {}.", self.min.format())));
        }
        if pay > self.max {
            return Err(field(format!("The largest purchase is {}.", self.max.format())));
        }
        let bonus = if pay >= self.bonus_threshold {
            // Rounded down to the cent: bonuses never create fractions of a cent.
            let raw = pay.get() / 100 * i64::from(self.bonus_percent);
            Micros(raw - raw % 10_000)
        } else {
            Micros::ZERO
        };
        Ok(Quote { pay, bonus, get: Micros(pay.get() + bonus.get()) })
    }
}

#[server(endpoint = "purchase_rules")]
pub async fn get_purchase_rules() -> Result<PurchaseRules, AppError> {
    use crate::server::state::AppState;
    // Public: the same rules are on the page for anyone to read.
    Ok(AppState::from_context()?.purchase_rules())
}

/// The query that carries where to go back to after checkout (`&next=...`), or nothing.
pub fn next_suffix(next: Option<&str>) -> String {
    match next.filter(|n| !n.is_empty()) {
        Some(n) if crate::api::auth::safe_next(Some(n)) == n => {
            format!("&next={}", crate::api::auth::encode_query_value(n))
        }
        _ => String::new(),
    }
}

/// Starts a checkout for `amount` dollars and sends the browser to the payment page.
/// `next` is a path on this site to offer going back to once the payment is done.
#[server(endpoint = "checkout_start")]
pub async fn start_checkout(amount: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::auth::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let (url, _) = crate::server::purchases::start_checkout(&state, &user, &amount, next.as_deref()).await?;
            leptos_axum::redirect(&url);
            Ok(())
        }
        .await,
    )
}

/// Where a checkout the person came back from stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckoutState {
    /// The payment was confirmed and the credits are in.
    Completed { get: Micros },
    /// Back from paying, but the payment confirmation has not arrived yet.
    Processing,
}

#[server(endpoint = "checkout_state")]
pub async fn get_checkout_state(session: String) -> Result<CheckoutState, AppError> {
    use crate::server::auth::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            crate::server::purchases::checkout_state(&state, &user, &session).await
        }
        .await,
    )
}

/// The open sandbox checkout the sandbox payment page shows.
#[server(endpoint = "sandbox_checkout")]
pub async fn get_sandbox_checkout(session: String) -> Result<Quote, AppError> {
    use crate::server::auth::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            crate::server::purchases::sandbox_quote(&state, &user, &session).await
        }
        .await,
    )
}

/// The sandbox's "Pay" button: completes the checkout through the same signed webhook
/// path Stripe would use.
#[server(endpoint = "sandbox_pay")]
pub async fn sandbox_pay(session: String, next: Option<String>) -> Result<(), AppError> {
    use crate::server::auth::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            crate::server::purchases::sandbox_pay(&state, &user, &session).await?;
            let back = next_suffix(next.as_deref());
            leptos_axum::redirect(&format!("/credits?checkout=success&session={session}{back}"));
            Ok(())
        }
        .await,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> PurchaseRules {
        PurchaseRules {
            min: Micros::from_usd(5),
            max: Micros::from_usd(1000),
            bonus_threshold: Micros::from_usd(50),
            bonus_percent: 10,
            sandbox: true,
            available: true,
        }
    }

    #[test]
    fn purchases_of_fifty_dollars_or_more_get_ten_percent_on_top() {
        let q = rules().quote("100").unwrap();
        assert_eq!(
            (q.pay.format(), q.bonus.format(), q.get.format()),
            ("$100.00".into(), "$10.00".into(), "$110.00".into())
        );
        assert_eq!(rules().quote("$50").unwrap().get, Micros::from_usd(55));
        assert_eq!(rules().quote("49.99").unwrap().bonus, Micros::ZERO);
        assert_eq!(rules().quote("50.05").unwrap().bonus, Micros::from_cents(500), "rounded down to the cent");
    }

    #[test]
    fn amounts_outside_the_limits_or_with_fractions_of_a_cent_are_refused() {
        for bad in ["4.99", "1000.01", "0", "-10", "ten", "10.001", ""] {
            assert!(matches!(rules().quote(bad), Err(AppError::Validation { .. })), "{bad}");
        }
        assert!(rules().quote("5").is_ok());
        assert!(rules().quote("1,000").is_ok());
    }
}
