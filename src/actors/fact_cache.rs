//! The `FactCache` actor: stories and place lists, in two levels.
//!
//! L1 is an in-process, size-bounded moka cache; L2 is Redis (when `REDIS_URL` is set), shared
//! by every instance and surviving restarts. `Get` reads L1, then L2 (filling L1 on a hit);
//! `Put` writes both. Redis down or slow never fails a request: its errors are counted and L1
//! answers alone (see [`RedisStore`] for the timeout and back-off). Both entries expire after
//! `FACT_CACHE_TTL_SECS`.
//!
//! Handlers never await inside the actor's state: each returns a future over shared handles,
//! so the mailbox keeps moving while Redis answers.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use actix::prelude::*;
use moka::future::Cache;
use tracing::Instrument;

use crate::{actors::supervision::contained, cache::RedisStore, telemetry::traces::SenderSpan};

/// Bytes of keys and values kept in process (stories are ~1 KiB, place lists ~10 KiB, so
/// about 1,500 place lists or 15,000 stories). Weighed in bytes, not entries: 20,000 entries
/// of place lists would be ~200 MiB. Redis (L2) holds the rest in production.
pub const L1_BUDGET_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a cached value.
#[derive(Message)]
#[rtype(result = "Option<Arc<str>>")]
pub struct Get {
    /// The full key.
    pub key: String,
    /// The asker's span; the read's span follows from it.
    sender: SenderSpan,
}

impl Get {
    /// A read of `key`, from the current span.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            sender: SenderSpan::current(),
        }
    }
}

/// Stores a value under a key for the cache's TTL.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Put {
    /// The full key, e.g. `fact:v1:en:en:12345`.
    pub key: String,
    /// The value, usually JSON or story text.
    pub value: Arc<str>,
}

/// Asks for the cache's counters.
#[derive(Message)]
#[rtype(result = "CacheSnapshot")]
pub struct Stats;

/// Counters since start-up.
#[derive(Debug, Clone, Copy, Default, MessageResponse)]
pub struct CacheSnapshot {
    /// Answered from process memory.
    pub l1_hits: u64,
    /// Answered from Redis.
    pub l2_hits: u64,
    /// Found nowhere.
    pub misses: u64,
    /// Redis operations that failed or timed out.
    pub redis_errors: u64,
    /// Whether a Redis is configured.
    pub redis_configured: bool,
}

#[derive(Default)]
struct Counters {
    l1_hits: AtomicU64,
    l2_hits: AtomicU64,
    misses: AtomicU64,
}

/// Two-level cache of stories and place lists.
pub struct FactCache {
    l1: Cache<String, Arc<str>>,
    redis: Option<RedisStore>,
    ttl: Duration,
    counters: Arc<Counters>,
}

impl FactCache {
    /// A cache whose entries live `ttl`, backed by `redis` when given.
    pub fn new(redis: Option<RedisStore>, ttl: Duration) -> Self {
        Self {
            l1: l1_cache(ttl),
            redis,
            ttl,
            counters: Arc::default(),
        }
    }
}

/// The in-process level: entries live `ttl`, and together weigh at most [`L1_BUDGET_BYTES`].
/// The least recently used goes first. moka's default (TinyLFU) admits a new key into a full
/// cache only if it is asked for more often than what it would evict, so a story just written
/// (an LLM call paid for) was mostly dropped, and without Redis the next visitor paid again.
fn l1_cache(ttl: Duration) -> Cache<String, Arc<str>> {
    Cache::builder()
        .eviction_policy(moka::policy::EvictionPolicy::lru())
        .weigher(|key: &String, value: &Arc<str>| {
            u32::try_from(key.len() + value.len()).unwrap_or(u32::MAX)
        })
        .max_capacity(L1_BUDGET_BYTES)
        .time_to_live(ttl)
        .build()
}

impl Actor for FactCache {
    type Context = Context<Self>;
}

impl Supervised for FactCache {}

impl Handler<Get> for FactCache {
    type Result = ResponseFuture<Option<Arc<str>>>;

    fn handle(&mut self, Get { key, sender }: Get, ctx: &mut Self::Context) -> Self::Result {
        let (l1, redis, counters) = (self.l1.clone(), self.redis.clone(), self.counters.clone());
        let span = sender.followed_by(tracing::info_span!(parent: None, "fact_cache.get"));
        let read = async move {
            if let Some(value) = l1.get(&key).await {
                counters.l1_hits.fetch_add(1, Ordering::Relaxed);
                return Some(value);
            }
            let from_redis = match &redis {
                Some(redis) => redis.get(&key).await.ok().flatten(),
                None => None,
            };
            let Some(value) = from_redis else {
                counters.misses.fetch_add(1, Ordering::Relaxed);
                return None;
            };
            counters.l2_hits.fetch_add(1, Ordering::Relaxed);
            let value: Arc<str> = value.into();
            l1.insert(key, Arc::clone(&value)).await;
            Some(value)
        };
        contained(ctx, read.instrument(span))
    }
}

impl Handler<Put> for FactCache {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, Put { key, value }: Put, ctx: &mut Self::Context) -> Self::Result {
        let (l1, redis, ttl) = (self.l1.clone(), self.redis.clone(), self.ttl);
        contained(ctx, async move {
            // L1 first, before any await on Redis: a `Get` sent after this `Put` then finds
            // the value (the facts pipeline relies on it to drop its own copy of a place list).
            l1.insert(key.clone(), Arc::clone(&value)).await;
            if let Some(redis) = &redis {
                // A failed write is counted by the store; L1 still serves this instance.
                let _ = redis.set(&key, &value, ttl).await;
            }
        })
    }
}

impl Handler<Stats> for FactCache {
    type Result = CacheSnapshot;

    fn handle(&mut self, _: Stats, _: &mut Self::Context) -> CacheSnapshot {
        CacheSnapshot {
            l1_hits: self.counters.l1_hits.load(Ordering::Relaxed),
            l2_hits: self.counters.l2_hits.load(Ordering::Relaxed),
            misses: self.counters.misses.load(Ordering::Relaxed),
            redis_errors: self.redis.as_ref().map_or(0, RedisStore::error_count),
            redis_configured: self.redis.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_in_process_level_keeps_to_its_byte_budget() {
        let l1 = l1_cache(Duration::from_secs(60));
        let place_list: Arc<str> = "x".repeat(1024 * 1024).into();
        for cell in 0..40 {
            l1.insert(format!("places:v1:en:{cell}"), Arc::clone(&place_list))
                .await;
        }
        l1.run_pending_tasks().await;

        assert!(l1.weighted_size() <= L1_BUDGET_BYTES);
        assert!(l1.entry_count() >= 10, "{} entries", l1.entry_count());
        assert!(l1.entry_count() < 40, "{} entries", l1.entry_count());
    }

    #[tokio::test]
    async fn new_stories_are_kept_when_the_level_is_full_of_popular_ones() {
        let l1 = l1_cache(Duration::from_secs(60));
        let story: Arc<str> = "s".repeat(1000).into();
        let full = usize::try_from(L1_BUDGET_BYTES).unwrap() / story.len();
        for place in 0..full {
            let key = format!("fact:v1:en:popular-{place}");
            l1.insert(key.clone(), Arc::clone(&story)).await;
            for _ in 0..3 {
                let _ = l1.get(&key).await;
            }
        }
        l1.run_pending_tasks().await;

        let mut kept = 0;
        for place in 0..100 {
            let key = format!("fact:v1:en:new-{place}");
            l1.insert(key.clone(), Arc::clone(&story)).await;
            l1.run_pending_tasks().await;
            kept += usize::from(l1.get(&key).await.is_some());
        }

        // With moka's default admission 2 of the 100 were kept.
        assert_eq!(kept, 100);
        assert!(l1.weighted_size() <= L1_BUDGET_BYTES);
    }
}
