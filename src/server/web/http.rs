//! The HTTP surface: health probes, the Leptos app and its server functions, static
//! files, and the middleware every request passes through (request id, tracing).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::handler::HandlerWithoutStateExt;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use leptos::prelude::{LeptosOptions, provide_context};
use leptos_axum::{LeptosRoutes, generate_route_list};
use serde_json::json;
use tower_http::LatencyUnit;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tracing::Level;

use crate::server::infra::state::AppState;
use crate::server::services::accounts::session_store::DbSessionStore;
use crate::server::web::csrf;
pub use crate::shared::web_app::WebApp;

pub const SESSION_COOKIE: &str = "tollgate_session";

/// The app's routes, listed once per process. Listing renders the app with resource
/// loading switched off process-wide, so a page rendering meanwhile in another router of
/// this process (several servers run in one test process) could wait forever; listing
/// once, before any router serves, rules that out.
fn app_routes(web: WebApp) -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(web.app)).clone()
}

pub fn router(state: AppState, web: WebApp) -> Router {
    let routes = app_routes(web);
    let shell = web.shell;
    let context = {
        let state = state.clone();
        move || {
            provide_context(state.clone());
            crate::server::web::middleware::provide_page_nonce();
            crate::server::web::form_posts::provide_carried_error();
        }
    };
    let leptos_options = state.leptos_options.clone();
    // The browser bundle, with its precompressed copies when a build made them, answering
    // a browser's "has it changed?" with 304 (the fallback below would send it whole).
    let bundle =
        tower_http::services::ServeDir::new(format!("{}/{}", leptos_options.site_root, leptos_options.site_pkg_dir))
            .precompressed_br()
            .precompressed_gzip();
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request<Body>| {
            let request_id = req
                .headers()
                .get(crate::server::web::middleware::REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // The path only: query strings can carry OAuth codes and other secrets.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %request_id)
        })
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(LatencyUnit::Millis));

    let sessions = SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.config.is_https())
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(i64::from(state.config.session_idle_hours))));

    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        // Settings has no page of its own: its first tab is the place to land.
        .route("/settings", get(|| async { axum::response::Redirect::to("/settings/api-keys") }))
        .merge(crate::server::web::api_v1::routes())
        .merge(crate::server::web::api_usage::routes())
        .merge(crate::server::web::api_billing::routes())
        .merge(crate::server::web::api_budgets::routes())
        .merge(crate::server::web::api_events::routes())
        .route("/webhooks/stripe", axum::routing::post(crate::server::web::stripe_webhook::webhook_route))
        .route("/connect/openrouter", get(crate::server::web::oauth::start))
        .route(crate::server::web::oauth::CALLBACK_PATH, get(crate::server::web::oauth::callback))
        .nest_service(&format!("/{}", state.leptos_options.site_pkg_dir), bundle)
        .leptos_routes_with_context(&state, routes, context.clone(), move || shell(leptos_options.clone()))
        .merge(public_files(state.leptos_options.clone(), context, shell))
        .layer(middleware::from_fn_with_state(state.clone(), require_sign_in))
        .layer(middleware::from_fn(crate::server::web::form_posts::carry_form_errors))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::protect))
        .layer(sessions)
        .layer(middleware::from_fn(crate::server::web::middleware::server_fn_guard))
        .layer(middleware::from_fn(crate::server::web::middleware::strip_action_errors))
        .layer(middleware::from_fn(crate::server::web::middleware::security_headers))
        .layer(crate::server::web::middleware::compression())
        .layer(trace)
        .layer(middleware::from_fn(crate::server::web::middleware::request_id))
        .with_state(state)
}

/// Everything no route answers: a file of the site's own (`public/`, such as the icon), as
/// it is, or else the not-found page (status 404, whatever the method).
///
/// Files are served here rather than by Leptos's file handler: that handler looks for the
/// response options of a render in whatever reactive owner its worker thread last had,
/// which can be another person's page being drawn at that moment, and takes that page's
/// headers into the file's answer.
fn public_files(
    options: LeptosOptions,
    context: impl Fn() + Clone + Send + Sync + 'static,
    shell: fn(LeptosOptions) -> leptos::prelude::AnyView,
) -> Router<AppState> {
    let site_root = options.site_root.to_string();
    let render = leptos_axum::render_app_async_with_context(context, move || shell(options.clone()));
    let not_found = move |req: Request| {
        let render = render.clone();
        async move {
            let mut res = render(req).await;
            if res.status() == StatusCode::OK {
                *res.status_mut() = StatusCode::NOT_FOUND;
            }
            res
        }
    };
    let files = tower_http::services::ServeDir::new(site_root)
        .append_index_html_on_directories(false)
        .call_fallback_on_method_not_allowed(true)
        .fallback(not_found.into_service());
    Router::new().fallback_service(files)
}

/// Pages only a signed-in person can see (a prefix, or a whole path).
const SIGNED_IN_PAGES: &[&str] = &[
    "/credits",
    "/studio",
    "/settings/api-keys",
    "/settings/api-tokens",
    "/admin/",
    "/sandbox/checkout/",
    "/sandbox/card",
    "/credits/receipts/",
    "/credits/invoices/",
];

fn needs_sign_in(path: &str) -> bool {
    SIGNED_IN_PAGES.iter().any(|p| if p.ends_with('/') { path.starts_with(p) } else { path == *p })
}

/// Sends a signed-out visitor of an account page to sign in, and back afterwards, with a
/// plain 302 before any rendering starts (whatever the client accepts).
async fn require_sign_in(
    State(state): State<AppState>,
    session: tower_sessions::Session,
    req: Request,
    next: Next,
) -> Response {
    if req.method() == axum::http::Method::GET && needs_sign_in(req.uri().path()) {
        let signed_in = crate::server::web::guard::session_user(&session, &state).await;
        if let Ok(None) = signed_in {
            let here = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let here: String = here
                .chars()
                .map(|c| match c {
                    '%' => "%25".to_string(),
                    '&' => "%26".to_string(),
                    '#' => "%23".to_string(),
                    '+' => "%2B".to_string(),
                    ' ' => "%20".to_string(),
                    c => c.to_string(),
                })
                .collect();
            let mut res = StatusCode::FOUND.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/signin?next={here}")) {
                res.headers_mut().insert(axum::http::header::LOCATION, v);
            }
            return res;
        }
    }
    next.run(req).await
}

/// The process is up and serving HTTP.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// The instance can do useful work: its database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    let database = state.db.backend().label();
    match state.db.ping().await {
        Ok(()) => Json(json!({ "status": "ready", "database": database })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed: database unreachable");
            let body = json!({ "status": "unavailable", "database": database, "reason": "database unreachable" });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn account_pages_are_known() {
        use super::needs_sign_in;
        for p in ["/credits", "/studio", "/settings/api-keys", "/admin/gift-codes", "/sandbox/checkout/cs_1"] {
            assert!(needs_sign_in(p), "{p}");
        }
        for p in ["/", "/signin", "/signup", "/credits-info", "/sandbox/openrouter/auth", "/api/v1/me"] {
            assert!(!needs_sign_in(p), "{p}");
        }
    }
}
