//! Settings: the tabs, and the API keys page with a card per provider.

mod key_card;
pub mod teams;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

use crate::api::keys::{Provider, RemoveProviderKey, SaveProviderKey, TestProviderKey, provider_keys};
use crate::ui::components::frame::SignedIn;
use crate::ui::components::notice::ContinueLink;
use key_card::ProviderCard;

/// The tabs of Settings.
#[component]
pub fn SettingsNav() -> impl IntoView {
    view! {
        <nav class="subnav" aria-label="Settings">
            <A href="/settings/api-keys">"API keys"</A>
            <A href="/settings/api-tokens">"API tokens"</A>
            <A href="/settings/teams">"Teams"</A>
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
            <p class="lead">
                "Bring your own provider keys. Calls to a provider you have a working key for use it and cost no credits; \
                 everything else is paid with credits. Keys are stored encrypted and never shown again in full."
            </p>
        </header>
        <SettingsNav />
        <ContinueLink />
        <SignedIn here="/settings/api-keys" children=|account| view! { <ProviderKeys team=account.team /> } />
    }
}

/// The keys of the wallet chosen in the header: the person's own, or a team's (which its
/// owners and admins change, and every member's calls on its wallet use).
#[component]
fn ProviderKeys(team: Option<crate::shared::dto::teams::TeamSummary>) -> impl IntoView {
    let manages = team.as_ref().is_none_or(|t| t.role.manages());
    let team_note = team.map(|t| {
        let who =
            if manages { String::new() } else { " Only the team's owners and admins can change them.".to_string() };
        view! {
            <p class="notice" data-testid="team-keys-note">
                {format!(
                    "These are the keys of the team {}: they pay for every member's calls on the team's wallet. \
                     Your own keys pay only when your own wallet is chosen in the header.{who}",
                    t.name
                )}
            </p>
        }
    });
    let save = ServerAction::<SaveProviderKey>::new();
    let test = ServerAction::<TestProviderKey>::new();
    let remove = ServerAction::<RemoveProviderKey>::new();
    let slots = Resource::new(
        move || (save.version().get(), test.version().get(), remove.version().get()),
        |_| provider_keys(),
    );
    // Which provider each action last ran for. Kept here, not in the cards: the cards are
    // drawn again when the list reloads after every action.
    let track = |input: Memo<Option<String>>| {
        let last = RwSignal::new(None::<String>);
        Effect::new(move |_| {
            if let Some(p) = input.get() {
                last.set(Some(p));
            }
        });
        last
    };
    let actions = KeyActions {
        save,
        test,
        remove,
        save_for: track(Memo::new(move |_| save.input().get().map(|i| i.provider))),
        test_for: track(Memo::new(move |_| test.input().get().map(|i| i.provider))),
        remove_for: track(Memo::new(move |_| remove.input().get().map(|i| i.provider))),
        confirming: RwSignal::new(None),
    };
    // A removal answered (either way) ends its confirmation. Once the OpenRouter key is
    // gone, "OpenRouter is connected" (from the address) is no longer true.
    let notices = expect_context::<crate::ui::components::notice::Notices>();
    Effect::new(move |_| {
        if remove.version().get() > 0 {
            actions.confirming.set(None);
        }
        if matches!(remove.value().get(), Some(Ok(_)))
            && actions.remove_for.get().as_deref() == Some(Provider::OpenRouter.as_str())
        {
            notices.dismiss("openrouter_connected");
        }
    });
    view! {
        {team_note}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match slots.await {
                    Ok(list) => list
                        .into_iter()
                        .map(|entry| view! { <ProviderCard entry actions manages /> })
                        .collect_view()
                        .into_any(),
                    Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[derive(Clone, Copy)]
struct KeyActions {
    save: ServerAction<SaveProviderKey>,
    test: ServerAction<TestProviderKey>,
    remove: ServerAction<RemoveProviderKey>,
    save_for: RwSignal<Option<String>>,
    test_for: RwSignal<Option<String>>,
    remove_for: RwSignal<Option<String>>,
    /// The provider whose key is waiting for "Remove key" to be confirmed.
    confirming: RwSignal<Option<Provider>>,
}
