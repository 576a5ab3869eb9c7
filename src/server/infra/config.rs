//! Runtime settings: `Leptos.toml`, then `.env`, then `TOLLGATE_*` environment variables.
//!
//! Every setting is validated here, once, at start. A problem is reported as one line
//! that names the setting the way the user wrote it (the environment variable or the key
//! in the settings file) so it can be fixed without reading the code.

mod file;
mod groups;
mod keys;
mod layers;
mod parse;
mod types;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use url::Url;

use file::read_settings_file;
use groups::{Accounts, Limits, Providers, Runtime, Site, Stripe};
use layers::Layers;
pub use parse::{parse_database_url, parse_master_key, redact_url};
pub use types::{ConfigError, DatabaseSetting, InFlightTiers, LogFormat, MasterKeySetting, SecretKey, SmtpUrl};

/// The settings file read when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "Leptos.toml";

/// Every setting Tollgate knows. Anything else in the settings file is a typo.
const KEYS: &[&str] = &[
    "site_addr",
    "public_url",
    "data_dir",
    "database_url",
    "database_max_connections",
    "group_commit",
    "sandbox",
    "log_format",
    "log_level",
    "site_root",
    "signup_credit_usd",
    "signup_credit_expiry_days",
    "session_idle_hours",
    "session_max_days",
    "behind_proxy",
    "low_balance_usd",
    "secret_key",
    "purchase_min_usd",
    "purchase_max_usd",
    "purchase_bonus_threshold_usd",
    "purchase_bonus_percent",
    "stripe_webhook_secret",
    "sign_ups_per_address",
    "stripe_secret_key",
    "stripe_api_base",
    "auto_top_up_cooldown_secs",
    "webhooks_allow_private",
    "smtp_url",
    "smtp_from",
    "master_key",
    "fal_api_base",
    "openrouter_base",
    "price_catalog",
    "fal_run_base",
    "fal_queue_base",
    "fal_platform_key",
    "openrouter_platform_key",
    "unknown_endpoint_price_usd",
    "calls_in_flight_tiers",
];

#[derive(Clone, Debug)]
pub struct Config {
    pub site_addr: SocketAddr,
    pub public_url: Url,
    pub data_dir: PathBuf,
    pub database: DatabaseSetting,
    pub database_max_connections: u32,
    /// Calls beginning and finishing at the same time share one database transaction
    /// (one commit, one fsync) instead of committing one by one. On by default with
    /// SQLite, off with PostgreSQL.
    pub group_commit: bool,
    pub sandbox: bool,
    pub log_format: LogFormat,
    pub log_level: String,
    /// Where the compiled browser bundle and static assets live; `None` keeps Leptos's
    /// own default (`target/site`, or what cargo-leptos says).
    pub site_root: Option<String>,
    /// Credit given to each new account (zero turns it off).
    pub signup_credit: crate::shared::money::Micros,
    /// Days until unspent sign-up credit expires (`None`: never).
    pub signup_credit_expiry_days: Option<u32>,
    /// A session ends after this long without a request.
    pub session_idle_hours: u32,
    /// A session ends this long after sign-in, however active.
    pub session_max_days: u32,
    /// Tollgate runs behind a reverse proxy that appends the client's address to
    /// `X-Forwarded-For`; the last entry is then taken as the client.
    pub behind_proxy: bool,
    /// Under this available balance, people are warned.
    pub low_balance: crate::shared::money::Micros,
    /// Keys the hashes that protect gift codes. Empty: kept in `<data_dir>/secret.key`,
    /// made on first start (SQLite only: instances sharing PostgreSQL must share it).
    pub secret_key: Option<SecretKey>,
    pub purchase_min: crate::shared::money::Micros,
    pub purchase_max: crate::shared::money::Micros,
    pub purchase_bonus_threshold: crate::shared::money::Micros,
    pub purchase_bonus_percent: u32,
    /// The signing secret of the Stripe webhook endpoint (whsec_...). Empty: one derived
    /// from the secret key, which is what the sandbox signs with.
    pub stripe_webhook_secret: Option<SecretKey>,
    /// Sign-ups one client address may make before being slowed (per 15 minutes).
    pub sign_ups_per_address: u32,
    /// Calls a wallet may have in flight at once, by what its buyers have paid.
    pub calls_in_flight: InFlightTiers,
    /// A Stripe secret key (sk_...). With one, purchases go through Stripe Checkout and
    /// the sandbox checkout is off.
    pub stripe_secret_key: Option<SecretKey>,
    /// Where the Stripe API is (tests point it at a local stand-in).
    pub stripe_api_base: Url,
    /// The least time between two auto top-up attempts of one account.
    pub auto_top_up_cooldown_secs: u32,
    /// Webhook endpoints may be on loopback or private addresses (off: refused, so a
    /// registered URL cannot reach inside the network).
    pub webhooks_allow_private: bool,
    /// Where notice emails go (low balance, a failed top-up, credits expiring, an invoice
    /// due). Empty: no email is sent.
    pub smtp_url: Option<SmtpUrl>,
    /// Who notice emails are from.
    pub smtp_from: String,
    /// Encrypts the provider keys people store (32 bytes as 64 hex digits). Empty: kept
    /// in `<data_dir>/master.key`, made on first start, which only the sandbox allows.
    pub master_key: Option<MasterKeySetting>,
    /// Where fal's platform API is. Empty: the built-in sandbox in sandbox mode,
    /// `https://api.fal.ai` otherwise.
    pub fal_api_base: Option<Url>,
    /// Where OpenRouter is (its consent page and API). Empty: the built-in sandbox in
    /// sandbox mode, `https://openrouter.ai` otherwise.
    pub openrouter_base: Option<Url>,
    /// Where fal runs models synchronously. Empty: the built-in sandbox in sandbox mode,
    /// `https://fal.run` otherwise.
    pub fal_run_base: Option<Url>,
    /// Where fal's queue takes long jobs (video); empty means the sandbox or `https://queue.fal.run/`.
    pub fal_queue_base: Option<Url>,
    /// This platform's own fal key, which pays for calls people pay for with credits.
    pub fal_platform_key: Option<SecretKey>,
    /// This platform's own OpenRouter key, which pays for chat calls paid with credits.
    pub openrouter_platform_key: Option<SecretKey>,
    /// A price catalog file to use instead of the built-in one.
    pub price_catalog: Option<PathBuf>,
    /// What an endpoint missing from the catalog costs, per request.
    pub unknown_endpoint_price: crate::shared::money::Micros,
}

impl Config {
    /// Loads the settings file (if any) and applies overrides from `env`.
    ///
    /// `file` is `Some` when the user named a settings file: then it must exist. With `None`
    /// the default `Leptos.toml` is read when present and skipped when absent, so the
    /// binary also runs from a directory that holds nothing but itself.
    pub fn load(file: Option<&Path>, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (path, required) = match file {
            Some(path) => (path.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG_FILE), false),
        };
        let file_name = path.display().to_string();
        let file = read_settings_file(&path, required)?;
        Self::from_layers(&Layers { file, file_name, env })
    }

    /// Parses every setting, group by group, in the order they are reported.
    fn from_layers(layers: &Layers<'_>) -> Result<Self, ConfigError> {
        let Site { site_addr, public_url, data_dir, database, database_max_connections, group_commit } =
            groups::site(layers)?;
        let Runtime { sandbox, log_format, log_level, site_root } = groups::runtime(layers)?;
        let Accounts { signup_credit, signup_credit_expiry_days, session_idle_hours, session_max_days, behind_proxy } =
            groups::accounts(layers)?;
        let secret_key = groups::secret_key(layers, &database)?;
        let Limits {
            low_balance,
            purchase_min,
            purchase_max,
            purchase_bonus_threshold,
            purchase_bonus_percent,
            sign_ups_per_address,
            calls_in_flight,
        } = groups::limits(layers)?;
        let Stripe {
            stripe_webhook_secret,
            stripe_secret_key,
            stripe_api_base,
            auto_top_up_cooldown_secs,
            webhooks_allow_private,
        } = groups::stripe(layers)?;
        let groups::Email { smtp_url, smtp_from } = groups::email(layers, &public_url)?;
        let master_key = groups::master_key(layers, sandbox, &database)?;
        let Providers {
            fal_api_base,
            openrouter_base,
            fal_run_base,
            fal_queue_base,
            fal_platform_key,
            openrouter_platform_key,
            price_catalog,
            unknown_endpoint_price,
        } = groups::providers(layers)?;
        Ok(Self {
            smtp_url,
            smtp_from,
            fal_run_base,
            fal_queue_base,
            fal_platform_key,
            openrouter_platform_key,
            price_catalog,
            unknown_endpoint_price,
            master_key,
            fal_api_base,
            openrouter_base,
            site_addr,
            public_url,
            data_dir,
            database,
            database_max_connections,
            group_commit,
            sandbox,
            log_format,
            log_level,
            site_root,
            signup_credit,
            signup_credit_expiry_days,
            session_idle_hours,
            session_max_days,
            behind_proxy,
            low_balance,
            secret_key,
            purchase_min,
            purchase_max,
            purchase_bonus_threshold,
            purchase_bonus_percent,
            stripe_webhook_secret,
            sign_ups_per_address,
            calls_in_flight,
            stripe_secret_key,
            stripe_api_base,
            auto_top_up_cooldown_secs,
            webhooks_allow_private,
        })
    }

    pub fn session_max_age_ms(&self) -> i64 {
        i64::from(self.session_max_days) * 86_400_000
    }

    /// Whether cookies must be marked `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

#[cfg(test)]
mod tests;
