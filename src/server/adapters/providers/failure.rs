//! What the providers answer besides an output: a key's check, why connecting an
//! OpenRouter account failed, and why a call produced nothing.

use crate::shared::states::CallFailure;

/// The provider's answer about a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Valid,
    /// The provider refused the key (HTTP 401 or 403).
    Rejected,
    /// The provider could not be asked, or answered something else; why, for the person.
    Unreachable(String),
}

/// Why connecting an OpenRouter account did not produce a key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("OpenRouter refused the code (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("OpenRouter could not be reached: {0}")]
    Unreachable(String),
    #[error("OpenRouter's answer had no key")]
    Malformed,
}

/// Why a provider call produced nothing. None of these is ever charged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunFailure {
    /// The provider failed (HTTP 5xx).
    ServerError(u16),
    Timeout,
    Network,
    /// The provider refused the key (HTTP 401 or 403).
    KeyRefused,
    /// The provider refused the input (another 4xx), with its reason.
    BadInput {
        status: u16,
        message: String,
    },
    /// Credits pay, but this server has no provider account to route the call through.
    NoPlatformKey,
    /// The request would have left the provider's configured base URL, so it was not sent.
    OffBase,
}

impl RunFailure {
    /// The reason usage records and API answers carry.
    pub fn reason(&self) -> CallFailure {
        match self {
            Self::ServerError(_) => CallFailure::ProviderError,
            Self::Timeout => CallFailure::ProviderTimeout,
            Self::Network => CallFailure::ProviderUnreachable,
            Self::KeyRefused => CallFailure::KeyRefused,
            Self::BadInput { .. } => CallFailure::ProviderRejectedInput,
            Self::NoPlatformKey => CallFailure::NoPlatformAccount,
            Self::OffBase => CallFailure::ProviderUrlRefused,
        }
    }

    /// [`Self::reason`] as its word, for logs.
    pub fn code(&self) -> &'static str {
        self.reason().as_str()
    }
}
