//! Slowing down password guessing (per email and per client address) and sign-up floods
//! (per client address).
//!
//! Every attempt is counted *before* the password is checked, in one locked read-modify-
//! write, so a burst of parallel guesses cannot all slip past the limit. A few attempts
//! are free; after that each one blocks the key for twice as long as the last, from 30
//! seconds up to 15 minutes, never longer: the real owner can always get back in. A
//! successful sign-in clears the email's count and takes back its own attempt from the
//! address's count. Kept in the database so every instance sees the same counts.

use sqlx::Row;

use crate::server::infra::db::Db;
use crate::shared::error::AppError;

const WINDOW_MS: i64 = 15 * 60 * 1000;
const FIRST_BLOCK_MS: i64 = 30 * 1000;
const MAX_BLOCK_MS: i64 = 15 * 60 * 1000;

/// How many attempts one key gets before it is slowed.
#[derive(Clone, Copy)]
pub struct Limit {
    pub free_attempts: i64,
}

pub const SIGN_IN_PER_EMAIL: Limit = Limit { free_attempts: 5 };
pub const SIGN_IN_PER_ADDRESS: Limit = Limit { free_attempts: 20 };

pub fn email_key(email: &str) -> String {
    format!("email:{email}")
}

pub fn address_key(ip: std::net::IpAddr) -> String {
    format!("ip:{ip}")
}

pub fn sign_up_key(ip: std::net::IpAddr) -> String {
    format!("signup-ip:{ip}")
}

/// Counts an attempt against `key`, or refuses it with `RateLimited` while the key is
/// blocked. Passing the limit blocks the key for the attempts after this one.
pub async fn attempt(db: &Db, key: &str, limit: Limit, now_ms: i64) -> Result<(), AppError> {
    let err = |e: sqlx::Error| AppError::internal("sign-in throttle", e);
    let mut tx = db.begin_write().await.map_err(err)?;
    // The insert-or-update takes the row's lock (PostgreSQL) or the write lock (SQLite)
    // before anything is read. A window starts over only once it, and any block, is over.
    let row = sqlx::query(
        "insert into auth_throttle (key, failures, window_started_at_ms, blocked_until_ms) values ($1, 1, $2, 0) \
         on conflict (key) do update set \
           failures = case when auth_throttle.blocked_until_ms > $2 then auth_throttle.failures \
                           when auth_throttle.window_started_at_ms < $3 and auth_throttle.blocked_until_ms < $3 then 1 \
                           else auth_throttle.failures + 1 end, \
           window_started_at_ms = case when auth_throttle.blocked_until_ms <= $2 \
                                        and auth_throttle.window_started_at_ms < $3 and auth_throttle.blocked_until_ms < $3 \
                                       then $2 else auth_throttle.window_started_at_ms end \
         returning failures, blocked_until_ms",
    )
    .bind(key)
    .bind(now_ms)
    .bind(now_ms - WINDOW_MS)
    .fetch_one(&mut **tx)
    .await
    .map_err(err)?;
    let attempts: i64 = row.try_get(0).map_err(err)?;
    let blocked_until: i64 = row.try_get(1).map_err(err)?;
    if blocked_until > now_ms {
        tx.commit().await.map_err(err)?;
        let secs = (blocked_until - now_ms + 999) / 1000;
        return Err(AppError::RateLimited { retry_after_secs: u64::try_from(secs).unwrap_or(1) });
    }
    if attempts > limit.free_attempts {
        let doublings = u32::try_from((attempts - limit.free_attempts - 1).min(10)).unwrap_or(10);
        let block_ms = (FIRST_BLOCK_MS << doublings).min(MAX_BLOCK_MS);
        sqlx::query("update auth_throttle set blocked_until_ms = $1 where key = $2")
            .bind(now_ms + block_ms)
            .bind(key)
            .execute(&mut **tx)
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}

/// Forgets every attempt of `key` (the email of a successful sign-in).
pub async fn clear(db: &Db, key: &str) -> Result<(), AppError> {
    sqlx::query("delete from auth_throttle where key = $1")
        .bind(key)
        .execute(db.pool())
        .await
        .map_err(|e| AppError::internal("sign-in throttle", e))?;
    Ok(())
}

/// Takes back one attempt of `key` (the address of a successful sign-in), so people
/// sharing an address are slowed only by failures.
pub async fn forgive_one(db: &Db, key: &str) -> Result<(), AppError> {
    sqlx::query("update auth_throttle set failures = failures - 1 where key = $1 and failures > 0")
        .bind(key)
        .execute(db.pool())
        .await
        .map_err(|e| AppError::internal("sign-in throttle", e))?;
    Ok(())
}
