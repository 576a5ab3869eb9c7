//! Middleware every response passes through: security headers, caching, the limits and
//! statuses of server functions, and error text that must not come from the address.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use leptos::nonce::Nonce;

use crate::shared::error::AppError;

/// The most a server function's request body may hold. Every form in the app is far
/// smaller; anything larger is refused with 413 before it is read into memory whole.
pub const SERVER_FN_BODY_LIMIT: usize = 256 * 1024;

/// The policy of every answer that is not a page: it loads nothing and is framed nowhere.
const NON_PAGE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Files that are the same for everyone, which browsers may keep.
fn is_static_asset(path: &str) -> bool {
    path.starts_with("/pkg/") || path == "/favicon.svg"
}

/// A bundle file named after its content, `/pkg/<name>.<hash>.<ext>` with the 22-character
/// URL-safe base64 MD5 the build puts there: a new build gives changed content a new name,
/// so whatever is at this name never changes.
pub fn is_content_named(path: &str) -> bool {
    let Some(file) = path.strip_prefix("/pkg/") else { return false };
    let mut parts = file.split('.');
    let (Some(stem), Some(hash), Some(ext), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !stem.is_empty()
        && !stem.contains('/')
        && hash.len() == 22
        && hash.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && matches!(ext, "js" | "wasm" | "css")
}

/// Server functions live under `/api/`; the JSON API under `/api/v1/` is not one.
pub fn is_server_fn(path: &str) -> bool {
    path.starts_with("/api/") && !path.starts_with("/api/v1/")
}

/// Makes the nonce [`security_headers`] made for this request (kept in its extensions) the
/// one Leptos puts on the page's scripts. Called where a render's context is set up, after
/// Leptos has provided its own. The page's policy is set by the middleware, outside the
/// render, so a page is never answered without it, whatever happens to the headers Leptos
/// collects.
pub fn provide_page_nonce() {
    use leptos::prelude::{provide_context, use_context};
    if let Some(nonce) = use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<Nonce>().cloned())
    {
        provide_context(nonce);
    }
}

/// A page's Content-Security-Policy. Scripts run only from this site and inline only with
/// this response's nonce (which Leptos puts on its hydration and streaming scripts); no
/// other site may frame the page; pictures and videos may come from providers (https).
pub fn document_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data: blob: https:; media-src 'self' data: blob: https:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
}

/// Adds to every response what keeps it from being framed, sniffed or cached, unless the
/// handler chose otherwise: no other site may frame a page (clickjacking), types are
/// taken as sent, the address is not sent to other sites, and nothing but static files is
/// stored by browsers or proxies (a new API token's secret is in a server function's answer).
/// A page (HTML) gets its own policy, naming its scripts' nonce; every other answer one
/// that loads nothing.
pub async fn security_headers(mut req: Request, next: Next) -> Response {
    let cacheable = is_static_asset(req.uri().path());
    let immutable = is_content_named(req.uri().path());
    let nonce = (!cacheable).then(Nonce::new);
    if let Some(nonce) = &nonce {
        req.extensions_mut().insert(nonce.clone());
    }
    let mut res = next.run(req).await;
    let html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if let (true, Some(nonce)) = (html, &nonce)
        && let Ok(policy) = HeaderValue::from_str(&document_policy(&nonce.to_string()))
    {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    let immutable = immutable && res.status().is_success();
    let headers = res.headers_mut();
    let mut set = |name: header::HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "same-origin");
    set(header::CONTENT_SECURITY_POLICY, NON_PAGE_POLICY);
    // A file named after its content is kept for a year without asking again. Other
    // static files keep their names from one build to the next, so a browser may keep
    // them but must ask (a 304 when unchanged) before each use: a new version is never
    // missed after an upgrade.
    set(
        header::CACHE_CONTROL,
        if immutable {
            "public, max-age=31536000, immutable"
        } else if cacheable {
            "no-cache"
        } else {
            "no-store"
        },
    );
    res
}

/// The largest response compressed as it is sent. A release bundle (about 2 MB) is
/// compressed; a debug build's bundle, many times that, is sent as it is, since
/// compressing it on every cold load costs more than it saves on a local connection.
const COMPRESS_AT_MOST: u64 = 4 * 1024 * 1024;

/// Compresses answers (pages, JSON, the browser bundle) with brotli or gzip when the
/// client accepts them. Brotli at quality 4: its default (11) is far too slow for
/// answers made per request. Event streams, images and answers of a few bytes are sent
/// as they are.
pub fn compression() -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{DefaultPredicate, Predicate};
    use tower_http::compression::{CompressionLayer, CompressionLevel};
    let small_enough =
        |_: StatusCode, _: axum::http::Version, headers: &header::HeaderMap, _: &axum::http::Extensions| {
            headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .is_none_or(|n| n <= COMPRESS_AT_MOST)
        };
    CompressionLayer::new()
        .quality(CompressionLevel::Precise(4))
        .compress_when(DefaultPredicate::new().and(small_enough))
}

/// Leptos carries a failed form's error back in the address (`__path` and `__err`), and
/// both the server and the browser would show it on the page. Anyone can write such a
/// link, so a page is never rendered with them: the visitor is sent to the same address
/// without them.
pub async fn strip_action_errors(req: Request, next: Next) -> Response {
    if req.method() == Method::GET && !is_server_fn(req.uri().path()) {
        let query = req.uri().query().unwrap_or_default();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        if pairs.iter().any(|(k, _)| k == "__err" || k == "__path") {
            let kept: Vec<&(String, String)> = pairs.iter().filter(|(k, _)| k != "__err" && k != "__path").collect();
            let mut target = req.uri().path().to_string();
            if !kept.is_empty() {
                target.push('?');
                target.push_str(&url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept).finish());
            }
            tracing::warn!(path = %req.uri().path(), "dropped form error text from the address");
            let mut res = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&target) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            return res;
        }
    }
    next.run(req).await
}

/// A server function's error answer: the `AppError` as JSON, with the header the browser
/// side of server functions reads errors by.
fn server_fn_error(status: StatusCode, err: &AppError) -> Response {
    let body = serde_json::to_vec(err).unwrap_or_default();
    let mut res = (status, body).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("serverfnerror", HeaderValue::from_static("request"));
    res
}

/// Server functions: bodies over [`SERVER_FN_BODY_LIMIT`] get 413, and errors get their
/// own status. Leptos answers every server function error with 500, including arguments it
/// could not read before the function ran; a user's mistake is 4xx, and 500 stays for ours.
pub async fn server_fn_guard(req: Request, next: Next) -> Response {
    if !is_server_fn(req.uri().path()) {
        return next.run(req).await;
    }
    let too_large = || {
        tracing::warn!("refused a server function request over the size limit");
        let err = AppError::validation(
            "request",
            format!("The request is too large (at most {} KiB).", SERVER_FN_BODY_LIMIT / 1024),
        );
        server_fn_error(StatusCode::PAYLOAD_TOO_LARGE, &err)
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > SERVER_FN_BODY_LIMIT as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, SERVER_FN_BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return too_large(),
    };
    let res = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if res.status() != StatusCode::INTERNAL_SERVER_ERROR || !res.headers().contains_key("serverfnerror") {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, 64 * 1024).await {
        Ok(bytes) => bytes,
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes)
        && err != AppError::Internal
    {
        parts.status = StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if let AppError::Validation { field, .. } = &err {
            tracing::warn!(field = %field, "a server function refused its input");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_functions_and_static_files_are_told_apart() {
        assert!(is_server_fn("/api/sign_in"));
        assert!(!is_server_fn("/api/v1/me"));
        assert!(!is_server_fn("/credits"));
        assert!(is_static_asset("/pkg/tollgate.wasm"));
        assert!(!is_static_asset("/credits"));
        assert!(!is_static_asset("/api/tokens_create"));
    }

    #[test]
    fn only_bundle_files_named_after_their_content_are_immutable() {
        assert!(is_content_named("/pkg/tollgate.Kx3vU0o1_9p-AbCdEfGhIw.wasm"));
        assert!(is_content_named("/pkg/tollgate.Kx3vU0o1_9p-AbCdEfGhIw.js"));
        assert!(is_content_named("/pkg/tollgate.Kx3vU0o1_9p-AbCdEfGhIw.css"));
        for path in [
            "/pkg/tollgate.wasm",
            "/pkg/tollgate_bg.wasm",
            "/pkg/tollgate.Kx3vU0o1_9p-AbCdEfGhI.wasm",
            "/pkg/tollgate.Kx3vU0o1_9p-AbCdEfGh!w.wasm",
            "/pkg/tollgate.Kx3vU0o1_9p-AbCdEfGhIw.wasm.br",
            "/pkg/tollgate.Kx3vU0o1_9p-AbCdEfGhIw.html",
            "/pkg/snippets/x/tollgate.Kx3vU0o1_9p-AbCdEfGhIw.js",
            "/pkg/.Kx3vU0o1_9p-AbCdEfGhIw.js",
            "/favicon.Kx3vU0o1_9p-AbCdEfGhIw.js",
            "/credits",
        ] {
            assert!(!is_content_named(path), "{path}");
        }
    }
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Marks a request whose caller sent an `X-Request-Id` that is not short and plain (it
/// was replaced with one of ours).
#[derive(Clone, Copy, Debug)]
pub struct RefusedRequestId;

/// Gives every request an id, logged with everything it does and returned in the
/// response. A caller's own id is kept when it is short and plain, so requests can be
/// followed across services; anything else is replaced.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let sent = req.headers().get(REQUEST_ID_HEADER).cloned();
    let given = sent.clone().filter(|v| is_plain_id(v.as_bytes()));
    if sent.is_some() && given.is_none() {
        // Where the id makes retries safe (the gateway), replacing it would make a retry
        // a new call: those routes refuse it instead (see `RefusedRequestId`).
        req.extensions_mut().insert(RefusedRequestId);
    }
    let id = given.unwrap_or_else(|| {
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()).expect("a uuid is a valid header value")
    });
    req.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    let mut res = next.run(req).await;
    res.headers_mut().insert(REQUEST_ID_HEADER, id);
    res
}

fn is_plain_id(v: &[u8]) -> bool {
    (1..=64).contains(&v.len()) && v.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod request_id_tests {
    use super::is_plain_id;

    #[test]
    fn only_short_plain_request_ids_are_trusted() {
        assert!(is_plain_id(b"3f2c-ab_12.x"));
        assert!(!is_plain_id(b""));
        assert!(!is_plain_id(b"has space"));
        assert!(!is_plain_id(b"<script>"));
        assert!(!is_plain_id(&[b'a'; 65]));
    }
}
