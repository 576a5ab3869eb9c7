//! The built-in sandbox providers: nothing leaves the machine.
//!
//! Keys: every well-formed key works, except one ending in `0000`, which plays a key the
//! provider refuses. OpenRouter consent: the sandbox page hands out codes that carry
//! their PKCE challenge and expiry, signed with the server's secret, so the exchange
//! checks the verifier exactly as OpenRouter does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};

use super::{ExchangeError, KeyCheck, s256};
use crate::error::AppError;
use crate::server::installation::now_ms;

/// How long a sandbox consent code can be exchanged.
const CODE_LIFETIME_MS: i64 = 5 * 60 * 1000;

pub struct Sandbox {
    mac_key: Vec<u8>,
}

impl Sandbox {
    pub fn new(secret: &[u8]) -> Self {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"sandbox-openrouter-codes");
        Self { mac_key: mac.finalize().into_bytes().to_vec() }
    }

    pub fn check_key(&self, key: &str) -> KeyCheck {
        if key.ends_with("0000") { KeyCheck::Rejected } else { KeyCheck::Valid }
    }

    fn sign(&self, payload: &str) -> String {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.mac_key).expect("any length");
        mac.update(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn code_for(&self, challenge: &str) -> Result<String, AppError> {
        let plain = !challenge.is_empty()
            && challenge.len() <= 128
            && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain {
            return Err(AppError::validation("code_challenge", "The code challenge is missing or malformed."));
        }
        let payload = format!("{challenge}.{}", now_ms() + CODE_LIFETIME_MS);
        let signature = self.sign(&payload);
        Ok(format!("sbx.{payload}.{signature}"))
    }

    pub fn exchange(&self, code: &str, verifier: &str) -> Result<String, ExchangeError> {
        let refused = |message: &str| ExchangeError::Refused { status: 403, message: message.into() };
        let mut parts = code.strip_prefix("sbx.").ok_or_else(|| refused("Invalid code"))?.splitn(3, '.');
        let (Some(challenge), Some(expires), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(refused("Invalid code"));
        };
        let payload = format!("{challenge}.{expires}");
        let expected = self.sign(&payload);
        if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            return Err(refused("Invalid code"));
        }
        if expires.parse::<i64>().map_or(true, |e| e < now_ms()) {
            return Err(refused("Code expired"));
        }
        if s256(verifier) != challenge {
            return Err(refused("Invalid code_verifier"));
        }
        let mut random = [0u8; 24];
        getrandom::fill(&mut random).map_err(|_| ExchangeError::Unreachable("no randomness".into()))?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("sk-or-v1-sandbox{hex}"))
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_exchanges_only_with_its_verifier() {
        let sandbox = Sandbox::new(b"secret");
        let verifier = "a-verifier-of-enough-length-0123456789abcdef";
        let code = sandbox.code_for(&s256(verifier)).unwrap();
        let key = sandbox.exchange(&code, verifier).unwrap();
        assert!(key.starts_with("sk-or-v1-"));
        assert!(matches!(sandbox.exchange(&code, "another-verifier"), Err(ExchangeError::Refused { .. })));
        let forged = code.replace("sbx.", "sbx.x");
        assert!(matches!(sandbox.exchange(&forged, verifier), Err(ExchangeError::Refused { .. })));
        assert!(matches!(Sandbox::new(b"other").exchange(&code, verifier), Err(ExchangeError::Refused { .. })));
        assert!(sandbox.code_for("has space").is_err());
    }

    #[test]
    fn keys_ending_in_0000_play_refused_keys() {
        let sandbox = Sandbox::new(b"secret");
        assert_eq!(sandbox.check_key("sk-or-v1-abcd0000"), KeyCheck::Rejected);
        assert_eq!(sandbox.check_key("sk-or-v1-abcd0001"), KeyCheck::Valid);
    }
}
