use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    view! {
        <Title text="API keys · Settings" />
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li>"Settings"</li>
                <li aria-current="page">"API keys"</li>
            </ol>
        </nav>
        <header class="page-header">
            <h1>"API keys"</h1>
            <p class="lead">"Bring your own provider keys. Calls to a provider you have a key for cost no credits."</p>
        </header>
        <section class="card coming-soon" aria-labelledby="keys-soon">
            <h2 id="keys-soon">"Coming soon"</h2>
            <ul class="checklist">
                <li><strong>"fal.ai"</strong>" — image, video and audio generation with your own key."</li>
                <li><strong>"OpenRouter"</strong>" — paste a key, or connect your account in one click."</li>
            </ul>
        </section>
    }
}
