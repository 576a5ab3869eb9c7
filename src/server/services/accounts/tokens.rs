//! API tokens for the JSON API and the CLI.
//!
//! A token is `tg_` and 64 hex digits of randomness, shown once. Only its SHA-256 is
//! stored: tokens are long and random, so a fast hash is enough and lookups stay cheap.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::users::{self, User};
use crate::server::infra::db::Db;
use crate::server::infra::installation::now_ms;
use crate::shared::dto::tokens::TokenInfo;
use crate::shared::error::AppError;

pub const TOKEN_PREFIX: &str = "tg_";
const MAX_ACTIVE_TOKENS: i64 = 50;
/// `last_used_at_ms` is refreshed at most this often, so using a token is not a write
/// on every request.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

fn digest(token: &str) -> String {
    crate::server::infra::crypto::hex(&Sha256::digest(token.as_bytes()))
}

fn new_secret() -> Result<String, AppError> {
    let random = crate::server::infra::crypto::random_hex(32).map_err(|e| AppError::internal("making a token", e))?;
    Ok(format!("{TOKEN_PREFIX}{random}"))
}

pub fn validate_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::validation("name", "Give the token a name, such as the machine it is for."));
    }
    if name.chars().count() > 60 {
        return Err(AppError::validation("name", "Use at most 60 characters."));
    }
    Ok(name.to_string())
}

/// Who a working token belongs to: its owner, its id, and the team whose wallet its calls
/// pay from (if any).
#[derive(Clone, Debug)]
pub struct TokenOwner {
    pub user: User,
    pub token_id: String,
    pub team_id: Option<String>,
}

/// Creates a token; returns the secret (to show once) and its listing. `team` (id and
/// name, checked by the caller to be a team the user is in) makes its calls pay from
/// that team's wallet.
pub async fn create(
    db: &Db,
    user: &User,
    name: &str,
    team: Option<(String, String)>,
) -> Result<(String, TokenInfo), AppError> {
    let name = validate_name(name)?;
    let err = |e: sqlx::Error| AppError::internal("creating a token", e);
    let active: i64 = sqlx::query_scalar("select count(*) from api_token where user_id = $1 and revoked_at_ms is null")
        .bind(&user.id)
        .fetch_one(db.pool())
        .await
        .map_err(err)?;
    if active >= MAX_ACTIVE_TOKENS {
        return Err(AppError::validation("name", format!("You have {MAX_ACTIVE_TOKENS} tokens. Revoke one first.")));
    }
    let secret = new_secret()?;
    let info = TokenInfo {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        display_prefix: secret[..TOKEN_PREFIX.len() + 8].to_string(),
        created_at_ms: now_ms(),
        last_used_at_ms: None,
        team,
    };
    sqlx::query(
        "insert into api_token (id, user_id, name, display_prefix, token_hash, created_at_ms, team_id) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&info.id)
    .bind(&user.id)
    .bind(&info.name)
    .bind(&info.display_prefix)
    .bind(digest(&secret))
    .bind(info.created_at_ms)
    .bind(info.team.as_ref().map(|t| t.0.as_str()))
    .execute(db.pool())
    .await
    .map_err(err)?;
    tracing::info!(user_id = %user.id, token_id = %info.id, "API token created");
    Ok((secret, info))
}

/// The user's tokens that still work, newest first.
pub async fn list(db: &Db, user: &User) -> Result<Vec<TokenInfo>, AppError> {
    let err = |e: sqlx::Error| AppError::internal("listing tokens", e);
    let rows = sqlx::query(
        "select k.id, k.name, k.display_prefix, k.created_at_ms, k.last_used_at_ms, k.team_id, t.name \
         from api_token k left join team t on t.id = k.team_id \
         where k.user_id = $1 and k.revoked_at_ms is null order by k.created_at_ms desc, k.id",
    )
    .bind(&user.id)
    .fetch_all(db.pool())
    .await
    .map_err(err)?;
    rows.iter()
        .map(|r| {
            Ok(TokenInfo {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                display_prefix: r.try_get(2)?,
                created_at_ms: r.try_get(3)?,
                last_used_at_ms: r.try_get(4)?,
                team: match (r.try_get::<Option<String>, _>(5)?, r.try_get::<Option<String>, _>(6)?) {
                    (Some(id), Some(name)) => Some((id, name)),
                    _ => None,
                },
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(err)
}

/// Revokes one of the user's own tokens. Someone else's token is "not found".
pub async fn revoke(db: &Db, user: &User, token_id: &str) -> Result<(), AppError> {
    let done =
        sqlx::query("update api_token set revoked_at_ms = $1 where id = $2 and user_id = $3 and revoked_at_ms is null")
            .bind(now_ms())
            .bind(token_id)
            .bind(&user.id)
            .execute(db.pool())
            .await
            .map_err(|e| AppError::internal("revoking a token", e))?
            .rows_affected();
    if done == 0 {
        return Err(AppError::not_found("The token"));
    }
    tracing::info!(user_id = %user.id, token_id, "API token revoked");
    Ok(())
}

/// The owner of a working token, or `None`, remembered for a few seconds (see
/// [`crate::server::infra::cache`]); revoking a token through this instance forgets at once.
pub async fn authenticate_cached(
    state: &crate::server::infra::state::AppState,
    secret: &str,
) -> Result<Option<TokenOwner>, AppError> {
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() != TOKEN_PREFIX.len() + 64 {
        return Ok(None);
    }
    let key = digest(secret);
    if let Some(found) = state.caches.tokens.get(&key) {
        return Ok(Some(found));
    }
    let found = authenticate(&state.db, secret).await?;
    if let Some(found) = &found {
        state.caches.tokens.insert(key, found.clone());
    }
    Ok(found)
}

/// The owner of a working token and the token's id, or `None`.
pub async fn authenticate(db: &Db, secret: &str) -> Result<Option<TokenOwner>, AppError> {
    if !secret.starts_with(TOKEN_PREFIX) || secret.len() != TOKEN_PREFIX.len() + 64 {
        return Ok(None);
    }
    let err = |e: sqlx::Error| AppError::internal("checking a token", e);
    let row = sqlx::query(
        "select id, user_id, last_used_at_ms, team_id from api_token where token_hash = $1 and revoked_at_ms is null",
    )
    .bind(digest(secret))
    .fetch_optional(db.pool())
    .await
    .map_err(err)?;
    let Some(row) = row else { return Ok(None) };
    let (token_id, user_id, last_used): (String, String, Option<i64>) =
        (row.try_get(0).map_err(err)?, row.try_get(1).map_err(err)?, row.try_get(2).map_err(err)?);
    let team_id: Option<String> = row.try_get(3).map_err(err)?;
    let now = now_ms();
    if last_used.is_none_or(|t| now - t >= LAST_USED_RESOLUTION_MS) {
        sqlx::query("update api_token set last_used_at_ms = $1 where id = $2")
            .bind(now)
            .bind(&token_id)
            .execute(db.pool())
            .await
            .map_err(err)?;
    }
    Ok(users::find_by_id(db, &user_id).await?.map(|user| TokenOwner { user, token_id, team_id }))
}
