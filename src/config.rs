//! Typed settings, read once at start-up from environment variables.
//!
//! Every variable has a documented default (see the README) or is required. A missing or
//! malformed variable stops start-up with one line naming the variable and the expected form;
//! secrets are held in [`SecretString`] so they never reach a log, and are never echoed back in
//! an error.

mod sections;

use std::{num::NonZeroU32, time::Duration};

use secrecy::SecretString;
use url::Url;

/// The embedded default when `DATABASE_URL` is unset: a SQLite file next to the process.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://excursobot.db?mode=rwc";

/// Whether `url` names a SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// The public Bot API, used when `TELEGRAM_API_URL` is unset.
pub const DEFAULT_TELEGRAM_API_URL: &str = "https://api.telegram.org";

/// A variable that is missing or does not have the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}; expected {expected}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it ("is missing", "is malformed: ...").
    pub problem: String,
    /// The form the variable must have.
    pub expected: &'static str,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors (Railway).
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// How updates reach the bot.
#[derive(Debug, Clone)]
pub enum Ingress {
    /// Telegram POSTs updates to `{url}/webhook` with `secret` in a header.
    Webhook {
        /// Public base URL of this service, e.g. the Railway domain.
        url: Url,
        /// Shared secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`.
        secret: SecretString,
    },
    /// The bot pulls updates with `getUpdates` (a laptop needs nothing but a token).
    LongPolling,
}

/// Telegram's sending limits as we enforce them.
#[derive(Debug, Clone, Copy)]
pub struct SendLimits {
    /// Sustained messages per second to one chat.
    pub per_chat_per_sec: NonZeroU32,
    /// Messages one chat may receive at once (photo + pin + buttons leave together).
    pub per_chat_burst: NonZeroU32,
    /// Sustained messages per second across all chats.
    pub global_per_sec: NonZeroU32,
}

/// Where `GET /metrics` is served. Never open on the public port by default: Railway makes
/// that port's domain public.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// `METRICS_PORT`: a second listener serving only `/metrics` (reached over private
    /// networking).
    pub port: Option<u16>,
    /// `METRICS_TOKEN`: `/metrics` on the public port, for `Authorization: Bearer <token>`
    /// (and required on `METRICS_PORT` too when both are set).
    pub token: Option<SecretString>,
}

/// The LLM endpoint and how the gate uses it.
#[derive(Debug, Clone)]
pub struct LlmSettings {
    /// API key; `None` means no LLM: every story is the place's own summary.
    pub api_key: Option<SecretString>,
    /// Any OpenAI-compatible endpoint.
    pub base_url: Url,
    /// Chat model name.
    pub model: String,
    /// Concurrent LLM calls.
    pub permits: usize,
    /// Longest one LLM call may take.
    pub call_timeout: Duration,
    /// How long a user waits for a written story (queued or being written) before the
    /// fallback is sent; the story is still cached when it comes.
    pub queue_wait: Duration,
    /// How long a user waits for the story to start being written (a free LLM permit)
    /// before the summary is sent; the story, written later, replaces it.
    pub start_wait: Duration,
    /// Write the next place's story ahead with idle LLM permits (`Background` priority).
    pub write_ahead: bool,
}

/// Where facts come from and how long they are kept.
#[derive(Debug, Clone)]
pub struct FactSettings {
    /// MediaWiki API URL template; `{lang}` becomes the wiki language.
    pub wikipedia_api_url: String,
    /// Redis for the shared cache and deduplication; `None` keeps both in process.
    pub redis_url: Option<SecretString>,
    /// Prefix of every Redis key.
    pub redis_key_prefix: String,
    /// How long stories and place lists are cached.
    pub cache_ttl: Duration,
}

/// Live-location tours (the `LiveLocationSessions` actor).
#[derive(Debug, Clone, Copy)]
pub struct LiveSettings {
    /// Active tours one instance runs at most; the next user is told to try later.
    pub max_sessions: usize,
    /// Buffered live updates that trigger a batch flush.
    pub batch_size: usize,
    /// Longest a live update waits in the buffer.
    pub batch_flush: Duration,
    /// Simulation only (`TOUR_TIME_SCALE`): tours' time runs this many times faster than
    /// the wall clock (60: a tour minute lasts a second). 1 in production.
    pub time_scale: u32,
}

/// How often a supervised actor may restart (OTP's intensity and period) before the service
/// is not ready, and how long that may go on before the process exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartLimits {
    /// More restarts than this of one actor within `window` mark the service not ready.
    pub max_restarts: usize,
    /// The sliding window restarts are counted in.
    pub window: Duration,
    /// An actor still over its limit this long after it first went over: the process exits
    /// non-zero (the platform restarts it).
    pub give_up_after: Duration,
}

impl Default for RestartLimits {
    fn default() -> Self {
        Self {
            max_restarts: 5,
            window: Duration::from_secs(10),
            give_up_after: Duration::from_secs(30),
        }
    }
}

/// Where spans are exported: OpenTelemetry's standard variables.
#[derive(Debug, Clone)]
pub struct TraceSettings {
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's OTLP/HTTP base URL (spans go to
    /// `{endpoint}/v1/traces`); `None` exports nothing.
    pub otlp_endpoint: Option<Url>,
    /// `OTEL_SERVICE_NAME`: the `service.name` the spans carry.
    pub service_name: String,
}

/// Where users' memory lives.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://...` (embedded default) or `postgres://...`; may hold a password.
    pub url: SecretString,
    /// Connections in the pool.
    pub pool_max: u32,
    /// A place is not told to the same user again within this many days.
    pub repeat_days: u32,
}

/// Everything the application needs, built once at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bot token from @BotFather; it sits inside every Telegram URL, so it is secret.
    pub telegram_token: SecretString,
    /// Base URL of the Bot API (tests point it at a local mock).
    pub telegram_api_url: Url,
    /// Webhook or long polling.
    pub ingress: Ingress,
    /// Address the HTTP server binds to (not an env variable; tests use 127.0.0.1).
    pub host: String,
    /// Port of the HTTP server; 0 picks a free one (tests).
    pub port: u16,
    /// Number of actix-web worker threads.
    pub http_workers: usize,
    /// Telegram user ids allowed to run admin commands.
    pub admin_user_ids: Vec<u64>,
    /// Log line format.
    pub log_format: LogFormat,
    /// tracing filter directives (`RUST_LOG`), checked at start-up.
    pub log_filter: String,
    /// How long in-flight replies may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Updates being handled at once before the webhook answers 503.
    pub update_backlog_max: usize,
    /// Outgoing message limits.
    pub send_limits: SendLimits,
    /// LLM access.
    pub llm: LlmSettings,
    /// Place and fact sources and their cache.
    pub facts: FactSettings,
    /// Live-location tours.
    pub live: LiveSettings,
    /// The database.
    pub database: DatabaseSettings,
    /// The actors' restart limits.
    pub restarts: RestartLimits,
    /// `PAYMENT_SECRET`: the key invoice payloads are signed with; `None` derives one from
    /// the bot token.
    pub payment_secret: Option<SecretString>,
    /// Where Prometheus scrapes the bot.
    pub metrics: MetricsSettings,
    /// Where spans are exported.
    pub traces: TraceSettings,
}

impl Settings {
    /// Reads settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (tests pass a map instead of the environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        Ok(Self {
            telegram_token: sections::telegram_token(&env)?,
            telegram_api_url: env.url("TELEGRAM_API_URL", DEFAULT_TELEGRAM_API_URL)?,
            ingress: sections::ingress(&env)?,
            host: "0.0.0.0".to_owned(),
            port: env.parsed("PORT", 8080, "a port number 0-65535")?,
            http_workers: env.parsed("HTTP_WORKERS", default_workers(), "a positive integer")?,
            admin_user_ids: sections::admin_ids(&env)?,
            log_format: sections::log_format(&env)?,
            log_filter: sections::log_filter(&env)?,
            shutdown_grace: Duration::from_secs(env.parsed(
                "SHUTDOWN_GRACE_SECS",
                10,
                "a whole number of seconds",
            )?),
            update_backlog_max: env.parsed("UPDATE_BACKLOG_MAX", 1000, "a positive integer")?,
            send_limits: SendLimits {
                per_chat_per_sec: env.non_zero("TELEGRAM_PER_CHAT_PER_SEC", 1)?,
                per_chat_burst: env.non_zero("TELEGRAM_PER_CHAT_BURST", 3)?,
                global_per_sec: env.non_zero("TELEGRAM_GLOBAL_PER_SEC", 30)?,
            },
            llm: sections::llm(&env)?,
            facts: sections::facts(&env)?,
            live: sections::live(&env)?,
            database: sections::database(&env)?,
            restarts: sections::restarts(&env)?,
            payment_secret: sections::payment_secret(&env)?,
            metrics: sections::metrics(&env)?,
            traces: sections::traces(&env)?,
        })
    }

    /// Whether `user_id` may run admin commands.
    pub fn is_admin(&self, user_id: u64) -> bool {
        self.admin_user_ids.contains(&user_id)
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Variable lookup with typed, named errors.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// The variable's value; empty counts as unset.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn parsed<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        expected: &'static str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|_| malformed(name, &raw, expected)),
        }
    }

    fn non_zero(&self, name: &'static str, default: u32) -> Result<NonZeroU32, ConfigError> {
        let value: u32 = self.parsed(name, default, "a positive integer")?;
        NonZeroU32::new(value).ok_or_else(|| malformed(name, "0", "a positive integer"))
    }

    fn url(&self, name: &'static str, default: &str) -> Result<Url, ConfigError> {
        let raw = self.get(name).unwrap_or_else(|| default.to_owned());
        let expected = "an absolute http(s) URL such as https://example.com";
        let url = Url::parse(raw.trim()).map_err(|_| malformed(name, &raw, expected))?;
        match url.scheme() {
            "http" | "https" if url.has_host() => Ok(url),
            _ => Err(malformed(name, &raw, expected)),
        }
    }
}

fn malformed(variable: &'static str, found: &str, expected: &'static str) -> ConfigError {
    ConfigError {
        variable,
        problem: format!("is malformed ({found:?})"),
        expected,
    }
}

#[cfg(test)]
mod tests;
