//! The Balance tab's payment method and auto top-up, and the sandbox page that stands in
//! for Stripe's card form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::payments::{
    PaymentSettings, RemoveCard, SANDBOX_CARDS, SaveAutoTopUp, SaveSandboxCard, StartCardSetup, get_payment_settings,
};
use crate::ui::components::forms::{Field, FormError, field_error, form_error};
use crate::ui::components::frame::SignedIn;

/// The payment method and auto top-up sections. The actions live with the page, outside
/// the signed-in section that re-renders when the account reloads (as a saved change
/// makes it do), so their answers stay on screen.
#[component]
pub fn PaymentMethod(remove: ServerAction<RemoveCard>, save: ServerAction<SaveAutoTopUp>) -> impl IntoView {
    let settings = Resource::new(|| (), |_| get_payment_settings());
    view! {
        <Transition fallback=|| view! { <section class="card"><p class="muted">"Loading…"</p></section> }>
            {move || settings.get().map(|result| match result {
                Ok(s) if s.cards_available => view! {
                    <CardSection s=s.clone() remove />
                    <AutoTopUpSection s save />
                }.into_any(),
                Ok(_) => ().into_any(),
                Err(e) => view! { <p class="notice notice--error" role="alert">{e.to_string()}</p> }.into_any(),
            })}
        </Transition>
    }
}

/// The saved card, with Save (or Replace) and Remove.
#[component]
fn CardSection(s: PaymentSettings, remove: ServerAction<RemoveCard>) -> impl IntoView {
    let setup = ServerAction::<StartCardSetup>::new();
    let query = use_query_map();
    let returned = move || query.read().get("card");
    let has_card = s.card.is_some();
    view! {
        <section class="card" aria-labelledby="card-title" data-testid="saved-card">
            <h2 id="card-title">"Payment method"</h2>
            <div role="status">
                {move || match returned().as_deref() {
                    Some("saved") => Some(view! { <p class="notice notice--ok">"Card saved."</p> }),
                    Some("cancel") => Some(view! { <p class="notice notice--warn">"Saving a card was cancelled. Nothing changed."</p> }),
                    _ => None,
                }}
            </div>
            {match &s.card {
                Some(card) => view! {
                    <p data-testid="card">
                        {card.describe()}
                        {card.sandbox.then(|| view! { <span class="muted small">" (sandbox card: no real money)"</span> })}
                    </p>
                }.into_any(),
                None => view! {
                    <p class="muted">"No card saved. Save one to turn on auto top-up; it is charged only when you say so."</p>
                }.into_any(),
            }}
            <FormError message=form_error(setup.value(), &[]) />
            <FormError message=form_error(remove.value(), &[]) />
            <div class="actions">
                <ActionForm action=setup attr:class="inline-form">
                    <button type="submit" class="btn" disabled=move || setup.pending().get()>
                        {if has_card { "Replace card" } else { "Save a card" }}
                    </button>
                </ActionForm>
                {has_card.then(|| view! {
                    <ActionForm action=remove attr:class="inline-form">
                        <button type="submit" class="btn btn--danger" disabled=move || remove.pending().get()>"Remove card"</button>
                    </ActionForm>
                })}
            </div>
        </section>
    }
}

/// Auto top-up: on or off, the threshold, the amount and the monthly cap, and a notice
/// when a declined card paused it.
#[component]
fn AutoTopUpSection(s: PaymentSettings, save: ServerAction<SaveAutoTopUp>) -> impl IntoView {
    let a = s.auto_top_up;
    let result = save.value();
    let or = |m: crate::shared::money::Micros, default: &str| {
        if m.is_positive() { m.format().trim_start_matches('$').replace(',', "") } else { default.to_string() }
    };
    let threshold = if a.amount.is_positive() { or(a.threshold, "0") } else { "5".to_string() };
    let (amount, cap) = (or(a.amount, "25"), or(a.monthly_cap, "200"));
    let has_card = s.card.is_some();
    view! {
        <section class="card" aria-labelledby="top-up-title" data-testid="auto-top-up">
            <h2 id="top-up-title">"Auto top-up"</h2>
            {a.paused_reason.clone().map(|why| view! {
                <p class="notice notice--error" role="alert" data-testid="auto-top-up-paused">
                    "Auto top-up is paused: " {why} " Save a new card, or turn auto top-up on again to retry."
                </p>
            })}
            <p class="muted">
                {if a.enabled && a.paused_reason.is_none() {
                    format!(
                        "On: when your available balance falls under {}, your card is charged {} (at most {} a month; {} so far this month).",
                        a.threshold.format(), a.amount.format(), a.monthly_cap.format(), a.this_month.format()
                    )
                } else if a.enabled {
                    "On, but paused: nothing is charged until you act.".to_string()
                } else if has_card {
                    "Off. Turn it on to refill your balance automatically when it runs low.".to_string()
                } else {
                    "Save a card above to use auto top-up.".to_string()
                }}
            </p>
            <ActionForm action=save attr:class="form auto-top-up-form" attr:novalidate=true>
                <FormError message=form_error(result, &["enabled", "threshold_usd", "amount_usd", "monthly_cap_usd"]) />
                <div class="field field--check">
                    <input id="field-enabled" type="checkbox" name="enabled" checked=a.enabled disabled=!has_card
                        aria-describedby="field-enabled-error" />
                    <label for="field-enabled">"Turn on auto top-up"</label>
                    <p class="field__error" id="field-enabled-error" aria-live="polite">{move || field_error(result, "enabled").get()}</p>
                </div>
                <Field label="When the balance falls under (USD)" name="threshold_usd" value=threshold error=field_error(result, "threshold_usd") />
                <Field label="Add (USD)" name="amount_usd" value=amount error=field_error(result, "amount_usd") />
                <Field label="At most per month (USD)" name="monthly_cap_usd" value=cap error=field_error(result, "monthly_cap_usd") />
                <button type="submit" class="btn btn--primary" disabled=move || save.pending().get() || !has_card>
                    {move || if save.pending().get() { "Saving…" } else { "Save auto top-up" }}
                </button>
            </ActionForm>
            <div role="status">
                {move || result.get().and_then(Result::ok).map(|_| view! { <p class="notice notice--ok">"Auto top-up saved."</p> })}
            </div>
        </section>
    }
}

/// Stands in for Stripe's card form when no Stripe account is configured: pick a
/// sandbox card, one that pays or one that declines.
#[component]
pub fn SandboxCardPage() -> impl IntoView {
    let save = ServerAction::<SaveSandboxCard>::new();
    view! {
        <Title text="Sandbox: save a card" />
        <SignedIn here="/credits" children=move |_| view! {
            <section class="card sandbox-checkout" aria-labelledby="sandbox-card-title">
                <p class="sandbox-checkout__banner" role="note">"Sandbox: no real money"</p>
                <h1 id="sandbox-card-title">"Save a card"</h1>
                <FormError message=form_error(save.value(), &[]) />
                <ActionForm action=save attr:class="form">
                    <fieldset>
                        <legend>"Sandbox cards"</legend>
                        {SANDBOX_CARDS.into_iter().enumerate().map(|(i, card)| {
                            let id = format!("sandbox-card-{i}");
                            view! {
                                <div class="field field--check">
                                    <input type="radio" id=id.clone() name="card" value=card.id checked=i == 0 />
                                    <label for=id>{card.label()}</label>
                                </div>
                            }
                        }).collect_view()}
                    </fieldset>
                    <div class="sandbox-checkout__actions">
                        <button type="submit" class="btn btn--primary">"Save card"</button>
                        <a class="btn" href="/credits?card=cancel">"Cancel"</a>
                    </div>
                </ActionForm>
            </section>
        } />
    }
}
