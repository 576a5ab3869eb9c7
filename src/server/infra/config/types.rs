//! The typed settings that need more than a plain value: keys that are never printed,
//! the database choice, the log format, and the error a bad setting is reported with.

use std::fmt;

use super::parse::redact_url;

/// The master key as configured: 32 bytes, never printed.
#[derive(Clone)]
pub struct MasterKeySetting(pub [u8; 32]);

impl std::fmt::Debug for MasterKeySetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
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
    pub(super) fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self { setting: setting.into(), problem: problem.into() }
    }
}

/// Where notice emails are sent: `smtps://` (TLS from the start) or `smtp://` (add
/// `?tls=required` for STARTTLS), with the user and password in the address. Never
/// printed whole: the password is in it.
#[derive(Clone)]
pub struct SmtpUrl(url::Url);

impl SmtpUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        // The text is not repeated in the message: it may hold a password.
        let url = url::Url::parse(raw)
            .map_err(|_| "smtp_url is not an address such as smtps://user:password@mail.example.com".to_string())?;
        if !matches!(url.scheme(), "smtp" | "smtps") {
            return Err(format!("smtp_url must start with smtp:// or smtps://, not {}://", url.scheme()));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("smtp_url names no mail server".into());
        }
        Ok(Self(url))
    }

    /// The whole address, password included: for the mail client only.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The mail server and port, safe to print.
    pub fn server(&self) -> String {
        let host = self.0.host_str().unwrap_or("");
        match self.0.port() {
            Some(port) => format!("{}://{host}:{port}", self.0.scheme()),
            None => format!("{}://{host}", self.0.scheme()),
        }
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SmtpUrl({})", self.server())
    }
}

/// How many calls a wallet may have in flight at once, by what its buyers have paid in
/// total: `(paid at least, calls at once)`, lowest first, the first from $0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlightTiers(Vec<(crate::shared::money::Micros, u32)>);

impl InFlightTiers {
    /// The default: 2 at once below $10 paid, 10 from $10, 40 from $100.
    pub fn standard() -> Self {
        use crate::shared::money::Micros;
        Self(vec![(Micros::ZERO, 2), (Micros::from_usd(10), 10), (Micros::from_usd(100), 40)])
    }

    /// Reads `USD:CALLS` pairs separated by commas, like `0:2,10:10,100:40`: the first
    /// from 0, amounts rising, each limit at least 1 and not below the one before.
    pub fn parse(text: &str) -> Result<Self, String> {
        use crate::shared::money::Micros;
        let mut tiers: Vec<(Micros, u32)> = Vec::new();
        for part in text.split(',').map(str::trim) {
            let Some((paid, calls)) = part.split_once(':') else {
                return Err(format!("`{part}` is not USD:CALLS (like 10:10)"));
            };
            let paid = Micros::parse(paid.trim().trim_start_matches('$')).map_err(|e| format!("`{part}`: {e}"))?;
            let calls: u32 = match calls.trim().parse() {
                Ok(n) if (1..=100_000).contains(&n) => n,
                _ => return Err(format!("`{part}`: calls at once must be a whole number from 1 to 100000")),
            };
            if paid.is_negative() {
                return Err(format!("`{part}`: the amount must not be negative"));
            }
            if let Some((before, limit)) = tiers.last() {
                if paid <= *before {
                    return Err(format!("`{part}`: amounts must rise from one tier to the next"));
                }
                if calls < *limit {
                    return Err(format!("`{part}`: a higher tier must not allow fewer calls"));
                }
            } else if paid != Micros::ZERO {
                return Err(format!("`{part}`: the first tier must start at 0"));
            }
            tiers.push((paid, calls));
        }
        Ok(Self(tiers))
    }

    /// Calls at once for a wallet whose buyers paid `paid`.
    pub fn limit_for(&self, paid: crate::shared::money::Micros) -> u32 {
        self.0.iter().rev().find(|(from, _)| paid >= *from).map_or(1, |(_, n)| *n)
    }

    /// The next tier above `paid`, if there is one: from how much, and how many.
    pub fn next_above(&self, paid: crate::shared::money::Micros) -> Option<(crate::shared::money::Micros, u32)> {
        self.0.iter().find(|(from, _)| *from > paid).copied()
    }
}

impl fmt::Display for InFlightTiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(paid, n)| format!("{}:{n}", paid.as_usd())).collect();
        f.write_str(&parts.join(","))
    }
}
