//! Building and running the application: the same [`Application::build`] serves `main` and
//! the tests (with port 0).
//!
//! Shutdown order: stop admitting updates (the webhook answers 503 + `Retry-After`, `/readyz`
//! fails), stop polling, let in-flight updates finish within the grace period, then stop the
//! HTTP server.

use std::{future::Future, net::TcpListener, sync::Arc, time::Duration};

use actix::{Addr, Arbiter, Supervisor};
use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use teloxide::{Bot, prelude::Requester};
use tokio_util::sync::CancellationToken;

use crate::{
    actors::{
        fact_cache::FactCache,
        openai_gate::{GateConfig, OpenAiConfig, OpenAiGate},
    },
    cache::{RedisStore, SeenUpdates},
    config::{Ingress, Settings},
    facts::Storyteller,
    handlers::{
        dispatch::Dispatcher,
        health, polling,
        router::Router,
        webhook::{self, MAX_BODY_BYTES, WebhookState},
    },
    places::{
        PlaceSource,
        wikipedia::{WikipediaConfig, WikipediaSource},
    },
    telegram::{Outbox, setup},
    users::UserStore,
};

/// How often idle per-chat rate-limit buckets are forgotten.
const LIMITER_CLEANUP_EVERY: Duration = Duration::from_secs(60);

/// A built, not yet running, application.
pub struct Application {
    port: u16,
    server: Server,
    dispatcher: Arc<Dispatcher>,
    outbox: Outbox,
    /// Present in long-polling mode.
    polling_bot: Option<Bot>,
    shutdown_grace: Duration,
    facts: FactActors,
}

/// The actors behind the facts pipeline, each on an arbiter (thread) of its own.
struct FactActors {
    cache: Addr<FactCache>,
    gate: Option<Addr<OpenAiGate>>,
    /// Kept to stop the actors' threads at shutdown.
    arbiters: Vec<Arbiter>,
}

impl FactActors {
    fn start(settings: &Settings, redis: Option<RedisStore>) -> anyhow::Result<Self> {
        let cache_arbiter = Arbiter::new();
        let ttl = settings.facts.cache_ttl;
        let cache = Supervisor::start_in_arbiter(&cache_arbiter.handle(), move |_| {
            FactCache::new(redis, ttl)
        });
        let mut arbiters = vec![cache_arbiter];
        let gate = match &settings.llm.api_key {
            None => {
                tracing::warn!(
                    "OPENAI_API_KEY is not set: stories will be the places' own summaries"
                );
                None
            }
            Some(api_key) => {
                let gate = OpenAiGate::new(
                    gate_config(settings),
                    OpenAiConfig {
                        base_url: settings
                            .llm
                            .base_url
                            .as_str()
                            .trim_end_matches('/')
                            .to_owned(),
                        api_key: api_key.clone(),
                        model: settings.llm.model.clone(),
                    },
                )
                .context("building the LLM client (OPENAI_BASE_URL)")?;
                let gate_arbiter = Arbiter::new();
                let addr = Supervisor::start_in_arbiter(&gate_arbiter.handle(), move |_| gate);
                arbiters.push(gate_arbiter);
                Some(addr)
            }
        };
        Ok(Self {
            cache,
            gate,
            arbiters,
        })
    }

    fn stop(self) {
        for arbiter in self.arbiters {
            arbiter.stop();
        }
    }
}

fn gate_config(settings: &Settings) -> GateConfig {
    GateConfig {
        permits: settings.llm.permits,
        call_timeout: settings.llm.call_timeout,
        interactive_queue_wait: settings.llm.queue_wait,
        ..GateConfig::default()
    }
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

fn wikipedia(settings: &Settings, user_agent: String) -> anyhow::Result<Arc<dyn PlaceSource>> {
    let config = WikipediaConfig {
        api_url_template: settings.facts.wikipedia_api_url.clone(),
        ..WikipediaConfig::new(user_agent)
    };
    let source = WikipediaSource::new(config).context("WIKIPEDIA_API_URL")?;
    Ok(Arc::new(source))
}

impl Application {
    /// Talks to Telegram (who are we, command menu, webhook or polling) and binds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let bot = setup::build_bot(&settings).context("building the Telegram client")?;
        let me = bot
            .get_me()
            .await
            .context("Telegram did not accept TELEGRAM_BOT_TOKEN (getMe failed)")?;
        tracing::info!(username = %me.username(), "connected to Telegram");
        setup::publish_commands(&bot)
            .await
            .context("setting the command menu (setMyCommands)")?;
        let polling_bot = prepare_ingress(&bot, &settings).await?;

        let users = UserStore::default();
        let outbox = Outbox::new(bot, settings.send_limits, users.clone());
        let redis = redis_store(&settings)?;
        let facts = FactActors::start(&settings, redis.clone())?;
        let user_agent = format!(
            "excursobot/{} (Telegram bot https://t.me/{})",
            env!("CARGO_PKG_VERSION"),
            me.username()
        );
        let stories = Arc::new(
            Storyteller::new(
                wikipedia(&settings, user_agent)?,
                facts.cache.clone(),
                facts.gate.clone(),
                outbox.clone(),
            )
            .with_llm_wait(settings.llm.queue_wait),
        );
        let router = Arc::new(Router {
            outbox: outbox.clone(),
            users,
            settings: Arc::clone(&settings),
            bot_username: me.username().to_owned(),
            stories,
        });
        let seen = SeenUpdates::new(redis);
        let dispatcher = Arc::new(Dispatcher::new(router, settings.update_backlog_max, seen));
        let (server, port) = serve(&settings, Arc::clone(&dispatcher))?;
        Ok(Self {
            port,
            server,
            dispatcher,
            outbox,
            polling_bot,
            shutdown_grace: settings.shutdown_grace,
            facts,
        })
    }

    /// The port the HTTP server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until `shutdown` completes, then shuts down in order (see the module docs).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let stop_polling = CancellationToken::new();
        let polling = self.polling_bot.map(|bot| {
            let dispatcher = Arc::clone(&self.dispatcher);
            tokio::spawn(polling::run(bot, dispatcher, stop_polling.clone()))
        });
        let cleanup = tokio::spawn(forget_idle_chats(self.outbox));
        tokio::select! {
            () = shutdown => {}
            result = &mut server => {
                cleanup.abort();
                return Ok(result.context("HTTP server task")??);
            }
        }
        tracing::info!("shutting down: no new updates");
        self.dispatcher.stop_accepting();
        stop_polling.cancel();
        if let Some(polling) = polling {
            polling.await.context("polling task")?;
        }
        if !self.dispatcher.drain(self.shutdown_grace).await {
            tracing::warn!(
                unfinished = self.dispatcher.backlog_len(),
                "shutdown grace elapsed with updates in flight"
            );
        }
        cleanup.abort();
        self.facts.stop();
        handle.stop(true).await;
        server.await.context("HTTP server task")??;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Webhook mode: register the webhook. Polling mode: remove any webhook, return the client.
async fn prepare_ingress(bot: &Bot, settings: &Settings) -> anyhow::Result<Option<Bot>> {
    match &settings.ingress {
        Ingress::Webhook { url, secret } => {
            let endpoint = setup::webhook_endpoint(url).context("WEBHOOK_URL")?;
            setup::ensure_webhook(bot, endpoint, secret.expose_secret())
                .await
                .context("registering the webhook (getWebhookInfo/setWebhook)")?;
            Ok(None)
        }
        Ingress::LongPolling => {
            bot.delete_webhook()
                .await
                .context("switching to long polling (deleteWebhook)")?;
            Ok(Some(bot.clone()))
        }
    }
}

fn serve(settings: &Settings, dispatcher: Arc<Dispatcher>) -> anyhow::Result<(Server, u16)> {
    let address = format!("{}:{}", settings.host, settings.port);
    let listener =
        TcpListener::bind(&address).with_context(|| format!("binding {address} (PORT)"))?;
    let port = listener.local_addr()?.port();
    let secret = match &settings.ingress {
        Ingress::Webhook { secret, .. } => Some(secret.clone()),
        Ingress::LongPolling => None,
    };
    let webhook_state = web::Data::new(WebhookState {
        secret,
        dispatcher: Arc::clone(&dispatcher),
    });
    let dispatcher = web::Data::new(dispatcher);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(webhook_state.clone())
            .app_data(dispatcher.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
            .route("/webhook", web::post().to(webhook::receive))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
    })
    .workers(settings.http_workers.max(1))
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(port, "listening");
    Ok((server, port))
}

async fn forget_idle_chats(outbox: Outbox) {
    let mut every = tokio::time::interval(LIMITER_CLEANUP_EVERY);
    loop {
        every.tick().await;
        outbox.forget_idle_chats();
    }
}
