//! Wakes whoever follows a wallet's money events when new ones commit.
//!
//! The events themselves are rows in the `event` table (the outbox); this only says
//! which wallet has new ones, so followers read them there. Wakeups may be lost or
//! repeated without harm: followers read by sequence number, and look again at least
//! every few seconds.
//! - PostgreSQL: a trigger on `event` runs `pg_notify('tollgate_events', wallet id)`,
//!   delivered when the transaction commits, to every instance listening (this one too).
//! - SQLite: one process writes (the embedded default), so this instance reads the new
//!   rows after each of its commits, and every 200 ms for other processes (the CLI).

use std::time::Duration;

use sqlx::Row;
use tokio::sync::broadcast;

use super::db::{Backend, Db};

/// The PostgreSQL channel the `event` trigger notifies.
pub const CHANNEL: &str = "tollgate_events";

/// Sent instead of a wallet id when some wakeups may have been missed: every follower
/// looks again.
pub const EVERYONE: i64 = -1;

/// How many wakeups wait for slow followers before the oldest are dropped (they then
/// get [`EVERYONE`]).
const CAPACITY: usize = 1024;

/// The wakeups of one instance. Cheap to clone.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<i64>,
    /// True once the server is stopping: followers end, so their streams close and do
    /// not hold the shutdown up.
    closing: std::sync::Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    pub fn new() -> Self {
        Self { tx: broadcast::channel(CAPACITY).0, closing: std::sync::Arc::new(tokio::sync::watch::channel(false).0) }
    }

    /// Tells followers the server is stopping.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Completes once the server is stopping.
    pub async fn closed(&self) {
        let mut rx = self.closing.subscribe();
        // An error means the bus itself is gone: stopping all the same.
        let _ = rx.wait_for(|closing| *closing).await;
    }

    /// Wakeups from now on: wallet ids with new events, or [`EVERYONE`].
    pub fn subscribe(&self) -> broadcast::Receiver<i64> {
        self.tx.subscribe()
    }

    fn wake(&self, wallet: i64) {
        // Nobody following is fine.
        let _ = self.tx.send(wallet);
    }

    /// Feeds the bus until aborted: LISTEN on PostgreSQL (at `url`), reading the table
    /// after commits on SQLite.
    pub fn spawn(&self, db: Db, url: String) -> tokio::task::JoinHandle<()> {
        let bus = self.clone();
        match db.backend() {
            Backend::Postgres => tokio::spawn(async move { bus.listen(&url).await }),
            Backend::Sqlite => tokio::spawn(async move { bus.tail(&db).await }),
        }
    }

    async fn listen(&self, url: &str) {
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect(url).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for money events; trying again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "cannot listen for money events; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // Anything committed while not listening is read now.
            self.wake(EVERYONE);
            loop {
                match listener.try_recv().await {
                    Ok(Some(n)) => self.wake(n.payload().parse().unwrap_or(EVERYONE)),
                    // The connection was lost and is made again on the next call: what was
                    // notified meanwhile is gone, so everyone looks again.
                    Ok(None) => {
                        tracing::warn!("the money events listener reconnected");
                        self.wake(EVERYONE);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the money events listener; listening again");
                        self.wake(EVERYONE);
                        break;
                    }
                }
            }
        }
    }

    async fn tail(&self, db: &Db) {
        let mut commits = db.commits();
        let mut last: i64 =
            match sqlx::query_scalar::<_, Option<i64>>("select max(id) from event").fetch_one(db.pool()).await {
                Ok(max) => max.unwrap_or(0),
                Err(_) => 0,
            };
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                changed = commits.changed() => if changed.is_err() { return },
                _ = tick.tick() => {}
            }
            let rows = sqlx::query("select id, wallet_id from event where id > $1 order by id limit 1000")
                .bind(last)
                .fetch_all(db.pool())
                .await;
            match rows {
                Ok(rows) => {
                    for row in rows {
                        if let (Ok(id), Ok(wallet)) = (row.try_get::<i64, _>(0), row.try_get::<i64, _>(1)) {
                            last = id;
                            self.wake(wallet);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read new money events"),
            }
        }
    }
}
