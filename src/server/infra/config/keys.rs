//! The secret key and the master key: from the settings, or from key files kept under
//! the data directory and made on first start.

use super::file::write_private;
use super::{Config, ConfigError, SecretKey, parse_master_key};

impl Config {
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
}
