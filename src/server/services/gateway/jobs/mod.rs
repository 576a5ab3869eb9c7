//! Queued calls (video and other long work): submitted to the provider's queue, followed
//! by a poller ([`poller`]), and settled when they complete.
//!
//! Submitting begins the call like a synchronous one (usage record, run budget, a hold of
//! the estimate), so work that starts is funded: it finishes and is charged even if the
//! wallet is emptied meanwhile, while new calls that do not fit get 402. The poller asks
//! the provider where each job stands; on completion it captures the effective cost
//! (for GPU-second prices, the machine time the provider reports, queue time excluded),
//! and on failure it voids the hold. Several instances may poll the same database: a job
//! is leased to one poller at a time, and settling is guarded so it happens once.

mod poller;

use serde_json::Value;
use sqlx::Row;

use super::request::{Call, CallRequest, Outcome};
use super::{answer, call, usage};
use crate::server::infra::db::{WriteTx, db_err, optional_word, word};
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::billing::Payer;
use crate::shared::dto::keys::Provider;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::{CallFailure, JobState, PaidWith};

pub use poller::{POLL_TICK, poll_due, spawn_poller};

/// How long a queued call's hold lives: longer than any job may take.
pub const JOB_HOLD_TTL_MS: i64 = 3 * 3600 * 1000;
/// A job unfinished after this long fails as timed out, and nothing is charged.
pub const JOB_DEADLINE_MS: i64 = 2 * 3600 * 1000;

/// A queued call as its owner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: String,
    pub endpoint_id: String,
    pub provider: Provider,
    pub operation: String,
    pub state: JobState,
    pub queue_position: Option<i64>,
    pub progress: Option<String>,
    pub output: Option<Value>,
    pub failure: Option<CallFailure>,
    pub cost_estimate: Micros,
    /// The effective cost, once the job succeeded.
    pub cost: Option<Micros>,
    pub charged: Micros,
    pub paid_with: PaidWith,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
}

impl Job {
    pub fn finished(&self) -> bool {
        self.state.finished()
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
        provider: word(row, 2)?,
        operation: row.try_get(3)?,
        state: word(row, 4)?,
        queue_position: row.try_get(5)?,
        progress: row.try_get(6)?,
        output: output.and_then(|o| serde_json::from_str(&o).ok()),
        failure: optional_word(row, 8)?,
        cost_estimate: Micros(row.try_get(9)?),
        cost: row.try_get::<Option<i64>, _>(10)?.map(Micros),
        charged: Micros(row.try_get(11)?),
        paid_with: word(row, 12)?,
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

/// A queued call's job row, written with its hold (see [`call::begin`]): submitting
/// until the provider confirms it took the job.
pub struct NewJob {
    pub deadline_ms: i64,
}

impl NewJob {
    pub(super) async fn insert(&self, tx: &mut WriteTx, call: &Call) -> Result<(), AppError> {
        let now = now_ms();
        sqlx::query(
            "insert into provider_job (id, user_id, endpoint_id, state, next_poll_at_ms, deadline_at_ms, created_at_ms) \
             values ($1, $2, $3, $4, $5, $6, $5)",
        )
        .bind(&call.id)
        .bind(&call.user_id)
        .bind(call.endpoint_id.as_str())
        .bind(JobState::Submitting.as_str())
        .bind(now)
        .bind(now + self.deadline_ms)
        .execute(&mut ***tx)
        .await
        .map_err(db_err("recording a queued job"))?;
        Ok(())
    }
}

/// Fails a job the provider never confirmed taking, with the call it belongs to.
pub(super) async fn fail_unsubmitted(tx: &mut WriteTx, id: &str, reason: CallFailure) -> Result<(), AppError> {
    sqlx::query(
        "update provider_job set state = 'failed', failure = $1, finished_at_ms = $2 where id = $3 and state = 'submitting'",
    )
    .bind(reason.as_str())
    .bind(now_ms())
    .bind(id)
    .execute(&mut ***tx)
    .await
    .map_err(db_err("recording a failed job"))?;
    Ok(())
}

/// Queues a call with the provider. Refusals before any work (run cap, credits) come
/// back as the outcome, as does a provider that would not take the job (nothing charged).
/// The job row is written with the hold, so a crash before the provider answers leaves a
/// job that is settled as interrupted, never one that cannot be found.
pub async fn submit(state: &AppState, request: &CallRequest) -> Result<Result<Job, Outcome>, AppError> {
    // To its end in a task of its own, whether or not the caller waits for the answer
    // (see `run::execute`).
    let (state, request) = (state.clone(), request.clone());
    tokio::spawn(async move { submit_to_end(&state, &request).await })
        .await
        .map_err(|e| AppError::internal("queuing a job", e))?
}

async fn submit_to_end(state: &AppState, request: &CallRequest) -> Result<Result<Job, Outcome>, AppError> {
    if request.estimate.price.provider != Provider::Fal {
        return Err(AppError::validation(
            "endpoint_id",
            "Only fal models are queued; call OpenRouter models through /api/v1/run.",
        ));
    }
    if matches!(request.payer, Payer::CallKey(_)) {
        return Err(AppError::validation(
            "Tollgate-Fal-Key",
            "A key sent with one call cannot follow a queued job; save it in Settings > API keys, or use /api/v1/run.",
        ));
    }
    let job = NewJob { deadline_ms: JOB_DEADLINE_MS };
    let call = match call::begin(state, request, JOB_HOLD_TTL_MS, Some(&job)).await? {
        Ok(call) => call,
        Err(refused) => return Ok(Err(refused)),
    };
    let ticket = match state.providers.fal_submit(&call.endpoint_id, request.payer.key(), &request.input).await {
        Ok(ticket) => ticket,
        Err(failure) => {
            return match call::finish_failed(state, &call, &failure).await? {
                Some(answer) => Ok(Err(Outcome::Failed { failure, answer })),
                None => Err(AppError::internal("queuing a job", "it was finished twice")),
            };
        }
    };
    let now = now_ms();
    let queued = sqlx::query(
        "update provider_job set provider_request_id = $1, status_url = $2, response_url = $3, state = $4, \
             next_poll_at_ms = $5 where id = $6 and state = 'submitting'",
    )
    .bind(&ticket.request_id)
    .bind(&ticket.status_url)
    .bind(&ticket.response_url)
    .bind(JobState::Queued.as_str())
    .bind(now + poller::poll_interval_ms(0))
    .bind(&call.id)
    .execute(state.db.pool())
    .await
    .map_err(db_err("recording a queued job"))?;
    if queued.rows_affected() != 1 {
        return Err(AppError::internal("queuing a job", "it was settled while being submitted"));
    }
    tracing::info!(job_id = %call.id, request_id = %request.request_id, endpoint_id = %call.endpoint_id, "job queued");
    let job = load(state, &request.user_id, &call.id).await?;
    usage::store_answer(state.db.pool(), &call.id, &answer::queued(&job)).await?;
    Ok(Ok(job))
}
