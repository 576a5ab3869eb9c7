//! Checks every invariant the ledger promises, for `tollgate admin audit`.

use sqlx::Row;

use super::{Ledger, LedgerError};

/// One broken invariant, precise enough to find the rows involved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFinding {
    pub check: &'static str,
    pub detail: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditReport {
    pub checks_run: usize,
    pub wallets: i64,
    pub transfers: i64,
    pub findings: Vec<AuditFinding>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Each check is a query that returns one row per violation: (subject, detail).
const CHECKS: &[(&str, &str)] = &[
    (
        "books sum to zero",
        "select 'all accounts', 'wallets hold ' || cast(w.total as text) || ' while system accounts hold ' || \
         cast(s.total as text) \
         from (select coalesce(cast(sum(posted_micros) as bigint), 0) as total from account where kind = 'wallet') w, \
              (select coalesce(cast(sum(case when a.id = t.credit_account_id then t.amount_micros else -t.amount_micros end) as bigint), 0) as total \
               from transfer t join account a on a.kind = 'system' and (a.id = t.credit_account_id or a.id = t.debit_account_id)) s \
         where w.total + s.total <> 0",
    ),
    (
        "wallet balance equals its transfers",
        "select 'wallet ' || cast(a.id as text), 'posted ' || cast(a.posted_micros as text) || ' but transfers sum to ' || \
         cast(coalesce(x.net, 0) as text) \
         from account a left join ( \
             select acct, cast(sum(delta) as bigint) as net from ( \
                 select credit_account_id as acct, amount_micros as delta from transfer \
                 union all select debit_account_id, -amount_micros from transfer) d group by acct) x on x.acct = a.id \
         where a.kind = 'wallet' and a.posted_micros <> coalesce(x.net, 0)",
    ),
    (
        "credit lots sum to the balance",
        "select 'wallet ' || cast(a.id as text), 'posted ' || cast(a.posted_micros as text) || ' but lots hold ' || \
         cast(coalesce(l.total, 0) as text) \
         from account a left join (select wallet_id, cast(sum(remaining_micros) as bigint) as total from credit_lot \
         group by wallet_id) l on l.wallet_id = a.id \
         where a.kind = 'wallet' and a.posted_micros <> coalesce(l.total, 0)",
    ),
    (
        "lots match their draws",
        "select 'lot ' || cast(l.id as text), 'remaining ' || cast(l.remaining_micros as text) || ' but original ' || \
         cast(l.original_micros as text) || ' less draws ' || cast(coalesce(d.drawn, 0) as text) \
         from credit_lot l left join (select lot_id, cast(sum(amount_micros) as bigint) as drawn from lot_draw group by lot_id) d \
         on d.lot_id = l.id where l.remaining_micros <> l.original_micros - coalesce(d.drawn, 0)",
    ),
    (
        "no negative available balance",
        "select 'wallet ' || cast(id as text), 'posted ' || cast(posted_micros as text) || ', reserved ' || \
         cast(reserved_micros as text) from account \
         where reserved_micros < 0 or posted_micros < reserved_micros or (kind = 'system' and (posted_micros <> 0 or reserved_micros <> 0))",
    ),
    (
        "reserved equals open holds",
        "select 'wallet ' || cast(a.id as text), 'reserved ' || cast(a.reserved_micros as text) || ' but open holds total ' || \
         cast(coalesce(h.total, 0) as text) \
         from account a left join (select wallet_id, cast(sum(amount_micros) as bigint) as total from hold \
         where status = 'open' group by wallet_id) h on h.wallet_id = a.id \
         where a.kind = 'wallet' and a.reserved_micros <> coalesce(h.total, 0)",
    ),
    (
        "captured holds match their usage transfers",
        "select 'hold ' || cast(h.id as text), 'captured ' || cast(coalesce(h.captured_micros, -1) as text) || \
         ' but its transfers total ' || cast(coalesce(t.total, 0) as text) \
         from hold h left join (select hold_id, cast(sum(amount_micros) as bigint) as total from transfer \
         where hold_id is not null and reverses_transfer_id is null group by hold_id) t on t.hold_id = h.id \
         where (h.status = 'captured' and (h.captured_micros is null or h.captured_micros <> coalesce(t.total, 0))) \
            or (h.status <> 'captured' and (h.captured_micros is not null or t.total is not null))",
    ),
    (
        "every wallet transfer names its wallet",
        "select 'transfer ' || cast(t.id as text), 'wallet_id does not match either side' from transfer t \
         join account d on d.id = t.debit_account_id join account c on c.id = t.credit_account_id \
         where (d.kind = 'wallet' or c.kind = 'wallet') and (t.wallet_id is null or \
               (t.wallet_id <> t.debit_account_id and t.wallet_id <> t.credit_account_id))",
    ),
    (
        "what is owed equals its journal",
        "select 'wallet ' || cast(a.id as text), 'owes ' || cast(a.owed_micros as text) || ' but its journal sums to ' || \
         cast(coalesce(o.total, 0) as text) \
         from account a left join (select wallet_id, cast(sum(delta_micros) as bigint) as total from owed_change \
         group by wallet_id) o on o.wallet_id = a.id \
         where a.owed_micros <> coalesce(o.total, 0) or (a.kind = 'system' and a.owed_micros <> 0)",
    ),
    (
        "every repayment of what is owed is a transfer of the same amount",
        "select 'owed change ' || cast(o.id as text), 'repaid ' || cast(-o.delta_micros as text) || ' but transfer ' || \
         coalesce(cast(t.id as text), 'none') || ' moved ' || cast(coalesce(t.amount_micros, 0) as text) \
         from owed_change o left join transfer t on t.id = o.transfer_id \
         where (o.reason = 'repaid' and (t.id is null or t.amount_micros <> -o.delta_micros or t.debit_account_id <> o.wallet_id)) \
            or (o.reason <> 'repaid' and o.transfer_id is not null) \
            or (o.reason = 'taken_back' and o.delta_micros < 0) or (o.reason <> 'taken_back' and o.delta_micros > 0)",
    ),
    (
        "credit drawn equals its transfers",
        "select 'wallet ' || cast(a.id as text), 'credit used ' || cast(a.credit_used_micros as text) || \
         ' but credit-line transfers come to ' || cast(coalesce(c.net, 0) as text) \
         from account a left join (select wallet_id, cast(sum(case \
                 when code = 'credit_line' and credit_account_id = wallet_id then amount_micros \
                 else -amount_micros end) as bigint) as net \
             from transfer where code in ('credit_line', 'invoice_payment') group by wallet_id) c on c.wallet_id = a.id \
         where a.kind = 'wallet' and a.credit_used_micros <> coalesce(c.net, 0)",
    ),
    (
        "credit-line money moves between a wallet and receivables",
        "select 'transfer ' || cast(t.id as text), t.code || ' between accounts ' || cast(t.debit_account_id as text) || \
         ' and ' || cast(t.credit_account_id as text) \
         from transfer t, account r, account p \
         where r.code = 'system:receivables' and p.code = 'system:payments_clearing' and ( \
            (t.code = 'credit_line' and not ((t.debit_account_id = r.id and t.credit_account_id = t.wallet_id) \
                or (t.credit_account_id = r.id and t.debit_account_id = t.wallet_id))) \
            or (t.code = 'invoice_payment' and not (t.debit_account_id = p.id and t.credit_account_id = r.id)))",
    ),
];

impl Ledger {
    /// Runs every check. Read-only; safe while the app is serving.
    pub async fn audit(&self) -> Result<AuditReport, LedgerError> {
        let pool = self.db.pool();
        let mut report = AuditReport {
            wallets: sqlx::query_scalar("select count(*) from account where kind = 'wallet'").fetch_one(pool).await?,
            transfers: sqlx::query_scalar("select count(*) from transfer").fetch_one(pool).await?,
            ..AuditReport::default()
        };
        for (check, sql) in CHECKS {
            let rows = sqlx::query(sql).fetch_all(pool).await?;
            for row in rows {
                let subject: String = row.try_get(0)?;
                let detail: String = row.try_get(1)?;
                report.findings.push(AuditFinding { check, detail: format!("{subject}: {detail}") });
            }
            report.checks_run += 1;
        }
        Ok(report)
    }
}
