//! Reading a person's credits: transactions for the page, the JSON API and CSV export.

use crate::server::infra::state::AppState;
use crate::server::ledger::{HistoryEntry, TransferCode};
use crate::shared::dto::credits::{TxFilter, TxPage, TxRow, code_label};
use crate::shared::error::AppError;
use crate::shared::format::utc_minute;

fn row(e: HistoryEntry) -> TxRow {
    let text = |k: &str| e.metadata.get(k).and_then(|v| v.as_str()).map(str::to_string);
    TxRow {
        id: e.transfer_id,
        code: e.code.as_str().to_string(),
        description: e.description.clone(),
        amount: e.amount,
        balance_after: e.balance_after,
        created_at_ms: e.created_at_ms,
        provider: text("provider"),
        model: text("model"),
        model_name: None,
        unit: None,
        operation: text("operation"),
        reversal: e.reverses_transfer_id.is_some(),
    }
}

/// One page of the transactions of `owner`'s wallet (a person's or a team's), newest first.
pub async fn transactions(
    state: &AppState,
    owner: &str,
    filter: TxFilter,
    before: Option<i64>,
    limit: u32,
) -> Result<TxPage, AppError> {
    let Some(wallet) = state.ledger.find_wallet(owner).await? else {
        return Ok(TxPage { rows: Vec::new(), next_before: None });
    };
    let codes: Vec<TransferCode> = filter.codes().iter().filter_map(|c| TransferCode::parse(c)).collect();
    let page = state.ledger.history(wallet, &codes, before, limit).await?;
    let named = |mut r: TxRow| {
        r.model_name = r.model.as_deref().map(|m| state.catalog.name_of(m));
        r.unit = r
            .model
            .as_deref()
            .and_then(|m| crate::shared::endpoint::EndpointId::parse(m).ok())
            .map(|id| state.catalog.price(&id).unit.as_str().to_string());
        r
    };
    Ok(TxPage { rows: page.entries.into_iter().map(row).map(named).collect(), next_before: page.next_before })
}

/// The most rows one CSV export holds.
pub const CSV_MAX_ROWS: usize = 10_000;

/// All of the transactions of `owner`'s wallet under `filter`, as CSV.
pub async fn transactions_csv(state: &AppState, owner: &str, filter: TxFilter) -> Result<String, AppError> {
    let mut out = String::from(
        "date_utc,type,description,provider,model,operation,amount_usd,balance_after_usd,transaction_id\n",
    );
    let mut before = None;
    let mut written = 0;
    loop {
        let page = transactions(state, owner, filter, before, 200).await?;
        for r in &page.rows {
            let fields = [
                utc_minute(r.created_at_ms),
                code_label(&r.code).to_string(),
                r.description.clone(),
                r.provider.clone().unwrap_or_default(),
                r.model.clone().unwrap_or_default(),
                r.operation.clone().unwrap_or_default(),
                decimal(r.amount.get()),
                decimal(r.balance_after.get()),
                r.id.to_string(),
            ];
            out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push('\n');
            written += 1;
        }
        match page.next_before {
            Some(b) if written < CSV_MAX_ROWS => before = Some(b),
            _ => break,
        }
    }
    Ok(out)
}

/// Micro-USD as a plain decimal for spreadsheets: "-0.003", "12.5".
fn decimal(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let frac = format!("{:06}", abs % 1_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() { format!("{sign}{}", abs / 1_000_000) } else { format!("{sign}{}.{frac}", abs / 1_000_000) }
}

/// Quotes a field when needed, and defuses text a spreadsheet would run as a formula.
fn csv_field(s: &str) -> String {
    let first = s.trim_start();
    let s = if s.starts_with(['\t', '\r', '\n'])
        || first.starts_with(['=', '+', '@'])
        || (first.starts_with('-') && s.parse::<f64>().is_err())
    {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

#[cfg(test)]
mod tests {
    use super::{csv_field, decimal};

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-0.003"), "-0.003");
        assert_eq!(csv_field("-cmd"), "'-cmd");
        assert_eq!(csv_field("  =1+1"), "'  =1+1");
        assert_eq!(csv_field("\n=1+1"), "\"'\n=1+1\"");
    }

    #[test]
    fn amounts_are_plain_decimals() {
        assert_eq!(decimal(-3_000), "-0.003");
        assert_eq!(decimal(12_500_000), "12.5");
        assert_eq!(decimal(5_000_000), "5");
        assert_eq!(decimal(0), "0");
    }
}
