//! Teams: a wallet shared by its members, who are owners, admins or members.
//!
//! Every change to a team's members first raises `team.members_version` in its write
//! transaction. That takes the team's row lock on PostgreSQL (SQLite has one writer), so
//! changes that must see each other run one after another: two owners leaving at once
//! cannot leave the team with none.

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::server::infra::db::{WriteTx, db_err, word};
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::accounts::users::User;
use crate::shared::dto::teams::{NewInvite, TeamDetail, TeamInvite, TeamMember, TeamRole, TeamSummary};
use crate::shared::error::AppError;

/// How long an invitation link works.
pub const INVITE_VALID_MS: i64 = 7 * 24 * 3600 * 1000;
/// Teams one person may belong to.
const MAX_TEAMS_PER_PERSON: i64 = 20;
/// Open invitations one team may have.
const MAX_OPEN_INVITES: i64 = 50;

/// A team id as the caller sent it, checked for form: `tm_` and 24 hex digits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamId(String);

impl TeamId {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let raw = raw.trim();
        let ok = raw.len() == 27
            && raw.starts_with("tm_")
            && raw[3..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok { Ok(Self(raw.to_string())) } else { Err(AppError::validation(field, "That is not a team id.")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn validate_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::validation("name", "Give the team a name."));
    }
    if name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(AppError::validation("name", "Use at most 60 characters, on one line."));
    }
    Ok(name.to_string())
}

fn random(n: usize) -> Result<String, AppError> {
    crate::server::infra::crypto::random_hex(n).map_err(|e| AppError::internal("making a team id", e))
}

fn digest(secret: &str) -> String {
    crate::server::infra::crypto::hex(&Sha256::digest(secret.as_bytes()))
}

/// Makes a team named `name` with `owner` as its owner, and opens its wallet.
pub async fn create(state: &AppState, owner: &User, name: &str) -> Result<TeamSummary, AppError> {
    let name = validate_name(name)?;
    let id = format!("tm_{}", random(12)?);
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(db_err("making a team"))?;
    let teams: i64 = sqlx::query_scalar("select count(*) from team_member where user_id = $1")
        .bind(&owner.id)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err("making a team"))?;
    if teams >= MAX_TEAMS_PER_PERSON {
        return Err(AppError::validation("name", format!("You are in {MAX_TEAMS_PER_PERSON} teams. Leave one first.")));
    }
    sqlx::query("insert into team (id, name, created_by, created_at_ms) values ($1, $2, $3, $4)")
        .bind(&id)
        .bind(&name)
        .bind(&owner.id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_err("making a team"))?;
    sqlx::query("insert into team_member (team_id, user_id, role, joined_at_ms) values ($1, $2, 'owner', $3)")
        .bind(&id)
        .bind(&owner.id)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_err("making a team"))?;
    tx.commit().await.map_err(db_err("making a team"))?;
    state.ledger.open_wallet(&id).await?;
    tracing::info!(team = %id, "team made");
    Ok(TeamSummary { id, name, role: TeamRole::Owner, members: 1 })
}

/// The teams `user` belongs to, by name.
pub async fn list(state: &AppState, user: &User) -> Result<Vec<TeamSummary>, AppError> {
    let rows = sqlx::query(
        "select t.id, t.name, m.role, (select count(*) from team_member c where c.team_id = t.id) \
         from team_member m join team t on t.id = m.team_id where m.user_id = $1 order by t.name, t.id",
    )
    .bind(&user.id)
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("listing teams"))?;
    rows.iter()
        .map(|r| Ok(TeamSummary { id: r.try_get(0)?, name: r.try_get(1)?, role: word(r, 2)?, members: r.try_get(3)? }))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("listing teams"))
}

/// `user`'s role in `team`; a team they are not in is not found (it is not theirs to know of).
pub async fn role_of(state: &AppState, user: &User, team: &TeamId) -> Result<TeamRole, AppError> {
    find_role(state.db.pool(), team, &user.id).await?.ok_or_else(|| AppError::not_found("That team"))
}

/// `user_id`'s role in `team`, if they are in it.
async fn find_role<'e, E>(executor: E, team: &TeamId, user_id: &str) -> Result<Option<TeamRole>, AppError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let role: Option<String> = sqlx::query_scalar("select role from team_member where team_id = $1 and user_id = $2")
        .bind(team.as_str())
        .bind(user_id.trim())
        .fetch_optional(executor)
        .await
        .map_err(db_err("reading a team role"))?;
    Ok(role.and_then(|r| TeamRole::parse(&r)))
}

/// Raises the team's `members_version` in `tx` (its row lock); `false` if there is no such team.
async fn bump_members(tx: &mut WriteTx, team: &TeamId) -> Result<bool, AppError> {
    let bumped = sqlx::query("update team set members_version = members_version + 1 where id = $1")
        .bind(team.as_str())
        .execute(&mut ***tx)
        .await
        .map_err(db_err("changing a team"))?;
    Ok(bumped.rows_affected() == 1)
}

/// The team with its members (and, for owners and admins, its open invitations).
pub async fn detail(state: &AppState, user: &User, team: &TeamId) -> Result<TeamDetail, AppError> {
    let role = role_of(state, user, team).await?;
    let err = db_err("reading a team");
    let name: String = sqlx::query_scalar("select name from team where id = $1")
        .bind(team.as_str())
        .fetch_one(state.db.pool())
        .await
        .map_err(&err)?;
    let rows = sqlx::query(
        "select m.user_id, u.email, m.role, m.joined_at_ms from team_member m join app_user u on u.id = m.user_id \
         where m.team_id = $1 order by m.joined_at_ms, u.email",
    )
    .bind(team.as_str())
    .fetch_all(state.db.pool())
    .await
    .map_err(&err)?;
    let members = rows
        .iter()
        .map(|r| {
            Ok(TeamMember {
                user_id: r.try_get(0)?,
                email: r.try_get(1)?,
                role: word(r, 2)?,
                joined_at_ms: r.try_get(3)?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(&err)?;
    let invites = if role.manages() { open_invites(state, team).await? } else { Vec::new() };
    let summary = TeamSummary { id: team.as_str().to_string(), name, role, members: members.len() as i64 };
    Ok(TeamDetail { team: summary, members, invites })
}

async fn open_invites(state: &AppState, team: &TeamId) -> Result<Vec<TeamInvite>, AppError> {
    let rows = sqlx::query(
        "select id, role, created_at_ms, expires_at_ms from team_invite where team_id = $1 \
         and accepted_by is null and revoked_at_ms is null and expires_at_ms > $2 order by created_at_ms",
    )
    .bind(team.as_str())
    .bind(now_ms())
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("listing invitations"))?;
    rows.iter()
        .map(|r| {
            Ok(TeamInvite {
                id: r.try_get(0)?,
                role: word(r, 1)?,
                created_at_ms: r.try_get(2)?,
                expires_at_ms: r.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("listing invitations"))
}

/// Takes the team's member lock in `tx` and returns the caller's role in it, under that lock.
async fn lock_members(tx: &mut WriteTx, team: &TeamId, user_id: &str) -> Result<TeamRole, AppError> {
    if !bump_members(tx, team).await? {
        return Err(AppError::not_found("That team"));
    }
    find_role(&mut ***tx, team, user_id).await?.ok_or_else(|| AppError::not_found("That team"))
}

async fn owners(tx: &mut WriteTx, team: &TeamId) -> Result<i64, AppError> {
    sqlx::query_scalar("select count(*) from team_member where team_id = $1 and role = 'owner'")
        .bind(team.as_str())
        .fetch_one(&mut ***tx)
        .await
        .map_err(db_err("changing a team"))
}

/// Makes an invitation link for `role` (admin or member). Owners and admins only; only
/// owners may invite admins.
pub async fn invite(state: &AppState, by: &User, team: &TeamId, role: TeamRole) -> Result<NewInvite, AppError> {
    if role == TeamRole::Owner {
        return Err(AppError::validation("role", "Invite as admin or member; an owner can make owners later."));
    }
    let secret = random(24)?;
    let id = format!("ti_{}", random(12)?);
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(db_err("inviting"))?;
    let mine = lock_members(&mut tx, team, &by.id).await?;
    if !mine.manages() || (role == TeamRole::Admin && mine != TeamRole::Owner) {
        return Err(AppError::Forbidden);
    }
    let open: i64 = sqlx::query_scalar(
        "select count(*) from team_invite where team_id = $1 and accepted_by is null and revoked_at_ms is null \
         and expires_at_ms > $2",
    )
    .bind(team.as_str())
    .bind(now)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err("inviting"))?;
    if open >= MAX_OPEN_INVITES {
        return Err(AppError::validation(
            "role",
            format!("{MAX_OPEN_INVITES} invitations are open. Revoke some first."),
        ));
    }
    sqlx::query(
        "insert into team_invite (id, team_id, secret_hash, role, created_by, created_at_ms, expires_at_ms) \
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(team.as_str())
    .bind(digest(&secret))
    .bind(role.as_str())
    .bind(&by.id)
    .bind(now)
    .bind(now + INVITE_VALID_MS)
    .execute(&mut **tx)
    .await
    .map_err(db_err("inviting"))?;
    tx.commit().await.map_err(db_err("inviting"))?;
    let link = state
        .config
        .public_url
        .join(&format!("teams/join?code={secret}"))
        .map_err(|e| AppError::internal("making an invitation link", e))?
        .to_string();
    Ok(NewInvite { invite: TeamInvite { id, role, created_at_ms: now, expires_at_ms: now + INVITE_VALID_MS }, link })
}

/// Joins the team an invitation `code` is for. A code works once; an expired, revoked
/// or used one is refused, and someone already in the team keeps their role.
pub async fn accept(state: &AppState, user: &User, code: &str) -> Result<TeamSummary, AppError> {
    let code = code.trim();
    let refused = || AppError::validation("code", "This invitation is not valid: it was used, revoked or has expired.");
    if code.is_empty() || code.len() > 100 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refused());
    }
    let now = now_ms();
    let mut tx = state.db.begin_write().await.map_err(db_err("joining a team"))?;
    let row = sqlx::query(
        "select id, team_id, role from team_invite where secret_hash = $1 and accepted_by is null \
         and revoked_at_ms is null and expires_at_ms > $2",
    )
    .bind(digest(code))
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_err("joining a team"))?
    .ok_or_else(refused)?;
    let invite_id: String = row.try_get(0).map_err(db_err("joining a team"))?;
    let team = TeamId(row.try_get(1).map_err(db_err("joining a team"))?);
    let role: TeamRole = word(&row, 2).map_err(db_err("joining a team"))?;
    bump_members(&mut tx, &team).await?;
    if find_role(&mut **tx, &team, &user.id).await?.is_some() {
        return Err(AppError::Conflict { message: "You are already in this team.".into() });
    }
    let teams: i64 = sqlx::query_scalar("select count(*) from team_member where user_id = $1")
        .bind(&user.id)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_err("joining a team"))?;
    if teams >= MAX_TEAMS_PER_PERSON {
        return Err(AppError::validation("code", format!("You are in {MAX_TEAMS_PER_PERSON} teams. Leave one first.")));
    }
    // Used once: the guard makes a second acceptance, however close, find nothing.
    let used = sqlx::query(
        "update team_invite set accepted_by = $1, accepted_at_ms = $2 where id = $3 and accepted_by is null \
         and revoked_at_ms is null",
    )
    .bind(&user.id)
    .bind(now)
    .bind(&invite_id)
    .execute(&mut **tx)
    .await
    .map_err(db_err("joining a team"))?;
    if used.rows_affected() != 1 {
        return Err(refused());
    }
    sqlx::query("insert into team_member (team_id, user_id, role, joined_at_ms) values ($1, $2, $3, $4)")
        .bind(team.as_str())
        .bind(&user.id)
        .bind(role.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db_err("joining a team"))?;
    tx.commit().await.map_err(db_err("joining a team"))?;
    tracing::info!(team = %team.as_str(), role = %role, "team joined");
    let mut joined = list(state, user).await?;
    joined.retain(|t| t.id == team.as_str());
    joined.pop().ok_or_else(|| AppError::not_found("That team"))
}

/// Revokes an open invitation. Owners and admins only.
pub async fn revoke_invite(state: &AppState, by: &User, team: &TeamId, invite_id: &str) -> Result<(), AppError> {
    let mut tx = state.db.begin_write().await.map_err(db_err("revoking an invitation"))?;
    if !lock_members(&mut tx, team, &by.id).await?.manages() {
        return Err(AppError::Forbidden);
    }
    let done = sqlx::query(
        "update team_invite set revoked_at_ms = $1 where id = $2 and team_id = $3 and accepted_by is null \
         and revoked_at_ms is null",
    )
    .bind(now_ms())
    .bind(invite_id.trim())
    .bind(team.as_str())
    .execute(&mut **tx)
    .await
    .map_err(db_err("revoking an invitation"))?;
    if done.rows_affected() == 0 {
        return Err(AppError::not_found("That open invitation"));
    }
    tx.commit().await.map_err(db_err("revoking an invitation"))
}

/// Changes `member`'s role. Owners and admins manage admins and members; only owners
/// make or unmake owners; the last owner stays an owner.
pub async fn set_role(
    state: &AppState,
    by: &User,
    team: &TeamId,
    member: &str,
    role: TeamRole,
) -> Result<(), AppError> {
    let mut tx = state.db.begin_write().await.map_err(db_err("changing a role"))?;
    let mine = lock_members(&mut tx, team, &by.id).await?;
    let theirs = member_role(&mut tx, team, member).await?;
    if !mine.manages() || ((role == TeamRole::Owner || theirs == TeamRole::Owner) && mine != TeamRole::Owner) {
        return Err(AppError::Forbidden);
    }
    if theirs == TeamRole::Owner && role != TeamRole::Owner && owners(&mut tx, team).await? <= 1 {
        return Err(AppError::validation("role", "A team needs an owner: make someone else owner first."));
    }
    sqlx::query("update team_member set role = $1 where team_id = $2 and user_id = $3")
        .bind(role.as_str())
        .bind(team.as_str())
        .bind(member)
        .execute(&mut **tx)
        .await
        .map_err(db_err("changing a role"))?;
    tx.commit().await.map_err(db_err("changing a role"))
}

async fn member_role(tx: &mut WriteTx, team: &TeamId, member: &str) -> Result<TeamRole, AppError> {
    find_role(&mut ***tx, team, member).await?.ok_or_else(|| AppError::not_found("That member"))
}

/// Removes `member` from the team: by an owner or admin (only owners remove owners), or by
/// the member themself (leaving). The last owner cannot go.
pub async fn remove(state: &AppState, by: &User, team: &TeamId, member: &str) -> Result<(), AppError> {
    let mut tx = state.db.begin_write().await.map_err(db_err("removing a member"))?;
    let mine = lock_members(&mut tx, team, &by.id).await?;
    let theirs = member_role(&mut tx, team, member).await?;
    let leaving = member.trim() == by.id;
    if !leaving && (!mine.manages() || (theirs == TeamRole::Owner && mine != TeamRole::Owner)) {
        return Err(AppError::Forbidden);
    }
    if theirs == TeamRole::Owner && owners(&mut tx, team).await? <= 1 {
        return Err(AppError::validation(
            "member",
            if leaving {
                "You are the team's last owner: make someone else owner before you leave."
            } else {
                "The team's last owner cannot be removed."
            },
        ));
    }
    sqlx::query("delete from team_member where team_id = $1 and user_id = $2")
        .bind(team.as_str())
        .bind(member.trim())
        .execute(&mut **tx)
        .await
        .map_err(db_err("removing a member"))?;
    tx.commit().await.map_err(db_err("removing a member"))?;
    tracing::info!(team = %team.as_str(), leaving, "team member removed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_ids_are_checked_for_form() {
        assert!(TeamId::parse("team", "tm_0123456789abcdef01234567").is_ok());
        for bad in [
            "",
            "tm_",
            "tm_0123456789ABCDEF01234567",
            "tm_0123456789abcdef0123456",
            "xx_0123456789abcdef01234567",
            "tm_0123456789abcdef0123456'",
        ] {
            assert!(TeamId::parse("team", bad).is_err(), "{bad}");
        }
    }
}
