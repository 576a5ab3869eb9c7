//! Settings > Teams: make a team, invite by link, roles, remove and leave.

use crate::shared::error::AppError;
use leptos::prelude::*;

pub use crate::shared::dto::teams::*;

/// A role as a form sent it, read into a [`TeamRole`].
#[cfg(feature = "ssr")]
fn role_field(raw: &str) -> Result<TeamRole, AppError> {
    TeamRole::parse(raw.trim()).ok_or_else(|| AppError::validation("role", "Choose owner, admin or member."))
}

#[server(endpoint = "teams_list")]
pub async fn list_teams() -> Result<Vec<TeamSummary>, AppError> {
    use crate::server::services::teams;
    crate::server::web::guard::signed_in(|state, user| async move { teams::list(&state, &user).await }).await
}

#[server(endpoint = "teams_create")]
pub async fn create_team(name: String) -> Result<TeamSummary, AppError> {
    use crate::server::services::teams;
    crate::server::web::guard::signed_in(|state, user| async move { teams::create(&state, &user, &name).await }).await
}

#[server(endpoint = "team_detail")]
pub async fn get_team(team: String) -> Result<TeamDetail, AppError> {
    use crate::server::services::teams::{self, TeamId};
    crate::server::web::guard::signed_in(|state, user| async move {
        teams::detail(&state, &user, &TeamId::parse("team", &team)?).await
    })
    .await
}

#[server(endpoint = "team_invite")]
pub async fn invite_member(team: String, role: String) -> Result<NewInvite, AppError> {
    use crate::server::services::teams::{self, TeamId};
    crate::server::web::guard::signed_in(|state, user| async move {
        teams::invite(&state, &user, &TeamId::parse("team", &team)?, role_field(&role)?).await
    })
    .await
}

#[server(endpoint = "team_invite_revoke")]
pub async fn revoke_invite(team: String, invite: String) -> Result<(), AppError> {
    use crate::server::services::teams::{self, TeamId};
    crate::server::web::guard::signed_in(|state, user| async move {
        teams::revoke_invite(&state, &user, &TeamId::parse("team", &team)?, &invite).await
    })
    .await
}

#[server(endpoint = "team_join")]
pub async fn accept_invite(code: String) -> Result<TeamSummary, AppError> {
    use crate::server::services::teams;
    crate::server::web::guard::signed_in(|state, user| async move { teams::accept(&state, &user, &code).await }).await
}

#[server(endpoint = "team_member_role")]
pub async fn set_member_role(team: String, member: String, role: String) -> Result<(), AppError> {
    use crate::server::services::teams::{self, TeamId};
    crate::server::web::guard::signed_in(|state, user| async move {
        teams::set_role(&state, &user, &TeamId::parse("team", &team)?, &member, role_field(&role)?).await
    })
    .await
}

/// Removes a member, or (with the caller's own id) leaves the team.
#[server(endpoint = "team_member_remove")]
pub async fn remove_member(team: String, member: String) -> Result<(), AppError> {
    use crate::server::services::teams::{self, TeamId};
    crate::server::web::guard::signed_in(|state, user| async move {
        teams::remove(&state, &user, &TeamId::parse("team", &team)?, &member).await
    })
    .await
}

/// The team's budgets: the team's own and its members' (a member sees only their own).
#[server(endpoint = "team_budgets")]
pub async fn team_budgets(team: String) -> Result<Vec<crate::shared::dto::budgets::Budget>, AppError> {
    use crate::server::services::budgets;
    use crate::server::services::teams::TeamId;
    crate::server::web::guard::signed_in(|state, user| async move {
        budgets::list_team(&state, &user, &TeamId::parse("team", &team)?).await
    })
    .await
}

/// Sets the budget of the team (no `member`) or of one member (a user id): `limit`
/// dollars per `period`. Owners and admins only.
#[server(endpoint = "team_budget_set")]
pub async fn set_team_budget(
    team: String,
    member: Option<String>,
    limit: String,
    period: String,
) -> Result<crate::shared::dto::budgets::Budget, AppError> {
    use crate::server::services::budgets;
    use crate::server::services::teams::TeamId;
    crate::server::web::guard::signed_in(|state, user| async move {
        let team = TeamId::parse("team", &team)?;
        let limit = budgets::parse_limit("limit", &limit)?;
        let period = budgets::parse_period("period", &period)?;
        let member = member.filter(|m| !m.trim().is_empty());
        budgets::set_team_budget(&state, &user, &team, member.as_deref(), limit, period).await
    })
    .await
}

/// Removes the budget of the team (no `member`) or of one member. Owners and admins only.
#[server(endpoint = "team_budget_remove")]
pub async fn remove_team_budget(team: String, member: Option<String>) -> Result<(), AppError> {
    use crate::server::services::budgets;
    use crate::server::services::teams::TeamId;
    crate::server::web::guard::signed_in(|state, user| async move {
        let team = TeamId::parse("team", &team)?;
        let member = member.filter(|m| !m.trim().is_empty());
        budgets::remove_team_budget(&state, &user, &team, member.as_deref()).await
    })
    .await
}
