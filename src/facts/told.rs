//! Which places each user has been told about within `FACT_REPEAT_DAYS`, so a place is never
//! repeated. Loaded once per user from one indexed query (through the `DbActor`), then kept
//! in memory and updated as stories go out; the deliveries themselves are the durable record.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use actix::Addr;
use moka::future::Cache;

use crate::{
    actors::db_actor::{DbActor, LoadToldPlaces},
    db::now_ms,
    places::PlaceId,
};

/// Users whose told places are kept in memory.
const CACHED_USERS: u64 = 50_000;
/// How long a loaded set is trusted before it is read again.
const TRUST_FOR: Duration = Duration::from_secs(3600);

type PlaceSet = Arc<Mutex<HashSet<PlaceId>>>;

/// The places told to each user.
#[derive(Clone)]
pub struct ToldPlaces {
    sets: Cache<u64, PlaceSet>,
    db: Addr<DbActor>,
    repeat_window_ms: i64,
}

impl ToldPlaces {
    /// Told places over the `DbActor`, excluded for `repeat_days`.
    pub fn new(db: Addr<DbActor>, repeat_days: u32) -> Self {
        Self {
            sets: told_sets(),
            db,
            repeat_window_ms: i64::from(repeat_days) * 24 * 3600 * 1000,
        }
    }

    async fn set_of(&self, user_id: u64) -> PlaceSet {
        if let Some(set) = self.sets.get(&user_id).await {
            return set;
        }
        let since_ms = now_ms() - self.repeat_window_ms;
        let loaded = self
            .db
            .send(LoadToldPlaces {
                user_id: user_id as i64,
                since_ms,
            })
            .await;
        match loaded {
            Ok(Ok(ids)) => {
                let set: PlaceSet = Arc::new(Mutex::new(ids.into_iter().map(PlaceId).collect()));
                self.sets.insert(user_id, Arc::clone(&set)).await;
                set
            }
            // Database down: remember in memory for now, read again next time.
            _ => Arc::default(),
        }
    }

    /// The subset of `candidates` not told to `user_id`, in order.
    pub async fn untold<'a>(
        &self,
        user_id: u64,
        candidates: impl IntoIterator<Item = &'a PlaceId>,
    ) -> Vec<PlaceId> {
        let set = self.set_of(user_id).await;
        let told = set.lock().unwrap_or_else(PoisonError::into_inner);
        candidates
            .into_iter()
            .filter(|id| !told.contains(*id))
            .cloned()
            .collect()
    }

    /// Records that `user_id` was told about `place`.
    pub async fn mark_told(&self, user_id: u64, place: &PlaceId) {
        let set = self.set_of(user_id).await;
        set.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(place.clone());
    }

    /// Forgets everything about `user_id` (after /reset).
    pub async fn forget(&self, user_id: u64) {
        self.sets.invalidate(&user_id).await;
    }
}

/// The sets of the [`CACHED_USERS`] users seen last. The least recently used goes first:
/// moka's default admission may refuse a newcomer's set when full, and a place marked told in
/// a set that is not kept, before the write-behind buffer has stored the delivery, could be
/// told again.
fn told_sets() -> Cache<u64, PlaceSet> {
    Cache::builder()
        .eviction_policy(moka::policy::EvictionPolicy::lru())
        .max_capacity(CACHED_USERS)
        .time_to_live(TRUST_FOR)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_newcomers_set_is_kept_when_every_slot_is_taken_by_regulars() {
        let sets = told_sets();
        for user in 0..CACHED_USERS {
            sets.insert(user, PlaceSet::default()).await;
            let _ = sets.get(&user).await;
        }
        sets.run_pending_tasks().await;

        let newcomer = CACHED_USERS + 1;
        sets.insert(newcomer, PlaceSet::default()).await;
        sets.run_pending_tasks().await;

        assert!(sets.get(&newcomer).await.is_some());
        assert!(sets.entry_count() <= CACHED_USERS);
    }
}
