//! The `tollgate` client commands: `login`, `billing`, `usage` and `run`, talking to a
//! Tollgate server's JSON API at `TOLLGATE_URL` with the API token `TOLLGATE_TOKEN` (or
//! what `tollgate login` stored). Every command takes `--json` for scripts; failures are
//! one line on standard error with a distinct exit status.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use serde_json::{Value, json};

/// Exit statuses of the client commands.
pub mod exit {
    /// The server answered with an error (bad input, not found, ...).
    pub const FAILED: u8 = 1;
    /// Bad arguments or missing settings (no URL or token).
    pub const USAGE: u8 = 2;
    /// No server answered at the URL.
    pub const UNREACHABLE: u8 = 3;
    /// The server refused the token.
    pub const UNAUTHORIZED: u8 = 4;
    /// Not enough credits, or the run's cap (HTTP 402).
    pub const PAYMENT_REQUIRED: u8 = 5;
}

pub const LOW_BALANCE_LINE: &str = "⚠ Low balance — run tollgate billing buy to add credits";

#[derive(Debug, Clone, Subcommand)]
pub enum BillingCommand {
    /// Buy credits: opens the checkout page in the browser (and prints its address).
    Buy {
        /// Dollars to pay, e.g. 25 (at least $5 unless the server says otherwise).
        #[arg(long)]
        amount: String,
        /// Only print the checkout address; do not open a browser.
        #[arg(long)]
        no_browser: bool,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum UsageCommand {
    /// Calls, newest first: date, provider, model, operation, cost.
    History {
        /// How many calls to list.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// How many days back.
        #[arg(long, default_value_t = 30)]
        days: u32,
    },
}

/// A failure, with its exit status and one line for people.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

type Outcome<T> = Result<T, Failure>;

/// Where `tollgate login` keeps the server and token: `$XDG_CONFIG_HOME/tollgate/cli.json`
/// or `~/.config/tollgate/cli.json`.
pub fn login_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("tollgate").join("cli.json"))
}

fn stored_login() -> (Option<String>, Option<String>) {
    let Some(file) = login_file() else { return (None, None) };
    let Ok(text) = std::fs::read_to_string(file) else { return (None, None) };
    let Ok(v) = serde_json::from_str::<Value>(&text) else { return (None, None) };
    let get = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    (get("url"), get("token"))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// A client for one server: the environment first, then what `login` stored.
pub struct Client {
    base: url::Url,
    token: String,
    http: reqwest::Client,
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(300))
        .user_agent(concat!("tollgate-cli/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("an HTTP client")
}

fn parse_base(raw: &str) -> Outcome<url::Url> {
    let mut url = url::Url::parse(raw.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| {
            Failure::new(exit::USAGE, format!("`{raw}` is not a server address like https://tollgate.example.com"))
        })?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl Client {
    pub fn from_settings() -> Outcome<Self> {
        let (stored_url, stored_token) = stored_login();
        let url = env("TOLLGATE_URL")
            .or(stored_url)
            .ok_or_else(|| Failure::new(exit::USAGE, "no server: set TOLLGATE_URL or run tollgate login"))?;
        let token = env("TOLLGATE_TOKEN")
            .or(stored_token)
            .ok_or_else(|| Failure::new(exit::USAGE, "no API token: set TOLLGATE_TOKEN or run tollgate login"))?;
        Ok(Self { base: parse_base(&url)?, token, http: http_client() })
    }

    fn url(&self, path: &str) -> url::Url {
        self.base.join(path.trim_start_matches('/')).expect("a relative path joins")
    }

    /// Sends a request and reads the JSON answer; HTTP errors become failures.
    async fn send(&self, request: reqwest::RequestBuilder) -> Outcome<(u16, Value)> {
        let res = request.bearer_auth(&self.token).send().await.map_err(|e| {
            let why = if e.is_timeout() { "it did not answer in time" } else { "no answer" };
            Failure::new(exit::UNREACHABLE, format!("cannot reach the server at {} ({why})", self.base))
        })?;
        let status = res.status().as_u16();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok((status, body));
        }
        Err(http_failure(status, &body))
    }

    async fn get(&self, path: &str) -> Outcome<Value> {
        self.send(self.http.get(self.url(path))).await.map(|(_, v)| v)
    }
}

fn http_failure(status: u16, body: &Value) -> Failure {
    let message = body.get("message").and_then(Value::as_str).unwrap_or("").trim().to_string();
    match status {
        401 => Failure::new(
            exit::UNAUTHORIZED,
            "the server refused the API token (401); run tollgate login with a working token",
        ),
        402 => {
            let limit = body.get("limit").and_then(Value::as_str).unwrap_or("balance");
            let what = if limit == "run_cap" {
                "over the run's cap (TOLLGATE_MAX_USD_PER_RUN)".to_string()
            } else {
                "insufficient credits".to_string()
            };
            let amounts = match (body["needed_micros"].as_i64(), body["available_micros"].as_i64()) {
                (Some(n), Some(a)) => format!(": this needs {} and {} is available", dollars4(n), dollars4(a)),
                _ => String::new(),
            };
            Failure::new(exit::PAYMENT_REQUIRED, format!("{what}{amounts} (402)"))
        }
        _ => {
            let field = body.pointer("/error/field").and_then(Value::as_str);
            let text = match (field, message.is_empty()) {
                (Some(f), false) => format!("{f}: {message}"),
                (None, false) => message,
                _ => format!("the server answered HTTP {status}"),
            };
            Failure::new(exit::FAILED, format!("{text} ({status})"))
        }
    }
}

/// `$1,234.5678`: dollars with four decimals, rounded half up.
pub fn dollars4(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let tenths_of_cents = (micros.unsigned_abs() + 50) / 100;
    format!("{sign}${}.{:04}", tenths_of_cents / 10_000, tenths_of_cents % 10_000)
}

/// `$8.45`: the balance as the server formats money.
fn money(micros: i64) -> String {
    crate::shared::money::Micros(micros).format()
}

fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()));
}

/// The warning under the low-balance threshold: on standard output for people, on
/// standard error with `--json` (so the JSON stays clean).
fn warn_low(balance: &Value, json_mode: bool) {
    if balance.get("low_balance").and_then(Value::as_bool) == Some(true) {
        if json_mode {
            eprintln!("{LOW_BALANCE_LINE}");
        } else {
            println!("\n  {LOW_BALANCE_LINE}");
        }
    }
}

fn finish(result: Outcome<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tollgate: {}", f.message);
            ExitCode::from(f.code)
        }
    }
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

/// `tollgate billing` and `tollgate billing buy`.
pub async fn billing(command: Option<BillingCommand>, json_mode: bool) -> ExitCode {
    finish(billing_inner(command, json_mode).await)
}

async fn billing_inner(command: Option<BillingCommand>, json_mode: bool) -> Outcome<()> {
    let client = Client::from_settings()?;
    match command {
        None => {
            let b = client.get("api/v1/billing?limit=10").await?;
            if json_mode {
                print_json(&b);
            } else {
                println!("  Balance: {}", money(b["balance_micros"].as_i64().unwrap_or(0)));
                let purchases = b["purchases"].as_array().cloned().unwrap_or_default();
                if purchases.is_empty() {
                    println!("\n  No purchases yet. Buy credits with: tollgate billing buy --amount 25");
                } else {
                    println!("\n  Recent purchases:\n");
                    println!("  {:<12} {:<10} {:<10} {}", "Date", "Paid", "Bonus", "Credits");
                    for p in purchases {
                        let (paid, bonus) =
                            (p["amount_micros"].as_i64().unwrap_or(0), p["bonus_micros"].as_i64().unwrap_or(0));
                        println!(
                            "  {:<12} {:<10} {:<10} {}",
                            p["date"].as_str().unwrap_or(""),
                            money(paid),
                            money(bonus),
                            money(paid + bonus)
                        );
                    }
                }
            }
            warn_low(&b, json_mode);
        }
        Some(BillingCommand::Buy { amount, no_browser }) => {
            let balance = client.get("api/v1/balance").await?;
            let request =
                client.http.post(client.url("api/v1/billing/checkout")).json(&json!({ "amount_usd": amount }));
            let (_, c) = client.send(request).await?;
            let url = c["checkout_url"].as_str().unwrap_or_default().to_string();
            if json_mode {
                print_json(&c);
            } else {
                let (pay, bonus, get) = (
                    c["amount_micros"].as_i64().unwrap_or(0),
                    c["bonus_micros"].as_i64().unwrap_or(0),
                    c["credits_micros"].as_i64().unwrap_or(0),
                );
                if bonus > 0 {
                    println!("  Paying {} gets {} of credits ({} bonus).", money(pay), money(get), money(bonus));
                } else {
                    println!("  Paying {} gets {} of credits.", money(pay), money(get));
                }
                println!("  Complete the purchase at:\n\n  {url}");
            }
            if !no_browser && !url.is_empty() {
                open_browser(&url);
            }
            warn_low(&balance, json_mode);
        }
    }
    Ok(())
}

/// Opens `url` in the desktop's browser, if there is one; the address is printed anyway.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// `tollgate usage` and `tollgate usage history`.
pub async fn usage(command: Option<UsageCommand>, days: u32, json_mode: bool) -> ExitCode {
    finish(usage_inner(command, days, json_mode).await)
}

async fn usage_inner(command: Option<UsageCommand>, days: u32, json_mode: bool) -> Outcome<()> {
    let client = Client::from_settings()?;
    match command {
        None => {
            let u = client.get(&format!("api/v1/usage?days={days}")).await?;
            let balance = u["balance"].clone();
            if json_mode {
                print_json(&u);
            } else {
                println!("  Balance: {}", money(balance["balance_micros"].as_i64().unwrap_or(0)));
                println!("\n  Last {days} days:\n");
                println!("  {:<12} {:<10} {}", "Date", "Cost", "Requests");
                for d in u["days"].as_array().cloned().unwrap_or_default() {
                    println!(
                        "  {:<12} {:<10} {}",
                        d["date"].as_str().unwrap_or(""),
                        dollars4(d["cost_micros"].as_i64().unwrap_or(0)),
                        d["requests"].as_i64().unwrap_or(0)
                    );
                }
                println!("\n  Total: {}", dollars4(u["total_micros"].as_i64().unwrap_or(0)));
            }
            warn_low(&balance, json_mode);
        }
        Some(UsageCommand::History { limit, days }) => {
            let h = client.get(&format!("api/v1/usage/history?limit={limit}&days={days}")).await?;
            let balance = client.get("api/v1/balance").await?;
            if json_mode {
                print_json(&h);
            } else {
                let records = h["records"].as_array().cloned().unwrap_or_default();
                if records.is_empty() {
                    println!("  No calls in the last {days} days.");
                } else {
                    println!("  {:<12} {:<10} {:<44} {:<17} {}", "Date", "Provider", "Model", "Operation", "Cost");
                    for r in records {
                        println!(
                            "  {:<12} {:<10} {:<44} {:<17} {}",
                            r["date"].as_str().unwrap_or(""),
                            r["route"].as_str().unwrap_or(""),
                            r["model"].as_str().unwrap_or(""),
                            r["operation"].as_str().unwrap_or(""),
                            record_cost(&r)
                        );
                    }
                }
            }
            warn_low(&balance, json_mode);
        }
    }
    Ok(())
}

/// A call's cost as the history shows it: what credits paid, the provider price of a
/// call the person's key paid, or that a failed call cost nothing.
fn record_cost(r: &Value) -> String {
    match (r["status"].as_str(), r["paid_with"].as_str()) {
        (Some("failed"), _) => format!("{} (failed)", dollars4(0)),
        (Some("running"), _) => format!("{} (running)", dollars4(r["cost_estimate"].as_i64().unwrap_or(0))),
        (_, Some("own_key")) => format!("{} (own key)", dollars4(r["cost"].as_i64().unwrap_or(0))),
        _ => dollars4(r["charged"].as_i64().unwrap_or(0)),
    }
}

/// `tollgate run ENDPOINT --input JSON [--dry-run]`.
pub async fn run(endpoint: String, input: String, dry_run: bool, json_mode: bool) -> ExitCode {
    finish(run_inner(endpoint, input, dry_run, json_mode).await)
}

fn read_input(input: &str) -> Outcome<Value> {
    let text = if input == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| Failure::new(exit::USAGE, format!("--input: {e}")))?
    } else if let Some(path) = input.strip_prefix('@') {
        std::fs::read_to_string(path).map_err(|e| Failure::new(exit::USAGE, format!("--input: {path}: {e}")))?
    } else {
        input.to_string()
    };
    let value: Value =
        serde_json::from_str(&text).map_err(|e| Failure::new(exit::USAGE, format!("--input is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Failure::new(exit::USAGE, "--input must be a JSON object, e.g. '{\"prompt\": \"a fox\"}'"));
    }
    Ok(value)
}

/// The run id the CLI session's calls share: `TOLLGATE_RUN_ID`, or one per shell.
fn session_run_id() -> String {
    env("TOLLGATE_RUN_ID").unwrap_or_else(|| {
        #[cfg(unix)]
        let parent = std::os::unix::process::parent_id();
        #[cfg(not(unix))]
        let parent = std::process::id();
        format!("cli-{parent}")
    })
}

async fn run_inner(endpoint: String, input: String, dry_run: bool, json_mode: bool) -> Outcome<()> {
    let input = read_input(&input)?;
    // The id becomes part of the request's path: only a plain model path is sent.
    let endpoint = crate::shared::endpoint::EndpointId::parse(endpoint.trim())
        .map_err(|e| Failure::new(exit::USAGE, e.to_string().to_lowercase().trim_end_matches('.')))?;
    let client = Client::from_settings()?;
    let mut path = format!("api/v1/run/{endpoint}");
    if dry_run {
        path.push_str("?dryRun=true");
    }
    let mut request = client.http.post(client.url(&path)).json(&input);
    if let Some(cap) = env("TOLLGATE_MAX_USD_PER_RUN") {
        request = request.header("Tollgate-Max-USD-Per-Run", cap).header("Tollgate-Run-Id", session_run_id());
    }
    if let Some(key) = env("TOLLGATE_FAL_KEY") {
        request = request.header("Tollgate-Fal-Key", key);
    }
    let (_, answer) = client.send(request).await?;
    if json_mode {
        print_json(&answer);
        return Ok(());
    }
    if dry_run {
        let paid = if answer["paid_with"] == "own_key" {
            "paid with your own key, no credits used"
        } else {
            "from your credits"
        };
        println!(
            "  Estimated cost: {} ({} {} at {} each), {paid}.",
            dollars4(answer["cost_estimate_micros"].as_i64().unwrap_or(0)),
            answer["units"].as_f64().unwrap_or(0.0),
            answer["unit"].as_str().unwrap_or(""),
            dollars4((answer["unit_price"].as_f64().unwrap_or(0.0) * 1_000_000.0).round() as i64),
        );
        return Ok(());
    }
    let meta = answer.get("metadata").cloned().unwrap_or(Value::Null);
    let mut output = answer.clone();
    if let Some(map) = output.as_object_mut() {
        map.remove("metadata");
    }
    print_json(&output);
    let cost = dollars4(meta["cost_micros"].as_i64().unwrap_or(0));
    let estimate = dollars4(meta["cost_estimate_micros"].as_i64().unwrap_or(0));
    let line = if meta["paid_with"] == "own_key" {
        format!("Cost {cost} at the provider's price, paid with your own key; no credits used.")
    } else {
        format!("Charged {} (estimated {estimate}).", dollars4(meta["charged_micros"].as_i64().unwrap_or(0)))
    };
    eprintln!("{line} Request {}.", meta["request_id"].as_str().unwrap_or("?"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_show_four_decimals() {
        assert_eq!(dollars4(31_000), "$0.0310");
        assert_eq!(dollars4(4_250), "$0.0043");
        assert_eq!(dollars4(0), "$0.0000");
        assert_eq!(dollars4(12_345_678_900), "$12345.6789");
    }

    #[test]
    fn server_errors_become_one_line_with_their_status() {
        let f =
            http_failure(402, &json!({"limit": "balance", "needed_micros": 6_000_000, "available_micros": 5_000_000}));
        assert_eq!(
            (f.code, f.message.as_str()),
            (exit::PAYMENT_REQUIRED, "insufficient credits: this needs $6.0000 and $5.0000 is available (402)")
        );
        let f = http_failure(
            400,
            &json!({"error": {"kind": "validation", "field": "amount_usd"}, "message": "The smallest purchase is $5.00."}),
        );
        assert_eq!((f.code, f.message.as_str()), (exit::FAILED, "amount_usd: The smallest purchase is $5.00. (400)"));
        assert_eq!(http_failure(401, &Value::Null).code, exit::UNAUTHORIZED);
    }

    #[test]
    fn inputs_must_be_json_objects() {
        assert!(read_input(r#"{"prompt": "a fox"}"#).is_ok());
        assert_eq!(read_input("{not json").unwrap_err().code, exit::USAGE);
        assert_eq!(read_input("[1]").unwrap_err().code, exit::USAGE);
    }
}
