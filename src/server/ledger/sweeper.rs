//! Background upkeep: expiring stale holds and expired credit lots.

use std::time::Duration;

use sqlx::Row;

use super::transfers::{NewTransfer, debit_wallet, insert_transfer};
use super::{AccountId, Ledger, LedgerError, SystemAccount, TransferCode, lots};
use crate::shared::money::Micros;
use crate::shared::states::EventKind;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub holds_expired: usize,
    pub lots_expired: usize,
    pub expired: Micros,
    /// Lots whose owners were told (`credits.expiring`) they expire within 7 days.
    pub lots_expiring: usize,
}

/// How long before a lot expires its owner is told.
pub const EXPIRY_WARNING_MS: i64 = 7 * 24 * 3600 * 1000;

impl Ledger {
    /// Moves the unspent remainder of every lot past its expiry to the expired-credit
    /// account. Money reserved by an open hold stays until the hold settles: expiry takes
    /// only what is available, and the next sweep takes the rest.
    pub async fn expire_lots(&self) -> Result<(usize, Micros), LedgerError> {
        let now_ms = self.clock.now_ms();
        // Lots in wallets whose money is all held cannot give anything now; leaving them
        // out keeps them from crowding out lots that can.
        let due = sqlx::query(
            "select l.id, l.wallet_id from credit_lot l join account a on a.id = l.wallet_id \
             where l.remaining_micros > 0 and l.expires_at_ms is not null and l.expires_at_ms <= $1 \
             and a.posted_micros > a.reserved_micros order by l.expires_at_ms, l.id limit 1000",
        )
        .bind(now_ms)
        .fetch_all(self.db.pool())
        .await?;
        let (mut count, mut total) = (0, Micros::ZERO);
        for row in due {
            let (lot_id, wallet): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            // One lot that fails must not stop the others from expiring.
            match self.expire_lot(lot_id, AccountId(wallet), now_ms).await {
                Ok(Some(taken)) => {
                    count += 1;
                    total = total.checked_add(taken).ok_or(LedgerError::Overflow)?;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(lot_id, error = %e, "could not expire a credit lot"),
            }
        }
        Ok((count, total))
    }

    async fn expire_lot(&self, lot_id: i64, wallet: AccountId, now_ms: i64) -> Result<Option<Micros>, LedgerError> {
        let mut tx = self.db.begin_write().await?;
        // A write first: it locks the wallet (PostgreSQL) or the database (SQLite) before
        // anything is read, and says what is available.
        let available: i64 = sqlx::query_scalar(
            "update account set posted_micros = posted_micros where id = $1 returning posted_micros - reserved_micros",
        )
        .bind(wallet.0)
        .fetch_one(&mut **tx)
        .await?;
        let remaining: i64 = sqlx::query_scalar("select remaining_micros from credit_lot where id = $1")
            .bind(lot_id)
            .fetch_one(&mut **tx)
            .await?;
        let take = Micros(remaining.min(available));
        if !take.is_positive() {
            return Ok(None);
        }
        let after = debit_wallet(&mut tx, wallet, take).await?;
        // The wallet's lock makes each expiry happen once; the key only has to be unique.
        let key = format!("expiry:lot:{lot_id}:{}", uuid::Uuid::new_v4().simple());
        let metadata = serde_json::json!({ "lot_id": lot_id });
        let receipt = insert_transfer(
            &mut tx,
            NewTransfer {
                debit: wallet,
                credit: self.system_account(SystemAccount::ExpiredCredit),
                amount: take,
                code: TransferCode::Expiry,
                idempotency_key: &key,
                description: "Credits expired",
                metadata: &metadata,
                wallet,
                wallet_balance_after: after,
                hold_id: None,
                reverses: None,
                now_ms,
            },
        )
        .await?;
        lots::take_from_lot(&mut tx, receipt.transfer_id, lot_id, take.get()).await?;
        tx.commit().await?;
        Ok(Some(take))
    }

    /// One pass of upkeep.
    pub async fn sweep(&self) -> Result<SweepReport, LedgerError> {
        let holds_expired = self.expire_holds().await?;
        let (lots_expired, expired) = self.expire_lots().await?;
        let lots_expiring = self.warn_expiring_lots().await?;
        Ok(SweepReport { holds_expired, lots_expired, expired, lots_expiring })
    }

    /// Writes `credits.expiring` once for each lot with credits left that expires within
    /// [`EXPIRY_WARNING_MS`]. Returns how many.
    pub async fn warn_expiring_lots(&self) -> Result<usize, LedgerError> {
        let now_ms = self.clock.now_ms();
        let due = sqlx::query(
            "select id, wallet_id from credit_lot where remaining_micros > 0 and expires_at_ms is not null \
             and expires_at_ms > $1 and expires_at_ms <= $2 and expiry_warned_at_ms is null limit 1000",
        )
        .bind(now_ms)
        .bind(now_ms.saturating_add(EXPIRY_WARNING_MS))
        .fetch_all(self.db.pool())
        .await?;
        let mut warned = 0;
        for lot in due {
            let (lot_id, wallet_id): (i64, i64) = (lot.try_get(0)?, lot.try_get(1)?);
            let mut tx = self.db.begin_write().await?;
            // The wallet first, as every change to its money locks it: the same order as a
            // capture drawing on this lot, so the two cannot deadlock.
            sqlx::query("update account set posted_micros = posted_micros where id = $1")
                .bind(wallet_id)
                .execute(&mut **tx)
                .await?;
            // The guard makes each warning happen once, whichever instance gets there.
            let row = sqlx::query(
                "update credit_lot set expiry_warned_at_ms = $1 where id = $2 and expiry_warned_at_ms is null \
                 returning wallet_id, remaining_micros, expires_at_ms",
            )
            .bind(now_ms)
            .bind(lot_id)
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else { continue };
            let wallet = AccountId(row.try_get(0)?);
            let data = serde_json::json!({
                "lot_id": lot_id,
                "remaining_micros": row.try_get::<i64, _>(1)?,
                "expires_at_ms": row.try_get::<i64, _>(2)?,
            });
            super::events::record(&mut tx, wallet, EventKind::CreditsExpiring, data, now_ms).await?;
            tx.commit().await?;
            warned += 1;
        }
        Ok(warned)
    }
}

/// Runs [`Ledger::sweep`] every `every` until the process ends. Several instances may run
/// it at once: every change is conditional, so they never double-expire anything.
pub fn spawn_sweeper(ledger: Ledger, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match ledger.sweep().await {
                Ok(r) if r.holds_expired > 0 || r.lots_expired > 0 => {
                    tracing::info!(
                        holds = r.holds_expired,
                        lots = r.lots_expired,
                        expired_micros = r.expired.get(),
                        "ledger sweep"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "ledger sweep failed; will retry"),
            }
        }
    })
}
