//! Where tours survive restarts: the [`SessionStore`] trait (one row per user, upsert on
//! save), the in-process [`InMemorySessionStore`], and the [`SessionWriter`] that feeds a
//! store from the actor without ever making the actor wait.
//!
//! The writer is write-behind: the actor hands it operations over a channel; one task applies
//! them in order, collapsing a burst of saves of one tour into its latest state. A failed
//! write is logged and superseded by the next save of that tour.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use futures::future::{BoxFuture, FutureExt};
use tokio::sync::{mpsc, oneshot};

use super::session::LiveSession;

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backing database failed or could not be reached.
    #[error("live session store failed: {0}")]
    Backend(Arc<str>),
}

/// Persistence of live sessions: the `live_sessions` table, keyed by `user_id`.
///
/// One row per [`LiveSession`], one column per field: `user_id` (primary key; Telegram ids
/// fit `BIGINT`), `chat_id`, `lang` (`"ru"`/`"en"`), `interval_secs`, the unix-ms times
/// `started_at`, `expires_at` (nullable: until stopped), `last_activity_at`, `next_tick_at`,
/// `saved_at`, the points `position`, `last_story_position` (nullable), `walk_anchor` as
/// latitude/longitude pairs, `position_date`, `heading` (nullable), `last_place_distance_m`
/// (nullable), `stories_told`, `distance_walked_m`. `save` is an upsert
/// (`ON CONFLICT (user_id) DO UPDATE`). Calls come from one writer task, one at a time.
pub trait SessionStore: Send + Sync + 'static {
    /// Inserts or replaces the row of `session.user_id`.
    fn save(&self, session: LiveSession) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Deletes the row of `user_id` (no error when there is none).
    fn remove(&self, user_id: u64) -> BoxFuture<'_, Result<(), StoreError>>;
    /// Every stored session, for the restore at start-up.
    fn load_all(&self) -> BoxFuture<'_, Result<Vec<LiveSession>, StoreError>>;
}

/// Sessions in process memory: survives an actor restart, not a process restart. Clones share
/// one map, so tests can hand the same store to two application instances.
#[derive(Debug, Clone, Default)]
pub struct InMemorySessionStore {
    rows: Arc<Mutex<HashMap<u64, LiveSession>>>,
}

impl InMemorySessionStore {
    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<u64, LiveSession>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SessionStore for InMemorySessionStore {
    fn save(&self, session: LiveSession) -> BoxFuture<'_, Result<(), StoreError>> {
        self.rows().insert(session.user_id, session);
        async { Ok(()) }.boxed()
    }

    fn remove(&self, user_id: u64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.rows().remove(&user_id);
        async { Ok(()) }.boxed()
    }

    fn load_all(&self) -> BoxFuture<'_, Result<Vec<LiveSession>, StoreError>> {
        let rows: Vec<LiveSession> = self.rows().values().cloned().collect();
        async { Ok(rows) }.boxed()
    }
}

enum StoreOp {
    Save(LiveSession),
    Remove(u64),
    /// Answered once every operation sent before it is applied.
    Barrier(oneshot::Sender<()>),
}

/// The actor's handle on the write-behind task. Cheap to clone.
#[derive(Clone)]
pub struct SessionWriter {
    ops: mpsc::UnboundedSender<StoreOp>,
}

impl SessionWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Arc<dyn SessionStore>) -> Self {
        let (ops, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_behind(store, queue));
        Self { ops }
    }

    /// Queues a save of `session`.
    pub fn save(&self, session: LiveSession) {
        self.send(StoreOp::Save(session));
    }

    /// Queues the removal of `user_id`'s session.
    pub fn remove(&self, user_id: u64) {
        self.send(StoreOp::Remove(user_id));
    }

    /// Completes once everything queued so far is written (or the writer is gone).
    pub fn flushed(&self) -> impl Future<Output = ()> + use<> {
        let (done, wait) = oneshot::channel();
        self.send(StoreOp::Barrier(done));
        async move {
            let _ = wait.await;
        }
    }

    fn send(&self, op: StoreOp) {
        if self.ops.send(op).is_err() {
            tracing::error!("the live session writer is gone; a tour change was not saved");
        }
    }
}

async fn write_behind(store: Arc<dyn SessionStore>, mut queue: mpsc::UnboundedReceiver<StoreOp>) {
    while let Some(first) = queue.recv().await {
        // Everything queued right now is one pass; a tour's last operation wins.
        let mut latest: HashMap<u64, StoreOp> = HashMap::new();
        let mut order = Vec::new();
        let mut barriers = Vec::new();
        let mut next = Some(first);
        while let Some(op) = next {
            match op {
                StoreOp::Barrier(done) => barriers.push(done),
                StoreOp::Save(ref session) => {
                    let user_id = session.user_id;
                    if latest.insert(user_id, op).is_none() {
                        order.push(user_id);
                    }
                }
                StoreOp::Remove(user_id) => {
                    if latest.insert(user_id, op).is_none() {
                        order.push(user_id);
                    }
                }
            }
            next = queue.try_recv().ok();
        }
        for op in order.iter().filter_map(|user_id| latest.remove(user_id)) {
            apply(store.as_ref(), op).await;
        }
        for done in barriers {
            let _ = done.send(());
        }
    }
}

async fn apply(store: &dyn SessionStore, op: StoreOp) {
    let (user_id, result) = match op {
        StoreOp::Save(session) => (session.user_id, store.save(session).await),
        StoreOp::Remove(user_id) => (user_id, store.remove(user_id).await),
        StoreOp::Barrier(_) => return,
    };
    if let Err(error) = result {
        tracing::warn!(user_id, %error, "live session not persisted");
    }
}
