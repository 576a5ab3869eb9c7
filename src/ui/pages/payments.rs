//! The Balance tab's payment history: what was paid, the bonus, and what was refunded or
//! disputed since.

use leptos::prelude::*;

use crate::api::purchases::{Payment, list_payments};
use crate::shared::states::PaymentStatus;

#[component]
pub fn PaymentHistory() -> impl IntoView {
    let payments = Resource::new(|| (), |_| list_payments());
    view! {
        <section class="card" aria-labelledby="payments-title" data-testid="payments">
            <h2 id="payments-title">"Payments"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    payments
                        .get()
                        .map(|result| match result {
                            Ok(list) if list.is_empty() => {
                                view! { <p class="muted">"No payments yet."</p> }.into_any()
                            }
                            Ok(list) => view! { <PaymentTable list /> }.into_any(),
                            Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                        })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn PaymentTable(list: Vec<Payment>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Date (UTC)"</th>
                        <th scope="col" class="num">"Paid"</th>
                        <th scope="col" class="num">"Bonus"</th>
                        <th scope="col" class="num">"Refunded"</th>
                        <th scope="col">"Status"</th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|p| view! { <PaymentLine p /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn PaymentLine(p: Payment) -> impl IntoView {
    let troubled = matches!(p.status, PaymentStatus::Disputed | PaymentStatus::DisputeLost);
    view! {
        <tr data-status=p.status.as_str()>
            <td>{p.date.clone()}</td>
            <td class="num">{p.amount.format()}</td>
            <td class="num">{p.bonus.format()}</td>
            <td class="num">{if p.refunded.is_positive() { p.refunded.format() } else { "—".to_string() }}</td>
            <td class:notice--error=troubled>{p.status.label()}</td>
        </tr>
    }
}
