//! Settings > API tokens: create (shown once), list, revoke.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::tokens::{
    CreateToken, RemoveTokenBudget, RevokeToken, SetTokenBudget, TokenInfo, list_tokens, token_budgets,
};
use crate::shared::dto::budgets::Budget;
use crate::shared::format::utc_minute;
use crate::ui::components::budget::{BudgetFields, budget_summary};
use crate::ui::components::forms::{Field, FormError, field_error, form_error};
use crate::ui::components::frame::SignedIn;
use crate::ui::pages::settings::SettingsNav;

#[component]
pub fn ApiTokensPage() -> impl IntoView {
    view! {
        <Title text="API tokens · Settings" />
        <header class="page-header">
            <p class="eyebrow">"Settings"</p>
            <h1>"API tokens"</h1>
            <p class="lead">
                "Tokens let scripts and the " <code>"tollgate"</code>
                " command line use your account through the JSON API. Treat them like passwords."
            </p>
        </header>
        <SettingsNav />
        <SignedIn here="/settings/api-tokens" children=|account| view! { <Tokens teams=account.teams /> } />
    }
}

#[component]
fn Tokens(teams: Vec<crate::shared::dto::teams::TeamSummary>) -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let set_budget = ServerAction::<SetTokenBudget>::new();
    let remove_budget = ServerAction::<RemoveTokenBudget>::new();
    let tokens = Resource::new(
        move || {
            (create.version().get(), revoke.version().get(), set_budget.version().get(), remove_budget.version().get())
        },
        |_| async move { Ok::<_, crate::shared::error::AppError>((list_tokens().await?, token_budgets().await?)) },
    );
    let budget_actions = BudgetActions { set: set_budget, remove: remove_budget };
    let created = create.value();
    view! {
        <section class="card" aria-labelledby="new-token-title">
            <h2 id="new-token-title">"Create a token"</h2>
            <ActionForm action=create attr:class="form form--inline" attr:novalidate=true>
                <FormError message=form_error(created, &["name"]) />
                <Field label="Token name" name="name" hint="Where it will be used, e.g. \"build server\"." error=field_error(created, "name") />
                {(!teams.is_empty()).then(|| view! {
                    <div class="field">
                        <label for="token-team">"Pays from"</label>
                        <select id="token-team" name="team">
                            <option value="">"Your own wallet"</option>
                            {teams.iter().map(|t| view! { <option value=t.id.clone()>{format!("Team {}", t.name)}</option> }).collect_view()}
                        </select>
                    </div>
                })}
                <button type="submit" class="btn btn--primary" disabled=move || create.pending().get()>"Create token"</button>
            </ActionForm>
            {move || created.get().and_then(Result::ok).map(|t| view! {
                <div class="notice notice--ok new-token" role="status">
                    <p><strong>{format!("Token \u{201c}{}\u{201d} created.", t.info.name)}</strong>" Copy it now: it will not be shown again."</p>
                    <code class="secret" data-testid="new-token">{t.secret}</code>
                </div>
            })}
        </section>
        <section class="card" aria-labelledby="tokens-title">
            <h2 id="tokens-title">"Your tokens"</h2>
            <FormError message=form_error(revoke.value(), &[]) />
            <FormError message=form_error(set_budget.value(), &[]) />
            <FormError message=form_error(remove_budget.value(), &[]) />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok((list, _)) if list.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                        Ok((list, budgets)) => view! { <TokenTable list budgets revoke budget_actions /> }.into_any(),
                        Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TokenTable(
    list: Vec<TokenInfo>,
    budgets: Vec<Budget>,
    revoke: ServerAction<RevokeToken>,
    budget_actions: BudgetActions,
) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table table--cards" data-testid="tokens">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Token"</th>
                        <th scope="col">"Pays from"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col">"Budget"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|t| {
                            let label = format!("Revoke {}", t.name);
                            let budget = budgets.iter().find(|b| b.subject == t.id).cloned();
                            view! {
                                <tr>
                                    <td data-label="Name">{t.name.clone()}</td>
                                    <td data-label="Token"><code>{format!("{}…", t.display_prefix)}</code></td>
                                    <td data-label="Pays from">{t.team.as_ref().map(|(_, name)| format!("Team {name}")).unwrap_or_else(|| "You".into())}</td>
                                    <td data-label="Created">{utc_minute(t.created_at_ms)}</td>
                                    <td data-label="Last used">{t.last_used_at_ms.map(utc_minute).unwrap_or_else(|| "Never".into())}</td>
                                    <td data-label="Budget"><TokenBudget token=t.id.clone() name=t.name.clone() budget actions=budget_actions /></td>
                                    <td class="table__actions">
                                        <ActionForm action=revoke attr:class="inline-form">
                                            <input type="hidden" name="id" value=t.id.clone() />
                                            <button type="submit" class="btn btn--small btn--danger" aria-label=label>"Revoke"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[derive(Clone, Copy)]
struct BudgetActions {
    set: ServerAction<SetTokenBudget>,
    remove: ServerAction<RemoveTokenBudget>,
}

/// A token's budget: what it is and what is left, and a form to set or remove it.
#[component]
fn TokenBudget(token: String, name: String, budget: Option<Budget>, actions: BudgetActions) -> impl IntoView {
    let BudgetActions { set, remove } = actions;
    let summary = budget_summary(budget.as_ref());
    let has_budget = budget.is_some();
    let token_for_remove = token.clone();
    let remove_label = format!("Remove the budget of {name}");
    let testid = format!("budget-{name}");
    view! {
        <div class="token-budget" data-testid=testid>
            <p class="token-budget__now">{summary}</p>
            <div class="token-budget__actions">
            <ActionForm action=set attr:class="inline-form token-budget__form">
                <input type="hidden" name="token" value=token.clone() />
                <BudgetFields key=token name budget />
                <button type="submit" class="btn btn--small">"Set budget"</button>
            </ActionForm>
            {has_budget.then(|| view! {
                <ActionForm action=remove attr:class="inline-form">
                    <input type="hidden" name="token" value=token_for_remove />
                    <button type="submit" class="btn btn--small" aria-label=remove_label>"Remove"</button>
                </ActionForm>
            })}
            </div>
        </div>
    }
}
