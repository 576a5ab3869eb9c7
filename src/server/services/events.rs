//! A person's money events, read from the outbox: a page of them, or followed live.
//!
//! Following reads a wallet's events after the last sequence number sent, then waits
//! for a wakeup from the event bus (or 15 s) and reads again, so nothing committed is
//! missed and nothing is sent twice. What waits to be sent is bounded: a follower whose
//! reader stops taking events for [`SLOW_READER`] is dropped, and resumes from its last
//! event id when it reconnects.

use std::time::Duration;

use serde_json::Value;
use sqlx::Row;
use tokio::sync::{broadcast, mpsc};

use crate::server::infra::db::{db_err, word};
use crate::server::infra::event_bus::EVERYONE;
use crate::server::infra::state::AppState;
use crate::server::ledger::AccountId;
use crate::shared::error::AppError;
use crate::shared::states::EventKind;

/// Events read at a time.
const PAGE: i64 = 100;
/// Events waiting for one reader, at most.
pub const BUFFER: usize = 64;
/// A reader that takes nothing for this long is dropped.
pub const SLOW_READER: Duration = Duration::from_secs(10);
/// A follower looks again at least this often, woken or not.
const LOOK_AGAIN: Duration = Duration::from_secs(15);

/// One money event as its wallet's owner sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct MoneyEvent {
    /// The wallet's sequence number: 1, 2, 3 ... (the SSE id).
    pub seq: i64,
    pub kind: EventKind,
    pub data: Value,
    pub created_at_ms: i64,
}

impl MoneyEvent {
    /// The event as JSON, as streamed and listed.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "seq": self.seq,
            "kind": self.kind,
            "created_at_ms": self.created_at_ms,
            "data": self.data,
        })
    }
}

/// `wallet`'s events after `after`, oldest first, at most `limit`.
pub async fn after(state: &AppState, wallet: AccountId, after: i64, limit: i64) -> Result<Vec<MoneyEvent>, AppError> {
    let rows = sqlx::query(
        "select seq, kind, data, created_at_ms from event where wallet_id = $1 and seq > $2 order by seq limit $3",
    )
    .bind(wallet.0)
    .bind(after)
    .bind(limit)
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("reading money events"))?;
    rows.iter()
        .map(|row| {
            let data: String = row.try_get(2)?;
            Ok(MoneyEvent {
                seq: row.try_get(0)?,
                kind: word(row, 1)?,
                data: serde_json::from_str(&data).unwrap_or(Value::Null),
                created_at_ms: row.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("reading money events"))
}

/// The sequence number of `user_id`'s latest event (0 for none yet).
pub async fn latest(state: &AppState, user_id: &str) -> Result<i64, AppError> {
    let seq: Option<i64> = sqlx::query_scalar("select event_seq from account where code = $1")
        .bind(format!("wallet:{user_id}"))
        .fetch_optional(state.db.pool())
        .await
        .map_err(db_err("reading money events"))?;
    Ok(seq.unwrap_or(0))
}

/// `user_id`'s events after `after`, oldest first (an account without a wallet has none).
pub async fn list(state: &AppState, user_id: &str, after_seq: i64, limit: i64) -> Result<Vec<MoneyEvent>, AppError> {
    match state.ledger.find_wallet(user_id).await? {
        Some(wallet) => after(state, wallet, after_seq, limit).await,
        None => Ok(Vec::new()),
    }
}

/// Follows `user_id`'s events after `after_seq` until the receiver is dropped or stops
/// reading: each event once, in order.
pub fn follow(state: &AppState, user_id: &str, after_seq: i64) -> mpsc::Receiver<MoneyEvent> {
    follow_for(state, user_id, after_seq, SLOW_READER)
}

/// [`follow`], dropping a reader that takes nothing for `slow_reader`. At most
/// [`BUFFER`] events wait for it.
pub fn follow_for(
    state: &AppState,
    user_id: &str,
    after_seq: i64,
    slow_reader: Duration,
) -> mpsc::Receiver<MoneyEvent> {
    let (tx, rx) = mpsc::channel(BUFFER);
    let (state, user_id) = (state.clone(), user_id.to_string());
    // Subscribed before the first read, so nothing committed after it is missed.
    let mut wake = state.event_bus.subscribe();
    tokio::spawn(async move {
        let mut wallet: Option<AccountId> = None;
        let mut last = after_seq;
        loop {
            if wallet.is_none() {
                wallet = state.ledger.find_wallet(&user_id).await.ok().flatten();
            }
            if let Some(w) = wallet {
                loop {
                    let batch = match after(&state, w, last, PAGE).await {
                        Ok(batch) => batch,
                        Err(_) => break,
                    };
                    let full = batch.len() as i64 == PAGE;
                    for event in batch {
                        let seq = event.seq;
                        if tx.send_timeout(event, slow_reader).await.is_err() {
                            // Gone, or too slow: it resumes from its last id.
                            return;
                        }
                        last = seq;
                    }
                    if !full {
                        break;
                    }
                }
            }
            tokio::select! {
                () = tx.closed() => return,
                () = state.event_bus.closed() => return,
                () = tokio::time::sleep(LOOK_AGAIN) => {}
                () = woken(&mut wake, wallet) => {}
            }
        }
    });
    rx
}

/// Waits for a wakeup that may concern `wallet` (any, while it has none yet).
async fn woken(wake: &mut broadcast::Receiver<i64>, wallet: Option<AccountId>) {
    loop {
        match wake.recv().await {
            Ok(w) if w == EVERYONE || wallet.is_none_or(|mine| mine.0 == w) => return,
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return,
            Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}
