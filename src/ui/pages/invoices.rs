//! A postpaid account's invoices: the list on the Balance tab, and each invoice's
//! printable page with its lines.

use leptos::prelude::*;

use crate::api::payments::{Invoice, get_invoice, list_invoices};
use crate::shared::money::Micros;

#[component]
pub fn InvoicesSection() -> impl IntoView {
    let invoices = Resource::new(|| (), |_| list_invoices());
    view! {
        <section class="card" aria-labelledby="invoices-title" data-testid="invoices">
            <h2 id="invoices-title">"Invoices"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || invoices.get().map(|result| match result {
                    Ok(list) if list.is_empty() => view! {
                        <p class="muted">"No invoices yet: what you spend on credit is billed at the start of each month."</p>
                    }.into_any(),
                    Ok(list) => view! { <InvoiceTable list /> }.into_any(),
                    Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn InvoiceTable(list: Vec<Invoice>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Month"</th>
                        <th scope="col" class="num">"Usage"</th>
                        <th scope="col" class="num">"Due"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Due date"</th>
                        <th scope="col"><span class="visually-hidden">"Invoice"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|i| {
                        let status = status_text(&i);
                        view! {
                            <tr data-status=i.status.clone()>
                                <td>{i.month.clone()}</td>
                                <td class="num">{i.usage.format()}</td>
                                <td class="num">{i.amount_due.format()}</td>
                                <td class:notice--error=i.failure.is_some()>{status}</td>
                                <td>{i.due_date.clone()}</td>
                                <td><a href=format!("/credits/invoices/{}", i.id) aria-label=format!("Invoice for {}", i.month)>"View"</a></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn status_text(i: &Invoice) -> String {
    match (i.status.as_str(), &i.failure) {
        ("paid", _) => "Paid".into(),
        (_, Some(why)) => format!("Unpaid: {why}"),
        _ => "Open".into(),
    }
}

/// One invoice, printable.
#[component]
pub fn InvoicePage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let invoice = Resource::new(id, get_invoice);
    view! {
        <leptos_meta::Title text="Invoice" />
        <crate::ui::components::frame::SignedIn here="/credits" children=move |account| view! {
            <section class="card receipt" aria-labelledby="invoice-title">
                <h1 id="invoice-title">"Invoice"</h1>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || {
                        let email = account.email.clone();
                        Suspend::new(async move {
                            match invoice.await {
                                Err(e) => view! { <crate::ui::components::error_page::ErrorPage error=e /> }.into_any(),
                                Ok(i) => view! { <InvoiceBody i email /> }.into_any(),
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
fn InvoiceBody(i: Invoice, email: String) -> impl IntoView {
    let status = status_text(&i);
    view! {
        <dl class="facts" data-testid="invoice">
            <div><dt>"Billed to"</dt><dd>{email}</dd></div>
            <div><dt>"Month (UTC)"</dt><dd>{i.month.clone()}</dd></div>
            <div><dt>"Invoice"</dt><dd><code>{i.id.clone()}</code></dd></div>
            <div><dt>"Due date"</dt><dd>{i.due_date.clone()}</dd></div>
            <div><dt>"Status"</dt><dd>{status}</dd></div>
        </dl>
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Model"</th>
                        <th scope="col">"Unit"</th>
                        <th scope="col" class="num">"Calls"</th>
                        <th scope="col" class="num">"Units"</th>
                        <th scope="col" class="num">"Unit price"</th>
                        <th scope="col" class="num">"Amount"</th>
                    </tr>
                </thead>
                <tbody>
                    {i.lines.is_empty().then(|| view! {
                        <tr><td colspan="6" class="muted">"No calls were billed this month; what is due was spent on credit and not billed before."</td></tr>
                    })}
                    {i.lines.iter().map(|l| view! {
                        <tr>
                            <td><code>{l.endpoint_id.clone()}</code></td>
                            <td>{l.unit.clone()}</td>
                            <td class="num">{l.calls}</td>
                            <td class="num">{format!("{:.3}", l.units_milli as f64 / 1000.0)}</td>
                            <td class="num">{l.unit_price.format()}</td>
                            <td class="num">{l.amount.format()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        <dl class="facts">
            <div><dt>"Usage"</dt><dd>{i.usage.format()}</dd></div>
            <div><dt>"Paid from your credits"</dt><dd>{i.paid_from_credits.format()}</dd></div>
            <div><dt>"Spent on credit: due"</dt><dd>{i.amount_due.format()}</dd></div>
        </dl>
        {(i.amount_due > Micros::ZERO && i.status != "paid").then(|| view! {
            <p class="muted small">"Charged to your saved card; saving a new card charges it again."</p>
        })}
    }
}
