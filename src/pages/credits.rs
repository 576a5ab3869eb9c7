//! The Credits page: Balance, Transactions and Gift Codes tabs, each with its own address.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::AccountSummary;
use crate::components::frame::SignedIn;
use crate::components::tabs::{Tab, TabList, TabPanel};
use crate::pages::transactions::TransactionsTab;

const TABS: &[Tab] = &[
    Tab { slug: "balance", label: "Balance" },
    Tab { slug: "transactions", label: "Transactions" },
    Tab { slug: "gift-codes", label: "Gift Codes" },
];

#[component]
pub fn CreditsPage() -> impl IntoView {
    let query = use_query_map();
    let active = Memo::new(move |_| {
        let tab = query.read().get("tab").unwrap_or_default();
        if TABS.iter().any(|t| t.slug == tab) { tab } else { "balance".to_string() }
    });
    view! {
        <Title text="Credits" />
        <header class="page-header">
            <h1>"Credits"</h1>
            <p class="lead">"Your prepaid balance for AI generation."</p>
        </header>
        <SignedIn here="/credits" children=move |account| view! {
            <TabList label="Credits" base="/credits" tabs=TABS active=active />
            {move || {
                let account = account.clone();
                match active.get().as_str() {
                    "transactions" => view! { <TabPanel slug="transactions"><TransactionsTab /></TabPanel> }.into_any(),
                    "gift-codes" => view! { <TabPanel slug="gift-codes"><GiftCodesSoon /></TabPanel> }.into_any(),
                    _ => view! { <TabPanel slug="balance"><BalanceTab account /></TabPanel> }.into_any(),
                }
            }}
        } />
    }
}

#[component]
fn BalanceTab(account: AccountSummary) -> impl IntoView {
    let total = account.available.checked_add(account.reserved).unwrap_or(account.available);
    view! {
        <section class="card balance-card" aria-labelledby="balance-title">
            <h2 id="balance-title" class="balance-card__label">"Available balance"</h2>
            <p class="balance-card__amount" data-testid="balance">{account.available.format()}</p>
            {account.reserved.is_positive().then(|| view! {
                <dl class="facts">
                    <div><dt>"Held for work in progress"</dt><dd>{account.reserved.format()}</dd></div>
                    <div><dt>"Total, including held"</dt><dd>{total.format()}</dd></div>
                </dl>
            })}
            {account.low_balance.then(|| view! {
                <p class="notice notice--warn" role="status">
                    "Your balance is low. Add credits to keep generating without interruption."
                </p>
            })}
        </section>
        <section class="card coming-soon" aria-labelledby="buy-title">
            <h2 id="buy-title">"Buy credits"</h2>
            <p class="muted">"Buying credits through Stripe Checkout is coming soon."</p>
        </section>
    }
}

#[component]
fn GiftCodesSoon() -> impl IntoView {
    view! {
        <section class="card coming-soon" aria-labelledby="gift-title">
            <h2 id="gift-title">"Gift codes"</h2>
            <p class="muted">"Redeeming gift codes is coming soon."</p>
        </section>
    }
}
