//! Pages for administrators.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::credits::list_gift_batches;
use crate::shared::format::{utc_date, utc_minute};
use crate::ui::components::error_page::ErrorPage;
use crate::ui::components::frame::SignedIn;

/// Links between the admin pages.
#[component]
pub fn AdminNav() -> impl IntoView {
    use leptos_router::components::A;
    view! {
        <nav class="subnav" aria-label="Admin">
            <A href="/admin/gift-codes">"Gift codes"</A>
            <A href="/admin/webhooks">"Webhooks"</A>
        </nav>
    }
}

#[component]
pub fn AdminGiftCodesPage() -> impl IntoView {
    view! {
        <Title text="Gift codes · Admin" />
        <header class="page-header">
            <p class="eyebrow">"Admin"</p>
            <h1>"Gift codes"</h1>
            <p class="lead">
                "Batches of codes and how many times they were redeemed. Make codes with "
                <code>"tollgate admin gift-codes create"</code> "."
            </p>
        </header>
        <AdminNav />
        <SignedIn here="/admin/gift-codes" children=|_| view! { <Batches /> } />
    }
}

#[component]
fn Batches() -> impl IntoView {
    let batches = Resource::new(|| (), |_| list_gift_batches());
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match batches.await {
                    Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="card muted">"No gift codes yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <section class="card">
                            <div class="table-wrap">
                                <table class="table">
                                    <thead>
                                        <tr>
                                            <th scope="col">"Batch"</th>
                                            <th scope="col">"Created"</th>
                                            <th scope="col" class="num">"Amount"</th>
                                            <th scope="col" class="num">"Codes"</th>
                                            <th scope="col" class="num">"Uses each"</th>
                                            <th scope="col" class="num">"Redeemed"</th>
                                            <th scope="col">"Expires"</th>
                                            <th scope="col">"Note"</th>
                                        </tr>
                                    </thead>
                                    <tbody>
                                        {list.into_iter().map(|b| view! {
                                            <tr>
                                                <td>{format!("#{}", b.id)}</td>
                                                <td>{utc_minute(b.created_at_ms)}</td>
                                                <td class="num">{b.amount.format()}</td>
                                                <td class="num">{b.codes}</td>
                                                <td class="num">{b.max_uses}</td>
                                                <td class="num">{format!("{} of {}", b.redemptions, b.codes * b.max_uses)}</td>
                                                <td>{b.expires_at_ms.map(|t| utc_date(t - 1)).unwrap_or_else(|| "Never".into())}</td>
                                                <td>{b.note}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
