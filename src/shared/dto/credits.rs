//! Wire types for credits: shared by the browser, the server functions and the services.

use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::text_enum::text_enum;
use serde::{Deserialize, Serialize};

text_enum! {
    /// The type filter of the Transactions tab (`?type=` in its links and the API).
    pub enum TxFilter {
        All = "all",
        Purchases = "purchases",
        Usage = "usage",
        Gifts = "gifts",
        Grants = "grants",
        Adjustments = "adjustments",
        Refunds = "refunds",
        Expiry = "expiry",
    }
}

impl TxFilter {
    pub fn label(self) -> &'static str {
        match self {
            Self::All => "All types",
            Self::Purchases => "Purchases",
            Self::Usage => "Usage",
            Self::Gifts => "Gift codes",
            Self::Grants => "Sign-up credits",
            Self::Adjustments => "Adjustments",
            Self::Refunds => "Refunds",
            Self::Expiry => "Expired credits",
        }
    }

    /// The filter a request names (none: all); an unknown one is an error naming `type`.
    pub fn from_field(s: &str) -> Result<Self, AppError> {
        match s.trim() {
            "" => Ok(Self::All),
            s => Self::parse(s).ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|f| f.as_str()).collect();
                AppError::validation("type", format!("type must be one of {}.", known.join(", ")))
            }),
        }
    }

    /// The ledger codes this filter shows (empty: all).
    pub fn codes(self) -> &'static [&'static str] {
        match self {
            Self::All => &[],
            Self::Purchases => &["purchase", "purchase_bonus"],
            Self::Usage => &["usage"],
            Self::Gifts => &["gift_code"],
            Self::Grants => &["signup_grant"],
            Self::Adjustments => &["adjustment"],
            Self::Refunds => &["refund"],
            Self::Expiry => &["expiry"],
        }
    }
}

/// A ledger code as people read it.
pub fn code_label(code: &str) -> &'static str {
    match code {
        "purchase" => "Purchase",
        "purchase_bonus" => "Purchase bonus",
        "signup_grant" => "Sign-up credit",
        "gift_code" => "Gift code",
        "usage" => "Usage",
        "adjustment" => "Adjustment",
        "refund" => "Refund",
        "expiry" => "Expired",
        "credit_line" => "On credit",
        "invoice_payment" => "Invoice paid",
        _ => "Other",
    }
}

/// One line of the Transactions tab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxRow {
    pub id: i64,
    pub code: String,
    pub description: String,
    /// Positive when money came in.
    pub amount: Micros,
    pub balance_after: Micros,
    pub created_at_ms: i64,
    /// Set on usage rows.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// The model's name, as the price catalog gives it.
    #[serde(default)]
    pub model_name: Option<String>,
    /// What the model is billed by (`image`, `video` ...), as the catalog says.
    #[serde(default)]
    pub unit: Option<String>,
    pub operation: Option<String>,
    /// This row undoes an earlier one.
    pub reversal: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxPage {
    pub rows: Vec<TxRow>,
    pub next_before: Option<i64>,
}

pub const TX_PAGE_SIZE: u32 = 25;

/// A batch of gift codes as the admin page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GiftBatch {
    pub id: i64,
    pub amount: Micros,
    pub codes: i64,
    pub max_uses: i64,
    pub redemptions: i64,
    pub expires_at_ms: Option<i64>,
    pub note: String,
    pub created_at_ms: i64,
}
