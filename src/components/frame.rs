//! The header and footer around every page.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::app::SiteInfoResource;

#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <header class="site-header">
            <div class="site-header__inner">
                <a class="brand" href="/" aria-label="Tollgate home">
                    <img class="brand__mark" src="/favicon.svg" alt="" width="28" height="28" />
                    <span class="brand__name">"Tollgate"</span>
                </a>
                <SandboxBadge />
                <nav class="site-nav" aria-label="Main">
                    <A href="/credits">"Credits"</A>
                    <A href="/settings/api-keys">"Settings"</A>
                </nav>
            </div>
        </header>
    }
}

/// Says loudly that no real money moves, whenever the server runs in sandbox mode.
#[component]
fn SandboxBadge() -> impl IntoView {
    let info = expect_context::<SiteInfoResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let sandbox = info.await.map(|i| i.sandbox).unwrap_or(false);
                sandbox.then(|| view! {
                    <span class="badge badge--sandbox" title="Payments and AI providers are simulated. No real money moves.">
                        "Sandbox"
                    </span>
                })
            })}
        </Suspense>
    }
}

#[component]
pub fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <div class="site-footer__inner">
                <p>
                    {concat!("Tollgate v", env!("CARGO_PKG_VERSION"), " · Self-hosted credits and billing for AI generation")}
                </p>
                <p class="site-footer__links">
                    <a href="/healthz">"Health"</a>
                    <a href="/readyz">"Readiness"</a>
                </p>
            </div>
        </footer>
    }
}
