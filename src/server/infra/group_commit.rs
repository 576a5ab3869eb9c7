//! Group commit: many callers' small write transactions run inside one database
//! transaction, so one commit (one fsync) makes all of them durable.
//!
//! A caller hands [`Db::write_grouped`](super::db::Db::write_grouped) its work: an async
//! function of a write transaction that answers [`Step::Keep`] (its writes are to stay) or
//! [`Step::Undo`] (a refusal: its writes, if any, are taken back). A lane (one on SQLite,
//! which has one writer; several on PostgreSQL, chosen by the work's key so that work on
//! one wallet always meets in one lane) takes whatever work is waiting, runs each piece
//! in turn inside one transaction, each in a savepoint of its own, and commits once.
//!
//! Nothing observable changes:
//! - a caller hears its answer only after the commit that made its writes durable; when
//!   the commit fails, every caller whose writes were in it gets the error;
//! - one piece's refusal or error rolls back its own savepoint only, never its batch-mates';
//! - a piece that fails inside a batch of several is run again alone, in a transaction of
//!   its own, so a batch-mate (a lock it held, a deadlock it was part of) is never the
//!   reason a caller gets an error;
//! - the work is the same SQL with the same guards, run one piece after another, so
//!   idempotency keys, the no-overdraft updates and the audit see exactly what they see
//!   when each piece commits alone. Batching only changes when commits happen.
//!
//! A caller that goes away before its work has run (its task stopped) takes the work
//! with it: it is skipped, or rolled back to its savepoint, as its own transaction would
//! have been.
//!
//! A panic inside a piece ends its batch (the transaction is rolled back); every caller in
//! it gets an internal error and the lane goes on with the next batch.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::db::{Db, WriteTx};

/// What a piece of grouped work decided: keep its writes, or take them back.
#[derive(Debug)]
pub enum Step<T> {
    Keep(T),
    Undo(T),
}

/// An error grouped work can end with, and how a database failure of its batch (or of
/// its own transaction) becomes one.
pub trait GroupError: Send + 'static {
    fn database(e: sqlx::Error) -> Self;
}

impl GroupError for crate::shared::error::AppError {
    fn database(e: sqlx::Error) -> Self {
        Self::internal("writing to the database", e)
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The most pieces one transaction takes. Bounds how long a batch holds its locks (and,
/// on SQLite, the one write lock) before the commit lets the next one in.
const MAX_BATCH_SQLITE: usize = 128;
const MAX_BATCH_POSTGRES: usize = 32;

/// Work waiting in a lane, its types erased.
trait Pending: Send {
    /// Runs the work in `tx`; what it decided and how to tell its caller.
    fn run<'t>(self: Box<Self>, tx: &'t mut WriteTx) -> BoxFuture<'t, Ran>;
    /// Tells the caller its work was not run (the batch could not begin): run it alone.
    fn not_run(self: Box<Self>);
}

/// A piece that has run: whether its writes stay, and the call that answers its caller
/// once the batch's fate is known.
struct Ran {
    keep: bool,
    answer: Box<dyn FnOnce(BatchEnd) + Send>,
}

/// How a batch ended, as its pieces' callers learn it.
#[derive(Clone)]
struct BatchEnd {
    /// `Err` carries the commit's error, as text (one error, many callers).
    committed: Result<(), String>,
    /// The piece ran alone: an error it met is its own.
    alone: bool,
}

/// What the caller's side of the channel receives.
enum Delivered<T, E> {
    Done(T),
    Failed(E),
    CommitFailed(String),
    RunAlone,
}

pub(crate) type Work<T, E> = dyn for<'t> Fn(&'t mut WriteTx) -> BoxFuture<'t, Result<Step<T>, E>> + Send + Sync;

struct Job<T, E> {
    work: Arc<Work<T, E>>,
    reply: oneshot::Sender<Delivered<T, E>>,
}

impl<T: Send + 'static, E: Send + 'static> Pending for Job<T, E> {
    fn run<'t>(self: Box<Self>, tx: &'t mut WriteTx) -> BoxFuture<'t, Ran> {
        Box::pin(async move {
            let Job { work, mut reply } = *self;
            // A caller that went away (its task stopped) takes its unfinished work with
            // it, as if it had run its own transaction: nothing of it is written.
            let gone = || Ran { keep: false, answer: Box::new(|_| {}) };
            if reply.is_closed() {
                return gone();
            }
            let outcome = tokio::select! {
                biased;
                outcome = work(tx) => outcome,
                () = reply.closed() => return gone(),
            };
            match outcome {
                Ok(Step::Keep(value)) => Ran {
                    keep: true,
                    answer: Box::new(move |end: BatchEnd| {
                        let _ = reply.send(match end.committed {
                            Ok(()) => Delivered::Done(value),
                            Err(e) => Delivered::CommitFailed(e),
                        });
                    }),
                },
                // A refusal stands once what it saw (its batch-mates' writes) is durable;
                // if that never commits, it is asked again alone.
                Ok(Step::Undo(value)) => Ran {
                    keep: false,
                    answer: Box::new(move |end: BatchEnd| {
                        let _ = reply.send(match end.committed {
                            Ok(()) => Delivered::Done(value),
                            Err(_) => Delivered::RunAlone,
                        });
                    }),
                },
                Err(e) => Ran {
                    keep: false,
                    answer: Box::new(move |end: BatchEnd| {
                        let _ = reply.send(if end.alone { Delivered::Failed(e) } else { Delivered::RunAlone });
                    }),
                },
            }
        })
    }

    fn not_run(self: Box<Self>) {
        let _ = self.reply.send(Delivered::RunAlone);
    }
}

/// The lanes of one database.
pub(crate) struct Lanes {
    senders: Vec<mpsc::UnboundedSender<Box<dyn Pending>>>,
    counts: Arc<Counts>,
}

/// What the lanes have done so far: batches that ran and the pieces in them.
#[derive(Default)]
struct Counts {
    batches: std::sync::atomic::AtomicU64,
    pieces: std::sync::atomic::AtomicU64,
}

/// Batches run and pieces of work run in them, since the database was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupStats {
    pub batches: u64,
    pub pieces: u64,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes").field("lanes", &self.senders.len()).finish()
    }
}

impl Lanes {
    /// Starts `count` lanes writing through `db` (which must not group its own writes).
    pub(crate) fn start(db: Db, count: usize) -> Self {
        let max_batch = Self::max_batch(db.backend());
        let counts = Arc::new(Counts::default());
        let senders = (0..count.max(1))
            .map(|_| {
                let (send, receive) = mpsc::unbounded_channel();
                let lane = lane(db.clone(), receive, max_batch, counts.clone());
                match db.backend() {
                    super::db::Backend::Sqlite => on_thread_of_its_own(lane),
                    super::db::Backend::Postgres => drop(tokio::spawn(lane)),
                }
                send
            })
            .collect();
        Self { senders, counts }
    }

    pub(crate) fn stats(&self) -> GroupStats {
        use std::sync::atomic::Ordering::Relaxed;
        GroupStats { batches: self.counts.batches.load(Relaxed), pieces: self.counts.pieces.load(Relaxed) }
    }

    pub(super) fn max_batch(backend: super::db::Backend) -> usize {
        match backend {
            super::db::Backend::Sqlite => MAX_BATCH_SQLITE,
            super::db::Backend::Postgres => MAX_BATCH_POSTGRES,
        }
    }

    /// Queues `work` in the lane for `key` and waits for its answer. `None` when it must
    /// be run alone: it failed beside others, its batch could not begin, or the lane is gone.
    pub(crate) async fn submit<T, E>(&self, key: &str, work: Arc<Work<T, E>>) -> Result<Option<T>, GroupFailure<E>>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut hasher);
        let lane = &self.senders[(hasher.finish() % self.senders.len() as u64) as usize];
        let (reply, answer) = oneshot::channel();
        if lane.send(Box::new(Job { work, reply })).is_err() {
            return Ok(None);
        }
        match answer.await {
            Ok(Delivered::Done(value)) => Ok(Some(value)),
            Ok(Delivered::Failed(e)) => Err(GroupFailure::Work(e)),
            Ok(Delivered::CommitFailed(e)) => Err(GroupFailure::Commit(e)),
            Ok(Delivered::RunAlone) => Ok(None),
            // The batch panicked: its transaction was rolled back.
            Err(_) => Err(GroupFailure::Commit("a batch of writes stopped before it committed".into())),
        }
    }
}

/// Why grouped work did not get its answer.
pub(crate) enum GroupFailure<E> {
    /// The work's own error, met when it ran alone.
    Work(E),
    /// Its writes were in a batch whose commit failed (or that stopped on a panic).
    Commit(String),
}

/// Runs SQLite's one lane on a thread of its own. Every statement of a batch is a round
/// trip to the connection's thread; on the shared runtime each answer would wait its turn
/// behind every request being served, while a thread that does nothing else is woken at
/// once. The lane ends (and the thread with it) when the database is dropped.
fn on_thread_of_its_own(lane: impl Future<Output = ()> + Send + 'static) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let started = runtime.and_then(|runtime| {
        std::thread::Builder::new().name("tollgate-writes".into()).spawn(move || runtime.block_on(lane))
    });
    if let Err(e) = started {
        // Without a thread, no batch would ever run: that is no state to serve in.
        panic!("could not start the database's writing thread: {e}");
    }
}

async fn lane(db: Db, mut receive: mpsc::UnboundedReceiver<Box<dyn Pending>>, max_batch: usize, counts: Arc<Counts>) {
    while let Some(first) = receive.recv().await {
        // Whatever queued while the last batch ran goes into this one.
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match receive.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        counts.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        counts.pieces.fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        // A batch runs in a task of its own so that a panic in one piece ends that batch
        // (its transaction rolled back, its callers told as their replies are dropped),
        // not the lane.
        if let Err(e) = tokio::spawn(run_batch(db.clone(), batch)).await {
            tracing::error!(error = %e, "a batch of writes stopped before it committed");
        }
    }
}

/// Runs one batch in one transaction and answers its callers once it has committed.
async fn run_batch(db: Db, pieces: Vec<Box<dyn Pending>>) {
    let mut tx = match db.begin_write().await {
        Ok(tx) => tx,
        Err(e) => {
            tracing::warn!(error = %e, "a batch of writes could not begin; each runs alone");
            pieces.into_iter().for_each(|p| p.not_run());
            return;
        }
    };
    if pieces.len() == 1 {
        // Alone: the transaction itself is the savepoint.
        let piece = pieces.into_iter().next().expect("one piece");
        let ran = piece.run(&mut tx).await;
        let committed = if ran.keep {
            tx.commit().await.map_err(|e| e.to_string())
        } else {
            let _ = tx.rollback().await;
            Ok(())
        };
        (ran.answer)(BatchEnd { committed, alone: true });
        return;
    }
    let mut answers = Vec::with_capacity(pieces.len());
    let mut pieces = pieces.into_iter();
    // Each piece runs between a savepoint and its release (or rollback to it); the end
    // of one and the start of the next go to the database as one round trip.
    let mut opening = "savepoint grouped";
    let mut broken: Option<String> = None;
    for piece in pieces.by_ref() {
        if let Err(e) = plain(&mut tx, opening).await {
            broken = Some(e.to_string());
            piece.not_run();
            break;
        }
        let ran = piece.run(&mut tx).await;
        opening = if ran.keep {
            "release savepoint grouped; savepoint grouped"
        } else {
            "rollback to savepoint grouped; release savepoint grouped; savepoint grouped"
        };
        answers.push(ran);
    }
    pieces.for_each(|p| p.not_run());
    let committed = match broken {
        Some(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
        None => match plain(&mut tx, opening.trim_end_matches("; savepoint grouped")).await {
            Ok(_) => tx.commit().await.map_err(|e| e.to_string()),
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e.to_string())
            }
        },
    };
    if let Err(e) = &committed {
        tracing::error!(error = %e, pieces = answers.len(), "a batch of writes did not commit");
    }
    for ran in answers {
        (ran.answer)(BatchEnd { committed: committed.clone(), alone: false });
    }
}

/// Sends statements without parameters (several, separated by `;`) in one round trip.
fn plain<'c>(tx: &'c mut WriteTx, sql: &'static str) -> BoxFuture<'c, Result<(), sqlx::Error>> {
    Box::pin(async move { sqlx::Executor::execute(&mut ***tx, sql).await.map(|_| ()) })
}
