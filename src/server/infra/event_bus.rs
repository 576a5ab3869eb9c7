//! Wakes whoever follows a wallet's money events when new ones commit.
//!
//! The events themselves are rows in the `event` table (the outbox); this only says
//! which wallet has new ones, so followers read them there. Wakeups may be lost or
//! repeated without harm: followers read by sequence number, and look again at least
//! every few seconds.
//! - PostgreSQL: after this instance commits, it reads which wallets have new events and
//!   sends `pg_notify('tollgate_events', wallet id)` for them in a statement of its own,
//!   heard by every instance listening (this one too). Not from the transaction that
//!   writes the events: a transaction that notifies holds a lock on the database's
//!   notification queue until its commit is on disk, so every money write of every
//!   instance would commit one after another.
//! - SQLite: one process writes (the embedded default), so this instance reads the new
//!   rows after each of its commits, and every 200 ms for other processes (the CLI).

use std::time::Duration;

use sqlx::Row;
use tokio::sync::broadcast;

use super::db::{Backend, Db};

/// The PostgreSQL channel the `event` trigger notifies.
pub const CHANNEL: &str = "tollgate_events";

/// How far back (in event ids) each PostgreSQL announcing round looks for events that
/// committed after higher ids were announced.
const LOOKBACK: i64 = 2048;

/// The least time between two PostgreSQL announcing rounds. Each round reads up to
/// [`LOOKBACK`] rows, so a busy instance should not run one after every commit.
const ROUND_PAUSE: Duration = Duration::from_millis(20);

/// Sent instead of a wallet id when some wakeups may have been missed: every follower
/// looks again.
pub const EVERYONE: i64 = -1;

/// How many wakeups wait for slow followers before the oldest are dropped (they then
/// get [`EVERYONE`]).
const CAPACITY: usize = 1024;

/// PostgreSQL: notifies every wallet with any of the last [`LOOKBACK`] events, for a
/// process that wrote money events and stops without announcing them as a server does
/// (the command line). A follower that had them already looks and finds nothing new.
/// SQLite needs nothing: servers read the table for other processes' events.
pub async fn announce_recent(db: &Db) {
    if db.backend() != Backend::Postgres {
        return;
    }
    let sent = sqlx::query(
        "select pg_notify($1, cast(w as text)) from (select distinct wallet_id as w from event \
         where id > (select coalesce(max(id), 0) from event) - $2) recent",
    )
    .bind(CHANNEL)
    .bind(LOOKBACK)
    .execute(db.pool())
    .await;
    if let Err(e) = sent {
        tracing::warn!(error = %e, "cannot announce new money events");
    }
}

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
            Backend::Postgres => tokio::spawn(async move {
                let announcing = bus.clone();
                tokio::join!(bus.listen(&url), announcing.announce(&db));
            }),
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

    /// PostgreSQL: after each round of this instance's commits, notifies every wallet with
    /// events newer than it announced before. Event ids are taken when rows are inserted
    /// and transactions on different wallets commit in any order, so a smaller id may
    /// appear after a larger one was announced: each round looks back over the last
    /// [`LOOKBACK`] ids. On one wallet ids grow in commit order (its row is locked from
    /// its first event to the commit), so a wallet is announced when its highest id grew.
    async fn announce(&self, db: &Db) {
        let mut commits = db.commits();
        // What was there before this instance started was announced by whoever wrote it.
        let mut top = latest_event_id(db).await;
        let mut announced: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
        loop {
            if commits.changed().await.is_err() {
                return;
            }
            let rows = sqlx::query("select wallet_id, max(id) from event where id > $1 group by wallet_id")
                .bind(top - LOOKBACK)
                .fetch_all(db.pool())
                .await;
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read new money events to announce");
                    continue;
                }
            };
            let mut wallets = Vec::new();
            for row in rows {
                let (Ok(wallet), Ok(id)) = (row.try_get::<i64, _>(0), row.try_get::<i64, _>(1)) else { continue };
                if announced.get(&wallet).is_none_or(|&before| id > before) {
                    announced.insert(wallet, id);
                    wallets.push(wallet.to_string());
                }
                top = top.max(id);
            }
            announced.retain(|_, id| *id > top - LOOKBACK);
            if wallets.is_empty() {
                continue;
            }
            let sent = sqlx::query("select pg_notify($1, w) from unnest(string_to_array($2, ',')) as w")
                .bind(CHANNEL)
                .bind(wallets.join(","))
                .execute(db.pool())
                .await;
            if let Err(e) = sent {
                tracing::warn!(error = %e, "cannot announce new money events");
            }
            // Commits that came meanwhile are read in the next round: rounds, not commits,
            // set the pace, so a busy instance sends few notifications with many wallets.
            tokio::time::sleep(ROUND_PAUSE).await;
        }
    }

    async fn tail(&self, db: &Db) {
        let mut commits = db.commits();
        let mut last = latest_event_id(db).await;
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

/// The newest event's id (0 when there is none, or when it cannot be read: followers then
/// start from the beginning, which repeats wakeups but loses none).
async fn latest_event_id(db: &Db) -> i64 {
    match sqlx::query_scalar::<_, Option<i64>>("select max(id) from event").fetch_one(db.pool()).await {
        Ok(max) => max.unwrap_or(0),
        Err(_) => 0,
    }
}
