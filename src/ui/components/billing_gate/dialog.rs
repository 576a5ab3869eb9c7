//! The gate itself: a native modal dialog that keeps focus inside while open and gives
//! it back on closing, with the ways to pay.

use leptos::prelude::*;

use super::{GateReason, Notifier, OPENER, with_next};
use crate::api::keys::FinishOnboarding;
use crate::shared::dto::keys::Provider;

#[component]
pub(super) fn GateDialog(notifier: Notifier) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let finish = ServerAction::<FinishOnboarding>::new();
    // What was open when the dialog was closed, to know whether to remember onboarding.
    let shown = StoredValue::new(None::<GateReason>);
    follow_gate(notifier, dialog, shown);

    // Escape, "Set up later", or any option: the dialog closes, onboarding is remembered
    // on the server, and focus goes back where it was.
    let on_close = move |_| {
        if shown.get_value() == Some(GateReason::Onboarding) {
            finish.dispatch(FinishOnboarding {});
        }
        shown.set_value(None);
        notifier.gate.set(None);
        give_focus_back();
    };
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| keep_tab_inside(dialog, &ev);
    let reason = move || notifier.gate.get().unwrap_or(GateReason::Onboarding);

    view! {
        <dialog
            node_ref=dialog
            class="gate"
            aria-labelledby="gate-title"
            aria-describedby="gate-description"
            data-reason=move || match reason() {
                GateReason::Onboarding => "onboarding",
                GateReason::Generation => "generation",
                GateReason::Budget => "budget",
            }
            on:close=on_close
            on:keydown=on_keydown
        >
            <GateIntro notifier />
            {move || if reason() == GateReason::Budget {
                view! { <BudgetOptions notifier /> }.into_any()
            } else {
                view! { <GateOptions notifier /> }.into_any()
            }}
        </dialog>
    }
}

/// Focus goes back to what had it when the gate opened; when nothing had (the gate that
/// greets a new account opens by itself), to the page's heading, so the keyboard and a
/// screen reader carry on from the top of the page rather than from nowhere.
fn give_focus_back() {
    use leptos::wasm_bindgen::JsCast;
    let opener = OPENER.with(|o| o.borrow_mut().take());
    let body = document().body();
    let opener = opener.filter(|el| {
        body.as_ref().is_none_or(|b| {
            b.unchecked_ref::<leptos::web_sys::Element>() != el.unchecked_ref::<leptos::web_sys::Element>()
        })
    });
    let target = opener.or_else(|| {
        let heading =
            document().query_selector("main h1").ok().flatten().or_else(|| document().get_element_by_id("main"))?;
        if !heading.has_attribute("tabindex") {
            let _ = heading.set_attribute("tabindex", "-1");
        }
        heading.dyn_into::<leptos::web_sys::HtmlElement>().ok()
    });
    if let Some(el) = target {
        let _ = el.focus();
    }
}

/// Opens and closes the native modal dialog with the signal.
fn follow_gate(notifier: Notifier, dialog: NodeRef<leptos::html::Dialog>, shown: StoredValue<Option<GateReason>>) {
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
}

/// Tab and Shift+Tab cycle inside the dialog.
fn keep_tab_inside(dialog: NodeRef<leptos::html::Dialog>, ev: &leptos::ev::KeyboardEvent) {
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
}

/// The gate's title and lead, which depend on why it opened.
#[component]
fn GateIntro(notifier: Notifier) -> impl IntoView {
    let reason = move || notifier.gate.get().unwrap_or(GateReason::Onboarding);
    // The balance as it is now, like the rest of the page.
    let live = expect_context::<crate::ui::live::Live>();
    let welcome_credit = move || {
        let available = notifier.welcome.get().map(|read| live.now(read).available);
        match available.filter(|a| a.is_positive()) {
            Some(a) => format!(" You have {a} of credit to try things out."),
            None => String::new(),
        }
    };
    view! {
        <h2 id="gate-title" class="gate__title">
            {move || match reason() {
                GateReason::Onboarding => "Get started",
                GateReason::Generation => "Set up billing to continue",
                GateReason::Budget => "Budget reached",
            }}
        </h2>
        <p id="gate-description" class="gate__lead">
            {move || match reason() {
                GateReason::Onboarding => format!(
                    "Generations are paid with prepaid credits, or with your own provider keys at no charge from us.{}",
                    welcome_credit(),
                ),
                GateReason::Generation => {
                    let need = match notifier.shortfall.get() {
                        Some((needed, available)) => format!("This needs {needed} and you have {available} available"),
                        None => "This needs more credits than you have".to_string(),
                    };
                    let key = match notifier.provider.get() {
                        Some(p) => format!("no {} key of yours covers it", p.label()),
                        None => "no key of yours covers it".to_string(),
                    };
                    format!("{need}, and {key}. Choose how to pay; you will come back here afterwards.")
                }
                GateReason::Budget => notifier.detail.get(),
            }}
        </p>
    }
}

/// What to do about a budget: it is set by the team's owners and admins (or on the
/// token), so the way on is to ask, wait for the reset, or pay from another wallet.
#[component]
fn BudgetOptions(notifier: Notifier) -> impl IntoView {
    let close = move |_| notifier.close_gate();
    view! {
        <p class="gate__gift">
            "Budgets are set by the team's owners and admins on "
            <a href="/settings/teams" on:click=close>"Settings > Teams"</a>
            ". You can also switch to another wallet in the header."
        </p>
        <div class="gate__footer">
            <button type="button" class="btn" on:click=close>"Close"</button>
        </div>
    }
}

/// The ways to pay, each bringing the person back here, and "Set up later".
#[component]
fn GateOptions(notifier: Notifier) -> impl IntoView {
    let here = notifier.here;
    let close = move |_| notifier.close_gate();
    // Onboarding offers every way; a refusal only those that can pay for its provider's
    // work (connecting OpenRouter pays for nothing but OpenRouter's models).
    let provider = move || match notifier.gate.get() {
        Some(GateReason::Generation) => notifier.provider.get(),
        _ => None,
    };
    let keys_text = move || match provider() {
        Some(p) => format!("Use your own {} key: those calls cost no credits.", p.label()),
        None => "Use your own fal.ai or OpenRouter key: those calls cost no credits.".to_string(),
    };
    let keys_title = move || match provider() {
        Some(p) => format!("Add a {} key", p.label()),
        None => "Add API keys".to_string(),
    };
    let openrouter = move || provider().is_none_or(|p| p == Provider::OpenRouter);
    view! {
        <ul class="gate__options">
            <li>
                <a class="gate-option" href=move || with_next("/credits?tab=balance", &here.get()) on:click=close>
                    <span class="gate-option__title">"Add credits"</span>
                    <span class="gate-option__text">"Pay by card for prepaid credits that any model can use."</span>
                </a>
            </li>
            <li>
                <a class="gate-option" href=move || with_next("/settings/api-keys", &here.get()) on:click=close>
                    <span class="gate-option__title">{keys_title}</span>
                    <span class="gate-option__text">{keys_text}</span>
                </a>
            </li>
            <Show when=openrouter>
                <li>
                    <a class="gate-option" rel="external" href=move || with_next("/connect/openrouter", &here.get()) on:click=close>
                        <span class="gate-option__title">"Connect OpenRouter"</span>
                        <span class="gate-option__text">"Sign in to OpenRouter and approve: no key to copy."</span>
                    </a>
                </li>
            </Show>
        </ul>
        <p class="gate__gift">
            <a href=move || with_next("/credits?tab=gift-codes", &here.get()) on:click=close>"Have a gift code? Redeem it"</a>
        </p>
        <div class="gate__footer">
            <button type="button" class="btn" on:click=close>"Set up later"</button>
        </div>
    }
}
