//! Auto top-up attempts, one row at a time: claiming the next attempt (the guarded update
//! that lets one instance in), and recording how it ended. Each attempt is a purchase
//! (`checkout_session` of kind `auto_top_up`) credited only by Stripe's signed event.

use sqlx::Row;

use super::profile::month_of;
use crate::server::infra::db::{Db, db_err};
use crate::shared::dto::purchases::Quote;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::EventKind;

/// An attempt whose outcome is unknown (Stripe's answer never came, and no payment was
/// recorded) stops blocking the next one after this long. One Stripe accepted keeps
/// blocking until its event arrives: a late webhook never means a second charge.
pub const STALE_AFTER_MS: i64 = 3_600_000;

/// A claimed attempt: what to charge, to which card.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub session: String,
    pub seq: i64,
    pub quote: Quote,
    pub card_id: String,
    pub sandbox: bool,
    pub customer: Option<String>,
}

/// Claims the next attempt for `user_id` if everything allows one now: auto top-up on
/// and not paused, a card saved, no attempt pending, the cooldown past, and the monthly
/// cap not passed by this one. The guarded update is what makes two instances crossing
/// the threshold at once make one attempt. The attempt's purchase is recorded in the same
/// transaction.
pub async fn claim(
    db: &Db,
    user_id: &str,
    now_ms: i64,
    cooldown_ms: i64,
    price: impl Fn(Micros) -> Result<Quote, AppError>,
) -> Result<Option<Attempt>, AppError> {
    let err = db_err("starting an auto top-up");
    let month = month_of(now_ms);
    let mut tx = db.begin_write().await.map_err(&err)?;
    let row = sqlx::query(
        "update billing_profile set top_up_seq = top_up_seq + 1, top_up_last_at_ms = $1, top_up_pending = 'claimed', \
             top_up_month_micros = (case when top_up_month = $2 then top_up_month_micros else 0 end) + auto_amount_micros, \
             top_up_month = $2 \
         where user_id = $3 and auto_enabled = 1 and auto_paused_reason is null and card_id is not null \
           and auto_amount_micros > 0 \
           and (top_up_pending is null or (top_up_last_at_ms <= $4 and not exists ( \
                select 1 from checkout_session c where c.id = billing_profile.top_up_pending \
                and (c.payment_intent is not null or c.status = 'completed')))) \
           and (top_up_last_at_ms is null or top_up_last_at_ms <= $5) \
           and (case when top_up_month = $2 then top_up_month_micros else 0 end) + auto_amount_micros \
               <= auto_monthly_cap_micros \
         returning top_up_seq, auto_amount_micros, card_id, card_provider, stripe_customer",
    )
    .bind(now_ms)
    .bind(&month)
    .bind(user_id)
    .bind(now_ms - STALE_AFTER_MS)
    .bind(now_ms - cooldown_ms)
    .fetch_optional(&mut **tx)
    .await
    .map_err(&err)?;
    let Some(row) = row else { return Ok(None) };
    let seq: i64 = row.try_get(0).map_err(&err)?;
    let quote = price(Micros(row.try_get(1).map_err(&err)?))?;
    let session = format!("topup_{seq}_{user_id}");
    let sandbox = row.try_get::<Option<String>, _>(3).map_err(&err)?.as_deref() == Some("sandbox");
    sqlx::query(
        "insert into checkout_session (id, user_id, provider, amount_micros, bonus_micros, status, created_at_ms, kind) \
         values ($1, $2, $3, $4, $5, 'open', $6, 'auto_top_up')",
    )
    .bind(&session)
    .bind(user_id)
    .bind(if sandbox { "sandbox" } else { "stripe" })
    .bind(quote.pay.get())
    .bind(quote.bonus.get())
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map_err(&err)?;
    sqlx::query("update billing_profile set top_up_pending = $1 where user_id = $2")
        .bind(&session)
        .bind(user_id)
        .execute(&mut **tx)
        .await
        .map_err(&err)?;
    let attempt = Attempt {
        session,
        seq,
        quote,
        card_id: row.try_get(2).map_err(&err)?,
        sandbox,
        customer: row.try_get(4).map_err(&err)?,
    };
    tx.commit().await.map_err(&err)?;
    Ok(Some(attempt))
}

/// Notes the Stripe payment an attempt made (its event may come first; either way the
/// first record stays).
pub async fn charged(db: &Db, session: &str, payment_intent: &str) -> Result<(), AppError> {
    sqlx::query("update checkout_session set payment_intent = $1 where id = $2 and payment_intent is null")
        .bind(payment_intent)
        .bind(session)
        .execute(db.pool())
        .await
        .map_err(db_err("recording an auto top-up"))?;
    Ok(())
}

/// The attempt's credits are in: the next attempt may come (after the cooldown). An
/// attempt recorded as declined that was paid after all (the card's bank approved it
/// later) counts against the month again and no longer pauses auto top-up.
pub async fn settled(db: &Db, session: &str) -> Result<(), AppError> {
    let err = db_err("recording an auto top-up");
    let mut tx = db.begin_write().await.map_err(&err)?;
    sqlx::query("update billing_profile set top_up_pending = null where top_up_pending = $1")
        .bind(session)
        .execute(&mut **tx)
        .await
        .map_err(&err)?;
    let revived = sqlx::query(
        "update checkout_session set failure = null where id = $1 and status = 'completed' and failure is not null \
         returning user_id, amount_micros, created_at_ms",
    )
    .bind(session)
    .fetch_optional(&mut **tx)
    .await
    .map_err(&err)?;
    if let Some(row) = revived {
        let user_id: String = row.try_get(0).map_err(&err)?;
        let amount: i64 = row.try_get(1).map_err(&err)?;
        let month = month_of(row.try_get(2).map_err(&err)?);
        sqlx::query(
            "update billing_profile set auto_paused_reason = null, \
                 top_up_month_micros = case when top_up_month = $1 then top_up_month_micros + $2 \
                     else top_up_month_micros end \
             where user_id = $3",
        )
        .bind(&month)
        .bind(amount)
        .bind(&user_id)
        .execute(&mut **tx)
        .await
        .map_err(&err)?;
        tracing::warn!(%user_id, session, "an auto top-up recorded as declined was paid after all");
    }
    tx.commit().await.map_err(&err)?;
    Ok(())
}

/// The card was declined: the attempt is marked failed, auto top-up pauses with the
/// reason (until the card is replaced or auto top-up is saved again), and the attempt no
/// longer counts against the month. `false` when this attempt's failure was recorded
/// before (a repeated event), or it was paid after all.
pub async fn declined(db: &Db, session: &str, reason: &str) -> Result<bool, AppError> {
    let err = db_err("recording a declined auto top-up");
    let mut tx = db.begin_write().await.map_err(&err)?;
    let row = sqlx::query(
        "update checkout_session set failure = $1 where id = $2 and kind = 'auto_top_up' and status = 'open' \
         and failure is null returning user_id, amount_micros, created_at_ms",
    )
    .bind(reason)
    .bind(session)
    .fetch_optional(&mut **tx)
    .await
    .map_err(&err)?;
    let Some(row) = row else { return Ok(false) };
    let user_id: String = row.try_get(0).map_err(&err)?;
    let amount: i64 = row.try_get(1).map_err(&err)?;
    let month = month_of(row.try_get(2).map_err(&err)?);
    sqlx::query(
        "update billing_profile set auto_paused_reason = $1, \
             top_up_pending = case when top_up_pending = $2 then null else top_up_pending end, \
             top_up_month_micros = case when top_up_month = $3 and top_up_month_micros >= $4 \
                 then top_up_month_micros - $4 else top_up_month_micros end \
         where user_id = $5",
    )
    .bind(reason)
    .bind(session)
    .bind(&month)
    .bind(amount)
    .bind(&user_id)
    .execute(&mut **tx)
    .await
    .map_err(&err)?;
    let data = serde_json::json!({ "checkout_session": session, "amount_micros": amount, "reason": reason });
    crate::server::ledger::events::record_for_owner(
        &mut tx,
        &user_id,
        EventKind::TopUpFailed,
        data,
        crate::server::infra::installation::now_ms(),
    )
    .await?;
    tx.commit().await.map_err(&err)?;
    tracing::warn!(%user_id, session, reason, "auto top-up declined; paused");
    Ok(true)
}
