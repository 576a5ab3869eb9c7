//! A budget as the settings pages show it: what it is and what is left, and the limit and
//! window fields of the form that sets it.

use leptos::prelude::*;

use crate::shared::dto::budgets::{Budget, BudgetPeriod};
use crate::shared::format::utc_minute;

/// "$5.00 per day (UTC), $1.20 left", or "No limit".
pub fn budget_summary(budget: Option<&Budget>) -> String {
    let Some(b) = budget else { return "No limit".into() };
    let per = match b.period {
        BudgetPeriod::Total => "in total".to_string(),
        p => format!("per {} (UTC)", p.as_str()),
    };
    let left = crate::shared::money::Micros((b.limit.get() - b.spent.get()).max(0));
    let resets = b.resets_at_ms.map(|at| format!("; resets {}", utc_minute(at))).unwrap_or_default();
    format!("{} {per}, {} left{resets}", b.limit.format(), left.format())
}

/// The limit (USD) and window fields, named `limit` and `period`; `key` makes their ids
/// unique on the page and `name` labels them for screen readers.
#[component]
pub fn BudgetFields(key: String, name: String, budget: Option<Budget>) -> impl IntoView {
    let current_period = budget.as_ref().map_or(BudgetPeriod::Day, |b| b.period);
    let (limit_id, period_id) = (format!("budget-limit-{key}"), format!("budget-period-{key}"));
    view! {
        <label class="visually-hidden" for=limit_id.clone()>{format!("Budget for {name} in USD")}</label>
        <input
            id=limit_id
            name="limit"
            inputmode="decimal"
            size="6"
            placeholder="USD"
            value=budget.as_ref().map(|b| b.limit.format().trim_start_matches('$').replace(',', ""))
        />
        <label class="visually-hidden" for=period_id.clone()>{format!("Budget window for {name}")}</label>
        <select id=period_id name="period">
            {BudgetPeriod::ALL.iter().copied().map(|p| view! {
                <option value=p.as_str() selected=p == current_period>{p.as_str()}</option>
            }).collect_view()}
        </select>
    }
}
