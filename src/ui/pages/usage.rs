//! Credits > Balance > Usage: the balance, the last 7 days' spend as a table and a chart,
//! and the per-call history with limit and days-back controls (`?limit=&days=`).
//!
//! Calls paid with the person's own key are listed with their provider price but are not
//! credit spend, so they count in neither the totals nor the chart.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::auth::AccountSummary;
use crate::api::usage::{
    DAY_CHOICES, DaySummary, LIMIT_CHOICES, UsageRecord, UsageSummary, get_usage_history, get_usage_summary,
};
use crate::shared::format::{escape_xml, utc_minute};
use crate::shared::money::Micros;

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
    let summary = Resource::new(|| (), |_| get_usage_summary(SUMMARY_DAYS.to_string()));
    let history =
        Resource::new(move || (limit.get(), days.get()), |(l, d)| get_usage_history(l.to_string(), d.to_string()));

    view! {
        <section class="card usage" aria-labelledby="usage-title" id="usage" data-testid="usage">
            <div class="toolbar">
                <h2 id="usage-title">"Usage"</h2>
                <p class="usage__balance" data-testid="usage-balance">
                    "Balance: " <strong>{account.available.format()}</strong>
                    {account.low_balance.then(|| view! {
                        " " <a class="badge badge--warn" href="#field-amount" data-testid="usage-low-balance">"Low balance: add credits"</a>
                    })}
                </p>
            </div>
            <h3>"Last 7 days"</h3>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                        Ok(s) => view! { <SpendSummary s /> }.into_any(),
                    }
                })}
            </Suspense>
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

#[component]
fn SpendSummary(s: UsageSummary) -> impl IntoView {
    let own_key_any = s.days.iter().any(|d| d.own_key_cost.is_positive());
    let own_key_total = Micros(s.days.iter().map(|d| d.own_key_cost.get()).sum());
    let chart = spend_chart_svg(&s.days);
    let caption = chart_caption(&s);
    view! {
        <figure class="usage-chart" data-testid="usage-chart">
            <div class="usage-chart__plot" inner_html=chart />
            <figcaption id="usage-chart-caption">{caption}</figcaption>
        </figure>
        <div class="table-wrap">
            <table class="table usage-table" data-testid="usage-summary">
                <caption class="visually-hidden">"Credit spend per day, last 7 days (UTC)"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Date (UTC)"</th>
                        <th scope="col" class="num">"Cost"</th>
                        <th scope="col" class="num">"Requests"</th>
                        {own_key_any.then(|| view! { <th scope="col" class="num">"Paid with your keys"</th> })}
                    </tr>
                </thead>
                <tbody>
                    {s.days
                        .iter()
                        .rev()
                        .map(|d| view! {
                            <tr>
                                <td>{d.date.clone()}</td>
                                <td class="num">{d.cost.format()}</td>
                                <td class="num">{d.requests}</td>
                                {own_key_any.then(|| view! { <td class="num muted">{d.own_key_cost.format()}</td> })}
                            </tr>
                        })
                        .collect_view()}
                </tbody>
                <tfoot>
                    <tr>
                        <th scope="row">"Total"</th>
                        <td class="num" data-testid="usage-total">{s.total.format()}</td>
                        <td class="num">{s.requests}</td>
                        {own_key_any.then(|| view! { <td class="num muted">{own_key_total.format()}</td> })}
                    </tr>
                </tfoot>
            </table>
        </div>
        {own_key_any.then(|| view! {
            <p class="muted small">"Calls paid with your own keys are billed by the provider, not taken from your credits, so they are not in the total."</p>
        })}
    }
}

#[component]
fn HistoryControls(limit: Memo<u32>, days: Memo<u32>) -> impl IntoView {
    let navigate = use_navigate();
    let go = move |limit: u32, days: u32| {
        navigate(
            &format!("/credits?tab=balance&limit={limit}&days={days}"),
            NavigateOptions { scroll: false, ..Default::default() },
        );
    };
    let go2 = go.clone();
    view! {
        <div class="toolbar usage__history-head">
            <h3 id="usage-history-title">"Call history"</h3>
            // A plain GET form: the choices are in the address, so a reload or a shared link keeps them.
            <form class="toolbar__filters" method="get" action="/credits">
                <input type="hidden" name="tab" value="balance" />
                <label for="usage-limit">"Show"</label>
                <select
                    id="usage-limit"
                    name="limit"
                    on:change=move |ev| go(event_target_value(&ev).parse().unwrap_or(DEFAULT_LIMIT), days.get_untracked())
                >
                    {LIMIT_CHOICES
                        .into_iter()
                        .map(|n| view! { <option value=n.to_string() selected=move || limit.get() == n>{format!("{n} calls")}</option> })
                        .collect_view()}
                </select>
                <label for="usage-days">"from the last"</label>
                <select
                    id="usage-days"
                    name="days"
                    on:change=move |ev| go2(limit.get_untracked(), event_target_value(&ev).parse().unwrap_or(DEFAULT_DAYS))
                >
                    {DAY_CHOICES
                        .into_iter()
                        .map(|n| view! { <option value=n.to_string() selected=move || days.get() == n>{format!("{n} days")}</option> })
                        .collect_view()}
                </select>
                <noscript><button type="submit" class="btn btn--small">"Show"</button></noscript>
            </form>
        </div>
    }
}

#[component]
fn HistoryTable(rows: Vec<UsageRecord>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table usage-history" aria-labelledby="usage-history-title" data-testid="usage-history">
                <thead>
                    <tr>
                        <th scope="col">"Date (UTC)"</th>
                        <th scope="col">"Provider"</th>
                        <th scope="col">"Model"</th>
                        <th scope="col">"Operation"</th>
                        <th scope="col" class="num">"Cost"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|r| view! { <HistoryLine r /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// What a call's cost cell says, and a note under it.
pub fn cost_text(r: &UsageRecord) -> (String, Option<String>) {
    match (r.status.as_str(), r.paid_with.as_str()) {
        ("failed", _) => {
            // Failure codes read as words: "provider_error" is "provider error".
            let why = r.failure.as_deref().unwrap_or("failed").replace('_', " ");
            (Micros::ZERO.format(), Some(format!("Not charged: {why}")))
        }
        ("running", "own_key") => (r.cost_estimate.format(), Some("In progress (estimate), paid with your key".into())),
        ("running", _) => (r.cost_estimate.format(), Some("In progress (estimate, held)".into())),
        (_, "own_key") => {
            (r.cost.unwrap_or(r.cost_estimate).format(), Some("Paid with your key, not from credits".into()))
        }
        _ => (r.charged.format(), None),
    }
}

#[component]
fn HistoryLine(r: UsageRecord) -> impl IntoView {
    let (cost, note) = cost_text(&r);
    let own_key = r.paid_with == "own_key";
    view! {
        <tr data-status=r.status.clone() data-paid-with=r.paid_with.clone()>
            <td>{utc_minute(r.created_at_ms)}</td>
            <td>{r.route.clone()}</td>
            <td class="usage-history__model">{r.model.clone()}</td>
            <td>{r.operation.clone()}</td>
            <td class=if own_key { "num muted" } else { "num" }>
                {cost}
                {note.map(|n| view! { <span class="usage-history__note">{n}</span> })}
            </td>
        </tr>
    }
}

/// "Nov 19" from `YYYY-MM-DD`.
fn short_date(date: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let mut parts = date.splitn(3, '-').skip(1);
    let month = parts.next().and_then(|m| m.parse::<usize>().ok()).filter(|m| (1..=12).contains(m));
    let day = parts.next().and_then(|d| d.parse::<u32>().ok());
    match (month, day) {
        (Some(m), Some(d)) => format!("{} {d}", MONTHS[m - 1]),
        _ => date.to_string(),
    }
}

/// The top of the chart's scale: the smallest 1, 2, 2.5 or 5 × 10ⁿ micro-dollars at or
/// above `max`, and never under one cent.
pub fn axis_top(max: Micros) -> Micros {
    let max = max.get().max(10_000);
    let mut decade: i64 = 1;
    loop {
        for step in [10, 20, 25, 50] {
            let top = decade.saturating_mul(step) / 10;
            if top >= max {
                return Micros(top);
            }
        }
        if decade > i64::MAX / 100 {
            return Micros(max);
        }
        decade *= 10;
    }
}

/// What the chart shows, in words: its text alternative.
pub fn chart_caption(s: &UsageSummary) -> String {
    let (Some(first), Some(last)) = (s.days.first(), s.days.last()) else {
        return "Daily credit spend: no days to show.".into();
    };
    let range = format!("{} to {}", first.date, last.date);
    match s.days.iter().filter(|d| d.cost.is_positive()).max_by_key(|d| (d.cost, std::cmp::Reverse(d.date.clone()))) {
        None => format!("Daily credit spend, {range} (UTC): nothing was spent."),
        Some(top) => format!(
            "Daily credit spend, {range} (UTC): {} in all; the most was {} on {}.",
            s.total.format(),
            top.cost.format(),
            top.date
        ),
    }
}

const CHART_W: f64 = 640.0;
const CHART_H: f64 = 220.0;
const PLOT_LEFT: f64 = 72.0;
const PLOT_RIGHT: f64 = 628.0;
const PLOT_TOP: f64 = 22.0;
const PLOT_BOTTOM: f64 = 188.0;

/// The daily credit spend as an SVG bar chart, drawn on the server (the browser's copy is
/// the same string). Each bar is labelled with its amount; its accessible name and the
/// per-day list it carries make the picture readable without seeing it.
pub fn spend_chart_svg(days: &[DaySummary]) -> String {
    use std::fmt::Write;
    let max = days.iter().map(|d| d.cost).max().unwrap_or(Micros::ZERO);
    let top = axis_top(max);
    let plot_h = PLOT_BOTTOM - PLOT_TOP;
    let slot = (PLOT_RIGHT - PLOT_LEFT) / days.len().max(1) as f64;
    let listing = days.iter().map(|d| format!("{} {}", d.date, d.cost.format())).collect::<Vec<_>>().join(", ");
    let mut svg = String::with_capacity(4096);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_W} {CHART_H}" class="spend-chart" role="img" aria-labelledby="usage-chart-caption" aria-describedby="usage-chart-desc" focusable="false"><desc id="usage-chart-desc">{}</desc>"#,
        escape_xml(&format!("Credit spend per day: {listing}."))
    );
    // Grid lines and the scale: zero, half and the top.
    for (fraction, value) in [(0.0, Micros::ZERO), (0.5, Micros(top.get() / 2)), (1.0, top)] {
        let y = PLOT_BOTTOM - plot_h * fraction;
        let _ = write!(
            svg,
            r#"<line class="spend-chart__grid" x1="{PLOT_LEFT}" x2="{PLOT_RIGHT}" y1="{y:.1}" y2="{y:.1}"/><text class="spend-chart__scale" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            PLOT_LEFT - 8.0,
            y + 4.0,
            escape_xml(&value.format())
        );
    }
    for (i, d) in days.iter().enumerate() {
        let x = PLOT_LEFT + slot * i as f64;
        let center = x + slot / 2.0;
        let height = if top.is_positive() { plot_h * d.cost.get() as f64 / top.get() as f64 } else { 0.0 };
        // A day with any spend stays visible, however small beside the others.
        let height = if d.cost.is_positive() { height.max(2.0) } else { 0.0 };
        let _ = write!(
            svg,
            r#"<g class="spend-chart__day" data-date="{date}" data-cost-micros="{micros}">"#,
            date = escape_xml(&d.date),
            micros = d.cost.get()
        );
        if height > 0.0 {
            let _ = write!(
                svg,
                r#"<rect class="spend-chart__bar" x="{:.1}" y="{:.1}" width="{:.1}" height="{height:.1}" rx="3"><title>{}</title></rect><text class="spend-chart__value" x="{center:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x + slot * 0.2,
                PLOT_BOTTOM - height,
                slot * 0.6,
                escape_xml(&format!("{}: {} in {} requests", d.date, d.cost.format(), d.requests)),
                PLOT_BOTTOM - height - 6.0,
                escape_xml(&d.cost.format())
            );
        }
        let _ = write!(
            svg,
            r#"<text class="spend-chart__label" x="{center:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
            PLOT_BOTTOM + 20.0,
            escape_xml(&short_date(&d.date))
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, cost: i64, requests: i64) -> DaySummary {
        DaySummary { date: date.into(), cost: Micros(cost), requests, own_key_cost: Micros::ZERO }
    }

    #[test]
    fn axis_top_is_a_round_amount_at_or_above_the_highest_day() {
        assert_eq!(axis_top(Micros::ZERO), Micros(10_000));
        assert_eq!(axis_top(Micros(3_000)), Micros(10_000));
        assert_eq!(axis_top(Micros(31_000)), Micros(50_000));
        assert_eq!(axis_top(Micros(50_000)), Micros(50_000));
        assert_eq!(axis_top(Micros(50_001)), Micros(100_000));
        assert_eq!(axis_top(Micros(2_100_000)), Micros(2_500_000));
        assert_eq!(axis_top(Micros(i64::MAX)), Micros(i64::MAX));
    }

    #[test]
    fn bars_are_as_tall_as_their_share_of_the_scale() {
        let days = [day("2026-11-20", 25_000, 1), day("2026-11-21", 50_000, 2), day("2026-11-19", 0, 0)];
        let svg = spend_chart_svg(&days);
        let plot_h = PLOT_BOTTOM - PLOT_TOP;
        assert!(svg.contains(&format!(r#"height="{:.1}""#, plot_h / 2.0)), "{svg}");
        assert!(svg.contains(&format!(r#"height="{plot_h:.1}""#)), "{svg}");
        // A day without spend has a label but no bar.
        assert_eq!(svg.matches("<rect").count(), 2);
        assert_eq!(svg.matches("spend-chart__label").count(), 3);
        assert!(svg.contains(">Nov 21<"));
        assert!(svg.contains("2026-11-21 $0.05"));
        assert!(svg.contains(">$0.025<") || svg.contains(">$0.0250<"), "{svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
    }

    #[test]
    fn a_tiny_day_is_still_visible_and_an_empty_period_draws_no_bars() {
        let svg = spend_chart_svg(&[day("2026-11-20", 1, 1), day("2026-11-21", 5_000_000, 9)]);
        assert!(svg.contains(r#"height="2.0""#), "{svg}");
        let empty = spend_chart_svg(&[day("2026-11-20", 0, 0), day("2026-11-21", 0, 3)]);
        assert_eq!(empty.matches("<rect").count(), 0);
        assert!(empty.contains(">$0.01<"), "{empty}");
    }

    #[test]
    fn the_caption_names_the_period_total_and_highest_day() {
        let s = UsageSummary {
            days: vec![day("2026-11-20", 31_000, 5), day("2026-11-21", 9_000, 1)],
            total: Micros(40_000),
            requests: 6,
        };
        assert_eq!(
            chart_caption(&s),
            "Daily credit spend, 2026-11-20 to 2026-11-21 (UTC): $0.04 in all; the most was $0.031 on 2026-11-20."
                .replace("$0.031 ", &format!("{} ", Micros(31_000).format()))
        );
        let quiet = UsageSummary { days: vec![day("2026-11-21", 0, 0)], total: Micros::ZERO, requests: 0 };
        assert_eq!(chart_caption(&quiet), "Daily credit spend, 2026-11-21 to 2026-11-21 (UTC): nothing was spent.");
    }

    #[test]
    fn query_choices_fall_back_to_defaults() {
        assert_eq!(choice(Some("50".into()), &LIMIT_CHOICES, DEFAULT_LIMIT), 50);
        assert_eq!(choice(Some("49".into()), &LIMIT_CHOICES, DEFAULT_LIMIT), DEFAULT_LIMIT);
        assert_eq!(choice(Some("lots".into()), &DAY_CHOICES, DEFAULT_DAYS), DEFAULT_DAYS);
        assert_eq!(choice(None, &DAY_CHOICES, DEFAULT_DAYS), DEFAULT_DAYS);
    }

    #[test]
    fn cost_cells_say_how_a_call_was_paid() {
        let base = UsageRecord {
            id: "u".into(),
            date: "2026-11-21".into(),
            created_at_ms: 0,
            route: "tollgate".into(),
            provider: "fal".into(),
            model: "fal-ai/flux/dev".into(),
            operation: "generateImage".into(),
            status: "succeeded".into(),
            failure: None,
            paid_with: "credits".into(),
            cost_estimate: Micros(25_000),
            cost: Some(Micros(25_000)),
            charged: Micros(25_000),
            unit: "image".into(),
            units: 1.0,
        };
        assert_eq!(cost_text(&base), (Micros(25_000).format(), None));
        let own = UsageRecord { paid_with: "own_key".into(), charged: Micros::ZERO, ..base.clone() };
        assert_eq!(cost_text(&own).0, Micros(25_000).format());
        assert!(cost_text(&own).1.unwrap().contains("your key"));
        let failed = UsageRecord {
            status: "failed".into(),
            failure: Some("provider_error".into()),
            cost: None,
            charged: Micros::ZERO,
            ..base
        };
        assert_eq!(cost_text(&failed), ("$0.00".into(), Some("Not charged: provider error".into())));
    }
}
