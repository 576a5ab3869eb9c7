//! Stripe's webhook signatures: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256
//! of "<t>.<body>">`. Deliveries that are unsigned, wrongly signed or older than five
//! minutes are refused, so a captured request cannot be replayed later.

use crate::server::infra::crypto::{constant_time_eq, hex, hmac_sha256};

/// How old a signed delivery may be.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a delivery's signature was not accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing or malformed Stripe-Signature header")]
    Unsigned,
    #[error("signature does not match")]
    BadSignature,
    #[error("signature timestamp is outside the tolerance")]
    Stale,
}

/// The `Stripe-Signature` header Stripe would send with `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let sig = hex(&hmac_sha256(secret, &[timestamp.to_string().as_bytes(), b".", body]));
    format!("t={timestamp},v1={sig}")
}

/// Checks a `Stripe-Signature` header against the raw body.
pub fn verify(secret: &[u8], header: Option<&str>, body: &[u8], now_secs: i64) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Unsigned)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.push(s),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Unsigned)?;
    if signatures.is_empty() {
        return Err(SignatureError::Unsigned);
    }
    if now_secs.abs_diff(timestamp) > TOLERANCE_SECS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let expected = hmac_sha256(secret, &[timestamp.to_string().as_bytes(), b".", body]);
    let matches = signatures.iter().any(|s| decode_hex(s).is_some_and(|bytes| constant_time_eq(&bytes, &expected)));
    if matches { Ok(()) } else { Err(SignatureError::BadSignature) }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_checked_for_key_body_and_age() {
        let secret = b"whsec_test";
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(secret, 1_000_000, body);
        assert_eq!(verify(secret, Some(&header), body, 1_000_000), Ok(()));
        assert_eq!(verify(secret, Some(&header), body, 1_000_000 + TOLERANCE_SECS), Ok(()));
        assert_eq!(verify(secret, Some(&header), body, 1_000_000 + TOLERANCE_SECS + 1), Err(SignatureError::Stale));
        assert_eq!(verify(b"other", Some(&header), body, 1_000_000), Err(SignatureError::BadSignature));
        assert_eq!(verify(secret, Some(&header), br#"{"id":"evt_2"}"#, 1_000_000), Err(SignatureError::BadSignature));
        assert_eq!(verify(secret, None, body, 1_000_000), Err(SignatureError::Unsigned));
        assert_eq!(verify(secret, Some("t=1000000"), body, 1_000_000), Err(SignatureError::Unsigned));
        assert_eq!(verify(secret, Some("v1=abcd"), body, 1_000_000), Err(SignatureError::Unsigned));
        assert_eq!(verify(secret, Some("t=-9223372036854775808,v1=00"), body, 1_000_000), Err(SignatureError::Stale));
        // Several v1 signatures (a rolled secret): any one may match.
        let both = format!("{},v1=00ff", header);
        assert_eq!(verify(secret, Some(&both), body, 1_000_000), Ok(()));
    }
}
