//! The settings file on disk, and private files written next to the data.

use std::collections::BTreeMap;
use std::path::Path;

use super::{ConfigError, KEYS};

pub(super) fn read_settings_file(path: &Path, required: bool) -> Result<BTreeMap<String, String>, ConfigError> {
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
pub(super) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
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
