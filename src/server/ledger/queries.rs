//! Reading balances and history.

use sqlx::Row;

use super::{AccountId, Balance, HistoryEntry, HistoryPage, Ledger, LedgerError, TransferCode};
use crate::shared::money::Micros;

/// The most entries one history page returns.
pub const MAX_PAGE: u32 = 200;

/// The columns a balance is read from, in the order [`read_balance`] reads them.
macro_rules! balance_columns {
    () => {
        "posted_micros, reserved_micros, owed_micros, credit_limit_micros, credit_used_micros"
    };
}

/// A wallet's balance from `balance_columns!()`, starting at column `first`.
fn read_balance(row: &sqlx::any::AnyRow, first: usize) -> Result<Balance, sqlx::Error> {
    let get = |i: usize| row.try_get::<i64, _>(first + i).map(Micros);
    let (posted, reserved) = (get(0)?, get(1)?);
    Ok(Balance {
        posted,
        reserved,
        available: Micros(posted.get() - reserved.get()),
        owed: get(2)?,
        credit_limit: get(3)?,
        credit_used: get(4)?,
    })
}

impl Ledger {
    pub async fn balance(&self, wallet: AccountId) -> Result<Balance, LedgerError> {
        let row = sqlx::query(concat!("select kind, ", balance_columns!(), " from account where id = $1"))
            .bind(wallet.0)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or(LedgerError::UnknownAccount(wallet))?;
        if row.try_get::<String, _>(0)? != "wallet" {
            return Err(LedgerError::NotAWallet(wallet));
        }
        Ok(read_balance(&row, 1)?)
    }

    /// The balance of `owner_id`'s wallet, in one read; zero when no wallet was opened.
    pub async fn balance_of(&self, owner_id: &str) -> Result<Balance, LedgerError> {
        let row = sqlx::query(concat!("select ", balance_columns!(), " from account where code = $1"))
            .bind(format!("wallet:{owner_id}"))
            .fetch_optional(self.db.pool())
            .await?;
        match row {
            Some(row) => Ok(read_balance(&row, 0)?),
            None => Ok(Balance::default()),
        }
    }

    /// A wallet's transfers with one of `codes` (all when empty), newest first, `limit`
    /// at a time. Pass the previous page's `next_before` to continue; pages stay stable
    /// while new transfers arrive.
    pub async fn history(
        &self,
        wallet: AccountId,
        codes: &[TransferCode],
        before: Option<i64>,
        limit: u32,
    ) -> Result<HistoryPage, LedgerError> {
        let limit = limit.clamp(1, MAX_PAGE);
        // Codes are a fixed vocabulary, bound as parameters like everything else.
        let filter = if codes.is_empty() {
            String::new()
        } else {
            let params: Vec<String> = (0..codes.len()).map(|i| format!("${}", i + 4)).collect();
            format!(" and code in ({})", params.join(", "))
        };
        let sql = format!(
            "select id, code, credit_account_id, amount_micros, wallet_balance_after_micros, description, metadata, \
             hold_id, reverses_transfer_id, created_at_ms from transfer \
             where wallet_id = $1 and id < $2{filter} order by id desc limit $3"
        );
        let mut query = sqlx::query(&sql).bind(wallet.0).bind(before.unwrap_or(i64::MAX)).bind(i64::from(limit) + 1);
        for code in codes {
            query = query.bind(code.as_str());
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in rows.iter().take(limit as usize) {
            let code: String = row.try_get(1)?;
            let amount = Micros(row.try_get(3)?);
            // An invoice payment moves money between system accounts on the wallet's
            // behalf: shown as what was paid, leaving the balance as it was.
            let incoming = AccountId(row.try_get(2)?) == wallet || code == TransferCode::InvoicePayment.as_str();
            let metadata: String = row.try_get(6)?;
            entries.push(HistoryEntry {
                transfer_id: row.try_get(0)?,
                code: TransferCode::parse(&code)
                    .ok_or_else(|| LedgerError::Inconsistent(format!("unknown transfer code {code:?}")))?,
                amount: if incoming { amount } else { Micros(-amount.get()) },
                balance_after: Micros(row.try_get(4)?),
                description: row.try_get(5)?,
                metadata: serde_json::from_str(&metadata).unwrap_or(serde_json::Value::Null),
                hold_id: row.try_get(7)?,
                reverses_transfer_id: row.try_get(8)?,
                created_at_ms: row.try_get(9)?,
            });
        }
        let next_before = (rows.len() > limit as usize).then(|| entries.last().map(|e| e.transfer_id)).flatten();
        Ok(HistoryPage { entries, next_before })
    }
}
