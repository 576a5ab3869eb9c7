//! Wire types for credits: shared by the browser, the server functions and the services.

use crate::shared::money::Micros;
use serde::{Deserialize, Serialize};

/// The type filter of the Transactions tab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxFilter {
    All,
    Purchases,
    Usage,
    Gifts,
    Grants,
    Adjustments,
    Refunds,
    Expiry,
}

impl TxFilter {
    pub const ALL: [Self; 8] = [
        Self::All,
        Self::Purchases,
        Self::Usage,
        Self::Gifts,
        Self::Grants,
        Self::Adjustments,
        Self::Refunds,
        Self::Expiry,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Purchases => "purchases",
            Self::Usage => "usage",
            Self::Gifts => "gifts",
            Self::Grants => "grants",
            Self::Adjustments => "adjustments",
            Self::Refunds => "refunds",
            Self::Expiry => "expiry",
        }
    }

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

    /// Unknown text reads as "all", so an old or mistyped link still shows something.
    pub fn from_slug(s: &str) -> Self {
        Self::ALL.into_iter().find(|f| f.slug() == s).unwrap_or(Self::All)
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
