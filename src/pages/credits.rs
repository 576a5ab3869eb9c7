use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CreditsPage() -> impl IntoView {
    view! {
        <Title text="Credits" />
        <header class="page-header">
            <h1>"Credits"</h1>
            <p class="lead">"Your prepaid balance for AI generation."</p>
        </header>
        <section class="card coming-soon" aria-labelledby="credits-soon">
            <h2 id="credits-soon">"Coming soon"</h2>
            <p>"This page will have three tabs:"</p>
            <ul class="checklist">
                <li><strong>"Balance"</strong>" — your balance, and buying credits through Stripe Checkout."</li>
                <li><strong>"Transactions"</strong>" — purchases, usage, gifts and adjustments."</li>
                <li><strong>"Gift Codes"</strong>" — redeem a code for credits."</li>
            </ul>
        </section>
    }
}
