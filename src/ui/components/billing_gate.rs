//! The billing gate: one modal dialog that offers the ways to pay for generation (buy
//! credits, bring your own keys, connect OpenRouter, redeem a gift code). It opens once
//! after sign-up ("Get started") and whenever something needs credits the person lacks
//! ("Set up billing to continue"). Toasts for short messages live here too, since the
//! insufficient-credits toast and the gate always go together.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::api::auth::encode_query_value as url_encode;
use crate::api::keys::FinishOnboarding;
use crate::shared::error::AppError;
use crate::ui::app::AccountResource;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateReason {
    /// The first visit after sign-up.
    Onboarding,
    /// An action needed credits the person does not have, and no key of theirs covers it.
    Generation,
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
    /// "You have $5.00 of credit to try things out." for the onboarding text.
    credit_line: RwSignal<String>,
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

    /// Shows what went wrong. Missing credits get the "Insufficient credits" toast with
    /// an Add credits action, and the gate.
    pub fn error(&self, err: &AppError) {
        if let AppError::InsufficientCredits { .. } = err {
            let add = ("Add credits".to_string(), with_next("/credits?tab=balance", &self.here.get_untracked()));
            self.toast("Insufficient credits", true, Some(add));
            self.open_gate(GateReason::Generation);
        } else {
            self.toast(err.to_string(), true, None);
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
        credit_line: RwSignal::new(String::new()),
    };
    provide_context(notifier);

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
            if a.available.is_positive() {
                notifier.credit_line.set(format!(" You have {} of credit to try things out.", a.available));
            }
            notifier.open_gate(GateReason::Onboarding);
        }
    });

    view! {
        <GateDialog notifier />
        <ToastRegion toasts=notifier.toasts />
    }
}

#[component]
fn GateDialog(notifier: Notifier) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let finish = ServerAction::<FinishOnboarding>::new();
    // What was open when the dialog was closed, to know whether to remember onboarding.
    let shown = StoredValue::new(None::<GateReason>);

    // Opens and closes the native modal dialog with the signal.
    Effect::new(move |_| {
        let reason = notifier.gate.get();
        let Some(el) = dialog.get() else { return };
        match reason {
            Some(r) => {
                shown.set_value(Some(r));
                if !el.open() {
                    use leptos::wasm_bindgen::JsCast;
                    let active =
                        document().active_element().and_then(|a| a.dyn_into::<leptos::web_sys::HtmlElement>().ok());
                    OPENER.with(|o| *o.borrow_mut() = active);
                    let _ = el.show_modal();
                }
            }
            None => {
                if el.open() {
                    el.close();
                }
            }
        }
    });

    // Escape, "Set up later", or any option: the dialog closes, onboarding is remembered
    // on the server, and focus goes back where it was.
    let on_close = move |_| {
        if shown.get_value() == Some(GateReason::Onboarding) {
            finish.dispatch(FinishOnboarding {});
        }
        shown.set_value(None);
        notifier.gate.set(None);
        if let Some(el) = OPENER.with(|o| o.borrow_mut().take()) {
            let _ = el.focus();
        }
    };

    // Tab and Shift+Tab cycle inside the dialog.
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() != "Tab" {
            return;
        }
        let Some(el) = dialog.get() else { return };
        use leptos::wasm_bindgen::JsCast;
        // The first option and the last button bound the dialog's tab order.
        let find = |selector: &str| {
            el.query_selector(selector).ok().flatten().and_then(|e| e.dyn_into::<leptos::web_sys::HtmlElement>().ok())
        };
        let (Some(first), Some(last)) = (find(".gate-option"), find(".gate__footer button")) else { return };
        let (first, last) = (&first, &last);
        let active = document().active_element();
        let at = |e: &leptos::web_sys::HtmlElement| {
            active.as_ref().is_some_and(|a| a == e.unchecked_ref::<leptos::web_sys::Element>())
        };
        if ev.shift_key() && at(first) {
            ev.prevent_default();
            let _ = last.focus();
        } else if !ev.shift_key() && at(last) {
            ev.prevent_default();
            let _ = first.focus();
        }
    };

    let here = notifier.here;
    let reason = move || notifier.gate.get().unwrap_or(GateReason::Onboarding);
    let welcome_credit = move || notifier.credit_line.get();
    let close = move |_| notifier.close_gate();

    view! {
        <dialog
            node_ref=dialog
            class="gate"
            aria-labelledby="gate-title"
            aria-describedby="gate-description"
            data-reason=move || match reason() { GateReason::Onboarding => "onboarding", GateReason::Generation => "generation" }
            on:close=on_close
            on:keydown=on_keydown
        >
            <h2 id="gate-title" class="gate__title">
                {move || match reason() {
                    GateReason::Onboarding => "Get started",
                    GateReason::Generation => "Set up billing to continue",
                }}
            </h2>
            <p id="gate-description" class="gate__lead">
                {move || match reason() {
                    GateReason::Onboarding => format!(
                        "Generations are paid with prepaid credits, or with your own provider keys at no charge from us.{}",
                        welcome_credit(),
                    ),
                    GateReason::Generation => "This needs more credits than you have, and no key of yours covers it. Choose how to pay; you will come back here afterwards.".to_string(),
                }}
            </p>
            <ul class="gate__options">
                <li>
                    <a class="gate-option" href=move || with_next("/credits?tab=balance", &here.get()) on:click=close>
                        <span class="gate-option__title">"Add credits"</span>
                        <span class="gate-option__text">"Pay by card for prepaid credits that any model can use."</span>
                    </a>
                </li>
                <li>
                    <a class="gate-option" href=move || with_next("/settings/api-keys", &here.get()) on:click=close>
                        <span class="gate-option__title">"Add API keys"</span>
                        <span class="gate-option__text">"Use your own fal.ai or OpenRouter key: those calls cost no credits."</span>
                    </a>
                </li>
                <li>
                    <a class="gate-option" rel="external" href=move || with_next("/connect/openrouter", &here.get()) on:click=close>
                        <span class="gate-option__title">"Connect OpenRouter"</span>
                        <span class="gate-option__text">"Sign in to OpenRouter and approve: no key to copy."</span>
                    </a>
                </li>
            </ul>
            <p class="gate__gift">
                <a href=move || with_next("/credits?tab=gift-codes", &here.get()) on:click=close>"Have a gift code? Redeem it"</a>
            </p>
            <div class="gate__footer">
                <button type="button" class="btn" on:click=close>"Set up later"</button>
            </div>
        </dialog>
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
