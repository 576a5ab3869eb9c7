//! Starting and stopping the server: connect, migrate, bind, serve, drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use leptos::config::{Env, LeptosOptions};
use tokio::net::TcpListener;

use crate::server::infra::config::Config;
use crate::server::infra::db::{Db, DbError};
use crate::server::infra::installation;
use crate::server::infra::instance::Lease;
use crate::server::infra::state::{AppState, Shared};
use crate::server::ledger::{Clock, Ledger, LedgerError, spawn_sweeper};
use crate::server::web::http;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("database: cannot record this installation: {0}")]
    Installation(sqlx::Error),
    #[error("database: cannot open the ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Secret(crate::server::infra::config::ConfigError),
    #[error("price_catalog: {0}")]
    Catalog(String),
    #[error("cannot make the HTTP client for AI providers: {0}")]
    Providers(reqwest::Error),
    #[error("site_addr: cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Lease(#[from] crate::server::infra::instance::LeaseError),
    #[error("{0}")]
    Email(String),
}

/// How long requests in flight may take to finish once shutdown starts.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// How often expired holds and credit lots are swept.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// The built-in price catalog, or the file `price_catalog` names, checked whole.
pub fn load_catalog(config: &Config) -> Result<crate::server::services::gateway::catalog::Catalog, StartError> {
    use crate::server::services::gateway::catalog::Catalog;
    match &config.price_catalog {
        None => Ok(Catalog::builtin(config.unknown_endpoint_price)),
        Some(path) => {
            let name = path.display().to_string();
            let text =
                std::fs::read_to_string(path).map_err(|e| StartError::Catalog(format!("cannot read {name} ({e})")))?;
            Catalog::parse(&text, &name, config.unknown_endpoint_price).map_err(|e| StartError::Catalog(e.to_string()))
        }
    }
}

/// A server that has its database ready and its port bound, not yet serving.
pub struct AppServer {
    listener: TcpListener,
    state: AppState,
    web: http::WebApp,
    /// This instance's lease: held while it serves, so others know its calls are live.
    lease: Lease,
    /// Notice emails go out through it when `smtp_url` is set.
    mailer: Option<crate::server::adapters::email::Mailer>,
}

/// Background tasks, stopped when dropped: with the server, however it stops.
struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl AppServer {
    pub async fn build(config: Config, web: http::WebApp) -> Result<Self, StartError> {
        let site_addr = config.site_addr;
        let state = open_state(config, || async move {
            let listener =
                TcpListener::bind(site_addr).await.map_err(|source| StartError::Bind { addr: site_addr, source })?;
            let bound = listener.local_addr().unwrap_or(site_addr);
            Ok((listener, bound))
        })
        .await?;
        let (state, listener) = state;
        let mailer = match &state.config.smtp_url {
            Some(url) => Some(
                crate::server::adapters::email::Mailer::new(url, &state.config.smtp_from).map_err(StartError::Email)?,
            ),
            None => None,
        };
        let lease = Lease::take(&state.db, state.instance).await?;
        // Serving instances set the shared threshold; administrative commands leave it.
        state.ledger.set_low_balance(state.config.low_balance).await?;
        Ok(Self { listener, state, web, lease, mailer })
    }

    /// The bound address (useful when the settings asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then stops accepting, lets requests in flight
    /// finish, and closes the database pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let addr = self.local_addr();
        let db = self.state.db.clone();
        // Dropped (and so stopped) when this future ends or is dropped. The recovery task
        // holds the lease, so the lease ends with it.
        let mut background = Background(vec![
            crate::server::services::gateway::recovery::spawn_recovery(self.state.clone(), self.lease),
            spawn_sweeper(self.state.ledger.clone(), SWEEP_EVERY),
            crate::server::services::gateway::jobs::spawn_poller(self.state.clone()),
            crate::server::services::payments::invoices::spawn_monthly(self.state.clone()),
            spawn_session_cleanup(db.clone()),
            self.state.event_bus.spawn(db.clone(), self.state.config.database.url().to_string()),
            crate::server::services::webhooks::spawn_sender(self.state.clone()),
        ]);
        if let Some(mailer) = self.mailer {
            background.0.push(crate::server::services::email::spawn_sender(self.state.clone(), mailer));
        }
        let bus = self.state.event_bus.clone();
        let app = http::router(self.state, self.web);
        tracing::info!(%addr, "Tollgate is listening on http://{addr}");
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            // Live event streams end now, so they do not hold the shutdown for its grace.
            bus.close();
            let _ = stopping_tx.send(());
        };
        let serve = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown);
        // Requests in flight get a grace period, not forever: a stuck client must not keep
        // the process from stopping.
        let deadline = async {
            if stopping_rx.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        let served = tokio::select! {
            served = serve => served,
            () = deadline => {
                tracing::warn!("requests still running after {}s; stopping anyway", SHUTDOWN_GRACE.as_secs());
                Ok(())
            }
        };
        drop(background);
        db.close().await;
        tracing::info!("stopped");
        served
    }
}

/// Deletes expired sessions every ten minutes.
fn spawn_session_cleanup(db: Db) -> tokio::task::JoinHandle<()> {
    let store = crate::server::services::accounts::session_store::DbSessionStore::new(db);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
        }
    })
}

/// Leptos's own options. cargo-leptos passes where the compiled bundle is through
/// `LEPTOS_*` variables; a deployed binary uses the defaults or `site_root`.
fn leptos_options(config: &Config, addr: SocketAddr) -> LeptosOptions {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let site_root =
        config.site_root.clone().or_else(|| var("LEPTOS_SITE_ROOT")).unwrap_or_else(|| "target/site".into());
    let env = match var("LEPTOS_ENV").as_deref() {
        Some("PROD" | "prod" | "production") => Env::PROD,
        Some(_) => Env::DEV,
        None if cfg!(debug_assertions) => Env::DEV,
        None => Env::PROD,
    };
    LeptosOptions::builder()
        .output_name(var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|| "tollgate".into()))
        .site_root(site_root)
        .site_pkg_dir(var("LEPTOS_SITE_PKG_DIR").unwrap_or_else(|| "pkg".into()))
        .site_addr(addr)
        .reload_port(var("LEPTOS_RELOAD_PORT").and_then(|p| p.parse().ok()).unwrap_or(3001))
        .env(env)
        .hash_files(hash_files(var("LEPTOS_HASH_FILES").as_deref()))
        .build()
}

/// Whether the bundle's files carry content hashes in their names. cargo-leptos says so
/// when it runs the server; a binary started on its own looks for the `hash.txt` its build
/// left beside it (Leptos reads the names from there).
fn hash_files(told: Option<&str>) -> bool {
    match told {
        Some(v) => v == "true",
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt").is_file()))
            .unwrap_or(false),
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives while the server
/// is still starting is not lost (and does not kill the process unannounced).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {},
                        _ = terminate.recv() => {},
                    }
                }
                _ => {
                    tracing::warn!("cannot listen for SIGINT/SIGTERM; stop the server by killing it");
                    std::future::pending::<()>().await;
                }
            }
            tracing::info!("shutdown requested; finishing requests in flight");
        }
    }
    #[cfg(not(unix))]
    async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested; finishing requests in flight");
    }
}

/// Opens everything the app runs on (database, migrations, ledger, keys, providers,
/// catalog) into its shared state. `place` runs once the database is ready and says
/// where the site is served (the server binds its port there).
pub async fn open_state<T, F, Fut>(mut config: Config, place: F) -> Result<(AppState, T), StartError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(T, SocketAddr), StartError>>,
{
    let db = Db::connect(&config.database, config.database_max_connections)
        .await?
        .grouping_writes(config.group_commit, config.database_max_connections);
    let report = db.migrate().await?;
    tracing::info!(
        database = %config.database,
        applied = report.applied_now,
        schema_version = report.latest_version,
        "database ready"
    );
    let installation = installation::ensure(&db).await.map_err(StartError::Installation)?;
    let ledger = Ledger::new(db.clone(), Clock::System).await?;
    let secret_key = Arc::new(config.load_secret_key().map_err(StartError::Secret)?);
    let cipher =
        Arc::new(crate::server::infra::cipher::KeyCipher::new(&config.load_master_key().map_err(StartError::Secret)?));
    // The first unknown-email sign-in must not be the one that pays for this.
    tokio::task::spawn_blocking(crate::server::services::accounts::passwords::warm_up);
    let (placed, site_addr) = place().await?;
    // Asked for any free port: addresses made for browsers (OAuth callbacks) need the real one.
    if config.public_url.port() == Some(0) {
        let _ = config.public_url.set_port(Some(site_addr.port()));
    }
    let providers =
        crate::server::adapters::providers::Providers::new(&config, &secret_key.0).map_err(StartError::Providers)?;
    let catalog = Arc::new(load_catalog(&config)?);
    let state = AppState::new(Shared {
        leptos_options: leptos_options(&config, site_addr),
        config: Arc::new(config),
        db,
        ledger,
        installation,
        secret_key,
        cipher,
        providers,
        catalog,
        started_at: Instant::now(),
        instance: crate::server::infra::instance::InstanceId::new(),
        event_bus: crate::server::infra::event_bus::EventBus::new(),
        caches: Arc::default(),
    });
    Ok((state, placed))
}

#[cfg(test)]
mod tests {
    use super::hash_files;

    #[test]
    fn bundle_names_are_hashed_when_told_or_when_the_build_left_hash_txt() {
        assert!(hash_files(Some("true")));
        assert!(!hash_files(Some("false")));
        assert!(!hash_files(Some("yes")));
        // Nothing beside the test binary: the plain names.
        let beside = std::env::current_exe().unwrap().parent().unwrap().join("hash.txt");
        assert_eq!(hash_files(None), beside.is_file());
    }
}
