//! How the client commands answer: money in dollars, JSON for scripts, the low-balance
//! warning, and the exit status.

use std::process::ExitCode;

use serde_json::Value;

use super::{LOW_BALANCE_LINE, Outcome};

/// `$1,234.5678`: dollars with four decimals, rounded half up.
pub fn dollars4(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let tenths_of_cents = (micros.unsigned_abs() + 50) / 100;
    format!("{sign}${}.{:04}", tenths_of_cents / 10_000, tenths_of_cents % 10_000)
}

/// `$8.45`: the balance as the server formats money.
pub(super) fn money(micros: i64) -> String {
    crate::shared::money::Micros(micros).format()
}

pub(super) fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()));
}

/// The warning under the low-balance threshold: on standard output for people, on
/// standard error with `--json` (so the JSON stays clean).
pub(super) fn warn_low(balance: &Value, json_mode: bool) {
    if balance.get("low_balance").and_then(Value::as_bool) == Some(true) {
        if json_mode {
            eprintln!("{LOW_BALANCE_LINE}");
        } else {
            println!("\n  {LOW_BALANCE_LINE}");
        }
    }
}

pub(super) fn finish(result: Outcome<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("tollgate: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
