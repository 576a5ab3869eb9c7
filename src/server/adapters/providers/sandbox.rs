//! The built-in sandbox providers: nothing leaves the machine.
//!
//! Keys: every well-formed key works, except one ending in `0000`, which plays a key the
//! provider refuses. OpenRouter consent: the sandbox page hands out codes that carry
//! their PKCE challenge and expiry, signed with the server's secret, so the exchange
//! checks the verifier exactly as OpenRouter does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{ExchangeError, KeyCheck, QueueState, QueueTicket, RunFailure, s256};
use crate::server::infra::crypto::{constant_time_eq, hmac_sha256, random_hex};
use crate::server::infra::installation::now_ms;
use crate::shared::error::AppError;

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

    fn images(&self, endpoint_id: &str, input: &serde_json::Value) -> serde_json::Value {
        let prompt = input.get("prompt").and_then(serde_json::Value::as_str).unwrap_or("");
        let count = input.get("num_images").and_then(serde_json::Value::as_u64).unwrap_or(1).clamp(1, 8);
        let (width, height) = sandbox_size(input);
        let images: Vec<serde_json::Value> = (0..count)
            .map(|i| {
                let svg = render(endpoint_id, prompt, i, width, height);
                serde_json::json!({
                    "url": format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)),
                    "width": width,
                    "height": height,
                    "content_type": "image/svg+xml",
                })
            })
            .collect();
        serde_json::json!({ "images": images, "seed": seed(endpoint_id, prompt, 0), "prompt": prompt })
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

/// A sandbox queue job, carried whole in its id so any instance (or a restarted one) can
/// answer for it.
#[derive(serde::Serialize, serde::Deserialize)]
struct SandboxJob {
    /// Endpoint, prompt, input.
    e: String,
    p: String,
    i: serde_json::Value,
    /// Submitted at, queue time, running time (ms).
    t: i64,
    q: i64,
    r: i64,
}

const JOB_PREFIX: &str = "sbxjob.";

/// Whether the sandbox plays `endpoint_id` as a video model.
fn makes_video(endpoint_id: &str) -> bool {
    ["video", "veo", "luma", "runway", "hunyuan", "minimax"].iter().any(|w| endpoint_id.contains(w))
}

impl Sandbox {
    /// Queues a sandbox job: it waits `sandbox_queue_ms` (default 1 s), then runs for
    /// `sandbox_delay_ms` (default 4 s), reporting progress, then completes; a
    /// `sandbox_failure` of `server_error` or `bad_input` makes its result fail.
    pub fn submit(&self, endpoint_id: &str, input: &serde_json::Value) -> Result<QueueTicket, RunFailure> {
        let ms = |field: &str, default: u64| {
            input.get(field).and_then(serde_json::Value::as_u64).unwrap_or(default).min(120_000) as i64
        };
        let mut kept = serde_json::Map::new();
        for field in ["num_images", "image_size", "duration", "sandbox_failure", "seconds_total"] {
            if let Some(v) = input.get(field) {
                kept.insert(field.into(), v.clone());
            }
        }
        let job = SandboxJob {
            e: endpoint_id.to_string(),
            p: input.get("prompt").and_then(serde_json::Value::as_str).unwrap_or("").chars().take(200).collect(),
            i: serde_json::Value::Object(kept),
            t: now_ms(),
            q: ms("sandbox_queue_ms", 1000),
            r: ms("sandbox_delay_ms", 4000),
        };
        let id = format!("{JOB_PREFIX}{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&job).expect("serializes")));
        Ok(QueueTicket {
            status_url: format!("sandbox:{id}/status"),
            response_url: format!("sandbox:{id}"),
            request_id: id,
        })
    }

    fn job(ticket: &QueueTicket) -> Result<SandboxJob, RunFailure> {
        let bad = || RunFailure::BadInput { status: 404, message: "no such sandbox job".into() };
        let encoded = ticket.request_id.strip_prefix(JOB_PREFIX).ok_or_else(bad)?;
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }

    pub fn status(&self, ticket: &QueueTicket) -> Result<QueueState, RunFailure> {
        let job = Self::job(ticket)?;
        let elapsed = now_ms() - job.t;
        if elapsed < job.q {
            // One place ahead for each second left in the queue.
            let position = ((job.q - elapsed) / 1000) as u64;
            return Ok(QueueState::InQueue { position: Some(position) });
        }
        if elapsed < job.q + job.r {
            let percent = ((elapsed - job.q) * 100 / job.r.max(1)).clamp(0, 99);
            let what = if makes_video(&job.e) { "Rendering frames" } else { "Generating" };
            return Ok(QueueState::InProgress { progress: Some(format!("{what}: {percent}%")) });
        }
        Ok(QueueState::Completed { machine_seconds: Some(job.r as f64 / 1000.0) })
    }

    pub fn result(&self, ticket: &QueueTicket) -> Result<serde_json::Value, RunFailure> {
        let job = Self::job(ticket)?;
        if now_ms() - job.t < job.q + job.r {
            return Err(RunFailure::BadInput { status: 400, message: "the sandbox job is still running".into() });
        }
        match job.i.get("sandbox_failure").and_then(serde_json::Value::as_str) {
            Some("server_error") => return Err(RunFailure::ServerError(500)),
            Some("bad_input") => {
                return Err(RunFailure::BadInput {
                    status: 422,
                    message: "the sandbox was asked to refuse this input".into(),
                });
            }
            _ => {}
        }
        if !makes_video(&job.e) {
            let mut input = job.i.clone();
            input["prompt"] = serde_json::json!(job.p);
            return Ok(self.images(&job.e, &input));
        }
        let seconds = job
            .i
            .get("duration")
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.trim().parse().ok())))
            .unwrap_or(5)
            .clamp(1, 60);
        let svg = render_video(&job.e, &job.p, seconds);
        Ok(serde_json::json!({
            "video": {
                "url": format!("data:image/svg+xml;base64,{}", base64::engine::general_purpose::STANDARD.encode(svg)),
                "content_type": "image/svg+xml",
                "file_name": "sandbox-video.svg",
                "width": 1280,
                "height": 720,
                "duration": seconds,
            },
            "seed": seed(&job.e, &job.p, 0),
        }))
    }
}

/// An animated picture standing in for a video: the still for the prompt with a light
/// sweeping across it once per `seconds`.
fn render_video(endpoint_id: &str, prompt: &str, seconds: u64) -> String {
    let still = render(endpoint_id, prompt, 0, 1280, 720);
    let sweep = format!(
        "<rect x=\"-200\" y=\"0\" width=\"200\" height=\"720\" fill=\"white\" fill-opacity=\"0.25\">\
         <animate attributeName=\"x\" from=\"-200\" to=\"1280\" dur=\"{seconds}s\" repeatCount=\"indefinite\"/></rect></svg>"
    );
    still.trim_end_matches("</svg>").to_string() + &sweep
}

fn sandbox_size(input: &serde_json::Value) -> (u64, u64) {
    match input.get("image_size") {
        Some(serde_json::Value::String(s)) => super::fal_image_size(s).unwrap_or((1024, 768)),
        Some(obj @ serde_json::Value::Object(_)) => (
            obj.get("width").and_then(serde_json::Value::as_u64).unwrap_or(1024),
            obj.get("height").and_then(serde_json::Value::as_u64).unwrap_or(768),
        ),
        _ => (1024, 768),
    }
}

fn seed(endpoint_id: &str, prompt: &str, index: u64) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{endpoint_id}\n{prompt}\n{index}").as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A picture made from the prompt: two colours, circles and the prompt's words, the same
/// every time for the same input.
fn render(endpoint_id: &str, prompt: &str, index: u64, width: u64, height: u64) -> String {
    let s = seed(endpoint_id, prompt, index);
    let hue = s % 360;
    let hue2 = (hue + 40 + (s >> 9) % 120) % 360;
    let circles: String = (0..6)
        .map(|i| {
            let v = s.rotate_left(i * 11);
            format!(
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"hsl({},70%,{}%)\" fill-opacity=\"0.55\"/>",
                v % width,
                (v >> 16) % height,
                20 + (v >> 32) % (width / 4).max(21),
                (hue + u64::from(i) * 47) % 360,
                45 + (v >> 40) % 30
            )
        })
        .collect();
    let text = crate::shared::format::escape_xml(&prompt.chars().take(60).collect::<String>());
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\
         <defs><linearGradient id=\"g\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"1\">\
         <stop offset=\"0\" stop-color=\"hsl({hue},65%,55%)\"/><stop offset=\"1\" stop-color=\"hsl({hue2},65%,35%)\"/></linearGradient></defs>\
         <rect width=\"100%\" height=\"100%\" fill=\"url(#g)\"/>{circles}\
         <text x=\"50%\" y=\"92%\" text-anchor=\"middle\" font-family=\"sans-serif\" font-size=\"{}\" fill=\"white\">{text}</text></svg>",
        (height / 18).max(12)
    )
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
