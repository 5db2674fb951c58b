//! The bot under test: the real application, configured like production (its production send
//! limits included, unless the run lifts them) except that every endpoint is a local
//! simulator and the webhook has a secret; Redis and the database are the ones the run names
//! (by default the in-process cache and a scratch SQLite file). It runs in this process (`Application::build` +
//! `run_until_stopped`, as the tests do), or as the real binary in a child process, so its
//! memory and CPU can be measured without the simulators and the load generator.

use std::{
    collections::HashMap,
    net::{SocketAddr, TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{openai::SimOpenAi, telegram::SimTelegram, wikipedia::SimWikipedia};
use crate::{config::Settings, startup::Application, stats::process::ProcessFigures};

/// The webhook secret the simulated Telegram sends.
pub const SECRET: &str = "simulated-webhook-secret_1";
/// A well-formed token no real bot has.
const TOKEN: &str = "123456789:SIMULATED-token_not-a-real-bot";
/// Send limits high enough never to be reached, when a run lifts them.
const LIFTED_LIMIT: &str = "1000000";
/// How long a child bot may take to start listening.
const CHILD_START_LIMIT: Duration = Duration::from_secs(20);
/// How long a child bot may take to stop after SIGTERM.
const CHILD_STOP_LIMIT: Duration = Duration::from_secs(15);

/// The simulators a bot talks to.
pub struct Endpoints<'a> {
    /// Telegram.
    pub telegram: &'a SimTelegram,
    /// The LLM.
    pub openai: &'a SimOpenAi,
    /// Wikipedia.
    pub wikipedia: &'a SimWikipedia,
}

/// How the bot is deployed for a run, beyond the simulators.
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// Telegram's send limits lifted (in the bot and the simulated Telegram alike).
    pub lift_send_limits: bool,
    /// `REDIS_URL`, with a key prefix of the run's own.
    pub redis_url: Option<String>,
    /// `DATABASE_URL`; `None` for a scratch SQLite file.
    pub database_url: Option<String>,
    /// `HTTP_WORKERS`; `None` for the bot's default.
    pub http_workers: Option<usize>,
}

/// The settings as environment variables, exactly as production reads them.
pub fn variables(endpoints: &Endpoints, deployment: &Deployment) -> HashMap<String, String> {
    let log_filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let mut vars: HashMap<String, String> = [
        ("TELEGRAM_BOT_TOKEN", TOKEN.to_owned()),
        ("TELEGRAM_API_URL", endpoints.telegram.url()),
        ("WEBHOOK_URL", "http://127.0.0.1/simulated".to_owned()),
        ("WEBHOOK_SECRET", SECRET.to_owned()),
        ("PORT", "0".to_owned()),
        // The report reads the bot's own figures there at the end.
        ("METRICS_PORT", "0".to_owned()),
        ("SHUTDOWN_GRACE_SECS", "5".to_owned()),
        ("OPENAI_API_KEY", "simulated-key".to_owned()),
        ("OPENAI_BASE_URL", endpoints.openai.base_url()),
        ("WIKIPEDIA_API_URL", endpoints.wikipedia.api_url_template()),
        (
            "DATABASE_URL",
            deployment
                .database_url
                .clone()
                .unwrap_or_else(scratch_database_url),
        ),
        ("RUST_LOG", log_filter),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    if deployment.lift_send_limits {
        for limit in [
            "TELEGRAM_PER_CHAT_PER_SEC",
            "TELEGRAM_PER_CHAT_BURST",
            "TELEGRAM_GLOBAL_PER_SEC",
        ] {
            vars.insert(limit.to_owned(), LIFTED_LIMIT.to_owned());
        }
    }
    if let Some(redis) = &deployment.redis_url {
        vars.insert("REDIS_URL".to_owned(), redis.clone());
        vars.insert(
            "REDIS_KEY_PREFIX".to_owned(),
            format!("excursobot-simulate:{}:", stamp()),
        );
        // Stories of this run need not outlive it by a week.
        vars.insert("FACT_CACHE_TTL_SECS".to_owned(), "3600".to_owned());
    }
    if let Some(workers) = deployment.http_workers {
        vars.insert("HTTP_WORKERS".to_owned(), workers.to_string());
    }
    vars
}

/// A stamp unique to this run (process id and nanoseconds).
pub fn stamp() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// A Wikipedia URL on 127.0.0.1 where nothing listens: connections are refused at once.
pub fn unreachable_url() -> anyhow::Result<String> {
    Ok(format!(
        "http://127.0.0.1:{}/{{lang}}/w/api.php",
        free_port()?
    ))
}

/// A SQLite file of the simulation's own in the temp directory (the bot's embedded default
/// database, kept away from the working directory's `excursobot.db`).
fn scratch_database_url() -> String {
    let file = format!("excursobot-simulate-{}.db", stamp());
    format!(
        "sqlite://{}?mode=rwc",
        std::env::temp_dir().join(file).display()
    )
}

/// A running bot.
pub enum BotUnderTest {
    /// The application inside this process.
    InProcess {
        /// Where its webhook listens.
        port: u16,
        /// Where its `/metrics` listens.
        metrics_port: u16,
        /// Cancelling it begins the shutdown.
        shutdown: CancellationToken,
        /// The running application.
        running: JoinHandle<anyhow::Result<()>>,
    },
    /// The real binary, started by us.
    Child {
        /// Where its webhook listens.
        port: u16,
        /// Where its `/metrics` listens.
        metrics_port: u16,
        /// The process.
        child: Child,
    },
}

impl BotUnderTest {
    /// Builds and starts the application in this process.
    pub async fn in_process(vars: &HashMap<String, String>) -> anyhow::Result<Self> {
        let mut settings =
            Settings::from_lookup(|name| vars.get(name).cloned()).context("simulated settings")?;
        settings.host = "127.0.0.1".to_owned();
        let application = Application::build(settings).await?;
        let port = application.port();
        let metrics_port = application
            .metrics_port()
            .context("the bot serves no METRICS_PORT")?;
        let shutdown = CancellationToken::new();
        let running =
            tokio::spawn(application.run_until_stopped(shutdown.clone().cancelled_owned()));
        Ok(Self::InProcess {
            port,
            metrics_port,
            shutdown,
            running,
        })
    }

    /// Starts `binary` (the real `excursobot`) with `vars` as its whole environment, on a free
    /// port, and waits until it listens.
    pub async fn child(binary: &Path, vars: &HashMap<String, String>) -> anyhow::Result<Self> {
        let (port, metrics_port) = (free_port()?, free_port()?);
        let child = Command::new(binary)
            .env_clear()
            .envs(vars)
            .env("PORT", port.to_string())
            .env("METRICS_PORT", metrics_port.to_string())
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut bot = Self::Child {
            port,
            metrics_port,
            child,
        };
        let started = Instant::now();
        while TcpStream::connect(bot.addr()).is_err() {
            if let Self::Child { child, .. } = &mut bot
                && let Some(status) = child.try_wait()?
            {
                anyhow::bail!("the bot process exited at start-up: {status}");
            }
            if started.elapsed() > CHILD_START_LIMIT {
                anyhow::bail!("the bot process did not listen within {CHILD_START_LIMIT:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(bot)
    }

    /// Where the webhook listens.
    pub fn addr(&self) -> SocketAddr {
        let port = match self {
            Self::InProcess { port, .. } | Self::Child { port, .. } => *port,
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Where `/metrics` listens.
    pub fn metrics_addr(&self) -> SocketAddr {
        let port = match self {
            Self::InProcess { metrics_port, .. } | Self::Child { metrics_port, .. } => {
                *metrics_port
            }
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    /// Peak memory and CPU time of the bot's process so far.
    pub fn figures(&self) -> Option<ProcessFigures> {
        match self {
            Self::InProcess { .. } => ProcessFigures::read(
                "self",
                "one process: the bot, the three simulators and the load generator",
            ),
            Self::Child { child, .. } => ProcessFigures::read(
                &child.id().to_string(),
                "the bot alone: the real binary in a child process, in webhook mode",
            ),
        }
    }

    /// Shuts the bot down the way SIGTERM does and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        match self {
            Self::InProcess {
                shutdown, running, ..
            } => {
                shutdown.cancel();
                running.await.context("the bot task")?
            }
            Self::Child { mut child, .. } => {
                let pid = i32::try_from(child.id()).context("child pid")?;
                // SAFETY: kill only sends a signal to the process we started.
                unsafe { libc::kill(pid, libc::SIGTERM) };
                let started = Instant::now();
                while child.try_wait()?.is_none() {
                    if started.elapsed() > CHILD_STOP_LIMIT {
                        child.kill()?;
                        anyhow::bail!("the bot process ignored SIGTERM for {CHILD_STOP_LIMIT:?}");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(())
            }
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
