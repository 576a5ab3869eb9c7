//! The call history: its limit and days-back controls, and the table of calls with what
//! each cost.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use super::{DEFAULT_DAYS, DEFAULT_LIMIT};
use crate::api::usage::{DAY_CHOICES, LIMIT_CHOICES, UsageRecord};
use crate::shared::format::{operation_label, utc_minute};
use crate::shared::money::Micros;
use crate::shared::states::{CallFailure, CallStatus, PaidWith};

#[component]
pub(super) fn HistoryControls(limit: Memo<u32>, days: Memo<u32>) -> impl IntoView {
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
pub(super) fn HistoryTable(rows: Vec<UsageRecord>) -> impl IntoView {
    // A team's history says who made each call.
    let team = rows.iter().any(|r| r.member.is_some());
    view! {
        <div class="table-wrap">
            <table class="table usage-history" aria-labelledby="usage-history-title" data-testid="usage-history">
                <thead>
                    <tr>
                        <th scope="col">"Date (UTC)"</th>
                        {team.then(|| view! { <th scope="col">"Member"</th> })}
                        <th scope="col">"Provider"</th>
                        <th scope="col">"Model"</th>
                        <th scope="col">"Operation"</th>
                        <th scope="col" class="num">"Cost"</th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|r| view! { <HistoryLine r team /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// What a call's cost cell says, and a note under it.
pub fn cost_text(r: &UsageRecord) -> (String, Option<String>) {
    match (r.status, r.paid_with) {
        (CallStatus::Failed, _) => {
            // Failure codes read as words: "provider_error" is "provider error".
            let why = r.failure.map_or_else(|| "failed".to_string(), CallFailure::words);
            (Micros::ZERO.format(), Some(format!("Not charged: {why}")))
        }
        (CallStatus::Running, PaidWith::OwnKey) => {
            (r.cost_estimate.format(), Some("In progress (estimate), paid with your key".into()))
        }
        (CallStatus::Running, PaidWith::Credits) => {
            (r.cost_estimate.format(), Some("In progress (estimate, held)".into()))
        }
        (CallStatus::Succeeded, PaidWith::OwnKey) => {
            (r.cost.unwrap_or(r.cost_estimate).format(), Some("Paid with your key, not from credits".into()))
        }
        (CallStatus::Succeeded, PaidWith::Credits) => (r.charged.format(), None),
    }
}

#[component]
fn HistoryLine(r: UsageRecord, team: bool) -> impl IntoView {
    let (cost, note) = cost_text(&r);
    let own_key = r.paid_with == PaidWith::OwnKey;
    view! {
        <tr data-status=r.status.as_str() data-paid-with=r.paid_with.as_str()>
            <td class="usage-history__date">{utc_minute(r.created_at_ms)}</td>
            {team.then(|| view! { <td class="usage-history__member">{r.member.clone().unwrap_or_default()}</td> })}
            <td class="usage-history__provider">{r.provider.label()}</td>
            <td class="usage-history__model" title=r.model.clone()>{r.model_name.clone()}</td>
            <td class="usage-history__operation">{operation_label(&r.operation, &r.unit)}</td>
            <td class=if own_key { "num muted usage-history__cost" } else { "num usage-history__cost" }>
                {cost}
                {note.map(|n| view! { <span class="usage-history__note">{n}</span> })}
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::dto::keys::Provider;

    #[test]
    fn cost_cells_say_how_a_call_was_paid() {
        let base = UsageRecord {
            member: None,
            id: "u".into(),
            date: "2026-11-21".into(),
            created_at_ms: 0,
            route: "tollgate".into(),
            provider: Provider::Fal,
            model: "fal-ai/flux/dev".into(),
            model_name: "FLUX.1 [dev]".into(),
            operation: "generateImage".into(),
            status: CallStatus::Succeeded,
            failure: None,
            paid_with: PaidWith::Credits,
            cost_estimate: Micros(25_000),
            cost: Some(Micros(25_000)),
            charged: Micros(25_000),
            unit: "image".into(),
            units: 1.0,
        };
        assert_eq!(cost_text(&base), (Micros(25_000).format(), None));
        let own = UsageRecord { paid_with: PaidWith::OwnKey, charged: Micros::ZERO, ..base.clone() };
        assert_eq!(cost_text(&own).0, Micros(25_000).format());
        assert!(cost_text(&own).1.unwrap().contains("your key"));
        let failed = UsageRecord {
            status: CallStatus::Failed,
            failure: Some(CallFailure::ProviderError),
            cost: None,
            charged: Micros::ZERO,
            ..base
        };
        assert_eq!(cost_text(&failed), ("$0.00".into(), Some("Not charged: provider error".into())));
    }
}
