//! The `tollgate` client commands: `login`, `billing`, `usage` and `run`, talking to a
//! Tollgate server's JSON API at `TOLLGATE_URL` with the API token `TOLLGATE_TOKEN` (or
//! what `tollgate login` stored). Every command takes `--json` for scripts; failures are
//! one line on standard error with a distinct exit status.

mod billing;
mod budgets;
mod invoices;
mod login;
mod output;
mod run;
mod top_up;
mod transport;
mod usage;

use clap::Subcommand;

pub use billing::billing;
pub use budgets::{BudgetsCommand, budgets};
pub use invoices::invoices;
pub use login::{login, login_file};
pub use output::dollars4;
pub use run::run;
pub use transport::Client;
pub use usage::usage;

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
    /// Auto top-up: with no options, shows the settings; --enable with amounts turns it
    /// on (or changes it), --disable turns it off. It charges your saved card.
    #[command(name = "auto-top-up")]
    AutoTopUp {
        /// Turn auto top-up on (needs a saved card).
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Turn auto top-up off.
        #[arg(long)]
        disable: bool,
        /// Top up when available credits fall under this many dollars.
        #[arg(long, requires = "enable")]
        threshold: Option<String>,
        /// Dollars to buy each time.
        #[arg(long, requires = "enable")]
        amount: Option<String>,
        /// The most auto top-ups may buy in a calendar month (UTC), in dollars.
        #[arg(long = "monthly-cap", requires = "enable")]
        monthly_cap: Option<String>,
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

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::run::read_input;
    use super::transport::http_failure;
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
