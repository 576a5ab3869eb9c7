//! Sign-up and sign-in pages. Both work without JavaScript (plain form posts) and,
//! once hydrated, show errors next to the field they concern.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::ui::app::AuthActions;
use crate::ui::components::forms::{Field, FormError, field_error, form_error};

const FIELDS: &[&str] = &["email", "password"];

#[component]
pub fn SignInPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().sign_in;
    let result = action.value();
    let query = use_query_map();
    let next = move || query.read().get("next");
    view! {
        <Title text="Sign in" />
        <section class="auth card" aria-labelledby="signin-title">
            <h1 id="signin-title">"Sign in"</h1>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <input type="hidden" name="next" value=next />
                <FormError message=form_error(result, FIELDS) />
                <Field label="Email" name="email" kind="email" autocomplete="email" error=field_error(result, "email") />
                <Field
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="current-password"
                    error=field_error(result, "password")
                />
                <button type="submit" class="btn btn--primary btn--block" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
            <p class="auth__switch">"New to Tollgate? " <a href="/signup">"Create an account"</a></p>
        </section>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = expect_context::<AuthActions>().sign_up;
    let result = action.value();
    let query = use_query_map();
    let next = move || query.read().get("next");
    view! {
        <Title text="Create an account" />
        <section class="auth card" aria-labelledby="signup-title">
            <h1 id="signup-title">"Create an account"</h1>
            <p class="muted">"New accounts start with free credits to try things out."</p>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <input type="hidden" name="next" value=next />
                <FormError message=form_error(result, FIELDS) />
                <Field label="Email" name="email" kind="email" autocomplete="email" error=field_error(result, "email") />
                <Field
                    label="Password"
                    name="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="8 to 128 characters."
                    error=field_error(result, "password")
                />
                <button type="submit" class="btn btn--primary btn--block" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Creating your account…" } else { "Create account" }}
                </button>
            </ActionForm>
            <p class="auth__switch">"Already have an account? " <a href="/signin">"Sign in"</a></p>
        </section>
    }
}
