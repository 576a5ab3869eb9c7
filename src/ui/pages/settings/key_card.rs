//! One provider's card: its key's state and facts, Test and Remove, and the form that
//! adds or replaces the key.

use leptos::prelude::*;

use super::KeyActions;
use crate::api::keys::{KeyInfo, KeySource, KeyStatus, Provider, ProviderSlot};
use crate::shared::error::AppError;
use crate::shared::format::utc_minute;
use crate::ui::components::forms::FormError;

/// The latest answer of `action` if it was about `provider`.
fn for_provider<I, O>(
    action: ServerAction<I>,
    last: RwSignal<Option<String>>,
    provider: Provider,
) -> Signal<Option<Result<O, AppError>>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        let value = action.value().get()?;
        (last.get().as_deref() == Some(provider.as_str())).then_some(value)
    })
}

fn describe(provider: Provider) -> &'static str {
    match provider {
        Provider::Fal => "Images, video, audio and music.",
        Provider::OpenRouter => "Chat and text models (LLM calls).",
    }
}

#[component]
pub(super) fn ProviderCard(
    entry: ProviderSlot,
    actions: KeyActions,
    /// The viewer may change this wallet's keys (not a plain member of its team).
    manages: bool,
) -> impl IntoView {
    let provider = entry.provider;
    let name = provider.as_str();
    let label = provider.label();
    let title_id = format!("key-{name}-title");
    let labelled_by = title_id.clone();
    let saved = for_provider(actions.save, actions.save_for, provider);
    let tested = for_provider(actions.test, actions.test_for, provider);
    let removed = for_provider(actions.remove, actions.remove_for, provider);
    let key_error = Signal::derive(move || match saved.get() {
        Some(Err(AppError::Validation { field, message, .. })) if field == "key" => Some(message),
        _ => None,
    });
    let other_error = Signal::derive(move || {
        [saved.get().and_then(|r| r.err()), tested.get().and_then(|r| r.err()), removed.get().and_then(|r| r.err())]
            .into_iter()
            .flatten()
            .find(|e| !matches!(e, AppError::Validation { field, .. } if field == "key"))
            .map(|e| e.to_string())
    });
    let message = Signal::derive(move || {
        saved
            .get()
            .and_then(Result::ok)
            .map(|o| o.message)
            .or_else(|| tested.get().and_then(Result::ok).map(|o| o.message))
    });
    // A saved key leaves the input empty again.
    let input = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if matches!(saved.get(), Some(Ok(_)))
            && let Some(el) = input.get()
        {
            el.set_value("");
        }
    });
    let has_key = entry.key.is_some();
    let status = entry.key.as_ref().map(|k| k.status);

    view! {
        <section class="card key-card" aria-labelledby=labelled_by data-provider=name>
            <div class="key-card__head">
                <h2 id=title_id>{label}</h2>
                <StatusBadge status />
            </div>
            <p class="muted">{describe(provider)}</p>
            {entry.key.clone().map(|k| view! { <KeyFacts key=k /> })}
            <div role="status" class="key-card__message">
                {move || message.get().map(|m| view! { <p class="notice notice--ok">{m}</p> })}
            </div>
            <FormError message=other_error />
            {(manages && has_key).then(|| view! { <KeyCardActions provider actions /> })}
            {manages.then(|| view! { <KeyForm provider has_key actions input key_error /> })}
            {(manages && provider == Provider::OpenRouter).then(|| view! {
                <div class="key-card__connect">
                    <span class="muted">"or"</span>
                    <a class="btn" rel="external" href="/connect/openrouter?next=/settings/api-keys">
                        {if status.is_some() { "Reconnect with OpenRouter" } else { "Connect with OpenRouter" }}
                    </a>
                </div>
            })}
        </section>
    }
}

/// Test and Remove (which asks to be confirmed), for a provider that has a key.
#[component]
fn KeyCardActions(provider: Provider, actions: KeyActions) -> impl IntoView {
    let name = provider.as_str();
    let label = provider.label();
    let confirming = Signal::derive(move || actions.confirming.get() == Some(provider));
    let ask = move |_| actions.confirming.set(Some(provider));
    let cancel = move |_| actions.confirming.set(None);
    view! {
        <div class="key-card__actions">
            <ActionForm action=actions.test attr:class="inline-form">
                <input type="hidden" name="provider" value=name />
                <button type="submit" class="btn btn--small" disabled=move || actions.test.pending().get()>
                    {move || if actions.test.pending().get() { "Testing…" } else { "Test key" }}
                </button>
            </ActionForm>
            <Show
                when=move || confirming.get()
                fallback=move || view! {
                    <button type="button" class="btn btn--small btn--danger" on:click=ask>
                        "Remove"
                    </button>
                }
            >
                <div class="confirm" role="group" aria-label=format!("Remove the {label} key")>
                    <span>{format!("Remove your {label} key? {label} calls will use credits again.")}</span>
                    <ActionForm action=actions.remove attr:class="inline-form">
                        <input type="hidden" name="provider" value=name />
                        <button type="submit" class="btn btn--small btn--danger">"Remove key"</button>
                    </ActionForm>
                    <button type="button" class="btn btn--small" on:click=cancel>"Cancel"</button>
                </div>
            </Show>
        </div>
    }
}

/// The form that adds a key, or replaces the one there is.
#[component]
fn KeyForm(
    provider: Provider,
    has_key: bool,
    actions: KeyActions,
    input: NodeRef<leptos::html::Input>,
    key_error: Signal<Option<String>>,
) -> impl IntoView {
    let name = provider.as_str();
    let label = provider.label();
    let input_id = format!("key-{name}-input");
    let error_id = format!("key-{name}-error");
    view! {
        <ActionForm action=actions.save attr:class="form key-form" attr:novalidate=true>
            <input type="hidden" name="provider" value=name />
            <div class="field">
                <label for=input_id.clone()>
                    {if has_key {
                        format!("Replace the {label} key")
                    } else {
                        let article = if provider == Provider::OpenRouter { "an" } else { "a" };
                        format!("Add {article} {label} key")
                    }}
                </label>
                <div class="key-form__row">
                    <input
                        id=input_id
                        node_ref=input
                        name="key"
                        type="password"
                        autocomplete="off"
                        spellcheck="false"
                        placeholder=match provider { Provider::Fal => "key-id:key-secret", Provider::OpenRouter => "sk-or-v1-…" }
                        aria-invalid=move || key_error.get().is_some().then_some("true")
                        aria-describedby=error_id.clone()
                    />
                    <button type="submit" class="btn btn--primary" disabled=move || actions.save.pending().get()>
                        {move || if actions.save.pending().get() { "Checking…" } else { "Save key" }}
                    </button>
                </div>
                <p class="field__error" id=error_id aria-live="polite">{move || key_error.get()}</p>
            </div>
        </ActionForm>
    }
}

#[component]
fn StatusBadge(status: Option<KeyStatus>) -> impl IntoView {
    let (class, text) = match status {
        None => ("badge", "Not set"),
        Some(KeyStatus::Valid) => ("badge badge--ok", "Connected"),
        Some(KeyStatus::Rejected) => ("badge badge--error", "Refused by provider"),
        Some(KeyStatus::Unchecked) => ("badge badge--warn", "Not verified"),
    };
    view! { <span class=class data-testid="key-status">{text}</span> }
}

#[component]
fn KeyFacts(key: KeyInfo) -> impl IntoView {
    let added = match key.source {
        KeySource::Pasted => utc_minute(key.added_at_ms),
        KeySource::Oauth => format!("{} (connected with OpenRouter)", utc_minute(key.added_at_ms)),
    };
    let checked = match (key.status, key.checked_at_ms) {
        (KeyStatus::Valid, Some(at)) => format!("Working, {}", utc_minute(at)),
        (KeyStatus::Rejected, Some(at)) => {
            format!("Refused, {}: calls use credits until you replace it", utc_minute(at))
        }
        _ => "Not yet: calls use credits until \u{201c}Test key\u{201d} passes".to_string(),
    };
    view! {
        <dl class="key-facts">
            <dt>"Key"</dt>
            <dd><code data-testid="key-last4">{format!("\u{2022}\u{2022}\u{2022}\u{2022}{}", key.last4)}</code></dd>
            <dt>"Added"</dt>
            <dd>{added}</dd>
            <dt>"Last check"</dt>
            <dd>{checked}</dd>
        </dl>
    }
}
