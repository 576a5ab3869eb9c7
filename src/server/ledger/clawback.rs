//! Taking credits back when the money behind them goes back (a refund, a dispute), and
//! what a wallet owes when they were already spent.
//!
//! A claw-back takes what it can from the wallet's available funds, drawing first on the
//! lots the payment created, and adds the rest to the wallet's `owed_micros`. The posted
//! balance never goes below zero, so the no-overdraft guard and its CHECK stay as they
//! are for every wallet; what is owed is kept beside it, blocks new work, and is paid
//! first out of the wallet's next credits ([`repay_owed`]).

use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};

use super::transfers::{NewTransfer, debit_wallet, insert_transfer};
use super::{AccountId, Ledger, LedgerError, SystemAccount, TransferCode, lots};
use crate::server::infra::db::WriteTx;
use crate::shared::money::Micros;

/// Credits to take back from a wallet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClawbackRequest {
    pub idempotency_key: String,
    pub wallet: AccountId,
    pub amount: Micros,
    /// Where the credits came from, and so go back to.
    pub destination: SystemAccount,
    /// The credit transfers whose lots are drawn on first (the purchase being refunded).
    pub from_credits: Vec<i64>,
    pub description: String,
    pub metadata: serde_json::Value,
}

/// What a claw-back did: taken from the wallet now, and added to what it owes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClawbackReceipt {
    pub transfer_id: Option<i64>,
    pub taken: Micros,
    pub owed: Micros,
}

impl Ledger {
    /// Takes credits back inside the caller's transaction (which also records why). A key
    /// used before is refused with `IdempotencyConflict`; the caller rolls back.
    pub async fn claw_back_in(&self, tx: &mut WriteTx, req: &ClawbackRequest) -> Result<ClawbackReceipt, LedgerError> {
        super::require_key(&req.idempotency_key)?;
        super::require_positive(req.amount)?;
        super::require_object(&req.metadata)?;
        let request = super::idempotency::canonical(req);
        let now_ms = self.clock.now_ms();
        if !super::idempotency::claim_in(tx, &req.idempotency_key, "claw_back", &request, now_ms).await? {
            return Err(LedgerError::IdempotencyConflict(req.idempotency_key.clone()));
        }
        // Locks the wallet row (PostgreSQL) and reads what can be taken now.
        let available: Option<i64> = sqlx::query_scalar(
            "update account set owed_micros = owed_micros where id = $1 and kind = 'wallet' \
             returning posted_micros - reserved_micros",
        )
        .bind(req.wallet.0)
        .fetch_optional(&mut ***tx)
        .await?;
        let available = available.ok_or(LedgerError::NotAWallet(req.wallet))?;
        let taken = Micros(available.clamp(0, req.amount.get()));
        let owed = Micros(req.amount.get() - taken.get());
        let mut receipt = ClawbackReceipt { transfer_id: None, taken, owed };
        if taken.is_positive() {
            let after = debit_wallet(tx, req.wallet, taken).await?;
            let transfer = insert_transfer(
                tx,
                NewTransfer {
                    debit: req.wallet,
                    credit: self.system_account(req.destination),
                    amount: taken,
                    code: TransferCode::Refund,
                    idempotency_key: &req.idempotency_key,
                    description: &req.description,
                    metadata: &req.metadata,
                    wallet: req.wallet,
                    wallet_balance_after: after,
                    hold_id: None,
                    reverses: None,
                    now_ms,
                },
            )
            .await?;
            let mut first = Vec::new();
            for credit in &req.from_credits {
                first.extend(lots::lot_of_transfer(tx, *credit).await?);
            }
            lots::draw(tx, req.wallet, transfer.transfer_id, taken, &first).await?;
            receipt.transfer_id = Some(transfer.transfer_id);
        }
        if owed.is_positive() {
            change_owed(tx, req.wallet, owed.get(), OwedReason::TakenBack, &req.idempotency_key, None, now_ms).await?;
        }
        super::idempotency::finish(tx, &req.idempotency_key, &receipt).await?;
        Ok(receipt)
    }

    /// Forgives up to `amount` of what the wallet owes (a dispute decided for the payer
    /// cancels the debt it made), under `key`. Returns what was forgiven.
    pub async fn forgive_owed_in(
        &self,
        tx: &mut WriteTx,
        wallet: AccountId,
        amount: Micros,
        key: &str,
    ) -> Result<Micros, LedgerError> {
        super::require_key(key)?;
        // Locks the wallet row (PostgreSQL) while reading, so a credit paying what is owed
        // cannot slip in between this read and the change below.
        let before: Option<i64> = sqlx::query_scalar(
            "update account set owed_micros = owed_micros where id = $1 and kind = 'wallet' returning owed_micros",
        )
        .bind(wallet.0)
        .fetch_optional(&mut ***tx)
        .await?;
        let forgiven = Micros(before.ok_or(LedgerError::NotAWallet(wallet))?.clamp(0, amount.get().max(0)));
        if forgiven.is_positive() {
            change_owed(tx, wallet, -forgiven.get(), OwedReason::Forgiven, key, None, self.clock.now_ms()).await?;
        }
        Ok(forgiven)
    }
}

/// Why what a wallet owes changed, as its journal (`owed_change`) says.
#[derive(Clone, Copy)]
enum OwedReason {
    TakenBack,
    Repaid,
    Forgiven,
}

impl OwedReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::TakenBack => "taken_back",
            Self::Repaid => "repaid",
            Self::Forgiven => "forgiven",
        }
    }
}

/// Changes what `wallet` owes by `delta` and writes the change to its journal under `key`
/// (unique: a replay cannot change it twice). The guard keeps the debt from going below
/// zero.
async fn change_owed(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    delta: i64,
    reason: OwedReason,
    key: &str,
    transfer_id: Option<i64>,
    now_ms: i64,
) -> Result<(), LedgerError> {
    let changed = sqlx::query(
        "update account set owed_micros = owed_micros + $1 where id = $2 and kind = 'wallet' and owed_micros + $1 >= 0",
    )
    .bind(delta)
    .bind(wallet.0)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(LedgerError::Inconsistent(format!("wallet {wallet} cannot owe {delta} micro-USD more")));
    }
    sqlx::query(
        "insert into owed_change (wallet_id, delta_micros, reason, idempotency_key, transfer_id, created_at_ms) \
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(wallet.0)
    .bind(delta)
    .bind(reason.as_str())
    .bind(key)
    .bind(transfer_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Pays what the wallet owes out of its available funds, as far as they go, under keys
/// starting with `key` (the credit's, or the released hold's). Runs in the transaction
/// that just made funds available (a credit, a hold released), after the wallet row was
/// updated and so locked.
pub(super) async fn repay_owed(
    ledger: &Ledger,
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    key: &str,
    now_ms: i64,
) -> Result<Micros, LedgerError> {
    let row = sqlx::query("select owed_micros, posted_micros - reserved_micros from account where id = $1")
        .bind(wallet.0)
        .fetch_one(&mut **tx)
        .await?;
    let (owed, available): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    let pay = Micros(owed.min(available));
    if !pay.is_positive() {
        return Ok(Micros::ZERO);
    }
    let after = debit_wallet(tx, wallet, pay).await?;
    let key = format!("{key}:repays-owed");
    let transfer = insert_transfer(
        tx,
        NewTransfer {
            debit: wallet,
            credit: ledger.system_account(SystemAccount::PaymentsClearing),
            amount: pay,
            code: TransferCode::Refund,
            idempotency_key: &key,
            description: "Paid what was owed for credits taken back",
            metadata: &serde_json::json!({ "repays_owed": true }),
            wallet,
            wallet_balance_after: after,
            hold_id: None,
            reverses: None,
            now_ms,
        },
    )
    .await?;
    change_owed(tx, wallet, -pay.get(), OwedReason::Repaid, &key, Some(transfer.transfer_id), now_ms).await?;
    lots::draw(tx, wallet, transfer.transfer_id, pay, &[]).await?;
    Ok(pay)
}
