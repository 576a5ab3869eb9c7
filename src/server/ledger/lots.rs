//! Credit lots: which credit each spend comes out of.
//!
//! Every function here runs inside a transaction that has already updated (and so, on
//! PostgreSQL, locked) the wallet's account row, which serialises lot changes per wallet.

use sqlx::{Any, Row, Transaction};

use super::{AccountId, LedgerError};
use crate::shared::money::Micros;

/// Records a new lot for a credit.
pub(super) async fn create(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    transfer_id: i64,
    source: &str,
    promotional: bool,
    amount: Micros,
    expires_at_ms: Option<i64>,
    now_ms: i64,
) -> Result<i64, LedgerError> {
    let id: i64 = sqlx::query_scalar(
        "insert into credit_lot (wallet_id, transfer_id, source, promotional, original_micros, remaining_micros, \
         expires_at_ms, created_at_ms) values ($1, $2, $3, $4, $5, $5, $6, $7) returning id",
    )
    .bind(wallet.0)
    .bind(transfer_id)
    .bind(source)
    .bind(i32::from(promotional))
    .bind(amount.get())
    .bind(expires_at_ms)
    .bind(now_ms)
    .fetch_one(&mut **tx)
    .await?;
    Ok(id)
}

/// Takes `amount` out of the wallet's lots for `transfer_id`: the lots in `first` (in
/// that order) before the rest, then promotional before paid, then earliest expiry first.
pub(super) async fn draw(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    transfer_id: i64,
    amount: Micros,
    first: &[i64],
) -> Result<(), LedgerError> {
    if first.is_empty() && amount.is_positive() {
        // Most spends fit in the lot that comes first: taken in one statement. The guard
        // makes it take nothing when that lot holds less, and the lots are then read.
        let lot: Option<i64> = sqlx::query_scalar(
            "update credit_lot set remaining_micros = remaining_micros - $1 \
             where id = (select id from credit_lot where wallet_id = $2 and remaining_micros > 0 \
                 order by promotional desc, coalesce(expires_at_ms, 9223372036854775807), id limit 1) \
             and remaining_micros >= $1 returning id",
        )
        .bind(amount.get())
        .bind(wallet.0)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(lot_id) = lot {
            return record_draw(tx, transfer_id, lot_id, amount.get()).await;
        }
    }
    let rows = sqlx::query(
        "select id, remaining_micros from credit_lot where wallet_id = $1 and remaining_micros > 0 \
         order by promotional desc, coalesce(expires_at_ms, 9223372036854775807), id",
    )
    .bind(wallet.0)
    .fetch_all(&mut **tx)
    .await?;
    let mut lots: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect::<Result<_, sqlx::Error>>()?;
    // The named lots that still hold something go to the front, in the order named (a
    // named lot that is spent or unknown takes no place).
    let mut placed = 0;
    for lot_id in first {
        if let Some(pos) = lots.iter().position(|(id, _)| id == lot_id).filter(|pos| *pos >= placed) {
            let lot = lots.remove(pos);
            lots.insert(placed, lot);
            placed += 1;
        }
    }
    let mut left = amount.get();
    for (lot_id, remaining) in lots {
        if left == 0 {
            break;
        }
        let take = remaining.min(left);
        take_from_lot(tx, transfer_id, lot_id, take).await?;
        left -= take;
    }
    if left > 0 {
        return Err(LedgerError::Inconsistent(format!(
            "wallet {wallet} has a balance its credit lots do not cover ({left} micro-USD short)"
        )));
    }
    Ok(())
}

/// Takes `take` from one lot for a transfer.
pub(super) async fn take_from_lot(
    tx: &mut Transaction<'_, Any>,
    transfer_id: i64,
    lot_id: i64,
    take: i64,
) -> Result<(), LedgerError> {
    let updated = sqlx::query(
        "update credit_lot set remaining_micros = remaining_micros - $1 where id = $2 and remaining_micros >= $1",
    )
    .bind(take)
    .bind(lot_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if updated != 1 {
        return Err(LedgerError::Inconsistent(format!("credit lot {lot_id} has less than {take} left")));
    }
    record_draw(tx, transfer_id, lot_id, take).await
}

/// Records that `transfer_id` took `take` from a lot (already taken from it).
async fn record_draw(
    tx: &mut Transaction<'_, Any>,
    transfer_id: i64,
    lot_id: i64,
    take: i64,
) -> Result<(), LedgerError> {
    sqlx::query("insert into lot_draw (transfer_id, lot_id, amount_micros) values ($1, $2, $3)")
        .bind(transfer_id)
        .bind(lot_id)
        .bind(take)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Gives back to each lot what `original_transfer_id` took from it, for its reversal.
pub(super) async fn restore(
    tx: &mut Transaction<'_, Any>,
    original_transfer_id: i64,
    reversal_transfer_id: i64,
) -> Result<(), LedgerError> {
    let rows = sqlx::query("select lot_id, amount_micros from lot_draw where transfer_id = $1")
        .bind(original_transfer_id)
        .fetch_all(&mut **tx)
        .await?;
    for row in rows {
        let (lot_id, amount): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        sqlx::query("update credit_lot set remaining_micros = remaining_micros + $1 where id = $2")
            .bind(amount)
            .bind(lot_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("insert into lot_draw (transfer_id, lot_id, amount_micros) values ($1, $2, $3)")
            .bind(reversal_transfer_id)
            .bind(lot_id)
            .bind(-amount)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The lot a credit transfer created.
pub(super) async fn lot_of_transfer(
    tx: &mut Transaction<'_, Any>,
    transfer_id: i64,
) -> Result<Option<i64>, LedgerError> {
    Ok(sqlx::query_scalar("select id from credit_lot where transfer_id = $1")
        .bind(transfer_id)
        .fetch_optional(&mut **tx)
        .await?)
}
