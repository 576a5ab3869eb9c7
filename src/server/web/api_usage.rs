//! The JSON API for balance, billing and usage (`/api/v1/balance`, `/api/v1/billing`,
//! `/api/v1/usage...`), and the OpenAPI document describing the whole `/api/v1`.
//! Every route is the caller's own data: bearer token or session.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::usage_report::{self, DAY_MS, GroupBy, HOUR_MS, MAX_DAYS, MAX_HISTORY, UsageOf};
use crate::server::web::guard::bad_param;
use crate::server::web::guard::{ApiCaller, ApiError, ApiUser};
use crate::shared::money::Micros;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/balance", get(balance))
        .route("/api/v1/billing", get(billing))
        .route("/api/v1/billing/checkout", post(checkout))
        .route("/api/v1/billing/payments", get(payments))
        .route("/api/v1/usage", get(usage))
        .route("/api/v1/usage/history", get(history))
        .route("/api/v1/usage/analytics", get(analytics))
}

const OPENAPI: &str = include_str!("openapi.json");

/// The OpenAPI 3.1 description of `/api/v1`. Public: it describes, it reveals nothing.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

fn money(m: Micros) -> Value {
    json!(m.as_usd())
}

/// A whole-number parameter within `range`, or its default; anything else is a 400.
fn int_param(q: &HashMap<String, String>, name: &str, default: u32, max: u32) -> Result<u32, Response> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| bad_param(name, format!("{name} must be a whole number from 1 to {max}."))),
    }
}

async fn balance_json(state: &AppState, user_id: &str) -> Result<Value, ApiError> {
    let b = state.ledger.balance_of(user_id).await.map_err(|e| ApiError(e.into()))?;
    let threshold = state.config.low_balance;
    Ok(json!({
        "balance": money(b.available),
        "balance_micros": b.available.get(),
        "posted_micros": b.posted.get(),
        "reserved_micros": b.reserved.get(),
        "currency": "USD",
        "low_balance": b.available < threshold,
        "low_balance_threshold": money(threshold),
    }))
}

/// `GET /api/v1/balance`: available credits (and what open work holds).
async fn balance(State(state): State<AppState>, caller: ApiCaller) -> Result<Json<Value>, ApiError> {
    Ok(Json(balance_json(&state, caller.acting.owner_id()).await?))
}

/// `GET /api/v1/billing`: the balance and completed purchases, newest first.
async fn billing(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = match int_param(&q, "limit", 20, 200) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let mut body = match balance_json(&state, &user.id).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let payments = match crate::server::services::purchases::history::payments(&state.db, &user.id, limit).await {
        Ok(p) => p,
        Err(e) => return ApiError(e).into_response(),
    };
    body["purchases"] = payments.iter().map(payment_json).collect();
    match crate::server::services::payments::cards::payment_settings(&state, &user).await {
        Ok(settings) => {
            let (card, auto) = crate::server::web::api_billing::settings_json(&settings);
            body["card"] = card;
            body["auto_top_up"] = auto;
        }
        Err(e) => return ApiError(e).into_response(),
    }
    let rules = state.purchase_rules();
    body["purchase_rules"] = json!({
        "available": rules.available,
        "min": money(rules.min),
        "max": money(rules.max),
        "bonus_threshold": money(rules.bonus_threshold),
        "bonus_percent": rules.bonus_percent,
    });
    Json(body).into_response()
}

/// A payment as the API shows it.
fn payment_json(p: &crate::shared::dto::purchases::Payment) -> Value {
    json!({
        "id": p.id,
        "date": p.date,
        "completed_at_ms": p.completed_at_ms,
        "amount": p.amount.as_usd(),
        "amount_micros": p.amount.get(),
        "bonus": p.bonus.as_usd(),
        "bonus_micros": p.bonus.get(),
        "credits": Micros(p.amount.get() + p.bonus.get()).as_usd(),
        "refunded": p.refunded.as_usd(),
        "refunded_micros": p.refunded.get(),
        "status": p.status,
        "kind": p.kind,
        "failure": p.failure,
        "provider": p.provider,
    })
}

/// `GET /api/v1/billing/payments?limit=`: the caller's payments, newest first, with what
/// was refunded and where any dispute stands.
async fn payments(State(state): State<AppState>, ApiUser(user): ApiUser, Query(q): Query<PaymentsQuery>) -> Response {
    let max = crate::server::services::purchases::history::MAX_PAYMENTS;
    let limit = match q.limit.as_deref().map(str::trim) {
        None | Some("") => 50,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => return bad_param("limit", format!("limit must be a whole number from 1 to {max}.")),
        },
    };
    match crate::server::services::purchases::history::payments(&state.db, &user.id, limit).await {
        Ok(list) => Json(json!({ "payments": list.iter().map(payment_json).collect::<Vec<_>>() })).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

#[derive(serde::Deserialize)]
struct PaymentsQuery {
    limit: Option<String>,
}

/// `POST /api/v1/billing/checkout {"amount_usd": 25}`: opens a checkout and answers where
/// to pay, with the bonus the amount earns.
async fn checkout(State(state): State<AppState>, caller: ApiCaller, body: axum::body::Bytes) -> Response {
    let parsed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return bad_param("amount_usd", "Send {\"amount_usd\": <dollars>} as JSON."),
    };
    let amount = match parsed.get("amount_usd") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_string(),
        _ => return bad_param("amount_usd", "amount_usd is required, in dollars (e.g. 25 or \"12.50\")."),
    };
    let (url, quote) =
        match crate::server::services::purchases::start_checkout(&state, &caller.acting, &amount, None).await {
            Ok(opened) => opened,
            Err(crate::shared::error::AppError::Validation { message, .. }) => return bad_param("amount_usd", message),
            Err(e) => return ApiError(e).into_response(),
        };
    // The sandbox's checkout page is ours: make its address absolute for other clients.
    let url = match url::Url::parse(&url) {
        Ok(u) => u.to_string(),
        Err(_) => state.config.public_url.join(&url).map(|u| u.to_string()).unwrap_or(url),
    };
    let body = json!({
        "checkout_url": url,
        "amount": money(quote.pay),
        "amount_micros": quote.pay.get(),
        "bonus": money(quote.bonus),
        "bonus_micros": quote.bonus.get(),
        "credits": money(quote.get),
        "credits_micros": quote.get.get(),
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

/// `GET /api/v1/usage?days=7`: per-day credit spend and calls, oldest first.
async fn usage(State(state): State<AppState>, caller: ApiCaller, Query(q): Query<HashMap<String, String>>) -> Response {
    let days = match int_param(&q, "days", 7, MAX_DAYS) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let (summary, balance) = match (
        usage_report::summary(&state.db, UsageOf::of(&caller.acting), days, now_ms()).await,
        balance_json(&state, caller.acting.owner_id()).await,
    ) {
        (Ok(s), Ok(b)) => (s, b),
        (Err(e), _) => return ApiError(e).into_response(),
        (_, Err(e)) => return e.into_response(),
    };
    let list: Vec<Value> = summary
        .days
        .iter()
        .map(|d| {
            json!({
                "date": d.date,
                "cost": d.cost.as_usd(),
                "cost_micros": d.cost.get(),
                "requests": d.requests,
                "own_key_cost_micros": d.own_key_cost.get(),
            })
        })
        .collect();
    Json(json!({
        "days": list,
        "total": summary.total.as_usd(),
        "total_micros": summary.total.get(),
        "requests": summary.requests,
        "currency": "USD",
        "balance": balance,
    }))
    .into_response()
}

/// `GET /api/v1/usage/history?limit=20&days=30`: calls, newest first.
async fn history(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (limit, days) = match (int_param(&q, "limit", 20, MAX_HISTORY), int_param(&q, "days", 30, MAX_DAYS)) {
        (Ok(l), Ok(d)) => (l, d),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    match usage_report::history(&state.db, &state.catalog, UsageOf::of(&caller.acting), limit, days, now_ms()).await {
        Ok(records) => Json(json!({ "records": records, "limit": limit, "days": days })).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

/// A time parameter: a date (`2026-11-01`, the start of that UTC day) or milliseconds.
fn time_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Response> {
    match q.get(name).map(|v| v.trim()) {
        None | Some("") => Ok(None),
        Some(v) => crate::shared::format::parse_utc_date(v)
            .or_else(|| v.parse::<i64>().ok().filter(|ms| *ms >= 0))
            .map(Some)
            .ok_or_else(|| bad_param(name, format!("{name} must be a date (YYYY-MM-DD) or milliseconds since 1970."))),
    }
}

/// `GET /api/v1/usage/analytics?bucket=hour|day&from=&to=&group_by=model|operation`.
async fn analytics(
    State(state): State<AppState>,
    caller: ApiCaller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let bucket_ms = match q.get("bucket").map(String::as_str) {
        None | Some("day") => DAY_MS,
        Some("hour") => HOUR_MS,
        Some(_) => return bad_param("bucket", "bucket must be hour or day."),
    };
    let group_by = match q.get("group_by").map(String::as_str) {
        None | Some("model") => GroupBy::Model,
        Some("operation") => GroupBy::Operation,
        Some(_) => return bad_param("group_by", "group_by must be model or operation."),
    };
    let now = now_ms();
    let (from, to) = match (time_param(&q, "from"), time_param(&q, "to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    // `to` is exclusive; a date means through the end of that day.
    let to = match (to, q.get("to")) {
        (Some(t), Some(raw)) if crate::shared::format::parse_utc_date(raw).is_some() => t + DAY_MS,
        (Some(t), _) => t,
        (None, _) => now + 1,
    };
    let from = from.unwrap_or((now.div_euclid(DAY_MS) - 6) * DAY_MS);
    if from >= to {
        return bad_param("from", "from must be before to.");
    }
    if (to - from) / bucket_ms > 24 * 92 {
        return bad_param("from", "That is too many buckets; use a shorter period or bucket=day.");
    }
    match usage_report::analytics(&state.db, UsageOf::of(&caller.acting), bucket_ms, group_by, from, to).await {
        Ok(buckets) => Json(json!({
            "bucket": if bucket_ms == DAY_MS { "day" } else { "hour" },
            "group_by": if group_by == GroupBy::Model { "model" } else { "operation" },
            "from": crate::shared::format::utc_timestamp(from),
            "to": crate::shared::format::utc_timestamp(to),
            "series": buckets,
        }))
        .into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}
