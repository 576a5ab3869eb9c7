//! The database: the embedded SQLite file by default, PostgreSQL when several app
//! instances share one store.
//!
//! Both run behind sqlx's `Any` driver so the services write their SQL once. The SQL is
//! kept to what both understand (`$1` placeholders, `returning`, `on conflict`); the few
//! places that must differ ask [`Db::backend`]. Schemas live in `migrations/sqlite` and
//! `migrations/postgres`, kept in step by number.

use std::str::FromStr;
use std::sync::Once;
use std::time::Duration;

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::server::infra::config::{DatabaseSetting, redact_url};
use crate::server::infra::group_commit::{BoxFuture, GroupError, GroupFailure, Lanes, Step, Work};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// A connection pool and which database it talks to. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite allows one writer at a time. Queuing writers here, in order, instead of
    /// letting them poll SQLite's busy lock with growing sleeps keeps tail latency low
    /// under concurrency. PostgreSQL locks rows itself and needs no gate.
    write_gate: Option<Arc<Mutex<()>>>,
    /// Write transactions this instance has committed, counted after each commit.
    /// A value read before a query and unchanged afterwards means this instance changed
    /// nothing meanwhile (see [`Db::write_generation`]).
    writes: Arc<AtomicU64>,
    /// The SQLite database's file (none for PostgreSQL or an in-memory database).
    sqlite_file: Option<std::path::PathBuf>,
    /// Told the count of committed write transactions after each commit (see
    /// [`Db::commits`]).
    committed: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where [`Db::write_grouped`] queues work to share a commit; `None` runs each piece
    /// in a transaction of its own.
    group: Option<Arc<Lanes>>,
}

/// A transaction that writes. On SQLite it holds the write gate until it ends.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _gate: Option<OwnedMutexGuard<()>>,
    writes: Arc<AtomicU64>,
    committed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let result = self.tx.commit().await;
        // Counted whatever the answer: a commit that reported an error may still be on disk.
        let n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        self.committed.send_replace(n);
        result
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = Transaction<'static, Any>;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
}

/// What `migrate` did, for the CLI and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied_before: usize,
    pub applied_now: usize,
    pub latest_version: i64,
}

impl Db {
    /// Opens the pool. For SQLite the file (and its directory) is created when missing,
    /// and each connection is put in WAL mode with a busy timeout, so readers never block
    /// the writer and concurrent writers queue instead of failing.
    pub async fn connect(setting: &DatabaseSetting, max_connections: u32) -> Result<Self, DbError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(sqlx::any::install_default_drivers);

        let shown = redact_url(setting.url());
        let connect_err = |e: sqlx::Error| DbError::Connect { url: shown.clone(), reason: one_line(&e.to_string()) };
        let (backend, url, sqlite_file) = match setting {
            DatabaseSetting::Sqlite { url } => (Backend::Sqlite, sqlite_url_creating_dir(url)?, sqlite_path(url)),
            DatabaseSetting::Postgres { url } => (Backend::Postgres, url.clone(), None),
        };
        let options = AnyConnectOptions::from_str(&url).map_err(connect_err)?;
        let pool_options =
            AnyPoolOptions::new().max_connections(max_connections).acquire_timeout(Duration::from_secs(10));
        let pool_options = match backend {
            // A SQLite connection is a file opened in this process: it cannot go stale
            // the way a network connection can, so it is not pinged (a round trip to its
            // thread) each time it is taken from the pool.
            Backend::Sqlite => pool_options.test_before_acquire(false).after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        // synchronous = full: a commit is on disk before it is acknowledged,
                        // power loss included. This is a ledger.
                        "pragma journal_mode = wal; pragma synchronous = full; \
                         pragma foreign_keys = on; pragma busy_timeout = 10000;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => pool_options,
        };
        let pool = pool_options.connect_with(options).await.map_err(connect_err)?;
        let write_gate = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        let db = Self {
            pool,
            backend,
            write_gate,
            writes: Arc::new(AtomicU64::new(0)),
            sqlite_file,
            committed: Arc::new(tokio::sync::watch::channel(0).0),
            group: None,
        };
        Ok(db.grouping_writes(true, max_connections))
    }

    /// Turns group commit on or off (see [`Db::write_grouped`]). SQLite gets one lane (it
    /// has one writer); PostgreSQL one lane per two pooled connections, so grouped work
    /// never takes more than half the pool.
    pub fn grouping_writes(mut self, on: bool, max_connections: u32) -> Self {
        self.group = None;
        if on {
            let lanes = match self.backend {
                Backend::Sqlite => 1,
                Backend::Postgres => (max_connections as usize / 2).max(1),
            };
            self.group = Some(Arc::new(Lanes::start(self.clone(), lanes)));
        }
        self
    }

    /// Batches run and pieces of work in them so far; `None` when writes are not grouped.
    pub fn group_stats(&self) -> Option<crate::server::infra::group_commit::GroupStats> {
        self.group.as_ref().map(|lanes| lanes.stats())
    }

    /// Runs `work` in a write transaction shared with other callers' work, each in a
    /// savepoint of its own, and answers once that transaction has committed (see
    /// [`crate::server::infra::group_commit`]). Work with the same `key` (a wallet's
    /// owner, say) always shares a lane, so it meets in one transaction instead of
    /// waiting on another batch's locks. `work` may run twice: once beside others and,
    /// if it failed there, alone; it writes only through the transaction it is given.
    pub async fn write_grouped<T, E, W>(&self, key: &str, work: W) -> Result<T, E>
    where
        T: Send + 'static,
        E: GroupError,
        W: for<'t> Fn(&'t mut WriteTx) -> BoxFuture<'t, Result<Step<T>, E>> + Send + Sync + 'static,
    {
        let work: Arc<Work<T, E>> = Arc::new(work);
        if let Some(lanes) = &self.group {
            match lanes.submit(key, work.clone()).await {
                Ok(Some(value)) => return Ok(value),
                Ok(None) => {}
                Err(GroupFailure::Work(e)) => return Err(e),
                Err(GroupFailure::Commit(e)) => return Err(E::database(sqlx::Error::Protocol(e))),
            }
        }
        // PostgreSQL ends one side of a deadlock with an error; that side is run again
        // (nothing of the failed try was written), as a piece that fails in a batch is,
        // after a short pause that grows with each try so the two sides stop meeting.
        let tries = if self.backend == Backend::Postgres { 4 } else { 1 };
        let mut tried = 0;
        loop {
            tried += 1;
            let mut tx = self.begin_write().await.map_err(E::database)?;
            match work(&mut tx).await {
                Ok(Step::Keep(value)) => {
                    tx.commit().await.map_err(E::database)?;
                    return Ok(value);
                }
                Ok(Step::Undo(value)) => {
                    tx.rollback().await.map_err(E::database)?;
                    return Ok(value);
                }
                Err(e) if tried >= tries => return Err(e),
                Err(_) => {
                    let _ = tx.rollback().await;
                    tracing::warn!(tried, "a write failed on PostgreSQL; trying it again");
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 8);
                    tokio::time::sleep(Duration::from_millis((2u64 << tried) + jitter)).await;
                }
            }
        }
    }

    /// Changes after each write transaction this instance commits.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.committed.subscribe()
    }

    /// The SQLite database's file; `None` for PostgreSQL and in-memory databases.
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        self.sqlite_file.as_deref()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Begins a transaction that will write. Every multi-statement write goes through
    /// here so SQLite writers queue in order (see `write_gate`).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        // SQLite: take the write lock now (BEGIN IMMEDIATE), waiting out other writers
        // (busy_timeout). A deferred transaction that reads first would get a snapshot,
        // and its first write would fail at once (SQLITE_BUSY) if any write had
        // committed since, outside this process's gate: a token's last use, the CLI,
        // an instance that just started.
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _gate: gate, writes: self.writes.clone(), committed: self.committed.clone() })
    }

    /// How many write transactions this instance has committed. Read it before reading
    /// something; if it is the same afterwards, nothing this instance wrote can have
    /// changed the answer (writes by other processes are not counted).
    pub fn write_generation(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Brings the schema up to date. Safe to run from several instances at once: sqlx
    /// takes an advisory lock on PostgreSQL, and SQLite serialises writers.
    pub async fn migrate(&self) -> Result<MigrationReport, DbError> {
        let before = self.applied_migrations().await.unwrap_or(0);
        let mut attempt = 1;
        loop {
            match self.migrator().run(&self.pool).await {
                Ok(()) => break,
                // SQLite has no migration lock: when two processes start on one file
                // together, the slower one trips over the faster one's work. Running
                // again after it finishes sees everything applied.
                Err(e) if self.backend == Backend::Sqlite && attempt < 5 => {
                    tracing::debug!(attempt, error = %e, "migration raced another process; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(DbError::Migrate(one_line(&e.to_string()))),
            }
        }
        let after = self.applied_migrations().await.map_err(|e| DbError::Migrate(one_line(&e.to_string())))?;
        Ok(MigrationReport {
            applied_before: before,
            applied_now: after - before,
            latest_version: self.schema_version().await.map_err(|e| DbError::Migrate(one_line(&e.to_string())))?,
        })
    }

    async fn applied_migrations(&self) -> Result<usize, sqlx::Error> {
        let n: i64 =
            sqlx::query_scalar("select count(*) from _sqlx_migrations where success").fetch_one(&self.pool).await?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// The newest migration applied, 0 on an empty database.
    pub async fn schema_version(&self) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("select coalesce(max(version), 0) from _sqlx_migrations where success")
            .fetch_one(&self.pool)
            .await
    }

    /// A round trip to the database, for `/readyz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("select 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The path and query of a SQLite URL (or plain path).
fn sqlite_parts(url: &str) -> (&str, &str) {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.split_once('?').unwrap_or((rest, ""))
}

/// The file a SQLite URL names; `None` for an in-memory database.
fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let (path, query) = sqlite_parts(url);
    let memory = path == ":memory:" || path.is_empty() || query.split('&').any(|kv| kv == "mode=memory");
    (!memory).then(|| std::path::PathBuf::from(path))
}

/// Makes sure the directory of a SQLite file exists and asks sqlx to create the file.
fn sqlite_url_creating_dir(url: &str) -> Result<String, DbError> {
    let (path, query) = sqlite_parts(url);
    if path != ":memory:"
        && let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DbError::DataDir { path: dir.display().to_string(), source })?;
    }
    let mut query = query.to_string();
    if !query.split('&').any(|kv| kv.starts_with("mode=")) {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str("mode=rwc");
    }
    Ok(format!("sqlite://{path}?{query}"))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns a database error into the opaque internal error, logged with what was being done.
pub fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> crate::shared::error::AppError {
    move |e| crate::shared::error::AppError::internal(context, e)
}

/// Reads a column (by position or name) that holds one of a text enum's words; any
/// other word is an error: a state this code does not know is not guessed at.
pub fn word<T, I>(row: &sqlx::any::AnyRow, index: I) -> Result<T, sqlx::Error>
where
    T: FromStr<Err = crate::shared::text_enum::UnknownValue>,
    I: sqlx::ColumnIndex<sqlx::any::AnyRow> + std::fmt::Debug + Copy,
{
    use sqlx::Row;
    let raw: String = row.try_get(index)?;
    raw.parse().map_err(|e| sqlx::Error::ColumnDecode { index: format!("{index:?}"), source: Box::new(e) })
}

/// [`word`] for a column that may be null.
pub fn optional_word<T, I>(row: &sqlx::any::AnyRow, index: I) -> Result<Option<T>, sqlx::Error>
where
    T: FromStr<Err = crate::shared::text_enum::UnknownValue>,
    I: sqlx::ColumnIndex<sqlx::any::AnyRow> + std::fmt::Debug + Copy,
{
    use sqlx::Row;
    let raw: Option<String> = row.try_get(index)?;
    raw.map(|raw| {
        raw.parse().map_err(|e| sqlx::Error::ColumnDecode { index: format!("{index:?}"), source: Box::new(e) })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_are_opened_create_if_missing() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("nested/dir/t.db");
        let url = sqlite_url_creating_dir(&format!("sqlite://{}", file.display())).unwrap();
        assert_eq!(url, format!("sqlite://{}?mode=rwc", file.display()));
        assert!(file.parent().unwrap().is_dir());
        let kept = sqlite_url_creating_dir("sqlite::memory:?mode=ro").unwrap();
        assert_eq!(kept, "sqlite://:memory:?mode=ro");
    }
}
