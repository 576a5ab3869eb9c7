//! Notice emails: low balance, a failed auto top-up, credits expiring and an invoice due,
//! mailed to the wallet's owner when `smtp_url` is set (off by default).
//!
//! A sender in every instance takes up the notice events of the last day that have no
//! email yet (one `email_delivery` row per event, so each is mailed once however many
//! instances run), leases the due ones and hands them to the mail server. One the server
//! refused or could not take is tried again with growing pauses for 3 days. The words are
//! the app's notices' own (`notices::words`).

use std::time::Duration;

use serde_json::Value;
use sqlx::Row;

use crate::server::adapters::email::{Email, Mailer};
use crate::server::infra::db::{db_err, word};
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::notices::words;
use crate::server::services::webhooks::backoff_ms;
use crate::shared::error::AppError;
use crate::shared::states::EventKind;

/// How often each instance looks for notices to mail.
pub const SEND_TICK: Duration = Duration::from_secs(1);
/// Notices older than this when first seen are not mailed (say, when email is turned on).
const TAKE_UP_FOR_MS: i64 = 24 * 3600 * 1000;
/// Emails are tried for this long.
const RETRY_FOR_MS: i64 = 3 * 24 * 3600 * 1000;
/// How long a sender may work on one email before another may take it over.
const LEASE_MS: i64 = 60_000;

/// The notice kinds as SQL text, in `NOTICE_KINDS` order: exactly the list the
/// `event_notice_time` index is made for, so the scan uses it.
const NOTICE_KINDS_SQL: &str =
    "'balance.low', 'top_up.failed', 'credits.expiring', 'invoice.created', 'invoice.overdue'";

/// The subject line for a notice.
fn subject(kind: EventKind) -> &'static str {
    match kind {
        EventKind::BalanceLow => "Your balance is low",
        EventKind::TopUpFailed => "An auto top-up failed",
        EventKind::CreditsExpiring => "Some of your credits expire soon",
        EventKind::InvoiceCreated => "Your invoice is ready",
        EventKind::InvoiceOverdue => "Your invoice is past due",
        _ => "A notice about your credits",
    }
}

/// The email for one notice, or `None` when it says nothing (an invoice with nothing due).
pub fn compose(kind: EventKind, data: &Value, to: &str, site: &url::Url) -> Option<Email> {
    let (text, _) = words(kind, data)?;
    let credits = site.join("credits").map(|u| u.to_string()).unwrap_or_else(|_| site.to_string());
    Some(Email {
        to: to.to_string(),
        subject: format!("Tollgate: {}", subject(kind)),
        body: format!(
            "{text}\n\nSee your balance, payments and invoices at {credits}\n\n\
             You get this email because an account with this address has credits on {site}.\n"
        ),
    })
}

/// Mails due notices until aborted. Runs only when `smtp_url` is set.
pub fn spawn_sender(state: AppState, mailer: Mailer) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(server = %mailer.server(), "notice emails are on");
        let mut tick = tokio::time::interval(SEND_TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = send_due(&state, &mailer).await {
                tracing::warn!(error = %e, "notice email round failed");
            }
        }
    })
}

/// One round: takes up new notice events, leases the due emails and sends them. Returns
/// how many were handed to the mail server or tried.
pub async fn send_due(state: &AppState, mailer: &Mailer) -> Result<usize, AppError> {
    let now = now_ms();
    // The kinds are our own constants, not input.
    sqlx::query(&format!(
        "insert into email_delivery (event_id, status, next_attempt_at_ms, created_at_ms) \
         select e.id, 'pending', $1, $1 from event e \
         where e.kind in ({NOTICE_KINDS_SQL}) and e.created_at_ms >= $2 \
           and not exists (select 1 from email_delivery d where d.event_id = e.id) \
         on conflict (event_id) do nothing"
    ))
    .bind(now)
    .bind(now - TAKE_UP_FOR_MS)
    .execute(state.db.pool())
    .await
    .map_err(db_err("taking up notice emails"))?;
    let due: Vec<i64> = sqlx::query_scalar(
        "select event_id from email_delivery where status = 'pending' and next_attempt_at_ms <= $1 \
         and lease_until_ms <= $1 order by next_attempt_at_ms, event_id limit 16",
    )
    .bind(now)
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("finding notice emails"))?;
    let mut sent = 0;
    for event_id in due {
        // Leased one at a time, just before it is sent: a slow mail server must not let
        // the lease of a later one run out before it is tried.
        let now = now_ms();
        let leased = sqlx::query(
            "update email_delivery set lease_until_ms = $1 where event_id = $2 and status = 'pending' \
             and lease_until_ms <= $3",
        )
        .bind(now + LEASE_MS)
        .bind(event_id)
        .bind(now)
        .execute(state.db.pool())
        .await
        .map_err(db_err("leasing a notice email"))?
        .rows_affected()
            == 1;
        if leased {
            deliver(state, mailer, event_id).await?;
            sent += 1;
        }
    }
    Ok(sent)
}

/// Sends one leased email and records how it went.
async fn deliver(state: &AppState, mailer: &Mailer, event_id: i64) -> Result<(), AppError> {
    let err = db_err("sending a notice email");
    let row = sqlx::query(
        "select e.kind, e.data, u.email, d.attempts, d.created_at_ms from email_delivery d \
             join event e on e.id = d.event_id join account a on a.id = e.wallet_id \
             left join app_user u on u.id = a.owner_id \
         where d.event_id = $1",
    )
    .bind(event_id)
    .fetch_one(state.db.pool())
    .await
    .map_err(&err)?;
    let kind: EventKind = word(&row, 0).map_err(&err)?;
    let data: String = row.try_get(1).map_err(&err)?;
    let to: Option<String> = row.try_get(2).map_err(&err)?;
    let attempts: i64 = row.try_get::<i64, _>(3).map_err(&err)? + 1;
    let started_ms: i64 = row.try_get(4).map_err(&err)?;
    let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
    let email = to.and_then(|to| compose(kind, &data, &to, &state.config.public_url));
    let now = now_ms();
    let (status, error) = match &email {
        None => ("skipped", None),
        Some(email) => match mailer.send(email).await {
            Ok(()) => ("sent", None),
            Err(why) if now + backoff_ms(attempts) - started_ms > RETRY_FOR_MS => ("failed", Some(why)),
            Err(why) => ("pending", Some(why)),
        },
    };
    sqlx::query(
        "update email_delivery set status = $1, attempts = $2, last_error = $3, next_attempt_at_ms = $4, \
             lease_until_ms = 0, sent_at_ms = $5 where event_id = $6",
    )
    .bind(status)
    .bind(if email.is_some() { attempts } else { attempts - 1 })
    .bind(&error)
    .bind(now + backoff_ms(attempts))
    .bind((status == "sent").then_some(now))
    .bind(event_id)
    .execute(state.db.pool())
    .await
    .map_err(&err)?;
    if let Some(why) = error {
        tracing::warn!(event = event_id, attempts, error = %why, "notice email not sent; {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::shared::dto::notices::NOTICE_KINDS;

    #[test]
    fn the_scan_names_every_notice_kind_in_order() {
        let listed: Vec<String> = NOTICE_KINDS.iter().map(|k| format!("'{}'", k.as_str())).collect();
        assert_eq!(NOTICE_KINDS_SQL, listed.join(", "));
    }

    #[test]
    fn an_email_says_the_notice_and_where_to_act() {
        let site = url::Url::parse("https://credits.example.com/").unwrap();
        let failed = json!({"amount_micros": 25_000_000, "reason": "Your card was declined."});
        let email = compose(EventKind::TopUpFailed, &failed, "ana@example.com", &site).unwrap();
        assert_eq!(email.to, "ana@example.com");
        assert_eq!(email.subject, "Tollgate: An auto top-up failed");
        assert!(email.body.starts_with("An auto top-up of $25.00 failed: Your card was declined."));
        assert!(email.body.contains("https://credits.example.com/credits"));
        let nothing_due = json!({"amount_due_micros": 0, "month": "2026-11"});
        assert_eq!(compose(EventKind::InvoiceCreated, &nothing_due, "ana@example.com", &site), None);
    }
}
