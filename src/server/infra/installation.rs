//! The identity of this installation, created on first start.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::Row;

use crate::server::infra::db::Db;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installation {
    pub installation_id: String,
    pub created_at_ms: i64,
}

pub fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// Returns the installation row, creating it if this is the first start. Several
/// instances starting together all end up with the same row: the insert does nothing
/// when another instance won the race.
pub async fn ensure(db: &Db) -> Result<Installation, sqlx::Error> {
    let candidate = uuid::Uuid::new_v4().simple().to_string();
    sqlx::query(
        "insert into installation (id, installation_id, created_at_ms) values (1, $1, $2) \
         on conflict (id) do nothing",
    )
    .bind(&candidate)
    .bind(now_ms())
    .execute(db.pool())
    .await?;
    let row = sqlx::query("select installation_id, created_at_ms from installation where id = 1")
        .fetch_one(db.pool())
        .await?;
    Ok(Installation { installation_id: row.try_get(0)?, created_at_ms: row.try_get(1)? })
}
