//! Postpaid wallets' credit lines.
//!
//! A wallet with a credit limit may spend past its own credits: when a hold or a debit
//! needs more than is available, the shortfall is drawn from the credit line, as a
//! transfer from `system:receivables` into the wallet (a lot of its own), and counted in
//! `credit_used_micros` by a guarded update that never passes the limit. The posted
//! balance never goes below zero, so the no-overdraft guard and its CHECK hold as for
//! every wallet. What a hold drew and did not use is given back when it closes. Paying
//! an invoice moves money from payments into receivables and lowers what is drawn.

use sqlx::{Any, Row, Transaction};

use super::transfers::{NewTransfer, credit_wallet, debit_wallet, insert_transfer};
use super::{AccountId, Ledger, LedgerError, SystemAccount, TransferCode, lots};
use crate::server::infra::db::WriteTx;
use crate::shared::money::Micros;

/// A wallet's credit line: the limit, and how much of it is drawn and not yet paid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreditLine {
    pub limit: Micros,
    pub used: Micros,
}

impl CreditLine {
    /// What can still be drawn.
    pub fn room(&self) -> Micros {
        Micros((self.limit.get() - self.used.get()).max(0))
    }
}

/// What paying part of a credit line did: what it paid down, and what was left over and
/// credited to the wallet instead (paid for credit the line had already taken back).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreditLinePayment {
    pub paid_down: Micros,
    pub credited: Micros,
}

impl Ledger {
    /// Sets how far `wallet` may spend on credit; zero makes it prepaid again. Lowering the
    /// limit under what is drawn stops new draws and takes nothing back.
    pub async fn set_credit_limit(&self, wallet: AccountId, limit: Micros) -> Result<(), LedgerError> {
        if limit.is_negative() {
            return Err(LedgerError::Invalid("a credit limit cannot be negative".into()));
        }
        let updated = sqlx::query("update account set credit_limit_micros = $1 where id = $2 and kind = 'wallet'")
            .bind(limit.get())
            .bind(wallet.0)
            .execute(self.db.pool())
            .await?
            .rows_affected();
        if updated == 1 { Ok(()) } else { Err(LedgerError::NotAWallet(wallet)) }
    }

    pub async fn credit_line(&self, wallet: AccountId) -> Result<CreditLine, LedgerError> {
        let row = sqlx::query("select credit_limit_micros, credit_used_micros from account where id = $1")
            .bind(wallet.0)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(LedgerError::UnknownAccount(wallet))?;
        Ok(CreditLine { limit: Micros(row.try_get(0)?), used: Micros(row.try_get(1)?) })
    }

    /// Records `amount` paid for the wallet's credit line (an invoice) in the caller's
    /// transaction, under `key`: it pays down what is drawn, and anything beyond that is
    /// credited to the wallet as a purchase.
    pub async fn pay_credit_line_in(
        &self,
        tx: &mut WriteTx,
        wallet: AccountId,
        amount: Micros,
        key: &str,
        description: &str,
    ) -> Result<CreditLinePayment, LedgerError> {
        super::require_key(key)?;
        super::require_positive(amount)?;
        let request = super::idempotency::canonical(
            &serde_json::json!({ "wallet": wallet.0, "amount": amount.get(), "description": description }),
        );
        if !super::idempotency::claim_in(tx, key, "pay_credit_line", &request, self.clock.now_ms()).await? {
            return Err(LedgerError::IdempotencyConflict(key.to_string()));
        }
        let now_ms = self.clock.now_ms();
        // Locks the wallet row (PostgreSQL) while reading what is drawn.
        let row = sqlx::query(
            "update account set credit_used_micros = credit_used_micros where id = $1 and kind = 'wallet' \
             returning credit_used_micros, posted_micros",
        )
        .bind(wallet.0)
        .fetch_optional(&mut ***tx)
        .await?
        .ok_or(LedgerError::NotAWallet(wallet))?;
        let (used, posted): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let mut out = CreditLinePayment { paid_down: Micros(used.min(amount.get())), ..Default::default() };
        if out.paid_down.is_positive() {
            sqlx::query("update account set credit_used_micros = credit_used_micros - $1 where id = $2")
                .bind(out.paid_down.get())
                .bind(wallet.0)
                .execute(&mut ***tx)
                .await?;
            insert_transfer(
                tx,
                NewTransfer {
                    debit: self.system_account(SystemAccount::PaymentsClearing),
                    credit: self.system_account(SystemAccount::Receivables),
                    amount: out.paid_down,
                    code: TransferCode::InvoicePayment,
                    idempotency_key: key,
                    description,
                    metadata: &serde_json::json!({ "credit_line": true }),
                    wallet,
                    wallet_balance_after: Micros(posted),
                    hold_id: None,
                    reverses: None,
                    now_ms,
                },
            )
            .await?;
        }
        let rest = Micros(amount.get() - out.paid_down.get());
        if rest.is_positive() {
            let request = super::CreditRequest {
                idempotency_key: format!("{key}:overpaid"),
                wallet,
                amount: rest,
                kind: super::CreditKind::Purchase,
                description: format!("{description}: paid for credit already given back"),
                metadata: serde_json::json!({ "credit_line": true }),
                expires_at_ms: None,
            };
            self.credit_in(tx, &request).await?;
            out.credited = rest;
        }
        super::idempotency::finish(tx, key, &serde_json::json!({ "paid_down": out.paid_down.get() })).await?;
        Ok(out)
    }
}

/// Draws on the wallet's credit line what `needed` lacks in available funds (as far as
/// the limit allows), under keys starting with `key`. Returns what was drawn; the caller's
/// guarded update decides whether that was enough.
pub(super) async fn draw(
    ledger: &Ledger,
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    needed: Micros,
    key: &str,
    now_ms: i64,
) -> Result<Micros, LedgerError> {
    let row = sqlx::query(
        "select posted_micros - reserved_micros, credit_limit_micros - credit_used_micros from account \
         where id = $1 and kind = 'wallet'",
    )
    .bind(wallet.0)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(Micros::ZERO) };
    let (available, room): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    if room <= 0 || available >= needed.get() {
        // Prepaid, or covered: the wallet row is left for the caller's guarded update.
        return Ok(Micros::ZERO);
    }
    // Short, with room: read again under the row's lock (PostgreSQL), so a call that ran
    // alongside and took the funds read above is seen, and this one draws what it needs.
    let row = sqlx::query(
        "update account set credit_used_micros = credit_used_micros where id = $1 \
         returning posted_micros - reserved_micros, credit_limit_micros - credit_used_micros",
    )
    .bind(wallet.0)
    .fetch_one(&mut **tx)
    .await?;
    let (available, room): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    let draw = Micros((needed.get() - available).min(room));
    if !draw.is_positive() {
        return Ok(Micros::ZERO);
    }
    // The guard keeps concurrent draws (two instances) within the limit.
    let drawn = sqlx::query(
        "update account set credit_used_micros = credit_used_micros + $1 \
         where id = $2 and credit_used_micros + $1 <= credit_limit_micros",
    )
    .bind(draw.get())
    .bind(wallet.0)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if drawn != 1 {
        return Ok(Micros::ZERO);
    }
    let after = credit_wallet(tx, wallet, draw).await?;
    let key = format!("{key}:credit-line");
    let transfer = insert_transfer(
        tx,
        NewTransfer {
            debit: ledger.system_account(SystemAccount::Receivables),
            credit: wallet,
            amount: draw,
            code: TransferCode::CreditLine,
            idempotency_key: &key,
            description: "Spent on credit",
            metadata: &serde_json::json!({ "credit_line": true }),
            wallet,
            wallet_balance_after: after,
            hold_id: None,
            reverses: None,
            now_ms,
        },
    )
    .await?;
    lots::create(tx, wallet, transfer.transfer_id, "credit_line", false, draw, None, now_ms).await?;
    Ok(draw)
}

/// Gives back to the credit line up to `up_to` of what was drawn and not spent, from the
/// wallet's available funds, under keys starting with `key`.
pub(super) async fn give_back(
    ledger: &Ledger,
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    up_to: Micros,
    key: &str,
    now_ms: i64,
) -> Result<Micros, LedgerError> {
    if !up_to.is_positive() {
        return Ok(Micros::ZERO);
    }
    let row = sqlx::query("select posted_micros - reserved_micros, credit_used_micros from account where id = $1")
        .bind(wallet.0)
        .fetch_one(&mut **tx)
        .await?;
    let (available, used): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    let back = Micros(up_to.get().min(available).min(used));
    if !back.is_positive() {
        return Ok(Micros::ZERO);
    }
    let after = debit_wallet(tx, wallet, back).await?;
    sqlx::query(
        "update account set credit_used_micros = credit_used_micros - $1 where id = $2 and credit_used_micros >= $1",
    )
    .bind(back.get())
    .bind(wallet.0)
    .execute(&mut **tx)
    .await?;
    let key = format!("{key}:credit-line-back");
    let transfer = insert_transfer(
        tx,
        NewTransfer {
            debit: wallet,
            credit: ledger.system_account(SystemAccount::Receivables),
            amount: back,
            code: TransferCode::CreditLine,
            idempotency_key: &key,
            description: "Credit not needed, given back",
            metadata: &serde_json::json!({ "credit_line": true }),
            wallet,
            wallet_balance_after: after,
            hold_id: None,
            reverses: None,
            now_ms,
        },
    )
    .await?;
    // The credit line's own lots go first: what is given back is what was drawn.
    let own: Vec<i64> = sqlx::query_scalar(
        "select id from credit_lot where wallet_id = $1 and source = 'credit_line' and remaining_micros > 0 \
         order by id desc",
    )
    .bind(wallet.0)
    .fetch_all(&mut **tx)
    .await?;
    lots::draw(tx, wallet, transfer.transfer_id, back, &own).await?;
    Ok(back)
}
