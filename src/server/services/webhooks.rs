//! Webhooks out: endpoints an administrator registers, and the deliveries of money events
//! to them.
//!
//! Each money event writes a pending delivery for every endpoint that wants its kind, in
//! the event's own transaction (see `ledger::events`). A sender in every instance leases
//! due deliveries and POSTs them, signed (see `adapters::webhooks`). Per endpoint and
//! wallet, deliveries go in event order: a later one waits while an earlier one is
//! pending. A delivery answered with a 2xx is delivered; anything else is tried again
//! with growing pauses (10 s, 30 s, 90 s ... at most 6 h between) until 3 days after the
//! event, then it is failed and the next one goes. Each carries the event's id
//! (`evt_<n>`), which a receiver de-duplicates on; a delivery can be sent again by hand.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::Row;

use crate::server::adapters::webhooks::{Sent, WebhookUrl, send};
use crate::server::infra::db::db_err;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::shared::error::AppError;
use crate::shared::states::EventKind;

/// Deliveries are tried for this long after their event.
pub const RETRY_FOR_MS: i64 = 3 * 24 * 3600 * 1000;
/// How long a sender may work on one delivery before another may take it over.
const LEASE_MS: i64 = 60_000;
/// How often each instance looks for deliveries to send.
pub const SEND_TICK: Duration = Duration::from_millis(500);

/// The pause before attempt `attempts + 1`: 10 s, 30 s, 90 s ... at most 6 hours.
pub fn backoff_ms(attempts: i64) -> i64 {
    let pause = 10_000_i64.saturating_mul(3_i64.saturating_pow(u32::try_from(attempts.max(1) - 1).unwrap_or(30)));
    pause.min(6 * 3600 * 1000)
}

pub use crate::shared::dto::webhooks::{WebhookDelivery as Delivery, WebhookEndpoint as Endpoint, WebhooksOverview};

/// The event kinds an endpoint asks for: `*`, or a comma-separated list of known kinds.
fn parse_events(raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    if raw == "*" {
        return Ok("*".into());
    }
    let mut kinds = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let kind = EventKind::parse(part).ok_or_else(|| {
            AppError::validation("events", format!("`{part}` is not an event kind (see the README's list), or use *."))
        })?;
        if !kinds.contains(&kind.as_str()) {
            kinds.push(kind.as_str());
        }
    }
    if kinds.is_empty() {
        return Err(AppError::validation("events", "Name at least one event kind, or * for all."));
    }
    Ok(kinds.join(","))
}

/// Registers an endpoint for `events` at `url`; returns it and its signing secret (shown
/// this once). A URL that is not public is refused unless `webhooks_allow_private`.
pub async fn add(state: &AppState, url: &str, events: &str) -> Result<(Endpoint, String), AppError> {
    let parsed = WebhookUrl::parse(url).map_err(|m| AppError::validation("url", m))?;
    let events = parse_events(events)?;
    parsed.resolve(state.config.webhooks_allow_private).await.map_err(|m| AppError::validation("url", m))?;
    let random = |n| crate::server::infra::crypto::random_hex(n).map_err(|e| AppError::internal("making a webhook", e));
    let id = format!("we_{}", random(12)?);
    let secret = format!("whsec_{}", random(24)?);
    let sealed =
        state.cipher.seal(&secret, id.as_bytes()).map_err(|e| AppError::internal("sealing a webhook secret", e))?;
    let now = now_ms();
    sqlx::query(
        "insert into webhook_endpoint (id, url, events, secret_sealed, created_at_ms) values ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(parsed.as_str())
    .bind(&events)
    .bind(&sealed)
    .bind(now)
    .execute(state.db.pool())
    .await
    .map_err(db_err("adding a webhook endpoint"))?;
    // The host only: a URL's path or query may carry the receiver's own token.
    tracing::info!(endpoint = %id, host = ?parsed.host(), events = %events, "webhook endpoint added");
    Ok((Endpoint { id, url: parsed.as_str().to_string(), events, created_at_ms: now }, secret))
}

/// The endpoints in use, oldest first.
pub async fn list(state: &AppState) -> Result<Vec<Endpoint>, AppError> {
    let rows = sqlx::query(
        "select id, url, events, created_at_ms from webhook_endpoint where removed_at_ms is null order by created_at_ms, id",
    )
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("listing webhook endpoints"))?;
    rows.iter()
        .map(|r| {
            Ok(Endpoint { id: r.try_get(0)?, url: r.try_get(1)?, events: r.try_get(2)?, created_at_ms: r.try_get(3)? })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("listing webhook endpoints"))
}

/// Stops sending to endpoint `id`: no new deliveries, and its pending ones are failed.
pub async fn remove(state: &AppState, id: &str) -> Result<(), AppError> {
    let mut tx = state.db.begin_write().await.map_err(db_err("removing a webhook endpoint"))?;
    let removed = sqlx::query("update webhook_endpoint set removed_at_ms = $1 where id = $2 and removed_at_ms is null")
        .bind(now_ms())
        .bind(id)
        .execute(&mut **tx)
        .await
        .map_err(db_err("removing a webhook endpoint"))?;
    if removed.rows_affected() == 0 {
        return Err(AppError::not_found("That webhook endpoint"));
    }
    sqlx::query(
        "update webhook_delivery set status = 'failed', last_error = 'endpoint removed' \
         where endpoint_id = $1 and status = 'pending'",
    )
    .bind(id)
    .execute(&mut **tx)
    .await
    .map_err(db_err("removing a webhook endpoint"))?;
    tx.commit().await.map_err(db_err("removing a webhook endpoint"))?;
    Ok(())
}

/// The newest deliveries (of one endpoint, or all), at most `limit`.
pub async fn deliveries(state: &AppState, endpoint: Option<&str>, limit: i64) -> Result<Vec<Delivery>, AppError> {
    let rows = sqlx::query(
        "select d.id, d.endpoint_id, d.event_id, e.kind, d.status, d.attempts, d.last_status, d.last_error, \
             d.created_at_ms, d.delivered_at_ms \
         from webhook_delivery d join event e on e.id = d.event_id \
         where ($1 = '' or d.endpoint_id = $1) order by d.event_id desc, d.id limit $2",
    )
    .bind(endpoint.unwrap_or(""))
    .bind(limit.clamp(1, 1000))
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("listing webhook deliveries"))?;
    rows.iter()
        .map(|r| {
            Ok(Delivery {
                id: r.try_get(0)?,
                endpoint_id: r.try_get(1)?,
                event_id: r.try_get(2)?,
                kind: r.try_get(3)?,
                status: r.try_get(4)?,
                attempts: r.try_get(5)?,
                last_status: r.try_get(6)?,
                last_error: r.try_get(7)?,
                created_at_ms: r.try_get(8)?,
                delivered_at_ms: r.try_get(9)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("listing webhook deliveries"))
}

/// The endpoints in use, the newest `limit` deliveries, and the kinds one can ask for.
pub async fn overview(state: &AppState, limit: i64) -> Result<WebhooksOverview, AppError> {
    Ok(WebhooksOverview {
        endpoints: list(state).await?,
        deliveries: deliveries(state, None, limit).await?,
        kinds: EventKind::ALL.iter().map(|k| k.as_str().to_string()).collect(),
    })
}

/// Sends delivery `id` again, now (the receiver de-duplicates on the event id).
pub async fn replay(state: &AppState, id: &str) -> Result<(), AppError> {
    let done = sqlx::query(
        "update webhook_delivery set status = 'pending', next_attempt_at_ms = $1, lease_until_ms = 0, \
             created_at_ms = $1 \
         where id = $2 and endpoint_id in (select id from webhook_endpoint where removed_at_ms is null)",
    )
    .bind(now_ms())
    .bind(id)
    .execute(state.db.pool())
    .await
    .map_err(db_err("replaying a webhook delivery"))?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That delivery (to an endpoint in use)"));
    }
    Ok(())
}

/// Sends due deliveries until aborted.
pub fn spawn_sender(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(SEND_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = send_due(&state).await {
                tracing::warn!(error = %e, "webhook round failed");
            }
        }
    })
}

/// One round: leases the deliveries that are due and first in their queue, and sends
/// them. Returns how many were sent (whatever the answer).
pub async fn send_due(state: &AppState) -> Result<usize, AppError> {
    let now = now_ms();
    let due: Vec<String> = sqlx::query_scalar(
        "select d.id from webhook_delivery d \
         where d.status = 'pending' and d.next_attempt_at_ms <= $1 and d.lease_until_ms <= $1 \
           and not exists (select 1 from webhook_delivery p where p.endpoint_id = d.endpoint_id \
               and p.wallet_id = d.wallet_id and p.status = 'pending' and p.seq < d.seq) \
         order by d.next_attempt_at_ms limit 32",
    )
    .bind(now)
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("finding webhook deliveries"))?;
    let mut work = tokio::task::JoinSet::new();
    for id in due {
        let leased = sqlx::query(
            "update webhook_delivery set lease_until_ms = $1 where id = $2 and status = 'pending' and lease_until_ms <= $3",
        )
        .bind(now + LEASE_MS)
        .bind(&id)
        .bind(now)
        .execute(state.db.pool())
        .await
        .map_err(db_err("leasing a webhook delivery"))?
        .rows_affected()
            == 1;
        if leased {
            let state = state.clone();
            work.spawn(async move {
                if let Err(e) = deliver(&state, &id).await {
                    tracing::warn!(delivery = %id, error = %e, "could not send a webhook");
                }
            });
        }
    }
    Ok(work.join_all().await.len())
}

/// Sends one leased delivery and records the answer.
async fn deliver(state: &AppState, id: &str) -> Result<(), AppError> {
    let err = db_err("sending a webhook");
    let row = sqlx::query(
        "select w.id, w.url, w.secret_sealed, e.id, e.kind, e.data, e.created_at_ms, e.seq, a.code, d.attempts, \
             d.created_at_ms \
         from webhook_delivery d join webhook_endpoint w on w.id = d.endpoint_id \
             join event e on e.id = d.event_id join account a on a.id = d.wallet_id \
         where d.id = $1",
    )
    .bind(id)
    .fetch_one(state.db.pool())
    .await
    .map_err(&err)?;
    let endpoint_id: String = row.try_get(0).map_err(&err)?;
    let url: String = row.try_get(1).map_err(&err)?;
    let sealed: String = row.try_get(2).map_err(&err)?;
    let event_id: i64 = row.try_get(3).map_err(&err)?;
    let data: String = row.try_get(5).map_err(&err)?;
    let code: String = row.try_get(8).map_err(&err)?;
    let attempts: i64 = row.try_get::<i64, _>(9).map_err(&err)? + 1;
    let started_ms: i64 = row.try_get(10).map_err(&err)?;
    let event = format!("evt_{event_id}");
    let body = json!({
        "id": event,
        "type": row.try_get::<String, _>(4).map_err(&err)?,
        "created_at_ms": row.try_get::<i64, _>(6).map_err(&err)?,
        "account": code.strip_prefix("wallet:").unwrap_or(&code),
        "seq": row.try_get::<i64, _>(7).map_err(&err)?,
        "data": serde_json::from_str::<Value>(&data).unwrap_or(Value::Null),
    })
    .to_string();
    let now = now_ms();
    // Whatever goes wrong here is an attempt that failed, recorded below, so a delivery
    // never waits forever (holding back the account's later ones).
    let sent = match (state.cipher.open(&sealed, endpoint_id.as_bytes()), WebhookUrl::parse(&url)) {
        (Err(_), _) => Sent::Unreachable("the endpoint's secret cannot be opened with this master key".into()),
        (_, Err(m)) => Sent::Unreachable(m),
        (Ok(secret), Ok(url)) => match url.resolve(state.config.webhooks_allow_private).await {
            Err(m) => Sent::Unreachable(m),
            Ok(addrs) => send(&url, addrs[0], &secret, (&event, id), &body, now / 1000).await,
        },
    };
    let (status, error) = match &sent {
        Sent::Answered(code) => (Some(i64::from(*code)), None),
        Sent::Unreachable(why) => (None, Some(why.clone())),
    };
    let delivered = matches!(sent, Sent::Answered(code) if (200..300).contains(&code));
    let next_status = if delivered {
        "delivered"
    } else if now + backoff_ms(attempts) - started_ms > RETRY_FOR_MS {
        "failed"
    } else {
        "pending"
    };
    sqlx::query(
        "update webhook_delivery set status = $1, attempts = $2, last_status = $3, last_error = $4, \
             next_attempt_at_ms = $5, lease_until_ms = 0, delivered_at_ms = $6 where id = $7",
    )
    .bind(next_status)
    .bind(attempts)
    .bind(status)
    .bind(error)
    .bind(now + backoff_ms(attempts))
    .bind(delivered.then_some(now))
    .bind(id)
    .execute(state.db.pool())
    .await
    .map_err(&err)?;
    if !delivered {
        tracing::warn!(delivery = %id, attempts, status = ?status, "webhook not delivered; {next_status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_slow_down_and_stop_growing_at_six_hours() {
        assert_eq!(backoff_ms(1), 10_000);
        assert_eq!(backoff_ms(2), 30_000);
        assert_eq!(backoff_ms(3), 90_000);
        assert_eq!(backoff_ms(20), 6 * 3600 * 1000);
        // Enough attempts fit in 3 days to keep trying to the end.
        let total: i64 = (1..=20).map(backoff_ms).sum();
        assert!(total > RETRY_FOR_MS);
    }

    #[test]
    fn event_kinds_are_checked() {
        assert_eq!(parse_events("*").unwrap(), "*");
        assert_eq!(parse_events(" usage.charged, balance.low,usage.charged ").unwrap(), "usage.charged,balance.low");
        assert!(
            matches!(parse_events("usage.charged,nope"), Err(AppError::Validation { ref field, .. }) if field == "events")
        );
        assert!(parse_events(" , ").is_err());
    }
}
