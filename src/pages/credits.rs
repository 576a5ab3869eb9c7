use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::frame::SignedIn;

#[component]
pub fn CreditsPage() -> impl IntoView {
    view! {
        <Title text="Credits" />
        <header class="page-header">
            <h1>"Credits"</h1>
            <p class="lead">"Your prepaid balance for AI generation."</p>
        </header>
        <SignedIn here="/credits" children=|account| view! {
            <section class="card balance-card" aria-labelledby="balance-title">
                <h2 id="balance-title" class="balance-card__label">"Available balance"</h2>
                <p class="balance-card__amount" data-testid="balance">{account.available.format()}</p>
                {account.reserved.is_positive().then(|| view! {
                    <p class="muted">{format!("{} is held for work in progress.", account.reserved.format())}</p>
                })}
            </section>
            <section class="card coming-soon" aria-labelledby="credits-soon">
                <h2 id="credits-soon">"Coming soon"</h2>
                <ul class="checklist">
                    <li><strong>"Balance"</strong>" — buying credits through Stripe Checkout."</li>
                    <li><strong>"Transactions"</strong>" — purchases, usage, gifts and adjustments."</li>
                    <li><strong>"Gift Codes"</strong>" — redeem a code for credits."</li>
                </ul>
            </section>
        } />
    }
}
