//! What an endpoint costs a given account: the catalog price, or the account's own price
//! when an administrator set one (custom pricing).

use std::collections::BTreeMap;

use sqlx::Row;

use super::catalog::Price;
use crate::server::infra::db::Db;
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::shared::endpoint::EndpointId;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// A price as one account pays it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountPrice {
    pub price: Price,
    /// Set for this account by an administrator.
    pub custom: bool,
}

pub async fn account_prices(db: &Db, user_id: &str) -> Result<BTreeMap<String, Micros>, AppError> {
    let rows = sqlx::query("select endpoint_id, unit_price_micros from account_price where user_id = $1")
        .bind(user_id)
        .fetch_all(db.pool())
        .await
        .map_err(|e| AppError::internal("reading account prices", e))?;
    rows.iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, Micros(r.try_get::<i64, _>(1)?))))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| AppError::internal("reading account prices", e))
}

/// The prices of `endpoints` for `user_id`, in the order given.
pub async fn prices_for(
    state: &AppState,
    user_id: &str,
    endpoints: &[EndpointId],
) -> Result<Vec<AccountPrice>, AppError> {
    let own = match state.caches.account_prices.get(user_id) {
        Some(own) => own,
        None => {
            let own = std::sync::Arc::new(account_prices(&state.db, user_id).await?);
            state.caches.account_prices.insert(user_id.to_string(), own.clone());
            own
        }
    };
    Ok(endpoints
        .iter()
        .map(|id| {
            let mut price = state.catalog.price(id);
            let custom = match own.get(id.as_str()) {
                Some(p) => {
                    price.unit_price = *p;
                    true
                }
                None => false,
            };
            AccountPrice { price, custom }
        })
        .collect())
}

pub async fn price_for(state: &AppState, user_id: &str, endpoint_id: &EndpointId) -> Result<AccountPrice, AppError> {
    let mut list = prices_for(state, user_id, std::slice::from_ref(endpoint_id)).await?;
    Ok(list.remove(0))
}

/// Sets `user_id`'s price for `endpoint_id` (per the catalog's unit for it).
pub async fn set_account_price(
    db: &Db,
    user_id: &str,
    endpoint_id: &EndpointId,
    unit_price: Micros,
    set_by: &str,
) -> Result<(), AppError> {
    if !unit_price.is_positive() {
        return Err(AppError::validation("unit_price", "A price must be more than zero."));
    }
    sqlx::query(
        "insert into account_price (user_id, endpoint_id, unit_price_micros, set_by, updated_at_ms) \
         values ($1, $2, $3, $4, $5) \
         on conflict (user_id, endpoint_id) do update set unit_price_micros = excluded.unit_price_micros, \
             set_by = excluded.set_by, updated_at_ms = excluded.updated_at_ms",
    )
    .bind(user_id)
    .bind(endpoint_id.as_str())
    .bind(unit_price.get())
    .bind(set_by)
    .bind(now_ms())
    .execute(db.pool())
    .await
    .map_err(|e| AppError::internal("setting an account price", e))?;
    tracing::info!(user_id, %endpoint_id, unit_price_micros = unit_price.get(), set_by, "account price set");
    Ok(())
}

/// Removes `user_id`'s own price for `endpoint_id`; the catalog price applies again.
pub async fn clear_account_price(db: &Db, user_id: &str, endpoint_id: &EndpointId) -> Result<bool, AppError> {
    let done = sqlx::query("delete from account_price where user_id = $1 and endpoint_id = $2")
        .bind(user_id)
        .bind(endpoint_id.as_str())
        .execute(db.pool())
        .await
        .map_err(|e| AppError::internal("clearing an account price", e))?;
    Ok(done.rows_affected() > 0)
}
