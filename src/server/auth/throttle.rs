//! Slowing down password guessing, per email and per client address.
//!
//! A few failures are free. After that each failure blocks further attempts for twice
//! as long as the last one, from 30 seconds up to 15 minutes, never longer: the real
//! owner can always get back in. Kept in the database so every instance sees it.

use sqlx::Row;

use crate::error::AppError;
use crate::server::db::Db;

const WINDOW_MS: i64 = 15 * 60 * 1000;
const FIRST_BLOCK_MS: i64 = 30 * 1000;
const MAX_BLOCK_MS: i64 = 15 * 60 * 1000;

/// What one key may get wrong before it is slowed.
#[derive(Clone, Copy)]
pub struct Limit {
    pub free_failures: i64,
}

pub const PER_EMAIL: Limit = Limit { free_failures: 5 };
pub const PER_ADDRESS: Limit = Limit { free_failures: 20 };

pub fn email_key(email: &str) -> String {
    format!("email:{email}")
}

pub fn address_key(ip: std::net::IpAddr) -> String {
    format!("ip:{ip}")
}

/// Refuses with `RateLimited` while any of the keys is blocked.
pub async fn check(db: &Db, keys: &[&str], now_ms: i64) -> Result<(), AppError> {
    let mut blocked_until = 0;
    for key in keys {
        let until: Option<i64> = sqlx::query_scalar("select blocked_until_ms from auth_throttle where key = $1")
            .bind(*key)
            .fetch_optional(db.pool())
            .await
            .map_err(|e| AppError::internal("sign-in throttle", e))?;
        blocked_until = blocked_until.max(until.unwrap_or(0));
    }
    if blocked_until > now_ms {
        let secs = (blocked_until - now_ms + 999) / 1000;
        return Err(AppError::RateLimited { retry_after_secs: u64::try_from(secs).unwrap_or(1) });
    }
    Ok(())
}

/// Counts a failure against `key` and blocks it when past its free failures.
pub async fn record_failure(db: &Db, key: &str, limit: Limit, now_ms: i64) -> Result<(), AppError> {
    let err = |e: sqlx::Error| AppError::internal("sign-in throttle", e);
    let mut tx = db.begin_write().await.map_err(err)?;
    let row = sqlx::query(
        "insert into auth_throttle (key, failures, window_started_at_ms, blocked_until_ms) values ($1, 1, $2, 0) \
         on conflict (key) do update set \
           failures = case when auth_throttle.window_started_at_ms < $3 then 1 else auth_throttle.failures + 1 end, \
           window_started_at_ms = case when auth_throttle.window_started_at_ms < $3 then $2 \
                                       else auth_throttle.window_started_at_ms end \
         returning failures",
    )
    .bind(key)
    .bind(now_ms)
    .bind(now_ms - WINDOW_MS)
    .fetch_one(&mut **tx)
    .await
    .map_err(err)?;
    let failures: i64 = row.try_get(0).map_err(err)?;
    if failures > limit.free_failures {
        let doublings = u32::try_from((failures - limit.free_failures - 1).min(10)).unwrap_or(10);
        let block_ms = (FIRST_BLOCK_MS << doublings).min(MAX_BLOCK_MS);
        sqlx::query("update auth_throttle set blocked_until_ms = $1, window_started_at_ms = $2 where key = $3")
            .bind(now_ms + block_ms)
            // A blocked key stays in its window, so the next failure blocks longer.
            .bind(now_ms)
            .bind(key)
            .execute(&mut **tx)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}

/// Forgets the failures of `key` (after a successful sign-in).
pub async fn clear(db: &Db, key: &str) -> Result<(), AppError> {
    sqlx::query("delete from auth_throttle where key = $1")
        .bind(key)
        .execute(db.pool())
        .await
        .map_err(|e| AppError::internal("sign-in throttle", e))?;
    Ok(())
}
