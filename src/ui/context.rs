//! What the app provides to every page through Leptos context: facts about the service,
//! who is signed in, and the actions that change it. Provided by `app::App`.

use leptos::prelude::*;

use crate::api::auth::{AccountSummary, SignIn, SignOut, SignUp};
use crate::api::status::SiteInfo;
use crate::shared::error::AppError;

/// Facts about the service shared by the header and footer, loaded once per page.
pub type SiteInfoResource = OnceResource<Result<SiteInfo, AppError>>;

/// Who is signed in, reloaded whenever someone signs in, up or out.
pub type AccountResource = Resource<Result<Option<AccountSummary>, AppError>>;

/// The actions that change who is signed in, shared by the pages and the header.
#[derive(Clone, Copy)]
pub struct AuthActions {
    pub sign_in: ServerAction<SignIn>,
    pub sign_up: ServerAction<SignUp>,
    pub sign_out: ServerAction<SignOut>,
}
