//! Building and running the application: the same [`Application::build`] serves `main` and
//! the tests (with port 0).
//!
//! At start the journal is replayed ([`crate::handlers::replay`]). Shutdown runs in order,
//! whether it was asked for or the HTTP server or the polling task ended first: stop admitting
//! updates (the webhook answers 503 + `Retry-After`, `/readyz` fails) and stop polling; let
//! in-flight updates finish within the grace period, and when it runs out seal the journal
//! and close the outbox (what is unfinished stays journaled and is handled at the next start;
//! nothing more of it is sent); commit the journal's last removals; drain the live tours into
//! their store (buffered updates applied, every tour written, so the next instance restores
//! them); flush the write-behind buffer; stop the actors and close the pool; stop the HTTP
//! server. Last, once the runtime is gone, `main` sends the spans still batched for the
//! OTLP exporter ([`crate::telemetry::traces::Traces::shutdown`]).

use std::{
    future::Future,
    net::TcpListener,
    sync::Arc,
    time::{Duration, Instant},
};

#[cfg(feature = "fault-injection")]
mod crash;
mod scraping;
mod services;
mod tours;

#[cfg(feature = "fault-injection")]
pub use crash::CrashSwitch;

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use teloxide::{ApiError, Bot, RequestError, prelude::Requester, types::Me};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    allocator,
    cache::SeenUpdates,
    config::{Ingress, Settings},
    db::journal::Journal,
    db::sessions::DbSessionStore,
    facts::{
        StorySteps, Storyteller, places::PlaceFinder, teller::Teller, told::ToldPlaces,
        writer::StoryWriter,
    },
    handlers::{
        context::Context as HandlerContext,
        dispatch::Dispatcher,
        health, polling, replay,
        scrape::{self, Scrape},
        webhook::{self, WebhookState},
    },
    payments::PaymentKey,
    stats::{ErrorLog, Metrics},
    telegram::{Outbox, setup},
    users::UserStore,
};
use services::Services;
use tours::TourActors;

/// How often idle per-chat rate-limit buckets are forgotten.
const LIMITER_CLEANUP_EVERY: Duration = Duration::from_secs(60);

/// A built, not yet running, application.
pub struct Application {
    port: u16,
    server: Server,
    /// `METRICS_PORT`'s listener and the port it is bound to, when set.
    metrics_server: Option<(Server, u16)>,
    metrics: Metrics,
    dispatcher: Arc<Dispatcher>,
    outbox: Outbox,
    /// Present in long-polling mode.
    polling_bot: Option<Bot>,
    shutdown_grace: Duration,
    services: Services,
    tours: TourActors,
    #[cfg(feature = "fault-injection")]
    crash: CrashSwitch,
    /// Updates acknowledged and not finished.
    journal: Journal,
}

impl Application {
    /// Connects the database and Redis, starts the actors (restoring live tours), talks to
    /// Telegram (who are we, command menu, webhook or polling) and binds the server.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let settings = Arc::new(settings);
        let bot = setup::build_bot(&settings).context("building the Telegram client")?;
        let me = who_we_are(&bot, &settings.telegram_api_url).await?;
        tracing::info!(username = %me.username(), "connected to Telegram");
        setup::publish_commands(&bot)
            .await
            .context("setting the command menu (setMyCommands)")?;
        let polling_bot = prepare_ingress(&bot, &settings).await?;

        let errors = ErrorLog::default();
        let metrics = Metrics::new();
        metrics.install_global();
        let services = Services::start(&settings, errors.clone(), &metrics).await?;
        let users = UserStore::new(services.db.clone());
        let blocked = services.db.clone().recipient();
        let outbox =
            Outbox::new(bot, settings.send_limits, blocked, errors.clone()).with_metrics(&metrics);
        let steps = story_steps(&settings, &services, &outbox, me.username(), &errors)?;
        let steps = steps.with_metrics(&metrics);
        let stories = Arc::new(Storyteller::new(steps.clone()));
        let store = Arc::new(DbSessionStore::new(services.connection.clone()));
        let supervision = &services.supervision;
        let tours = TourActors::start(
            &services.arbiter(),
            supervision,
            &settings,
            store,
            steps,
            &users,
        );
        outbox.tell_blocks_to(tours.sessions.clone().recipient());
        let ctx = Arc::new(HandlerContext {
            outbox: outbox.clone(),
            users,
            settings: Arc::clone(&settings),
            bot_username: me.username().to_owned(),
            stories,
            tours: tours.sessions.clone(),
            db: services.db.clone(),
            cache: services.cache.clone(),
            gate: services.gate.clone(),
            errors,
            started_at: Instant::now(),
            payment_key: payment_key(&settings),
        });
        let seen = SeenUpdates::new(services.redis.clone());
        let journal = Journal::start(services.connection.clone(), services.reach.clone());
        let dispatcher = Dispatcher::new(Arc::clone(&ctx), settings.update_backlog_max, seen);
        let dispatcher = dispatcher.with_journal(journal.clone());
        let dispatcher = Arc::new(dispatcher.with_metrics(&metrics));
        let health = health::Readiness {
            dispatcher: Arc::clone(&dispatcher),
            db: services.db.clone(),
            supervision: services.supervision.clone(),
        };
        let scrape = web::Data::new(Scrape {
            ctx,
            dispatcher: Arc::clone(&dispatcher),
            metrics: metrics.clone(),
            token: settings.metrics.token.clone(),
        });
        let (server, port) = serve(&settings, &dispatcher, health, &scrape)?;
        let metrics_server = scraping::serve_metrics(&settings, scrape)?;
        #[cfg(feature = "fault-injection")]
        let crash = CrashSwitch::new(&services, &tours, server.handle());
        Ok(Self {
            port,
            server,
            metrics_server,
            metrics,
            dispatcher,
            outbox,
            polling_bot,
            shutdown_grace: settings.shutdown_grace,
            #[cfg(feature = "fault-injection")]
            crash,
            services,
            tours,
            journal,
        })
    }

    /// Test-only: makes this application's actors panic on demand.
    #[cfg(feature = "fault-injection")]
    #[doc(hidden)]
    pub fn crash_switch(&self) -> CrashSwitch {
        self.crash.clone()
    }

    /// The port the HTTP server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on alone (`METRICS_PORT`), when set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_server.as_ref().map(|(_, port)| *port)
    }

    /// Runs until `shutdown` completes (or the HTTP server or the polling task ends), then
    /// shuts down in order (see the module docs).
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let mut server = tokio::spawn(self.server);
        let stop_polling = CancellationToken::new();
        let mut polling = self.polling_bot.map(|bot| {
            let dispatcher = Arc::clone(&self.dispatcher);
            let run = polling::run(bot, dispatcher, stop_polling.clone());
            #[cfg(feature = "fault-injection")]
            let run = self.crash.panicking(run);
            tokio::spawn(run)
        });
        let metrics_server = self.metrics_server.map(|(server, _)| {
            let handle = server.handle();
            (tokio::spawn(server), handle)
        });
        let (outbox, metrics) = (self.outbox.clone(), self.metrics.clone());
        let cleanup = tokio::spawn(async move {
            tokio::join!(
                forget_idle_chats(outbox),
                allocator::give_back_freed_memory(),
                scraping::keep_metrics_bounded(metrics)
            )
        });
        // Not awaited nor aborted: it stops at the first update refused for the shutdown, and
        // an abort between claiming an entry and handing it over would drop the entry.
        tokio::spawn(replay::run(
            Arc::clone(&self.dispatcher),
            self.journal.clone(),
            self.services.connection.clone(),
        ));
        let polling_ended = async {
            match polling.as_mut() {
                Some(task) => task.await,
                None => std::future::pending().await,
            }
        };
        let mut server_ended = None;
        // Why the bot stops when nobody asked it to: then it exits non-zero, so the platform
        // starts it again.
        let mut failed = None;
        tokio::select! {
            () = shutdown => {}
            actor = self.services.supervision.given_up() => {
                failed = Some(format!(
                    "the {actor} actor kept panicking past its restart limit"
                ));
            }
            result = &mut server => {
                tracing::error!("the HTTP server stopped by itself: shutting down");
                server_ended = Some(result);
                failed = Some("the HTTP server stopped by itself".to_owned());
            }
            result = polling_ended => {
                polling = None;
                match result {
                    Ok(()) => tracing::error!("polling stopped by itself: shutting down"),
                    Err(error) => tracing::error!(%error, "polling task failed: shutting down"),
                }
                failed = Some("long polling stopped".to_owned());
            }
        }
        tracing::info!("shutting down: no new updates");
        self.dispatcher.stop_accepting();
        stop_polling.cancel();
        if let Some(polling) = polling
            && let Err(error) = polling.await
        {
            tracing::error!(%error, "polling task failed");
        }
        let finished = self.dispatcher.drain(self.shutdown_grace).await;
        if !finished {
            tracing::warn!(
                unfinished = self.dispatcher.backlog_len(),
                journaled = self.journal.entries(),
                "shutdown grace elapsed with updates in flight; they stay journaled for the next start"
            );
            self.journal.seal();
            self.outbox.close();
        }
        cleanup.abort();
        self.journal.close().await;
        self.tours.stop().await;
        self.services.stop().await;
        self.outbox.close();
        if let Some((task, handle)) = metrics_server {
            handle.stop(true).await;
            task.await.context("metrics server task")??;
        }
        match server_ended {
            Some(result) => result.context("HTTP server task")??,
            None => {
                handle.stop(true).await;
                server.await.context("HTTP server task")??;
            }
        }
        tracing::info!("stopped");
        match failed {
            None => Ok(()),
            Some(why) => Err(anyhow::anyhow!(
                "{why}; exiting so the platform restarts the process"
            )),
        }
    }
}

/// Asks Telegram who we are (`getMe`). A failure says what happened, naming Telegram's URL but
/// never the token, which sits inside every Bot API URL: unreachable, token rejected, or an
/// answer that is not the Bot API's.
async fn who_we_are(bot: &Bot, api_url: &Url) -> anyhow::Result<Me> {
    bot.get_me().await.map_err(|error| match error {
        RequestError::Api(ApiError::InvalidToken) => anyhow::anyhow!(
            "Telegram rejected TELEGRAM_BOT_TOKEN (getMe at {api_url}: Unauthorized); \
             check the token with @BotFather"
        ),
        RequestError::Network(cause) => anyhow::Error::new(cause)
            .context(format!("could not reach Telegram at {api_url} (getMe)")),
        RequestError::InvalidJson { source, .. } => anyhow::Error::new(source).context(format!(
            "could not read the answer of Telegram at {api_url} to getMe \
             (is TELEGRAM_API_URL a Bot API server?)"
        )),
        other => anyhow::Error::new(other).context(format!("getMe failed at {api_url}")),
    })
}

/// The key invoice payloads are signed with: `PAYMENT_SECRET`, else one derived from the bot
/// token.
fn payment_key(settings: &Settings) -> PaymentKey {
    match &settings.payment_secret {
        Some(secret) => PaymentKey::from_secret(secret.expose_secret().as_bytes()),
        None => PaymentKey::from_bot_token(settings.telegram_token.expose_secret().as_bytes()),
    }
}

/// The story pipeline's steps over the running services.
fn story_steps(
    settings: &Settings,
    services: &Services,
    outbox: &Outbox,
    bot_username: &str,
    errors: &ErrorLog,
) -> anyhow::Result<StorySteps> {
    let source = services::wikipedia(settings, bot_username)?;
    let (db, cache) = (services.db.clone(), services.cache.clone());
    let writer = StoryWriter::new(cache.clone(), services.gate.clone(), errors.clone())
        .with_llm_wait(settings.llm.queue_wait)
        .with_start_wait(settings.llm.start_wait)
        .with_write_ahead(settings.llm.write_ahead);
    Ok(StorySteps {
        finder: PlaceFinder::new(source, cache),
        told: ToldPlaces::new(db.clone(), settings.database.repeat_days, errors.clone()),
        writer,
        teller: Teller::new(outbox.clone(), db),
        errors: errors.clone(),
    })
}

/// `excursobot migrate`: applies the database migrations and returns.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    services::migrated_database(&settings).await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// Completes on SIGTERM (Railway, Docker) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutdown signal received");
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

fn serve(
    settings: &Settings,
    dispatcher: &Arc<Dispatcher>,
    health: health::Readiness,
    scrape: &web::Data<Scrape>,
) -> anyhow::Result<(Server, u16)> {
    let address = format!("{}:{}", settings.host, settings.port);
    let listener =
        TcpListener::bind(&address).with_context(|| format!("binding {address} (PORT)"))?;
    let port = listener.local_addr()?.port();
    let secret = match &settings.ingress {
        Ingress::Webhook { secret, .. } => Some(secret.clone()),
        Ingress::LongPolling => None,
    };
    let webhook_state = web::Data::new(WebhookState::new(secret, Arc::clone(dispatcher)));
    let health = web::Data::new(health);
    // On the public port only behind a token: Railway makes this port's domain public.
    let scrape = settings.metrics.token.is_some().then(|| scrape.clone());
    let server = HttpServer::new(move || {
        let app = App::new()
            .app_data(webhook_state.clone())
            .app_data(health.clone())
            .route("/webhook", web::post().to(webhook::receive))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz));
        match &scrape {
            Some(scrape) => app
                .app_data(scrape.clone())
                .route("/metrics", web::get().to(scrape::metrics)),
            None => app,
        }
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
