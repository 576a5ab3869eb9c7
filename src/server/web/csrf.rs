//! Refuses state-changing requests that a browser sent on behalf of another site.
//!
//! Browsers say where a request comes from in `Sec-Fetch-Site` (modern ones) and
//! `Origin`. A request that changes something (not GET, HEAD or OPTIONS) and that a
//! browser marks as coming from another site is refused, with or without cookies: a
//! sign-in posted from another site would otherwise sign the visitor into someone
//! else's account. Clients that are not browsers (scripts with bearer tokens, the CLI)
//! send neither header and pass.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::infra::state::AppState;
use crate::shared::error::AppError;

pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_cross_site(&req, &state) {
        tracing::warn!(path = %req.uri().path(), "refused a cross-site request");
        let err = AppError::Forbidden;
        let body =
            serde_json::json!({ "error": err, "message": "This request came from another site and was refused." });
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    next.run(req).await
}

fn is_cross_site(req: &Request, state: &AppState) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // "none" is the user typing the address or using a bookmark.
        return !matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        // No Origin and no Sec-Fetch-Site: not a browser we need to protect (curl, a
        // script); the cookie is its own.
        None => false,
        Some(origin) => !same_origin(origin, state, headers.get(header::HOST).and_then(|v| v.to_str().ok())),
    }
}

fn same_origin(origin: &str, state: &AppState, host: Option<&str>) -> bool {
    let public = state.config.public_url.origin().ascii_serialization();
    if origin == public {
        return true;
    }
    // Reached at the address it listens on (tests, a local run) rather than the public one.
    host.is_some_and(|h| origin == format!("http://{h}") || origin == format!("https://{h}"))
}
