//! Sealing provider keys at rest: XChaCha20-Poly1305 under the master key.
//!
//! A sealed value is `v1.` + base64url(24-byte random nonce ‖ ciphertext ‖ tag). The
//! associated data names the owner and provider, so a sealed key copied onto another
//! person's row (or another provider) fails to open instead of being used.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const VERSION: &str = "v1.";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("no randomness available")]
    Randomness,
    #[error("the sealed value is malformed")]
    Malformed,
    /// Wrong master key, wrong owner, or tampered data.
    #[error("the sealed value does not open with this master key and owner")]
    Unopenable,
}

#[derive(Clone)]
pub struct KeyCipher {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCipher(***)")
    }
}

/// What a sealed provider key is bound to.
pub fn binding(user_id: &str, provider: &str) -> Vec<u8> {
    format!("tollgate/provider-key/v1/{user_id}/{provider}").into_bytes()
}

impl KeyCipher {
    pub fn new(master_key: &[u8; 32]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(master_key.into()) }
    }

    pub fn seal(&self, plaintext: &str, bound_to: &[u8]) -> Result<String, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CipherError::Randomness)?;
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: bound_to })
            .map_err(|_| CipherError::Unopenable)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    pub fn open(&self, sealed: &str, bound_to: &[u8]) -> Result<String, CipherError> {
        let body = sealed.strip_prefix(VERSION).ok_or(CipherError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| CipherError::Malformed)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(CipherError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: bound_to })
            .map_err(|_| CipherError::Unopenable)?;
        String::from_utf8(plain).map_err(|_| CipherError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn a_sealed_key_opens_only_with_the_same_master_key_and_owner() {
        let cipher = KeyCipher::new(&KEY);
        let bound = binding("user-1", "fal");
        let sealed = cipher.seal("abc:secret-value", &bound).unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("secret-value"));
        assert_eq!(cipher.open(&sealed, &bound).unwrap(), "abc:secret-value");
        assert_eq!(cipher.open(&sealed, &binding("user-2", "fal")), Err(CipherError::Unopenable));
        assert_eq!(cipher.open(&sealed, &binding("user-1", "openrouter")), Err(CipherError::Unopenable));
        assert_eq!(KeyCipher::new(&[8; 32]).open(&sealed, &bound), Err(CipherError::Unopenable));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce_and_tampering_is_detected() {
        let cipher = KeyCipher::new(&KEY);
        let bound = binding("u", "fal");
        let a = cipher.seal("same", &bound).unwrap();
        let b = cipher.seal("same", &bound).unwrap();
        assert_ne!(a, b);
        let mut raw = URL_SAFE_NO_PAD.decode(&a[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v1.{}", URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(cipher.open(&tampered, &bound), Err(CipherError::Unopenable));
        assert_eq!(cipher.open("v2.abc", &bound), Err(CipherError::Malformed));
        assert_eq!(cipher.open("v1.!!", &bound), Err(CipherError::Malformed));
    }
}
