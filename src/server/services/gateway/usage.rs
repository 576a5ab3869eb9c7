//! Usage records: one row per metered call, written when the call begins and finished
//! once, when it ends.

use super::request::Call;
use crate::server::infra::db::db_err;
use crate::server::infra::db::{Db, WriteTx};
use crate::server::infra::installation::now_ms;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::{CallFailure, CallStatus};

/// The answer to a request id this account used before: a call never runs twice. Ids
/// are the account's own (unique per account), so this says nothing about anyone else.
pub fn repeated(id: &str) -> AppError {
    AppError::Conflict {
        message: format!("You already made a call with the request id {id}; it was not run or charged again."),
    }
}

fn insert_error(id: &str) -> impl Fn(sqlx::Error) -> AppError + '_ {
    move |e| match &e {
        // Only the (account, request id) pair can repeat: the call's own id is fresh.
        sqlx::Error::Database(d) if d.is_unique_violation() => repeated(id),
        _ => AppError::internal("recording a call", e),
    }
}

const INSERT: &str = "insert into usage_record (id, user_id, provider, endpoint_id, operation, unit, units_milli, \
         unit_price_micros, cost_estimate_micros, paid_with, status, failure, hold_id, run_id, run_budgeted, \
         created_at_ms, finished_at_ms, request_id) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

fn insert<'q>(
    call: &'q Call,
    run_id: Option<&'q str>,
    status: CallStatus,
    failure: Option<CallFailure>,
    now: i64,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    sqlx::query(INSERT)
        .bind(&call.id)
        .bind(&call.user_id)
        .bind(call.provider.as_str())
        .bind(call.endpoint_id.as_str())
        .bind(&call.operation)
        .bind(call.unit.as_str())
        .bind(i64::try_from(call.units.0).unwrap_or(i64::MAX))
        .bind(call.unit_price.get())
        .bind(call.cost_estimate.get())
        .bind(call.paid_with.as_str())
        .bind(status.as_str())
        .bind(failure.map(CallFailure::as_str))
        .bind(call.hold_id)
        .bind(run_id)
        .bind(i64::from(call.budget_run.is_some()))
        .bind(now)
        .bind((status != CallStatus::Running).then_some(now))
        .bind(&call.request_id)
}

/// Records a call about to run, in the transaction that holds its funds.
pub async fn insert_running(tx: &mut WriteTx, call: &Call, run_id: Option<&str>) -> Result<(), AppError> {
    insert(call, run_id, CallStatus::Running, None, now_ms())
        .execute(&mut ***tx)
        .await
        .map_err(insert_error(&call.request_id))?;
    Ok(())
}

/// Records a call refused before it ran (run cap, credits): nothing held, nothing charged.
pub async fn insert_refused(db: &Db, call: &Call, run_id: Option<&str>, reason: CallFailure) -> Result<(), AppError> {
    insert(call, run_id, CallStatus::Failed, Some(reason), now_ms())
        .execute(db.pool())
        .await
        .map_err(insert_error(&call.request_id))?;
    Ok(())
}

/// Moves a running call to `status` (succeeded or failed), with nothing charged yet.
/// `false` when it was not running: someone finished it first.
pub async fn claim_finish(
    tx: &mut WriteTx,
    id: &str,
    status: CallStatus,
    failure: Option<CallFailure>,
) -> Result<bool, AppError> {
    let done = sqlx::query(
        "update usage_record set status = $1, failure = $2, charged_micros = 0, finished_at_ms = $3 \
         where id = $4 and status = 'running'",
    )
    .bind(status.as_str())
    .bind(failure.map(CallFailure::as_str))
    .bind(now_ms())
    .bind(id)
    .execute(&mut ***tx)
    .await
    .map_err(db_err("finishing a call"))?;
    Ok(done.rows_affected() == 1)
}

/// What a finished call produced, cost, and took from the wallet.
pub async fn record_settled(
    tx: &mut WriteTx,
    id: &str,
    units_milli: u64,
    cost: Micros,
    charged: Micros,
) -> Result<(), AppError> {
    sqlx::query("update usage_record set units_milli = $1, cost_micros = $2, charged_micros = $3 where id = $4")
        .bind(i64::try_from(units_milli).unwrap_or(i64::MAX))
        .bind(cost.get())
        .bind(charged.get())
        .bind(id)
        .execute(&mut ***tx)
        .await
        .map_err(db_err("finishing a call"))?;
    Ok(())
}
