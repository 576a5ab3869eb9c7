//! Buying credits: the form on the Balance tab, the notice after checkout, and the
//! sandbox payment page that stands in for Stripe Checkout.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use leptos_router::params::ParamsMap;

use crate::api::purchases::{
    CheckoutState, PRESETS_USD, PurchaseRules, SandboxPay, StartCheckout, get_checkout_state, get_purchase_rules,
    get_sandbox_checkout,
};
use crate::shared::error::AppError;
use crate::ui::components::error_page::ErrorPage;
use crate::ui::components::forms::{FormError, field_error, form_error};
use crate::ui::components::frame::SignedIn;
use crate::ui::context::AccountResource;

#[component]
pub fn BuyCredits() -> impl IntoView {
    let rules = OnceResource::new(get_purchase_rules());
    let start = ServerAction::<StartCheckout>::new();
    let amount = RwSignal::new("25".to_string());
    // Opened from the billing gate: the way back survives the trip through checkout.
    let query = use_query_map();
    view! {
        <section class="card" aria-labelledby="buy-title">
            <h2 id="buy-title">"Buy credits"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let Ok(rules) = rules.await else {
                        return view! { <p class="notice notice--error">"Buying is unavailable right now."</p> }.into_any();
                    };
                    if !rules.available {
                        return view! { <p class="muted">"Buying credits is not available on this server yet."</p> }.into_any();
                    }
                    view! { <BuyForm rules start amount query /> }.into_any()
                })}
            </Suspense>
        </section>
    }
}

/// The amount, with presets and the live quote, and the button that opens checkout.
#[component]
fn BuyForm(
    rules: PurchaseRules,
    start: ServerAction<StartCheckout>,
    amount: RwSignal<String>,
    query: Memo<ParamsMap>,
) -> impl IntoView {
    let result = start.value();
    let next = move || query.with(|q| q.get("next")).unwrap_or_default();
    let quote = move || rules.quote(&amount.get());
    // Why the amount typed cannot be bought, as soon as it is typed; the server's answer
    // to the last attempt otherwise (an empty field says so only when sent).
    let server_error = field_error(result, "amount");
    let error = Signal::derive(move || {
        let typed = amount.with(|a| !a.trim().is_empty());
        match quote() {
            Err(AppError::Validation { message, .. }) if typed => Some(message),
            Err(e) if typed => Some(e.to_string()),
            _ => server_error.get(),
        }
    });
    view! {
        <p class="muted">
            {format!(
                "From {} to {}. Purchases of {} or more get {}% extra credits.",
                rules.min.format(), rules.max.format(), rules.bonus_threshold.format(), rules.bonus_percent
            )}
        </p>
        <AmountPresets amount />
        <ActionForm action=start attr:class="form form--inline" attr:novalidate=true>
            <input type="hidden" name="next" value=next />
            <FormError message=form_error(result, &["amount"]) />
            <div class="field">
                <label for="field-amount">"Amount (USD)"</label>
                <input
                    id="field-amount"
                    name="amount"
                    // Drawn with the amount the quote below speaks of, also without scripts.
                    value=amount.get_untracked()
                    inputmode="decimal"
                    autocomplete="off"
                    prop:value=move || amount.get()
                    on:input=move |ev| amount.set(event_target_value(&ev))
                    aria-invalid=move || error.get().is_some().then_some("true")
                    aria-describedby="field-amount-quote field-amount-error"
                />
                <p class="field__hint" id="field-amount-quote" aria-live="polite" data-testid="quote">
                    {move || match quote() {
                        Ok(q) if q.bonus.is_positive() => format!("You pay {}, you get {}.", q.pay.format(), q.get.format()),
                        Ok(q) => format!("You pay {}, you get {}.", q.pay.format(), q.get.format()),
                        Err(_) => String::new(),
                    }}
                </p>
                <p class="field__error" id="field-amount-error" aria-live="polite" data-testid="amount-error">
                    {move || error.get()}
                </p>
            </div>
            <button type="submit" class="btn btn--primary" disabled=move || start.pending().get() || quote().is_err()>
                {move || if start.pending().get() { "Opening checkout…" } else { "Continue to payment" }}
            </button>
        </ActionForm>
        {rules.sandbox.then(|| view! {
            <p class="muted small">"Sandbox mode: payments are simulated and no real money moves."</p>
        })}
    }
}

/// Buttons for the common amounts; the one matching the amount is shown pressed.
#[component]
fn AmountPresets(amount: RwSignal<String>) -> impl IntoView {
    view! {
        <div class="presets" role="group" aria-label="Common amounts">
            {PRESETS_USD.into_iter().map(|usd| {
                let text = usd.to_string();
                let pressed = { let text = text.clone(); move || (amount.get() == text).to_string() };
                view! {
                    <button type="button" class="btn btn--small" aria-pressed=pressed on:click=move |_| amount.set(text.clone())>
                        {format!("${usd}")}
                    </button>
                }
            }).collect_view()}
        </div>
    }
}

/// The notice shown on return from checkout (`?checkout=success|cancel`).
#[component]
pub fn CheckoutNotice() -> impl IntoView {
    let query = use_query_map();
    let outcome = move || query.read().get("checkout");
    let session = move || query.read().get("session");
    let state = Resource::new(session, |s| async move {
        match s {
            Some(s) => Some(get_checkout_state(s).await),
            None => None,
        }
    });
    // The credits are in: show them in the balance and the header.
    let account = expect_context::<AccountResource>();
    Effect::new(move |done: Option<bool>| {
        let completed = matches!(state.get(), Some(Some(Ok(CheckoutState::Completed { .. }))));
        if completed && done != Some(true) {
            account.refetch();
        }
        completed || done == Some(true)
    });
    view! {
        {move || match outcome().as_deref() {
            Some("cancel") => Some(view! {
                <p class="notice notice--warn" role="status">"Checkout cancelled. Nothing was charged and nothing was added."</p>
            }.into_any()),
            Some("success") => Some(view! {
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let text = match state.await {
                            Some(Ok(CheckoutState::Completed { get })) => format!("Payment received: {} was added to your balance.", get.format()),
                            _ => "Payment received. Your credits are being processed and will appear shortly.".to_string(),
                        };
                        view! { <p class="notice notice--ok" role="status">{text}</p> }
                    })}
                </Suspense>
            }.into_any()),
            _ => None,
        }}
    }
}

/// Stands in for Stripe Checkout when no Stripe account is configured.
#[component]
pub fn SandboxCheckoutPage() -> impl IntoView {
    let params = use_params_map();
    let session = move || params.read().get("id").unwrap_or_default();
    let quote = Resource::new(session, get_sandbox_checkout);
    let pay = ServerAction::<SandboxPay>::new();
    let query = use_query_map();
    let next = move || query.with(|q| q.get("next")).unwrap_or_default();
    let cancel = move || format!("/credits?checkout=cancel{}", crate::api::purchases::next_suffix(Some(&next())));
    view! {
        <Title text="Sandbox checkout" />
        <SignedIn here="/credits" children=move |_| view! {
            <section class="card sandbox-checkout" aria-labelledby="sandbox-title">
                <p class="sandbox-checkout__banner" role="note">"Sandbox: no real money"</p>
                <h1 id="sandbox-title">"Checkout"</h1>
                <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match quote.await {
                            Err(e) => view! { <ErrorPage error=e /> }.into_any(),
                            Ok(q) => view! {
                                <dl class="facts">
                                    <div><dt>"You pay"</dt><dd>{q.pay.format()}</dd></div>
                                    <div><dt>"Bonus"</dt><dd>{q.bonus.format()}</dd></div>
                                    <div><dt>"You get"</dt><dd>{q.get.format()}</dd></div>
                                </dl>
                                <FormError message=form_error(pay.value(), &[]) />
                                <div class="sandbox-checkout__actions">
                                    <ActionForm action=pay attr:class="inline-form">
                                        <input type="hidden" name="session" value=session() />
                                        <input type="hidden" name="next" value=next() />
                                        <button type="submit" class="btn btn--primary">{format!("Pay {}", q.pay.format())}</button>
                                    </ActionForm>
                                    <a class="btn" href=cancel()>"Cancel"</a>
                                </div>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        } />
    }
}
