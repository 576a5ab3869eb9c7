//! The Credits page: balance and transactions.

use crate::shared::error::AppError;
use crate::shared::money::Micros;
use leptos::prelude::*;

pub use crate::shared::dto::credits::*;

#[server(endpoint = "transactions")]
pub async fn list_transactions(filter: String, before: Option<String>) -> Result<TxPage, AppError> {
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            let before = match before.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(raw) => Some(super::whole_number("before", raw, 1..=i64::MAX as u64)? as i64),
            };
            crate::server::services::credits::transactions(
                &state,
                &user,
                TxFilter::from_slug(&filter),
                before,
                TX_PAGE_SIZE,
            )
            .await
        }
        .await,
    )
}

/// Redeems a gift code; answers with the amount added.
#[server(endpoint = "gift_redeem")]
pub async fn redeem_gift_code(code: String) -> Result<Micros, AppError> {
    use crate::server::infra::installation::now_ms;
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            crate::server::services::gifts::redeem(&state, &state.secret_key, &user, &code, now_ms()).await
        }
        .await,
    )
}

/// Every batch with its redemption count. Administrators only.
#[server(endpoint = "admin_gift_batches")]
pub async fn list_gift_batches() -> Result<Vec<GiftBatch>, AppError> {
    use crate::server::services::accounts::users::Role;
    use crate::server::web::guard;
    guard::respond(
        async {
            let (state, user) = guard::require_user().await?;
            if user.role != Role::Admin {
                return Err(AppError::Forbidden);
            }
            let batches = crate::server::services::gifts::list_batches(&state.db).await?;
            Ok(batches
                .into_iter()
                .map(|b| GiftBatch {
                    id: b.id,
                    amount: b.amount,
                    codes: b.codes,
                    max_uses: b.max_uses,
                    redemptions: b.redemptions,
                    expires_at_ms: b.expires_at_ms,
                    note: b.note,
                    created_at_ms: b.created_at_ms,
                })
                .collect())
        }
        .await,
    )
}
