//! What the app benchmarks share: a caller with an API token and plenty of credit.

use serde_json::json;
use tollgate::server::infra::state::AppState;
use tollgate::server::ledger::{CreditKind, CreditRequest};
use tollgate::server::services::accounts::{tokens, users};
use tollgate::shared::money::Micros;

/// Makes `bench@example.com` with a token and $100,000 of credit; the token's secret and id.
pub async fn funded_caller(state: &AppState) -> (String, String) {
    let user = users::create(&state.db, "bench@example.com", "a long enough password", users::Role::User, Micros::ZERO)
        .await
        .unwrap();
    let (secret, info) = tokens::create(&state.db, &user, "bench", None).await.unwrap();
    let wallet = state.ledger.open_wallet(&user.id).await.unwrap();
    state
        .ledger
        .credit(&CreditRequest {
            idempotency_key: "bench-credit".into(),
            wallet,
            amount: Micros::from_usd(100_000),
            kind: CreditKind::Adjustment,
            description: "benchmark".into(),
            metadata: json!({}),
            expires_at_ms: None,
        })
        .await
        .unwrap();
    (secret, info.id)
}
