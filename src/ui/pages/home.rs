//! The front door: what Tollgate is, what it costs, and the way in (or, signed in, the
//! way on to the Studio and Credits).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::status::{FrontDoor, get_front_door};
use crate::ui::context::AccountResource;

#[component]
pub fn HomePage() -> impl IntoView {
    let door = OnceResource::new(get_front_door());
    view! {
        <Title text="" />
        <section class="hero">
            <h1>"Prepaid credits for AI generation"</h1>
            <p class="lead">
                "Make images and videos with leading AI models and pay per result from a prepaid balance. \
                 Or bring your own fal.ai or OpenRouter key, and those calls cost you no credits at all."
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move { view! { <HeroActions door=door.await.ok() /> } })}
            </Suspense>
        </section>
        <section class="features" aria-label="How it works">
            <article class="card">
                <h2>"Pay for what you make"</h2>
                <p>"You see the price before you run, and pay what the result cost. A run the provider fails is never charged."</p>
            </article>
            <article class="card">
                <h2>"Credits or your own keys"</h2>
                <p>"Buy credits by card, redeem a gift code, or add your own provider key. Keys and credits work side by side."</p>
            </article>
            <article class="card">
                <h2>"Every cent accounted for"</h2>
                <p>"Each purchase and each call is in your transactions, with the balance after it. Nothing is charged twice."</p>
            </article>
        </section>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move { door.await.ok().map(|door| view! { <Pricing door /> }) })}
        </Suspense>
    }
}

/// Sign up (with the free credit a new account gets) and sign in; signed in, the Studio.
#[component]
fn HeroActions(door: Option<FrontDoor>) -> impl IntoView {
    let account = expect_context::<AccountResource>();
    let free = door.map(|d| d.signup_credit).filter(|c| c.is_positive());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(Some(_)) => view! {
                        <p class="hero__actions">
                            <a class="btn btn--primary" href="/studio">"Open the Studio"</a>
                            <a class="btn" href="/credits">"View credits"</a>
                        </p>
                    }.into_any(),
                    _ => view! {
                        <p class="hero__actions">
                            <a class="btn btn--primary" href="/signup" data-testid="hero-sign-up">
                                {match free {
                                    Some(c) => format!("Sign up: {} free", c.format()),
                                    None => "Sign up".to_string(),
                                }}
                            </a>
                            <a class="btn" href="/signin">"Sign in"</a>
                        </p>
                        {free.map(|c| view! {
                            <p class="muted small">{format!("New accounts start with {} of credit to try things out. No card needed.", c.format())}</p>
                        })}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// What things cost, from the price catalog, and how credits are bought.
#[component]
fn Pricing(door: FrontDoor) -> impl IntoView {
    view! {
        <section class="card pricing" aria-labelledby="pricing-title" data-testid="pricing">
            <h2 id="pricing-title">"What it costs"</h2>
            <ul class="pricing__list">
                {door.prices.into_iter().map(|p| view! {
                    <li>
                        <span class="pricing__what">{p.what}</span>
                        <span class="pricing__price">{format!("from {} per {}", p.unit_price.format(), p.unit)}</span>
                        <span class="pricing__model muted small">{p.model}</span>
                    </li>
                }).collect_view()}
            </ul>
            <p class="muted">
                {format!(
                    "Credits are bought by card from {}; purchases of {} or more get {}% extra.",
                    door.purchase_min.format(), door.bonus_threshold.format(), door.bonus_percent
                )}
            </p>
        </section>
    }
}
