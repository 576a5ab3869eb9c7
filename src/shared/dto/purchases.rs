//! Wire types for purchases: shared by the browser, the server functions and the services.

use crate::shared::error::AppError;
use crate::shared::money::Micros;
use serde::{Deserialize, Serialize};

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

/// What a purchase amount that is not dollars and cents is told.
const DOLLARS_AND_CENTS: &str = "Use dollars and cents, e.g. 12.50.";

impl PurchaseRules {
    /// Checks an amount typed in dollars and prices it. Amounts are whole cents: that is
    /// what a card is charged in.
    pub fn quote(&self, text: &str) -> Result<Quote, AppError> {
        use crate::shared::money::AmountError;
        let field = |m: String| AppError::validation("amount", m);
        let pay = Micros::parse_positive(text).map_err(|e| match e {
            // Written for someone buying: dollars and cents, within the limits.
            AmountError::NotANumber(_) | AmountError::TooPrecise => field(DOLLARS_AND_CENTS.into()),
            AmountError::TooLarge => field(format!("The largest purchase is {}.", self.max.format())),
            AmountError::Negative | AmountError::NotPositive => {
                field(format!("The smallest purchase is {}.", self.min.format()))
            }
            AmountError::Empty => field(e.to_string()),
        })?;
        self.quote_micros(pay)
    }

    /// What paying `pay` costs and gives, checked against the limits.
    pub fn quote_micros(&self, pay: Micros) -> Result<Quote, AppError> {
        let field = |m: String| AppError::validation("amount", m);
        if pay.to_cents_exact().is_none() {
            return Err(field(DOLLARS_AND_CENTS.into()));
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

/// The query that carries where to go back to after checkout (`&next=...`), or nothing.
pub fn next_suffix(next: Option<&str>) -> String {
    match next.filter(|n| !n.is_empty()) {
        Some(n) if crate::shared::dto::auth::safe_next(Some(n)) == n => {
            format!("&next={}", crate::shared::dto::auth::encode_query_value(n))
        }
        _ => String::new(),
    }
}

/// Where a checkout the person came back from stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckoutState {
    /// The payment was confirmed and the credits are in.
    Completed { get: Micros },
    /// Back from paying, but the payment confirmation has not arrived yet.
    Processing,
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

    #[test]
    fn a_refused_amount_says_what_to_type_instead() {
        let message = |text: &str| match rules().quote(text) {
            Err(AppError::Validation { field, message, .. }) if field == "amount" => message,
            other => panic!("{text}: {other:?}"),
        };
        for small in ["4", "$4", "0", "-10"] {
            assert_eq!(message(small), "The smallest purchase is $5.00.", "{small}");
        }
        for large in ["1,001", "$1,001", "1000.01", "99999999999999999999"] {
            assert_eq!(message(large), "The largest purchase is $1,000.00.", "{large}");
        }
        for odd in ["abc", "12.345", "12.3456789", "1.2.3"] {
            assert_eq!(message(odd), "Use dollars and cents, e.g. 12.50.", "{odd}");
        }
        assert_eq!(message(" "), "Enter an amount.");
    }
}

/// One payment in the person's history: a purchase, with what was refunded or disputed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// The checkout session it was paid through.
    pub id: String,
    /// `YYYY-MM-DD` (UTC) it was paid.
    pub date: String,
    pub completed_at_ms: i64,
    pub amount: Micros,
    pub bonus: Micros,
    pub refunded: Micros,
    pub status: crate::shared::states::PaymentStatus,
    pub kind: crate::shared::states::PaymentKind,
    /// Why a declined payment was declined.
    pub failure: Option<String>,
    /// `stripe` or `sandbox`.
    pub provider: String,
}
