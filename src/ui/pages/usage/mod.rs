//! Credits > Balance > Usage: the balance, the last 7 days' spend as a table and a chart,
//! and the per-call history with limit and days-back controls (`?limit=&days=`).
//!
//! Calls paid with the person's own key are listed with their provider price but are not
//! credit spend, so they count in neither the totals nor the chart.

mod chart;
mod history;
mod summary;

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::auth::AccountSummary;
use crate::api::usage::{DAY_CHOICES, LIMIT_CHOICES, get_usage_history, get_usage_summary};
use history::{HistoryControls, HistoryTable};
use summary::SpendSummary;

pub use chart::{axis_top, chart_caption, spend_chart_svg};
pub use history::cost_text;

/// Days the summary and chart cover.
pub const SUMMARY_DAYS: u32 = 7;
pub const DEFAULT_LIMIT: u32 = 20;
pub const DEFAULT_DAYS: u32 = 30;

/// One of `choices` read from the query, else `default`.
fn choice(raw: Option<String>, choices: &[u32], default: u32) -> u32 {
    raw.and_then(|v| v.trim().parse::<u32>().ok()).filter(|v| choices.contains(v)).unwrap_or(default)
}

#[component]
pub fn UsageSection(account: AccountSummary) -> impl IntoView {
    let query = use_query_map();
    let limit = Memo::new(move |_| choice(query.read().get("limit"), &LIMIT_CHOICES, DEFAULT_LIMIT));
    let days = Memo::new(move |_| choice(query.read().get("days"), &DAY_CHOICES, DEFAULT_DAYS));
    // Reloaded when money moves (a money event arrives).
    let version = expect_context::<crate::ui::live::Live>().version;
    let summary = Resource::new(move || version.get(), |_| get_usage_summary(SUMMARY_DAYS.to_string()));
    // The balance and its warning follow the live stream, like every figure of the page.
    let live = expect_context::<crate::ui::live::Live>();
    let read = crate::ui::live::LiveBalance::of(&account);
    let low = {
        let account = account.clone();
        move || account.is_low(live.now(read).available)
    };
    let buys = account.team.as_ref().is_none_or(|t| t.role.manages());
    let history = Resource::new(
        move || (limit.get(), days.get(), version.get()),
        |(l, d, _)| get_usage_history(l.to_string(), d.to_string()),
    );

    view! {
        <section class="card usage" aria-labelledby="usage-title" id="usage" data-testid="usage">
            <div class="toolbar">
                <h2 id="usage-title">"Usage"</h2>
                <p class="usage__balance" data-testid="usage-balance">
                    "Balance: " <strong>{move || live.now(read).available.format()}</strong>
                    // Only someone who can buy for this wallet is sent to the buy form.
                    {move || (low() && buys).then(|| view! {
                        " " <a class="badge badge--warn" href="#field-amount" data-testid="usage-low-balance">"Low balance: add credits"</a>
                    })}
                </p>
            </div>
            <h3>"Last 7 days"</h3>
            // Kept on screen while it reloads after a money event: no flash of "Loading…".
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                        Ok(s) => view! { <SpendSummary s /> }.into_any(),
                    }
                })}
            </Transition>
            <HistoryControls limit days />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                        Ok(rows) if rows.is_empty() => view! {
                            <p class="muted" data-testid="usage-history-empty">
                                {format!("No calls in the last {} days.", days.get_untracked())}
                            </p>
                        }.into_any(),
                        Ok(rows) => view! { <HistoryTable rows /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_choices_fall_back_to_defaults() {
        assert_eq!(choice(Some("50".into()), &LIMIT_CHOICES, DEFAULT_LIMIT), 50);
        assert_eq!(choice(Some("49".into()), &LIMIT_CHOICES, DEFAULT_LIMIT), DEFAULT_LIMIT);
        assert_eq!(choice(Some("lots".into()), &DAY_CHOICES, DEFAULT_DAYS), DEFAULT_DAYS);
        assert_eq!(choice(None, &DAY_CHOICES, DEFAULT_DAYS), DEFAULT_DAYS);
    }
}
