//! The job poller: leases unfinished jobs, asks the provider where each stands, and
//! settles the ones that completed or failed.

use std::time::Duration;

use serde_json::Value;
use sqlx::Row;

use crate::server::adapters::providers::{QueueState, QueueTicket, RunFailure};
use crate::server::infra::db::db_err;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::gateway::call;
use crate::server::services::gateway::request::Call;
use crate::server::services::gateway::usage::{CALL_COLUMN_COUNT, CALL_COLUMNS, call_from_row};
use crate::shared::error::AppError;
use crate::shared::states::{JobState, PaidWith};

/// How long a poller may work on one job before another may take it over.
const LEASE_MS: i64 = 60_000;
/// How often the poller looks for jobs to ask about.
pub const POLL_TICK: Duration = Duration::from_millis(250);

/// Time to the next status check: every second at first, then less often for long jobs.
pub(super) fn poll_interval_ms(polls: i64) -> i64 {
    match polls {
        0..120 => 1_000,
        120..600 => 3_000,
        _ => 10_000,
    }
}

/// Starts the poller: it follows every unfinished job until it completes or fails.
pub fn spawn_poller(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = poll_due(&state).await {
                tracing::warn!(error = %e, "job poller round failed");
            }
        }
    })
}

/// One poller round: leases the jobs due for a status check and advances each.
/// Returns how many were looked at.
pub async fn poll_due(state: &AppState) -> Result<usize, AppError> {
    let now = now_ms();
    let due: Vec<String> = sqlx::query_scalar(
        "select id from provider_job where state in ('queued', 'running') and next_poll_at_ms <= $1 \
             and lease_until_ms <= $1 order by next_poll_at_ms limit 32",
    )
    .bind(now)
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("finding jobs to poll"))?;
    let mut work = tokio::task::JoinSet::new();
    for id in due {
        let leased = sqlx::query(
            "update provider_job set lease_until_ms = $1 \
             where id = $2 and lease_until_ms <= $3 and state in ('queued', 'running')",
        )
        .bind(now + LEASE_MS)
        .bind(&id)
        .bind(now)
        .execute(state.db.pool())
        .await
        .map_err(db_err("leasing a job"))?
        .rows_affected()
            == 1;
        if leased {
            let state = state.clone();
            work.spawn(async move {
                if let Err(e) = advance(&state, &id).await {
                    tracing::warn!(job_id = %id, error = %e, "could not advance a job");
                }
            });
        }
    }
    let mut advanced = 0;
    while work.join_next().await.is_some() {
        advanced += 1;
    }
    Ok(advanced)
}

/// A leased job as the poller needs it.
struct Polled {
    call: Call,
    ticket: QueueTicket,
    polls: i64,
    deadline_at_ms: i64,
}

async fn load_polled(state: &AppState, id: &str) -> Result<Polled, AppError> {
    let row = sqlx::query(&format!(
        "select {CALL_COLUMNS}, j.provider_request_id, j.status_url, j.response_url, j.polls, j.deadline_at_ms \
         from provider_job j join usage_record u on u.id = j.id where j.id = $1"
    ))
    .bind(id)
    .fetch_one(state.db.pool())
    .await
    .map_err(db_err("reading a job"))?;
    let read = |e: sqlx::Error| AppError::internal("reading a job", e);
    let call = call_from_row(id, &row)?;
    // Jobs are polled once queued, when the provider's ticket is recorded.
    let ticket = |i: usize| -> Result<String, AppError> {
        row.try_get::<Option<String>, _>(i)
            .map_err(read)?
            .ok_or_else(|| AppError::internal("reading a job", "a queued job without its provider ticket"))
    };
    let n = CALL_COLUMN_COUNT;
    Ok(Polled {
        ticket: QueueTicket { request_id: ticket(n)?, status_url: ticket(n + 1)?, response_url: ticket(n + 2)? },
        call,
        polls: row.try_get(n + 3).map_err(read)?,
        deadline_at_ms: row.try_get(n + 4).map_err(read)?,
    })
}

/// Whether asking again later may go better.
fn transient(failure: &RunFailure) -> bool {
    matches!(failure, RunFailure::Network | RunFailure::Timeout | RunFailure::ServerError(_))
}

/// Asks the provider about one leased job and records what it says.
async fn advance(state: &AppState, id: &str) -> Result<(), AppError> {
    let job = load_polled(state, id).await?;
    let now = now_ms();
    if now >= job.deadline_at_ms {
        return fail(state, &job, RunFailure::Timeout).await;
    }
    // The paying wallet's own key (the caller's, or their team's) pays for (and can see)
    // jobs submitted with it.
    let own_key = if job.call.paid_with == PaidWith::OwnKey {
        match crate::server::services::keys::stored_key(state, job.call.wallet_owner(), job.call.provider).await? {
            Some(key) => Some(key),
            None => return fail(state, &job, RunFailure::KeyRefused).await,
        }
    } else {
        None
    };
    let own_key = own_key.as_deref();
    let status = match state.providers.fal_status(&job.ticket, own_key).await {
        Ok(status) => status,
        Err(failure) if transient(&failure) => return wait(state, &job, None, None, None).await,
        Err(failure) => return fail(state, &job, failure).await,
    };
    match status {
        QueueState::InQueue { position } => wait(state, &job, Some(JobState::Queued), position, None).await,
        QueueState::InProgress { progress } => wait(state, &job, Some(JobState::Running), None, progress).await,
        QueueState::Failed(failure) => fail(state, &job, failure).await,
        QueueState::Completed { machine_seconds } => match state.providers.fal_result(&job.ticket, own_key).await {
            Ok(output) => succeed(state, &job, &output, machine_seconds).await,
            Err(failure @ (RunFailure::Network | RunFailure::Timeout)) => {
                tracing::warn!(job_id = id, failure = failure.code(), "could not fetch a result; will ask again");
                wait(state, &job, None, None, None).await
            }
            Err(failure) => fail(state, &job, failure).await,
        },
    }
}

/// The job is not done: records where it stands and when to ask next.
async fn wait(
    state: &AppState,
    job: &Polled,
    job_state: Option<JobState>,
    position: Option<u64>,
    progress: Option<String>,
) -> Result<(), AppError> {
    let now = now_ms();
    sqlx::query(
        "update provider_job set state = coalesce($1, state), \
             queue_position = case when $1 is null then queue_position else $2 end, \
             progress = coalesce($3, progress), \
             started_at_ms = case when $1 = 'running' and started_at_ms is null then $4 else started_at_ms end, \
             polls = polls + 1, next_poll_at_ms = $5, lease_until_ms = 0 \
         where id = $6 and state in ('queued', 'running')",
    )
    .bind(job_state.map(JobState::as_str))
    .bind(position.map(|p| i64::try_from(p).unwrap_or(i64::MAX)))
    .bind(progress)
    .bind(now)
    .bind(now + poll_interval_ms(job.polls))
    .bind(&job.call.id)
    .execute(state.db.pool())
    .await
    .map_err(db_err("recording a job's progress"))?;
    Ok(())
}

async fn succeed(state: &AppState, job: &Polled, output: &Value, machine_seconds: Option<f64>) -> Result<(), AppError> {
    // Settled first: if this stops halfway, the next round finds the call settled and
    // only records the output.
    if let Some(settled) = call::finish_ok(state, &job.call, output, machine_seconds).await? {
        tracing::info!(
            job_id = %job.call.id,
            cost = settled.cost.get(),
            charged = settled.charged.get(),
            "job completed"
        );
    }
    let now = now_ms();
    sqlx::query(
        "update provider_job set state = 'succeeded', output = $1, queue_position = null, \
             started_at_ms = coalesce(started_at_ms, $2), finished_at_ms = $2, lease_until_ms = 0 \
         where id = $3 and state in ('queued', 'running')",
    )
    .bind(output.to_string())
    .bind(now)
    .bind(&job.call.id)
    .execute(state.db.pool())
    .await
    .map_err(db_err("recording a finished job"))?;
    Ok(())
}

async fn fail(state: &AppState, job: &Polled, failure: RunFailure) -> Result<(), AppError> {
    call::finish_failed(state, &job.call, &failure).await?;
    sqlx::query(
        "update provider_job set state = 'failed', failure = $1, queue_position = null, finished_at_ms = $2, \
             lease_until_ms = 0 where id = $3 and state in ('queued', 'running')",
    )
    .bind(failure.reason().as_str())
    .bind(now_ms())
    .bind(&job.call.id)
    .execute(state.db.pool())
    .await
    .map_err(db_err("recording a failed job"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_slows_down_for_long_jobs() {
        assert_eq!(poll_interval_ms(0), 1_000);
        assert_eq!(poll_interval_ms(200), 3_000);
        assert_eq!(poll_interval_ms(10_000), 10_000);
        assert!(super::super::JOB_DEADLINE_MS < super::super::JOB_HOLD_TTL_MS, "a job times out before its hold would");
    }
}
