//! The person's payment history: each completed purchase or auto top-up with what was
//! refunded and where a dispute against it stands, and the auto top-ups a card declined.

use sqlx::Row;

use crate::server::infra::db::{Db, db_err, word};
use crate::shared::dto::purchases::Payment;
use crate::shared::error::AppError;
use crate::shared::format::utc_date;
use crate::shared::money::Micros;
use crate::shared::states::{PaymentKind, PaymentStatus};

/// The most payments one page lists.
pub const MAX_PAYMENTS: u32 = 200;

/// `user_id`'s payments, newest first, at most `limit`: purchases and auto top-ups, and
/// invoice payments.
pub async fn payments(db: &Db, user_id: &str, limit: u32) -> Result<Vec<Payment>, AppError> {
    let mut all = select(db, user_id, None, limit).await?;
    all.extend(invoice_payments(db, user_id, None, limit).await?);
    all.sort_by(|a, b| b.completed_at_ms.cmp(&a.completed_at_ms).then_with(|| b.id.cmp(&a.id)));
    all.truncate(limit.clamp(1, MAX_PAYMENTS) as usize);
    Ok(all)
}

/// Invoices paid, or whose payment failed, as payments.
async fn invoice_payments(db: &Db, user_id: &str, id: Option<&str>, limit: u32) -> Result<Vec<Payment>, AppError> {
    let rows = sqlx::query(
        "select id, coalesce(paid_at_ms, created_at_ms), amount_due_micros, status, failure, payment_intent \
         from invoice where user_id = $1 and amount_due_micros > 0 and (status = 'paid' or failure is not null) \
           and ($3 = '' or id = $3) \
         order by coalesce(paid_at_ms, created_at_ms) desc limit $2",
    )
    .bind(user_id)
    .bind(i64::from(limit.clamp(1, MAX_PAYMENTS)))
    .bind(id.unwrap_or(""))
    .fetch_all(db.pool())
    .await
    .map_err(db_err("reading payments"))?;
    rows.iter()
        .map(|r| {
            let at: i64 = r.try_get(1)?;
            let due: i64 = r.try_get(2)?;
            let paid = r.try_get::<String, _>(3)? == "paid";
            let payment: Option<String> = r.try_get(5)?;
            Ok(Payment {
                id: r.try_get(0)?,
                date: utc_date(at),
                completed_at_ms: at,
                // Charged in whole cents, rounded up.
                amount: Micros((due + 9_999) / 10_000 * 10_000),
                bonus: Micros::ZERO,
                refunded: Micros::ZERO,
                status: if paid { PaymentStatus::Paid } else { PaymentStatus::Declined },
                kind: PaymentKind::Invoice,
                failure: if paid { None } else { r.try_get(4)? },
                provider: if payment.as_deref().is_some_and(|p| p.starts_with("pi_sandbox_")) {
                    "sandbox".into()
                } else {
                    "stripe".into()
                },
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("reading payments"))
}

/// One of `user_id`'s paid payments, for its receipt. Someone else's is "not found".
pub async fn receipt(db: &Db, user_id: &str, id: &str) -> Result<Payment, AppError> {
    // A declined attempt was never paid: it has no receipt.
    let mut found = select(db, user_id, Some(id), 1).await?;
    found.extend(invoice_payments(db, user_id, Some(id), 1).await?);
    found.pop().filter(|p| p.status != PaymentStatus::Declined).ok_or_else(|| AppError::not_found("The payment"))
}

async fn select(db: &Db, user_id: &str, id: Option<&str>, limit: u32) -> Result<Vec<Payment>, AppError> {
    let rows = sqlx::query(
        "select s.id, coalesce(s.completed_at_ms, s.created_at_ms), s.amount_micros, s.bonus_micros, \
             s.refunded_micros, s.provider, \
             (select d.status from dispute d where d.session_id = s.id order by d.created_at_ms desc limit 1), \
             s.kind, s.failure, s.status \
         from checkout_session s where s.user_id = $1 and (s.status = 'completed' or s.failure is not null) \
           and ($3 = '' or s.id = $3) \
         order by coalesce(s.completed_at_ms, s.created_at_ms) desc, s.id desc limit $2",
    )
    .bind(user_id)
    .bind(i64::from(limit.clamp(1, MAX_PAYMENTS)))
    .bind(id.unwrap_or(""))
    .fetch_all(db.pool())
    .await
    .map_err(db_err("reading payments"))?;
    rows.iter()
        .map(|r| {
            let completed_at_ms: i64 = r.try_get::<Option<i64>, _>(1)?.unwrap_or(0);
            let (amount, refunded): (i64, i64) = (r.try_get(2)?, r.try_get(4)?);
            let dispute: Option<String> = r.try_get(6)?;
            let failure: Option<String> = r.try_get(8)?;
            let paid = r.try_get::<String, _>(9)? == "completed";
            Ok(Payment {
                id: r.try_get(0)?,
                date: utc_date(completed_at_ms),
                completed_at_ms,
                amount: Micros(amount),
                bonus: Micros(r.try_get(3)?),
                refunded: Micros(refunded),
                status: if paid { status_of(amount, refunded, dispute.as_deref()) } else { PaymentStatus::Declined },
                kind: word(r, 7)?,
                failure: if paid { None } else { failure },
                provider: r.try_get(5)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("reading payments"))
}

/// A dispute, when there is one, says more than refunds do.
fn status_of(amount: i64, refunded: i64, dispute: Option<&str>) -> PaymentStatus {
    match dispute {
        Some("open") => PaymentStatus::Disputed,
        Some("won") => PaymentStatus::DisputeWon,
        Some("lost") => PaymentStatus::DisputeLost,
        _ if refunded >= amount && refunded > 0 => PaymentStatus::Refunded,
        _ if refunded > 0 => PaymentStatus::PartlyRefunded,
        _ => PaymentStatus::Paid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_reads_as_its_refunds_and_disputes_say() {
        assert_eq!(status_of(100, 0, None), PaymentStatus::Paid);
        assert_eq!(status_of(100, 40, None), PaymentStatus::PartlyRefunded);
        assert_eq!(status_of(100, 100, None), PaymentStatus::Refunded);
        assert_eq!(status_of(100, 0, Some("open")), PaymentStatus::Disputed);
        assert_eq!(status_of(100, 0, Some("won")), PaymentStatus::DisputeWon);
        assert_eq!(status_of(100, 0, Some("lost")), PaymentStatus::DisputeLost);
    }
}
