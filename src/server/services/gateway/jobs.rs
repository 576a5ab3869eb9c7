//! Queued calls (video and other long work): submitted to the provider's queue, followed
//! by a poller, and settled when they complete.
//!
//! Submitting begins the call like a synchronous one (usage record, run budget, a hold of
//! the estimate), so work that starts is funded: it finishes and is charged even if the
//! wallet is emptied meanwhile, while new calls that do not fit get 402. The poller asks
//! the provider where each job stands; on completion it captures the effective cost
//! (for GPU-second prices, the machine time the provider reports, queue time excluded),
//! and on failure it voids the hold. Several instances may poll the same database: a job
//! is leased to one poller at a time, and settling is guarded so it happens once.

use std::time::Duration;

use serde_json::Value;
use sqlx::Row;

use super::catalog::Unit;
use super::estimate::{Estimate, MilliUnits};
use super::run::{self, Call, Outcome};
use super::run_cap::RunCap;
use crate::server::adapters::providers::{QueueState, QueueTicket, RunFailure};
use crate::server::infra::db::db_err;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::billing::Payer;
use crate::shared::dto::keys::Provider;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// How long a queued call's hold lives: longer than any job may take.
pub const JOB_HOLD_TTL_MS: i64 = 3 * 3600 * 1000;
/// A job unfinished after this long fails as timed out, and nothing is charged.
pub const JOB_DEADLINE_MS: i64 = 2 * 3600 * 1000;
/// How long a poller may work on one job before another may take it over.
const LEASE_MS: i64 = 60_000;
/// How often the poller looks for jobs to ask about.
pub const POLL_TICK: Duration = Duration::from_millis(250);

/// Time to the next status check: every second at first, then less often for long jobs.
fn poll_interval_ms(polls: i64) -> i64 {
    match polls {
        0..120 => 1_000,
        120..600 => 3_000,
        _ => 10_000,
    }
}

/// A queued call as its owner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: String,
    pub endpoint_id: String,
    pub provider: String,
    pub operation: String,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub state: String,
    pub queue_position: Option<i64>,
    pub progress: Option<String>,
    pub output: Option<Value>,
    pub failure: Option<String>,
    pub cost_estimate: Micros,
    /// The effective cost, once the job succeeded.
    pub cost: Option<Micros>,
    pub charged: Micros,
    pub paid_with: String,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

impl Job {
    pub fn finished(&self) -> bool {
        matches!(self.state.as_str(), "succeeded" | "failed")
    }
}

const JOB_COLUMNS: &str = "j.id, j.endpoint_id, u.provider, u.operation, j.state, j.queue_position, j.progress, \
     j.output, j.failure, u.cost_estimate_micros, u.cost_micros, u.charged_micros, u.paid_with, j.created_at_ms, \
     j.started_at_ms, j.finished_at_ms";

fn job_from_row(row: &sqlx::any::AnyRow) -> Result<Job, sqlx::Error> {
    let output: Option<String> = row.try_get(7)?;
    Ok(Job {
        id: row.try_get(0)?,
        endpoint_id: row.try_get(1)?,
        provider: row.try_get(2)?,
        operation: row.try_get(3)?,
        state: row.try_get(4)?,
        queue_position: row.try_get(5)?,
        progress: row.try_get(6)?,
        output: output.and_then(|o| serde_json::from_str(&o).ok()),
        failure: row.try_get(8)?,
        cost_estimate: Micros(row.try_get(9)?),
        cost: row.try_get::<Option<i64>, _>(10)?.map(Micros),
        charged: Micros(row.try_get(11)?),
        paid_with: row.try_get(12)?,
        created_at_ms: row.try_get(13)?,
        started_at_ms: row.try_get(14)?,
        finished_at_ms: row.try_get(15)?,
    })
}

/// `user_id`'s job `id`; another person's job is not found.
pub async fn load(state: &AppState, user_id: &str, id: &str) -> Result<Job, AppError> {
    let row = sqlx::query(&format!(
        "select {JOB_COLUMNS} from provider_job j join usage_record u on u.id = j.id where j.id = $1 and j.user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(state.db.pool())
    .await
    .map_err(db_err("reading a job"))?;
    match row {
        Some(row) => job_from_row(&row).map_err(db_err("reading a job")),
        None => Err(AppError::not_found("That job")),
    }
}

/// Queues a call with the provider. Refusals before any work (run cap, credits) come
/// back as the outcome, as does a provider that would not take the job (nothing charged).
pub async fn submit(
    state: &AppState,
    user_id: &str,
    request_id: &str,
    estimate: &Estimate,
    payer: &Payer,
    input: &Value,
    run: Option<&RunCap>,
) -> Result<Result<Job, Outcome>, AppError> {
    if estimate.price.provider != Provider::Fal {
        return Err(AppError::validation(
            "endpoint_id",
            "Only fal models are queued; call OpenRouter models through /api/v1/run.",
        ));
    }
    let call = match run::begin(state, user_id, request_id, estimate, payer, run, JOB_HOLD_TTL_MS).await? {
        Ok(call) => call,
        Err(refused) => return Ok(Err(refused)),
    };
    if matches!(payer, Payer::CallKey(_)) {
        return Err(AppError::validation(
            "Tollgate-Fal-Key",
            "A key sent with one call cannot follow a queued job; save it in Settings > API keys, or use /api/v1/run.",
        ));
    }
    let own_key = payer.key();
    let ticket = match state.providers.fal_submit(&call.endpoint_id, own_key, input).await {
        Ok(ticket) => ticket,
        Err(failure) => {
            run::finish_failed(state, &call, &failure).await?;
            return Ok(Err(Outcome::Failed(failure)));
        }
    };
    let now = now_ms();
    sqlx::query(
        "insert into provider_job (id, user_id, endpoint_id, provider_request_id, status_url, response_url, state, \
             next_poll_at_ms, deadline_at_ms, created_at_ms) \
         values ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9)",
    )
    .bind(&call.id)
    .bind(user_id)
    .bind(call.endpoint_id.as_str())
    .bind(&ticket.request_id)
    .bind(&ticket.status_url)
    .bind(&ticket.response_url)
    .bind(now + poll_interval_ms(0))
    .bind(now + JOB_DEADLINE_MS)
    .bind(now)
    .execute(state.db.pool())
    .await
    .map_err(db_err("recording a queued job"))?;
    tracing::info!(job_id = %call.id, request_id, endpoint_id = %call.endpoint_id, "job queued");
    load(state, user_id, &call.id).await.map(Ok)
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
    let row = sqlx::query(
        "select u.user_id, u.endpoint_id, u.provider, u.operation, u.unit, u.unit_price_micros, u.units_milli, \
             u.cost_estimate_micros, u.paid_with, u.hold_id, u.run_id, u.run_budgeted, \
             j.provider_request_id, j.status_url, j.response_url, j.polls, j.deadline_at_ms, u.request_id \
         from provider_job j join usage_record u on u.id = j.id where j.id = $1",
    )
    .bind(id)
    .fetch_one(state.db.pool())
    .await
    .map_err(db_err("reading a job"))?;
    let read = |e: sqlx::Error| AppError::internal("reading a job", e);
    let provider: String = row.try_get(2).map_err(read)?;
    let unit: String = row.try_get(4).map_err(read)?;
    let paid_with: String = row.try_get(8).map_err(read)?;
    let run_id: Option<String> = row.try_get(10).map_err(read)?;
    let budgeted: i64 = row.try_get(11).map_err(read)?;
    let endpoint: String = row.try_get(1).map_err(read)?;
    let request_id: Option<String> = row.try_get(17).map_err(read)?;
    let call = Call {
        id: id.to_string(),
        request_id: request_id.unwrap_or_else(|| id.to_string()),
        user_id: row.try_get(0).map_err(read)?,
        endpoint_id: stored_endpoint(id, &endpoint),
        provider: Provider::parse(&provider)?,
        operation: row.try_get(3).map_err(read)?,
        unit: Unit::parse(&unit).ok_or_else(|| AppError::internal("reading a job", format!("unit {unit}")))?,
        unit_price: Micros(row.try_get(5).map_err(read)?),
        units: MilliUnits(u64::try_from(row.try_get::<i64, _>(6).map_err(read)?).unwrap_or(0)),
        cost_estimate: Micros(row.try_get(7).map_err(read)?),
        paid_with: if paid_with == "own_key" { "own_key" } else { "credits" },
        key_saved: paid_with == "own_key",
        hold_id: row.try_get(9).map_err(read)?,
        budget_run: run_id.filter(|_| budgeted != 0),
    };
    Ok(Polled {
        call,
        ticket: QueueTicket {
            request_id: row.try_get(12).map_err(read)?,
            status_url: row.try_get(13).map_err(read)?,
            response_url: row.try_get(14).map_err(read)?,
        },
        polls: row.try_get(15).map_err(read)?,
        deadline_at_ms: row.try_get(16).map_err(read)?,
    })
}

/// A job's endpoint as recorded. Ids are checked before a job is queued; one recorded
/// before that check existed that does not pass it is only a label now (the job is
/// followed at the URLs recorded for it, which are checked against the queue's base).
fn stored_endpoint(job_id: &str, raw: &str) -> EndpointId {
    EndpointId::parse(raw).unwrap_or_else(|_| {
        tracing::warn!(job_id, "a job's recorded endpoint id is not valid; following it by its URLs");
        EndpointId::parse("unknown/endpoint").expect("a valid endpoint id")
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
    // The caller's own key pays for (and can see) jobs submitted with it.
    let own_key = if job.call.paid_with == "own_key" {
        match crate::server::services::keys::stored_key(state, &job.call.user_id, job.call.provider).await? {
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
        QueueState::InQueue { position } => wait(state, &job, Some("queued"), position, None).await,
        QueueState::InProgress { progress } => wait(state, &job, Some("running"), None, progress).await,
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
    job_state: Option<&str>,
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
    .bind(job_state)
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
    if let Some(settled) = run::finish_ok(state, &job.call, output, machine_seconds).await? {
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
    run::finish_failed(state, &job.call, &failure).await?;
    sqlx::query(
        "update provider_job set state = 'failed', failure = $1, queue_position = null, finished_at_ms = $2, \
             lease_until_ms = 0 where id = $3 and state in ('queued', 'running')",
    )
    .bind(failure.code())
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
        assert!(JOB_DEADLINE_MS < JOB_HOLD_TTL_MS, "a job times out before its hold would");
    }
}
