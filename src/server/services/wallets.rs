//! Which wallet pays: a person's own, or the wallet of a team they are in. The web app
//! keeps the choice in the session (the header's switcher); an API token made for a team
//! always pays from that team's wallet. The choice is checked against the team's members
//! every time it is used, so someone removed from a team stops spending from it at once.

use crate::server::infra::state::AppState;
use crate::server::services::accounts::users::User;
use crate::server::services::teams::{self, TeamId};
use crate::shared::dto::budgets::BudgetScope;
use crate::shared::dto::teams::TeamRole;
use crate::shared::error::AppError;

/// A team whose wallet a person acts on, with their role in it.
#[derive(Clone, Debug)]
pub struct ActingTeam {
    pub id: TeamId,
    pub name: String,
    pub role: TeamRole,
}

/// A person and the wallet they act on.
#[derive(Clone, Debug)]
pub struct Acting {
    pub user: User,
    pub team: Option<ActingTeam>,
    /// The web app had a team chosen that the person is no longer in: they act on their
    /// own wallet now, and spending is refused once so nobody pays without meaning to.
    pub lost_team: bool,
}

impl Acting {
    pub fn personal(user: User) -> Self {
        Self { user, team: None, lost_team: false }
    }

    pub fn in_team(user: User, team: ActingTeam) -> Self {
        Self { user, team: Some(team), lost_team: false }
    }

    /// Refuses to spend when the team chosen in the web app was lost (see `lost_team`).
    pub fn check_spend(&self) -> Result<(), AppError> {
        if self.lost_team {
            return Err(AppError::Conflict {
                message: "You are no longer in the team whose wallet was chosen. Your own wallet is chosen now; \
                          run again to pay from it."
                    .into(),
            });
        }
        Ok(())
    }

    /// The owner id of the wallet that pays: the team's id, or the person's.
    pub fn owner_id(&self) -> &str {
        match &self.team {
            Some(team) => team.id.as_str(),
            None => &self.user.id,
        }
    }

    /// The wallet whose settings (its provider keys) this person may change: their own,
    /// or a team's they own or administer. A plain member may not (403); a team lost
    /// meanwhile is refused once, as for spending.
    pub fn managed_owner(&self) -> Result<&str, AppError> {
        // Settings meant for a team the person has left are not saved to their own.
        if self.lost_team {
            return Err(AppError::Conflict {
                message: "You are no longer in the team whose wallet was chosen, so nothing was changed. Your own \
                          wallet is chosen now."
                    .into(),
            });
        }
        match &self.team {
            Some(team) if !team.role.manages() => Err(AppError::Forbidden),
            _ => Ok(self.owner_id()),
        }
    }

    pub fn team_id(&self) -> Option<&str> {
        self.team.as_ref().map(|t| t.id.as_str())
    }

    /// The budget subject of this person in the team they act for.
    pub fn member_subject(&self) -> Option<String> {
        self.team.as_ref().map(|t| member_subject(t.id.as_str(), &self.user.id))
    }

    /// The budgets a call made this way counts against: the token's (if made with one),
    /// and in a team the member's and the team's.
    pub fn budgets(&self, token_id: Option<String>) -> Vec<(BudgetScope, String)> {
        let mut all: Vec<(BudgetScope, String)> = token_id.into_iter().map(|t| (BudgetScope::Token, t)).collect();
        if let Some(team) = &self.team {
            all.push((BudgetScope::Member, member_subject(team.id.as_str(), &self.user.id)));
            all.push((BudgetScope::Team, team.id.as_str().to_string()));
        }
        all
    }
}

/// A member budget's subject: `<team id>:<user id>`.
pub fn member_subject(team_id: &str, user_id: &str) -> String {
    format!("{team_id}:{user_id}")
}

/// `user` acting on `team`'s wallet if they are in it; `None` otherwise.
pub async fn in_team(state: &AppState, user: &User, team: &TeamId) -> Result<Option<ActingTeam>, AppError> {
    let found = teams::list(state, user).await?.into_iter().find(|t| t.id == team.as_str());
    Ok(found.map(|t| ActingTeam { id: team.clone(), name: t.name, role: t.role }))
}

/// The wallet the web app's choice `selected` (a team id, or nothing for the person's
/// own) stands for now: a team the person has left falls back to their own wallet, marked
/// `lost_team`.
pub async fn resolve(state: &AppState, user: User, selected: Option<&str>) -> Result<Acting, AppError> {
    let team = match selected.map(|raw| TeamId::parse("wallet", raw)) {
        Some(Ok(team)) => in_team(state, &user, &team).await?,
        _ => None,
    };
    let lost_team = selected.is_some() && team.is_none();
    Ok(Acting { user, team, lost_team })
}

/// The wallet a token's calls pay from: its team's (the owner must still be a member:
/// otherwise 403 naming the token), or the owner's own.
pub async fn for_token(state: &AppState, user: User, team: Option<&str>) -> Result<Acting, AppError> {
    let Some(raw) = team else { return Ok(Acting::personal(user)) };
    let team = TeamId::parse("token", raw)?;
    match in_team(state, &user, &team).await? {
        Some(team) => Ok(Acting::in_team(user, team)),
        None => Err(AppError::Forbidden),
    }
}
