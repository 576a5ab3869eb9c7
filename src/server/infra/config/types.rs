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
