//! The built-in sandbox providers: nothing leaves the machine.
//!
//! Keys: every well-formed key works, except one ending in `0000`, which plays a key the
//! provider refuses. OpenRouter consent: the sandbox page hands out codes that carry
//! their PKCE challenge and expiry, signed with the server's secret, so the exchange
//! checks the verifier exactly as OpenRouter does.

mod jobs;
mod render;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{ExchangeError, KeyCheck, RunFailure, s256};
use crate::server::infra::crypto::{constant_time_eq, hmac_sha256, random_hex};
use crate::server::infra::installation::now_ms;
use crate::shared::error::AppError;
use render::seed;

/// How long a sandbox consent code can be exchanged.
const CODE_LIFETIME_MS: i64 = 5 * 60 * 1000;

pub struct Sandbox {
    mac_key: Vec<u8>,
}

impl Sandbox {
    pub fn new(secret: &[u8]) -> Self {
        Self { mac_key: hmac_sha256(secret, &[b"sandbox-openrouter-codes"]).to_vec() }
    }

    pub fn check_key(&self, key: &str) -> KeyCheck {
        if key.ends_with("0000") { KeyCheck::Rejected } else { KeyCheck::Valid }
    }

    fn sign(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.mac_key, &[payload.as_bytes()]))
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
        let random = random_hex(24).map_err(|_| ExchangeError::Unreachable("no randomness".into()))?;
        Ok(format!("sk-or-v1-sandbox{random}"))
    }
}

impl Sandbox {
    /// Plays a fal model: deterministic images for the input, after an optional simulated
    /// running time (`sandbox_delay_ms`, up to 10 s). Tests and demos can ask for a
    /// failure with `sandbox_failure`: `server_error`, `timeout` or `bad_input`.
    pub async fn run(&self, endpoint_id: &str, input: &serde_json::Value) -> Result<serde_json::Value, RunFailure> {
        let delay = input.get("sandbox_delay_ms").and_then(serde_json::Value::as_u64).unwrap_or(0).min(10_000);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        match input.get("sandbox_failure").and_then(serde_json::Value::as_str) {
            Some("server_error") => return Err(RunFailure::ServerError(500)),
            Some("timeout") => return Err(RunFailure::Timeout),
            Some("bad_input") => {
                return Err(RunFailure::BadInput {
                    status: 422,
                    message: "the sandbox was asked to refuse this input".into(),
                });
            }
            _ => {}
        }
        Ok(self.images(endpoint_id, input))
    }
}

impl Sandbox {
    /// Plays an OpenRouter chat completion: a reply made from the last message, with
    /// token counts (about four characters a token) and no cost, so the catalog prices it.
    pub async fn chat(&self, model: &str, body: &serde_json::Value) -> Result<serde_json::Value, RunFailure> {
        if body.get("sandbox_failure").and_then(serde_json::Value::as_str) == Some("server_error") {
            return Err(RunFailure::ServerError(500));
        }
        let messages = body.get("messages").and_then(serde_json::Value::as_array);
        let Some(messages) = messages.filter(|m| !m.is_empty()) else {
            return Err(RunFailure::BadInput { status: 400, message: "messages must be a non-empty list".into() });
        };
        let prompt_chars: usize =
            messages.iter().filter_map(|m| m.get("content").and_then(serde_json::Value::as_str)).map(str::len).sum();
        let last = messages.last().and_then(|m| m.get("content")).and_then(serde_json::Value::as_str).unwrap_or("");
        let reply = format!("(sandbox {model}) You said: {}", last.chars().take(200).collect::<String>());
        let (prompt_tokens, completion_tokens) = (prompt_chars.div_ceil(4) as u64, reply.len().div_ceil(4) as u64);
        Ok(serde_json::json!({
            "id": format!("gen-sandbox-{}", seed(model, last, 0)),
            "model": model,
            "object": "chat.completion",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": reply }, "finish_reason": "stop" }],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }))
    }
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

    #[tokio::test]
    async fn sandbox_images_are_rendered_from_the_prompt_and_failures_come_on_request() {
        let sandbox = Sandbox::new(b"secret");
        let input = serde_json::json!({"prompt": "a red <fox>", "num_images": 2, "image_size": "square"});
        let a = sandbox.run("fal-ai/flux/schnell", &input).await.unwrap();
        let b = sandbox.run("fal-ai/flux/schnell", &input).await.unwrap();
        assert_eq!(a, b, "deterministic");
        let images = a["images"].as_array().unwrap();
        assert_eq!(images.len(), 2);
        assert_ne!(images[0]["url"], images[1]["url"], "each image its own");
        assert_eq!((images[0]["width"].as_u64(), images[0]["height"].as_u64()), (Some(512), Some(512)));
        let url = images[0]["url"].as_str().unwrap();
        let svg = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(url.strip_prefix("data:image/svg+xml;base64,").unwrap())
                .unwrap(),
        )
        .unwrap();
        assert!(svg.contains("<circle") && svg.contains("a red &lt;fox&gt;"), "{svg}");
        let fail = serde_json::json!({"sandbox_failure": "server_error"});
        assert_eq!(sandbox.run("fal-ai/flux/schnell", &fail).await, Err(RunFailure::ServerError(500)));
    }

    #[test]
    fn keys_ending_in_0000_play_refused_keys() {
        let sandbox = Sandbox::new(b"secret");
        assert_eq!(sandbox.check_key("sk-or-v1-abcd0000"), KeyCheck::Rejected);
        assert_eq!(sandbox.check_key("sk-or-v1-abcd0001"), KeyCheck::Valid);
    }
}
