//! Wire types for teams: shared by the browser, the server functions and the services.

use serde::{Deserialize, Serialize};

use crate::shared::text_enum::text_enum;

text_enum! {
    /// What a member may do in a team.
    pub enum TeamRole {
        /// Everything, including the team itself and who else is an owner.
        Owner = "owner",
        /// Members, budgets and billing.
        Admin = "admin",
        /// Spends from the team's wallet.
        Member = "member",
    }
}

impl TeamRole {
    /// Whether this role may add and remove members, change roles below owner, and
    /// manage budgets and billing.
    pub fn manages(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Owner => "Owner",
            Self::Admin => "Admin",
            Self::Member => "Member",
        }
    }
}

/// A team as one of its members sees it in a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamSummary {
    pub id: String,
    pub name: String,
    /// The caller's role in it.
    pub role: TeamRole,
    pub members: i64,
}

/// One member of a team.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamMember {
    pub user_id: String,
    pub email: String,
    pub role: TeamRole,
    pub joined_at_ms: i64,
}

/// An invitation still open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamInvite {
    pub id: String,
    pub role: TeamRole,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A team with its members and open invitations, for its page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDetail {
    pub team: TeamSummary,
    pub members: Vec<TeamMember>,
    /// Shown to owners and admins only; empty for members.
    pub invites: Vec<TeamInvite>,
}

/// A new invitation and its link, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewInvite {
    pub invite: TeamInvite,
    /// The address to send to the person invited.
    pub link: String,
}
