//! Saved cards and auto top-up, as the Balance tab, the JSON API and the CLI show them,
//! and the rules an auto top-up setting must keep.

use serde::{Deserialize, Serialize};

use super::purchases::PurchaseRules;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// The card on file, as the person sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedCard {
    /// `visa`, `mastercard`, ... as Stripe names it.
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    /// A sandbox card: no real money moves.
    pub sandbox: bool,
}

impl SavedCard {
    /// "Visa ending in 4242, expires 12/2030".
    pub fn describe(&self) -> String {
        let mut brand = self.brand.clone();
        if let Some(first) = brand.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        format!("{brand} ending in {}, expires {:02}/{}", self.last4, self.exp_month, self.exp_year)
    }
}

/// Auto top-up settings and where they stand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoTopUp {
    pub enabled: bool,
    pub threshold: Micros,
    pub amount: Micros,
    pub monthly_cap: Micros,
    /// Why auto top-up stopped by itself (a declined card); it stays stopped until the
    /// card is replaced or auto top-up is turned on again.
    pub paused_reason: Option<String>,
    /// What top-ups started this calendar month (UTC) add up to.
    pub this_month: Micros,
}

/// The Balance tab's payment settings: the card and auto top-up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSettings {
    pub card: Option<SavedCard>,
    pub auto_top_up: AutoTopUp,
    /// Cards are saved through Stripe, or (without a Stripe account) the sandbox.
    pub cards_available: bool,
}

/// Auto top-up settings as typed, checked by [`AutoTopUpSettings::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoTopUpSettings {
    pub enabled: bool,
    pub threshold: Micros,
    pub amount: Micros,
    pub monthly_cap: Micros,
}

impl AutoTopUpSettings {
    /// Checks typed dollar amounts: the amount is a purchase (within its limits), the
    /// threshold is not negative, and the monthly cap fits at least one top-up. Each
    /// problem names its field.
    pub fn parse(
        enabled: bool,
        threshold: &str,
        amount: &str,
        monthly_cap: &str,
        rules: &PurchaseRules,
    ) -> Result<Self, AppError> {
        let dollars = |field: &str, text: &str| {
            let m = Micros::parse(text.trim()).map_err(|e| AppError::validation(field, e.to_string()))?;
            if m.is_negative() {
                return Err(AppError::validation(field, "Use an amount of $0.00 or more."));
            }
            if m.to_cents_exact().is_none() {
                return Err(AppError::validation(field, "Use whole cents, e.g. 12.50."));
            }
            Ok(m)
        };
        let threshold = dollars("threshold_usd", threshold)?;
        let amount = rules.quote(amount).map_err(|e| rename_field(e, "amount_usd"))?.pay;
        let monthly_cap = dollars("monthly_cap_usd", monthly_cap)?;
        if monthly_cap < amount {
            return Err(AppError::validation(
                "monthly_cap_usd",
                format!("The monthly cap must allow at least one top-up of {}.", amount.format()),
            ));
        }
        if threshold > rules.max {
            return Err(AppError::validation(
                "threshold_usd",
                format!("Use a threshold of at most {}.", rules.max.format()),
            ));
        }
        Ok(Self { enabled, threshold, amount, monthly_cap })
    }
}

/// The same validation error, about `field`.
fn rename_field(e: AppError, field: &str) -> AppError {
    match e {
        AppError::Validation { message, .. } => AppError::validation(field, message),
        other => other,
    }
}

/// A sandbox card to save, and what happens when it is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxCard {
    pub id: &'static str,
    pub brand: &'static str,
    pub last4: &'static str,
    /// Why a charge to it is declined; `None` when it pays.
    pub declines: Option<&'static str>,
}

/// The cards the sandbox offers: one that pays and two that decline.
pub const SANDBOX_CARDS: [SandboxCard; 3] = [
    SandboxCard { id: "pm_sandbox_visa", brand: "visa", last4: "4242", declines: None },
    SandboxCard { id: "pm_sandbox_declined", brand: "visa", last4: "0002", declines: Some("Your card was declined.") },
    SandboxCard {
        id: "pm_sandbox_no_funds",
        brand: "mastercard",
        last4: "9995",
        declines: Some("Your card has insufficient funds."),
    },
];

impl SandboxCard {
    pub fn find(id: &str) -> Option<Self> {
        SANDBOX_CARDS.into_iter().find(|c| c.id == id)
    }

    /// The card as it is saved and shown.
    pub fn as_saved(&self) -> SavedCard {
        SavedCard { brand: self.brand.into(), last4: self.last4.into(), exp_month: 12, exp_year: 2034, sandbox: true }
    }

    /// How the sandbox page offers it.
    pub fn label(&self) -> String {
        let card = self.as_saved();
        match self.declines {
            None => format!("{}: pays", card.describe()),
            Some(why) => format!("{}: declines (\"{why}\")", card.describe()),
        }
    }
}

/// A postpaid account's monthly invoice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: String,
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// What the month's calls cost, what the account's own credits paid of it, and what
    /// was spent on credit and is due.
    pub usage: Micros,
    pub paid_from_credits: Micros,
    pub amount_due: Micros,
    /// `open` or `paid`.
    pub status: String,
    /// `YYYY-MM-DD` (UTC).
    pub due_date: String,
    /// Why the last attempt to charge it failed.
    pub failure: Option<String>,
    pub lines: Vec<InvoiceLine>,
}

/// One line of an invoice: a model's calls at one unit price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub endpoint_id: String,
    pub unit: String,
    pub calls: i64,
    /// Billing units, in thousandths.
    pub units_milli: i64,
    pub unit_price: Micros,
    pub amount: Micros,
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

    fn field_of(r: Result<AutoTopUpSettings, AppError>) -> String {
        match r {
            Err(AppError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn auto_top_up_settings_keep_the_purchase_limits_and_a_cap_that_fits_one_top_up() {
        let ok = AutoTopUpSettings::parse(true, "5", "25", "200", &rules()).unwrap();
        assert_eq!(
            (ok.threshold, ok.amount, ok.monthly_cap),
            (Micros::from_usd(5), Micros::from_usd(25), Micros::from_usd(200))
        );
        assert!(AutoTopUpSettings::parse(true, "0", "5", "5", &rules()).is_ok());
        assert_eq!(field_of(AutoTopUpSettings::parse(true, "-1", "25", "200", &rules())), "threshold_usd");
        assert_eq!(field_of(AutoTopUpSettings::parse(true, "abc", "25", "200", &rules())), "threshold_usd");
        assert_eq!(field_of(AutoTopUpSettings::parse(true, "5", "4", "200", &rules())), "amount_usd");
        assert_eq!(field_of(AutoTopUpSettings::parse(true, "5", "1001", "2000", &rules())), "amount_usd");
        assert_eq!(field_of(AutoTopUpSettings::parse(true, "5", "25", "24.99", &rules())), "monthly_cap_usd");
        assert_eq!(field_of(AutoTopUpSettings::parse(true, "5", "25", "1.001", &rules())), "monthly_cap_usd");
    }

    #[test]
    fn a_saved_card_reads_as_brand_last_four_and_expiry() {
        let card =
            SavedCard { brand: "visa".into(), last4: "4242".into(), exp_month: 3, exp_year: 2030, sandbox: false };
        assert_eq!(card.describe(), "Visa ending in 4242, expires 03/2030");
    }
}
