//! The last days' credit spend: the chart with its caption, and the same figures as a
//! table.

use leptos::prelude::*;

use super::chart::{chart_caption, spend_chart_svg, spend_chart_svg_compact};
use crate::api::usage::UsageSummary;
use crate::shared::money::Micros;

#[component]
pub(super) fn SpendSummary(s: UsageSummary) -> impl IntoView {
    // Seven rows of nothing say less than one sentence.
    let quiet = s.requests == 0 && !s.total.is_positive() && s.days.iter().all(|d| !d.own_key_cost.is_positive());
    if quiet {
        return view! {
            <p class="muted" data-testid="usage-summary-empty">
                "Nothing spent in the last 7 days. What you generate shows here, day by day."
            </p>
        }
        .into_any();
    }
    let own_key_any = s.days.iter().any(|d| d.own_key_cost.is_positive());
    let own_key_total = Micros(s.days.iter().map(|d| d.own_key_cost.get()).sum());
    let chart = spend_chart_svg(&s.days);
    let compact = spend_chart_svg_compact(&s.days);
    let caption = chart_caption(&s);
    view! {
        <figure class="usage-chart" data-testid="usage-chart">
            // One drawing or the other, by the width of the screen (the style sheet picks).
            <div class="usage-chart__plot usage-chart__plot--wide" inner_html=chart />
            <div class="usage-chart__plot usage-chart__plot--compact" inner_html=compact />
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
        {(!s.members.is_empty()).then(|| view! { <MemberSpendTable members=s.members.clone() /> })}
    }
    .into_any()
}

/// A team's spend over the same days, per member.
#[component]
fn MemberSpendTable(members: Vec<crate::api::usage::MemberSpend>) -> impl IntoView {
    view! {
        <h3>"Who spent it"</h3>
        <div class="table-wrap">
            <table class="table usage-table" data-testid="usage-members">
                <caption class="visually-hidden">"Credit spend per team member, last 7 days (UTC)"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Member"</th>
                        <th scope="col" class="num">"Cost"</th>
                        <th scope="col" class="num">"Requests"</th>
                    </tr>
                </thead>
                <tbody>
                    {members.into_iter().map(|m| view! {
                        <tr>
                            <td>{m.email}</td>
                            <td class="num">{m.cost.format()}</td>
                            <td class="num">{m.requests}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
