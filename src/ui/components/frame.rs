//! The header and footer around every page.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::ui::context::{AccountResource, AuthActions, SiteInfoResource};

#[component]
pub fn SiteHeader() -> impl IntoView {
    let account = expect_context::<AccountResource>();
    view! {
        <header class="site-header">
            <div class="site-header__inner">
                <a class="brand" href="/" aria-label="Tollgate home">
                    <img class="brand__mark" src="/favicon.svg" alt="" width="28" height="28" />
                    <span class="brand__name">"Tollgate"</span>
                </a>
                <SandboxBadge />
                <nav class="site-nav" aria-label="Main">
                    <A href="/studio">"Studio"</A>
                    <A href="/credits">"Credits"</A>
                    <A href="/settings/api-keys">"Settings"</A>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            matches!(account.await, Ok(Some(a)) if a.is_admin)
                                .then(|| view! { <A href="/admin/gift-codes">"Admin"</A> })
                        })}
                    </Suspense>
                </nav>
                <AccountMenu />
            </div>
        </header>
    }
}

/// The signed-in email and a sign-out button, or the ways in.
#[component]
fn AccountMenu() -> impl IntoView {
    let account = expect_context::<AccountResource>();
    let sign_out = expect_context::<AuthActions>().sign_out;
    view! {
        <div class="account-menu">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match account.await {
                        Ok(Some(a)) => {
                            let read = crate::ui::live::LiveBalance::of(&a);
                            view! {
                            {(!a.teams.is_empty()).then(|| view! {
                                <WalletSwitcher current=a.team.as_ref().map(|t| t.id.clone()) teams=a.teams.clone() />
                            })}
                            <a class="account-menu__balance" href="/credits" data-testid="header-balance"
                                title=match &a.team {
                                    Some(t) => format!("Available balance of team {}", t.name),
                                    None => "Available balance".to_string(),
                                }>
                                {move || expect_context::<crate::ui::live::Live>().now(read).available.format()}
                            </a>
                            <span class="account-menu__email" title="Signed in">{a.email.clone()}</span>
                            <ActionForm action=sign_out attr:class="inline-form">
                                <button type="submit" class="btn btn--small" title=format!("Signed in as {}", a.email)>"Sign out"</button>
                            </ActionForm>
                        }.into_any()
                        }
                        _ => view! {
                            <a class="btn btn--small" href="/signin">"Sign in"</a>
                            <a class="btn btn--small btn--primary" href="/signup">"Sign up"</a>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// Which wallet pays (the person's own, or a team's): choosing one reloads the page, so
/// every figure on it, the live stream and the Studio follow the new wallet.
#[component]
fn WalletSwitcher(current: Option<String>, teams: Vec<crate::shared::dto::teams::TeamSummary>) -> impl IntoView {
    let select = ServerAction::<crate::api::auth::SelectWallet>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = select.value().get() {
            let _ = window().location().reload();
        }
    });
    view! {
        <ActionForm action=select attr:class="wallet-switcher">
            <label class="visually-hidden" for="wallet-switcher">"Wallet that pays"</label>
            <select
                id="wallet-switcher"
                name="team"
                data-testid="wallet-switcher"
                title="Wallet that pays"
                on:change=move |ev| {
                    select.dispatch(crate::api::auth::SelectWallet { team: event_target_value(&ev) });
                }
            >
                <option value="" selected=current.is_none()>"Personal"</option>
                {teams.into_iter().map(|t| {
                    let selected = current.as_deref() == Some(t.id.as_str());
                    view! { <option value=t.id.clone() selected=selected>{format!("Team: {}", t.name)}</option> }
                }).collect_view()}
            </select>
            <noscript><button type="submit" class="btn btn--small">"Switch"</button></noscript>
        </ActionForm>
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
                    <a href="/status">"Status"</a>
                    <a href="/healthz">"Health"</a>
                    <a href="/readyz">"Readiness"</a>
                </p>
            </div>
        </footer>
    }
}

/// Shows `children` with the signed-in account, or sends the visitor to sign in and
/// back to `here` afterwards.
#[component]
pub fn SignedIn<F, V>(here: &'static str, children: F) -> impl IntoView
where
    F: Fn(crate::api::auth::AccountSummary) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    use crate::ui::components::error_page::ErrorPage;
    use leptos_router::components::Redirect;
    let account = expect_context::<AccountResource>();
    let children = std::sync::Arc::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let children = children.clone();
                Suspend::new(async move {
                    match account.await {
                        Ok(Some(a)) => children(a).into_any(),
                        Ok(None) => view! { <Redirect path=format!("/signin?next={here}") /> }.into_any(),
                        Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
