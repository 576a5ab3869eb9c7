//! Budgets in the gateway: a call is admitted into every budget that applies to it (its
//! API token's; paid from a team's wallet, its member's and the team's) in the transaction that holds its
//! estimate, by a guarded update that keeps spent plus the estimate within the limit, so
//! concurrent calls can never pass a budget together. What each call put in is written
//! to `budget_charge`; when the call ends (here, on another instance, after a crash) the
//! estimate is replaced by what was charged, or given back.
//!
//! Lock order, as everywhere a call's rows are touched: the run's cap, then its budgets
//! (by id), then the wallet.

use crate::server::infra::db::{WriteTx, db_err};
use crate::shared::dto::budgets::{BudgetPeriod, BudgetScope};
use crate::shared::error::AppError;
use crate::shared::money::Micros;

const DAY_MS: i64 = 86_400_000;

/// When the window holding `now_ms` began, for `period` (UTC).
pub fn window_start(period: BudgetPeriod, now_ms: i64) -> i64 {
    let day = now_ms.div_euclid(DAY_MS);
    match period {
        BudgetPeriod::Total => 0,
        BudgetPeriod::Day => day * DAY_MS,
        // 1970-01-01 was a Thursday: days since the Monday before it are day + 3.
        BudgetPeriod::Week => (day - (day + 3).rem_euclid(7)) * DAY_MS,
        BudgetPeriod::Month => {
            let (y, m, _) = civil_from_days(day);
            days_from_civil(y, m, 1) * DAY_MS
        }
    }
}

/// When the window that began at `start` ends; `None` for a total.
pub fn window_end(period: BudgetPeriod, start: i64) -> Option<i64> {
    match period {
        BudgetPeriod::Total => None,
        BudgetPeriod::Day => Some(start + DAY_MS),
        BudgetPeriod::Week => Some(start + 7 * DAY_MS),
        BudgetPeriod::Month => {
            let (y, m, _) = civil_from_days(start.div_euclid(DAY_MS));
            let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some(days_from_civil(y, m, 1) * DAY_MS)
        }
    }
}

// Howard Hinnant's civil-date algorithms (days since 1970-01-01 <-> proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A budget a call would not fit in: which, and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverBudget {
    /// What the call needed (its estimate).
    pub needed: Micros,
    pub scope: BudgetScope,
    pub period: BudgetPeriod,
    pub limit: Micros,
    pub spent: Micros,
    pub resets_at_ms: Option<i64>,
}

impl OverBudget {
    /// What is left in the window.
    pub fn left(&self) -> Micros {
        Micros((self.limit.get() - self.spent.get()).max(0))
    }

    /// The refusal in words: which budget, its limit and window, what is left, and when
    /// it resets.
    pub fn describe(&self) -> String {
        let window = match self.period {
            BudgetPeriod::Total => "in total".to_string(),
            BudgetPeriod::Day => "per day (UTC)".to_string(),
            p => format!("per {}", p.as_str()),
        };
        let resets = match self.resets_at_ms {
            Some(at) => format!(" It resets at {}.", crate::shared::format::utc_minute(at)),
            None => String::new(),
        };
        format!(
            "This needs {}, and the {} budget ({} {window}) has {} left.{resets}",
            self.needed,
            self.scope.as_str(),
            self.limit,
            self.left()
        )
    }

    /// The error the web app shows (the gate and a toast name the budget).
    pub fn to_error(&self) -> AppError {
        AppError::OverBudget {
            limit: self.scope.limit_name().to_string(),
            message: self.describe(),
            needed_micros: self.needed.get(),
            limit_micros: self.limit.get(),
            spent_micros: self.spent.get(),
            resets_at_ms: self.resets_at_ms,
        }
    }
}

/// Admits `estimate` into every budget on `subjects` (scope and subject), for call
/// `call_id`, in the transaction that begins the call. The first budget it does not fit
/// in is returned, and the caller rolls the transaction back.
pub async fn admit(
    tx: &mut WriteTx,
    call_id: &str,
    subjects: &[(BudgetScope, String)],
    estimate: Micros,
    now_ms: i64,
) -> Result<Result<(), OverBudget>, AppError> {
    if subjects.is_empty() || !estimate.is_positive() {
        return Ok(Ok(()));
    }
    let err = db_err("checking a budget");
    let mut found: Vec<(String, BudgetScope, BudgetPeriod)> = Vec::new();
    for (scope, subject) in subjects {
        let row: Option<(String, String)> =
            sqlx::query_as("select id, period from budget where scope = $1 and subject = $2")
                .bind(scope.as_str())
                .bind(subject)
                .fetch_optional(&mut ***tx)
                .await
                .map_err(&err)?;
        if let Some((id, period)) = row {
            let period =
                BudgetPeriod::parse(&period).ok_or_else(|| AppError::internal("a budget", "unknown period"))?;
            found.push((id, *scope, period));
        }
    }
    // One order for every call, so concurrent calls lock budgets without deadlocking.
    found.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, scope, period) in found {
        let start = window_start(period, now_ms);
        // A new window starts from nothing; whoever gets here first resets it.
        sqlx::query("update budget set window_start_ms = $1, spent_micros = 0 where id = $2 and window_start_ms < $1")
            .bind(start)
            .bind(&id)
            .execute(&mut ***tx)
            .await
            .map_err(&err)?;
        let fits = sqlx::query(
            "update budget set spent_micros = spent_micros + $1 where id = $2 and window_start_ms = $3 \
             and spent_micros + $1 <= limit_micros",
        )
        .bind(estimate.get())
        .bind(&id)
        .bind(start)
        .execute(&mut ***tx)
        .await
        .map_err(&err)?
        .rows_affected()
            == 1;
        if !fits {
            let (limit, spent): (i64, i64) =
                sqlx::query_as("select limit_micros, spent_micros from budget where id = $1")
                    .bind(&id)
                    .fetch_one(&mut ***tx)
                    .await
                    .map_err(&err)?;
            return Ok(Err(OverBudget {
                needed: estimate,
                scope,
                period,
                limit: Micros(limit),
                spent: Micros(spent),
                resets_at_ms: window_end(period, start),
            }));
        }
        sqlx::query(
            "insert into budget_charge (call_id, budget_id, window_start_ms, amount_micros) values ($1, $2, $3, $4)",
        )
        .bind(call_id)
        .bind(&id)
        .bind(start)
        .bind(estimate.get())
        .execute(&mut ***tx)
        .await
        .map_err(&err)?;
    }
    Ok(Ok(()))
}

/// Locks the budgets call `call_id` is in (before its wallet is touched), one by one in
/// id order as [`admit`] does, so a call finishing and one beginning never wait on each
/// other in opposite orders.
pub async fn lock(tx: &mut WriteTx, call_id: &str) -> Result<Counted, AppError> {
    let err = db_err("settling a budget");
    let ids: Vec<String> =
        sqlx::query_scalar("select budget_id from budget_charge where call_id = $1 order by budget_id")
            .bind(call_id)
            .fetch_all(&mut ***tx)
            .await
            .map_err(&err)?;
    let counted = if ids.is_empty() { Counted::Nowhere } else { Counted::InBudgets };
    for id in ids {
        sqlx::query("update budget set updated_at_ms = updated_at_ms where id = $1")
            .bind(&id)
            .execute(&mut ***tx)
            .await
            .map_err(&err)?;
    }
    Ok(counted)
}

/// Whether a call counted in any budget when it began: one that did not has nothing to
/// settle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Counted {
    Nowhere,
    InBudgets,
}

/// Replaces what call `call_id` put into its budgets by `charged` (zero: gives it back).
/// A window that has since reset is left alone: the call counted in the one it began in.
pub async fn settle(tx: &mut WriteTx, call_id: &str, charged: Micros) -> Result<(), AppError> {
    let err = db_err("settling a budget");
    sqlx::query(
        "update budget set spent_micros = spent_micros - \
             (select c.amount_micros from budget_charge c where c.call_id = $1 and c.budget_id = budget.id) + $2 \
         where id in (select c.budget_id from budget_charge c where c.call_id = $1 \
             and c.window_start_ms = budget.window_start_ms)",
    )
    .bind(call_id)
    .bind(charged.get())
    .execute(&mut ***tx)
    .await
    .map_err(&err)?;
    sqlx::query("update budget_charge set amount_micros = $1 where call_id = $2")
        .bind(charged.get())
        .bind(call_id)
        .execute(&mut ***tx)
        .await
        .map_err(&err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_begin_at_utc_midnight_monday_and_the_first() {
        // 2026-12-01T15:30:00Z is a Tuesday.
        let now = 1_796_139_000_000;
        assert_eq!(window_start(BudgetPeriod::Day, now), 1_796_083_200_000);
        assert_eq!(window_start(BudgetPeriod::Week, now), 1_796_083_200_000 - DAY_MS);
        assert_eq!(window_start(BudgetPeriod::Month, now), 1_796_083_200_000);
        assert_eq!(window_start(BudgetPeriod::Total, now), 0);
        assert_eq!(window_end(BudgetPeriod::Month, 1_796_083_200_000), Some(1_796_083_200_000 + 31 * DAY_MS));
        // February in a leap year.
        let feb = days_from_civil(2028, 2, 10) * DAY_MS;
        assert_eq!(window_start(BudgetPeriod::Month, feb), days_from_civil(2028, 2, 1) * DAY_MS);
        assert_eq!(
            window_end(BudgetPeriod::Month, days_from_civil(2028, 2, 1) * DAY_MS),
            Some(days_from_civil(2028, 3, 1) * DAY_MS)
        );
        assert_eq!(
            window_end(BudgetPeriod::Month, days_from_civil(2026, 12, 1) * DAY_MS),
            Some(days_from_civil(2027, 1, 1) * DAY_MS)
        );
        for d in [-800_000, -1, 0, 1, 19_000, 20_000, 2_000_000] {
            assert_eq!(days_from_civil(civil_from_days(d).0, civil_from_days(d).1, civil_from_days(d).2), d);
        }
    }
}
