//! `tollgate billing`, `tollgate billing buy` and `tollgate billing auto-top-up`: the
//! balance, recent payments, the saved card, buying credits and auto top-up.

use std::process::ExitCode;

use serde_json::json;

use super::output::{finish, money, print_json, warn_low};
use super::transport::Client;
use super::{BillingCommand, Outcome};

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
                    println!(
                        "  {:<12} {:<16} {:<10} {:<10} {:<10} {}",
                        "Date", "Kind", "Paid", "Bonus", "Credits", "Status"
                    );
                    for p in purchases {
                        let (paid, bonus) =
                            (p["amount_micros"].as_i64().unwrap_or(0), p["bonus_micros"].as_i64().unwrap_or(0));
                        let refunded = p["refunded_micros"].as_i64().unwrap_or(0);
                        let status = match p["status"].as_str().unwrap_or("paid") {
                            "partly_refunded" => format!("{} refunded", money(refunded)),
                            "declined" => format!("declined: {}", p["failure"].as_str().unwrap_or("")),
                            other => other.replace('_', " "),
                        };
                        let kind = match p["kind"].as_str().unwrap_or("checkout") {
                            "auto_top_up" => "auto top-up",
                            "invoice" => "invoice",
                            _ => "purchase",
                        };
                        println!(
                            "  {:<12} {:<16} {:<10} {:<10} {:<10} {}",
                            p["date"].as_str().unwrap_or(""),
                            kind,
                            money(paid),
                            money(bonus),
                            money(paid + bonus),
                            status
                        );
                    }
                }
            }
            if !json_mode {
                super::top_up::print_payment_settings(&b);
            }
            warn_low(&b, json_mode);
        }
        Some(BillingCommand::AutoTopUp { enable, disable, threshold, amount, monthly_cap }) => {
            let change = super::top_up::Change { enable, disable, threshold, amount, monthly_cap };
            super::top_up::auto_top_up(&client, change, json_mode).await?;
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
