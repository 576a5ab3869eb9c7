//! Form pieces with labels and announced, per-field errors.

use leptos::prelude::*;

use crate::shared::error::AppError;

/// A labelled input whose error (if any) is tied to it for screen readers.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(into, default = None)] hint: Option<&'static str>,
    /// What the input starts with (a saved setting).
    #[prop(into, default = None)]
    value: Option<String>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = if hint.is_some() { format!("{hint_id} {error_id}") } else { error_id.clone() };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <p class="field__hint" id=hint_id>{h}</p> })}
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                value=value
                required=true
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described_by
            />
            <p class="field__error" id=error_id aria-live="polite">{move || error.get()}</p>
        </div>
    }
}

/// The message for `field` in the latest result of a form's action.
pub fn field_error<T, S>(result: S, field: &'static str) -> Signal<Option<String>>
where
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || match result.get() {
        Some(Err(e)) => e.field_message(field).map(str::to_string),
        _ => None,
    })
}

/// The latest error of a form's action that belongs to no field.
pub fn form_error<T, S>(result: S, fields: &'static [&'static str]) -> Signal<Option<String>>
where
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || match result.get() {
        Some(Err(AppError::Validation { field, .. })) if fields.contains(&field.as_str()) => None,
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    })
}

/// An error banner for a whole form, announced when it appears.
#[component]
pub fn FormError(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div role="alert">
            {move || message.get().map(|m| view! { <p class="notice notice--error">{m}</p> })}
        </div>
    }
}
