//! The settings, parsed and checked one group at a time. `Config::from_layers` calls
//! these in order, so the first setting that cannot be used is the one reported.

use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

use super::layers::Layers;
use super::parse::{parse_bool, parse_database_url, parse_public_url, parse_socket_addr, sqlite_url_for};
use super::{ConfigError, DatabaseSetting, LogFormat, MasterKeySetting, SecretKey, SmtpUrl, parse_master_key};
use crate::shared::money::Micros;

/// Where the server listens and is reached, where it keeps its data, and its database.
pub(super) struct Site {
    pub(super) site_addr: SocketAddr,
    pub(super) public_url: Url,
    pub(super) data_dir: PathBuf,
    pub(super) database: DatabaseSetting,
    pub(super) database_max_connections: u32,
    pub(super) group_commit: bool,
}

pub(super) fn site(layers: &Layers<'_>) -> Result<Site, ConfigError> {
    let site_addr = layers.parse("site_addr", SocketAddr::from(([127, 0, 0, 1], 3000)), parse_socket_addr)?;
    let default_public = Url::parse(&format!("http://{site_addr}")).expect("a socket address makes a valid URL");
    let public_url = layers.parse("public_url", default_public, parse_public_url)?;
    let data_dir = layers.parse("data_dir", PathBuf::from("data"), |v| {
        if v.is_empty() { Err("must not be empty".into()) } else { Ok(PathBuf::from(v)) }
    })?;
    let database = match layers.get("database_url") {
        Some(raw) if !raw.value.trim().is_empty() => {
            parse_database_url(raw.value.trim()).map_err(|p| ConfigError::new(raw.origin, p))?
        }
        _ => DatabaseSetting::Sqlite { url: sqlite_url_for(&data_dir) },
    };
    let database_max_connections = layers.parse("database_max_connections", 10, |v| match v.parse::<u32>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!("`{v}` is not a whole number from 1 to 1000")),
    })?;
    // On by default where it pays: SQLite, whose one writer commits (fsyncs) one
    // transaction at a time. PostgreSQL commits many connections' transactions in
    // parallel already, and one lane per wallet group serialises unrelated wallets.
    let group_commit = layers.parse("group_commit", matches!(database, DatabaseSetting::Sqlite { .. }), parse_bool)?;
    Ok(Site { site_addr, public_url, data_dir, database, database_max_connections, group_commit })
}

/// Sandbox mode, logging, and where the browser bundle is served from.
pub(super) struct Runtime {
    pub(super) sandbox: bool,
    pub(super) log_format: LogFormat,
    pub(super) log_level: String,
    pub(super) site_root: Option<String>,
}

pub(super) fn runtime(layers: &Layers<'_>) -> Result<Runtime, ConfigError> {
    let sandbox = layers.parse("sandbox", true, parse_bool)?;
    let log_format = layers.parse("log_format", LogFormat::Pretty, |v| match v.to_ascii_lowercase().as_str() {
        "pretty" | "text" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("`{v}` is not a log format; use \"pretty\" or \"json\"")),
    })?;
    let log_level = layers.parse("log_level", "info".to_string(), |v| {
        tracing_subscriber::EnvFilter::try_new(v)
            .map(|_| v.to_string())
            .map_err(|e| format!("`{v}` is not a valid log filter ({e})"))
    })?;
    let site_root = layers.get("site_root").map(|r| r.value).filter(|v| !v.trim().is_empty());
    Ok(Runtime { sandbox, log_format, log_level, site_root })
}

/// What a new account is given, how long sessions last, and how client addresses are read.
pub(super) struct Accounts {
    pub(super) signup_credit: Micros,
    pub(super) signup_credit_expiry_days: Option<u32>,
    pub(super) session_idle_hours: u32,
    pub(super) session_max_days: u32,
    pub(super) behind_proxy: bool,
}

pub(super) fn accounts(layers: &Layers<'_>) -> Result<Accounts, ConfigError> {
    let signup_credit = layers.parse("signup_credit_usd", Micros::from_usd(5), |v| {
        let m = Micros::parse(v).map_err(|e| format!("`{v}`: {e}"))?;
        if m.is_negative() || m > Micros::from_usd(1_000) {
            return Err(format!("`{v}` must be from 0 to 1000 dollars"));
        }
        Ok(m)
    })?;
    let signup_credit_expiry_days =
        layers.parse("signup_credit_expiry_days", Some(90), |v| match v.parse::<u32>() {
            Ok(0) => Ok(None),
            Ok(n) if n <= 3650 => Ok(Some(n)),
            _ => Err(format!("`{v}` is not a number of days from 0 (never) to 3650")),
        })?;
    let session_idle_hours = layers.parse("session_idle_hours", 24 * 7, |v| match v.parse::<u32>() {
        Ok(n) if (1..=24 * 365).contains(&n) => Ok(n),
        _ => Err(format!("`{v}` is not a number of hours from 1 to 8760")),
    })?;
    let session_max_days = layers.parse("session_max_days", 30, |v| match v.parse::<u32>() {
        Ok(n) if (1..=365).contains(&n) => Ok(n),
        _ => Err(format!("`{v}` is not a number of days from 1 to 365")),
    })?;
    let behind_proxy = layers.parse("behind_proxy", false, parse_bool)?;
    Ok(Accounts { signup_credit, signup_credit_expiry_days, session_idle_hours, session_max_days, behind_proxy })
}

/// `secret_key`: optional with SQLite (a key file is kept), required with PostgreSQL.
pub(super) fn secret_key(layers: &Layers<'_>, database: &DatabaseSetting) -> Result<Option<SecretKey>, ConfigError> {
    let secret_key = match layers.get("secret_key") {
        Some(raw) if !raw.value.trim().is_empty() => {
            if raw.value.trim().len() < 32 {
                return Err(ConfigError::new(
                    raw.origin,
                    "must be at least 32 characters (e.g. `openssl rand -hex 32`)",
                ));
            }
            Some(SecretKey(raw.value.trim().as_bytes().to_vec()))
        }
        _ if database.is_postgres() => {
            return Err(ConfigError::new(
                "TOLLGATE_SECRET_KEY",
                "required with PostgreSQL, and the same on every instance (e.g. `openssl rand -hex 32`)",
            ));
        }
        _ => None,
    };
    Ok(secret_key)
}

/// Balance warnings, purchase amounts and bonus, the sign-up rate per address, and calls
/// in flight per wallet.
pub(super) struct Limits {
    pub(super) low_balance: Micros,
    pub(super) purchase_min: Micros,
    pub(super) purchase_max: Micros,
    pub(super) purchase_bonus_threshold: Micros,
    pub(super) purchase_bonus_percent: u32,
    pub(super) sign_ups_per_address: u32,
    pub(super) calls_in_flight: super::types::InFlightTiers,
}

pub(super) fn limits(layers: &Layers<'_>) -> Result<Limits, ConfigError> {
    let low_balance = layers.parse("low_balance_usd", Micros::from_usd(1), |v| {
        Micros::parse(v)
            .map_err(|e| format!("`{v}`: {e}"))
            .and_then(|m| if m.is_negative() { Err(format!("`{v}` must not be negative")) } else { Ok(m) })
    })?;
    let dollars = |key: &str, default: i64| {
        layers.parse(key, Micros::from_usd(default), |v| Micros::parse_positive(v).map_err(|e| format!("`{v}`: {e}")))
    };
    let purchase_min = dollars("purchase_min_usd", 5)?;
    let purchase_max = dollars("purchase_max_usd", 1000)?;
    if purchase_max < purchase_min {
        return Err(ConfigError::new("purchase_max_usd", "must not be less than purchase_min_usd"));
    }
    let purchase_bonus_threshold = dollars("purchase_bonus_threshold_usd", 50)?;
    let purchase_bonus_percent = layers.parse("purchase_bonus_percent", 10, |v| match v.parse::<u32>() {
        Ok(n) if n <= 100 => Ok(n),
        _ => Err(format!("`{v}` is not a percentage from 0 to 100")),
    })?;
    let sign_ups_per_address = layers.parse("sign_ups_per_address", 10, |v| match v.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{v}` is not a whole number of at least 1")),
    })?;
    let calls_in_flight = layers.parse(
        "calls_in_flight_tiers",
        super::types::InFlightTiers::standard(),
        super::types::InFlightTiers::parse,
    )?;
    Ok(Limits {
        calls_in_flight,
        low_balance,
        purchase_min,
        purchase_max,
        purchase_bonus_threshold,
        purchase_bonus_percent,
        sign_ups_per_address,
    })
}

/// Payments and webhooks: Stripe's secret key, its webhook's signing secret and where its
/// API is; the auto top-up cooldown; whether outgoing webhooks may reach private addresses.
pub(super) struct Stripe {
    pub(super) stripe_webhook_secret: Option<SecretKey>,
    pub(super) stripe_secret_key: Option<SecretKey>,
    pub(super) stripe_api_base: Url,
    pub(super) auto_top_up_cooldown_secs: u32,
    pub(super) webhooks_allow_private: bool,
}

pub(super) fn stripe(layers: &Layers<'_>) -> Result<Stripe, ConfigError> {
    let stripe_webhook_secret = layers.optional_secret("stripe_webhook_secret");
    let stripe_secret_key = layers.optional_secret("stripe_secret_key");
    let stripe_api_base =
        layers.parse("stripe_api_base", Url::parse("https://api.stripe.com/").expect("valid"), parse_public_url)?;
    // The least time between two auto top-up attempts of one account.
    let auto_top_up_cooldown_secs = layers.parse("auto_top_up_cooldown_secs", 600, |v| match v.parse::<u32>() {
        Ok(n) if n <= 86_400 => Ok(n),
        _ => Err(format!("`{v}` is not a whole number of seconds from 0 to 86400")),
    })?;
    let webhooks_allow_private = layers.parse("webhooks_allow_private", false, parse_bool)?;
    Ok(Stripe {
        stripe_webhook_secret,
        stripe_secret_key,
        stripe_api_base,
        auto_top_up_cooldown_secs,
        webhooks_allow_private,
    })
}

/// `master_key`: only the sandbox with SQLite may leave it empty (a key file is kept).
pub(super) fn master_key(
    layers: &Layers<'_>,
    sandbox: bool,
    database: &DatabaseSetting,
) -> Result<Option<MasterKeySetting>, ConfigError> {
    let master_key = match layers.get("master_key") {
        Some(raw) if !raw.value.trim().is_empty() => {
            Some(MasterKeySetting(parse_master_key(&raw.value).map_err(|p| ConfigError::new(raw.origin, p))?))
        }
        _ if !sandbox || database.is_postgres() => {
            return Err(ConfigError::new(
                "TOLLGATE_MASTER_KEY",
                "required outside the sandbox and with PostgreSQL: it encrypts the provider keys people store, \
                 and must be the same on every instance (make one with `openssl rand -hex 32`)",
            ));
        }
        _ => None,
    };
    Ok(master_key)
}

/// The model providers (fal, OpenRouter): where they are, the platform's own keys, and
/// the price catalog.
pub(super) struct Providers {
    pub(super) fal_api_base: Option<Url>,
    pub(super) openrouter_base: Option<Url>,
    pub(super) fal_run_base: Option<Url>,
    pub(super) fal_queue_base: Option<Url>,
    pub(super) fal_platform_key: Option<SecretKey>,
    pub(super) openrouter_platform_key: Option<SecretKey>,
    pub(super) price_catalog: Option<PathBuf>,
    pub(super) unknown_endpoint_price: Micros,
}

pub(super) fn providers(layers: &Layers<'_>) -> Result<Providers, ConfigError> {
    let fal_api_base = layers.optional_url("fal_api_base")?;
    let openrouter_base = layers.optional_url("openrouter_base")?;
    let fal_run_base = layers.optional_url("fal_run_base")?;
    let fal_queue_base = layers.optional_url("fal_queue_base")?;
    let fal_platform_key = layers.optional_secret("fal_platform_key");
    let openrouter_platform_key = layers.optional_secret("openrouter_platform_key");
    let price_catalog =
        layers.get("price_catalog").map(|r| r.value.trim().to_string()).filter(|v| !v.is_empty()).map(PathBuf::from);
    let unknown_endpoint_price = layers.parse("unknown_endpoint_price_usd", Micros(50_000), |v| {
        Micros::parse_positive(v).map_err(|e| format!("`{v}`: {e}"))
    })?;
    Ok(Providers {
        fal_api_base,
        openrouter_base,
        fal_run_base,
        fal_queue_base,
        fal_platform_key,
        openrouter_platform_key,
        price_catalog,
        unknown_endpoint_price,
    })
}

/// Notice emails: the SMTP server (none: no email is sent) and the sender.
pub(super) struct Email {
    pub(super) smtp_url: Option<SmtpUrl>,
    pub(super) smtp_from: String,
}

pub(super) fn email(layers: &Layers<'_>, public_url: &Url) -> Result<Email, ConfigError> {
    let smtp_url =
        layers.parse("smtp_url", None, |v| if v.is_empty() { Ok(None) } else { SmtpUrl::parse(v).map(Some) })?;
    // The site's own name when it has one; an address cannot be sent from an IP.
    let domain = match public_url.host() {
        Some(url::Host::Domain(d)) if d.contains('.') => d.to_string(),
        _ => "localhost".to_string(),
    };
    let smtp_from = layers.parse("smtp_from", format!("Tollgate <notices@{domain}>"), |v| {
        v.parse::<lettre::message::Mailbox>()
            .map(|m| m.to_string())
            .map_err(|_| format!("`{v}` is not a sender such as Billing <billing@example.com>"))
    })?;
    Ok(Email { smtp_url, smtp_from })
}
