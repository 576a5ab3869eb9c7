//! The states and reasons the database stores as words, and the pages and the JSON API
//! show: each declared once, with its one spelling.

use crate::shared::text_enum::text_enum;

text_enum! {
    /// Who paid for a call.
    pub enum PaidWith {
        /// The account's credits, through this server's provider accounts.
        Credits = "credits",
        /// A provider key of the person's own (saved, or sent with the call).
        OwnKey = "own_key",
    }
}

text_enum! {
    /// Where a metered call stands (its usage record).
    pub enum CallStatus {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

text_enum! {
    /// Where a queued job stands.
    pub enum JobState {
        /// Held and recorded; the provider has not confirmed it took the job yet.
        Submitting = "submitting",
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

impl JobState {
    /// Succeeded or failed: nothing more will happen to it.
    pub fn finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

text_enum! {
    /// Why a call produced nothing (and was not charged).
    pub enum CallFailure {
        /// The provider answered with a server error.
        ProviderError = "provider_error",
        ProviderTimeout = "provider_timeout",
        ProviderUnreachable = "provider_unreachable",
        /// The provider refused the key that paid.
        KeyRefused = "key_refused",
        ProviderRejectedInput = "provider_rejected_input",
        /// This server has no account key for the provider.
        NoPlatformAccount = "no_platform_account",
        /// The request would have left the provider's configured address.
        ProviderUrlRefused = "provider_url_refused",
        /// Refused before it ran: over its run's spending cap.
        RunCap = "run_cap",
        /// Refused before it ran: the balance did not cover the estimate.
        InsufficientCredits = "insufficient_credits",
        /// Cut off by a server that stopped (a crash) before the provider's answer arrived.
        Interrupted = "interrupted",
    }
}

impl CallFailure {
    /// The reason in words, for sentences such as "Not charged: provider error".
    pub fn words(self) -> String {
        self.as_str().replace('_', " ")
    }
}

text_enum! {
    /// What a money event says happened to a wallet (the outbox's `kind`).
    pub enum EventKind {
        /// Bought credits (and their bonus) arrived.
        PurchaseCredited = "purchase.credited",
        /// An auto top-up's payment succeeded and its credits arrived.
        TopUpSucceeded = "top_up.succeeded",
        /// An auto top-up's payment was declined.
        TopUpFailed = "top_up.failed",
        /// Credits given: the sign-up credit.
        CreditsGranted = "credits.granted",
        GiftRedeemed = "gift.redeemed",
        /// A call's effective cost was taken.
        UsageCharged = "usage.charged",
        UsageRefunded = "usage.refunded",
        /// An administrator's correction.
        BalanceAdjusted = "balance.adjusted",
        /// Credits taken back after a refund of their purchase.
        Refund = "purchase.refunded",
        /// Credits taken back after their purchase was disputed.
        Dispute = "purchase.disputed",
        /// A dispute decided for the buyer: what it took is given back.
        DisputeWon = "purchase.dispute_won",
        /// Credits taken back after being spent were paid back from new money.
        OwedRepaid = "owed.repaid",
        CreditsExpired = "credits.expired",
        /// Credits that expire within 7 days.
        CreditsExpiring = "credits.expiring",
        /// A postpaid wallet drew on (or gave back to) its credit line.
        CreditLine = "credit_line.changed",
        InvoiceCreated = "invoice.created",
        InvoicePaid = "invoice.paid",
        InvoiceOverdue = "invoice.overdue",
        /// Money held for work about to run.
        HoldPlaced = "hold.placed",
        /// A hold released without a charge (a failure, or it expired).
        HoldVoided = "hold.voided",
        /// The available balance fell under the low-balance threshold.
        BalanceLow = "balance.low",
    }
}

text_enum! {
    /// Where a Stripe Checkout session stands.
    pub enum CheckoutStatus {
        /// Created; the person may still be paying.
        Open = "open",
        /// Paid, and its credits granted.
        Completed = "completed",
    }
}

text_enum! {
    /// Who takes the payment for a checkout session.
    pub enum CheckoutProvider {
        Stripe = "stripe",
        /// The built-in stand-in, when no Stripe account is configured.
        Sandbox = "sandbox",
    }
}

text_enum! {
    /// Where a payment stands, as its history shows it.
    pub enum PaymentStatus {
        Paid = "paid",
        PartlyRefunded = "partly_refunded",
        Refunded = "refunded",
        /// A dispute is open: its credits are taken back until it is decided.
        Disputed = "disputed",
        DisputeWon = "dispute_won",
        DisputeLost = "dispute_lost",
        /// An auto top-up the card declined: nothing was paid.
        Declined = "declined",
    }
}

text_enum! {
    /// How a payment was made.
    pub enum PaymentKind {
        /// Bought at Stripe Checkout (or the sandbox's).
        Checkout = "checkout",
        /// The saved card, charged when the balance ran low.
        AutoTopUp = "auto_top_up",
        /// The saved card, charged for a monthly invoice.
        Invoice = "invoice",
    }
}

impl PaymentKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Checkout => "Purchase",
            Self::AutoTopUp => "Auto top-up",
            Self::Invoice => "Invoice payment",
        }
    }
}

impl PaymentStatus {
    /// The status as people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Paid => "Paid",
            Self::PartlyRefunded => "Partly refunded",
            Self::Refunded => "Refunded",
            Self::Disputed => "Disputed",
            Self::DisputeWon => "Dispute won",
            Self::DisputeLost => "Dispute lost",
            Self::Declined => "Declined",
        }
    }
}
