//! Where tours survive restarts: the [`SessionStore`] trait (one row per user, upsert on
//! save) and the in-process [`InMemorySessionStore`]. The database's store is
//! `db::sessions::DbSessionStore`; the tours actor feeds a store through its write-behind
//! writer.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use futures::future::{BoxFuture, FutureExt};

use super::LiveSession;

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backing database failed or could not be reached.
    #[error("live session store failed")]
    Backend(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The store did not answer in time.
    #[error("live session store timed out")]
    TimedOut,
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
