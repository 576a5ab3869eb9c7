//! Usage records: one row per metered call, written before the call and finished after.

use super::estimate::Estimate;
use crate::error::AppError;
use crate::money::Micros;
use crate::server::db::Db;
use crate::server::installation::now_ms;

fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> AppError {
    move |e| AppError::internal(context, e)
}

/// Records a call about to run.
pub async fn start(
    db: &Db,
    id: &str,
    user_id: &str,
    estimate: &Estimate,
    paid_with: &str,
    run_id: Option<&str>,
) -> Result<(), AppError> {
    sqlx::query(
        "insert into usage_record (id, user_id, provider, endpoint_id, operation, unit, units_milli, \
             unit_price_micros, cost_estimate_micros, paid_with, status, run_id, created_at_ms) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'running', $11, $12)",
    )
    .bind(id)
    .bind(user_id)
    .bind(estimate.price.provider.as_str())
    .bind(&estimate.price.endpoint_id)
    .bind(estimate.price.operation)
    .bind(estimate.price.unit.as_str())
    .bind(i64::try_from(estimate.units.0).unwrap_or(i64::MAX))
    .bind(estimate.price.unit_price.get())
    .bind(estimate.cost.get())
    .bind(paid_with)
    .bind(run_id)
    .bind(now_ms())
    .execute(db.pool())
    .await
    .map_err(|e| match &e {
        // The id is the request id, which a caller may choose: a repeat never runs twice.
        sqlx::Error::Database(d) if d.is_unique_violation() => AppError::Conflict {
            message: format!("A call with the request id {id} was already made; it was not run or charged again."),
        },
        _ => AppError::internal("recording a call", e),
    })?;
    Ok(())
}

pub async fn set_hold(db: &Db, id: &str, hold_id: i64) -> Result<(), AppError> {
    sqlx::query("update usage_record set hold_id = $1 where id = $2")
        .bind(hold_id)
        .bind(id)
        .execute(db.pool())
        .await
        .map_err(db_err("recording a hold"))?;
    Ok(())
}

/// The call produced its output: what it cost, and what was taken.
pub async fn succeeded(db: &Db, id: &str, units_milli: u64, cost: Micros, charged: Micros) -> Result<(), AppError> {
    sqlx::query(
        "update usage_record set status = 'succeeded', units_milli = $1, cost_micros = $2, charged_micros = $3, \
             finished_at_ms = $4 where id = $5",
    )
    .bind(i64::try_from(units_milli).unwrap_or(i64::MAX))
    .bind(cost.get())
    .bind(charged.get())
    .bind(now_ms())
    .bind(id)
    .execute(db.pool())
    .await
    .map_err(db_err("finishing a call"))?;
    Ok(())
}

/// The call failed: nothing was charged, and why is kept.
pub async fn failed(db: &Db, id: &str, failure: &str) -> Result<(), AppError> {
    sqlx::query(
        "update usage_record set status = 'failed', failure = $1, charged_micros = 0, finished_at_ms = $2 where id = $3",
    )
    .bind(failure)
    .bind(now_ms())
    .bind(id)
    .execute(db.pool())
    .await
    .map_err(db_err("finishing a call"))?;
    Ok(())
}
