//! Notices from money events: the ones a person should act on or know of, in words.

use serde_json::Value;
use sqlx::Row;

use crate::server::infra::db::{db_err, word};
use crate::server::infra::state::AppState;
use crate::shared::dto::notices::{NOTICE_KINDS, Notice};
use crate::shared::error::AppError;
use crate::shared::format::utc_date;
use crate::shared::money::Micros;
use crate::shared::states::EventKind;

/// Notices older than this are not shown.
const SHOWN_FOR_MS: i64 = 30 * 24 * 3600 * 1000;

/// `user_id`'s notices of the last 30 days, newest first, at most `limit`.
pub async fn list(state: &AppState, user_id: &str, now_ms: i64, limit: i64) -> Result<Vec<Notice>, AppError> {
    let Some(wallet) = state.ledger.find_wallet(user_id).await? else { return Ok(Vec::new()) };
    let kinds: Vec<String> = NOTICE_KINDS.iter().map(|k| format!("'{}'", k.as_str())).collect();
    // The kinds are our own constants, not input.
    let rows = sqlx::query(&format!(
        "select seq, kind, data, created_at_ms from event where wallet_id = $1 and created_at_ms >= $2 \
         and kind in ({}) order by seq desc limit $3",
        kinds.join(", ")
    ))
    .bind(wallet.0)
    .bind(now_ms - SHOWN_FOR_MS)
    .bind(limit)
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("reading notices"))?;
    let mut notices = Vec::new();
    for row in rows {
        let kind: EventKind = word(&row, 1).map_err(db_err("reading notices"))?;
        let data: String = row.try_get(2).map_err(db_err("reading notices"))?;
        let data: Value = serde_json::from_str(&data).unwrap_or(Value::Null);
        if let Some((text, urgent)) = words(kind, &data) {
            notices.push(Notice {
                seq: row.try_get(0).map_err(db_err("reading notices"))?,
                kind,
                text,
                urgent,
                at_ms: row.try_get(3).map_err(db_err("reading notices"))?,
            });
        }
    }
    Ok(notices)
}

/// A notice's sentence for an event, and whether it calls for action; `None` for events
/// that are not notices (or an invoice with nothing due).
pub fn words(kind: EventKind, data: &Value) -> Option<(String, bool)> {
    let money = |key: &str| Micros(data[key].as_i64().unwrap_or(0)).format();
    let date = |key: &str| utc_date(data[key].as_i64().unwrap_or(0));
    Some(match kind {
        EventKind::BalanceLow => (
            format!(
                "Your available balance fell to {}, under {}. Add credits, or turn on auto top-up.",
                Micros(data["balance"]["available_micros"].as_i64().unwrap_or(0)).format(),
                money("threshold_micros")
            ),
            false,
        ),
        EventKind::TopUpFailed => (
            format!(
                "An auto top-up of {} failed: {} Auto top-up is paused until you save a card that works or turn it on again.",
                money("amount_micros"),
                data["reason"].as_str().unwrap_or("the payment was declined.")
            ),
            true,
        ),
        EventKind::CreditsExpiring => {
            (format!("{} of your credits expire on {} (UTC).", money("remaining_micros"), date("expires_at_ms")), false)
        }
        EventKind::InvoiceCreated if data["amount_due_micros"].as_i64().unwrap_or(0) > 0 => (
            format!(
                "Your invoice for {} is ready: {} due by {}.",
                data["month"].as_str().unwrap_or("last month"),
                money("amount_due_micros"),
                date("due_at_ms")
            ),
            false,
        ),
        EventKind::InvoiceOverdue => (
            format!(
                "Your invoice for {} ({}) is past due. New work waits until it is paid: save a card that works.",
                data["month"].as_str().unwrap_or("last month"),
                money("amount_due_micros")
            ),
            true,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_notice_says_what_happened_and_what_to_do() {
        let low = json!({"threshold_micros": 1_000_000, "balance": {"available_micros": 400_000}});
        assert_eq!(
            words(EventKind::BalanceLow, &low).unwrap().0,
            "Your available balance fell to $0.40, under $1.00. Add credits, or turn on auto top-up."
        );
        let failed = json!({"amount_micros": 25_000_000, "reason": "Your card was declined."});
        let (text, urgent) = words(EventKind::TopUpFailed, &failed).unwrap();
        assert!(text.starts_with("An auto top-up of $25.00 failed: Your card was declined. Auto top-up is paused"));
        assert!(urgent);
        let nothing_due = json!({"amount_due_micros": 0, "month": "2026-11"});
        assert_eq!(words(EventKind::InvoiceCreated, &nothing_due), None);
        assert_eq!(words(EventKind::UsageCharged, &json!({})), None);
    }
}
