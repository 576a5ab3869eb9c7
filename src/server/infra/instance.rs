//! This process as one instance among those sharing a database, and the lease that says
//! it is alive.
//!
//! Each server process has an id of its own, written on every call it runs. While the
//! process lives it holds a lease no other process can take:
//! - PostgreSQL: a session-level advisory lock on a connection kept for the purpose. The
//!   database drops the lock as soon as that session ends, which is when the process dies
//!   (the kernel closes its sockets, even after `kill -9`).
//! - SQLite: an exclusive lock on a file beside the database (`<db>-instances/<id>.lock`),
//!   dropped by the kernel when the process ends.
//!
//! Another instance that can take a lease has proof its owner is gone, so the owner's
//! unfinished calls can be settled without racing a live process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::Connection;

use super::db::{Backend, Db};

/// One server process's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InstanceId(uuid::Uuid);

impl InstanceId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }

    /// An id as recorded; anything that is not one is `None` (it never names a file).
    pub fn parse(raw: &str) -> Option<Self> {
        uuid::Uuid::parse_str(raw).ok().map(Self)
    }

    /// The key of this instance's advisory lock on PostgreSQL.
    fn lock_key(self) -> i64 {
        let bytes = self.0.as_bytes();
        i64::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]])
    }

    fn lock_file(self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.lock", self.0.simple()))
    }
}

impl Default for InstanceId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Display for InstanceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a SQLite database's instances keep their lock files.
fn lock_dir(sqlite_file: &Path) -> PathBuf {
    let mut name = sqlite_file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push("-instances");
    sqlite_file.with_file_name(name)
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("cannot take this instance's lease in the database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot take this instance's lease file {path}: {source}")]
    File { path: String, source: std::io::Error },
}

/// This instance's lease, held until it is dropped (or the process ends).
pub struct Lease {
    id: InstanceId,
    held: Held,
}

enum Held {
    /// The connection whose session holds the advisory lock.
    Postgres(Option<AnyConnection>),
    File {
        _file: std::fs::File,
        path: PathBuf,
    },
    /// An in-memory SQLite database: no other process can share it.
    Memory,
}

impl Lease {
    /// Takes `id`'s lease on `db`.
    pub async fn take(db: &Db, id: InstanceId) -> Result<Self, LeaseError> {
        let held = match (db.backend(), db.sqlite_file()) {
            (Backend::Postgres, _) => Held::Postgres(Some(lock_session(db, id).await?)),
            (Backend::Sqlite, Some(file)) => {
                let dir = lock_dir(file);
                let path = id.lock_file(&dir);
                let err = |source| LeaseError::File { path: path.display().to_string(), source };
                std::fs::create_dir_all(&dir).map_err(err)?;
                let file =
                    std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(err)?;
                file.try_lock().map_err(|e| err(std::io::Error::other(e.to_string())))?;
                Held::File { _file: file, path }
            }
            (Backend::Sqlite, None) => Held::Memory,
        };
        Ok(Self { id, held })
    }

    pub fn id(&self) -> InstanceId {
        self.id
    }

    /// Checks the lease is still held, taking it again if its database session was lost
    /// (a database restart, say). Run every few seconds.
    pub async fn keep(&mut self, db: &Db) {
        let Held::Postgres(conn) = &mut self.held else { return };
        let alive = match conn.as_mut() {
            Some(c) => c.ping().await.is_ok(),
            None => false,
        };
        if alive {
            return;
        }
        tracing::error!(instance = %self.id, "lost the database session that holds this instance's lease; taking it again");
        *conn = match lock_session(db, self.id).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(instance = %self.id, error = %e, "cannot take this instance's lease again");
                None
            }
        };
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Held::File { path, .. } = &self.held {
            // Stopping cleanly: nothing is left for others to settle, so no file either.
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A connection of its own whose session holds `id`'s advisory lock.
async fn lock_session(db: &Db, id: InstanceId) -> Result<AnyConnection, sqlx::Error> {
    let mut conn = db.pool().acquire().await?.detach();
    sqlx::query("select pg_advisory_lock($1)").bind(id.lock_key()).execute(&mut conn).await?;
    Ok(conn)
}

/// Whether instance `id` is gone: its lease can be taken. Only then may its unfinished
/// calls be settled by someone else.
pub async fn is_gone(db: &Db, id: InstanceId) -> Result<bool, LeaseError> {
    match (db.backend(), db.sqlite_file()) {
        (Backend::Postgres, _) => {
            let mut conn = db.pool().acquire().await?;
            let taken: bool =
                sqlx::query_scalar("select pg_try_advisory_lock($1)").bind(id.lock_key()).fetch_one(&mut *conn).await?;
            if taken {
                // A gone instance never comes back: the lock has served its purpose.
                sqlx::query("select pg_advisory_unlock($1)").bind(id.lock_key()).execute(&mut *conn).await?;
            }
            Ok(taken)
        }
        (Backend::Sqlite, Some(file)) => {
            let path = id.lock_file(&lock_dir(file));
            let file = match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(file) => file,
                // No file: the instance stopped cleanly (or never took its lease).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
                Err(source) => return Err(LeaseError::File { path: path.display().to_string(), source }),
            };
            match file.try_lock() {
                Ok(()) => {
                    let _ = std::fs::remove_file(&path);
                    Ok(true)
                }
                Err(std::fs::TryLockError::WouldBlock) => Ok(false),
                Err(std::fs::TryLockError::Error(source)) => {
                    Err(LeaseError::File { path: path.display().to_string(), source })
                }
            }
        }
        // An in-memory database lives in this process only.
        (Backend::Sqlite, None) => Ok(true),
    }
}

/// How often the lease is checked.
pub const KEEP_EVERY: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_files_sit_beside_the_database_and_are_named_by_the_id() {
        let id = InstanceId::parse("0f8fad5b-d9cb-469f-a165-70867728950e").unwrap();
        let dir = lock_dir(Path::new("/var/lib/tollgate/tollgate.db"));
        assert_eq!(dir, Path::new("/var/lib/tollgate/tollgate.db-instances"));
        assert_eq!(
            id.lock_file(&dir),
            Path::new("/var/lib/tollgate/tollgate.db-instances/0f8fad5bd9cb469fa16570867728950e.lock")
        );
        assert!(InstanceId::parse("../../etc/passwd").is_none());
    }
}
