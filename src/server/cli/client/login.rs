//! `tollgate login`, and the file where it keeps the server and token.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use super::output::{finish, print_json};
use super::transport::{Client, http_client, parse_base};
use super::{Failure, Outcome, env, exit};

/// Where `tollgate login` keeps the server and token: `$XDG_CONFIG_HOME/tollgate/cli.json`
/// or `~/.config/tollgate/cli.json`.
pub fn login_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("tollgate").join("cli.json"))
}

pub(super) fn stored_login() -> (Option<String>, Option<String>) {
    let Some(file) = login_file() else { return (None, None) };
    let Ok(text) = std::fs::read_to_string(file) else { return (None, None) };
    let Ok(v) = serde_json::from_str::<Value>(&text) else { return (None, None) };
    let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    (get("url"), get("token"))
}

/// `tollgate login`: checks the token against the server and stores both.
pub async fn login(url: Option<String>, json_mode: bool) -> ExitCode {
    finish(login_inner(url, json_mode).await)
}

async fn login_inner(url: Option<String>, json_mode: bool) -> Outcome<()> {
    let url = url
        .or_else(|| env("TOLLGATE_URL"))
        .ok_or_else(|| Failure::new(exit::USAGE, "which server? pass --url https://... or set TOLLGATE_URL"))?;
    let base = parse_base(&url)?;
    let token = match env("TOLLGATE_TOKEN") {
        Some(t) => t,
        None => {
            // From standard input, so it never shows in the shell history or process list.
            if std::io::stdin().is_terminal() {
                eprint!("API token (from Settings > API tokens): ");
                let _ = std::io::stderr().flush();
            }
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| Failure::new(exit::USAGE, e.to_string()))?;
            line.trim().to_string()
        }
    };
    if token.is_empty() {
        return Err(Failure::new(exit::USAGE, "no API token given"));
    }
    let client = Client { base: base.clone(), token: token.clone(), http: http_client() };
    let me = client.get("api/v1/me").await?;
    let file = login_file().ok_or_else(|| Failure::new(exit::USAGE, "no home directory to keep the login in"))?;
    write_private(&file, &json!({ "url": base.as_str(), "token": token }).to_string())
        .map_err(|e| Failure::new(exit::FAILED, format!("cannot write {}: {e}", file.display())))?;
    let email = me.get("email").and_then(Value::as_str).unwrap_or("?");
    if json_mode {
        print_json(&json!({ "url": base.as_str(), "email": email, "saved_to": file.display().to_string() }));
    } else {
        println!("Logged in to {base} as {email}. Saved to {}.", file.display());
    }
    Ok(())
}

/// Writes a file only its owner can read.
fn write_private(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")
}
