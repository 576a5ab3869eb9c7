//! Calls cut off by a crash, settled.
//!
//! A call is run by one instance (its id is on the usage record). If that process dies
//! between the hold and the settlement (kill -9, power loss, out of memory) the call would
//! stay "running" and its money reserved until the hold expired. Every instance, at start
//! and every few seconds after, looks for running calls whose instance is gone (its lease
//! can be taken, see [`crate::server::infra::instance`]) and settles them:
//! - a synchronous call (the provider's answer never arrived) is voided: nothing is
//!   charged, the hold is released, and the record says "interrupted";
//! - a queued call whose provider never confirmed the job (still submitting) is voided the
//!   same way; a job the provider confirmed is followed by the poller on any instance.
//!
//! A live instance's calls are never touched. Settling is guarded by the record's status,
//! so two instances settling the same call do it once. Synchronous calls running longer
//! than their hold lived (on any instance) are settled the same way: their hold is gone,
//! so nothing could be charged for them any more.

use std::collections::HashSet;
use std::time::Duration;

use sqlx::Row;

use super::call;
use super::usage::{CALL_COLUMN_COUNT, CALL_COLUMNS, call_from_row};
use crate::server::infra::db::db_err;
use crate::server::infra::installation::now_ms;
use crate::server::infra::instance::{self, InstanceId, Lease};
use crate::server::infra::state::AppState;
use crate::shared::error::AppError;

/// How often instances look for calls to settle.
pub const RECOVER_EVERY: Duration = Duration::from_secs(2);

/// A synchronous call still running this long after it began has outlived its hold.
const SYNC_CALL_LIMIT_MS: i64 = super::run::HOLD_TTL_MS + 60_000;

/// What one round settled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Calls settled as interrupted.
    pub calls: usize,
    /// Instances found gone with calls still running.
    pub instances: usize,
}

/// Settles the running calls of instances that are gone. Returns what it settled.
pub async fn settle_cut_off(state: &AppState) -> Result<Recovered, AppError> {
    let owners: Vec<Option<String>> = sqlx::query_scalar(
        "select distinct instance_id from usage_record where status = 'running' \
         and (instance_id is null or instance_id <> $1)",
    )
    .bind(state.instance.to_string())
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("finding calls cut off"))?;
    let mut gone: HashSet<String> = HashSet::new();
    for owner in owners.into_iter().flatten() {
        // Anything that is not an instance id was not written by an instance: leave it to
        // the age limit below.
        let Some(id) = InstanceId::parse(&owner) else { continue };
        match instance::is_gone(&state.db, id).await {
            Ok(true) => {
                gone.insert(owner);
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(instance = %id, error = %e, "cannot tell whether an instance is alive"),
        }
    }
    let mut recovered = Recovered { calls: 0, instances: gone.len() };
    for owner in &gone {
        recovered.calls += settle_calls_of(state, Some(owner)).await?;
    }
    recovered.calls += settle_calls_of(state, None).await?;
    if recovered.calls > 0 {
        tracing::warn!(calls = recovered.calls, instances = recovered.instances, "settled calls cut off by a crash");
    }
    Ok(recovered)
}

/// Voids the unanswered calls of the gone instance `owner`, or (`None`) the synchronous
/// calls and unconfirmed job submissions of any instance that have outlived a
/// synchronous call's hold (a submission takes seconds: one that old was stopped by an
/// error between the provider's answer and its record, and holds its wallet's funds and
/// place in flight until it is settled).
async fn settle_calls_of(state: &AppState, owner: Option<&str>) -> Result<usize, AppError> {
    // Calls without a job row are synchronous; a job still submitting was never confirmed
    // by the provider. Confirmed jobs belong to the poller.
    let unanswered = "u.status = 'running' and (j.id is null or j.state = 'submitting')";
    let query = match owner {
        Some(_) => format!(
            "select {CALL_COLUMNS}, u.id from usage_record u left join provider_job j on j.id = u.id \
             where {unanswered} and u.instance_id = $1 limit 500"
        ),
        None => format!(
            "select {CALL_COLUMNS}, u.id from usage_record u left join provider_job j on j.id = u.id \
             where {unanswered} and u.created_at_ms < $1 limit 500"
        ),
    };
    let rows = match owner {
        Some(owner) => sqlx::query(&query).bind(owner).fetch_all(state.db.pool()).await,
        None => sqlx::query(&query).bind(now_ms() - SYNC_CALL_LIMIT_MS).fetch_all(state.db.pool()).await,
    }
    .map_err(db_err("finding calls cut off"))?;
    let mut settled = 0;
    for row in rows {
        let id: String = row.try_get(CALL_COLUMN_COUNT).map_err(db_err("finding calls cut off"))?;
        let call = call_from_row(&id, &row)?;
        if call::finish_interrupted(state, &call).await? {
            tracing::warn!(call_id = %id, request_id = %call.request_id, "call cut off by a crash; not charged");
            settled += 1;
        }
    }
    Ok(settled)
}

/// Runs the upkeep of this instance until aborted: keeps its lease, settles calls cut off
/// elsewhere (at once, then every [`RECOVER_EVERY`]), and forgets answers past keeping.
pub fn spawn_recovery(state: AppState, mut lease: Lease) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RECOVER_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_kept = tokio::time::Instant::now();
        let mut last_forgot: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            if last_kept.elapsed() >= instance::KEEP_EVERY {
                lease.keep(&state.db).await;
                last_kept = tokio::time::Instant::now();
            }
            if let Err(e) = settle_cut_off(&state).await {
                tracing::warn!(error = %e, "could not settle calls cut off by a crash");
            }
            if last_forgot.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                match super::replay::forget_old_answers(&state).await {
                    Ok(n) if n > 0 => tracing::info!(answers = n, "forgot answers past keeping"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not forget old answers"),
                }
                last_forgot = Some(tokio::time::Instant::now());
            }
        }
    })
}
