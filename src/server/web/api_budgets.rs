//! The JSON API for budgets: `GET /api/v1/budgets`, and
//! `PUT`/`GET`/`DELETE /api/v1/budgets/tokens/{token_id}` with
//! `{"limit_usd": "5.00", "period": "day"|"week"|"month"|"total"}`. The caller's own
//! tokens only (bearer token or session); `current` is the token the request came with.
//! Bad input is a 422 naming its field.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::server::infra::state::AppState;
use crate::server::services::budgets;
use crate::server::web::guard::{ApiCaller, ApiError, ApiUser};
use crate::shared::dto::budgets::{Budget, BudgetScope};
use crate::shared::error::AppError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/budgets", get(list))
        .route("/api/v1/budgets/tokens/{token_id}", get(show).put(set).delete(remove))
}

pub fn budget_json(b: &Budget) -> Value {
    json!({
        "id": b.id,
        "scope": b.scope,
        "subject": b.subject,
        "limit_usd": b.limit.as_usd(),
        "limit_micros": b.limit.get(),
        "period": b.period,
        "spent_micros": b.spent.get(),
        "left_micros": (b.limit.get() - b.spent.get()).max(0),
        "window_start_ms": b.window_start_ms,
        "resets_at_ms": b.resets_at_ms,
    })
}

async fn list(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Value>, ApiError> {
    let list = budgets::list_for(&state, &user).await?;
    Ok(Json(json!({ "budgets": list.iter().map(budget_json).collect::<Vec<_>>() })))
}

/// The token a path names: `current` is the one the request came with.
fn token_named(raw: &str, caller: &Option<String>) -> Result<String, AppError> {
    match (raw.trim(), caller) {
        ("current", Some(id)) => Ok(id.clone()),
        ("current", None) => Err(AppError::validation(
            "token_id",
            "current names the token a request is sent with; this one came without.",
        )),
        (id, _) => Ok(id.to_string()),
    }
}

async fn show(
    State(state): State<AppState>,
    ApiCaller { user, token_id: caller }: ApiCaller,
    Path(token_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let token_id = token_named(&token_id, &caller)?;
    let mine = budgets::list_for(&state, &user).await?;
    let found = mine.iter().find(|b| b.scope == BudgetScope::Token && b.subject == token_id.trim());
    found.map(|b| Json(budget_json(b))).ok_or(ApiError(AppError::not_found("A budget on that token")))
}

async fn set(
    State(state): State<AppState>,
    ApiCaller { user, token_id: caller }: ApiCaller,
    Path(token_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let saved = async {
        let token_id = token_named(&token_id, &caller)?;
        let body: Value =
            serde_json::from_slice(&body).map_err(|_| AppError::validation("body", "Send a JSON object."))?;
        let text = |field: &str| match &body[field] {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(AppError::validation(field, format!("{field} is missing."))),
        };
        let limit = budgets::parse_limit("limit_usd", &text("limit_usd")?)?;
        let period = budgets::parse_period("period", &text("period")?)?;
        budgets::set_token_budget(&state, &user, &token_id, limit, period).await
    }
    .await;
    match saved {
        Ok(b) => Json(budget_json(&b)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn remove(
    State(state): State<AppState>,
    ApiCaller { user, token_id: caller }: ApiCaller,
    Path(token_id): Path<String>,
) -> Response {
    let removed = match token_named(&token_id, &caller) {
        Ok(token_id) => budgets::remove_token_budget(&state, &user, &token_id).await,
        Err(e) => Err(e),
    };
    match removed {
        Ok(()) => Json(json!({ "removed": true })).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}
