//! Who is calling: the signed-in user of a session, or the owner of a bearer token.
//! Every server function and API route that touches an account starts here.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use leptos::prelude::use_context;
use tower_sessions::Session;

use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::accounts::tokens;
use crate::server::services::accounts::users::{self, Role, User};
use crate::server::services::wallets::{self, Acting};
use crate::shared::error::AppError;

pub const USER_ID_KEY: &str = "user_id";
pub const SIGNED_IN_AT_KEY: &str = "signed_in_at_ms";
pub const SEEN_AT_KEY: &str = "seen_at_ms";
/// The team whose wallet the person acts on in the web app (absent: their own).
pub const WALLET_KEY: &str = "wallet_team";
/// How often an active session is written back, pushing its idle expiry forward.
const TOUCH_EVERY_MS: i64 = 10 * 60 * 1000;

/// The session's user, if it has one that is still within its absolute lifetime.
pub async fn session_user(session: &Session, state: &AppState) -> Result<Option<User>, AppError> {
    let err = |e| AppError::internal("reading the session", e);
    let Some(user_id) = session.get::<String>(USER_ID_KEY).await.map_err(err)? else { return Ok(None) };
    let signed_in_at = session.get::<i64>(SIGNED_IN_AT_KEY).await.map_err(err)?.unwrap_or(0);
    let now = now_ms();
    if now - signed_in_at > state.config.session_max_age_ms() {
        session.flush().await.map_err(err)?;
        return Ok(None);
    }
    // Sessions are saved only when changed; marking activity now and then keeps an
    // active session from ending at its idle timeout.
    let seen_at = session.get::<i64>(SEEN_AT_KEY).await.map_err(err)?.unwrap_or(0);
    if now - seen_at > TOUCH_EVERY_MS {
        session.insert(SEEN_AT_KEY, now).await.map_err(err)?;
    }
    users::find_by_id(&state.db, &user_id).await
}

/// Starts a signed-in session: a new session id (so one fixed before sign-in is
/// useless), then the user.
pub async fn start_session(session: &Session, user: &User) -> Result<(), AppError> {
    let err = |e| AppError::internal("starting a session", e);
    session.cycle_id().await.map_err(err)?;
    session.insert(USER_ID_KEY, &user.id).await.map_err(err)?;
    session.insert(SIGNED_IN_AT_KEY, now_ms()).await.map_err(err)?;
    session.insert(SEEN_AT_KEY, now_ms()).await.map_err(err)?;
    Ok(())
}

/// For server functions: the session from the request being handled.
pub async fn current_session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| AppError::internal("reading the session", e))
}

/// For server functions: the signed-in user, or `Unauthorized`.
pub async fn require_user() -> Result<(AppState, User), AppError> {
    let state = AppState::from_context()?;
    let session = current_session().await?;
    let user = session_user(&session, &state).await?.ok_or(AppError::Unauthorized)?;
    Ok((state, user))
}

/// For server functions: runs `work` for the signed-in user (401 for anyone else) and
/// gives its error its HTTP status (see [`respond`]).
pub async fn signed_in<T, F, Fut>(work: F) -> Result<T, AppError>
where
    F: FnOnce(AppState, User) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    respond(
        async {
            let (state, user) = require_user().await?;
            work(state, user).await
        }
        .await,
    )
}

/// For server functions: the signed-in person and the wallet they chose in the header
/// (their own, or a team's they are still in).
pub async fn require_acting() -> Result<(AppState, Acting), AppError> {
    let state = AppState::from_context()?;
    let session = current_session().await?;
    let user = session_user(&session, &state).await?.ok_or(AppError::Unauthorized)?;
    let acting = session_acting(&session, &state, user).await?;
    Ok((state, acting))
}

/// The wallet `user` chose in this session's header. A team they have left is forgotten
/// here, after its loss is marked on the answer (the next spend is refused once).
pub async fn session_acting(session: &Session, state: &AppState, user: User) -> Result<Acting, AppError> {
    let err = |e| AppError::internal("reading the session", e);
    let selected: Option<String> = session.get(WALLET_KEY).await.map_err(err)?;
    let acting = wallets::resolve(state, user, selected.as_deref()).await?;
    if acting.lost_team {
        session.remove::<String>(WALLET_KEY).await.map_err(err)?;
    }
    Ok(acting)
}

/// For server functions: [`signed_in`], acting on the wallet chosen in the header.
pub async fn acting<T, F, Fut>(work: F) -> Result<T, AppError>
where
    F: FnOnce(AppState, Acting) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    respond(
        async {
            let (state, acting) = require_acting().await?;
            work(state, acting).await
        }
        .await,
    )
}

/// For server functions: [`signed_in`], for administrators only (403 for anyone else).
pub async fn admin<T, F, Fut>(work: F) -> Result<T, AppError>
where
    F: FnOnce(AppState, User) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    signed_in(|state, user| async move {
        if user.role != crate::server::services::accounts::users::Role::Admin {
            return Err(AppError::Forbidden);
        }
        work(state, user).await
    })
    .await
}

/// For server functions: the signed-in user, if any.
pub async fn optional_user() -> Result<(AppState, Option<User>), AppError> {
    let state = AppState::from_context()?;
    let session = current_session().await?;
    let user = session_user(&session, &state).await?;
    Ok((state, user))
}

/// An error answered as JSON with its HTTP status, for the `/api/v1` routes.
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({ "error": self.0, "message": self.0.to_string() });
        let mut res = (status, Json(body)).into_response();
        if let Some(retry_after_secs) = self.0.retry_after_secs()
            && let Ok(v) = retry_after_secs.to_string().parse()
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if matches!(self.0, AppError::Unauthorized) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// A request parameter that cannot be used: 400, naming it.
pub fn bad_param(field: &str, message: impl Into<String>) -> Response {
    let err = AppError::validation(field, message);
    let body = serde_json::json!({ "error": err, "message": err.to_string() });
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// An API caller: `Authorization: Bearer tg_...`, or a browser session.
pub struct ApiUser(pub User);

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        ApiCaller::from_request_parts(parts, state).await.map(|c| ApiUser(c.acting.user))
    }
}

/// An API caller, the wallet they act on (a team token's team; for a browser session, the
/// wallet chosen in the header), and, when they came with a token, which token (its
/// budget applies).
pub struct ApiCaller {
    pub acting: Acting,
    pub token_id: Option<String>,
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
            let token = auth.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
            let found = match token {
                Some(t) => tokens::authenticate_cached(state, t).await?,
                None => None,
            };
            // A bad token is refused even when a session cookie is also present.
            let owner = found.ok_or(ApiError(AppError::Unauthorized))?;
            let acting = wallets::for_token(state, owner.user, owner.team_id.as_deref()).await?;
            return Ok(ApiCaller { acting, token_id: Some(owner.token_id) });
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError(AppError::internal("api auth", "session layer missing")))?;
        let user = session_user(&session, state).await?.ok_or(ApiError(AppError::Unauthorized))?;
        let acting = session_acting(&session, state, user).await?;
        Ok(ApiCaller { acting, token_id: None })
    }
}

/// An API caller with the admin role.
pub struct ApiAdmin(pub User);

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ApiUser(user) = ApiUser::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError(AppError::Forbidden));
        }
        Ok(ApiAdmin(user))
    }
}

/// Gives a server function's error its HTTP status (422, 401, 429, ...) instead of 500.
pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(e) = &result {
        crate::shared::http_status::set_http_status(e.status_code());
        if let Some(retry_after_secs) = e.retry_after_secs()
            && let (Some(res), Ok(v)) =
                (use_context::<leptos_axum::ResponseOptions>(), retry_after_secs.to_string().parse())
        {
            res.insert_header(header::RETRY_AFTER, v);
        }
    }
    result
}

/// The address of the client that sent the request being handled: the peer, or behind
/// a reverse proxy (`behind_proxy`) the last address the proxy appended to
/// `X-Forwarded-For` (earlier entries come from the client and prove nothing).
pub async fn client_ip(state: &AppState) -> Option<std::net::IpAddr> {
    if state.config.behind_proxy {
        let headers = leptos_axum::extract::<axum::http::HeaderMap>().await.ok()?;
        let forwarded = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).next_back()?;
        return forwarded.rsplit(',').next()?.trim().parse().ok();
    }
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>().await.ok().map(|c| c.0.ip())
}
