//! `tollgate admin gift-codes`: batches of gift codes, printed once as CSV.

use std::process::ExitCode;

use clap::Subcommand;

use super::{fail, open_db};
use crate::server::infra::config::Config;

#[derive(Debug, Clone, Subcommand)]
pub enum GiftCodesCommand {
    /// Make a batch of codes and print them as CSV (the only time they are shown).
    Create {
        /// What each code is worth, in dollars, e.g. 10 or 12.50.
        #[arg(long)]
        amount: String,
        /// How many codes to make.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// How many people can redeem each code.
        #[arg(long, default_value_t = 1)]
        max_uses: u32,
        /// Last day the codes can be redeemed (YYYY-MM-DD, UTC); they never expire without it.
        #[arg(long)]
        expires: Option<String>,
        /// A note for the admin list, e.g. the campaign.
        #[arg(long, default_value = "")]
        note: String,
    },
}

pub(super) async fn create_gift_codes(
    config: Config,
    amount: &str,
    count: u32,
    max_uses: u32,
    expires: Option<&str>,
    note: String,
) -> ExitCode {
    use crate::server::infra::installation::now_ms;
    use crate::server::services::gifts::{NewBatch, create_batch};
    let amount = match crate::shared::money::Micros::parse_positive(amount) {
        Ok(a) => a,
        Err(e) => return fail(&format!("--amount: {e}")),
    };
    let expires_at_ms = match expires.map(crate::shared::format::parse_utc_date) {
        None => None,
        // Valid through the whole of the last day.
        Some(Some(start)) => Some(start + 86_400_000),
        Some(None) => return fail(&"--expires: use a date like 2027-01-01"),
    };
    let key = match config.load_secret_key() {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    let db = match open_db(&config).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let batch = NewBatch { amount, count, max_uses, expires_at_ms, note, created_by: "cli".into() };
    let made = create_batch(&db, &key, &batch, now_ms()).await;
    db.close().await;
    match made {
        Ok(codes) => {
            let expiry = expires.unwrap_or("");
            println!("code,amount_usd,max_uses,expires");
            for code in codes {
                println!("{code},{},{max_uses},{expiry}", amount.format().trim_start_matches('$').replace(',', ""));
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("gift-codes: {e}")),
    }
}
