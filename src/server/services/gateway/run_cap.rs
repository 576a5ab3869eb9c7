//! Per-run spend caps (`Tollgate-Max-USD-Per-Run` with `Tollgate-Run-Id`).
//!
//! A call paid with credits is admitted only if the run's committed total plus the call's
//! estimate stays within the cap, in one guarded UPDATE, so concurrent calls of one run
//! cannot together pass it. When the call ends its estimate is replaced by what was
//! charged (nothing, if it failed).

use crate::server::infra::db::WriteTx;
use crate::server::infra::installation::now_ms;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

pub const CAP_HEADER: &str = "tollgate-max-usd-per-run";
pub const RUN_ID_HEADER: &str = "tollgate-run-id";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunCap {
    pub run_id: String,
    pub cap: Option<Micros>,
}

/// Reads the two headers; a cap needs a run id to belong to.
pub fn from_headers(headers: &axum::http::HeaderMap) -> Result<Option<RunCap>, AppError> {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().map(str::trim).unwrap_or("\u{fffd}").to_string());
    let run_id = text(RUN_ID_HEADER);
    let cap =
        match text(CAP_HEADER) {
            None => None,
            Some(v) => Some(Micros::parse_positive(v.trim_start_matches('$')).map_err(|e| {
                AppError::validation("Tollgate-Max-USD-Per-Run", format!("Tollgate-Max-USD-Per-Run: {e}"))
            })?),
        };
    match (run_id, cap) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(AppError::validation(
            "Tollgate-Run-Id",
            "Tollgate-Max-USD-Per-Run needs a Tollgate-Run-Id naming the run it caps.",
        )),
        (Some(id), cap) => {
            let plain = (1..=100).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
            if !plain {
                return Err(AppError::validation(
                    "Tollgate-Run-Id",
                    "Tollgate-Run-Id must be 1 to 100 letters, digits, or - _ . :",
                ));
            }
            Ok(Some(RunCap { run_id: id, cap }))
        }
    }
}

/// Why a call was not admitted: the run's cap and what it has committed.
pub struct OverCap {
    pub cap: Micros,
    pub committed: Micros,
}

/// Admits `estimate` into the run's budget, or says how far it is from fitting, in the
/// transaction that begins the call.
pub async fn admit(
    tx: &mut WriteTx,
    user_id: &str,
    run_id: &str,
    cap: Micros,
    estimate: Micros,
) -> Result<Result<(), OverCap>, AppError> {
    let err = |e| AppError::internal("checking a run cap", e);
    let now = now_ms();
    sqlx::query(
        "insert into run_budget (user_id, run_id, cap_micros, committed_micros, updated_at_ms) values ($1, $2, $3, 0, $4) \
         on conflict (user_id, run_id) do update set cap_micros = excluded.cap_micros",
    )
    .bind(user_id)
    .bind(run_id)
    .bind(cap.get())
    .bind(now)
    .execute(&mut ***tx)
    .await
    .map_err(err)?;
    let admitted = sqlx::query(
        "update run_budget set committed_micros = committed_micros + $1, updated_at_ms = $2 \
         where user_id = $3 and run_id = $4 and committed_micros + $1 <= cap_micros",
    )
    .bind(estimate.get())
    .bind(now)
    .bind(user_id)
    .bind(run_id)
    .execute(&mut ***tx)
    .await
    .map_err(err)?
    .rows_affected()
        == 1;
    if admitted {
        return Ok(Ok(()));
    }
    let (cap, committed): (i64, i64) =
        sqlx::query_as("select cap_micros, committed_micros from run_budget where user_id = $1 and run_id = $2")
            .bind(user_id)
            .bind(run_id)
            .fetch_one(&mut ***tx)
            .await
            .map_err(err)?;
    Ok(Err(OverCap { cap: Micros(cap), committed: Micros(committed) }))
}

/// Takes the run's budget row in `tx`, so the rows a call touches are always locked in
/// the same order (budget, then wallet) and concurrent calls of a run cannot deadlock.
pub async fn lock(tx: &mut WriteTx, user_id: &str, run_id: &str) -> Result<(), AppError> {
    sqlx::query("update run_budget set updated_at_ms = updated_at_ms where user_id = $1 and run_id = $2")
        .bind(user_id)
        .bind(run_id)
        .execute(&mut ***tx)
        .await
        .map_err(|e| AppError::internal("settling a run cap", e))?;
    Ok(())
}

/// Replaces a call's estimate in the run's total by what it was charged.
pub async fn settle(
    tx: &mut WriteTx,
    user_id: &str,
    run_id: &str,
    estimate: Micros,
    charged: Micros,
) -> Result<(), AppError> {
    sqlx::query(
        "update run_budget set committed_micros = committed_micros - $1 + $2, updated_at_ms = $3 \
         where user_id = $4 and run_id = $5",
    )
    .bind(estimate.get())
    .bind(charged.get())
    .bind(now_ms())
    .bind(user_id)
    .bind(run_id)
    .execute(&mut ***tx)
    .await
    .map_err(|e| AppError::internal("settling a run cap", e))?;
    Ok(())
}
