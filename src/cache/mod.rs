//! Caching shared by the pipeline: key formats, the Redis client, and update deduplication.
//!
//! Keys carry a version (bump [`PROMPT_VERSION`] when the prompt changes, so old stories are
//! not served) and the language; place lists and localities are keyed by coordinates rounded
//! to 3 decimals (~110 m), so a crowd on one street costs one lookup.

pub mod recent_ids;
pub mod redis;

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

pub use self::redis::{CacheError, RedisStore};
use crate::{geo::Coordinates, places::PlaceId};
use recent_ids::RecentIds;

/// Version of the story prompt; part of every fact key.
pub const PROMPT_VERSION: &str = "v1";
/// How long an update id is remembered: Telegram stops redelivering after 24 hours.
const SEEN_UPDATES_TTL: Duration = Duration::from_secs(24 * 3600);
/// Update ids remembered in process (when Redis is absent or down): at least the last 100,000.
const SEEN_UPDATES_CAPACITY: usize = 200_000;

/// The story about a place, in a language: `fact:v1:{lang}:{place_id}`.
pub fn fact_key(lang: &str, place: &PlaceId) -> String {
    format!("fact:{PROMPT_VERSION}:{lang}:{}", place.0)
}

/// The deeper "tell me more" story about a place.
pub fn more_fact_key(lang: &str, place: &PlaceId) -> String {
    format!("fact:{PROMPT_VERSION}:{lang}:{}:more", place.0)
}

/// The places found around a ~110 m cell, in a language, within a radius.
pub fn places_key(lang: &str, point: Coordinates, radius_m: u32) -> String {
    format!("places:v1:{lang}:{}:{radius_m}", point.rounded_key())
}

/// Update ids already admitted: Redis `SET NX EX 86400` when configured, else in process.
///
/// In process, the most recent ids sit in two generations of a hash set ([`RecentIds`]), about
/// 5 bytes an id, rather than a general-purpose cache: every update pays this lookup, and a
/// size-bounded cache with a frequency-based admission policy refuses new one-off keys once
/// full, forgetting the very ids Telegram may redeliver.
#[derive(Clone)]
pub struct SeenUpdates {
    local: Arc<Mutex<RecentIds>>,
    redis: Option<RedisStore>,
}

impl SeenUpdates {
    /// Deduplicates through `redis` when given, always also in process.
    pub fn new(redis: Option<RedisStore>) -> Self {
        let local = RecentIds::new(SEEN_UPDATES_CAPACITY, SEEN_UPDATES_TTL);
        Self {
            local: Arc::new(Mutex::new(local)),
            redis,
        }
    }

    /// `true` the first time `update_id` is offered (across instances, with Redis).
    pub async fn first_time(&self, update_id: u32) -> bool {
        let fresh_here = self
            .local
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .first_time(update_id);
        if !fresh_here {
            return false;
        }
        let Some(redis) = &self.redis else {
            return true;
        };
        // Redis down: the in-process answer stands.
        redis
            .set_if_new(&format!("update:{update_id}"), SEEN_UPDATES_TTL)
            .await
            .unwrap_or(true)
    }
}
