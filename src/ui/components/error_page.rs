//! Error pages that carry the right HTTP status when rendered on the server.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::shared::error::AppError;

pub use crate::shared::http_status::set_http_status;

/// A full-page error with what happened and where to go next.
#[component]
pub fn ErrorPage(error: AppError) -> impl IntoView {
    set_http_status(error.status_code());
    let title = error.title();
    view! {
        <Title text=title />
        <section class="error-page" role="alert">
            <p class="error-page__code">{error.status_code()}</p>
            <h1>{title}</h1>
            <p class="lead">{error.to_string()}</p>
            <p><a class="btn btn--primary" href="/">"Back to the home page"</a></p>
        </section>
    }
}

/// Shows the first `AppError` inside an `ErrorBoundary`; other errors become `Internal`.
pub fn error_fallback(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let first = errors
        .read_untracked()
        .iter()
        .next()
        .map(|(_, e)| e.downcast_ref::<AppError>().cloned().unwrap_or(AppError::Internal))
        .unwrap_or(AppError::Internal);
    view! { <ErrorPage error=first /> }
}
