//! Calls in flight per wallet: a person's or a team's wallet may have so many calls going
//! at once (run now or queued), a number that grows with what its buyers have paid
//! (`calls_in_flight_tiers`) or that an administrator set for it.
//!
//! A call takes its place by a guarded update (`in_flight < limit`) in the transaction
//! that begins it, after its wallet (lock order: run cap, budgets, wallet, places), and
//! gives it back in the transaction that finishes it, however it ends, so concurrent
//! calls on any number of instances never pass the limit and no place is lost.

use crate::server::infra::db::{Db, WriteTx, db_err};
use crate::server::infra::installation::now_ms;
use crate::server::infra::state::AppState;
use crate::shared::error::AppError;
use crate::shared::money::Micros;

/// The limit's name in a refusal (`"limit": "concurrency"`).
pub const LIMIT_NAME: &str = "concurrency";
/// When to try again after a refusal: calls usually take seconds.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Whose wallet: a person's own, or a team's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    Person(&'a str),
    Team(&'a str),
}

impl<'a> Owner<'a> {
    /// The wallet a call pays from: its team's, or its caller's.
    pub fn of(user_id: &'a str, team_id: Option<&'a str>) -> Self {
        match team_id {
            Some(team) => Self::Team(team),
            None => Self::Person(user_id),
        }
    }

    pub fn id(&self) -> &'a str {
        match self {
            Self::Person(id) | Self::Team(id) => id,
        }
    }
}

/// What the wallet's buyers have paid in all: completed payments (Checkout, auto top-up,
/// invoices) less what was refunded.
pub async fn paid_total(db: &Db, owner: Owner<'_>) -> Result<Micros, AppError> {
    let sql = match owner {
        Owner::Person(_) => {
            "select cast(coalesce(sum(amount_micros - refunded_micros), 0) as bigint) from checkout_session \
             where user_id = $1 and team_id is null and status = 'completed'"
        }
        Owner::Team(_) => {
            "select cast(coalesce(sum(amount_micros - refunded_micros), 0) as bigint) from checkout_session \
             where team_id = $1 and status = 'completed'"
        }
    };
    let paid: i64 = sqlx::query_scalar(sql)
        .bind(owner.id())
        .fetch_one(db.pool())
        .await
        .map_err(db_err("reading what a wallet's buyers paid"))?;
    Ok(Micros(paid.max(0)))
}

/// How many calls the wallet may have going by its tier (an override aside).
pub async fn tier_limit(state: &AppState, owner: Owner<'_>) -> Result<u32, AppError> {
    Ok(state.config.calls_in_flight.limit_for(paid_total(&state.db, owner).await?))
}

/// A call refused because its wallet has as many calls going as it may.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Busy {
    pub in_flight: i64,
    pub max: i64,
    /// The limit was set by an administrator rather than by the tiers.
    pub overridden: bool,
    pub paid: Micros,
    /// The next tier: from how much paid, how many at once.
    pub next: Option<(Micros, u32)>,
}

impl Busy {
    pub fn describe(&self) -> String {
        let calls = |n: i64| if n == 1 { "1 call".to_string() } else { format!("{n} calls") };
        let mut text = format!(
            "This wallet has {} running, the most it may run at once. Try again when one finishes.",
            calls(self.in_flight)
        );
        if let (false, Some((from, n))) = (self.overridden, self.next) {
            text.push_str(&format!(
                " The limit grows with purchases: from {from} paid in all ({} so far), {n} at once.",
                self.paid
            ));
        }
        text
    }

    pub fn to_error(&self) -> AppError {
        AppError::TooManyCalls {
            limit: LIMIT_NAME.to_string(),
            message: self.describe(),
            in_flight: self.in_flight,
            max_in_flight: self.max,
            retry_after_secs: RETRY_AFTER_SECS,
        }
    }
}

/// Takes one of the wallet's places for a call beginning in `tx`, if one is free under
/// `tier_max` (or the administrator's limit).
pub async fn take(tx: &mut WriteTx, owner_id: &str, tier_max: u32) -> Result<Result<(), ()>, AppError> {
    let err = db_err("counting calls in flight");
    let now = now_ms();
    let take = || {
        sqlx::query(
            "update wallet_calls set in_flight = in_flight + 1, updated_at_ms = $1 \
             where owner_id = $2 and in_flight < coalesce(max_override, $3)",
        )
        .bind(now)
        .bind(owner_id)
        .bind(i64::from(tier_max))
    };
    if take().execute(&mut ***tx).await.map_err(&err)?.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    // The wallet's first call (or all its places are taken): make its row, then try
    // again (a concurrent first call may have made it meanwhile).
    sqlx::query(
        "insert into wallet_calls (owner_id, in_flight, updated_at_ms) values ($1, 0, $2) \
         on conflict (owner_id) do nothing",
    )
    .bind(owner_id)
    .bind(now)
    .execute(&mut ***tx)
    .await
    .map_err(&err)?;
    if take().execute(&mut ***tx).await.map_err(&err)?.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    Ok(Err(()))
}

/// Gives back the place a call finishing in `tx` held.
pub async fn release(tx: &mut WriteTx, owner_id: &str) -> Result<(), AppError> {
    sqlx::query(
        "update wallet_calls set in_flight = in_flight - 1, updated_at_ms = $1 where owner_id = $2 and in_flight > 0",
    )
    .bind(now_ms())
    .bind(owner_id)
    .execute(&mut ***tx)
    .await
    .map_err(db_err("counting calls in flight"))?;
    Ok(())
}

/// Where a wallet stands: calls going, its limit and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Standing {
    pub in_flight: i64,
    /// The limit in force: the administrator's, or the tier's.
    pub max: i64,
    pub tier_max: u32,
    pub max_override: Option<i64>,
    pub paid: Micros,
    pub next: Option<(Micros, u32)>,
}

impl Standing {
    pub fn busy(&self) -> Busy {
        Busy {
            in_flight: self.in_flight,
            max: self.max,
            overridden: self.max_override.is_some(),
            paid: self.paid,
            next: self.next,
        }
    }

    /// One line for the CLI.
    pub fn describe(&self) -> String {
        let why = match self.max_override {
            Some(_) => "set by an administrator".to_string(),
            None => format!("by purchases: {} paid in all", self.paid),
        };
        let next = match (self.max_override, self.next) {
            (None, Some((from, n))) => format!("; {n} at once from {from} paid"),
            _ => String::new(),
        };
        format!("{} of {} calls in flight (limit {why}{next})", self.in_flight, self.max)
    }
}

pub async fn standing(state: &AppState, owner: Owner<'_>) -> Result<Standing, AppError> {
    let paid = paid_total(&state.db, owner).await?;
    let tier_max = state.config.calls_in_flight.limit_for(paid);
    let row: Option<(i64, Option<i64>)> =
        sqlx::query_as("select in_flight, max_override from wallet_calls where owner_id = $1")
            .bind(owner.id())
            .fetch_optional(state.db.pool())
            .await
            .map_err(db_err("counting calls in flight"))?;
    let (in_flight, max_override) = row.unwrap_or((0, None));
    Ok(Standing {
        in_flight,
        max: max_override.unwrap_or(i64::from(tier_max)),
        tier_max,
        max_override,
        paid,
        next: state.config.calls_in_flight.next_above(paid),
    })
}

/// Sets (or with `None` removes) an administrator's limit on the wallet's calls at once.
pub async fn set_override(state: &AppState, owner: Owner<'_>, max: Option<u32>) -> Result<Standing, AppError> {
    if max == Some(0) {
        return Err(AppError::validation("max", "Allow at least 1 call at once."));
    }
    let now = now_ms();
    sqlx::query(
        "insert into wallet_calls (owner_id, in_flight, max_override, updated_at_ms) values ($1, 0, $2, $3) \
         on conflict (owner_id) do update set max_override = excluded.max_override, updated_at_ms = excluded.updated_at_ms",
    )
    .bind(owner.id())
    .bind(max.map(i64::from))
    .bind(now)
    .execute(state.db.pool())
    .await
    .map_err(db_err("setting a limit on calls in flight"))?;
    tracing::info!(owner = owner.id(), max = ?max, "calls-in-flight limit set");
    standing(state, owner).await
}

/// A wallet an administrator names: a person's by email, or a team's by id. The owner's
/// id, and whether it is a team.
pub async fn named_wallet(
    state: &AppState,
    email: Option<&str>,
    team: Option<&str>,
) -> Result<(String, bool), AppError> {
    use crate::server::services::accounts::users;
    match (email, team) {
        (Some(email), None) => {
            let email = users::normalize_email(email)?;
            let user = users::find_by_email(&state.db, &email)
                .await?
                .ok_or_else(|| AppError::validation("email", "No account has that email."))?;
            Ok((user.id, false))
        }
        (None, Some(team)) => {
            let team = crate::server::services::teams::TeamId::parse("team", team)?;
            let found: Option<String> = sqlx::query_scalar("select id from team where id = $1")
                .bind(team.as_str())
                .fetch_optional(state.db.pool())
                .await
                .map_err(db_err("finding a team"))?;
            let id = found.ok_or_else(|| AppError::validation("team", "No team has that id."))?;
            Ok((id, true))
        }
        _ => Err(AppError::validation("email", "Name the wallet: --email for a person's, or --team for a team's.")),
    }
}
