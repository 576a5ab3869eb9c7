//! `tollgate invoices`: a postpaid account's monthly invoices, or one with its lines.

use std::process::ExitCode;

use serde_json::Value;

use super::output::{finish, money, print_json};
use super::transport::Client;
use super::{Failure, Outcome, exit};

pub async fn invoices(id: Option<String>, json_mode: bool) -> ExitCode {
    finish(invoices_inner(id, json_mode).await)
}

async fn invoices_inner(id: Option<String>, json_mode: bool) -> Outcome<()> {
    let client = Client::from_settings()?;
    let Some(id) = id else {
        let list = client.get("api/v1/invoices").await?;
        if json_mode {
            print_json(&list);
            return Ok(());
        }
        let invoices = list["invoices"].as_array().cloned().unwrap_or_default();
        if invoices.is_empty() {
            println!("  No invoices: they are made monthly for postpaid accounts.");
            return Ok(());
        }
        println!("  {:<10} {:<12} {:<12} {:<8} {:<12} {}", "Month", "Usage", "Due", "Status", "Due date", "Invoice");
        for i in invoices {
            println!(
                "  {:<10} {:<12} {:<12} {:<8} {:<12} {}",
                i["month"].as_str().unwrap_or(""),
                money(i["usage_micros"].as_i64().unwrap_or(0)),
                money(i["amount_due_micros"].as_i64().unwrap_or(0)),
                i["status"].as_str().unwrap_or(""),
                i["due_date"].as_str().unwrap_or(""),
                i["id"].as_str().unwrap_or(""),
            );
        }
        return Ok(());
    };
    // Checked before it goes into the request's path.
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(Failure::new(exit::USAGE, "--id is an invoice id like inv_202611_..."));
    }
    let invoice: Value = client.get(&format!("api/v1/invoices/{id}")).await?;
    if json_mode {
        print_json(&invoice);
        return Ok(());
    }
    println!(
        "  Invoice {} for {}: {}, due {}",
        invoice["id"].as_str().unwrap_or(""),
        invoice["month"].as_str().unwrap_or(""),
        invoice["status"].as_str().unwrap_or(""),
        invoice["due_date"].as_str().unwrap_or("")
    );
    println!("\n  {:<40} {:<10} {:>6} {:>12} {:>12}", "Model", "Unit", "Calls", "Units", "Amount");
    for l in invoice["lines"].as_array().cloned().unwrap_or_default() {
        println!(
            "  {:<40} {:<10} {:>6} {:>12} {:>12}",
            l["endpoint_id"].as_str().unwrap_or(""),
            l["unit"].as_str().unwrap_or(""),
            l["calls"].as_i64().unwrap_or(0),
            l["units"].as_f64().unwrap_or(0.0),
            money(l["amount_micros"].as_i64().unwrap_or(0)),
        );
    }
    println!("\n  Usage: {}", money(invoice["usage_micros"].as_i64().unwrap_or(0)));
    println!("  Paid from your credits: {}", money(invoice["paid_from_credits_micros"].as_i64().unwrap_or(0)));
    println!("  Due (spent on credit): {}", money(invoice["amount_due_micros"].as_i64().unwrap_or(0)));
    if let Some(why) = invoice["failure"].as_str() {
        println!("  ⚠ The last payment failed: {why}");
    }
    Ok(())
}
