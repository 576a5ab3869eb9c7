//! Money events of the caller's wallet (their own, a team token's team's, or the team
//! chosen in the web app's header): `GET /api/v1/events/stream` (Server-Sent Events, live)
//! and `GET /api/v1/events` (a page of them, JSON).
//!
//! The stream's event ids are the wallet's sequence numbers. A client that reconnects
//! with `Last-Event-ID` (browsers do it themselves) gets what it missed, each event once
//! and in order; without it, the stream starts after the latest event (or `?after=N`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::server::infra::state::AppState;
use crate::server::services::events;
use crate::server::web::guard::{ApiCaller, ApiError, bad_param};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/events", get(list)).route("/api/v1/events/stream", get(stream))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<String>,
    limit: Option<String>,
}

/// A sequence number the caller sent: a whole number, 0 or more.
fn seq(field: &str, raw: &str) -> Result<i64, Response> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| bad_param(field, format!("{field} must be an event id: a whole number, 0 or more.")))
}

/// `GET /api/v1/events/stream`: the caller's money events as they happen.
pub async fn stream(
    State(state): State<AppState>,
    caller: ApiCaller,
    headers: HeaderMap,
    Query(q): Query<EventsQuery>,
) -> Response {
    let resume = match headers.get("last-event-id").map(|v| v.to_str()) {
        Some(Ok(raw)) => Some(seq("Last-Event-ID", raw)),
        Some(Err(_)) => Some(Err(bad_param("Last-Event-ID", "Last-Event-ID must be an event id."))),
        None => q.after.as_deref().map(|raw| seq("after", raw)),
    };
    let after = match resume {
        Some(Ok(n)) => n,
        Some(Err(answer)) => return answer,
        None => match events::latest(&state, caller.acting.owner_id()).await {
            Ok(n) => n,
            Err(e) => return ApiError(e).into_response(),
        },
    };
    let rx = events::follow(&state, caller.acting.owner_id(), after);
    // A team's stream ends when its reader leaves the team (or is removed): each event is
    // sent only after their membership is checked again.
    let member_of = caller.acting.team.as_ref().map(|t| (state.clone(), caller.acting.user.clone(), t.id.clone()));
    let stream = futures_util::stream::unfold((rx, member_of), |(mut rx, member_of)| async move {
        let event = rx.recv().await?;
        if let Some((state, user, team)) = &member_of {
            match crate::server::services::wallets::in_team(state, user, team).await {
                Ok(Some(_)) => {}
                Ok(None) => return None,
                Err(e) => {
                    tracing::warn!(error = %e, "ending an event stream: membership could not be checked");
                    return None;
                }
            }
        }
        let sse = Event::default().id(event.seq.to_string()).data(event.to_json().to_string());
        Some((Ok::<_, Infallible>(sse), (rx, member_of)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

/// `GET /api/v1/events?after=N&limit=M`: the caller's events after `N` (default 0),
/// oldest first, at most `M` (default 100, up to 1000).
pub async fn list(State(state): State<AppState>, caller: ApiCaller, Query(q): Query<EventsQuery>) -> Response {
    let after = match q.after.as_deref().map(|raw| seq("after", raw)).transpose() {
        Ok(n) => n.unwrap_or(0),
        Err(answer) => return answer,
    };
    let limit = match q.limit.as_deref().map(|raw| raw.trim().parse::<i64>().ok().filter(|n| (1..=1000).contains(n))) {
        None => 100,
        Some(Some(n)) => n,
        Some(None) => return bad_param("limit", "limit must be a whole number from 1 to 1000."),
    };
    match events::list(&state, caller.acting.owner_id(), after, limit).await {
        Ok(list) => {
            let events: Vec<_> = list.iter().map(events::MoneyEvent::to_json).collect();
            Json(serde_json::json!({ "events": events })).into_response()
        }
        Err(e) => ApiError(e).into_response(),
    }
}
