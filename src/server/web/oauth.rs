//! Connecting an OpenRouter account with OAuth PKCE.
//!
//! `/connect/openrouter` makes an S256 verifier and challenge and a state value (oauth2
//! crate), keeps them in the server-side session and sends the browser to OpenRouter's
//! consent page. OpenRouter sends the browser back to `/connect/openrouter/callback`
//! with a `code`; the state rides in the callback address. The callback takes the flow
//! out of the session (so it works once), checks it, trades code + verifier for a key at
//! OpenRouter and stores the key sealed, for the wallet chosen when connecting began (the
//! person's own, or a team's they own or administer, checked again at the callback).
//! Every failure stores nothing and says why.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use oauth2::{CsrfToken, PkceCodeChallenge};
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::server::adapters::providers::{ExchangeError, Providers};
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::keys;
use crate::server::web::guard::session_user;
use crate::shared::dto::auth::safe_next;
use crate::shared::dto::keys::{KeySource, KeyStatus, Provider};
use crate::shared::error::AppError;

const FLOW_KEY: &str = "openrouter_flow";
/// How long someone has to approve on OpenRouter.
pub const FLOW_LIFETIME_MS: i64 = 10 * 60 * 1000;
pub use crate::shared::dto::keys::OPENROUTER_CALLBACK_PATH as CALLBACK_PATH;
const KEYS_PAGE: &str = "/settings/api-keys";

/// One connection attempt, kept in the session between the two requests.
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    verifier: String,
    user_id: String,
    /// Whose key it will be: the person's id, or the team's whose wallet was chosen
    /// (empty in a flow begun before teams had keys: the person's).
    #[serde(default)]
    owner_id: String,
    next: String,
    started_at_ms: i64,
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `path` with `notice=<code>` added to its query (before any fragment).
pub fn with_notice(path: &str, notice: &str) -> String {
    let (base, fragment) = match path.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (path, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    match fragment {
        Some(f) => format!("{base}{sep}notice={notice}#{f}"),
        None => format!("{base}{sep}notice={notice}"),
    }
}

fn internal(e: impl std::fmt::Display) -> Response {
    let _ = AppError::internal("connecting OpenRouter", e);
    Redirect::to(&with_notice(KEYS_PAGE, "oauth_failed")).into_response()
}

pub async fn start(State(state): State<AppState>, session: Session, Query(q): Query<StartQuery>) -> Response {
    let next = q.next.as_deref().map(|n| safe_next(Some(n))).unwrap_or_else(|| KEYS_PAGE.to_string());
    let user = match session_user(&session, &state).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            let back = format!("/connect/openrouter?next={}", url_escape(&next));
            return Redirect::to(&format!("/signin?next={}", url_escape(&back))).into_response();
        }
        Err(e) => return internal(e),
    };
    // Choosing "Connect OpenRouter" in the "Get started" dialog is a way of finishing it.
    if user.onboarding_pending
        && let Err(e) = crate::server::services::accounts::users::finish_onboarding(&state.db, &user.id).await
    {
        return internal(e);
    }
    let acting = match crate::server::web::guard::session_acting(&session, &state, user.clone()).await {
        Ok(acting) => acting,
        Err(e) => return internal(e),
    };
    let owner_id = match acting.managed_owner() {
        Ok(owner) => owner.to_string(),
        Err(_) => return Redirect::to(&with_notice(KEYS_PAGE, "oauth_forbidden")).into_response(),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let csrf = CsrfToken::new_random();
    let flow = Flow {
        state: csrf.secret().clone(),
        verifier: verifier.secret().clone(),
        user_id: user.id,
        owner_id,
        next,
        started_at_ms: now_ms(),
    };
    if let Err(e) = session.insert(FLOW_KEY, &flow).await {
        return internal(e);
    }
    let mut callback = match state.config.public_url.join(CALLBACK_PATH) {
        Ok(url) => url,
        Err(e) => return internal(e),
    };
    callback.query_pairs_mut().append_pair("state", &flow.state);
    let consent = state.providers.openrouter_consent_url(&callback, challenge.as_str());
    Redirect::to(consent.as_str()).into_response()
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// Why a connection attempt ended without a key; each has a notice on the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// No attempt in this session: never started, already used, or the session ended.
    Used,
    /// The state does not match the attempt (tampered, or another person's link).
    State,
    Expired,
    Denied,
    Exchange,
}

impl Failure {
    fn notice(self) -> &'static str {
        match self {
            Self::Used => "oauth_used",
            Self::State => "oauth_state",
            Self::Expired => "oauth_expired",
            Self::Denied => "oauth_denied",
            Self::Exchange => "oauth_exchange",
        }
    }
}

pub async fn callback(State(state): State<AppState>, session: Session, Query(q): Query<CallbackQuery>) -> Response {
    // Taken out first: whatever happens next, this attempt cannot be replayed.
    let flow = match session.remove::<Flow>(FLOW_KEY).await {
        Ok(flow) => flow,
        Err(e) => return internal(e),
    };
    let user = match session_user(&session, &state).await {
        Ok(Some(user)) => user,
        Ok(None) => return Redirect::to(&format!("/signin?next={}", url_escape(KEYS_PAGE))).into_response(),
        Err(e) => return internal(e),
    };
    let outcome = check(&state.providers, flow.as_ref(), &user.id, &q).await;
    let owner = match (&outcome, &flow) {
        (Ok(_), Some(flow)) => match may_manage(&state, &user, &flow.owner_id).await {
            Ok(true) if flow.owner_id.is_empty() => user.id.clone(),
            Ok(true) => flow.owner_id.clone(),
            Ok(false) => return Redirect::to(&with_notice(KEYS_PAGE, "oauth_forbidden")).into_response(),
            Err(e) => return internal(e),
        },
        _ => user.id.clone(),
    };
    match outcome {
        Ok(key) => {
            match keys::store(&state, &owner, Provider::OpenRouter, &key, KeySource::Oauth, KeyStatus::Valid).await {
                Ok(_) => {
                    let next = flow.map(|f| f.next).unwrap_or_else(|| KEYS_PAGE.into());
                    Redirect::to(&with_notice(&next, "openrouter_connected")).into_response()
                }
                Err(e) => internal(e),
            }
        }
        Err(failure) => {
            tracing::warn!(user_id = %user.id, reason = failure.notice(), "OpenRouter connection did not complete");
            Redirect::to(&with_notice(KEYS_PAGE, failure.notice())).into_response()
        }
    }
}

/// Whether `user` may still set the keys of `owner_id`'s wallet: their own, or a team's
/// they own or administer (they may have been removed while on OpenRouter).
async fn may_manage(
    state: &AppState,
    user: &crate::server::services::accounts::users::User,
    owner_id: &str,
) -> Result<bool, AppError> {
    use crate::server::services::{teams::TeamId, wallets};
    if owner_id.is_empty() || owner_id == user.id {
        return Ok(true);
    }
    let team = TeamId::parse("team", owner_id)?;
    Ok(wallets::in_team(state, user, &team).await?.is_some_and(|t| t.role.manages()))
}

async fn check(
    providers: &Providers,
    flow: Option<&Flow>,
    user_id: &str,
    q: &CallbackQuery,
) -> Result<String, Failure> {
    let flow = flow.ok_or(Failure::Used)?;
    let given = q.state.as_deref().unwrap_or_default();
    if !crate::server::infra::crypto::constant_time_eq(given.as_bytes(), flow.state.as_bytes())
        || flow.user_id != user_id
    {
        return Err(Failure::State);
    }
    if now_ms() - flow.started_at_ms > FLOW_LIFETIME_MS {
        return Err(Failure::Expired);
    }
    let code = match (&q.error, &q.code) {
        (None, Some(code)) if !code.trim().is_empty() => code.trim(),
        _ => return Err(Failure::Denied),
    };
    providers.openrouter_exchange(code, &flow.verifier).await.map_err(|e| {
        match &e {
            ExchangeError::Refused { status, message } => {
                tracing::warn!(status, message = %message, "OpenRouter refused the code exchange")
            }
            other => tracing::warn!(error = %other, "OpenRouter code exchange failed"),
        }
        Failure::Exchange
    })
}

fn url_escape(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers() -> Providers {
        let config = crate::server::infra::config::Config::load(None, &|_| None).expect("default settings");
        Providers::new(&config, b"secret").unwrap()
    }

    fn flow(started_at_ms: i64) -> Flow {
        Flow {
            state: "state-1".into(),
            verifier: "verifier".into(),
            user_id: "ada".into(),
            owner_id: "ada".into(),
            next: "/".into(),
            started_at_ms,
        }
    }

    fn query(state: &str, code: Option<&str>, error: Option<&str>) -> CallbackQuery {
        CallbackQuery { state: Some(state.into()), code: code.map(Into::into), error: error.map(Into::into) }
    }

    #[tokio::test]
    async fn each_way_a_callback_can_go_wrong_has_its_own_reason() {
        let p = providers();
        let fresh = flow(now_ms());
        let ok = query("state-1", Some("code"), None);
        assert_eq!(check(&p, None, "ada", &ok).await, Err(Failure::Used));
        assert_eq!(check(&p, Some(&fresh), "ada", &query("state-2", Some("c"), None)).await, Err(Failure::State));
        assert_eq!(check(&p, Some(&fresh), "bob", &ok).await, Err(Failure::State));
        let old = flow(now_ms() - FLOW_LIFETIME_MS - 1);
        assert_eq!(check(&p, Some(&old), "ada", &ok).await, Err(Failure::Expired));
        let denied = query("state-1", None, Some("access_denied"));
        assert_eq!(check(&p, Some(&fresh), "ada", &denied).await, Err(Failure::Denied));
        assert_eq!(check(&p, Some(&fresh), "ada", &query("state-1", None, None)).await, Err(Failure::Denied));
        // The sandbox refuses a code it did not sign.
        assert_eq!(check(&p, Some(&fresh), "ada", &ok).await, Err(Failure::Exchange));
    }

    #[test]
    fn notices_are_added_to_any_path() {
        assert_eq!(with_notice("/studio", "x"), "/studio?notice=x");
        assert_eq!(with_notice("/credits?tab=balance", "x"), "/credits?tab=balance&notice=x");
        assert_eq!(with_notice("/credits?tab=balance#top", "x"), "/credits?tab=balance&notice=x#top");
    }
}
