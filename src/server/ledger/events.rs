//! The outbox: every money event, written in the transaction that changes the money, and
//! numbered per wallet (1, 2, 3 ...). Nothing is published that did not commit, and
//! nothing committed is lost: readers (the live balance stream, webhooks, notices) read
//! the table after a wallet's last number they saw.
//!
//! Each transfer writes one event (its kind from the transfer's code and metadata), and
//! so do holds placed and voided. Each event carries the wallet's balance after it. When
//! the balance (held money included) falls under the low-balance threshold
//! (`ledger_setting`), a `balance.low` event follows, once until it is back above. Each event also
//! writes a pending delivery for every webhook endpoint that wants its kind (a trigger
//! does, as the event is inserted).

use serde_json::{Value, json};
use sqlx::{Any, Row, Transaction};

use super::{AccountId, LedgerError, TransferCode};
use crate::shared::money::Micros;
use crate::shared::states::EventKind;

/// What the event of a transfer is called: its code, refined by what the metadata says
/// it came from (`source`: an auto top-up; `cause`: a dispute).
pub(super) fn kind_of_transfer(code: TransferCode, money_in: bool, metadata: &Value) -> EventKind {
    let source = metadata.get("source").and_then(Value::as_str);
    let cause = metadata.get("cause").and_then(Value::as_str);
    let repays_owed = metadata.get("repays_owed").and_then(Value::as_bool) == Some(true);
    match code {
        TransferCode::Purchase | TransferCode::PurchaseBonus if source == Some("dispute_won") => EventKind::DisputeWon,
        TransferCode::Purchase | TransferCode::PurchaseBonus if source == Some("auto_top_up") => {
            EventKind::TopUpSucceeded
        }
        TransferCode::Purchase | TransferCode::PurchaseBonus => EventKind::PurchaseCredited,
        TransferCode::SignupGrant => EventKind::CreditsGranted,
        TransferCode::GiftCode => EventKind::GiftRedeemed,
        TransferCode::Usage if money_in => EventKind::UsageRefunded,
        TransferCode::Usage => EventKind::UsageCharged,
        TransferCode::Adjustment => EventKind::BalanceAdjusted,
        TransferCode::Refund if repays_owed => EventKind::OwedRepaid,
        TransferCode::Refund if cause == Some("dispute") => EventKind::Dispute,
        TransferCode::Refund => EventKind::Refund,
        TransferCode::Expiry => EventKind::CreditsExpired,
        TransferCode::CreditLine => EventKind::CreditLine,
        TransferCode::InvoicePayment => EventKind::InvoicePaid,
    }
}

/// Writes one event for `wallet`, with its balance after, and (if the available balance
/// just fell under the threshold) the low-balance event after it. Must run in the
/// transaction that changed the wallet, after the change.
pub async fn record(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    kind: EventKind,
    mut data: Value,
    now_ms: i64,
) -> Result<i64, LedgerError> {
    // The threshold comes back with the wallet's numbers: one statement, not two.
    let row = sqlx::query(
        "update account set event_seq = event_seq + 1 where id = $1 \
         returning event_seq, posted_micros, reserved_micros, owed_micros, balance_low, credit_limit_micros, \
             coalesce((select low_balance_micros from ledger_setting where id = 1), 0)",
    )
    .bind(wallet.0)
    .fetch_one(&mut **tx)
    .await?;
    let seq: i64 = row.try_get(0)?;
    let (posted, reserved, owed): (i64, i64, i64) = (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
    let was_low: i64 = row.try_get(4)?;
    let credit_limit: i64 = row.try_get(5)?;
    let threshold: i64 = row.try_get(6)?;
    if let Value::Object(map) = &mut data {
        map.insert("balance".into(), balance_json(posted, reserved, owed));
    }
    insert(tx, wallet, seq, kind, &data, now_ms).await?;

    // Money held for running work is still the wallet's: a hold taking the available
    // balance under the threshold (and its capture giving most back) would say "low"
    // at every call. A postpaid wallet spends on credit and is not warned.
    let low = credit_limit == 0 && posted < threshold;
    if low != (was_low != 0) {
        sqlx::query("update account set balance_low = $1 where id = $2")
            .bind(i64::from(low))
            .bind(wallet.0)
            .execute(&mut **tx)
            .await?;
        if low {
            let seq: i64 =
                sqlx::query_scalar("update account set event_seq = event_seq + 1 where id = $1 returning event_seq")
                    .bind(wallet.0)
                    .fetch_one(&mut **tx)
                    .await?;
            let data = json!({
                "threshold_micros": threshold,
                "balance": balance_json(posted, reserved, owed),
            });
            insert(tx, wallet, seq, EventKind::BalanceLow, &data, now_ms).await?;
        }
    }
    Ok(seq)
}

/// Writes an event for `owner_id`'s wallet (nothing when the account has none yet), for
/// changes outside the ledger that its owner hears of (a declined top-up, an invoice).
pub async fn record_for_owner(
    tx: &mut Transaction<'_, Any>,
    owner_id: &str,
    kind: EventKind,
    data: Value,
    now_ms: i64,
) -> Result<Option<i64>, LedgerError> {
    let wallet: Option<i64> = sqlx::query_scalar("select id from account where code = $1")
        .bind(format!("wallet:{owner_id}"))
        .fetch_optional(&mut **tx)
        .await?;
    match wallet {
        Some(id) => record(tx, AccountId(id), kind, data, now_ms).await.map(Some),
        None => Ok(None),
    }
}

fn balance_json(posted: i64, reserved: i64, owed: i64) -> Value {
    json!({
        "posted_micros": posted,
        "reserved_micros": reserved,
        "available_micros": posted - reserved,
        "owed_micros": owed,
    })
}

async fn insert(
    tx: &mut Transaction<'_, Any>,
    wallet: AccountId,
    seq: i64,
    kind: EventKind,
    data: &Value,
    now_ms: i64,
) -> Result<(), LedgerError> {
    // The event's webhook deliveries (one per endpoint that wants its kind) are written by
    // the `event_webhook_deliveries` trigger, in this statement.
    sqlx::query("insert into event (wallet_id, seq, kind, data, created_at_ms) values ($1, $2, $3, $4, $5)")
        .bind(wallet.0)
        .bind(seq)
        .bind(kind.as_str())
        .bind(data.to_string())
        .bind(now_ms)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The event a transfer writes: its amount (signed: money in is positive), code,
/// description and the caller's metadata.
pub(super) fn transfer_data(
    transfer_id: i64,
    code: TransferCode,
    signed_amount: Micros,
    description: &str,
    metadata: &Value,
) -> Value {
    json!({
        "transfer_id": transfer_id,
        "code": code.as_str(),
        "amount_micros": signed_amount.get(),
        "description": description,
        "metadata": metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfers_are_named_by_what_they_came_from() {
        let none = json!({});
        assert_eq!(kind_of_transfer(TransferCode::Purchase, true, &none), EventKind::PurchaseCredited);
        let top_up = json!({"source": "auto_top_up"});
        assert_eq!(kind_of_transfer(TransferCode::Purchase, true, &top_up), EventKind::TopUpSucceeded);
        assert_eq!(kind_of_transfer(TransferCode::Usage, false, &none), EventKind::UsageCharged);
        assert_eq!(kind_of_transfer(TransferCode::Refund, false, &json!({"cause": "dispute"})), EventKind::Dispute);
        assert_eq!(kind_of_transfer(TransferCode::Refund, false, &none), EventKind::Refund);
        let repaid = json!({"repays_owed": true});
        assert_eq!(kind_of_transfer(TransferCode::Refund, false, &repaid), EventKind::OwedRepaid);
        let won = json!({"source": "dispute_won"});
        assert_eq!(kind_of_transfer(TransferCode::PurchaseBonus, true, &won), EventKind::DisputeWon);
    }
}
