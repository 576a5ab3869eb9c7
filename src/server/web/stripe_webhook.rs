//! `POST /webhooks/stripe`: Stripe's signed events, handed to the purchase settlement.
//! 200 tells Stripe the event is handled; 400 that it never will be; 500 to try again.

use crate::server::infra::state::AppState;
use crate::server::services::purchases::settle::{self, WebhookError};

/// The HTTP route: 200 when handled (or already handled), 400 when refused.
pub async fn webhook_route(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    match settle::handle(&state, header, &body, crate::server::infra::installation::now_ms()).await {
        Ok(done) => {
            tracing::info!(?done, "stripe webhook handled");
            (axum::http::StatusCode::OK, axum::Json(serde_json::json!({ "received": true }))).into_response()
        }
        Err(WebhookError::Internal) => {
            // A retry may succeed: let Stripe try again.
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "stripe webhook refused");
            (axum::http::StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({ "error": e.to_string() })))
                .into_response()
        }
    }
}
