//! Usage reports from the usage records: per-day spend, the per-call history, and
//! analytics buckets. Days are UTC. Credit spend is what was taken from the wallet; calls
//! paid with the person's own key show their provider price but are not credit spend.

use crate::server::services::gateway::catalog::Catalog;
use sqlx::Row;

use crate::server::infra::db::{Db, db_err, optional_word, word};
use crate::shared::dto::keys::Provider;
use crate::shared::dto::usage::{DaySummary, MemberSpend, UsageRecord, UsageSummary};
use crate::shared::error::AppError;
use crate::shared::format::{utc_date, utc_timestamp};
use crate::shared::money::Micros;
use crate::shared::states::PaidWith;

pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;
/// The longest period a report covers.
pub const MAX_DAYS: u32 = 366;
/// Most records one history page gives.
pub const MAX_HISTORY: u32 = 500;

/// Whose usage a report is of: a person's calls paid from their own wallet (or their own
/// key), or every call paid from a team's wallet, whoever in the team made it.
#[derive(Clone, Copy, Debug)]
pub enum UsageOf<'a> {
    Person(&'a str),
    Team(&'a str),
}

impl<'a> UsageOf<'a> {
    pub fn of(acting: &'a crate::server::services::wallets::Acting) -> Self {
        match acting.team_id() {
            Some(team) => Self::Team(team),
            None => Self::Person(&acting.user.id),
        }
    }

    /// The condition on `usage_record` (alias `u`) with the owner's id as parameter `$n`.
    fn clause(self, n: usize) -> String {
        match self {
            Self::Person(_) => format!("u.user_id = ${n} and u.team_id is null"),
            Self::Team(_) => format!("u.team_id = ${n}"),
        }
    }

    fn id(self) -> &'a str {
        match self {
            Self::Person(id) | Self::Team(id) => id,
        }
    }
}

/// The last `days` UTC days up to and including the one holding `now_ms`: what each cost
/// in credits, how many calls it had, and the provider price of calls paid with the
/// person's own key. Days without calls are listed with zeros.
pub async fn summary(db: &Db, of: UsageOf<'_>, days: u32, now_ms: i64) -> Result<UsageSummary, AppError> {
    let days = days.clamp(1, MAX_DAYS);
    let today = now_ms.div_euclid(DAY_MS);
    let first = today - i64::from(days) + 1;
    let rows = sqlx::query(&format!(
        "select u.created_at_ms / 86400000 as day, cast(coalesce(sum(u.charged_micros), 0) as bigint), count(*), \
             cast(coalesce(sum(case when u.paid_with = 'own_key' and u.status = 'succeeded' then u.cost_micros \
                 else 0 end), 0) as bigint) \
         from usage_record u where {} and u.created_at_ms >= $2 \
         group by 1",
        of.clause(1)
    ))
    .bind(of.id())
    .bind(first * DAY_MS)
    .fetch_all(db.pool())
    .await
    .map_err(db_err("reading usage"))?;
    let mut list: Vec<DaySummary> = (first..=today)
        .map(|day| DaySummary {
            date: utc_date(day * DAY_MS),
            cost: Micros::ZERO,
            requests: 0,
            own_key_cost: Micros::ZERO,
        })
        .collect();
    for row in rows {
        let day: i64 = row.try_get(0).map_err(db_err("reading usage"))?;
        if let Some(slot) = usize::try_from(day - first).ok().and_then(|i| list.get_mut(i)) {
            slot.cost = Micros(row.try_get(1).map_err(db_err("reading usage"))?);
            slot.requests = row.try_get(2).map_err(db_err("reading usage"))?;
            slot.own_key_cost = Micros(row.try_get(3).map_err(db_err("reading usage"))?);
        }
    }
    let total = Micros(list.iter().map(|d| d.cost.get()).sum());
    let requests = list.iter().map(|d| d.requests).sum();
    let members = match of {
        UsageOf::Team(_) => by_member(db, of, first * DAY_MS).await?,
        UsageOf::Person(_) => Vec::new(),
    };
    Ok(UsageSummary { days: list, total, requests, members })
}

/// A team's spend since `since_ms` per member, most first.
async fn by_member(db: &Db, of: UsageOf<'_>, since_ms: i64) -> Result<Vec<MemberSpend>, AppError> {
    let rows = sqlx::query(&format!(
        "select p.email, cast(coalesce(sum(u.charged_micros), 0) as bigint), count(*) \
         from usage_record u join app_user p on p.id = u.user_id where {} and u.created_at_ms >= $2 \
         group by p.email order by 2 desc, p.email",
        of.clause(1)
    ))
    .bind(of.id())
    .bind(since_ms)
    .fetch_all(db.pool())
    .await
    .map_err(db_err("reading usage"))?;
    rows.iter()
        .map(|r| Ok(MemberSpend { email: r.try_get(0)?, cost: Micros(r.try_get(1)?), requests: r.try_get(2)? }))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("reading usage"))
}

/// Who a call went through, as people read it: `tollgate` when it was routed through this
/// platform's account and paid with credits, else the provider the person's key paid.
fn route_label(provider: Provider, paid_with: PaidWith) -> String {
    match (paid_with, provider) {
        (PaidWith::OwnKey, Provider::OpenRouter) => "openrouter".into(),
        (PaidWith::OwnKey, Provider::Fal) => "fal.ai".into(),
        (PaidWith::Credits, _) => "tollgate".into(),
    }
}

/// The calls of the last `days` days, newest first, at most `limit`; each model named as
/// `catalog` names it.
pub async fn history(
    db: &Db,
    catalog: &Catalog,
    of: UsageOf<'_>,
    limit: u32,
    days: u32,
    now_ms: i64,
) -> Result<Vec<UsageRecord>, AppError> {
    let limit = limit.clamp(1, MAX_HISTORY);
    let since = (now_ms.div_euclid(DAY_MS) - i64::from(days.clamp(1, MAX_DAYS)) + 1) * DAY_MS;
    let rows = sqlx::query(&format!(
        "select u.id, u.created_at_ms, u.provider, u.endpoint_id, u.operation, u.status, u.failure, u.paid_with, \
             u.cost_estimate_micros, u.cost_micros, u.charged_micros, u.unit, u.units_milli, \
             (select p.email from app_user p where p.id = u.user_id) \
         from usage_record u where {} and u.created_at_ms >= $2 \
         order by u.created_at_ms desc, u.id desc limit $3",
        of.clause(1)
    ))
    .bind(of.id())
    .bind(since)
    .bind(i64::from(limit))
    .fetch_all(db.pool())
    .await
    .map_err(db_err("reading usage"))?;
    rows.iter()
        .map(|r| {
            let created_at_ms: i64 = r.try_get(1)?;
            let provider: Provider = word(r, 2)?;
            let paid_with: PaidWith = word(r, 7)?;
            Ok(UsageRecord {
                id: r.try_get(0)?,
                date: utc_date(created_at_ms),
                created_at_ms,
                route: route_label(provider, paid_with),
                provider,
                model: r.try_get(3)?,
                model_name: catalog.name_of(&r.try_get::<String, _>(3)?),
                operation: r.try_get(4)?,
                status: word(r, 5)?,
                failure: optional_word(r, 6)?,
                paid_with,
                cost_estimate: Micros(r.try_get(8)?),
                cost: r.try_get::<Option<i64>, _>(9)?.map(Micros),
                charged: Micros(r.try_get(10)?),
                unit: r.try_get(11)?,
                units: r.try_get::<i64, _>(12)? as f64 / 1000.0,
                // Who made the call matters in a team's report only.
                member: match of {
                    UsageOf::Team(_) => r.try_get(13)?,
                    UsageOf::Person(_) => None,
                },
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("reading usage"))
}

/// One bucket of the analytics series.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Bucket {
    pub start: String,
    pub start_ms: i64,
    /// The model or operation, as grouped.
    pub key: String,
    pub cost_micros: i64,
    pub requests: i64,
    pub own_key_cost_micros: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Model,
    Operation,
}

/// Spend and calls per `bucket_ms` (an hour or a day) and model or operation, between
/// `from_ms` (inclusive) and `to_ms` (exclusive), oldest first.
pub async fn analytics(
    db: &Db,
    of: UsageOf<'_>,
    bucket_ms: i64,
    group_by: GroupBy,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Bucket>, AppError> {
    let column = match group_by {
        GroupBy::Model => "endpoint_id",
        GroupBy::Operation => "operation",
    };
    let owner = of.clause(2);
    let rows = sqlx::query(&format!(
        "select u.created_at_ms / $1 as b, u.{column}, cast(coalesce(sum(u.charged_micros), 0) as bigint), count(*), \
             cast(coalesce(sum(case when u.paid_with = 'own_key' and u.status = 'succeeded' then u.cost_micros \
                 else 0 end), 0) as bigint) \
         from usage_record u where {owner} and u.created_at_ms >= $3 and u.created_at_ms < $4 \
         group by 1, 2 order by 1, 2"
    ))
    .bind(bucket_ms)
    .bind(of.id())
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(db.pool())
    .await
    .map_err(db_err("reading usage"))?;
    rows.iter()
        .map(|r| {
            let start_ms = r.try_get::<i64, _>(0)? * bucket_ms;
            Ok(Bucket {
                start: if bucket_ms == DAY_MS { utc_date(start_ms) } else { utc_timestamp(start_ms) },
                start_ms,
                key: r.try_get(1)?,
                cost_micros: r.try_get(2)?,
                requests: r.try_get(3)?,
                own_key_cost_micros: r.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(db_err("reading usage"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_labelled_for_people() {
        assert_eq!(route_label(Provider::Fal, PaidWith::Credits), "tollgate");
        assert_eq!(route_label(Provider::Fal, PaidWith::OwnKey), "fal.ai");
        assert_eq!(route_label(Provider::OpenRouter, PaidWith::OwnKey), "openrouter");
    }
}
