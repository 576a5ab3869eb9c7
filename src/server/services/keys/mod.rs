//! Provider keys of a wallet (a person's own, or a team's, which pays for its members'
//! calls; `user_id` below is the wallet owner's id either way): saved sealed, checked
//! with the provider, and handed to the gateway only while the provider accepts them.

pub mod consent;

use sqlx::Row;

use crate::server::adapters::providers::KeyCheck;
use crate::server::infra::cipher;
use crate::server::infra::db::Db;
use crate::server::infra::db::{db_err, word};
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::shared::dto::keys::{KeyInfo, KeyOutcome, KeySource, KeyStatus, Provider, ProviderSlot};
use crate::shared::error::AppError;

fn info_from_row(row: &sqlx::any::AnyRow) -> Result<KeyInfo, sqlx::Error> {
    Ok(KeyInfo {
        provider: word(row, "provider")?,
        last4: row.try_get("last4")?,
        source: word(row, "source")?,
        status: word(row, "status")?,
        added_at_ms: row.try_get("created_at_ms")?,
        checked_at_ms: row.try_get("checked_at_ms")?,
    })
}

const COLUMNS: &str = "provider, last4, source, status, checked_at_ms, created_at_ms";

/// One slot per provider, with the person's key in it where they have one.
pub async fn slots(db: &Db, user_id: &str) -> Result<Vec<ProviderSlot>, AppError> {
    let stored = list(db, user_id).await?;
    Ok(Provider::ALL
        .iter()
        .map(|&provider| ProviderSlot { provider, key: stored.iter().find(|k| k.provider == provider).cloned() })
        .collect())
}

pub async fn list(db: &Db, user_id: &str) -> Result<Vec<KeyInfo>, AppError> {
    let rows = sqlx::query(&format!("select {COLUMNS} from provider_key where user_id = $1 order by provider"))
        .bind(user_id)
        .fetch_all(db.pool())
        .await
        .map_err(db_err("listing provider keys"))?;
    rows.iter().map(info_from_row).collect::<Result<_, _>>().map_err(db_err("reading provider keys"))
}

async fn find(db: &Db, user_id: &str, provider: Provider) -> Result<Option<(KeyInfo, String)>, AppError> {
    let row =
        sqlx::query(&format!("select {COLUMNS}, sealed_key from provider_key where user_id = $1 and provider = $2"))
            .bind(user_id)
            .bind(provider.as_str())
            .fetch_optional(db.pool())
            .await
            .map_err(db_err("reading a provider key"))?;
    match row {
        None => Ok(None),
        Some(row) => {
            let info = info_from_row(&row).map_err(db_err("reading a provider key"))?;
            let sealed: String = row.try_get("sealed_key").map_err(db_err("reading a provider key"))?;
            Ok(Some((info, sealed)))
        }
    }
}

fn last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// Seals and stores `key` for `user_id`, replacing any key they had for `provider`.
pub async fn store(
    state: &AppState,
    user_id: &str,
    provider: Provider,
    key: &str,
    source: KeySource,
    status: KeyStatus,
) -> Result<KeyInfo, AppError> {
    let sealed = state
        .cipher
        .seal(key, &cipher::binding(user_id, provider.as_str()))
        .map_err(|e| AppError::internal("sealing a provider key", e))?;
    let now = now_ms();
    let checked = (status != KeyStatus::Unchecked).then_some(now);
    sqlx::query(
        "insert into provider_key \
             (user_id, provider, sealed_key, last4, source, status, checked_at_ms, created_at_ms, updated_at_ms) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         on conflict (user_id, provider) do update set sealed_key = excluded.sealed_key, last4 = excluded.last4, \
             source = excluded.source, status = excluded.status, checked_at_ms = excluded.checked_at_ms, \
             created_at_ms = excluded.created_at_ms, updated_at_ms = excluded.updated_at_ms",
    )
    .bind(user_id)
    .bind(provider.as_str())
    .bind(&sealed)
    .bind(last4(key))
    .bind(source.as_str())
    .bind(status.as_str())
    .bind(checked)
    .bind(now)
    .execute(state.db.pool())
    .await
    .map_err(db_err("storing a provider key"))?;
    forget(state, user_id, provider);
    tracing::info!(
        user_id,
        provider = provider.as_str(),
        source = source.as_str(),
        status = status.as_str(),
        "provider key stored"
    );
    Ok(KeyInfo { provider, last4: last4(key), source, status, added_at_ms: now, checked_at_ms: checked })
}

/// Provider checks one person may ask for (saving or testing keys) per 15 minutes, so
/// this server cannot be used to try out keys in bulk.
const CHECK_LIMIT: crate::server::services::accounts::throttle::Limit =
    crate::server::services::accounts::throttle::Limit { free_attempts: 20 };

async fn count_check(state: &AppState, user_id: &str) -> Result<(), AppError> {
    crate::server::services::accounts::throttle::attempt(
        &state.db,
        &format!("key_check:{user_id}"),
        CHECK_LIMIT,
        now_ms(),
    )
    .await
}

/// A pasted key: format first, then the provider's word. A key the provider refuses is
/// not stored; one it could not be asked about is stored but pays for nothing until a
/// test passes.
/// `user_id` is the wallet owner the key is for; `by` the person saving it, whose provider
/// checks are counted.
pub async fn save_pasted(
    state: &AppState,
    by: &str,
    user_id: &str,
    provider: Provider,
    raw: &str,
) -> Result<KeyOutcome, AppError> {
    let key = provider.check_format(raw)?;
    count_check(state, by).await?;
    let label = provider.label();
    let (status, message) = match state.providers.check_key(provider, &key).await {
        KeyCheck::Valid => {
            (KeyStatus::Valid, format!("{label} accepted the key. {label} calls now use it and cost no credits."))
        }
        KeyCheck::Rejected => {
            return Err(AppError::validation(
                "key",
                format!("{label} refused this key (it may be revoked or mistyped). Nothing was saved."),
            ));
        }
        KeyCheck::Unreachable(why) => (
            KeyStatus::Unchecked,
            format!(
                "Saved, but it could not be checked ({why}). Calls use credits until \u{201c}Test key\u{201d} passes."
            ),
        ),
    };
    let key = store(state, user_id, provider, &key, KeySource::Pasted, status).await?;
    Ok(KeyOutcome { key, message })
}

/// Asks the provider about the stored key again and records the answer.
pub async fn test(state: &AppState, user_id: &str, provider: Provider) -> Result<KeyOutcome, AppError> {
    let label = provider.label();
    let (mut info, sealed) =
        find(&state.db, user_id, provider).await?.ok_or_else(|| AppError::not_found(format!("A saved {label} key")))?;
    let key = open(state, user_id, provider, &sealed)?;
    let (status, message) = match state.providers.check_key(provider, &key).await {
        KeyCheck::Valid => (KeyStatus::Valid, format!("{label} accepted the key.")),
        KeyCheck::Rejected => {
            (KeyStatus::Rejected, format!("{label} refused the key. Calls use credits until you replace it."))
        }
        KeyCheck::Unreachable(why) => {
            // Not knowing is not a verdict: an earlier answer stands.
            return Ok(KeyOutcome {
                message: format!("The key could not be checked ({why}). Try again later."),
                key: info,
            });
        }
    };
    let now = now_ms();
    sqlx::query("update provider_key set status = $1, checked_at_ms = $2, updated_at_ms = $2 where user_id = $3 and provider = $4")
        .bind(status.as_str())
        .bind(now)
        .bind(user_id)
        .bind(provider.as_str())
        .execute(state.db.pool())
        .await
        .map_err(db_err("recording a key check"))?;
    forget(state, user_id, provider);
    info.status = status;
    info.checked_at_ms = Some(now);
    Ok(KeyOutcome { key: info, message })
}

pub async fn remove(state: &AppState, user_id: &str, provider: Provider) -> Result<(), AppError> {
    let done = sqlx::query("delete from provider_key where user_id = $1 and provider = $2")
        .bind(user_id)
        .bind(provider.as_str())
        .execute(state.db.pool())
        .await
        .map_err(db_err("removing a provider key"))?;
    forget(state, user_id, provider);
    if done.rows_affected() == 0 {
        return Err(AppError::not_found(format!("A saved {} key", provider.label())));
    }
    tracing::info!(user_id, provider = provider.as_str(), "provider key removed");
    Ok(())
}

/// The key that pays for `user_id`'s calls to `provider`, if they have one the provider
/// accepted at its last check. Anything else (no key, refused, unchecked) means credits pay.
pub async fn usable_key(state: &AppState, user_id: &str, provider: Provider) -> Result<Option<String>, AppError> {
    let cache_key = (user_id.to_string(), provider.as_str());
    if let Some(key) = state.caches.provider_keys.get(&cache_key) {
        return Ok(key);
    }
    let key = match find(&state.db, user_id, provider).await? {
        Some((info, sealed)) if info.status == KeyStatus::Valid => Some(open(state, user_id, provider, &sealed)?),
        _ => None,
    };
    state.caches.provider_keys.insert(cache_key, key.clone());
    Ok(key)
}

/// Forgets which key pays for `user_id`'s calls to `provider`, after it changed.
pub fn forget(state: &AppState, user_id: &str, provider: Provider) {
    state.caches.provider_keys.remove(&(user_id.to_string(), provider.as_str()));
}

/// `user_id`'s saved key for `provider` whatever its last check said: a job submitted
/// with it is followed with it.
pub async fn stored_key(state: &AppState, user_id: &str, provider: Provider) -> Result<Option<String>, AppError> {
    match find(&state.db, user_id, provider).await? {
        Some((_, sealed)) => open(state, user_id, provider, &sealed).map(Some),
        None => Ok(None),
    }
}

/// Opens `user_id`'s sealed key for `provider`.
fn open(state: &AppState, user_id: &str, provider: Provider, sealed: &str) -> Result<String, AppError> {
    state
        .cipher
        .open(sealed, &cipher::binding(user_id, provider.as_str()))
        .map_err(|e| AppError::internal("opening a provider key", e))
}

/// Records that the provider refused a key while it was being used.
pub async fn mark_rejected(state: &AppState, user_id: &str, provider: Provider) -> Result<(), AppError> {
    let now = now_ms();
    sqlx::query("update provider_key set status = 'rejected', checked_at_ms = $1, updated_at_ms = $1 where user_id = $2 and provider = $3")
        .bind(now)
        .bind(user_id)
        .bind(provider.as_str())
        .execute(state.db.pool())
        .await
        .map_err(db_err("recording a refused key"))?;
    forget(state, user_id, provider);
    Ok(())
}
