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
            <table class="table table--cards" data-testid="payments">
                <thead>
                    <tr>
                        <th scope="col">"Date (UTC)"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col" class="num">"Paid"</th>
                        <th scope="col" class="num">"Bonus"</th>
                        <th scope="col" class="num">"Refunded"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col"><span class="visually-hidden">"Receipt"</span></th>
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
    let troubled = matches!(p.status, PaymentStatus::Disputed | PaymentStatus::DisputeLost | PaymentStatus::Declined);
    let status = match &p.failure {
        Some(why) => format!("{}: {why}", p.status.label()),
        None => p.status.label().to_string(),
    };
    view! {
        <tr data-status=p.status.as_str()>
            <td data-label="Date (UTC)">{p.date.clone()}</td>
            <td data-label="Kind">{p.kind.label()}</td>
            <td class="num" data-label="Paid">{p.amount.format()}</td>
            <td class="num" data-label="Bonus">{p.bonus.format()}</td>
            <td class="num" data-label="Refunded">{if p.refunded.is_positive() { p.refunded.format() } else { "—".to_string() }}</td>
            <td class:notice--error=troubled data-label="Status">{status}</td>
            <td class="table__actions">
                {(p.status != PaymentStatus::Declined).then(|| view! {
                    <a href=format!("/credits/receipts/{}", p.id) aria-label=format!("Receipt for the {} payment of {}", p.date, p.amount.format())>"Receipt"</a>
                })}
            </td>
        </tr>
    }
}

/// A printable receipt for one payment.
#[component]
pub fn ReceiptPage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let receipt = Resource::new(id, crate::api::purchases::get_receipt);
    view! {
        <leptos_meta::Title text="Receipt" />
        <crate::ui::components::frame::SignedIn here="/credits" children=move |account| view! {
            <section class="card receipt" aria-labelledby="receipt-title">
                <h1 id="receipt-title">"Receipt"</h1>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || {
                        let email = account.email.clone();
                        Suspend::new(async move {
                            match receipt.await {
                                Err(e) => view! { <crate::ui::components::error_page::ErrorPage error=e /> }.into_any(),
                                Ok(p) => view! { <ReceiptFacts p email /> }.into_any(),
                            }
                        })
                    }}
                </Suspense>
                <p class="receipt__actions"><a href="/credits">"Back to Credits"</a></p>
            </section>
        } />
    }
}

#[component]
fn ReceiptFacts(p: Payment, email: String) -> impl IntoView {
    let credits = crate::shared::money::Micros(p.amount.get() + p.bonus.get());
    view! {
        <dl class="facts" data-testid="receipt">
            <div><dt>"Paid by"</dt><dd>{email}</dd></div>
            <div><dt>"Date (UTC)"</dt><dd>{p.date.clone()}</dd></div>
            <div><dt>"Payment"</dt><dd>{p.kind.label()}</dd></div>
            <div><dt>"Reference"</dt><dd><code>{p.id.clone()}</code></dd></div>
            <div><dt>"Amount paid"</dt><dd>{p.amount.format()}</dd></div>
            <div><dt>"Bonus credits"</dt><dd>{p.bonus.format()}</dd></div>
            <div><dt>"Credits"</dt><dd>{credits.format()}</dd></div>
            {p.refunded.is_positive().then(|| view! { <div><dt>"Refunded"</dt><dd>{p.refunded.format()}</dd></div> })}
            <div><dt>"Status"</dt><dd>{p.status.label()}</dd></div>
        </dl>
        {(p.provider == "sandbox").then(|| view! { <p class="muted small">"Sandbox payment: no real money moved."</p> })}
    }
}
