//! Wire types for keys: shared by the browser, the server functions and the services.

use crate::shared::error::AppError;
use crate::shared::text_enum::text_enum;
use serde::{Deserialize, Serialize};

text_enum! {
    /// A provider whose calls someone can pay for with their own key. The word is the
    /// name stored and used in URLs and forms.
    pub enum Provider {
        Fal = "fal",
        OpenRouter = "openrouter",
    }
}

impl Provider {
    /// The name people know it by.
    pub fn label(self) -> &'static str {
        match self {
            Self::Fal => "fal.ai",
            Self::OpenRouter => "OpenRouter",
        }
    }

    /// The provider a form or a link names; anything else is an error naming the field.
    pub fn from_field(s: &str) -> Result<Self, AppError> {
        Self::parse(s.trim()).ok_or_else(|| AppError::validation("provider", "Choose fal.ai or OpenRouter."))
    }

    /// Checks that `raw` looks like a key of this provider before anyone is asked about
    /// it, and returns it without surrounding whitespace.
    pub fn check_format(self, raw: &str) -> Result<String, AppError> {
        let key = raw.trim();
        if key.is_empty() {
            return Err(AppError::validation("key", format!("Paste your {} key.", self.label())));
        }
        let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let ok = match self {
            Self::OpenRouter => key.starts_with("sk-or-") && plain(key) && (20..=200).contains(&key.len()),
            Self::Fal => match key.split_once(':') {
                Some((id, secret)) => {
                    !id.is_empty()
                        && !secret.is_empty()
                        && plain(id)
                        && plain(secret)
                        && (20..=200).contains(&key.len())
                }
                None => false,
            },
        };
        if ok {
            return Ok(key.to_string());
        }
        let message = match self {
            Self::OpenRouter => {
                "This is not an OpenRouter key: they start with sk-or- (copy the whole key from openrouter.ai/keys)."
            }
            Self::Fal => {
                "This is not a fal.ai key: they are an id, a colon, then the secret (copy the whole key from fal.ai/dashboard/keys)."
            }
        };
        Err(AppError::validation("key", message))
    }
}

text_enum! {
    /// What the provider said about a stored key the last time it was asked.
    pub enum KeyStatus {
        /// Accepted: this provider's calls use the key and cost no credits.
        Valid = "valid",
        /// Refused (revoked or mistyped): calls use credits until it is replaced.
        Rejected = "rejected",
        /// The provider could not be asked: calls use credits until a test passes.
        Unchecked = "unchecked",
    }
}

text_enum! {
    /// How a key arrived.
    pub enum KeySource {
        Pasted = "pasted",
        /// Issued by the provider when the account was connected.
        Oauth = "oauth",
    }
}

/// A stored key as its owner sees it: never the key itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    pub provider: Provider,
    pub last4: String,
    pub source: KeySource,
    pub status: KeyStatus,
    pub added_at_ms: i64,
    pub checked_at_ms: Option<i64>,
}

/// One provider's row on the page: its key, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSlot {
    pub provider: Provider,
    pub key: Option<KeyInfo>,
}

/// The answer to saving or testing a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyOutcome {
    pub key: KeyInfo,
    pub message: String,
}

/// Where OpenRouter sends the browser back after its consent page.
pub const OPENROUTER_CALLBACK_PATH: &str = "/connect/openrouter/callback";

/// The two ways out of the sandbox's stand-in for OpenRouter's consent page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxConsent {
    pub allow_url: String,
    pub deny_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_formats_are_checked_per_provider() {
        let or = Provider::OpenRouter;
        assert_eq!(or.check_format("  sk-or-v1-0123456789abcdef  ").unwrap(), "sk-or-v1-0123456789abcdef");
        assert!(or.check_format("sk-0123456789abcdef0123").is_err(), "an OpenAI-style key");
        assert!(or.check_format("sk-or-v1-01234 56789abcdef").is_err(), "inner space");
        assert!(or.check_format("").is_err());
        let fal = Provider::Fal;
        assert!(fal.check_format("3f1c2a9e-1b2c-4d5e-8f90-0123456789ab:0123456789abcdef0123456789abcdef").is_ok());
        assert!(fal.check_format("0123456789abcdef0123456789abcdef").is_err(), "no id part");
        assert!(fal.check_format(":0123456789abcdef0123456789").is_err(), "empty id");
        assert!(fal.check_format("sk-or-v1-0123456789abcdef").is_err(), "an OpenRouter key");
        let err = fal.check_format("nope").unwrap_err();
        assert!(matches!(err, AppError::Validation { ref field, .. } if field == "key"));
    }

    #[test]
    fn providers_round_trip_through_their_names() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_field(p.as_str()).unwrap(), *p);
        }
        assert!(Provider::from_field("stripe").is_err());
    }
}
