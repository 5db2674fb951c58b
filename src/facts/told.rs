//! Which places each user has been told about within `FACT_REPEAT_DAYS`, so a place is never
//! repeated. Loaded once per user from one indexed query (through the `DbActor`; concurrent
//! loads of one user share it), then kept in memory and updated as stories go out; the
//! deliveries themselves are the durable record.
//!
//! A story's place is *reserved* before the story is written: [`ToldPlaces::reserve_nearest`]
//! picks the nearest untold place and marks it under the user's lock, so two stories of one
//! user written at once (two taps on "Another place", a tap during a tour's tick) never pick
//! the same place. A story that is not delivered gives its place back
//! (by dropping its [`Reserved`]).
//!
//! When the database cannot be read, stories keep flowing: the failure is logged and counted,
//! and the user gets a *provisional* set for [`PROVISIONAL_FOR`], so their stories in that
//! spell still never repeat each other; after it the history is read again (places told
//! meanwhile wait in the database's write-behind buffer and count once it is written). Only
//! a `DbActor` that is gone altogether stops the choice ([`HistoryUnavailable`]).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use actix::Addr;
use moka::future::Cache;

use crate::telemetry::traces::SenderSpan;
use crate::{
    actors::db_actor::{DbActor, LoadToldPlaces},
    db::{DbError, now_ms},
    geo::Coordinates,
    places::{Place, PlaceId},
    stats::ErrorLog,
};

/// Users whose told places are kept in memory.
const CACHED_USERS: u64 = 50_000;
/// How long a loaded set is trusted before it is read again.
const TRUST_FOR: Duration = Duration::from_secs(3600);
/// How long a set stands in for a history the database could not give.
pub const PROVISIONAL_FOR: Duration = Duration::from_secs(30);

type PlaceSet = Arc<Mutex<HashSet<PlaceId>>>;

/// The user's history could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the places told to the user could not be read")]
pub struct HistoryUnavailable(#[source] Arc<DbError>);

/// The places told to each user.
#[derive(Clone)]
pub struct ToldPlaces {
    sets: Cache<u64, PlaceSet>,
    /// Sets standing in for histories the database could not give, briefly.
    provisional: Cache<u64, PlaceSet>,
    db: Addr<DbActor>,
    repeat_window_ms: i64,
    errors: ErrorLog,
}

impl ToldPlaces {
    /// Told places over the `DbActor`, excluded for `repeat_days`; failed reads are counted
    /// in `errors`.
    pub fn new(db: Addr<DbActor>, repeat_days: u32, errors: ErrorLog) -> Self {
        Self {
            sets: told_sets(),
            provisional: Cache::builder()
                .max_capacity(CACHED_USERS)
                .time_to_live(PROVISIONAL_FOR)
                .build(),
            db,
            repeat_window_ms: i64::from(repeat_days) * 24 * 3600 * 1000,
            errors,
        }
    }

    /// The user's set, loaded once (concurrent callers share one load); a provisional one
    /// while the database fails.
    async fn set_of(&self, user_id: u64) -> Result<PlaceSet, HistoryUnavailable> {
        if let Some(set) = self.provisional.get(&user_id).await {
            return Ok(set);
        }
        let error = match self.load(user_id).await {
            Ok(set) => return Ok(set),
            Err(error) => error,
        };
        self.errors.record();
        if matches!(*error, DbError::Unavailable) {
            tracing::error!(
                user_id,
                "the database actor is gone; no place can be chosen"
            );
            return Err(HistoryUnavailable(error));
        }
        tracing::warn!(
            user_id,
            %error,
            "the places told to a user could not be read; a provisional set for now"
        );
        Ok(self
            .provisional
            .get_with(user_id, async { PlaceSet::default() })
            .await)
    }

    async fn load(&self, user_id: u64) -> Result<PlaceSet, Arc<DbError>> {
        let load = async {
            let since_ms = now_ms() - self.repeat_window_ms;
            let request = LoadToldPlaces {
                user_id: user_id as i64,
                since_ms,
                sender: SenderSpan::current(),
            };
            let ids = self
                .db
                .send(request)
                .await
                .map_err(|_| DbError::Unavailable)??;
            Ok::<_, DbError>(Arc::new(Mutex::new(
                ids.into_iter().map(PlaceId).collect::<HashSet<_>>(),
            )))
        };
        self.sets.try_get_with(user_id, load).await
    }

    /// Picks the nearest of `places` (from `point`) that `user_id` was not told about and
    /// that `accept` takes, and reserves it as told, atomically for the user.
    pub async fn reserve_nearest(
        &self,
        user_id: u64,
        places: &[Place],
        point: Coordinates,
        accept: impl Fn(&Place) -> bool,
    ) -> Result<Option<Reserved>, HistoryUnavailable> {
        let set = self.set_of(user_id).await?;
        let chosen = {
            let mut told = set.lock().unwrap_or_else(PoisonError::into_inner);
            let nearest = choose_place(places, point, |id| !told.contains(id));
            let chosen = nearest.filter(|place| accept(place));
            if let Some(place) = &chosen {
                told.insert(place.id.clone());
            }
            chosen
        };
        Ok(chosen.map(|place| Reserved {
            place,
            set,
            kept: false,
        }))
    }

    /// Those of `places` that `user_id` was not told about, without reserving any: what
    /// "Another place" or a tour's next tick may tell.
    pub async fn untold(
        &self,
        user_id: u64,
        places: &[Place],
    ) -> Result<Vec<Place>, HistoryUnavailable> {
        let set = self.set_of(user_id).await?;
        let told = set.lock().unwrap_or_else(PoisonError::into_inner);
        let untold = places.iter().filter(|place| !told.contains(&place.id));
        Ok(untold.cloned().collect())
    }

    /// Records that `user_id` was told about `place` (a deeper story of a place told before).
    pub async fn mark_told(&self, user_id: u64, place: &PlaceId) {
        if let Ok(set) = self.set_of(user_id).await {
            set.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(place.clone());
        }
    }

    /// Forgets everything about `user_id` (after /reset).
    pub async fn forget(&self, user_id: u64) {
        self.sets.invalidate(&user_id).await;
        self.provisional.invalidate(&user_id).await;
    }
}

/// A place reserved for a story: given back when dropped, unless [`Reserved::keep`] says the
/// story was delivered (a cancelled or failed story leaves the place to be told later).
pub struct Reserved {
    /// The place, its distance measured from the user.
    pub place: Place,
    set: PlaceSet,
    kept: bool,
}

impl Reserved {
    /// The story was delivered: the place stays told.
    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if !self.kept {
            self.set
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&self.place.id);
        }
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

/// The nearest of `places` for which `is_untold` holds, with its distance measured from
/// `point` itself (a cached list may have been found for a neighbour in the same cell).
pub fn choose_place(
    places: &[Place],
    point: Coordinates,
    is_untold: impl Fn(&PlaceId) -> bool,
) -> Option<Place> {
    places
        .iter()
        .filter(|place| is_untold(&place.id))
        .map(|place| (place, point.distance_m(&place.coordinates)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(place, distance_m)| Place {
            distance_m,
            ..place.clone()
        })
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
