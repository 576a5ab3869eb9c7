//! The JSON API for the saved card, auto top-up and invoices: `/api/v1/billing/card`,
//! `/api/v1/billing/auto-top-up` and `/api/v1/invoices`. Every route is the caller's own (bearer token or
//! session); bad input is a 422 naming its field.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::server::infra::state::AppState;
use crate::server::services::payments::{auto_top_up, cards};
use crate::server::web::guard::{ApiError, ApiUser};
use crate::shared::dto::payments::{AutoTopUp, AutoTopUpSettings, PaymentSettings, SavedCard};
use crate::shared::error::AppError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/billing/card", get(card).post(save_card).delete(remove_card))
        .route("/api/v1/billing/auto-top-up", get(settings).put(update))
        .route("/api/v1/invoices", get(invoices))
        .route("/api/v1/invoices/{id}", get(invoice))
}

pub fn card_json(card: &SavedCard) -> Value {
    json!({
        "brand": card.brand,
        "last4": card.last4,
        "exp_month": card.exp_month,
        "exp_year": card.exp_year,
        "sandbox": card.sandbox,
        "description": card.describe(),
    })
}

pub fn auto_top_up_json(a: &AutoTopUp) -> Value {
    json!({
        "enabled": a.enabled,
        "threshold_usd": a.threshold.as_usd(),
        "amount_usd": a.amount.as_usd(),
        "monthly_cap_usd": a.monthly_cap.as_usd(),
        "this_month_usd": a.this_month.as_usd(),
        "paused": a.paused_reason.is_some(),
        "paused_reason": a.paused_reason,
    })
}

/// The card and auto top-up parts of `GET /api/v1/billing`.
pub fn settings_json(s: &PaymentSettings) -> (Value, Value) {
    (s.card.as_ref().map(card_json).unwrap_or(Value::Null), auto_top_up_json(&s.auto_top_up))
}

/// `GET /api/v1/billing/card`: the saved card, or `null`.
async fn card(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Value>, ApiError> {
    let s = cards::payment_settings(&state, &user).await?;
    Ok(Json(json!({ "card": s.card.as_ref().map(card_json) })))
}

/// `POST /api/v1/billing/card`: where to send the person to save a card.
async fn save_card(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Value>, ApiError> {
    let url = cards::start_setup(&state, &user).await?;
    Ok(Json(json!({ "url": url })))
}

/// `DELETE /api/v1/billing/card`: removes the card (auto top-up turns off).
async fn remove_card(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Value>, ApiError> {
    cards::remove(&state, &user).await?;
    Ok(Json(json!({ "removed": true })))
}

/// `GET /api/v1/billing/auto-top-up`.
async fn settings(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Value>, ApiError> {
    Ok(Json(auto_top_up_json(&auto_top_up::settings(&state, &user).await?)))
}

/// `PUT /api/v1/billing/auto-top-up` with `{enabled, threshold_usd, amount_usd,
/// monthly_cap_usd}` (amounts as numbers or strings). `{"enabled": false}` alone turns it
/// off and keeps the amounts.
async fn update(State(state): State<AppState>, ApiUser(user): ApiUser, body: axum::body::Bytes) -> Response {
    match parse_and_save(&state, &user, &body).await {
        Ok(saved) => Json(auto_top_up_json(&saved)).into_response(),
        Err(e) => ApiError(e).into_response(),
    }
}

async fn parse_and_save(
    state: &AppState,
    user: &crate::server::services::accounts::users::User,
    body: &[u8],
) -> Result<AutoTopUp, AppError> {
    let body: Value = serde_json::from_slice(body).map_err(|_| AppError::validation("body", "Send a JSON object."))?;
    let enabled = match &body["enabled"] {
        Value::Bool(b) => *b,
        _ => return Err(AppError::validation("enabled", "enabled must be true or false.")),
    };
    let current = auto_top_up::settings(state, user).await?;
    let amount = |field: &str, now: crate::shared::money::Micros| -> Result<String, AppError> {
        match &body[field] {
            Value::Number(n) => Ok(n.to_string()),
            Value::String(s) => Ok(s.clone()),
            Value::Null if !enabled => Ok(now.format()),
            _ => {
                Err(AppError::validation(field, format!("{field} must be an amount in dollars, like 25 or \"25.00\".")))
            }
        }
    };
    let threshold = amount("threshold_usd", current.threshold)?;
    let top_up = amount("amount_usd", current.amount)?;
    let cap = amount("monthly_cap_usd", current.monthly_cap)?;
    let given = ["threshold_usd", "amount_usd", "monthly_cap_usd"].iter().any(|f| !body[*f].is_null());
    let settings = if !enabled && !given {
        // Turned off and nothing else changed: the stored amounts stay as they are, even
        // if the purchase limits moved since.
        AutoTopUpSettings {
            enabled: false,
            threshold: current.threshold,
            amount: current.amount,
            monthly_cap: current.monthly_cap,
        }
    } else {
        AutoTopUpSettings::parse(enabled, &threshold, &top_up, &cap, &state.purchase_rules())?
    };
    auto_top_up::update(state, user, settings).await
}

fn invoice_json(i: &crate::shared::dto::payments::Invoice) -> Value {
    json!({
        "id": i.id,
        "month": i.month,
        "status": i.status,
        "usage_usd": i.usage.as_usd(),
        "usage_micros": i.usage.get(),
        "paid_from_credits_micros": i.paid_from_credits.get(),
        "amount_due_usd": i.amount_due.as_usd(),
        "amount_due_micros": i.amount_due.get(),
        "due_date": i.due_date,
        "failure": i.failure,
        "lines": i.lines.iter().map(|l| json!({
            "endpoint_id": l.endpoint_id,
            "unit": l.unit,
            "calls": l.calls,
            "units": l.units_milli as f64 / 1000.0,
            "unit_price_micros": l.unit_price.get(),
            "amount_micros": l.amount.get(),
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/v1/invoices`: the caller's invoices, newest first.
async fn invoices(State(state): State<AppState>, ApiUser(user): ApiUser) -> Result<Json<Value>, ApiError> {
    let list = crate::server::services::payments::invoices::list(&state.db, &user.id).await?;
    Ok(Json(json!({ "invoices": list.iter().map(invoice_json).collect::<Vec<_>>() })))
}

/// `GET /api/v1/invoices/{id}`: one invoice with its lines (404 for anyone else's).
async fn invoice(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Value>, ApiError> {
    let invoice = crate::server::services::payments::invoices::get(&state.db, &user.id, &id).await?;
    Ok(Json(invoice_json(&invoice)))
}
