use leptos::prelude::*;

use crate::shared::error::AppError;
use crate::ui::components::error_page::ErrorPage;

/// Any address the router does not know. Answers 404 during server rendering.
#[component]
pub fn NotFound() -> impl IntoView {
    view! { <ErrorPage error=AppError::not_found("The page you asked for") /> }
}
