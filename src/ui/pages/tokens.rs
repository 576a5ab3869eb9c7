//! Settings > API tokens: create (shown once), list, revoke.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::tokens::{CreateToken, RevokeToken, TokenInfo, list_tokens};
use crate::shared::format::utc_minute;
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
        <SignedIn here="/settings/api-tokens" children=|_| view! { <Tokens /> } />
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    let created = create.value();
    view! {
        <section class="card" aria-labelledby="new-token-title">
            <h2 id="new-token-title">"Create a token"</h2>
            <ActionForm action=create attr:class="form form--inline" attr:novalidate=true>
                <FormError message=form_error(created, &["name"]) />
                <Field label="Token name" name="name" hint="Where it will be used, e.g. \"build server\"." error=field_error(created, "name") />
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
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No tokens yet."</p> }.into_any(),
                        Ok(list) => view! { <TokenTable list revoke /> }.into_any(),
                        Err(e) => view! { <p class="notice notice--error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TokenTable(list: Vec<TokenInfo>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table">
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Token"</th>
                        <th scope="col">"Created"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list
                        .into_iter()
                        .map(|t| {
                            let label = format!("Revoke {}", t.name);
                            view! {
                                <tr>
                                    <td>{t.name.clone()}</td>
                                    <td><code>{format!("{}…", t.display_prefix)}</code></td>
                                    <td>{utc_minute(t.created_at_ms)}</td>
                                    <td>{t.last_used_at_ms.map(utc_minute).unwrap_or_else(|| "Never".into())}</td>
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
