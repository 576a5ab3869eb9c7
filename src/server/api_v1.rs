//! The JSON API under `/api/v1`, for scripts and the CLI. Every route names who may call
//! it through its extractor: `ApiUser` (bearer token or session) or `ApiAdmin`.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::guard::{ApiAdmin, ApiError, ApiUser};
use super::auth::users::Role;
use super::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/transactions", get(transactions))
        .route("/api/v1/transactions.csv", get(transactions_csv))
        .route("/api/v1/admin/audit", get(audit))
}

#[derive(Deserialize)]
struct TxQuery {
    /// purchases, usage, gifts, grants, adjustments, refunds, expiry (default: all).
    #[serde(rename = "type")]
    kind: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

/// The caller's transactions, newest first; `next_before` continues.
async fn transactions(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<TxQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = crate::api::credits::TxFilter::from_slug(q.kind.as_deref().unwrap_or("all"));
    let page = super::credits::transactions(&state, &user, filter, q.before, q.limit.unwrap_or(50)).await?;
    Ok(Json(json!({ "transactions": page.rows, "next_before": page.next_before })))
}

/// The caller's transactions as a CSV download.
async fn transactions_csv(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<TxQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let filter = crate::api::credits::TxFilter::from_slug(q.kind.as_deref().unwrap_or("all"));
    let csv = super::credits::transactions_csv(&state, &user, filter).await?;
    let name = format!("attachment; filename=\"tollgate-transactions-{}.csv\"", filter.slug());
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)], csv))
}

/// The caller's account and balance.
async fn me(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Value>, ApiError> {
    let balance = match state.ledger.find_wallet(&user.id).await.map_err(|e| ApiError(e.into()))? {
        Some(wallet) => state.ledger.balance(wallet).await.map_err(|e| ApiError(e.into()))?,
        None => Default::default(),
    };
    Ok(Json(json!({
        "id": user.id,
        "email": user.email,
        "role": if user.role == Role::Admin { "admin" } else { "user" },
        "balance": {
            "posted_micros": balance.posted.get(),
            "reserved_micros": balance.reserved.get(),
            "available_micros": balance.available.get(),
            "available": balance.available.format(),
        },
    })))
}

/// The ledger audit, for operators.
async fn audit(State(state): State<AppState>, ApiAdmin(_): ApiAdmin) -> Result<Json<Value>, ApiError> {
    let report = state.ledger.audit().await.map_err(|e| ApiError(e.into()))?;
    let findings: Vec<Value> =
        report.findings.iter().map(|f| json!({ "check": f.check, "detail": f.detail })).collect();
    Ok(Json(json!({
        "clean": report.is_clean(),
        "checks_run": report.checks_run,
        "wallets": report.wallets,
        "transfers": report.transfers,
        "findings": findings,
    })))
}
