//! The sandbox's queue for long jobs: a job is carried whole in its id, and where it
//! stands follows from the time since it was submitted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Sandbox;
use super::render::{render_video, seed};
use crate::server::adapters::providers::{QueueState, QueueTicket, RunFailure};
use crate::server::infra::installation::now_ms;

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
