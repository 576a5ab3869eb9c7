use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// The tabs of Settings.
#[component]
pub fn SettingsNav() -> impl IntoView {
    view! {
        <nav class="subnav" aria-label="Settings">
            <A href="/settings/api-keys">"API keys"</A>
            <A href="/settings/api-tokens">"API tokens"</A>
        </nav>
    }
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    view! {
        <Title text="API keys · Settings" />
        <header class="page-header">
            <p class="eyebrow">"Settings"</p>
            <h1>"API keys"</h1>
            <p class="lead">"Bring your own provider keys. Calls to a provider you have a key for cost no credits."</p>
        </header>
        <SettingsNav />
        <section class="card coming-soon" aria-labelledby="keys-soon">
            <h2 id="keys-soon">"Coming soon"</h2>
            <ul class="checklist">
                <li><strong>"fal.ai"</strong>" — image, video and audio generation with your own key."</li>
                <li><strong>"OpenRouter"</strong>" — paste a key, or connect your account in one click."</li>
            </ul>
        </section>
    }
}
