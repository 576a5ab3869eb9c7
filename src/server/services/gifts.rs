//! Gift codes: made in batches by administrators, redeemed by people for credit.
//!
//! A code is `TG-XXXX-XXXX-XXXX` in Crockford base32 (60 random bits). Only an
//! HMAC-SHA256 of it under the server's secret key is stored, so a copy of the database
//! gives no usable code; codes are shown in full once, when made.

use sqlx::Row;

use crate::server::infra::config::SecretKey;
use crate::server::infra::state::AppState;
use crate::server::ledger::{CreditKind, CreditRequest, LedgerError};
use crate::server::services::accounts::throttle;
use crate::server::services::accounts::users::User;
use crate::shared::dto::credits::GiftBatch;
use crate::shared::error::AppError;
use crate::shared::format::utc_date;
use crate::shared::money::Micros;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_CHARS: usize = 12;

/// Failed redemptions one person gets before being slowed (per 15 minutes, then blocked
/// for growing periods), so codes cannot be guessed.
const REDEEM_LIMIT: throttle::Limit = throttle::Limit { free_attempts: 10 };

/// What a person typed, reduced to the code's characters: case, spaces, dashes and the
/// `TG` prefix do not matter, and letters that look like digits read as those digits.
pub fn normalize(input: &str) -> Option<String> {
    let mut s: String =
        input.chars().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_uppercase();
    if s.len() == CODE_CHARS + 2 && s.starts_with("TG") {
        s.drain(..2);
    }
    let s: String = s
        .chars()
        .map(|c| match c {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect();
    (s.len() == CODE_CHARS && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

fn display(code: &str) -> String {
    format!("TG-{}-{}-{}", &code[0..4], &code[4..8], &code[8..12])
}

fn keyed_hash(key: &SecretKey, code: &str) -> String {
    crate::server::infra::crypto::hex(&crate::server::infra::crypto::hmac_sha256(
        &key.0,
        &[b"gift-code:", code.as_bytes()],
    ))
}

fn new_code() -> Result<String, AppError> {
    let mut bytes = [0u8; CODE_CHARS];
    getrandom::fill(&mut bytes).map_err(|e| AppError::internal("making a gift code", e))?;
    Ok(bytes.iter().map(|b| ALPHABET[usize::from(b & 31)] as char).collect())
}

/// A new batch, for `tollgate admin gift-codes create`.
#[derive(Clone, Debug)]
pub struct NewBatch {
    pub amount: Micros,
    pub count: u32,
    pub max_uses: u32,
    pub expires_at_ms: Option<i64>,
    pub note: String,
    pub created_by: String,
}

/// Makes a batch of codes; returns them in full (the only time they exist in the clear).
pub async fn create_batch(
    db: &crate::server::infra::db::Db,
    key: &SecretKey,
    batch: &NewBatch,
    now_ms: i64,
) -> Result<Vec<String>, AppError> {
    if !batch.amount.is_positive() || batch.amount > Micros::from_usd(10_000) {
        return Err(AppError::validation("amount", "A gift code is worth more than $0 and at most $10,000."));
    }
    if !(1..=10_000).contains(&batch.count) {
        return Err(AppError::validation("count", "Make 1 to 10,000 codes at a time."));
    }
    if batch.max_uses == 0 {
        return Err(AppError::validation("max_uses", "A code must be usable at least once."));
    }
    if batch.expires_at_ms.is_some_and(|t| t <= now_ms) {
        return Err(AppError::validation("expires", "The expiry date is in the past."));
    }
    let err = |e: sqlx::Error| AppError::internal("making gift codes", e);
    let mut tx = db.begin_write().await.map_err(err)?;
    let batch_id: i64 = sqlx::query_scalar(
        "insert into gift_code_batch (amount_micros, max_uses, expires_at_ms, note, created_by, created_at_ms) \
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(batch.amount.get())
    .bind(i64::from(batch.max_uses))
    .bind(batch.expires_at_ms)
    .bind(&batch.note)
    .bind(&batch.created_by)
    .bind(now_ms)
    .fetch_one(&mut **tx)
    .await
    .map_err(err)?;
    let mut codes = Vec::with_capacity(batch.count as usize);
    while codes.len() < batch.count as usize {
        let code = new_code()?;
        let inserted = sqlx::query(
            "insert into gift_code (batch_id, code_hash, display_suffix, max_uses) values ($1, $2, $3, $4) \
             on conflict (code_hash) do nothing",
        )
        .bind(batch_id)
        .bind(keyed_hash(key, &code))
        .bind(&code[8..])
        .bind(i64::from(batch.max_uses))
        .execute(&mut **tx)
        .await
        .map_err(err)?
        .rows_affected();
        // A collision (one in 2^60) just draws again.
        if inserted == 1 {
            codes.push(display(&code));
        }
    }
    tx.commit().await.map_err(err)?;
    tracing::info!(batch_id, count = codes.len(), amount_micros = batch.amount.get(), "gift codes made");
    Ok(codes)
}

/// Redeems a code for `user`: exactly once per person, never beyond the code's uses, and
/// the credit and the use are one transaction.
pub async fn redeem(
    state: &AppState,
    key: &SecretKey,
    user: &User,
    input: &str,
    now_ms: i64,
) -> Result<Micros, AppError> {
    let throttle_key = format!("gift:{}", user.id);
    throttle::attempt(&state.db, &throttle_key, REDEEM_LIMIT, now_ms).await?;
    let outcome = try_redeem(state, key, user, input, now_ms).await;
    if outcome.is_ok() {
        throttle::forgive_one(&state.db, &throttle_key).await?;
    }
    outcome
}

/// A code someone typed, found and still redeemable by them.
struct Redeemable {
    code: String,
    code_id: i64,
    amount: i64,
}

/// Finds the typed code; an unknown, expired or already redeemed one is an error naming
/// the `code` field.
async fn redeemable(
    state: &AppState,
    key: &SecretKey,
    user: &User,
    input: &str,
    now_ms: i64,
) -> Result<Redeemable, AppError> {
    let unknown = || AppError::validation("code", "This code is not valid. Check it and try again.");
    let Some(code) = normalize(input) else {
        return Err(if input.trim().is_empty() {
            AppError::validation("code", "Enter a gift code.")
        } else {
            unknown()
        });
    };
    let err = |e: sqlx::Error| AppError::internal("redeeming a gift code", e);
    let row = sqlx::query(
        "select c.id, b.amount_micros, b.expires_at_ms, c.uses, c.max_uses from gift_code c \
         join gift_code_batch b on b.id = c.batch_id where c.code_hash = $1",
    )
    .bind(keyed_hash(key, &code))
    .fetch_optional(state.db.pool())
    .await
    .map_err(err)?
    .ok_or_else(unknown)?;
    let (code_id, amount, expires_at): (i64, i64, Option<i64>) =
        (row.try_get(0).map_err(err)?, row.try_get(1).map_err(err)?, row.try_get(2).map_err(err)?);
    if let Some(t) = expires_at.filter(|t| *t <= now_ms) {
        return Err(AppError::validation("code", format!("This code expired on {}.", utc_date(t - 1))));
    }
    let already: Option<i64> =
        sqlx::query_scalar("select transfer_id from gift_redemption where gift_code_id = $1 and user_id = $2")
            .bind(code_id)
            .bind(&user.id)
            .fetch_optional(state.db.pool())
            .await
            .map_err(err)?;
    if already.is_some() {
        return Err(already_redeemed());
    }
    Ok(Redeemable { code, code_id, amount })
}

async fn try_redeem(
    state: &AppState,
    key: &SecretKey,
    user: &User,
    input: &str,
    now_ms: i64,
) -> Result<Micros, AppError> {
    let Redeemable { code, code_id, amount } = redeemable(state, key, user, input, now_ms).await?;
    let err = |e: sqlx::Error| AppError::internal("redeeming a gift code", e);
    let wallet = state.ledger.open_wallet(&user.id).await?;
    let mut tx = state.db.begin_write().await.map_err(err)?;
    // The guarded update is the lock: two people taking the last use cannot both win.
    let used = sqlx::query("update gift_code set uses = uses + 1 where id = $1 and uses < max_uses")
        .bind(code_id)
        .execute(&mut **tx)
        .await
        .map_err(err)?
        .rows_affected();
    if used == 0 {
        return Err(AppError::validation("code", "This code has been fully used."));
    }
    let credit = CreditRequest {
        idempotency_key: format!("gift:{code_id}:{}", user.id),
        wallet,
        amount: Micros(amount),
        kind: CreditKind::GiftCode,
        description: format!("Gift code …{}", &code[8..]),
        metadata: serde_json::json!({ "gift_code_id": code_id }),
        expires_at_ms: None,
    };
    let receipt = match state.ledger.credit_in(&mut tx, &credit).await {
        Ok(r) => r,
        Err(LedgerError::IdempotencyConflict(_)) => return Err(already_redeemed()),
        Err(e) => return Err(e.into()),
    };
    sqlx::query(
        "insert into gift_redemption (gift_code_id, user_id, transfer_id, created_at_ms) values ($1, $2, $3, $4)",
    )
    .bind(code_id)
    .bind(&user.id)
    .bind(receipt.transfer_id)
    .bind(now_ms)
    .execute(&mut **tx)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => already_redeemed(),
        _ => err(e),
    })?;
    tx.commit().await.map_err(err)?;
    tracing::info!(user_id = %user.id, gift_code_id = code_id, amount_micros = amount, "gift code redeemed");
    Ok(Micros(amount))
}

fn already_redeemed() -> AppError {
    AppError::validation("code", "You have already redeemed this code.")
}

/// Every batch with its code and redemption counts, newest first (the admin page's list).
pub async fn list_batches(db: &crate::server::infra::db::Db) -> Result<Vec<GiftBatch>, AppError> {
    let err = |e: sqlx::Error| AppError::internal("listing gift codes", e);
    let rows = sqlx::query(
        "select b.id, b.amount_micros, count(c.id), b.max_uses, coalesce(cast(sum(c.uses) as bigint), 0), \
         b.expires_at_ms, b.note, b.created_at_ms from gift_code_batch b left join gift_code c on c.batch_id = b.id \
         group by b.id, b.amount_micros, b.max_uses, b.expires_at_ms, b.note, b.created_at_ms order by b.id desc",
    )
    .fetch_all(db.pool())
    .await
    .map_err(err)?;
    rows.iter()
        .map(|r| {
            Ok(GiftBatch {
                id: r.try_get(0)?,
                amount: Micros(r.try_get(1)?),
                codes: r.try_get(2)?,
                max_uses: r.try_get(3)?,
                redemptions: r.try_get(4)?,
                expires_at_ms: r.try_get(5)?,
                note: r.try_get(6)?,
                created_at_ms: r.try_get(7)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_the_way_people_type_them() {
        assert_eq!(normalize("TG-AB12-CD34-EF56").as_deref(), Some("AB12CD34EF56"));
        assert_eq!(normalize(" tg ab12 cd34 ef56 ").as_deref(), Some("AB12CD34EF56"));
        assert_eq!(normalize("ab12cd34ef56").as_deref(), Some("AB12CD34EF56"));
        assert_eq!(normalize("AB12-CD34-EFOI").as_deref(), Some("AB12CD34EF01"), "O and I read as 0 and 1");
        assert_eq!(normalize("AB12-CD34-EF5"), None);
        assert_eq!(normalize("AB12-CD34-EF5U"), None, "U is not in the alphabet");
        assert_eq!(normalize(""), None);
    }

    #[test]
    fn new_codes_use_the_alphabet_and_hash_under_the_key() {
        let code = new_code().unwrap();
        assert_eq!(normalize(&display(&code)).as_deref(), Some(code.as_str()));
        let a = SecretKey(b"key one key one key one key one!".to_vec());
        let b = SecretKey(b"key two key two key two key two!".to_vec());
        assert_ne!(keyed_hash(&a, &code), keyed_hash(&b, &code));
        assert_eq!(keyed_hash(&a, &code), keyed_hash(&a, &code));
        assert_eq!(keyed_hash(&a, &code).len(), 64);
    }
}
