//! The per-account billing profile: Stripe customer, saved card, auto top-up settings and
//! the state of its attempts. Plain SQL over `billing_profile`; the rules are in `cards`
//! and `auto_top_up`, and Stripe's answers arrive through `purchases::top_ups`.

use sqlx::Row;

use crate::server::infra::db::{Db, db_err};
use crate::shared::dto::payments::{AutoTopUp, SavedCard};
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// One account's billing profile, as stored.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub stripe_customer: Option<String>,
    pub card_id: Option<String>,
    pub card: Option<SavedCard>,
    pub auto: AutoTopUp,
    pub pending: Option<String>,
}

/// The calendar month (UTC) of `ms`, as `YYYY-MM`.
pub fn month_of(ms: i64) -> String {
    crate::shared::format::utc_date(ms)[..7].to_string()
}

/// Makes the profile row if the account has none yet.
pub async fn ensure(db: &Db, user_id: &str, now_ms: i64) -> Result<(), AppError> {
    sqlx::query(
        "insert into billing_profile (user_id, updated_at_ms) values ($1, $2) on conflict (user_id) do nothing",
    )
    .bind(user_id)
    .bind(now_ms)
    .execute(db.pool())
    .await
    .map_err(db_err("opening a billing profile"))?;
    Ok(())
}

/// The account's profile (all defaults when it has none). `now_ms` decides which month's
/// top-ups count.
pub async fn load(db: &Db, user_id: &str, now_ms: i64) -> Result<Profile, AppError> {
    let row = sqlx::query(
        "select stripe_customer, card_id, card_provider, card_brand, card_last4, card_exp_month, card_exp_year, \
         auto_enabled, auto_threshold_micros, auto_amount_micros, auto_monthly_cap_micros, auto_paused_reason, \
         top_up_pending, top_up_month, top_up_month_micros from billing_profile where user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(db.pool())
    .await
    .map_err(db_err("reading a billing profile"))?;
    let Some(r) = row else { return Ok(Profile::default()) };
    read(&r, now_ms).map_err(db_err("reading a billing profile"))
}

fn read(r: &sqlx::any::AnyRow, now_ms: i64) -> Result<Profile, sqlx::Error> {
    let card_id: Option<String> = r.try_get(1)?;
    let card = match (&card_id, r.try_get::<Option<String>, _>(3)?, r.try_get::<Option<String>, _>(4)?) {
        (Some(_), Some(brand), Some(last4)) => Some(SavedCard {
            brand,
            last4,
            exp_month: r.try_get::<Option<i64>, _>(5)?.unwrap_or(0),
            exp_year: r.try_get::<Option<i64>, _>(6)?.unwrap_or(0),
            sandbox: r.try_get::<Option<String>, _>(2)?.as_deref() == Some("sandbox"),
        }),
        _ => None,
    };
    let month: Option<String> = r.try_get(13)?;
    let this_month = if month.as_deref() == Some(month_of(now_ms).as_str()) { r.try_get(14)? } else { 0 };
    Ok(Profile {
        stripe_customer: r.try_get(0)?,
        card_id,
        card,
        auto: AutoTopUp {
            enabled: r.try_get::<i64, _>(7)? == 1,
            threshold: Micros(r.try_get(8)?),
            amount: Micros(r.try_get(9)?),
            monthly_cap: Micros(r.try_get(10)?),
            paused_reason: r.try_get(11)?,
            this_month: Micros(this_month),
        },
        pending: r.try_get(12)?,
    })
}

/// Records the Stripe customer made for the account; the first one recorded stays (two
/// instances asking at once got the same one from Stripe anyway). Returns the one kept.
pub async fn set_customer(db: &Db, user_id: &str, customer: &str, now_ms: i64) -> Result<String, AppError> {
    ensure(db, user_id, now_ms).await?;
    sqlx::query(
        "update billing_profile set stripe_customer = $1, updated_at_ms = $2 where user_id = $3 and stripe_customer is null",
    )
    .bind(customer)
    .bind(now_ms)
    .bind(user_id)
    .execute(db.pool())
    .await
    .map_err(db_err("saving a Stripe customer"))?;
    let kept: Option<String> = sqlx::query_scalar("select stripe_customer from billing_profile where user_id = $1")
        .bind(user_id)
        .fetch_one(db.pool())
        .await
        .map_err(db_err("saving a Stripe customer"))?;
    kept.ok_or_else(|| AppError::internal("saving a Stripe customer", "the customer was not kept"))
}

/// Saves `card` (replacing any other). A new card lifts a pause a declined card caused.
pub async fn set_card(db: &Db, user_id: &str, card_id: &str, card: &SavedCard, now_ms: i64) -> Result<(), AppError> {
    ensure(db, user_id, now_ms).await?;
    sqlx::query(
        "update billing_profile set card_id = $1, card_provider = $2, card_brand = $3, card_last4 = $4, \
         card_exp_month = $5, card_exp_year = $6, auto_paused_reason = null, updated_at_ms = $7 where user_id = $8",
    )
    .bind(card_id)
    .bind(if card.sandbox { "sandbox" } else { "stripe" })
    .bind(&card.brand)
    .bind(&card.last4)
    .bind(card.exp_month)
    .bind(card.exp_year)
    .bind(now_ms)
    .bind(user_id)
    .execute(db.pool())
    .await
    .map_err(db_err("saving a card"))?;
    Ok(())
}

/// Forgets the card and turns auto top-up off (it has nothing to charge).
pub async fn clear_card(db: &Db, user_id: &str, now_ms: i64) -> Result<(), AppError> {
    sqlx::query(
        "update billing_profile set card_id = null, card_provider = null, card_brand = null, card_last4 = null, \
         card_exp_month = null, card_exp_year = null, auto_enabled = 0, updated_at_ms = $1 where user_id = $2",
    )
    .bind(now_ms)
    .bind(user_id)
    .execute(db.pool())
    .await
    .map_err(db_err("removing a card"))?;
    Ok(())
}

/// Stores auto top-up settings; saving them (on or off) lifts a pause.
pub async fn set_auto(
    db: &Db,
    user_id: &str,
    s: &crate::shared::dto::payments::AutoTopUpSettings,
    now_ms: i64,
) -> Result<(), AppError> {
    ensure(db, user_id, now_ms).await?;
    sqlx::query(
        "update billing_profile set auto_enabled = $1, auto_threshold_micros = $2, auto_amount_micros = $3, \
         auto_monthly_cap_micros = $4, auto_paused_reason = null, updated_at_ms = $5 where user_id = $6",
    )
    .bind(i64::from(s.enabled))
    .bind(s.threshold.get())
    .bind(s.amount.get())
    .bind(s.monthly_cap.get())
    .bind(now_ms)
    .bind(user_id)
    .execute(db.pool())
    .await
    .map_err(db_err("saving auto top-up"))?;
    Ok(())
}
