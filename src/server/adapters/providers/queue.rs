//! fal's queue for long jobs (video): submit, then ask for status, then fetch the result.
//!
//! `POST {queue}/{endpoint_id}` answers `{request_id, status_url, response_url}`. Status
//! and result live under the model's app id without its sub-path:
//! `GET {queue}/{owner}/{app}/requests/{id}/status?logs=1` answers `IN_QUEUE` (with
//! `queue_position`), `IN_PROGRESS` (with `logs`) or `COMPLETED` (with `metrics`, whose
//! `inference_time` is the machine time, queue time excluded); then
//! `GET {queue}/{owner}/{app}/requests/{id}` gives the output, or the error the job ended
//! with. Every request carries `Authorization: Key ...`.

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{Base, Endpoint, Providers, RunFailure, provider_message, without_url};
use crate::shared::endpoint::EndpointId;

/// A job fal's queue accepted: its id there, and where its status and result are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueTicket {
    pub request_id: String,
    pub status_url: String,
    pub response_url: String,
}

/// Where a queued job stands.
#[derive(Clone, Debug, PartialEq)]
pub enum QueueState {
    InQueue {
        position: Option<u64>,
    },
    InProgress {
        /// The latest log line, as progress to show.
        progress: Option<String>,
    },
    /// Done (well or not: the result says). `machine_seconds` is the running time the
    /// provider reports, queue time excluded.
    Completed {
        machine_seconds: Option<f64>,
    },
    /// The provider gave up on the job (failed or cancelled on its side).
    Failed(RunFailure),
}

/// The URL fal returned, if it is under the configured queue's base; else the documented
/// one. The key is sent to these URLs, so nothing outside the base is ever trusted.
fn queue_url(base: &Base, returned: Option<&str>, documented: &[&str]) -> String {
    match returned.and_then(|u| Url::parse(u).ok()) {
        Some(url) if base.contains(&url) => url.to_string(),
        _ => base.at(documented.iter().copied()).to_string(),
    }
}

/// A recorded status or result URL, once it is known to be under the queue's base.
fn recorded_url(base: &Base, recorded: &str) -> Result<Url, RunFailure> {
    base.guard(Url::parse(recorded).map_err(|_| RunFailure::OffBase)?)
}

impl Providers {
    fn fal_key<'a>(&'a self, own_key: Option<&'a str>) -> Result<&'a str, RunFailure> {
        own_key.or(self.inner.fal_platform_key.as_deref()).ok_or(RunFailure::NoPlatformKey)
    }

    /// Queues a fal job. `own_key` is the caller's key; without one the platform's pays.
    pub async fn fal_submit(
        &self,
        endpoint_id: &EndpointId,
        own_key: Option<&str>,
        input: &Value,
    ) -> Result<QueueTicket, RunFailure> {
        let base = match &self.inner.fal_queue {
            Endpoint::Sandbox => return self.inner.sandbox.submit(endpoint_id.as_str(), input),
            Endpoint::Http(base) => base,
        };
        let key = self.fal_key(own_key)?;
        let url = base.guard(base.at(endpoint_id.segments()))?;
        let request =
            self.inner.http.post(url).header(reqwest::header::AUTHORIZATION, format!("Key {key}")).json(input);
        let answer = super::send_run(request, endpoint_id.as_str()).await?;
        #[derive(Deserialize)]
        struct Submitted {
            request_id: String,
            status_url: Option<String>,
            response_url: Option<String>,
        }
        let submitted: Submitted = serde_json::from_value(answer).map_err(|_| RunFailure::ServerError(200))?;
        let id = submitted.request_id.trim();
        let plain = !id.is_empty()
            && id.len() <= 200
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !plain {
            return Err(RunFailure::ServerError(200));
        }
        let [owner, app] = endpoint_id.app();
        Ok(QueueTicket {
            request_id: id.to_string(),
            status_url: queue_url(base, submitted.status_url.as_deref(), &[owner, app, "requests", id, "status"]),
            response_url: queue_url(base, submitted.response_url.as_deref(), &[owner, app, "requests", id]),
        })
    }

    /// Asks where a queued job stands. An error here is about asking (the provider could
    /// not be reached, or refused the key), not about the job.
    pub async fn fal_status(&self, ticket: &QueueTicket, own_key: Option<&str>) -> Result<QueueState, RunFailure> {
        let base = match &self.inner.fal_queue {
            Endpoint::Sandbox => return self.inner.sandbox.status(ticket),
            Endpoint::Http(base) => base,
        };
        let key = self.fal_key(own_key)?;
        let mut url = recorded_url(base, &ticket.status_url)?;
        url.query_pairs_mut().append_pair("logs", "1");
        let res = self
            .inner
            .http
            .get(url)
            .header(reqwest::header::AUTHORIZATION, format!("Key {key}"))
            .send()
            .await
            .map_err(|e| {
                tracing::warn!(error = %without_url(&e), "queue status failed");
                if e.is_timeout() { RunFailure::Timeout } else { RunFailure::Network }
            })?;
        let status = res.status().as_u16();
        match status {
            200..=299 => {}
            401 | 403 => return Err(RunFailure::KeyRefused),
            400..=499 => {
                let text = res.text().await.unwrap_or_default();
                return Err(RunFailure::BadInput { status, message: provider_message(&text) });
            }
            _ => return Err(RunFailure::ServerError(status)),
        }
        let body: Value = res.json().await.map_err(|_| RunFailure::ServerError(status))?;
        Ok(parse_status(&body))
    }

    /// The output of a completed job, or why it has none.
    pub async fn fal_result(&self, ticket: &QueueTicket, own_key: Option<&str>) -> Result<Value, RunFailure> {
        let base = match &self.inner.fal_queue {
            Endpoint::Sandbox => return self.inner.sandbox.result(ticket),
            Endpoint::Http(base) => base,
        };
        let key = self.fal_key(own_key)?;
        let url = recorded_url(base, &ticket.response_url)?;
        let request = self.inner.http.get(url).header(reqwest::header::AUTHORIZATION, format!("Key {key}"));
        super::send_run(request, &ticket.request_id).await
    }
}

/// Reads fal's status answer.
pub fn parse_status(body: &Value) -> QueueState {
    match body.get("status").and_then(Value::as_str) {
        Some("IN_QUEUE") => QueueState::InQueue { position: body.get("queue_position").and_then(Value::as_u64) },
        Some("IN_PROGRESS") => QueueState::InProgress { progress: last_log(body) },
        Some("COMPLETED") => {
            QueueState::Completed { machine_seconds: body.pointer("/metrics/inference_time").and_then(Value::as_f64) }
        }
        Some("FAILED") | Some("CANCELED") | Some("CANCELLED") => QueueState::Failed(RunFailure::ServerError(500)),
        // Anything else: still waiting, as far as we can tell.
        _ => QueueState::InQueue { position: None },
    }
}

fn last_log(body: &Value) -> Option<String> {
    let text = body.get("logs")?.as_array()?.iter().rev().find_map(|l| l.get("message")?.as_str())?;
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    (!text.trim().is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_urls_under_the_queue_base_are_followed() {
        let base = Base::new(Url::parse("https://queue.fal.run/").unwrap());
        let doc = ["fal-ai", "veo2", "requests", "abc", "status"];
        let own = "https://queue.fal.run/fal-ai/veo2/requests/abc/status";
        assert_eq!(queue_url(&base, Some(own), &doc), own);
        assert_eq!(queue_url(&base, Some("https://evil.example/steal"), &doc), own);
        assert_eq!(queue_url(&base, None, &doc), own);
        assert_eq!(queue_url(&base, Some("http://queue.fal.run/x"), &doc), own, "scheme matters too");
        let prefixed = Base::new(Url::parse("http://127.0.0.1:9/queue/").unwrap());
        let doc_there = "http://127.0.0.1:9/queue/fal-ai/veo2/requests/abc/status";
        assert_eq!(queue_url(&prefixed, Some("http://127.0.0.1:9/steal"), &doc), doc_there, "outside the path");
        assert!(recorded_url(&prefixed, "http://127.0.0.1:10/queue/x").is_err());
        assert!(recorded_url(&prefixed, doc_there).is_ok());
    }

    #[test]
    fn statuses_are_read() {
        assert_eq!(
            parse_status(&json!({"status": "IN_QUEUE", "queue_position": 3})),
            QueueState::InQueue { position: Some(3) }
        );
        let running = json!({"status": "IN_PROGRESS", "logs": [{"message": "step 1"}, {"message": "step 2"}]});
        assert_eq!(parse_status(&running), QueueState::InProgress { progress: Some("step 2".into()) });
        assert_eq!(
            parse_status(&json!({"status": "COMPLETED", "metrics": {"inference_time": 4.5}})),
            QueueState::Completed { machine_seconds: Some(4.5) }
        );
        assert_eq!(parse_status(&json!({"status": "FAILED"})), QueueState::Failed(RunFailure::ServerError(500)));
    }
}
