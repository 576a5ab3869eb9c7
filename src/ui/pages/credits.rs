//! The Credits page: Balance, Transactions and Gift Codes tabs, each with its own address.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::auth::AccountSummary;
use crate::api::credits::{RedeemGiftCode, list_notices};
use crate::api::payments::{RemoveCard, SaveAutoTopUp};
use crate::ui::components::forms::{Field, FormError, field_error, form_error};
use crate::ui::components::frame::SignedIn;
use crate::ui::components::tabs::{Tab, TabList, TabPanel};
use crate::ui::context::AccountResource;
use crate::ui::pages::buy::{BuyCredits, CheckoutNotice};
use crate::ui::pages::payments::PaymentHistory;
use crate::ui::pages::saved_card::PaymentMethod;
use crate::ui::pages::transactions::TransactionsTab;
use crate::ui::pages::usage::UsageSection;

const TABS: &[Tab] = &[
    Tab { slug: "balance", label: "Balance" },
    Tab { slug: "transactions", label: "Transactions" },
    Tab { slug: "gift-codes", label: "Gift Codes" },
];

#[component]
pub fn CreditsPage() -> impl IntoView {
    let query = use_query_map();
    let active = Memo::new(move |_| {
        let tab = query.read().get("tab").unwrap_or_default();
        if TABS.iter().any(|t| t.slug == tab) { tab } else { "balance".to_string() }
    });
    // Lives outside the signed-in section, which re-renders when the account reloads, so
    // the answer of a redemption stays on screen after the balance refreshes.
    let redeem = ServerAction::<RedeemGiftCode>::new();
    let account = expect_context::<AccountResource>();
    Effect::new(move |_| {
        if let Some(Ok(_)) = redeem.value().get() {
            account.refetch();
        }
    });
    // The same for the card and auto top-up: a change reloads the account (a top-up may
    // start at once), and the section below is drawn again from the new settings.
    let remove_card = ServerAction::<RemoveCard>::new();
    let save_top_up = ServerAction::<SaveAutoTopUp>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = remove_card.value().get() {
            account.refetch();
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save_top_up.value().get() {
            account.refetch();
        }
    });
    view! {
        <Title text="Credits" />
        <header class="page-header">
            <h1>"Credits"</h1>
            <p class="lead">"Your prepaid balance for AI generation."</p>
        </header>
        // Outside the signed-in section: it reloads the account when a payment has landed,
        // which re-renders that section but not this notice.
        <CheckoutNotice />
        <crate::ui::components::notice::ContinueLink />
        <SignedIn here="/credits" children=move |account| view! {
            <TabList label="Credits" base="/credits" tabs=TABS active=active />
            {move || {
                let account = account.clone();
                match active.get().as_str() {
                    "transactions" => view! { <TabPanel slug="transactions"><TransactionsTab /></TabPanel> }.into_any(),
                    "gift-codes" => {
                        let team = account.team.as_ref().map(|t| t.name.clone());
                        view! { <TabPanel slug="gift-codes"><GiftCodesTab redeem team /></TabPanel> }.into_any()
                    }
                    _ => view! { <TabPanel slug="balance"><BalanceTab account remove_card save_top_up /></TabPanel> }.into_any(),
                }
            }}
        } />
    }
}

#[component]
fn BalanceTab(
    account: AccountSummary,
    remove_card: ServerAction<RemoveCard>,
    save_top_up: ServerAction<SaveAutoTopUp>,
) -> impl IntoView {
    // Follows money events as they happen (another tab, the command line, a call).
    // Every figure below comes from the same reading, so none is older than another.
    let live = expect_context::<crate::ui::live::Live>();
    let read = crate::ui::live::LiveBalance::of(&account);
    let shown_available = move || live.now(read).available;
    let shown_reserved = move || live.now(read).reserved;
    let shown_owed = move || live.now(read).owed;
    let low = {
        let account = account.clone();
        move || account.is_low(shown_available()) && !shown_owed().is_positive()
    };
    let threshold = account.low_balance_threshold;
    // Acting for a team: its wallet's figures; cards, top-ups and payments stay personal.
    let team = account.team.clone();
    let personal = team.is_none();
    let buys = team.as_ref().is_none_or(|t| t.role.manages());
    view! {
        <section class="card balance-card" aria-labelledby="balance-title">
            <h2 id="balance-title" class="balance-card__label">
                {match &team {
                    Some(t) => format!("Available balance of team {}", t.name),
                    None => "Available balance".to_string(),
                }}
            </h2>
            <p class="balance-card__amount" data-testid="balance" aria-live="polite">
                {move || shown_available().format()}
            </p>
            {move || shown_reserved().is_positive().then(|| {
                let (held, available) = (shown_reserved(), shown_available());
                let total = available.checked_add(held).unwrap_or(available);
                view! {
                    <dl class="facts">
                        <div><dt>"Held for work in progress"</dt><dd>{held.format()}</dd></div>
                        <div><dt>"Total, including held"</dt><dd>{total.format()}</dd></div>
                    </dl>
                }
            })}
            <p class="muted small" data-testid="calls-at-once">{account.calls_at_once.describe()}</p>
            {move || shown_owed().is_positive().then(|| view! {
                <p class="notice notice--error" role="alert" data-testid="owed">
                    "You owe " {shown_owed().format()} ": a refund or a disputed payment took back credits "
                    "that had already been spent. New work is paused until it is paid; "
                    <a href="#field-amount">"adding credits"</a> " pays it first."
                </p>
            })}
            {account.credit_limit.is_positive().then(|| view! {
                <p class="notice" role="status" data-testid="credit-line">
                    "Postpaid: past your credits you can spend up to " {account.credit_limit.format()}
                    " on credit, billed monthly. Drawn so far: " {account.credit_used.format()} "."
                </p>
            })}
            {move || low().then(|| if buys {
                view! {
                    <p class="notice notice--warn" role="status" data-testid="low-balance">
                        "Your balance is under " {threshold.format()} ": a call that costs more than what is left is refused. "
                        <a href="#field-amount">"Add credits"</a> " to avoid that."
                    </p>
                }.into_any()
            } else {
                view! {
                    <p class="notice notice--warn" role="status" data-testid="low-balance">
                        "The team's balance is under " {threshold.format()}
                        ". Ask one of its owners or admins to add credits."
                    </p>
                }.into_any()
            })}
        </section>
        <NoticesSection />
        {if buys {
            view! { <BuyCredits /> }.into_any()
        } else {
            view! {
                <section class="card" data-testid="team-buy-note">
                    <p class="muted">"The team's owners and admins add credits to its wallet. You spend from it."</p>
                </section>
            }.into_any()
        }}
        {personal.then(|| view! { <PaymentMethod remove=remove_card save=save_top_up /> })}
        {(personal && (account.credit_limit.is_positive() || account.credit_used.is_positive())).then(|| view! {
            <crate::ui::pages::invoices::InvoicesSection />
        })}
        {personal.then(|| view! { <PaymentHistory /> })}
        <UsageSection account />
    }
}

/// What the person should know about their money, newest first; reloaded as money
/// events arrive. Nothing is drawn while there is nothing to say.
#[component]
fn NoticesSection() -> impl IntoView {
    let version = expect_context::<crate::ui::live::Live>().version;
    let notices = Resource::new(move || version.get(), |_| list_notices());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match notices.await {
                    Ok(list) if !list.is_empty() => view! {
                        <section class="card" aria-labelledby="notices-title" data-testid="notices">
                            <h2 id="notices-title">"Notices"</h2>
                            <ul class="notice-list">
                                {list.into_iter().map(|n| view! {
                                    <li class="notice" class:notice--error=n.urgent class:notice--warn=!n.urgent
                                        data-kind=n.kind.as_str()>
                                        {n.text}
                                        " "
                                        <span class="muted small">{crate::shared::format::utc_minute(n.at_ms)}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        </section>
                    }.into_any(),
                    _ => ().into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn GiftCodesTab(redeem: ServerAction<RedeemGiftCode>, team: Option<String>) -> impl IntoView {
    let result = redeem.value();
    view! {
        <section class="card" aria-labelledby="gift-title">
            <h2 id="gift-title">"Gift codes"</h2>
            <p class="muted">"Have a gift code? Redeem it to add its credits to your balance."</p>
            {team.map(|name| view! {
                <p class="notice" role="note" data-testid="gift-personal">
                    {format!("Gift codes go to your own wallet, not to team {name}'s. Switch to Personal in the header to see them.")}
                </p>
            })}
            <ActionForm action=redeem attr:class="form form--inline" attr:novalidate=true>
                <FormError message=form_error(result, &["code"]) />
                <Field label="Gift code" name="code" hint="Like TG-ABCD-EFGH-JKMN. Case, spaces and dashes do not matter." error=field_error(result, "code") />
                <button type="submit" class="btn btn--primary" disabled=move || redeem.pending().get()>
                    {move || if redeem.pending().get() { "Redeeming…" } else { "Redeem" }}
                </button>
            </ActionForm>
            <div role="status">
                {move || result.get().and_then(Result::ok).map(|added| view! {
                    <p class="notice notice--ok">{format!("{} was added to your balance.", added.format())}</p>
                })}
            </div>
        </section>
    }
}
