//! Usage records: one row per metered call, written when the call begins and finished
//! once, when it ends.

use sqlx::Row;

use super::answer::Answer;
use super::catalog::Unit;
use super::estimate::MilliUnits;
use super::request::Call;
use crate::server::infra::db::{Db, WriteTx, db_err, word};
use crate::server::infra::installation::now_ms;
use crate::server::infra::instance::InstanceId;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::PaidWith;
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
         created_at_ms, finished_at_ms, request_id, instance_id, request_digest, answer_status, answer_body, team_id, in_flight_owner) \
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, \
         $24)";

/// A usage record about to be written.
struct NewRecord<'q> {
    call: &'q Call,
    run_id: Option<&'q str>,
    status: CallStatus,
    failure: Option<CallFailure>,
    instance: InstanceId,
    answer: Option<&'q Answer>,
}

fn insert<'q>(r: &NewRecord<'q>, now: i64) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let call = r.call;
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
        .bind(r.status.as_str())
        .bind(r.failure.map(CallFailure::as_str))
        .bind(call.hold_id)
        .bind(r.run_id)
        .bind(i64::from(call.budget_run.is_some()))
        .bind(now)
        .bind((r.status != CallStatus::Running).then_some(now))
        .bind(&call.request_id)
        .bind(r.instance.to_string())
        .bind(call.digest.as_deref())
        .bind(r.answer.map(|a| i64::from(a.status)))
        .bind(r.answer.map(|a| a.body.as_str()))
        .bind(call.team_id.as_deref())
        .bind(call.in_flight_owner.as_deref())
}

/// Records a call about to run, in the transaction that holds its funds, as run by
/// `instance`. `false` when the account already has a call under this request id.
pub async fn insert_running(
    tx: &mut WriteTx,
    call: &Call,
    run_id: Option<&str>,
    instance: InstanceId,
) -> Result<bool, AppError> {
    let record = NewRecord { call, run_id, status: CallStatus::Running, failure: None, instance, answer: None };
    match insert(&record, now_ms()).execute(&mut ***tx).await {
        Ok(_) => Ok(true),
        // Only the (account, request id) pair can repeat: the call's own id is fresh.
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => Ok(false),
        Err(e) => Err(AppError::internal("recording a call", e)),
    }
}

/// Records a call refused before it ran (run cap): nothing held, nothing charged, and
/// the refusal kept as its answer.
pub async fn insert_refused(
    db: &Db,
    call: &Call,
    run_id: Option<&str>,
    reason: CallFailure,
    instance: InstanceId,
    answer: &Answer,
) -> Result<(), AppError> {
    let record =
        NewRecord { call, run_id, status: CallStatus::Failed, failure: Some(reason), instance, answer: Some(answer) };
    insert(&record, now_ms()).execute(db.pool()).await.map_err(insert_error(&call.request_id))?;
    Ok(())
}

/// Gives a call cut off by a crash a request id of its own (`<request id>#<call id>`), so
/// a retry under its request id can run; `false` when it is not such a call (any more).
pub async fn free_request_id(
    tx: &mut WriteTx,
    user_id: &str,
    request_id: &str,
    cut_off: &str,
) -> Result<bool, AppError> {
    let freed = sqlx::query(
        "update usage_record set request_id = request_id || '#' || id \
         where id = $1 and user_id = $2 and request_id = $3 and status = 'failed' and failure = $4",
    )
    .bind(cut_off)
    .bind(user_id)
    .bind(request_id)
    .bind(CallFailure::Interrupted.as_str())
    .execute(&mut ***tx)
    .await
    .map_err(db_err("running a call again"))?;
    Ok(freed.rows_affected() == 1)
}

/// Keeps `answer` as what call `id` was answered, unless it was answered before (a
/// queued call keeps the answer it got when it was queued).
pub async fn store_answer<'e, E>(executor: E, id: &str, answer: &Answer) -> Result<(), AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "update usage_record set answer_status = coalesce(answer_status, $1), answer_body = coalesce(answer_body, $2) \
         where id = $3",
    )
    .bind(i64::from(answer.status))
    .bind(&answer.body)
    .bind(id)
    .execute(executor)
    .await
    .map_err(db_err("keeping a call's answer"))?;
    Ok(())
}

/// The usage record's columns a [`Call`] is read back from, in [`call_from_row`]'s order
/// (table alias `u`).
pub const CALL_COLUMNS: &str = "u.user_id, u.endpoint_id, u.provider, u.operation, u.unit, u.unit_price_micros, \
     u.units_milli, u.cost_estimate_micros, u.paid_with, u.hold_id, u.run_id, u.run_budgeted, u.request_id, \
     u.request_digest, u.team_id, u.in_flight_owner";

/// How many columns [`CALL_COLUMNS`] has: a query's own columns come after them.
pub const CALL_COLUMN_COUNT: usize = 16;

/// A call under way, read back from its usage record (columns [`CALL_COLUMNS`] first).
pub fn call_from_row(id: &str, row: &sqlx::any::AnyRow) -> Result<Call, AppError> {
    let read = |e: sqlx::Error| AppError::internal("reading a call", e);
    let unit: String = row.try_get(4).map_err(read)?;
    let paid_with: PaidWith = word(row, 8).map_err(read)?;
    let run_id: Option<String> = row.try_get(10).map_err(read)?;
    let budgeted: i64 = row.try_get(11).map_err(read)?;
    let endpoint: String = row.try_get(1).map_err(read)?;
    let request_id: Option<String> = row.try_get(12).map_err(read)?;
    Ok(Call {
        id: id.to_string(),
        request_id: request_id.unwrap_or_else(|| id.to_string()),
        user_id: row.try_get(0).map_err(read)?,
        endpoint_id: stored_endpoint(id, &endpoint),
        provider: word(row, 2).map_err(read)?,
        operation: row.try_get(3).map_err(read)?,
        unit: Unit::parse(&unit).ok_or_else(|| AppError::internal("reading a call", format!("unit {unit}")))?,
        unit_price: Micros(row.try_get(5).map_err(read)?),
        units: MilliUnits(u64::try_from(row.try_get::<i64, _>(6).map_err(read)?).unwrap_or(0)),
        cost_estimate: Micros(row.try_get(7).map_err(read)?),
        paid_with,
        key_saved: paid_with == PaidWith::OwnKey,
        hold_id: row.try_get(9).map_err(read)?,
        budget_run: run_id.filter(|_| budgeted != 0),
        digest: row.try_get(13).map_err(read)?,
        team_id: row.try_get(14).map_err(read)?,
        in_flight_owner: row.try_get(15).map_err(read)?,
    })
}

/// A call's endpoint as recorded. Ids are checked before a call is made; one recorded
/// before that check existed that does not pass it is only a label now (a queued job is
/// followed at the URLs recorded for it, which are checked against the queue's base).
fn stored_endpoint(call_id: &str, raw: &str) -> EndpointId {
    EndpointId::parse(raw).unwrap_or_else(|_| {
        tracing::warn!(call_id, "a call's recorded endpoint id is not valid; keeping it as a label");
        EndpointId::parse("unknown/endpoint").expect("a valid endpoint id")
    })
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

/// What a finished call produced, cost, took from the wallet, and was answered (a queued
/// call keeps the answer it got when it was queued).
pub async fn record_settled(
    tx: &mut WriteTx,
    id: &str,
    units_milli: u64,
    cost: Micros,
    charged: Micros,
    answer: &Answer,
) -> Result<(), AppError> {
    sqlx::query(
        "update usage_record set units_milli = $1, cost_micros = $2, charged_micros = $3, \
             answer_status = coalesce(answer_status, $4), answer_body = coalesce(answer_body, $5) where id = $6",
    )
    .bind(i64::try_from(units_milli).unwrap_or(i64::MAX))
    .bind(cost.get())
    .bind(charged.get())
    .bind(i64::from(answer.status))
    .bind(&answer.body)
    .bind(id)
    .execute(&mut ***tx)
    .await
    .map_err(db_err("finishing a call"))?;
    Ok(())
}
