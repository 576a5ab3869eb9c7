//! The state every request handler, server function and background job can reach.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;
use leptos::prelude::{LeptosOptions, use_context};

use crate::server::infra::config::Config;
use crate::server::infra::db::Db;
use crate::server::infra::installation::Installation;
use crate::server::ledger::Ledger;
use crate::shared::error::AppError;

/// What every handler shares. Cheap to clone (one reference count): axum clones it for
/// each extractor and middleware of every request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub db: Db,
    pub ledger: Ledger,
    pub installation: Installation,
    pub secret_key: Arc<crate::server::infra::config::SecretKey>,
    /// Seals and opens the provider keys people store.
    pub cipher: Arc<crate::server::infra::cipher::KeyCipher>,
    pub providers: crate::server::adapters::providers::Providers,
    pub catalog: Arc<crate::server::services::gateway::catalog::Catalog>,
    pub started_at: Instant,
    /// This process among the instances sharing the database; its calls carry the id.
    pub instance: crate::server::infra::instance::InstanceId,
    /// Says which wallets have new money events (see `infra::event_bus`).
    pub event_bus: crate::server::infra::event_bus::EventBus,
    pub caches: Arc<crate::server::infra::cache::Caches>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    pub fn purchase_rules(&self) -> crate::shared::dto::purchases::PurchaseRules {
        crate::shared::dto::purchases::PurchaseRules {
            min: self.config.purchase_min,
            max: self.config.purchase_max,
            bonus_threshold: self.config.purchase_bonus_threshold,
            bonus_percent: self.config.purchase_bonus_percent,
            sandbox: self.config.stripe_secret_key.is_none() && self.config.sandbox,
            available: self.config.stripe_secret_key.is_some() || self.config.sandbox,
        }
    }

    /// The secret Stripe webhook deliveries are signed with.
    pub fn webhook_secret(&self) -> Vec<u8> {
        if let Some(secret) = &self.config.stripe_webhook_secret {
            return secret.0.clone();
        }
        crate::server::infra::crypto::hmac_sha256(&self.secret_key.0, &[b"sandbox-stripe-webhook"]).to_vec()
    }

    /// The state inside a server function or SSR render. Its absence is a wiring bug,
    /// reported as an internal error rather than a panic in a request.
    pub fn from_context() -> Result<Self, AppError> {
        use_context::<Self>().ok_or_else(|| AppError::internal("server function", "AppState is not in context"))
    }
}
