//! Monthly invoices for postpaid accounts: what a month's calls cost (lines per model,
//! unit and price), what the account's own credits paid of it, and what it spent on credit
//! and owes. Made once per account and month however often the run repeats (a unique
//! key on both), paid with the saved card off session (or the sandbox's), and settled by
//! Stripe's signed event; an invoice still unpaid after its due date stops new work.

use sqlx::Row;

use crate::server::infra::db::{Db, db_err};
use crate::server::infra::state::AppState;
use crate::shared::dto::payments::{Invoice, InvoiceLine};
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::shared::states::EventKind;

/// Days from an invoice to its due date.
pub const DUE_AFTER_DAYS: i64 = 14;
const DAY_MS: i64 = 86_400_000;

/// A calendar month (UTC), checked: `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn parse(raw: &str) -> Result<Self, AppError> {
        let bad = || AppError::validation("month", "Use a month like 2026-11.");
        let (y, m) = raw.trim().split_once('-').ok_or_else(bad)?;
        let (year, month) = (y.parse::<i32>().map_err(|_| bad())?, m.parse::<u32>().map_err(|_| bad())?);
        if y.len() != 4 || m.len() != 2 || !(1..=12).contains(&month) || !(2000..=9999).contains(&year) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }

    /// The month `ms` falls in.
    pub fn of(ms: i64) -> Self {
        let date = crate::shared::format::utc_date(ms);
        Self::parse(&date[..7]).expect("a formatted date has a month")
    }

    pub fn previous(self) -> Self {
        if self.month == 1 { Self { year: self.year - 1, month: 12 } } else { Self { month: self.month - 1, ..self } }
    }

    fn next(self) -> Self {
        if self.month == 12 { Self { year: self.year + 1, month: 1 } } else { Self { month: self.month + 1, ..self } }
    }

    /// Its first millisecond.
    pub fn start_ms(self) -> i64 {
        let days = days_from_civil(self.year, self.month);
        days * DAY_MS
    }

    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// Days since 1970-01-01 of the first day of `month` in `year` (proleptic Gregorian).
fn days_from_civil(year: i32, month: u32) -> i64 {
    let y = i64::from(if month <= 2 { year - 1 } else { year });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InvoiceRun {
    pub made: Vec<String>,
    pub already: usize,
}

/// Makes `month`'s invoice for every postpaid account (or one that still owes for what
/// it drew), once; then asks for payment of each new one that has something due. Only
/// a month that has ended can be invoiced.
pub async fn run_month(state: &AppState, month: Month, now_ms: i64) -> Result<InvoiceRun, AppError> {
    if month >= Month::of(now_ms) {
        return Err(AppError::validation("month", "Only a month that has ended can be invoiced."));
    }
    let accounts = sqlx::query(
        "select owner_id from account where kind = 'wallet' and (credit_limit_micros > 0 or credit_used_micros > 0) \
         order by id",
    )
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("finding postpaid accounts"))?;
    let mut run = InvoiceRun::default();
    for row in accounts {
        let user_id: String = row.try_get(0).map_err(db_err("finding postpaid accounts"))?;
        match make(&state.db, &user_id, month, now_ms).await? {
            Some((id, due)) => {
                if due.is_positive() {
                    super::invoice_payments::collect(state, &user_id, &id).await?;
                }
                run.made.push(id);
            }
            None => run.already += 1,
        }
    }
    tracing::info!(month = %month.label(), made = run.made.len(), already = run.already, "invoices run");
    Ok(run)
}

/// Makes one account's invoice for `month` in one transaction: `None` when it was made
/// before. Returns its id and what is due.
///
/// What is due is what the account spent on credit and was not billed for before: the
/// credit line's transfers (drawn, less given back), less what holds still open drew
/// (given back or spent later, and then billed), less every earlier invoice. Counted from
/// the whole history up to the run, so anything drawn between the month's end and the run
/// is on this invoice, and a give-back after a run is settled by the next one.
async fn make(db: &Db, user_id: &str, month: Month, now_ms: i64) -> Result<Option<(String, Micros)>, AppError> {
    let err = db_err("making an invoice");
    let id = format!("inv_{:04}{:02}_{user_id}", month.year, month.month);
    let (from, to) = (month.start_ms(), month.next().start_ms());
    let made: Option<String> = sqlx::query_scalar("select id from invoice where user_id = $1 and month = $2")
        .bind(user_id)
        .bind(month.label())
        .fetch_optional(db.pool())
        .await
        .map_err(&err)?;
    if made.is_some() {
        return Ok(None);
    }
    let mut tx = db.begin_write().await.map_err(&err)?;
    // The wallet row first (the ledger's lock order, and a payment's): what is drawn
    // cannot change while it is billed.
    let wallet = sqlx::query(
        "update account set credit_used_micros = credit_used_micros where code = $1 returning id, credit_used_micros",
    )
    .bind(format!("wallet:{user_id}"))
    .fetch_optional(&mut **tx)
    .await
    .map_err(&err)?;
    let Some(wallet) = wallet else { return Ok(None) };
    let (wallet_id, used): (i64, i64) = (wallet.try_get(0).map_err(&err)?, wallet.try_get(1).map_err(&err)?);
    let sum = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).bind(wallet_id).bind(from).bind(to).bind(user_id);
    let drawn = sum(
        "select cast(coalesce(sum(case when credit_account_id = wallet_id then amount_micros else -amount_micros end), 0) \
         as bigint) from transfer where wallet_id = $1 and code = 'credit_line' and $2 = $2 and $3 = $3 and $4 = $4",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(&err)?;
    let drawn_in_month = sum(
        "select cast(coalesce(sum(case when credit_account_id = wallet_id then amount_micros else -amount_micros end), 0) \
         as bigint) from transfer where wallet_id = $1 and code = 'credit_line' and created_at_ms >= $2 \
         and created_at_ms < $3 and $4 = $4",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(&err)?;
    let held = sum(
        "select cast(coalesce(sum(credit_drawn_micros), 0) as bigint) from hold where wallet_id = $1 and status = 'open' \
         and $2 = $2 and $3 = $3 and $4 = $4",
    )
    .fetch_one(&mut **tx)
    .await
    .map_err(&err)?;
    let billed = sum("select cast(coalesce(sum(amount_due_micros), 0) as bigint) from invoice where user_id = $4 \
         and $1 = $1 and $2 = $2 and $3 = $3")
    .fetch_one(&mut **tx)
    .await
    .map_err(&err)?;
    let due = Micros((drawn - held - billed).clamp(0, used.max(0)));
    let usage: i64 = sqlx::query_scalar(
        "select cast(coalesce(sum(charged_micros), 0) as bigint) from usage_record where user_id = $1 \
         and team_id is null and status = 'succeeded' and finished_at_ms >= $2 and finished_at_ms < $3",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .fetch_one(&mut **tx)
    .await
    .map_err(&err)?;
    let inserted = sqlx::query(
        "insert into invoice (id, user_id, month, usage_micros, paid_from_credits_micros, amount_due_micros, status, \
         due_at_ms, created_at_ms, paid_at_ms) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         on conflict (user_id, month) do nothing",
    )
    .bind(&id)
    .bind(user_id)
    .bind(month.label())
    .bind(usage)
    .bind((usage - drawn_in_month.max(0)).max(0))
    .bind(due.get())
    .bind(if due.is_positive() { "open" } else { "paid" })
    .bind(now_ms + DUE_AFTER_DAYS * DAY_MS)
    .bind(now_ms)
    .bind(if due.is_positive() { None } else { Some(now_ms) })
    .execute(&mut **tx)
    .await
    .map_err(&err)?
    .rows_affected();
    if inserted == 0 {
        return Ok(None);
    }
    sqlx::query(
        "insert into invoice_line (invoice_id, endpoint_id, unit, calls, units_milli, unit_price_micros, amount_micros) \
         select $1, endpoint_id, unit, count(*), cast(sum(units_milli) as bigint), unit_price_micros, \
             cast(sum(charged_micros) as bigint) \
         from usage_record where user_id = $2 and team_id is null and status = 'succeeded' and paid_with = 'credits' \
             and finished_at_ms >= $3 and finished_at_ms < $4 \
         group by endpoint_id, unit, unit_price_micros",
    )
    .bind(&id)
    .bind(user_id)
    .bind(from)
    .bind(to)
    .execute(&mut **tx)
    .await
    .map_err(&err)?;
    let data = serde_json::json!({
        "invoice_id": id,
        "month": month.label(),
        "amount_due_micros": due.get(),
        "due_at_ms": now_ms + DUE_AFTER_DAYS * DAY_MS,
    });
    crate::server::ledger::events::record_for_owner(&mut tx, user_id, EventKind::InvoiceCreated, data, now_ms).await?;
    tx.commit().await.map_err(&err)?;
    Ok(Some((id, due)))
}

/// Makes the invoices of the month just ended, hourly: the first run after the 1st makes
/// them, the rest find them made (on every instance alike).
pub fn spawn_monthly(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let now = crate::server::infra::installation::now_ms();
            if let Err(e) = run_month(&state, Month::of(now).previous(), now).await {
                tracing::error!(error = %e, "monthly invoices failed; will try again in an hour");
            }
            // Payments Stripe could not be asked for (an outage) are asked for again.
            if let Err(e) = super::invoice_payments::retry_unasked(&state).await {
                tracing::error!(error = %e, "invoice payments could not be retried");
            }
            if let Err(e) = tell_overdue(&state, now).await {
                tracing::error!(error = %e, "overdue invoices could not be told");
            }
        }
    })
}

/// Writes `invoice.overdue` once for each open invoice past its due date. Returns how many.
pub async fn tell_overdue(state: &AppState, now_ms: i64) -> Result<usize, AppError> {
    let err = db_err("telling of overdue invoices");
    let due = sqlx::query(
        "select id, user_id from invoice where status = 'open' and due_at_ms <= $1 and overdue_told_at_ms is null \
         limit 1000",
    )
    .bind(now_ms)
    .fetch_all(state.db.pool())
    .await
    .map_err(&err)?;
    let mut told = 0;
    for invoice in due {
        let id: String = invoice.try_get(0).map_err(&err)?;
        let owner: String = invoice.try_get(1).map_err(&err)?;
        let mut tx = state.db.begin_write().await.map_err(&err)?;
        // The wallet first, as invoice payments lock it, so the two cannot deadlock.
        sqlx::query("update account set posted_micros = posted_micros where code = $1")
            .bind(format!("wallet:{owner}"))
            .execute(&mut **tx)
            .await
            .map_err(&err)?;
        // The guard makes each notice happen once, whichever instance gets there.
        let row = sqlx::query(
            "update invoice set overdue_told_at_ms = $1 where id = $2 and status = 'open' and overdue_told_at_ms is null \
             returning user_id, amount_due_micros, due_at_ms, month",
        )
        .bind(now_ms)
        .bind(&id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(&err)?;
        let Some(row) = row else { continue };
        let user_id: String = row.try_get(0).map_err(&err)?;
        let data = serde_json::json!({
            "invoice_id": id,
            "amount_due_micros": row.try_get::<i64, _>(1).map_err(&err)?,
            "due_at_ms": row.try_get::<i64, _>(2).map_err(&err)?,
            "month": row.try_get::<String, _>(3).map_err(&err)?,
        });
        crate::server::ledger::events::record_for_owner(&mut tx, &user_id, EventKind::InvoiceOverdue, data, now_ms)
            .await?;
        tx.commit().await.map_err(&err)?;
        told += 1;
    }
    Ok(told)
}

/// Whether `user_id` has an invoice unpaid past its due date (new work waits for it).
pub async fn overdue(db: &Db, user_id: &str, now_ms: i64) -> Result<bool, AppError> {
    let found: Option<String> =
        sqlx::query_scalar("select id from invoice where user_id = $1 and status = 'open' and due_at_ms <= $2 limit 1")
            .bind(user_id)
            .bind(now_ms)
            .fetch_optional(db.pool())
            .await
            .map_err(db_err("reading invoices"))?;
    Ok(found.is_some())
}

/// `user_id`'s invoices, newest first (without their lines).
pub async fn list(db: &Db, user_id: &str) -> Result<Vec<Invoice>, AppError> {
    let rows = sqlx::query(
        "select id, month, usage_micros, paid_from_credits_micros, amount_due_micros, status, due_at_ms, failure \
         from invoice where user_id = $1 order by month desc limit 120",
    )
    .bind(user_id)
    .fetch_all(db.pool())
    .await
    .map_err(db_err("reading invoices"))?;
    rows.iter().map(read_invoice).collect::<Result<_, _>>().map_err(db_err("reading invoices"))
}

/// One of `user_id`'s invoices with its lines; someone else's is "not found".
pub async fn get(db: &Db, user_id: &str, id: &str) -> Result<Invoice, AppError> {
    let err = db_err("reading an invoice");
    let row = sqlx::query(
        "select id, month, usage_micros, paid_from_credits_micros, amount_due_micros, status, due_at_ms, failure \
         from invoice where user_id = $1 and id = $2",
    )
    .bind(user_id)
    .bind(id)
    .fetch_optional(db.pool())
    .await
    .map_err(&err)?
    .ok_or_else(|| AppError::not_found("The invoice"))?;
    let mut invoice = read_invoice(&row).map_err(&err)?;
    let lines = sqlx::query(
        "select endpoint_id, unit, calls, units_milli, unit_price_micros, amount_micros from invoice_line \
         where invoice_id = $1 order by amount_micros desc, endpoint_id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await
    .map_err(&err)?;
    invoice.lines = lines
        .iter()
        .map(|r| {
            Ok(InvoiceLine {
                endpoint_id: r.try_get(0)?,
                unit: r.try_get(1)?,
                calls: r.try_get(2)?,
                units_milli: r.try_get(3)?,
                unit_price: Micros(r.try_get(4)?),
                amount: Micros(r.try_get(5)?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(&err)?;
    Ok(invoice)
}

fn read_invoice(r: &sqlx::any::AnyRow) -> Result<Invoice, sqlx::Error> {
    Ok(Invoice {
        id: r.try_get(0)?,
        month: r.try_get(1)?,
        usage: Micros(r.try_get(2)?),
        paid_from_credits: Micros(r.try_get(3)?),
        amount_due: Micros(r.try_get(4)?),
        status: r.try_get(5)?,
        due_date: crate::shared::format::utc_date(r.try_get(6)?),
        failure: r.try_get(7)?,
        lines: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_strictly_and_know_where_they_start() {
        assert_eq!(Month::parse("2026-11").unwrap(), Month { year: 2026, month: 11 });
        for bad in ["2026-13", "2026-1", "26-11", "2026/11", "", "2026-00", "abcd-ef"] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Month::parse("2026-01").unwrap().start_ms(), 1_767_225_600_000);
        assert_eq!(Month::parse("2024-03").unwrap().start_ms(), 1_709_251_200_000);
        assert_eq!(Month::parse("2026-01").unwrap().previous().label(), "2025-12");
        assert_eq!(Month::of(1_767_225_600_000 - 1).label(), "2025-12");
    }
}
