//! The JSON API for budgets: `GET /api/v1/budgets`, and
//! `PUT`/`GET`/`DELETE /api/v1/budgets/tokens/{token_id}` with
//! `{"limit_usd": "5.00", "period": "day"|"week"|"month"|"total"}`. The caller's own
//! tokens only (bearer token or session); `current` is the token the request came with.
//! A team's budgets: `GET /api/v1/budgets/teams/{team_id}` lists the team's and its
//! members'; `PUT`/`DELETE` on it set the team's, and on
//! `/api/v1/budgets/teams/{team_id}/members/{user id or email}` a member's (owners and
//! admins). Bad input is a 422 naming its field.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::server::infra::state::AppState;
use crate::server::services::budgets;
use crate::server::services::teams::TeamId;
use crate::server::services::wallets::Acting;
use crate::server::web::guard::{ApiCaller, ApiError, ApiUser};
use crate::shared::dto::budgets::{Budget, BudgetScope};
use crate::shared::error::AppError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/budgets", get(list))
        .route("/api/v1/budgets/tokens/{token_id}", get(show).put(set).delete(remove))
        .route("/api/v1/budgets/teams/{team_id}", get(team_list).put(team_set).delete(team_remove))
        .route("/api/v1/budgets/teams/{team_id}/members/{member}", axum::routing::put(member_set).delete(member_remove))
}

/// The limit and period a `PUT` body sets.
fn read_limit(
    body: &[u8],
) -> Result<(crate::shared::money::Micros, crate::shared::dto::budgets::BudgetPeriod), AppError> {
    let body: Value = serde_json::from_slice(body).map_err(|_| AppError::validation("body", "Send a JSON object."))?;
    let text = |field: &str| match &body[field] {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(AppError::validation(field, format!("{field} is missing."))),
    };
    Ok((budgets::parse_limit("limit_usd", &text("limit_usd")?)?, budgets::parse_period("period", &text("period")?)?))
}

fn answer<T>(result: Result<T, AppError>, json: impl FnOnce(T) -> Value) -> Response {
    match result {
        Ok(v) => Json(json(v)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn team_list(State(state): State<AppState>, ApiUser(user): ApiUser, Path(team): Path<String>) -> Response {
    let listed = async {
        let team = TeamId::parse("team_id", &team)?;
        budgets::list_team(&state, &user, &team).await
    }
    .await;
    answer(listed, |list| json!({ "budgets": list.iter().map(budget_json).collect::<Vec<_>>() }))
}

async fn team_set(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(team): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let saved = async {
        let team = TeamId::parse("team_id", &team)?;
        let (limit, period) = read_limit(&body)?;
        budgets::set_team_budget(&state, &user, &team, None, limit, period).await
    }
    .await;
    answer(saved, |b| budget_json(&b))
}

async fn team_remove(State(state): State<AppState>, ApiUser(user): ApiUser, Path(team): Path<String>) -> Response {
    let removed = async {
        let team = TeamId::parse("team_id", &team)?;
        budgets::remove_team_budget(&state, &user, &team, None).await
    }
    .await;
    answer(removed, |()| json!({ "removed": true }))
}

async fn member_set(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, member)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let saved = async {
        let team = TeamId::parse("team_id", &team)?;
        let (limit, period) = read_limit(&body)?;
        budgets::set_team_budget(&state, &user, &team, Some(&member), limit, period).await
    }
    .await;
    answer(saved, |b| budget_json(&b))
}

async fn member_remove(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path((team, member)): Path<(String, String)>,
) -> Response {
    let removed = async {
        let team = TeamId::parse("team_id", &team)?;
        budgets::remove_team_budget(&state, &user, &team, Some(&member)).await
    }
    .await;
    answer(removed, |()| json!({ "removed": true }))
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
    ApiCaller { acting: Acting { user, .. }, token_id: caller }: ApiCaller,
    Path(token_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let token_id = token_named(&token_id, &caller)?;
    let mine = budgets::list_for(&state, &user).await?;
    let found = mine.iter().find(|b| b.scope == BudgetScope::Token && b.subject == token_id.trim());
    found.map(|b| Json(budget_json(b))).ok_or(ApiError(AppError::not_found("A budget on that token")))
}

async fn set(
    State(state): State<AppState>,
    ApiCaller { acting: Acting { user, .. }, token_id: caller }: ApiCaller,
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
    ApiCaller { acting: Acting { user, .. }, token_id: caller }: ApiCaller,
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
