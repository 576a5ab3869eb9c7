//! Idempotency keys: the first thing every ledger write does, in its own transaction.
//!
//! The key is claimed with an insert at the start of the transaction. A concurrent
//! request with the same key waits on the unique index until the first one commits or
//! rolls back; then it either replays the stored answer or, if the first one failed and
//! wrote nothing, does the work itself. On SQLite the claim also makes the transaction
//! a writer from its first statement, so it queues for the lock instead of failing.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{Any, Row, Transaction};

use std::sync::Arc;

use crate::server::infra::db::WriteTx;
use crate::server::infra::group_commit::{BoxFuture, Step};

use super::LedgerError;
use crate::server::infra::db::Db;

pub(super) enum Claim {
    /// The key is ours; do the work in this transaction, then [`finish`].
    Fresh(WriteTx),
    /// The key was used before: this is its recorded answer (as JSON).
    Replay(String),
}

/// Claims `key` for `operation` with this exact `request` (canonical JSON).
pub(super) async fn claim(
    db: &Db,
    key: &str,
    operation: &str,
    request: &str,
    now_ms: i64,
) -> Result<Claim, LedgerError> {
    let mut tx = db.begin_write().await?;
    if claim_in(&mut tx, key, operation, request, now_ms).await? {
        return Ok(Claim::Fresh(tx));
    }
    tx.rollback().await?;
    let row = sqlx::query("select operation, request, result from idempotency_key where key = $1")
        .bind(key)
        .fetch_one(db.pool())
        .await?;
    let (prev_op, prev_request, result): (String, String, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if prev_op != operation || prev_request != request {
        return Err(LedgerError::IdempotencyConflict(key.to_string()));
    }
    Ok(Claim::Replay(result))
}

/// Claims `key` inside a transaction the caller already holds. `false` when the key was
/// used before (or is being used by a transaction not yet finished, once it commits).
pub(super) async fn claim_in(
    tx: &mut Transaction<'_, Any>,
    key: &str,
    operation: &str,
    request: &str,
    now_ms: i64,
) -> Result<bool, LedgerError> {
    let inserted = sqlx::query(
        "insert into idempotency_key (key, operation, request, result, created_at_ms) \
         values ($1, $2, $3, '', $4) on conflict (key) do nothing",
    )
    .bind(key)
    .bind(operation)
    .bind(request)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Stores the answer under the claimed key; the caller commits.
pub(super) async fn finish<T: Serialize>(
    tx: &mut Transaction<'_, Any>,
    key: &str,
    result: &T,
) -> Result<(), LedgerError> {
    let json = serde_json::to_string(result).map_err(|e| LedgerError::Inconsistent(e.to_string()))?;
    sqlx::query("update idempotency_key set result = $1 where key = $2")
        .bind(json)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) fn decode<T: DeserializeOwned>(json: &str) -> Result<T, LedgerError> {
    serde_json::from_str(json).map_err(|e| LedgerError::Inconsistent(format!("stored answer unreadable: {e}")))
}

pub(super) fn canonical<T: Serialize>(request: &T) -> String {
    serde_json::to_string(request).expect("ledger requests serialize")
}

/// Runs `work` once per idempotency key, in a transaction shared with other writers'
/// work (group commit, see [`crate::server::infra::group_commit`]); `lane` keeps work on
/// one wallet together. The answer of the first successful run is returned to every later
/// call with the same key and request. A refusal (any error but the database's) takes
/// back what `work` wrote and is the answer; it is not stored, so a later call may succeed.
pub(super) async fn grouped<Req, Out, F>(
    ledger: &super::Ledger,
    lane: &str,
    key: &str,
    operation: &'static str,
    request: Req,
    work: F,
) -> Result<Out, LedgerError>
where
    Req: Serialize + Send + Sync + 'static,
    Out: Serialize + DeserializeOwned + Send + Sync + 'static,
    F: for<'t> Fn(&'t super::Ledger, &'t mut WriteTx, &'t Req) -> BoxFuture<'t, Result<Out, LedgerError>>
        + Send
        + Sync
        + 'static,
{
    let shared = Arc::new((ledger.clone(), key.to_string(), canonical(&request), work, request));
    let now_ms = ledger.clock.now_ms();
    let answer = ledger
        .db
        .write_grouped(lane, move |tx| {
            let shared = shared.clone();
            Box::pin(async move {
                let (ledger, key, request, work, original) = &*shared;
                if !claim_in(tx, key, operation, request, now_ms).await? {
                    // Read in this transaction: the key's first use may be a batch-mate's.
                    let row = sqlx::query("select operation, request, result from idempotency_key where key = $1")
                        .bind(key.as_str())
                        .fetch_one(&mut ***tx)
                        .await?;
                    let (prev_op, prev_request, result): (String, String, String) =
                        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                    if prev_op != operation || prev_request != *request {
                        return Ok(Step::Undo(Err(LedgerError::IdempotencyConflict(key.clone()))));
                    }
                    return Ok(Step::Undo(decode(&result)));
                }
                match work(ledger, tx, original).await {
                    Ok(out) => {
                        finish(tx, key, &out).await?;
                        Ok(Step::Keep(Ok(out)))
                    }
                    Err(e @ LedgerError::Database(_)) => Err(e),
                    Err(refused) => Ok(Step::Undo(Err(refused))),
                }
            })
        })
        .await?;
    answer
}

/// Runs `work` once per idempotency key: the answer of the first successful run is
/// returned to every later call with the same key and request.
macro_rules! idempotent {
    ($ledger:expr, $key:expr, $op:expr, $request:expr, |$tx:ident| $work:expr) => {{
        let request_json = $crate::server::ledger::idempotency::canonical($request);
        let now_ms = $ledger.clock.now_ms();
        match $crate::server::ledger::idempotency::claim(&$ledger.db, $key, $op, &request_json, now_ms).await? {
            $crate::server::ledger::idempotency::Claim::Replay(json) => {
                $crate::server::ledger::idempotency::decode(&json)
            }
            $crate::server::ledger::idempotency::Claim::Fresh(mut $tx) => {
                let out = $work;
                $crate::server::ledger::idempotency::finish(&mut $tx, $key, &out).await?;
                $tx.commit().await?;
                Ok(out)
            }
        }
    }};
}
pub(super) use idempotent;
