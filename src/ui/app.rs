//! The document shell, the app frame (header, main, footer) and the routes.

use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, Link, Meta, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment, path};

use crate::api::auth::get_account;
use crate::api::status::get_site_info;
use crate::ui::components::billing_gate::BillingGateHost;
use crate::ui::components::frame::{SiteFooter, SiteHeader};
use crate::ui::components::notice::NoticeBanner;
use crate::ui::context::{AccountResource, AuthActions, SiteInfoResource};
use crate::ui::pages::admin::AdminGiftCodesPage;
use crate::ui::pages::auth::{SignInPage, SignUpPage};
use crate::ui::pages::buy::SandboxCheckoutPage;
use crate::ui::pages::credits::CreditsPage;
use crate::ui::pages::home::HomePage;
use crate::ui::pages::not_found::NotFound;
use crate::ui::pages::sandbox_oauth::SandboxOpenRouterConsent;
use crate::ui::pages::settings::ApiKeysPage;
use crate::ui::pages::studio::StudioPage;
use crate::ui::pages::tokens::ApiTokensPage;

/// The app as the server serves it: the root component and the document around it.
#[cfg(feature = "ssr")]
pub fn web_app() -> crate::shared::web_app::WebApp {
    crate::shared::web_app::WebApp { app: || App().into_any(), shell: |options| shell(options).into_any() }
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <AutoReload options=options.clone() />
                // The style sheet under its built name (with its content hash when the build
                // hashes file names), like the scripts.
                <HashedStylesheet options=options.clone() id="leptos" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let info: SiteInfoResource = OnceResource::new(get_site_info());
    provide_context(info);
    let auth =
        AuthActions { sign_in: ServerAction::new(), sign_up: ServerAction::new(), sign_out: ServerAction::new() };
    provide_context(auth);
    // Blocking, so a page that needs a signed-in user can still answer with a redirect
    // before the server starts sending it.
    let account: AccountResource = Resource::new_blocking(
        move || (auth.sign_in.version().get(), auth.sign_up.version().get(), auth.sign_out.version().get()),
        |_| get_account(),
    );
    provide_context(account);
    crate::ui::live::provide_live(account);
    crate::ui::components::notice::Notices::provide();

    // Flips to true once the browser bundle has taken over the page. Effects never run
    // during server rendering, so this also tells end-to-end tests when to start clicking.
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));

    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="description" content="Prepaid credits and metered billing for AI generation." />
        <Title formatter=|title: String| {
            if title.is_empty() { "Tollgate".to_string() } else { format!("{title} · Tollgate") }
        } />
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <div class="frame">
                <SiteHeader />
                <main id="main" class="main" data-hydrated=move || hydrated.get().to_string()>
                    <NoticeBanner />
                    // Every page is rendered whole before it is sent (`Async`): its data is in the
                    // first response, so it reads the same with scripts off, and a page that
                    // needs a signed-in person can still answer with a redirect.
                    <Routes fallback=|| view! { <NotFound /> }>
                        <Route path=StaticSegment("") view=HomePage ssr=SsrMode::Async />
                        <Route path=StaticSegment("credits") view=CreditsPage ssr=SsrMode::Async />
                        <Route path=StaticSegment("studio") view=StudioPage ssr=SsrMode::Async />
                        <Route path=StaticSegment("status") view=crate::ui::pages::status::StatusPage ssr=SsrMode::Async />
                        <Route path=path!("/settings/api-keys") view=ApiKeysPage ssr=SsrMode::Async />
                        <Route path=path!("/settings/api-tokens") view=ApiTokensPage ssr=SsrMode::Async />
                        <Route path=path!("/settings/teams") view=crate::ui::pages::settings::teams::TeamsPage ssr=SsrMode::Async />
                        <Route path=path!("/teams/join") view=crate::ui::pages::settings::teams::JoinTeamPage ssr=SsrMode::Async />
                        <Route path=path!("/admin/gift-codes") view=AdminGiftCodesPage ssr=SsrMode::Async />
                        <Route path=path!("/admin/webhooks") view=crate::ui::pages::webhooks::AdminWebhooksPage ssr=SsrMode::Async />
                        <Route path=path!("/sandbox/checkout/:id") view=SandboxCheckoutPage ssr=SsrMode::Async />
                        <Route path=path!("/sandbox/card") view=crate::ui::pages::saved_card::SandboxCardPage ssr=SsrMode::Async />
                        <Route path=path!("/credits/receipts/:id") view=crate::ui::pages::payments::ReceiptPage ssr=SsrMode::Async />
                        <Route path=path!("/credits/invoices/:id") view=crate::ui::pages::invoices::InvoicePage ssr=SsrMode::Async />
                        <Route path=path!("/sandbox/openrouter/auth") view=SandboxOpenRouterConsent ssr=SsrMode::Async />
                        <Route path=StaticSegment("signin") view=SignInPage ssr=SsrMode::Async />
                        <Route path=StaticSegment("signup") view=SignUpPage ssr=SsrMode::Async />
                    </Routes>
                </main>
                <SiteFooter />
            </div>
            <BillingGateHost />
        </Router>
    }
}
