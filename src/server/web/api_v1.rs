//! The JSON API under `/api/v1`, for scripts and the CLI. Every route names who may call
//! it through its extractor: `ApiUser` (bearer token or session) or `ApiAdmin`.

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::server::infra::state::AppState;
use crate::server::web::guard::{ApiAdmin, ApiCaller, ApiError, ApiUser, bad_param};
use crate::shared::endpoint::EndpointId;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(me))
        .route("/api/v1/transactions", get(transactions))
        .route("/api/v1/transactions.csv", get(transactions_csv))
        .route("/api/v1/admin/audit", get(audit))
        .route("/api/v1/models/pricing", get(pricing))
        .route("/api/v1/run/{*endpoint_id}", axum::routing::post(crate::server::web::gateway::run))
        .route("/api/v1/queue/{*endpoint_id}", axum::routing::post(crate::server::web::gateway::queue))
        .route("/api/v1/jobs/{job_id}", get(crate::server::web::gateway::job))
}

const PRICING_PAGE_MAX: usize = 100;

/// `GET /api/v1/models/pricing?endpoint_id=...&endpoint_id=...&cursor=...&limit=...`: the
/// caller's prices for the endpoints named (unknown ones at the default price), or for the
/// whole catalog, a page at a time.
async fn pricing(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> axum::response::Response {
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let mut named: Vec<EndpointId> = Vec::new();
    let (mut cursor, mut limit) = (None, 50usize);
    for (key, value) in pairs {
        match key.as_str() {
            "endpoint_id" => {
                let id = match EndpointId::parse(value.trim()) {
                    Ok(id) => id,
                    Err(e) => return bad_param("endpoint_id", e.to_string()),
                };
                if !named.contains(&id) {
                    named.push(id);
                }
            }
            "cursor" => cursor = Some(value),
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=PRICING_PAGE_MAX).contains(&n) => limit = n,
                _ => return bad_param("limit", format!("limit must be a whole number from 1 to {PRICING_PAGE_MAX}.")),
            },
            other => return bad_param(other, format!("Unknown parameter `{other}`.")),
        }
    }
    // The cursor is the position to continue from, in the named list or the catalog.
    let offset = match cursor.as_deref() {
        None | Some("") => 0,
        Some(c) => match c.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return bad_param("cursor", "cursor must be a next_cursor from an earlier answer."),
        },
    };
    let ids: Vec<EndpointId> = if named.is_empty() {
        state.catalog.page(None, usize::MAX).0.into_iter().map(|p| p.endpoint_id).collect()
    } else {
        named
    };
    let page: Vec<EndpointId> = ids.iter().skip(offset).take(limit).cloned().collect();
    let has_more = offset + page.len() < ids.len();
    let prices = match crate::server::services::gateway::pricing::prices_for(&state, &user.id, &page).await {
        Ok(p) => p,
        Err(e) => return ApiError(e).into_response(),
    };
    let prices: Vec<Value> = prices
        .iter()
        .map(|p| {
            json!({
                "endpoint_id": p.price.endpoint_id,
                "unit_price": p.price.unit_price.as_usd(),
                "unit_price_micros": p.price.unit_price.get(),
                "unit": p.price.unit.as_str(),
                "currency": "USD",
                "provider": p.price.provider.as_str(),
                "listed": p.price.listed,
                "custom": p.custom,
            })
        })
        .collect();
    let next_cursor = has_more.then(|| (offset + page.len()).to_string());
    Json(json!({ "prices": prices, "next_cursor": next_cursor, "has_more": has_more })).into_response()
}

#[derive(Deserialize)]
struct TxQuery {
    /// purchases, usage, gifts, grants, adjustments, refunds, expiry (default: all).
    #[serde(rename = "type")]
    kind: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

/// The transactions of the caller's wallet (a team token's: the team's), newest first;
/// `next_before` continues.
async fn transactions(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(q): Query<TxQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = crate::shared::dto::credits::TxFilter::from_field(q.kind.as_deref().unwrap_or(""))?;
    let owner = caller.acting.owner_id();
    let page =
        crate::server::services::credits::transactions(&state, owner, filter, q.before, q.limit.unwrap_or(50)).await?;
    Ok(Json(json!({ "transactions": page.rows, "next_before": page.next_before })))
}

/// The caller's transactions as a CSV download.
async fn transactions_csv(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(q): Query<TxQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let filter = crate::shared::dto::credits::TxFilter::from_field(q.kind.as_deref().unwrap_or(""))?;
    let csv = crate::server::services::credits::transactions_csv(&state, caller.acting.owner_id(), filter).await?;
    let name = format!("attachment; filename=\"tollgate-transactions-{}.csv\"", filter.as_str());
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()), (header::CONTENT_DISPOSITION, name)], csv))
}

/// The caller's account and the balance of the wallet they act on (`team`: the team's).
async fn me(State(state): State<AppState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    use crate::server::services::gateway::in_flight;
    let balance = state.ledger.balance_of(caller.acting.owner_id()).await.map_err(|e| ApiError(e.into()))?;
    let team =
        caller.acting.team.as_ref().map(|t| json!({ "id": t.id.as_str(), "name": t.name, "role": t.role.as_str() }));
    let wallet = in_flight::Owner::of(&caller.acting.user.id, caller.acting.team_id());
    let calls = in_flight::standing(&state, wallet).await?;
    let calls = json!({
        "in_flight": calls.in_flight,
        "max_in_flight": calls.max,
        "set_by_admin": calls.max_override.is_some(),
        "next_tier": calls.next.map(|(from, n)| json!({ "paid_from_micros": from.get(), "max_in_flight": n })),
    });
    let user = caller.acting.user;
    Ok(Json(json!({
        "calls_in_flight": calls,
        "id": user.id,
        "email": user.email,
        "role": user.role.as_str(),
        "team": team,
        "balance": {
            "posted_micros": balance.posted.get(),
            "reserved_micros": balance.reserved.get(),
            "available_micros": balance.available.get(),
            "available": balance.available.format(),
            "owed_micros": balance.owed.get(),
            "owed": balance.owed.format(),
            "credit_limit_micros": balance.credit_limit.get(),
            "credit_used_micros": balance.credit_used.get(),
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
