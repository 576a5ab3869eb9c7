//! Parsers for single setting values, and the redaction of secrets in database URLs.

use std::net::SocketAddr;
use std::path::Path;

use url::Url;

use super::DatabaseSetting;

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

pub(super) fn parse_socket_addr(v: &str) -> Result<SocketAddr, String> {
    v.parse().map_err(|_| format!("`{v}` is not an address to listen on; expected host:port such as 127.0.0.1:3000"))
}

pub(super) fn parse_public_url(v: &str) -> Result<Url, String> {
    let url = Url::parse(v).map_err(|e| format!("`{v}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!("`{v}` must be an http:// or https:// address"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{v}` must not have a query or fragment"));
    }
    Ok(url)
}

pub(super) fn parse_bool(v: &str) -> Result<bool, String> {
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

pub(super) fn sqlite_url_for(data_dir: &Path) -> String {
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
