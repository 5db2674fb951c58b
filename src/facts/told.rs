//! Which places each user has already been told about, so a place is never repeated.
//! In process for now (bounded, expiring); the persistence issue makes it durable.

use std::time::Duration;

use moka::sync::Cache;

use crate::places::PlaceId;

/// How long a told place stays excluded.
const REMEMBER_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// (user, place) pairs remembered in process.
const CAPACITY: u64 = 1_000_000;

/// The places told to each user.
#[derive(Clone)]
pub struct ToldPlaces {
    told: Cache<(u64, PlaceId), ()>,
}

impl Default for ToldPlaces {
    fn default() -> Self {
        Self {
            told: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(REMEMBER_FOR)
                .build(),
        }
    }
}

impl ToldPlaces {
    /// Whether `user_id` was told about `place`.
    pub fn was_told(&self, user_id: u64, place: &PlaceId) -> bool {
        self.told.contains_key(&(user_id, place.clone()))
    }

    /// Records that `user_id` was told about `place`.
    pub fn mark_told(&self, user_id: u64, place: &PlaceId) {
        self.told.insert((user_id, place.clone()), ());
    }
}
