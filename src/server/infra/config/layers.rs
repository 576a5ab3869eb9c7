//! The raw settings before parsing: a `TOLLGATE_*` environment variable wins over the
//! same key in the settings file.

use std::collections::BTreeMap;

use url::Url;

use super::parse::parse_public_url;
use super::{ConfigError, SecretKey};

/// One raw value and the name it should be reported under.
pub(super) struct Raw {
    pub(super) value: String,
    pub(super) origin: String,
}

/// The layered raw values, before parsing.
pub(super) struct Layers<'a> {
    pub(super) file: BTreeMap<String, String>,
    pub(super) file_name: String,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

impl Layers<'_> {
    pub(super) fn get(&self, key: &str) -> Option<Raw> {
        let var = format!("TOLLGATE_{}", key.to_ascii_uppercase());
        if let Some(value) = (self.env)(&var) {
            return Some(Raw { value, origin: var });
        }
        self.file.get(key).map(|value| Raw { value: value.clone(), origin: format!("{key} in {}", self.file_name) })
    }

    pub(super) fn parse<T>(
        &self,
        key: &str,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => parse(raw.value.trim()).map_err(|problem| ConfigError::new(raw.origin, problem)),
        }
    }

    /// A secret that may be left empty.
    pub(super) fn optional_secret(&self, key: &str) -> Option<SecretKey> {
        self.get(key).map(|r| r.value.trim().to_string()).filter(|v| !v.is_empty()).map(|v| SecretKey(v.into_bytes()))
    }

    /// An http(s) address that may be left empty.
    pub(super) fn optional_url(&self, key: &str) -> Result<Option<Url>, ConfigError> {
        match self.get(key) {
            Some(raw) if !raw.value.trim().is_empty() => {
                parse_public_url(raw.value.trim()).map(Some).map_err(|p| ConfigError::new(raw.origin, p))
            }
            _ => Ok(None),
        }
    }
}
