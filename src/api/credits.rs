//! The Credits page: balance and transactions.

use crate::shared::error::AppError;
use crate::shared::money::Micros;
use leptos::prelude::*;

pub use crate::shared::dto::credits::*;

#[server(endpoint = "transactions")]
pub async fn list_transactions(filter: String, before: Option<String>) -> Result<TxPage, AppError> {
    use crate::server::services::credits;
    crate::server::web::guard::acting(|state, acting| async move {
        let filter = TxFilter::from_field(&filter)?;
        let before = match before.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(super::whole_number("before", raw, 1..=i64::MAX as u64)? as i64),
        };
        credits::transactions(&state, acting.owner_id(), filter, before, TX_PAGE_SIZE).await
    })
    .await
}

/// Redeems a gift code; answers with the amount added.
/// The person's notices of the last 30 days (low balance, a failed top-up, credits
/// expiring, an invoice due), newest first.
#[server(endpoint = "notices")]
pub async fn list_notices() -> Result<Vec<crate::shared::dto::notices::Notice>, AppError> {
    use crate::server::infra::installation::now_ms;
    use crate::server::services::notices;
    crate::server::web::guard::acting(|state, acting| async move {
        notices::list(&state, acting.owner_id(), now_ms(), 10).await
    })
    .await
}

#[server(endpoint = "gift_redeem")]
pub async fn redeem_gift_code(code: String) -> Result<Micros, AppError> {
    use crate::server::infra::installation::now_ms;
    use crate::server::services::gifts;
    crate::server::web::guard::signed_in(|state, user| async move {
        gifts::redeem(&state, &state.secret_key, &user, &code, now_ms()).await
    })
    .await
}

/// Every batch with its redemption count. Administrators only.
#[server(endpoint = "admin_gift_batches")]
pub async fn list_gift_batches() -> Result<Vec<GiftBatch>, AppError> {
    use crate::server::services::gifts;
    crate::server::web::guard::admin(|state, _| async move { gifts::list_batches(&state.db).await }).await
}
