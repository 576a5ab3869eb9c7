//! The JSON API under `/api/v1`, for scripts and the CLI. Every route names who may call
//! it through its extractor: `ApiUser` (bearer token or session) or `ApiAdmin`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::guard::{ApiAdmin, ApiError, ApiUser};
use super::auth::users::Role;
use super::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/me", get(me)).route("/api/v1/admin/audit", get(audit))
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
    let findings: Vec<Value> = report.findings.iter().map(|f| json!({ "check": f.check, "detail": f.detail })).collect();
    Ok(Json(json!({
        "clean": report.is_clean(),
        "checks_run": report.checks_run,
        "wallets": report.wallets,
        "transfers": report.transfers,
        "findings": findings,
    })))
}
