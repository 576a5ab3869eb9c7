//! `tollgate billing auto-top-up`, and the saved card and auto top-up lines of
//! `tollgate billing`.

use serde_json::{Value, json};

use super::output::print_json;
use super::transport::Client;
use super::{Failure, Outcome, exit};

/// The options given to `auto-top-up`.
pub struct Change {
    pub enable: bool,
    pub disable: bool,
    pub threshold: Option<String>,
    pub amount: Option<String>,
    pub monthly_cap: Option<String>,
}

pub async fn auto_top_up(client: &Client, change: Change, json_mode: bool) -> Outcome<()> {
    let path = "api/v1/billing/auto-top-up";
    let body = if change.enable {
        let (Some(threshold), Some(amount), Some(cap)) = (change.threshold, change.amount, change.monthly_cap) else {
            return Err(Failure::new(
                exit::USAGE,
                "--enable needs --threshold, --amount and --monthly-cap, e.g. \
                 --enable --threshold 5 --amount 25 --monthly-cap 200",
            ));
        };
        Some(json!({ "enabled": true, "threshold_usd": threshold, "amount_usd": amount, "monthly_cap_usd": cap }))
    } else if change.disable {
        Some(json!({ "enabled": false }))
    } else {
        None
    };
    let settings = match body {
        Some(body) => client.send(client.http.put(client.url(path)).json(&body)).await?.1,
        None => client.get(path).await?,
    };
    if json_mode {
        print_json(&settings);
    } else {
        print_auto_top_up(&settings);
    }
    Ok(())
}

fn usd(v: &Value) -> String {
    format!("${:.2}", v.as_f64().unwrap_or(0.0))
}

fn print_auto_top_up(a: &Value) {
    if a["enabled"].as_bool() != Some(true) {
        println!("  Auto top-up: off");
    } else {
        println!(
            "  Auto top-up: on. Under {} of credits, buys {} (at most {} a month; {} so far this month).",
            usd(&a["threshold_usd"]),
            usd(&a["amount_usd"]),
            usd(&a["monthly_cap_usd"]),
            usd(&a["this_month_usd"]),
        );
    }
    if let Some(why) = a["paused_reason"].as_str() {
        println!("  ⚠ Auto top-up is paused: {why} Save a new card or turn auto top-up on again.");
    }
}

/// The card and auto top-up part of `tollgate billing`.
pub fn print_payment_settings(b: &Value) {
    println!();
    match b["card"]["description"].as_str() {
        Some(card) => println!("  Saved card: {card}"),
        None => println!("  Saved card: none (save one on the Credits page to use auto top-up)"),
    }
    print_auto_top_up(&b["auto_top_up"]);
}
