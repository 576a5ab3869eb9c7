//! Credits, debits and reversals.

use sqlx::{Any, Row, Transaction};

use super::idempotency::{grouped, idempotent};
use super::{
    AccountId, CreditRequest, DebitRequest, Ledger, LedgerError, TransferCode, TransferReceipt, lots, require_key,
    require_object, require_positive,
};
use crate::shared::money::Micros;

/// A transfer about to be written.
pub(super) struct NewTransfer<'a> {
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Micros,
    pub code: TransferCode,
    pub idempotency_key: &'a str,
    pub description: &'a str,
    pub metadata: &'a serde_json::Value,
    pub wallet: AccountId,
    pub wallet_balance_after: Micros,
    pub hold_id: Option<i64>,
    pub reverses: Option<i64>,
    pub now_ms: i64,
}

pub(super) async fn insert_transfer(
    tx: &mut Transaction<'_, Any>,
    t: NewTransfer<'_>,
) -> Result<TransferReceipt, LedgerError> {
    let id: i64 = sqlx::query_scalar(
        "insert into transfer (debit_account_id, credit_account_id, amount_micros, code, idempotency_key, \
         description, metadata, wallet_id, wallet_balance_after_micros, hold_id, reverses_transfer_id, created_at_ms) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning id",
    )
    .bind(t.debit.0)
    .bind(t.credit.0)
    .bind(t.amount.get())
    .bind(t.code.as_str())
    .bind(t.idempotency_key)
    .bind(t.description)
    .bind(t.metadata.to_string())
    .bind(t.wallet.0)
    .bind(t.wallet_balance_after.get())
    .bind(t.hold_id)
    .bind(t.reverses)
    .bind(t.now_ms)
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() && t.reverses.is_some() => {
            LedgerError::AlreadyReversed(t.reverses.unwrap_or_default())
        }
        _ => LedgerError::Database(e),
    })?;
    // The transfer's event, in the same transaction: published if and only if it commits.
    let money_in = t.credit == t.wallet;
    let signed = if money_in { t.amount } else { Micros(-t.amount.get()) };
    let kind = super::events::kind_of_transfer(t.code, money_in, t.metadata);
    let data = super::events::transfer_data(id, t.code, signed, t.description, t.metadata);
    super::events::record(tx, t.wallet, kind, data, t.now_ms).await?;
    Ok(TransferReceipt {
        transfer_id: id,
        amount: t.amount,
        code: t.code,
        wallet_balance_after: t.wallet_balance_after,
        created_at_ms: t.now_ms,
    })
}

/// Adds to a wallet's posted balance; returns the new balance.
pub(super) async fn credit_wallet(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    amount: Micros,
) -> Result<Micros, LedgerError> {
    let after: Option<i64> = sqlx::query_scalar(
        "update account set posted_micros = posted_micros + $1 \
         where id = $2 and kind = 'wallet' and posted_micros <= 9223372036854775807 - $1 returning posted_micros",
    )
    .bind(amount.get())
    .bind(wallet.0)
    .fetch_optional(&mut **tx)
    .await?;
    match after {
        Some(after) => Ok(Micros(after)),
        None => Err(refusal(tx, wallet, |_| LedgerError::Overflow).await?),
    }
}

/// Takes from a wallet's available funds, in the statement itself: the update matches
/// no row when posted − reserved is less than the amount. Returns the new balance.
pub(super) async fn debit_wallet(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    amount: Micros,
) -> Result<Micros, LedgerError> {
    let after: Option<i64> = sqlx::query_scalar(
        "update account set posted_micros = posted_micros - $1 \
         where id = $2 and kind = 'wallet' and posted_micros - reserved_micros >= $1 returning posted_micros",
    )
    .bind(amount.get())
    .bind(wallet.0)
    .fetch_optional(&mut **tx)
    .await?;
    match after {
        Some(after) => Ok(Micros(after)),
        None => {
            Err(refusal(tx, wallet, |available| LedgerError::InsufficientFunds { needed: amount, available }).await?)
        }
    }
}

/// Why a guarded update of `wallet` matched no row: no such account, not a wallet, or
/// (for a real wallet) whatever `on_wallet` makes of its available funds.
pub(super) async fn refusal(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    on_wallet: impl FnOnce(Micros) -> LedgerError,
) -> Result<LedgerError, LedgerError> {
    let row = sqlx::query("select kind, posted_micros - reserved_micros from account where id = $1")
        .bind(wallet.0)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        None => LedgerError::UnknownAccount(wallet),
        Some(r) if r.try_get::<String, _>(0)? != "wallet" => LedgerError::NotAWallet(wallet),
        Some(r) => on_wallet(Micros(r.try_get(1)?)),
    })
}

impl Ledger {
    /// Puts money into a wallet as a new credit lot.
    #[tracing::instrument(skip(self, req), fields(key = %req.idempotency_key, wallet = %req.wallet, amount = req.amount.get()))]
    pub async fn credit(&self, req: &CreditRequest) -> Result<TransferReceipt, LedgerError> {
        require_key(&req.idempotency_key)?;
        require_positive(req.amount)?;
        require_object(&req.metadata)?;
        let lane = req.wallet.0.to_string();
        grouped(self, &lane, &req.idempotency_key, "credit", req.clone(), |ledger, tx, req| {
            Box::pin(ledger.write_credit(tx, req))
        })
        .await
    }

    /// Credits inside the caller's write transaction, so the credit and the caller's own
    /// writes (a gift code's use, say) commit together or not at all. The caller commits.
    /// Here the key guards against doing it twice: one used before is refused with
    /// `IdempotencyConflict`, and the caller's transaction should be rolled back.
    pub async fn credit_in(
        &self,
        tx: &mut crate::server::infra::db::WriteTx,
        req: &CreditRequest,
    ) -> Result<TransferReceipt, LedgerError> {
        require_key(&req.idempotency_key)?;
        require_positive(req.amount)?;
        require_object(&req.metadata)?;
        let request = super::idempotency::canonical(req);
        if !super::idempotency::claim_in(tx, &req.idempotency_key, "credit", &request, self.clock.now_ms()).await? {
            return Err(LedgerError::IdempotencyConflict(req.idempotency_key.clone()));
        }
        let receipt = self.write_credit(tx, req).await?;
        super::idempotency::finish(tx, &req.idempotency_key, &receipt).await?;
        Ok(receipt)
    }

    async fn write_credit(
        &self,
        tx: &mut Transaction<'_, Any>,
        req: &CreditRequest,
    ) -> Result<TransferReceipt, LedgerError> {
        let now_ms = self.clock.now_ms();
        let after = credit_wallet(tx, req.wallet, req.amount).await?;
        let receipt = insert_transfer(
            tx,
            NewTransfer {
                debit: self.system_account(req.kind.source()),
                credit: req.wallet,
                amount: req.amount,
                code: req.kind.code(),
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
        let code = req.kind.code().as_str();
        lots::create(
            tx,
            req.wallet,
            receipt.transfer_id,
            code,
            req.kind.promotional(),
            req.amount,
            req.expires_at_ms,
            now_ms,
        )
        .await?;
        // Credits pay what the wallet owes (for credits taken back) before anything else.
        super::clawback::repay_owed(self, tx, req.wallet, &req.idempotency_key, now_ms).await?;
        Ok(receipt)
    }

    /// Takes money out of a wallet's available funds, or fails with `InsufficientFunds`
    /// and writes nothing.
    #[tracing::instrument(skip(self, req), fields(key = %req.idempotency_key, wallet = %req.wallet, amount = req.amount.get()))]
    pub async fn debit(&self, req: &DebitRequest) -> Result<TransferReceipt, LedgerError> {
        require_key(&req.idempotency_key)?;
        require_positive(req.amount)?;
        require_object(&req.metadata)?;
        let lane = req.wallet.0.to_string();
        grouped(self, &lane, &req.idempotency_key, "debit", req.clone(), |ledger, tx, req| {
            Box::pin(ledger.write_debit(tx, req))
        })
        .await
    }

    async fn write_debit(
        &self,
        tx: &mut Transaction<'_, Any>,
        req: &DebitRequest,
    ) -> Result<TransferReceipt, LedgerError> {
        let now_ms = self.clock.now_ms();
        // The guarded debit first: a wallet that has the money needs nothing else. One that
        // is short draws on its credit line, if it has one, and is debited again. Only usage
        // is spent on credit: a refund or a correction never pays out borrowed money.
        let after = match debit_wallet(tx, req.wallet, req.amount).await {
            Err(LedgerError::InsufficientFunds { .. }) if req.kind == super::DebitKind::Usage => {
                super::credit_line::draw(self, tx, req.wallet, req.amount, &req.idempotency_key, now_ms).await?;
                debit_wallet(tx, req.wallet, req.amount).await?
            }
            result => result?,
        };
        let receipt = insert_transfer(
            tx,
            NewTransfer {
                debit: req.wallet,
                credit: self.system_account(req.kind.destination()),
                amount: req.amount,
                code: req.kind.code(),
                idempotency_key: &req.idempotency_key,
                description: &req.description,
                metadata: &req.metadata,
                wallet: req.wallet,
                wallet_balance_after: after,
                hold_id: None,
                reverses: None,
                now_ms: self.clock.now_ms(),
            },
        )
        .await?;
        lots::draw(tx, req.wallet, receipt.transfer_id, req.amount, &[]).await?;
        Ok(receipt)
    }

    /// Writes the transfer that undoes `transfer_id`: money goes back the way it came.
    /// Undoing a credit needs the money to still be available in the wallet; undoing a
    /// debit puts the money back into the lots it came from.
    #[tracing::instrument(skip(self, description))]
    pub async fn reverse(
        &self,
        idempotency_key: &str,
        transfer_id: i64,
        description: &str,
    ) -> Result<TransferReceipt, LedgerError> {
        require_key(idempotency_key)?;
        let request = serde_json::json!({ "transfer_id": transfer_id, "description": description });
        idempotent!(self, idempotency_key, "reverse", &request, |tx| {
            let row = sqlx::query(
                "select debit_account_id, credit_account_id, amount_micros, code, wallet_id, reverses_transfer_id \
                 from transfer where id = $1",
            )
            .bind(transfer_id)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(LedgerError::UnknownTransfer(transfer_id))?;
            let debit = AccountId(row.try_get(0)?);
            let credit = AccountId(row.try_get(1)?);
            let amount = Micros(row.try_get(2)?);
            let code = TransferCode::parse(&row.try_get::<String, _>(3)?)
                .ok_or_else(|| LedgerError::Inconsistent(format!("transfer {transfer_id} has an unknown code")))?;
            let wallet = row.try_get::<Option<i64>, _>(4)?.map(AccountId);
            let is_reversal = row.try_get::<Option<i64>, _>(5)?.is_some();
            // Expiry, and the credit line's own movements (undone by giving back or paying,
            // never by reversing), are not reversible.
            let reversible =
                !matches!(code, TransferCode::Expiry | TransferCode::CreditLine | TransferCode::InvoicePayment);
            let Some(wallet) = wallet.filter(|_| !is_reversal && reversible) else {
                return Err(LedgerError::NotReversible(transfer_id));
            };
            let now_ms = self.clock.now_ms();
            let meta = serde_json::json!({ "reverses_transfer_id": transfer_id });
            let mut new = NewTransfer {
                debit: credit,
                credit: debit,
                amount,
                code,
                idempotency_key,
                description,
                metadata: &meta,
                wallet,
                wallet_balance_after: Micros::ZERO,
                hold_id: None,
                reverses: Some(transfer_id),
                now_ms,
            };
            if credit == wallet {
                // The original put money in: take it back out, from its own lot first.
                new.wallet_balance_after = debit_wallet(&mut tx, wallet, amount).await?;
                let receipt = insert_transfer(&mut tx, new).await?;
                let own_lot = lots::lot_of_transfer(&mut tx, transfer_id).await?;
                lots::draw(&mut tx, wallet, receipt.transfer_id, amount, own_lot.as_slice()).await?;
                receipt
            } else {
                new.wallet_balance_after = credit_wallet(&mut tx, wallet, amount).await?;
                let receipt = insert_transfer(&mut tx, new).await?;
                lots::restore(&mut tx, transfer_id, receipt.transfer_id).await?;
                receipt
            }
        })
    }
}
