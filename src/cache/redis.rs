//! A thin Redis client over a deadpool pool that can never hold a request up for long.
//!
//! Every operation has a short timeout. After a failure Redis is skipped for a moment
//! ([`BACKOFF_AFTER_ERROR`]) so that a dead Redis costs one timeout, not one per request; the
//! pool recycles broken connections, so when Redis comes back it is used again.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use deadpool_redis::{Config, Pool, PoolConfig, Runtime, Timeouts, redis::AsyncCommands};
use tokio::sync::RwLock;

/// Longest one Redis operation may take before we answer without it.
const OPERATION_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is left alone after an error.
const BACKOFF_AFTER_ERROR: Duration = Duration::from_secs(2);
/// Connections in the pool.
const POOL_SIZE: usize = 16;

/// Why Redis did not answer.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The URL or pool could not be set up.
    #[error("Redis configuration")]
    Config(#[source] deadpool_redis::CreatePoolError),
    /// No connection could be had from the pool.
    #[error("Redis unavailable: no connection")]
    Pool(#[source] deadpool_redis::PoolError),
    /// Redis answered with an error or the connection failed.
    #[error("Redis failed")]
    Redis(#[source] deadpool_redis::redis::RedisError),
    /// Redis did not answer within its time.
    #[error("Redis timed out")]
    TimedOut,
    /// Redis failed a moment ago; it is left alone for a while.
    #[error("Redis resting after an error")]
    Resting,
}

/// A namespaced Redis connection pool. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    /// Prepended to every key, so tests (and several bots) can share one Redis.
    prefix: Arc<str>,
    /// Until when Redis is skipped after an error.
    resting_until: Arc<RwLock<Option<Instant>>>,
    errors: Arc<AtomicU64>,
}

impl RedisStore {
    /// A pool for `url` (`redis://host:port[/db]`); connects lazily.
    pub fn new(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig {
            max_size: POOL_SIZE,
            timeouts: Timeouts {
                wait: Some(OPERATION_TIMEOUT),
                create: Some(OPERATION_TIMEOUT),
                recycle: Some(OPERATION_TIMEOUT),
            },
            ..PoolConfig::default()
        });
        let pool = config
            .create_pool(Some(Runtime::Tokio1))
            .map_err(CacheError::Config)?;
        Ok(Self {
            pool,
            prefix: prefix.into(),
            resting_until: Arc::default(),
            errors: Arc::default(),
        })
    }

    /// Errors seen since start-up.
    pub fn error_count(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The value at `key`, if any.
    pub async fn get(&self, key: &str) -> Result<Option<String>, CacheError> {
        let key = self.key(key);
        self.run(|mut conn| async move { conn.get::<_, Option<String>>(key).await })
            .await
    }

    /// Stores `value` at `key` for `ttl`.
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), CacheError> {
        let (key, value) = (self.key(key), value.to_owned());
        let seconds = ttl.as_secs().max(1);
        self.run(|mut conn| async move { conn.set_ex::<_, _, ()>(key, value, seconds).await })
            .await
    }

    /// `SET key 1 NX EX ttl`: `true` when the key was new.
    pub async fn set_if_new(&self, key: &str, ttl: Duration) -> Result<bool, CacheError> {
        let key = self.key(key);
        let seconds = ttl.as_secs().max(1);
        self.run(|mut conn| async move {
            deadpool_redis::redis::cmd("SET")
                .arg(key)
                .arg(1)
                .arg("NX")
                .arg("EX")
                .arg(seconds)
                .query_async::<Option<String>>(&mut conn)
                .await
        })
        .await
        .map(|reply| reply.is_some())
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Runs one operation with a timeout, honouring and updating the back-off window.
    async fn run<T, F, Fut>(&self, operation: F) -> Result<T, CacheError>
    where
        F: FnOnce(deadpool_redis::Connection) -> Fut,
        Fut: Future<Output = deadpool_redis::redis::RedisResult<T>>,
    {
        if let Some(until) = *self.resting_until.read().await
            && Instant::now() < until
        {
            return Err(CacheError::Resting);
        }
        // Boxed: the pool's checkout future alone is ~7 KiB, and without the box it would be
        // inlined into every caller's future, down to the webhook handler of every update.
        let attempt = Box::pin(async {
            let conn = self.pool.get().await.map_err(CacheError::Pool)?;
            operation(conn).await.map_err(CacheError::Redis)
        });
        let outcome = match tokio::time::timeout(OPERATION_TIMEOUT, attempt).await {
            Ok(outcome) => outcome,
            Err(_) => Err(CacheError::TimedOut),
        };
        match outcome {
            Ok(value) => Ok(value),
            Err(error) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                *self.resting_until.write().await = Some(Instant::now() + BACKOFF_AFTER_ERROR);
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    "Redis unavailable; using the in-process cache"
                );
                Err(error)
            }
        }
    }
}
