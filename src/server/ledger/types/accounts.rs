//! Accounts and the codes money moves under: wallets' ids, the system accounts, and the
//! kinds of credit and debit.

use serde::{Deserialize, Serialize};

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
    /// What postpaid wallets drew on their credit lines and have not paid yet.
    Receivables,
}

impl SystemAccount {
    pub const ALL: [Self; 7] = [
        Self::PaymentsClearing,
        Self::Promotions,
        Self::GiftCodes,
        Self::UsageRevenue,
        Self::ExpiredCredit,
        Self::Adjustments,
        Self::Receivables,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::PaymentsClearing => "system:payments_clearing",
            Self::Promotions => "system:promotions",
            Self::GiftCodes => "system:gift_codes",
            Self::UsageRevenue => "system:usage_revenue",
            Self::ExpiredCredit => "system:expired_credit",
            Self::Adjustments => "system:adjustments",
            Self::Receivables => "system:receivables",
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
    /// Drawn on a postpaid wallet's credit line (or given back to it).
    CreditLine,
    /// An invoice paid: money from payments settles what the credit line lent.
    InvoicePayment,
}

impl TransferCode {
    pub const ALL: [Self; 10] = [
        Self::Purchase,
        Self::PurchaseBonus,
        Self::SignupGrant,
        Self::GiftCode,
        Self::Usage,
        Self::Adjustment,
        Self::Refund,
        Self::Expiry,
        Self::CreditLine,
        Self::InvoicePayment,
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
            Self::CreditLine => "credit_line",
            Self::InvoicePayment => "invoice_payment",
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
