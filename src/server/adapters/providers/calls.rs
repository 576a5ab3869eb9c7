//! Sending a model call over HTTP and reading its answer, with errors kept short and free
//! of URLs.

use std::time::Duration;

use super::RunFailure;

/// How long a synchronous model run may take before it counts as failed.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// Sends a model call and reads the answer: the output, or why there is none.
pub(super) async fn send_run(request: reqwest::RequestBuilder, what: &str) -> Result<serde_json::Value, RunFailure> {
    let res = request.timeout(RUN_TIMEOUT).send().await.map_err(|e| {
        tracing::warn!(model = what, error = %without_url(&e), "provider call failed");
        if e.is_timeout() { RunFailure::Timeout } else { RunFailure::Network }
    })?;
    let status = res.status().as_u16();
    match status {
        200..=299 => res.json().await.map_err(|_| RunFailure::ServerError(status)),
        401 | 403 => Err(RunFailure::KeyRefused),
        400..=499 => {
            let text = res.text().await.unwrap_or_default();
            Err(RunFailure::BadInput { status, message: provider_message(&text) })
        }
        _ => Err(RunFailure::ServerError(status)),
    }
}

/// A reqwest error without its URL (which may carry a code).
pub(super) fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// A short, printable reason from a provider's error body (`{"error":{"message":...}}`).
pub(super) fn provider_message(body: &str) -> String {
    let parsed: Option<String> = serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.pointer("/message"))
            .or_else(|| v.pointer("/detail"))
            .and_then(|m| m.as_str())
            .map(str::to_string)
    });
    let text = parsed.unwrap_or_else(|| "no reason given".into());
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_messages_are_short_and_plain() {
        assert_eq!(provider_message(r#"{"error":{"message":"Invalid code","code":403}}"#), "Invalid code");
        assert_eq!(provider_message("<html>"), "no reason given");
        assert_eq!(provider_message(&format!(r#"{{"message":"{}"}}"#, "x".repeat(500))).len(), 200);
    }
}
