//! Notices: what a person should know about their money (low balance, a failed top-up,
//! credits about to expire, an invoice due), made from their money events.

use serde::{Deserialize, Serialize};

use crate::shared::states::EventKind;

/// One notice, newest first on the Balance tab.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The money event it comes from (its number in the wallet).
    pub seq: i64,
    pub kind: EventKind,
    /// What happened and what to do, in a sentence or two.
    pub text: String,
    /// Calls for action (a failed payment, an invoice past due) rather than information.
    pub urgent: bool,
    pub at_ms: i64,
}

/// The event kinds that become notices.
pub const NOTICE_KINDS: [EventKind; 5] = [
    EventKind::BalanceLow,
    EventKind::TopUpFailed,
    EventKind::CreditsExpiring,
    EventKind::InvoiceCreated,
    EventKind::InvoiceOverdue,
];
