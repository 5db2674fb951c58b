//! The stateful services behind the bot: the database (connected and migrated), Redis, and
//! the actors that own them.
//!
//! Every actor (these and the tours') runs on one arbiter, a thread of its own beside the
//! HTTP workers. None of their handlers computes or blocks (each returns a future over shared
//! handles, and SQLite's work runs on sqlx's own threads), so one thread keeps every mailbox
//! moving; a thread per actor would only add its stack and runtime to the bot's memory.

use std::sync::Arc;

use actix::{Addr, Arbiter, ArbiterHandle};
use anyhow::Context;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;

use crate::{
    actors::{
        db_actor::{DbActor, Flush},
        fact_cache::FactCache,
        openai_gate::{GateConfig, OpenAiConfig, OpenAiGate},
        supervision::Supervision,
    },
    cache::RedisStore,
    config::Settings,
    db::{self, reachability::Reachability},
    places::{
        PlaceSource,
        wikipedia::{WikipediaConfig, WikipediaSource},
    },
    stats::{ErrorLog, Metrics},
};

crate::answers_probes!(
    DbActor,
    FactCache,
    OpenAiGate,
    crate::actors::live_sessions::LiveLocationSessions,
    crate::facts::tour::TourGuide,
);

/// The running actors and the shared Redis store.
pub struct Services {
    /// Users' memory.
    pub db: Addr<DbActor>,
    /// The pool itself, for the live-tour store (its own writer task, not the actor).
    pub connection: DatabaseConnection,
    /// Whether the pool's database answers, shared by the actor and the journal.
    pub reach: Reachability,
    /// Stories and place lists.
    pub cache: Addr<FactCache>,
    /// The LLM, when `OPENAI_API_KEY` is set.
    pub gate: Option<Addr<OpenAiGate>>,
    /// Redis, when `REDIS_URL` is set.
    pub redis: Option<RedisStore>,
    /// Every actor's supervision (restarts, readiness).
    pub supervision: Supervision,
    /// The actors' thread, stopped at shutdown.
    arbiter: Arbiter,
}

impl Services {
    /// Connects and migrates the database, then starts the actors, measured in `metrics`.
    pub async fn start(
        settings: &Settings,
        errors: ErrorLog,
        metrics: &Metrics,
    ) -> anyhow::Result<Self> {
        let connection = migrated_database(settings).await?;
        let redis = redis_store(settings)?;
        let (arbiter, supervision) = (Arbiter::new(), Supervision::new(settings.restarts));
        let reach = Reachability::new(connection.clone());
        let (actor_connection, actor_reach) = (connection.clone(), reach.clone());
        let db_metrics = metrics.clone();
        let db = supervision.start_in_arbiter(&arbiter.handle(), "db", move |_| {
            DbActor::new(actor_connection, actor_reach, errors).with_metrics(&db_metrics)
        });
        let (cache_redis, ttl) = (redis.clone(), settings.facts.cache_ttl);
        let cache = supervision.start_in_arbiter(&arbiter.handle(), "cache", move |_| {
            FactCache::new(cache_redis, ttl)
        });
        let gate = start_gate(settings, &arbiter.handle(), &supervision, metrics)?;
        Ok(Self {
            db,
            connection,
            reach,
            cache,
            gate,
            redis,
            supervision,
            arbiter,
        })
    }

    /// The actors' thread, for the other actors.
    pub fn arbiter(&self) -> ArbiterHandle {
        self.arbiter.handle()
    }

    /// Writes what the database buffer holds, stops the actors' thread and closes the pool.
    pub async fn stop(self) {
        match self.db.send(Flush).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(%error, "buffered rows could not be written at shutdown")
            }
            Err(error) => tracing::error!(%error, "database actor gone at shutdown"),
        }
        self.arbiter.stop();
        if let Err(error) = self.connection.close_by_ref().await {
            tracing::warn!(%error, "closing the database pool");
        }
    }
}

/// The database pool (`DATABASE_URL`), with every migration applied: what the bot runs on,
/// and all that `excursobot migrate` does.
pub async fn migrated_database(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    let database = &settings.database;
    let connection = db::connect(database.url.expose_secret(), database.pool_max)
        .await
        .context("connecting to the database (DATABASE_URL)")?;
    db::migrate(&connection)
        .await
        .context("applying database migrations")?;
    Ok(connection)
}

fn start_gate(
    settings: &Settings,
    arbiter: &ArbiterHandle,
    supervision: &Supervision,
    metrics: &Metrics,
) -> anyhow::Result<Option<Addr<OpenAiGate>>> {
    let Some(api_key) = &settings.llm.api_key else {
        tracing::warn!("OPENAI_API_KEY is not set: stories will be the places' own summaries");
        return Ok(None);
    };
    let config = GateConfig {
        permits: settings.llm.permits,
        call_timeout: settings.llm.call_timeout,
        interactive_queue_wait: settings.llm.queue_wait,
        ..GateConfig::default()
    };
    let endpoint = OpenAiConfig {
        base_url: settings
            .llm
            .base_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        api_key: api_key.clone(),
        model: settings.llm.model.clone(),
    };
    let gate =
        OpenAiGate::new(config, endpoint).context("building the LLM client (OPENAI_BASE_URL)")?;
    let gate = gate.with_metrics(metrics);
    Ok(Some(supervision.start_in_arbiter(
        arbiter,
        "gate",
        move |_| gate,
    )))
}

fn redis_store(settings: &Settings) -> anyhow::Result<Option<RedisStore>> {
    let Some(url) = &settings.facts.redis_url else {
        tracing::info!("REDIS_URL is not set: caching and deduplication stay in process");
        return Ok(None);
    };
    let store = RedisStore::new(url.expose_secret(), &settings.facts.redis_key_prefix)
        .context("REDIS_URL")?;
    Ok(Some(store))
}

/// The Wikipedia place source, with a User-Agent naming the bot (Wikimedia's policy).
pub fn wikipedia(settings: &Settings, bot_username: &str) -> anyhow::Result<Arc<dyn PlaceSource>> {
    let user_agent = format!(
        "excursobot/{} (Telegram bot https://t.me/{bot_username})",
        env!("CARGO_PKG_VERSION")
    );
    let config = WikipediaConfig {
        api_url_template: settings.facts.wikipedia_api_url.clone(),
        ..WikipediaConfig::new(user_agent)
    };
    let source = WikipediaSource::new(config).context("WIKIPEDIA_API_URL")?;
    Ok(Arc::new(source))
}
