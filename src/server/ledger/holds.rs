//! Holds: money reserved before work starts, settled at the real cost after.

use sqlx::{Any, Row, Transaction};

use super::idempotency::grouped;
use super::transfers::{NewTransfer, debit_wallet, insert_transfer, refusal};
use super::{
    AccountId, CaptureReceipt, CaptureRequest, Hold, HoldRequest, HoldStatus, Ledger, LedgerError, SystemAccount,
    TransferCode, lots, require_key, require_object, require_positive,
};
use crate::server::infra::db::WriteTx;
use crate::server::infra::group_commit::Step;
use crate::shared::money::Micros;
use crate::shared::states::EventKind;

/// The longest a hold may live: long video jobs fit, forgotten holds do not linger.
pub const MAX_HOLD_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

impl Ledger {
    /// Reserves `amount` of the wallet's available funds until captured, voided or expired.
    #[tracing::instrument(skip(self, req), fields(key = %req.idempotency_key, wallet = %req.wallet, amount = req.amount.get()))]
    pub async fn create_hold(&self, req: &HoldRequest) -> Result<Hold, LedgerError> {
        check_hold(req)?;
        let lane = req.wallet.0.to_string();
        grouped(self, &lane, &req.idempotency_key, "hold", req.clone(), |ledger, tx, req| {
            Box::pin(ledger.write_hold(tx, req))
        })
        .await
    }

    /// Places a hold inside the caller's write transaction, so the hold and the caller's
    /// own record of it commit together or not at all. The caller commits.
    ///
    /// Nothing is kept for a replay: the caller's own record is what keeps the work from
    /// running twice (the gateway's usage record, unique per request id, written in the
    /// same transaction), and the key must be fresh, such as one made of a new call's id.
    pub async fn create_hold_in(&self, tx: &mut WriteTx, req: &HoldRequest) -> Result<Hold, LedgerError> {
        check_hold(req)?;
        self.write_hold(tx, req).await
    }

    async fn write_hold(&self, tx: &mut Transaction<'_, Any>, req: &HoldRequest) -> Result<Hold, LedgerError> {
        let now_ms = self.clock.now_ms();
        // Funds that cover the hold are reserved at once; a postpaid wallet short of them
        // draws the rest on its credit line first.
        let drawn = if try_reserve(tx, req.wallet, req.amount).await? {
            Micros::ZERO
        } else {
            let drawn =
                super::credit_line::draw(self, tx, req.wallet, req.amount, &req.idempotency_key, now_ms).await?;
            reserve(tx, req.wallet, req.amount).await?;
            drawn
        };
        let expires_at_ms = now_ms.saturating_add(req.ttl_ms);
        let id: i64 = sqlx::query_scalar(
            "insert into hold (wallet_id, amount_micros, status, description, metadata, expires_at_ms, created_at_ms, \
             credit_drawn_micros) values ($1, $2, 'open', $3, $4, $5, $6, $7) returning id",
        )
        .bind(req.wallet.0)
        .bind(req.amount.get())
        .bind(&req.description)
        .bind(req.metadata.to_string())
        .bind(expires_at_ms)
        .bind(now_ms)
        .bind(drawn.get())
        .fetch_one(&mut **tx)
        .await?;
        let data = serde_json::json!({
            "hold_id": id,
            "amount_micros": -req.amount.get(),
            "description": req.description,
            "metadata": req.metadata,
        });
        super::events::record(tx, req.wallet, EventKind::HoldPlaced, data, now_ms).await?;
        Ok(Hold {
            id,
            wallet: req.wallet,
            amount: req.amount,
            status: HoldStatus::Open,
            expires_at_ms,
            created_at_ms: now_ms,
        })
    }

    /// Settles a hold at the real cost. Up to the hold is always covered; above it, the
    /// difference comes from available funds as far as they go and the rest is reported
    /// as `uncollected`. The unused part of the hold is released.
    #[tracing::instrument(skip(self, req), fields(key = %req.idempotency_key, hold = req.hold_id, actual = req.actual.get()))]
    pub async fn capture_hold(&self, req: &CaptureRequest) -> Result<CaptureReceipt, LedgerError> {
        check_capture(req)?;
        let lane = format!("hold:{}", req.hold_id);
        grouped(self, &lane, &req.idempotency_key, "capture", req.clone(), |ledger, tx, req| {
            Box::pin(ledger.write_capture(tx, req))
        })
        .await
    }

    /// Captures inside the caller's write transaction. Nothing is kept for a replay (see
    /// [`Ledger::create_hold_in`]): a hold is captured once, as closing it is a guarded
    /// update, and the charge's transfer key is unique besides.
    pub async fn capture_hold_in(&self, tx: &mut WriteTx, req: &CaptureRequest) -> Result<CaptureReceipt, LedgerError> {
        check_capture(req)?;
        self.write_capture(tx, req).await
    }

    async fn write_capture(
        &self,
        tx: &mut Transaction<'_, Any>,
        req: &CaptureRequest,
    ) -> Result<CaptureReceipt, LedgerError> {
        let now_ms = self.clock.now_ms();
        let (wallet, held, hold_drawn) = close_hold(tx, req.hold_id, HoldStatus::Captured, now_ms, true).await?;
        let released = release(tx, wallet, held).await?;
        let mut available = released.available;
        // Above the hold, a postpaid wallet draws on its credit line as far as it goes.
        let extra = if req.actual > available {
            super::credit_line::draw(self, tx, wallet, req.actual, &req.idempotency_key, now_ms).await?
        } else {
            Micros::ZERO
        };
        available = Micros(available.get() + extra.get());
        // `available` includes the released hold, so the charge is covered.
        let charged = Micros(req.actual.get().min(available.get()));
        let uncollected = Micros(req.actual.get() - charged.get());
        let transfer = if charged.is_positive() {
            let after = debit_wallet(tx, wallet, charged).await?;
            let receipt = insert_transfer(
                tx,
                NewTransfer {
                    debit: wallet,
                    credit: self.system_account(SystemAccount::UsageRevenue),
                    amount: charged,
                    code: TransferCode::Usage,
                    idempotency_key: &req.idempotency_key,
                    description: &req.description,
                    metadata: &req.metadata,
                    wallet,
                    wallet_balance_after: after,
                    hold_id: Some(req.hold_id),
                    reverses: None,
                    now_ms,
                },
            )
            .await?;
            lots::draw(tx, wallet, receipt.transfer_id, charged, &[]).await?;
            Some(receipt)
        } else {
            // Nothing to charge: the hold's money is back, and says so.
            hold_released(tx, wallet, req.hold_id, held, "nothing_charged", now_ms).await?;
            None
        };
        sqlx::query("update hold set captured_micros = $1, uncollected_micros = $2 where id = $3")
            .bind(charged.get())
            .bind(uncollected.get())
            .bind(req.hold_id)
            .execute(&mut **tx)
            .await?;
        // Credit drawn for this hold and not spent goes back to the credit line; what the
        // hold no longer needs pays what the wallet owes, if it owes.
        let unused = Micros((held.get() + extra.get() - charged.get()).max(0));
        let drawn = Micros((hold_drawn.get() + extra.get()).min(unused.get()));
        let key = format!("hold:{}", req.hold_id);
        super::credit_line::give_back(self, tx, wallet, drawn, &key, now_ms).await?;
        if released.owes {
            super::clawback::repay_owed(self, tx, wallet, &key, now_ms).await?;
        }
        Ok(CaptureReceipt { hold_id: req.hold_id, charged, uncollected, transfer })
    }

    /// Releases a hold without charging anything (the work failed, or never ran).
    /// Voiding a voided hold is a no-op; voiding a captured or expired one is an error.
    #[tracing::instrument(skip(self))]
    pub async fn void_hold(&self, hold_id: i64) -> Result<Hold, LedgerError> {
        let ledger = self.clone();
        let voided = self
            .db
            .write_grouped(&format!("hold:{hold_id}"), move |tx| {
                let ledger = ledger.clone();
                Box::pin(async move {
                    Ok(match ledger.void_hold_in(tx, hold_id).await {
                        Ok(true) => Step::Keep(Ok(())),
                        Ok(false) => Step::Undo(Ok(())),
                        Err(e @ LedgerError::Database(_)) => return Err(e),
                        Err(refused) => Step::Undo(Err(refused)),
                    })
                })
            })
            .await?;
        voided?;
        self.hold(hold_id).await
    }

    /// Voids inside the caller's write transaction. `false` when it was voided already.
    pub async fn void_hold_in(&self, tx: &mut WriteTx, hold_id: i64) -> Result<bool, LedgerError> {
        let now_ms = self.clock.now_ms();
        // A hold past its expiry that the sweeper has not reached yet is voided all the same.
        match close_hold(tx, hold_id, HoldStatus::Voided, now_ms, false).await {
            Ok((wallet, held, drawn)) => {
                let released = release(tx, wallet, held).await?;
                hold_released(tx, wallet, hold_id, held, "voided", now_ms).await?;
                let key = format!("hold:{hold_id}");
                super::credit_line::give_back(self, tx, wallet, drawn, &key, now_ms).await?;
                if released.owes {
                    super::clawback::repay_owed(self, tx, wallet, &key, now_ms).await?;
                }
                Ok(true)
            }
            Err(LedgerError::HoldNotOpen { status: HoldStatus::Voided, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Expires open holds whose time is up, releasing their reservations. Returns how many.
    pub async fn expire_holds(&self) -> Result<usize, LedgerError> {
        let now_ms = self.clock.now_ms();
        let due: Vec<i64> = sqlx::query_scalar(
            "select id from hold where status = 'open' and expires_at_ms <= $1 order by expires_at_ms limit 1000",
        )
        .bind(now_ms)
        .fetch_all(self.db.pool())
        .await?;
        let mut expired = 0;
        for id in due {
            let mut tx = self.db.begin_write().await?;
            let closed = sqlx::query(
                "update hold set status = 'expired', closed_at_ms = $1 \
                 where id = $2 and status = 'open' and expires_at_ms <= $1 \
                 returning wallet_id, amount_micros, credit_drawn_micros",
            )
            .bind(now_ms)
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
            // Someone captured or voided it in the meantime: nothing to do.
            let Some(row) = closed else { continue };
            let wallet = AccountId(row.try_get(0)?);
            let key = format!("hold:{id}");
            let held = Micros(row.try_get(1)?);
            let drawn = Micros(row.try_get(2)?);
            let released: Result<(), LedgerError> = async {
                let released = release(&mut tx, wallet, held).await?;
                hold_released(&mut tx, wallet, id, held, "expired", now_ms).await?;
                super::credit_line::give_back(self, &mut tx, wallet, drawn, &key, now_ms).await?;
                if released.owes {
                    super::clawback::repay_owed(self, &mut tx, wallet, &key, now_ms).await?;
                }
                Ok(())
            }
            .await;
            // One hold that fails must not stop the others from expiring.
            match released {
                Ok(_) => {
                    tx.commit().await?;
                    expired += 1;
                }
                Err(e) => tracing::error!(hold_id = id, error = %e, "could not expire a hold"),
            }
        }
        Ok(expired)
    }

    pub async fn hold(&self, hold_id: i64) -> Result<Hold, LedgerError> {
        let row = sqlx::query(
            "select wallet_id, amount_micros, status, expires_at_ms, created_at_ms from hold where id = $1",
        )
        .bind(hold_id)
        .fetch_optional(self.db.pool())
        .await?
        .ok_or(LedgerError::UnknownHold(hold_id))?;
        Ok(Hold {
            id: hold_id,
            wallet: AccountId(row.try_get(0)?),
            amount: Micros(row.try_get(1)?),
            status: parse_status(&row.try_get::<String, _>(2)?)?,
            expires_at_ms: row.try_get(3)?,
            created_at_ms: row.try_get(4)?,
        })
    }
}

fn check_hold(req: &HoldRequest) -> Result<(), LedgerError> {
    require_key(&req.idempotency_key)?;
    require_positive(req.amount)?;
    require_object(&req.metadata)?;
    if !(1..=MAX_HOLD_TTL_MS).contains(&req.ttl_ms) {
        return Err(LedgerError::Invalid(format!("a hold's time to live must be 1 ms to {MAX_HOLD_TTL_MS} ms")));
    }
    Ok(())
}

fn check_capture(req: &CaptureRequest) -> Result<(), LedgerError> {
    require_key(&req.idempotency_key)?;
    require_object(&req.metadata)?;
    if req.actual.is_negative() {
        return Err(LedgerError::Invalid("a capture's cost cannot be negative".into()));
    }
    Ok(())
}

fn parse_status(s: &str) -> Result<HoldStatus, LedgerError> {
    HoldStatus::parse(s).ok_or_else(|| LedgerError::Inconsistent(format!("unknown hold status {s:?}")))
}

/// Moves available funds into the reserved column, only if they are there; `false`, and
/// nothing changed, when they are not.
async fn try_reserve(tx: &mut Transaction<'_, Any>, wallet: AccountId, amount: Micros) -> Result<bool, LedgerError> {
    let updated = sqlx::query(
        "update account set reserved_micros = reserved_micros + $1 \
         where id = $2 and kind = 'wallet' and posted_micros - reserved_micros >= $1",
    )
    .bind(amount.get())
    .bind(wallet.0)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Moves available funds into the reserved column, or refuses with what is available.
async fn reserve(tx: &mut Transaction<'_, Any>, wallet: AccountId, amount: Micros) -> Result<(), LedgerError> {
    if try_reserve(tx, wallet, amount).await? {
        return Ok(());
    }
    Err(refusal(tx, wallet, |available| LedgerError::InsufficientFunds { needed: amount, available }).await?)
}

/// A hold's reservation given back: the wallet's available funds afterwards, and whether
/// it owes anything (settling a hold changes neither that nor the row's lock, so when it
/// owes nothing there is nothing to repay).
struct Released {
    available: Micros,
    owes: bool,
}

/// Gives a hold's reservation back.
async fn release(tx: &mut Transaction<'_, Any>, wallet: AccountId, amount: Micros) -> Result<Released, LedgerError> {
    let row = sqlx::query(
        "update account set reserved_micros = reserved_micros - $1 \
         where id = $2 and reserved_micros >= $1 returning posted_micros - reserved_micros, owed_micros",
    )
    .bind(amount.get())
    .bind(wallet.0)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or_else(|| LedgerError::Inconsistent(format!("wallet {wallet} has less reserved than a hold on it")))?;
    Ok(Released { available: Micros(row.try_get(0)?), owes: row.try_get::<i64, _>(1)? > 0 })
}

/// The event of a hold whose money went back to the wallet uncharged (`why`: voided,
/// expired, nothing_charged).
async fn hold_released(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    hold_id: i64,
    held: Micros,
    why: &str,
    now_ms: i64,
) -> Result<(), LedgerError> {
    let data = serde_json::json!({ "hold_id": hold_id, "amount_micros": held.get(), "reason": why });
    super::events::record(tx, wallet, EventKind::HoldVoided, data, now_ms).await?;
    Ok(())
}

/// Moves an open, unexpired hold to `status`; returns its wallet, its amount and what it
/// drew on the wallet's credit line when placed. The conditional update is the lock: two
/// captures of one hold cannot both succeed.
async fn close_hold(
    tx: &mut Transaction<'_, Any>,
    hold_id: i64,
    status: HoldStatus,
    now_ms: i64,
    require_unexpired: bool,
) -> Result<(AccountId, Micros, Micros), LedgerError> {
    let row = sqlx::query(
        "update hold set status = $1, closed_at_ms = $2 \
         where id = $3 and status = 'open' and (expires_at_ms > $2 or $4 = 0) \
         returning wallet_id, amount_micros, credit_drawn_micros",
    )
    .bind(status.as_str())
    .bind(now_ms)
    .bind(hold_id)
    .bind(i64::from(require_unexpired))
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = row {
        return Ok((AccountId(row.try_get(0)?), Micros(row.try_get(1)?), Micros(row.try_get(2)?)));
    }
    let current = sqlx::query("select status, expires_at_ms from hold where id = $1")
        .bind(hold_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(LedgerError::UnknownHold(hold_id))?;
    let current_status = parse_status(&current.try_get::<String, _>(0)?)?;
    Err(match current_status {
        HoldStatus::Open => LedgerError::HoldExpired(hold_id),
        other => LedgerError::HoldNotOpen { id: hold_id, status: other },
    })
}
