//! Forms sent without JavaScript: a plain form post to a server function is answered
//! with a redirect back to the page it came from (its `Referer`), and that page is drawn
//! again with the form's error beside the field, as the browser bundle would show it.
//!
//! Leptos carries a failed form's error back in the address (`__path`, `__err`). Anyone
//! can write such a link, so the address never carries it here ([`strip_action_errors`]):
//! the error is kept in the visitor's own session instead, for the next page they are
//! shown, and given to that page's server actions. The way back also drops one-time
//! notices (`notice=`), which the post may have made untrue.
//!
//! [`strip_action_errors`]: crate::server::web::middleware::strip_action_errors

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::server::web::middleware::is_server_fn;

/// Where the session keeps a form's error until the page is drawn again.
const SESSION_KEY: &str = "form_error";

/// A server function's error, as Leptos encodes it, waiting for the page that shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarriedFormError {
    /// The server function's path (`/api/sign_up`): only that function's form shows it.
    pub path: String,
    /// The error, encoded as Leptos encodes it in the address.
    pub err: String,
}

/// A plain form post accepts HTML (a script's call asks for JSON).
fn is_plain_form_post(req: &Request) -> bool {
    req.method() == Method::POST
        && is_server_fn(req.uri().path())
        && req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// A page request, which may show a carried error (not the bundle, not the API).
fn is_page_request(req: &Request) -> bool {
    let path = req.uri().path();
    req.method() == Method::GET && !path.starts_with("/api/") && !path.starts_with("/pkg/")
}

/// The way back to `location` without what must not travel in it: the error (returned
/// apart) and one-time notices. `None` when there is nothing to take out, or `location`
/// is not on `site` (the origin the form was posted from, e.g. `http://127.0.0.1:3000`):
/// a redirect to another site (a payment page) is left alone.
pub fn split_location(location: &str, site: &str) -> Option<(String, Option<CarriedFormError>)> {
    let base = url::Url::parse(site).ok()?;
    let url = base.join(location).ok()?;
    if url.origin() != base.origin() {
        return None;
    }
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let find = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let carried = match (find("__path"), find("__err")) {
        (Some(path), Some(err)) => Some(CarriedFormError { path, err }),
        _ => None,
    };
    let dropped = |k: &str| matches!(k, "__path" | "__err" | "notice");
    if !pairs.iter().any(|(k, _)| dropped(k)) {
        return None;
    }
    let kept: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| !dropped(k)).collect();
    let back = if kept.is_empty() {
        url.path().to_string()
    } else {
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish();
        format!("{}?{query}", url.path())
    };
    Some((back, carried))
}

/// The origin of the page a request was sent from.
fn referer_origin(req: &Request) -> Option<String> {
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    Some(url::Url::parse(referer).ok()?.origin().ascii_serialization())
}

pub async fn carry_form_errors(session: Session, mut req: Request, next: Next) -> Response {
    if is_plain_form_post(&req) {
        let site = referer_origin(&req);
        let mut res = next.run(req).await;
        let location = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_string);
        let split = location.as_deref().zip(site.as_deref()).and_then(|(l, s)| split_location(l, s));
        if let Some((back, carried)) = split {
            if let Some(carried) = carried
                && let Err(e) = session.insert(SESSION_KEY, &carried).await
            {
                tracing::error!(error = %e, "could not keep a form's error for the page after it");
            }
            if let Ok(value) = HeaderValue::from_str(&back) {
                res.headers_mut().insert(header::LOCATION, value);
                // Always a GET of the page, whatever the post was.
                *res.status_mut() = StatusCode::SEE_OTHER;
            }
        }
        return res;
    }
    if is_page_request(&req) {
        // Read first: taking it out marks the session changed, which a read does not.
        if let Ok(Some(carried)) = session.get::<CarriedFormError>(SESSION_KEY).await {
            let _ = session.remove_value(SESSION_KEY).await;
            req.extensions_mut().insert(carried);
        }
    }
    next.run(req).await
}

/// Gives the page being drawn the error its form's post left, if any, the way Leptos's
/// server actions read it: the action of that server function starts with the error.
pub fn provide_carried_error() {
    use leptos::prelude::{provide_context, use_context};
    let carried =
        use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<CarriedFormError>().cloned());
    if let Some(c) = carried {
        provide_context(leptos::server::ServerActionError::new(&c.path, &c.err));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_keeps_the_page_and_drops_the_error_and_notices() {
        let site = "http://127.0.0.1:3000";
        let (back, carried) =
            split_location("http://127.0.0.1:3000/signup?next=%2Fstudio&__path=%2Fapi%2Fsign_up&__err=eyJ9", site)
                .unwrap();
        assert_eq!(back, "/signup?next=%2Fstudio");
        assert_eq!(carried, Some(CarriedFormError { path: "/api/sign_up".into(), err: "eyJ9".into() }));
        let (back, carried) =
            split_location("http://127.0.0.1:3000/settings/api-keys?notice=openrouter_connected", site).unwrap();
        assert_eq!((back.as_str(), carried), ("/settings/api-keys", None));
        let (back, _) = split_location("/credits?tab=gift-codes&notice=x", site).unwrap();
        assert_eq!(back, "/credits?tab=gift-codes");
        // Nothing to take out, or another site's address (a payment page): left alone.
        assert_eq!(split_location("/credits?tab=gift-codes", site), None);
        assert_eq!(split_location("https://checkout.example/pay?notice=1&__err=x&__path=y", site), None);
    }
}
