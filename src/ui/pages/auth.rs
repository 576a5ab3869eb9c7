//! Sign-up and sign-in pages: one card and one form, worded for each. Both work without
//! JavaScript (plain form posts) and, once hydrated, show errors next to the field they
//! concern.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::shared::error::AppError;
use crate::ui::components::forms::{Field, FormError, field_error, form_error};
use crate::ui::context::AuthActions;

const FIELDS: &[&str] = &["email", "password"];

/// What differs between signing in and signing up.
struct AuthCopy {
    title: &'static str,
    heading_id: &'static str,
    intro: Option<&'static str>,
    password_autocomplete: &'static str,
    password_hint: Option<&'static str>,
    submit: &'static str,
    submitting: &'static str,
    switch_text: &'static str,
    switch_link: &'static str,
    switch_href: &'static str,
}

const SIGN_IN: AuthCopy = AuthCopy {
    title: "Sign in",
    heading_id: "signin-title",
    intro: None,
    password_autocomplete: "current-password",
    password_hint: None,
    submit: "Sign in",
    submitting: "Signing in…",
    switch_text: "New to Tollgate? ",
    switch_link: "Create an account",
    switch_href: "/signup",
};

const SIGN_UP: AuthCopy = AuthCopy {
    title: "Create an account",
    heading_id: "signup-title",
    intro: Some("New accounts start with free credits to try things out."),
    password_autocomplete: "new-password",
    password_hint: Some("8 to 128 characters."),
    submit: "Create account",
    submitting: "Creating your account…",
    switch_text: "Already have an account? ",
    switch_link: "Sign in",
    switch_href: "/signin",
};

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().sign_in;
    let result = action.value();
    view! {
        <AuthCard copy=&SIGN_IN>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <AuthFields copy=&SIGN_IN result=Signal::derive(move || result.get()) pending=action.pending().into() />
            </ActionForm>
        </AuthCard>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().sign_up;
    let result = action.value();
    view! {
        <AuthCard copy=&SIGN_UP>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <AuthFields copy=&SIGN_UP result=Signal::derive(move || result.get()) pending=action.pending().into() />
            </ActionForm>
        </AuthCard>
    }
}

/// The page around the form: title, heading, and the way to the other page.
#[component]
fn AuthCard(copy: &'static AuthCopy, children: Children) -> impl IntoView {
    view! {
        <Title text=copy.title />
        <section class="auth card" aria-labelledby=copy.heading_id>
            <h1 id=copy.heading_id>{copy.title}</h1>
            {copy.intro.map(|intro| view! { <p class="muted">{intro}</p> })}
            {children()}
            <p class="auth__switch">{copy.switch_text} <a href=copy.switch_href>{copy.switch_link}</a></p>
        </section>
    }
}

/// Email, password and the button, with the action's errors beside them.
#[component]
fn AuthFields(
    copy: &'static AuthCopy,
    result: Signal<Option<Result<(), AppError>>>,
    pending: Signal<bool>,
) -> impl IntoView {
    let query = use_query_map();
    let next = move || query.read().get("next");
    view! {
        <input type="hidden" name="next" value=next />
        <FormError message=form_error(result, FIELDS) />
        <Field label="Email" name="email" kind="email" autocomplete="email" error=field_error(result, "email") />
        <Field
            label="Password"
            name="password"
            kind="password"
            autocomplete=copy.password_autocomplete
            hint=copy.password_hint
            error=field_error(result, "password")
        />
        <button type="submit" class="btn btn--primary btn--block" disabled=move || pending.get()>
            {move || if pending.get() { copy.submitting } else { copy.submit }}
        </button>
    }
}
