//! The billing gate: one modal dialog that offers the ways to pay for generation (buy
//! credits, bring your own keys, connect OpenRouter, redeem a gift code). It opens once
//! after sign-up ("Get started") and whenever something needs credits the person lacks
//! ("Set up billing to continue"). Toasts for short messages live here too, since the
//! insufficient-credits toast and the gate always go together.

mod dialog;

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::api::auth::encode_query_value as url_encode;
use crate::shared::dto::keys::Provider;
use crate::shared::error::AppError;
use crate::shared::money::Micros;
use crate::ui::context::AccountResource;
use dialog::GateDialog;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateReason {
    /// The first visit after sign-up.
    Onboarding,
    /// An action needed credits the person does not have, and no key of theirs covers it.
    Generation,
    /// A budget (the person's in a team, the team's, or a token's) has too little left;
    /// the notifier's `detail` says which.
    Budget,
}

/// A short message in the corner, with an optional link to act on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toast {
    pub id: u64,
    pub message: String,
    pub error: bool,
    pub action: Option<(String, String)>,
}

/// Opens the gate and shows toasts; copy it into event handlers freely.
#[derive(Clone, Copy)]
pub struct Notifier {
    gate: RwSignal<Option<GateReason>>,
    toasts: RwSignal<Vec<Toast>>,
    next_id: StoredValue<u64>,
    /// Where the person is, so each step of the gate can bring them back here.
    here: Memo<String>,
    /// The balance the onboarding text speaks of, as the account was read (the live
    /// stream's is newer once an event arrives).
    welcome: RwSignal<Option<crate::ui::live::LiveBalance>>,
    /// Which budget stopped the call, for the gate's text.
    detail: RwSignal<String>,
    /// What the refused work needed and what was available, for the gate's text.
    shortfall: RwSignal<Option<(Micros, Micros)>>,
    /// The provider whose work was refused: only the ways that can pay for it are offered
    /// (an OpenRouter key cannot pay for images). `None`: every way.
    provider: RwSignal<Option<Provider>>,
}

thread_local! {
    /// What had focus when the gate opened, to give focus back when it closes. Only ever
    /// set in the browser.
    static OPENER: std::cell::RefCell<Option<leptos::web_sys::HtmlElement>> = const { std::cell::RefCell::new(None) };
}

pub fn use_notifier() -> Notifier {
    expect_context::<Notifier>()
}

impl Notifier {
    pub fn open_gate(&self, reason: GateReason) {
        self.gate.set(Some(reason));
    }

    pub fn close_gate(&self) {
        self.gate.set(None);
    }

    pub fn toast(&self, message: impl Into<String>, error: bool, action: Option<(String, String)>) {
        let id = self.next_id.get_value();
        self.next_id.set_value(id + 1);
        self.toasts.update(|t| t.push(Toast { id, message: message.into(), error, action }));
        #[cfg(feature = "hydrate")]
        {
            let toasts = self.toasts;
            set_timeout(move || toasts.update(|t| t.retain(|x| x.id != id)), std::time::Duration::from_secs(12));
        }
    }

    /// Shows what went wrong with work for `provider`'s models. Missing credits and used-up
    /// budgets open the gate, which says how much was needed and offers only the ways that
    /// can pay for that provider; anything else is a toast.
    pub fn error(&self, err: &AppError, provider: Option<Provider>) {
        match err {
            AppError::InsufficientCredits { needed_micros, available_micros } => {
                self.shortfall.set(Some((Micros(*needed_micros), Micros(*available_micros))));
                self.provider.set(provider);
                self.open_gate(GateReason::Generation);
            }
            AppError::OverBudget { message, .. } => {
                self.detail.set(message.clone());
                self.gate.set(Some(GateReason::Budget));
            }
            _ => self.toast(err.to_string(), true, None),
        }
    }
}

/// `path` with `next=<here>` added, so the page there can bring the person back.
pub fn with_next(path: &str, here: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    let here: String = url_encode(here);
    format!("{path}{sep}next={here}")
}

/// The current path and query, without a notice that was already shown.
fn current_place() -> Memo<String> {
    let location = use_location();
    Memo::new(move |_| {
        let path = location.pathname.get();
        let query: Vec<String> = location
            .query
            .get()
            .into_iter()
            .filter(|(k, _)| k != "notice" && k != "next")
            .map(|(k, v)| format!("{}={}", url_encode(&k), url_encode(&v)))
            .collect();
        if query.is_empty() { path } else { format!("{path}?{}", query.join("&")) }
    })
}

/// Provides the notifier, and renders the gate and the toast region. Must sit inside the
/// router (it needs the current location).
#[component]
pub fn BillingGateHost() -> impl IntoView {
    let notifier = Notifier {
        gate: RwSignal::new(None),
        toasts: RwSignal::new(Vec::new()),
        next_id: StoredValue::new(0),
        here: current_place(),
        welcome: RwSignal::new(None),
        detail: RwSignal::new(String::new()),
        shortfall: RwSignal::new(None),
        provider: RwSignal::new(None),
    };
    provide_context(notifier);
    // A toast is about the page it appeared on: going elsewhere clears them.
    Effect::watch(move || notifier.here.get(), move |_, _, _| notifier.toasts.update(|t| t.clear()), false);

    // "Get started" opens once, after the page has come alive, for people who have not
    // dismissed it on any device.
    let account = expect_context::<AccountResource>();
    let offered = StoredValue::new(false);
    Effect::new(move |_| {
        if let Some(Ok(Some(a))) = account.get()
            && a.onboarding
            && !offered.get_value()
        {
            offered.set_value(true);
            notifier.welcome.set(Some(crate::ui::live::LiveBalance::of(&a)));
            notifier.open_gate(GateReason::Onboarding);
        }
    });

    view! {
        <GateDialog notifier />
        <ToastRegion toasts=notifier.toasts />
    }
}

#[component]
fn ToastRegion(toasts: RwSignal<Vec<Toast>>) -> impl IntoView {
    view! {
        <div class="toasts" role="region" aria-label="Notifications" aria-live="polite">
            <For each=move || toasts.get() key=|t| t.id let:toast>
                <div class=if toast.error { "toast toast--error" } else { "toast" }>
                    <span class="toast__message">{toast.message.clone()}</span>
                    {toast.action.clone().map(|(label, href)| view! { <a class="toast__action" href=href>{label}</a> })}
                    <button
                        type="button"
                        class="toast__close"
                        aria-label="Dismiss"
                        on:click=move |_| toasts.update(|t| t.retain(|x| x.id != toast.id))
                    >
                        "\u{00d7}"
                    </button>
                </div>
            </For>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::{url_encode, with_next};

    #[test]
    fn next_is_encoded_into_the_link() {
        assert_eq!(
            with_next("/settings/api-keys", "/studio?model=a b"),
            "/settings/api-keys?next=/studio%3Fmodel%3Da%20b"
        );
        assert_eq!(with_next("/credits?tab=balance", "/"), "/credits?tab=balance&next=/");
        assert_eq!(url_encode("&#"), "%26%23");
    }
}
