//! Setting budgets: a limit in USD per window (day, week, month, or total, in UTC) on an
//! API token (by its owner), on a team or on one of its members (by the team's owners and
//! admins). The gateway enforces them (`gateway::budgets`).

use sqlx::Row;

use crate::server::infra::db::{db_err, word};
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::server::services::accounts::users::User;
use crate::server::services::gateway::budgets::{window_end, window_start};
use crate::server::services::teams::{self, TeamId};
use crate::server::services::wallets::member_subject;
use crate::shared::dto::budgets::{Budget, BudgetPeriod, BudgetScope};
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// The largest budget limit: $1,000,000.
const MAX_LIMIT: Micros = Micros(1_000_000_000_000);

/// Reads a limit in dollars (`"25"`, `"25.00"`) for field `field`.
pub fn parse_limit(field: &str, raw: &str) -> Result<Micros, AppError> {
    let limit = Micros::parse_positive(raw.trim().trim_start_matches('$'))
        .map_err(|e| AppError::validation(field, format!("{field}: {e}")))?;
    if limit > MAX_LIMIT {
        return Err(AppError::validation(field, format!("{field} can be at most {MAX_LIMIT}.")));
    }
    Ok(limit)
}

pub fn parse_period(field: &str, raw: &str) -> Result<BudgetPeriod, AppError> {
    BudgetPeriod::parse(raw.trim())
        .ok_or_else(|| AppError::validation(field, format!("{field} must be day, week, month or total.")))
}

/// The id of a token of `user`'s that is in use; anything else is not found.
async fn own_token(state: &AppState, user: &User, token_id: &str) -> Result<String, AppError> {
    let id = token_id.trim();
    let found: Option<String> =
        sqlx::query_scalar("select id from api_token where id = $1 and user_id = $2 and revoked_at_ms is null")
            .bind(id)
            .bind(&user.id)
            .fetch_optional(state.db.pool())
            .await
            .map_err(db_err("reading a token"))?;
    found.ok_or_else(|| AppError::not_found("That API token"))
}

/// Sets (or changes) the budget of `user`'s token `token_id`. A changed period starts a
/// new window; a changed limit keeps what the window has spent.
pub async fn set_token_budget(
    state: &AppState,
    user: &User,
    token_id: &str,
    limit: Micros,
    period: BudgetPeriod,
) -> Result<Budget, AppError> {
    let token = own_token(state, user, token_id).await?;
    upsert(state, BudgetScope::Token, &token, limit, period, user).await
}

/// Removes the budget of `user`'s token `token_id` (calls under way settle without it).
pub async fn remove_token_budget(state: &AppState, user: &User, token_id: &str) -> Result<(), AppError> {
    let token = own_token(state, user, token_id).await?;
    delete(state, BudgetScope::Token, &token, "A budget on that token").await
}

/// The subject of a team's budget, or of one member's in it (`member`: a user id or an
/// email), for
/// `by`, who must be the team's owner or admin; a member must be in the team.
async fn team_subject(
    state: &AppState,
    by: &User,
    team: &TeamId,
    member: Option<&str>,
) -> Result<(BudgetScope, String), AppError> {
    if !teams::role_of(state, by, team).await?.manages() {
        return Err(AppError::Forbidden);
    }
    match member.map(str::trim) {
        None => Ok((BudgetScope::Team, team.as_str().to_string())),
        Some(who) => {
            // A member by user id, or by email.
            let email = who.to_lowercase();
            let found = teams::detail(state, by, team)
                .await?
                .members
                .into_iter()
                .find(|m| m.user_id == who || m.email == email);
            match found {
                Some(m) => Ok((BudgetScope::Member, member_subject(team.as_str(), &m.user_id))),
                None => Err(AppError::not_found("That member")),
            }
        }
    }
}

/// Sets the budget of `team` as a whole, or of its member `member` (a user id). Owners
/// and admins only.
pub async fn set_team_budget(
    state: &AppState,
    by: &User,
    team: &TeamId,
    member: Option<&str>,
    limit: Micros,
    period: BudgetPeriod,
) -> Result<Budget, AppError> {
    let (scope, subject) = team_subject(state, by, team, member).await?;
    upsert(state, scope, &subject, limit, period, by).await
}

/// Removes the budget of `team`, or of its member `member`. Owners and admins only.
pub async fn remove_team_budget(
    state: &AppState,
    by: &User,
    team: &TeamId,
    member: Option<&str>,
) -> Result<(), AppError> {
    let (scope, subject) = team_subject(state, by, team, member).await?;
    let what = if scope == BudgetScope::Team { "A budget on that team" } else { "A budget on that member" };
    delete(state, scope, &subject, what).await
}

/// The budgets in `team`: the team's and its members'. Owners and admins see them all;
/// a member sees the team's and their own.
pub async fn list_team(state: &AppState, user: &User, team: &TeamId) -> Result<Vec<Budget>, AppError> {
    let role = teams::role_of(state, user, team).await?;
    let rows = sqlx::query(
        "select id, limit_micros, period, window_start_ms, spent_micros, subject, scope from budget \
         where (scope = 'team' and subject = $1) or (scope = 'member' and substr(subject, 1, 28) = $2) \
         order by scope desc, subject",
    )
    .bind(team.as_str())
    .bind(format!("{}:", team.as_str()))
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("listing budgets"))?;
    let own = member_subject(team.as_str(), &user.id);
    let mut all = Vec::new();
    for r in &rows {
        let subject: String = r.try_get(5).map_err(db_err("listing budgets"))?;
        let scope: BudgetScope = word(r, 6).map_err(db_err("listing budgets"))?;
        if scope == BudgetScope::Member && !role.manages() && subject != own {
            continue;
        }
        all.push(read(r, scope, &subject)?);
    }
    Ok(all)
}

/// Writes a budget: a changed period starts a new window; a changed limit keeps what the
/// window has spent.
async fn upsert(
    state: &AppState,
    scope: BudgetScope,
    subject: &str,
    limit: Micros,
    period: BudgetPeriod,
    by: &User,
) -> Result<Budget, AppError> {
    let now = now_ms();
    let start = window_start(period, now);
    let id = format!(
        "bg_{}",
        crate::server::infra::crypto::random_hex(12).map_err(|e| AppError::internal("making a budget", e))?
    );
    let mut tx = state.db.begin_write().await.map_err(db_err("setting a budget"))?;
    sqlx::query(
        "insert into budget (id, scope, subject, limit_micros, period, window_start_ms, spent_micros, created_by, \
             updated_at_ms) values ($1, $2, $3, $4, $5, $6, 0, $7, $8) \
         on conflict (scope, subject) do update set limit_micros = excluded.limit_micros, \
             spent_micros = case when budget.period = excluded.period then budget.spent_micros else 0 end, \
             window_start_ms = case when budget.period = excluded.period then budget.window_start_ms \
                 else excluded.window_start_ms end, \
             period = excluded.period, updated_at_ms = excluded.updated_at_ms",
    )
    .bind(&id)
    .bind(scope.as_str())
    .bind(subject)
    .bind(limit.get())
    .bind(period.as_str())
    .bind(start)
    .bind(&by.id)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_err("setting a budget"))?;
    tx.commit().await.map_err(db_err("setting a budget"))?;
    tracing::info!(scope = %scope, subject, limit_micros = limit.get(), period = %period, "budget set");
    get(state, scope, subject).await?.ok_or_else(|| AppError::internal("setting a budget", "not found"))
}

/// Deletes a budget (calls under way settle without it); `what` names it when there is none.
async fn delete(state: &AppState, scope: BudgetScope, subject: &str, what: &str) -> Result<(), AppError> {
    let mut tx = state.db.begin_write().await.map_err(db_err("removing a budget"))?;
    sqlx::query(
        "delete from budget_charge where budget_id in (select id from budget where scope = $1 and subject = $2)",
    )
    .bind(scope.as_str())
    .bind(subject)
    .execute(&mut **tx)
    .await
    .map_err(db_err("removing a budget"))?;
    let gone = sqlx::query("delete from budget where scope = $1 and subject = $2")
        .bind(scope.as_str())
        .bind(subject)
        .execute(&mut **tx)
        .await
        .map_err(db_err("removing a budget"))?;
    if gone.rows_affected() == 0 {
        return Err(AppError::not_found(what));
    }
    tx.commit().await.map_err(db_err("removing a budget"))
}

/// The budget on `subject`, as it stands now (a window that has ended shows as reset).
pub async fn get(state: &AppState, scope: BudgetScope, subject: &str) -> Result<Option<Budget>, AppError> {
    let row = sqlx::query(
        "select id, limit_micros, period, window_start_ms, spent_micros from budget where scope = $1 and subject = $2",
    )
    .bind(scope.as_str())
    .bind(subject)
    .fetch_optional(state.db.pool())
    .await
    .map_err(db_err("reading a budget"))?;
    row.map(|r| read(&r, scope, subject)).transpose()
}

fn read(r: &sqlx::any::AnyRow, scope: BudgetScope, subject: &str) -> Result<Budget, AppError> {
    let err = db_err("reading a budget");
    let period: BudgetPeriod = word(r, 2).map_err(&err)?;
    let stored_start: i64 = r.try_get(3).map_err(&err)?;
    let current = window_start(period, now_ms());
    let (start, spent) =
        if current > stored_start { (current, 0) } else { (stored_start, r.try_get::<i64, _>(4).map_err(&err)?) };
    Ok(Budget {
        id: r.try_get(0).map_err(&err)?,
        scope,
        subject: subject.to_string(),
        limit: Micros(r.try_get(1).map_err(&err)?),
        period,
        spent: Micros(spent),
        window_start_ms: start,
        resets_at_ms: window_end(period, start),
    })
}

/// The budgets on `user`'s tokens in use.
pub async fn list_for(state: &AppState, user: &User) -> Result<Vec<Budget>, AppError> {
    let rows = sqlx::query(
        "select b.id, b.limit_micros, b.period, b.window_start_ms, b.spent_micros, b.subject from budget b \
         join api_token t on t.id = b.subject where b.scope = 'token' and t.user_id = $1 and t.revoked_at_ms is null \
         order by t.created_at_ms, t.id",
    )
    .bind(&user.id)
    .fetch_all(state.db.pool())
    .await
    .map_err(db_err("listing budgets"))?;
    rows.iter()
        .map(|r| {
            let subject: String = r.try_get(5).map_err(db_err("listing budgets"))?;
            read(r, BudgetScope::Token, &subject)
        })
        .collect()
}
