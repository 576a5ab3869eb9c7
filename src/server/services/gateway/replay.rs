//! Retries: a request id the account used before gets that call's answer, not a second
//! call.
//!
//! A call keeps what it was asked (a digest of route, endpoint and input) and the answer
//! it gave, written when it settled. A retry under the same request id:
//! - of a finished call gets the same status and body, byte for byte;
//! - of a call still running waits for it (up to a limit, then hears it is still running);
//! - of a call a crash cut off (nothing charged, nobody answered) runs it again;
//! - asking something else is refused, saying so.
//!
//! Answers are kept for [`ANSWERS_KEPT_MS`]; after that a retry hears the call was made
//! and its answer is no longer kept.

use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::answer::Answer;
use crate::server::infra::db::db_err;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::states::{CallFailure, CallStatus};

/// How long a call's answer is kept for retries.
pub const ANSWERS_KEPT_MS: i64 = 7 * 24 * 3600 * 1000;

/// How long a retry waits for the first call to finish before answering that it is still
/// running.
pub const RETRY_WAITS: Duration = Duration::from_secs(30);

/// What was asked, hashed: the route (`run` or `queue`), the endpoint and the input (as
/// JSON with its keys in order, so the same input written differently is the same).
pub fn digest(route: &str, endpoint_id: &EndpointId, input: &Value) -> String {
    let mut hash = Sha256::new();
    hash.update(route.as_bytes());
    hash.update(b"\n");
    hash.update(endpoint_id.as_str().as_bytes());
    hash.update(b"\n");
    hash.update(input.to_string().as_bytes());
    hex(&hash.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What became of an earlier call under a request id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Earlier {
    /// There is none: this is the first.
    None,
    /// It finished; this is what it answered.
    Answered(Answer),
    /// A crash cut it off before it was answered; nothing was charged. It may run again.
    CutOff { call_id: String },
    /// It is still running.
    Running { call_id: String },
    /// The request id was used for a different request.
    Different,
    /// It finished, but its answer is no longer kept.
    Forgotten,
}

/// What became of the account's earlier call under `request_id`, waiting up to `wait`
/// for one still running to finish.
pub async fn earlier(
    state: &AppState,
    user_id: &str,
    request_id: &str,
    digest: &str,
    wait: Duration,
) -> Result<Earlier, AppError> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let found = look(state, user_id, request_id, digest).await?;
        if !matches!(found, Earlier::Running { .. }) || started.elapsed() >= wait {
            return Ok(found);
        }
        tokio::time::sleep(pause.min(wait.saturating_sub(started.elapsed()))).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

async fn look(state: &AppState, user_id: &str, request_id: &str, digest: &str) -> Result<Earlier, AppError> {
    let row = sqlx::query(
        "select id, status, failure, request_digest, answer_status, answer_body from usage_record \
         where user_id = $1 and request_id = $2",
    )
    .bind(user_id)
    .bind(request_id)
    .fetch_optional(state.db.pool())
    .await
    .map_err(db_err("looking up a request id"))?;
    let Some(row) = row else { return Ok(Earlier::None) };
    let read = |e: sqlx::Error| AppError::internal("looking up a request id", e);
    let call_id: String = row.try_get(0).map_err(read)?;
    let status: String = row.try_get(1).map_err(read)?;
    let failure: Option<String> = row.try_get(2).map_err(read)?;
    let asked: Option<String> = row.try_get(3).map_err(read)?;
    let answer_status: Option<i64> = row.try_get(4).map_err(read)?;
    let answer_body: Option<String> = row.try_get(5).map_err(read)?;
    Ok(match asked {
        // Made before requests were kept (or in the web app): nothing to compare or give.
        None => Earlier::Forgotten,
        Some(asked) if asked != digest => Earlier::Different,
        Some(_) if failure.as_deref() == Some(CallFailure::Interrupted.as_str()) => Earlier::CutOff { call_id },
        Some(_) => match (answer_status.and_then(|s| u16::try_from(s).ok()), answer_body) {
            (Some(status), Some(body)) => Earlier::Answered(Answer { status, body }),
            _ if status == CallStatus::Running.as_str() => Earlier::Running { call_id },
            _ => Earlier::Forgotten,
        },
    })
}

/// Forgets answers older than [`ANSWERS_KEPT_MS`]; how many.
pub async fn forget_old_answers(state: &AppState) -> Result<u64, AppError> {
    let done = sqlx::query(
        "update usage_record set answer_status = null, answer_body = null \
         where answer_body is not null and created_at_ms < $1 and status <> 'running'",
    )
    .bind(now_ms() - ANSWERS_KEPT_MS)
    .execute(state.db.pool())
    .await
    .map_err(db_err("forgetting old answers"))?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_names_route_endpoint_and_input() {
        let flux = EndpointId::parse("fal-ai/flux/dev").unwrap();
        let a = digest("run", &flux, &serde_json::json!({"prompt": "a fox", "num_images": 2}));
        let reordered: Value = serde_json::from_str(r#"{"num_images": 2, "prompt": "a fox"}"#).unwrap();
        assert_eq!(a, digest("run", &flux, &reordered), "the same input written in another order");
        assert_eq!(a.len(), 64);
        assert_ne!(a, digest("queue", &flux, &reordered));
        assert_ne!(a, digest("run", &EndpointId::parse("fal-ai/flux/schnell").unwrap(), &reordered));
        assert_ne!(a, digest("run", &flux, &serde_json::json!({"prompt": "a fox", "num_images": 3})));
    }
}
