//! Runtime settings: `Leptos.toml`, then `.env`, then `TOLLGATE_*` environment variables.
//!
//! Every setting is validated here, once, at start. A problem is reported as one line
//! that names the setting the way the user wrote it (the environment variable or the key
//! in the settings file) so it can be fixed without reading the code.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use url::Url;

/// The settings file read when none is named.
pub const DEFAULT_CONFIG_FILE: &str = "Leptos.toml";

/// Every setting Tollgate knows. Anything else in the settings file is a typo.
const KEYS: &[&str] = &[
    "site_addr",
    "public_url",
    "data_dir",
    "database_url",
    "database_max_connections",
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
    "master_key",
    "fal_api_base",
    "openrouter_base",
    "price_catalog",
    "fal_run_base",
    "fal_queue_base",
    "fal_platform_key",
    "openrouter_platform_key",
    "unknown_endpoint_price_usd",
];

#[derive(Clone, Debug)]
pub struct Config {
    pub site_addr: SocketAddr,
    pub public_url: Url,
    pub data_dir: PathBuf,
    pub database: DatabaseSetting,
    pub database_max_connections: u32,
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
    /// A Stripe secret key (sk_...). With one, purchases go through Stripe Checkout and
    /// the sandbox checkout is off.
    pub stripe_secret_key: Option<SecretKey>,
    /// Where the Stripe API is (tests point it at a local stand-in).
    pub stripe_api_base: Url,
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

/// The master key as configured: 32 bytes, never printed.
#[derive(Clone)]
pub struct MasterKeySetting(pub [u8; 32]);

impl std::fmt::Debug for MasterKeySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Reads 64 hex digits as a 32-byte key.
pub fn parse_master_key(v: &str) -> Result<[u8; 32], String> {
    let v = v.trim();
    let bytes = v.as_bytes();
    if bytes.len() != 64 || !bytes.iter().all(u8::is_ascii_hexdigit) {
        return Err("must be 64 hexadecimal digits (32 bytes), e.g. from `openssl rand -hex 32`".into());
    }
    let mut key = [0u8; 32];
    for (i, pair) in bytes.chunks(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16).expect("checked");
        let lo = (pair[1] as char).to_digit(16).expect("checked");
        key[i] = (hi * 16 + lo) as u8;
    }
    Ok(key)
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(***)")
    }
}

/// The server's secret, never printed.
#[derive(Clone)]
pub struct SecretKey(pub Vec<u8>);

/// Which database to use, decided from `database_url`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseSetting {
    /// The embedded default: a SQLite file (a path, or `sqlite:` URL as given).
    Sqlite {
        url: String,
    },
    Postgres {
        url: String,
    },
}

impl DatabaseSetting {
    pub fn url(&self) -> &str {
        match self {
            Self::Sqlite { url } | Self::Postgres { url } => url,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres { .. })
    }
}

/// Database URLs carry passwords; this shows them with the password replaced.
impl fmt::Debug for DatabaseSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.url()))
    }
}

impl fmt::Display for DatabaseSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(self.url()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// A setting that cannot be used, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

impl ConfigError {
    fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { setting: setting.into(), problem: problem.into() }
    }
}

/// One raw value and the name it should be reported under.
struct Raw {
    value: String,
    origin: String,
}

/// The layered raw values, before parsing.
struct Layers<'a> {
    file: BTreeMap<String, String>,
    file_name: String,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Layers<'_> {
    fn get(&self, key: &str) -> Option<Raw> {
        let var = format!("TOLLGATE_{}", key.to_ascii_uppercase());
        if let Some(value) = (self.env)(&var) {
            return Some(Raw { value, origin: var });
        }
        self.file.get(key).map(|value| Raw { value: value.clone(), origin: format!("{key} in {}", self.file_name) })
    }

    fn parse<T>(&self, key: &str, default: T, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => parse(raw.value.trim()).map_err(|problem| ConfigError::new(raw.origin, problem)),
        }
    }
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

    fn from_layers(layers: &Layers<'_>) -> Result<Self, ConfigError> {
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
        let signup_credit = layers.parse("signup_credit_usd", crate::shared::money::Micros::from_usd(5), |v| {
            let m = crate::shared::money::Micros::parse(v).map_err(|e| format!("`{v}`: {e}"))?;
            if m.is_negative() || m > crate::shared::money::Micros::from_usd(1_000) {
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
        let low_balance = layers.parse("low_balance_usd", crate::shared::money::Micros::from_usd(1), |v| {
            crate::shared::money::Micros::parse(v)
                .map_err(|e| format!("`{v}`: {e}"))
                .and_then(|m| if m.is_negative() { Err(format!("`{v}` must not be negative")) } else { Ok(m) })
        })?;
        let dollars = |key: &str, default: i64| {
            layers.parse(key, crate::shared::money::Micros::from_usd(default), |v| {
                crate::shared::money::Micros::parse_positive(v).map_err(|e| format!("`{v}`: {e}"))
            })
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
        // A secret that may be left empty.
        let optional_secret = |key: &str| {
            layers
                .get(key)
                .map(|r| r.value.trim().to_string())
                .filter(|v| !v.is_empty())
                .map(|v| SecretKey(v.into_bytes()))
        };
        let stripe_webhook_secret = optional_secret("stripe_webhook_secret");
        let sign_ups_per_address = layers.parse("sign_ups_per_address", 10, |v| match v.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("`{v}` is not a whole number of at least 1")),
        })?;
        let stripe_secret_key = optional_secret("stripe_secret_key");
        let stripe_api_base =
            layers.parse("stripe_api_base", Url::parse("https://api.stripe.com/").expect("valid"), parse_public_url)?;
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
        let optional_url = |key: &str| match layers.get(key) {
            Some(raw) if !raw.value.trim().is_empty() => {
                parse_public_url(raw.value.trim()).map(Some).map_err(|p| ConfigError::new(raw.origin, p))
            }
            _ => Ok(None),
        };
        let fal_api_base = optional_url("fal_api_base")?;
        let openrouter_base = optional_url("openrouter_base")?;
        let fal_run_base = optional_url("fal_run_base")?;
        let fal_queue_base = optional_url("fal_queue_base")?;
        let fal_platform_key = optional_secret("fal_platform_key");
        let openrouter_platform_key = optional_secret("openrouter_platform_key");
        let price_catalog = layers
            .get("price_catalog")
            .map(|r| r.value.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let unknown_endpoint_price =
            layers.parse("unknown_endpoint_price_usd", crate::shared::money::Micros(50_000), |v| {
                crate::shared::money::Micros::parse_positive(v).map_err(|e| format!("`{v}`: {e}"))
            })?;
        Ok(Self {
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
            stripe_secret_key,
            stripe_api_base,
        })
    }

    /// The secret key: the setting, or the key file under the data directory, made with
    /// fresh randomness the first time.
    pub fn load_secret_key(&self) -> Result<SecretKey, ConfigError> {
        if let Some(key) = &self.secret_key {
            return Ok(key.clone());
        }
        let text = self.key_file("secret.key", |t| t.len() >= 32)?;
        Ok(SecretKey(text.into_bytes()))
    }

    /// The master key that seals stored provider keys: the setting, or (sandbox with
    /// SQLite only, which `from_layers` enforces) the key file under the data directory.
    pub fn load_master_key(&self) -> Result<[u8; 32], ConfigError> {
        if let Some(key) = &self.master_key {
            return Ok(key.0);
        }
        let text = self.key_file("master.key", |t| parse_master_key(t).is_ok())?;
        parse_master_key(&text).map_err(|p| ConfigError::new("master.key", p))
    }

    /// Reads `<data_dir>/<name>`, or makes it from 32 random bytes as hex the first time.
    fn key_file(&self, name: &str, valid: impl Fn(&str) -> bool) -> Result<String, ConfigError> {
        let path = self.data_dir.join(name);
        let problem =
            |e: std::io::Error| ConfigError::new(path.display().to_string(), format!("cannot use the key file ({e})"));
        match std::fs::read_to_string(&path) {
            Ok(text) if valid(text.trim()) => return Ok(text.trim().to_string()),
            Ok(_) => {
                return Err(ConfigError::new(
                    path.display().to_string(),
                    "the key file is damaged; restore it from a backup (data sealed with it cannot be read without it)",
                ));
            }
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(problem(e)),
            Err(_) => {}
        }
        std::fs::create_dir_all(&self.data_dir).map_err(problem)?;
        let hex = crate::server::infra::crypto::random_hex(32)
            .map_err(|e| ConfigError::new(name, format!("no randomness available ({e})")))?;
        // Written whole to a private temporary file, then linked into place: a crash
        // leaves no half-written key, and when two processes start together the second
        // finds the first one's key and uses it.
        let tmp = self.data_dir.join(format!(".{name}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        write_private(&tmp, &hex).map_err(problem)?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                tracing::info!(path = %path.display(), "made a new key file");
                Ok(hex)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Ok(std::fs::read_to_string(&path).map_err(problem)?.trim().to_string())
            }
            Err(e) => Err(problem(e)),
        }
    }

    pub fn session_max_age_ms(&self) -> i64 {
        i64::from(self.session_max_days) * 86_400_000
    }

    /// Whether cookies must be marked `Secure`.
    pub fn is_https(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

fn read_settings_file(path: &Path, required: bool) -> Result<BTreeMap<String, String>, ConfigError> {
    let name = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(BTreeMap::new()),
        Err(e) => return Err(ConfigError::new(name, format!("cannot read the settings file ({e})"))),
    };
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::new(&name, format!("not valid TOML: {}", one_line(e.message()))))?;
    let mut values = BTreeMap::new();
    for (key, value) in table {
        if !KEYS.contains(&key.as_str()) {
            return Err(ConfigError::new(
                format!("{key} in {name}"),
                format!("unknown setting; known settings are {}", KEYS.join(", ")),
            ));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(ConfigError::new(
                    format!("{key} in {name}"),
                    format!("expected a string, number or boolean, found {}", other.type_str()),
                ));
            }
        };
        values.insert(key, text);
    }
    Ok(values)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn parse_socket_addr(v: &str) -> Result<SocketAddr, String> {
    v.parse().map_err(|_| format!("`{v}` is not an address to listen on; expected host:port such as 127.0.0.1:3000"))
}

fn parse_public_url(v: &str) -> Result<Url, String> {
    let url = Url::parse(v).map_err(|e| format!("`{v}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{v}` must be an http:// or https:// address"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{v}` must not have a query or fragment"));
    }
    Ok(url)
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("`{v}` is not true or false")),
    }
}

/// Accepts `postgres://` / `postgresql://` and `sqlite:` URLs; anything else is refused
/// with the list of what would work.
pub fn parse_database_url(v: &str) -> Result<DatabaseSetting, String> {
    let shown = redact_url(v);
    let (scheme, _) = v.split_once(':').ok_or_else(|| {
        format!("`{shown}` is not a database URL; use postgres://user:password@host:5432/name, sqlite:path, or leave it empty for the embedded database")
    })?;
    match scheme.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" => {
            let url = Url::parse(v).map_err(|e| format!("`{shown}` is not a valid PostgreSQL URL ({e})"))?;
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("`{shown}` names no database host"));
            }
            let db = url.path().trim_start_matches('/');
            if db.is_empty() {
                return Err(format!("`{shown}` names no database; add /<name> after the host"));
            }
            Ok(DatabaseSetting::Postgres { url: v.to_string() })
        }
        "sqlite" => {
            let rest = v[scheme.len() + 1..].trim_start_matches("//");
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(format!("`{shown}` names no database file"));
            }
            Ok(DatabaseSetting::Sqlite { url: v.to_string() })
        }
        other => Err(format!(
            "unsupported database `{other}`; use postgres://user:password@host:5432/name, sqlite:path, or leave it empty for the embedded database"
        )),
    }
}

fn sqlite_url_for(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("tollgate.db").display())
}

fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("password") || key.contains("secret") || key == "sslkey" || key.contains("token")
}

/// Replaces the password in a URL with `***`, for logs and error messages.
pub fn redact_url(v: &str) -> String {
    match Url::parse(v) {
        Ok(mut url) => {
            if url.password().is_some() {
                let _ = url.set_password(Some("***"));
            }
            let secret_query = url.query_pairs().any(|(k, _)| is_secret_param(&k));
            if secret_query {
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if is_secret_param(&k) { "***".to_string() } else { v.into_owned() };
                        (k.into_owned(), v)
                    })
                    .collect();
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            url.to_string()
        }
        // Not a URL we can parse: show only the scheme, the rest may hold secrets.
        Err(_) => match v.split_once("://") {
            Some((scheme, rest)) if rest.contains('@') => format!("{scheme}://***"),
            _ => v.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
