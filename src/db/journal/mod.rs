//! The journal: every update that asks for work is written to the database before Telegram
//! hears 200, and removed once its replies were sent, so an update we acknowledged survives a
//! stop, a crash or a kill and is handled at the next start.
//!
//! Writes go through a writer task ([`writer`]; three on PostgreSQL, taking turns) that
//! commits whatever is waiting in one transaction (group commit): while one commit runs, the
//! updates arriving meanwhile queue up and share the next, so a lone update is committed at
//! once and a burst costs a few transactions, not one per update. A written entry comes back as a [`Ticket`]; when the
//! ticket is dropped (the update and every piece of work it started are done) the entry is
//! removed, in the next group. After [`Journal::seal`] (shutdown gave up waiting) dropped
//! tickets remove nothing: what is still in flight then was not answered and stays for the
//! next start. When the database cannot be written the update is handled unjournaled (logged
//! and counted), so stories keep flowing through an outage.

pub mod store;
mod writer;

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::DatabaseConnection;
use tokio::sync::{mpsc, oneshot};

use super::{DbError, entity::journal_entry, now_ms, reachability::Reachability};
pub use store::NewEntry;
use writer::Op;

/// After a failed commit, writes are refused at once for this long (no update waits on a
/// database that just failed).
const DOWN_PAUSE: Duration = Duration::from_secs(1);
/// Writers committing groups at once on PostgreSQL: while one waits for its commit to reach
/// the disk, the next group is already being written (PostgreSQL flushes concurrent commits
/// together). SQLite has one writer at a time anyway, so it gets one.
const POSTGRES_WRITERS: usize = 3;
/// How often the age gauge is refreshed between commits.
const GAUGE_EVERY: Duration = Duration::from_secs(5);

tokio::task_local! {
    /// Set while work for a journaled update runs: its deliveries are written at once, so a
    /// told place is durable before the entry goes.
    static JOURNALED: bool;
}

/// Runs `work` marked as work for a journaled update (or not). A plain wrapper, not an
/// `async fn`: those keep their argument beside the future made of it, doubling the size of
/// every story's task.
pub fn scope<F: Future>(journaled: bool, work: F) -> impl Future<Output = F::Output> {
    JOURNALED.scope(journaled, work)
}

/// Whether the current task works for a journaled update.
pub fn in_journaled_work() -> bool {
    JOURNALED.try_with(|journaled| *journaled).unwrap_or(false)
}

/// Why an update could not be journaled.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JournalError {
    /// The commit failed, or one failed less than a second ago.
    #[error("journal write failed")]
    Database(#[source] Option<DbError>),
    /// The writer stopped (shutdown).
    #[error("journal closed")]
    Closed,
}

/// What writing an update down gave.
pub enum Written {
    /// A new entry: the update is ours to finish; dropping the ticket removes it.
    New(Ticket),
    /// The update was already journaled (a redelivery of an update in flight or replayed).
    Existing,
}

/// The journal's handle. Cheap to clone.
#[derive(Clone)]
pub struct Journal {
    /// Bounded by the backlog: an update is written only while it holds a backlog permit,
    /// and removed once, so at most `UPDATE_BACKLOG_MAX` writes and as many removals wait.
    ops: mpsc::UnboundedSender<Op>,
    state: Arc<State>,
}

/// What the handle and the writer share.
struct State {
    /// Set when shutdown gave up on the work in flight.
    sealed: AtomicBool,
    /// No write is tried before this (Unix ms), after a failed commit.
    down_until: AtomicI64,
    /// Shared with the `DbActor`: no write is tried while the database is unreachable.
    reach: Reachability,
    /// When this run started (Unix ms): entries older than this are an earlier run's.
    started_at: i64,
    /// Entries in the journal and when each was acknowledged, for the gauges.
    live: Mutex<HashMap<u32, i64>>,
    /// Transactions committed (the group commit's figure).
    commits: AtomicU64,
    /// Held (shared) by each writer while it commits; the writer that closes takes it whole
    /// to know every other commit is done.
    committing: tokio::sync::RwLock<()>,
}

impl State {
    fn live(&self) -> MutexGuard<'_, HashMap<u32, i64>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets both gauges from the entries known.
    fn publish(&self) {
        let (entries, oldest) = {
            let live = self.live();
            (live.len(), live.values().min().copied())
        };
        let age_ms = oldest.map_or(0, |oldest| now_ms().saturating_sub(oldest).max(0));
        metrics::gauge!("excursobot_journal_entries").set(entries as f64);
        metrics::gauge!("excursobot_journal_oldest_age_seconds").set(age_ms as f64 / 1000.0);
    }
}

impl Journal {
    /// Starts the writer over `db` (whose reachability `reach` tracks) on the current runtime.
    pub fn start(db: DatabaseConnection, reach: Reachability) -> Self {
        let (ops, receiver) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            sealed: AtomicBool::new(false),
            down_until: AtomicI64::new(0),
            reach,
            started_at: now_ms(),
            live: Mutex::default(),
            commits: AtomicU64::new(0),
            committing: tokio::sync::RwLock::new(()),
        });
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        for _ in 0..writers_for(&db) {
            let (db, receiver) = (db.clone(), Arc::clone(&receiver));
            tokio::spawn(writer::run(db, receiver, Arc::clone(&state)));
        }
        let gauges = Arc::downgrade(&state);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(GAUGE_EVERY);
            loop {
                every.tick().await;
                let Some(state) = gauges.upgrade() else { break };
                state.publish();
            }
        });
        Self { ops, state }
    }

    /// Writes `entry` down; answers once it is committed (with others arriving meanwhile).
    pub async fn write(&self, entry: NewEntry) -> Result<Written, JournalError> {
        if self.state.reach.is_down() || now_ms() < self.state.down_until.load(Ordering::Relaxed) {
            return Err(JournalError::Database(None));
        }
        let update_id = entry.update_id;
        let (done, committed) = oneshot::channel();
        self.ops
            .send(Op::Write { entry, done })
            .map_err(|_| JournalError::Closed)?;
        match committed.await {
            Ok(Ok(true)) => Ok(Written::New(self.ticket(update_id))),
            Ok(Ok(false)) => Ok(Written::Existing),
            Ok(Err(error)) => Err(JournalError::Database(Some(error))),
            Err(_) => Err(JournalError::Closed),
        }
    }

    /// Claims what an earlier run left (see [`store::claim`]), at most `limit` entries.
    pub async fn claim(
        &self,
        db: &DatabaseConnection,
        limit: u64,
    ) -> Result<Vec<journal_entry::Model>, DbError> {
        let rows = self
            .state
            .reach
            .query(store::claim(db, self.state.started_at, limit))
            .await?;
        let mut live = self.state.live();
        for row in &rows {
            if let Ok(id) = u32::try_from(row.update_id) {
                live.insert(id, row.received_at);
            }
        }
        drop(live);
        self.state.publish();
        Ok(rows)
    }

    /// The ticket of an entry claimed for replay: dropping it removes the entry.
    pub fn adopt(&self, update_id: u32) -> Ticket {
        self.ticket(update_id)
    }

    fn ticket(&self, update_id: u32) -> Ticket {
        Ticket {
            update_id,
            journal: self.clone(),
            kept: false,
        }
    }

    /// From now on dropped tickets remove nothing: their work was abandoned.
    pub fn seal(&self) {
        self.state.sealed.store(true, Ordering::Release);
    }

    /// Entries this run knows of (written, or claimed for replay, and not removed).
    pub fn entries(&self) -> usize {
        self.state.live().len()
    }

    /// Commits what waits (removals included), then stops the writers.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.ops.send(Op::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }
}

fn writers_for(db: &DatabaseConnection) -> usize {
    match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => POSTGRES_WRITERS,
        _ => 1,
    }
}

/// An entry of the journal owned by the work for its update; dropping it removes the entry
/// (unless the journal was sealed).
pub struct Ticket {
    update_id: u32,
    journal: Journal,
    /// Set by [`Ticket::keep`]: the entry stays.
    kept: bool,
}

impl Ticket {
    /// The journaled update's id.
    pub fn update_id(&self) -> u32 {
        self.update_id
    }

    /// Gives the ticket up without removing the entry (its update was not handled: the next
    /// start will).
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.kept {
            return;
        }
        if self.journal.state.sealed.load(Ordering::Acquire) {
            tracing::debug!(update_id = self.update_id, "journal sealed: entry kept");
            return;
        }
        // The writer gone means shutdown is over: the entry stays for the next start.
        let _ = self.journal.ops.send(Op::Remove(self.update_id));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    async fn sqlite() -> DatabaseConnection {
        let path = std::env::temp_dir().join(format!(
            "excursobot-journal-{}-{}.db",
            std::process::id(),
            now_ms()
        ));
        let db = crate::db::connect(&format!("sqlite://{}?mode=rwc", path.display()), 4)
            .await
            .unwrap();
        crate::db::migrate(&db).await.unwrap();
        db
    }

    fn entry(update_id: u32) -> NewEntry {
        NewEntry {
            update_id,
            body: "{}".into(),
            received_at: now_ms(),
        }
    }

    #[tokio::test]
    async fn updates_written_at_once_share_transactions_and_a_dropped_ticket_removes_its_entry() {
        let db = sqlite().await;
        let journal = Journal::start(db.clone(), Reachability::new(db.clone()));

        let writes = (1..=200).map(|id| journal.write(entry(id)));
        let written = futures::future::join_all(writes).await;
        let again = journal.write(entry(7)).await;

        let tickets: Vec<Ticket> = written
            .into_iter()
            .map(|written| match written.unwrap() {
                Written::New(ticket) => ticket,
                Written::Existing => panic!("a new update was found journaled"),
            })
            .collect();
        assert!(matches!(again, Ok(Written::Existing)));
        let commits = journal.state.commits.load(Ordering::Relaxed);
        assert!(commits < 50, "{commits} transactions for 201 writes");
        assert_eq!(store::size(&db).await.unwrap().0, 200);
        assert_eq!(journal.entries(), 200);

        drop(tickets);
        journal.close().await;
        assert_eq!(store::size(&db).await.unwrap().0, 0);
        assert_eq!(journal.entries(), 0);
    }

    #[tokio::test]
    async fn after_the_seal_a_dropped_ticket_keeps_its_entry() {
        let db = sqlite().await;
        let journal = Journal::start(db.clone(), Reachability::new(db.clone()));
        let Ok(Written::New(ticket)) = journal.write(entry(1)).await else {
            panic!("not written");
        };

        journal.seal();
        drop(ticket);
        journal.close().await;

        assert_eq!(store::size(&db).await.unwrap().0, 1);
    }
}
