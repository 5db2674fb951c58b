//! Typed settings, read once at start-up from environment variables.
//!
//! Every variable has a documented default (see the README) or is required. A missing or
//! malformed variable stops start-up with one line naming the variable and the expected form;
//! secrets are held in [`SecretString`] so they never reach a log, and are never echoed back in
//! an error.

use std::{num::NonZeroU32, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use url::Url;

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
            telegram_token: telegram_token(&env)?,
            telegram_api_url: env.url("TELEGRAM_API_URL", DEFAULT_TELEGRAM_API_URL)?,
            ingress: ingress(&env)?,
            host: "0.0.0.0".to_owned(),
            port: env.parsed("PORT", 8080, "a port number 0-65535")?,
            http_workers: env.parsed("HTTP_WORKERS", default_workers(), "a positive integer")?,
            admin_user_ids: admin_ids(&env)?,
            log_format: log_format(&env)?,
            log_filter: log_filter(&env)?,
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
            llm: llm(&env)?,
            facts: facts(&env)?,
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

fn telegram_token(env: &Env) -> Result<SecretString, ConfigError> {
    const EXPECTED: &str = "the token from @BotFather, like 123456789:AAE...";
    let Some(token) = env.get("TELEGRAM_BOT_TOKEN") else {
        return Err(ConfigError {
            variable: "TELEGRAM_BOT_TOKEN",
            problem: "is missing".to_owned(),
            expected: EXPECTED,
        });
    };
    let token = SecretString::from(token.trim().to_owned());
    let well_formed = token
        .expose_secret()
        .split_once(':')
        .is_some_and(|(id, key)| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if well_formed {
        Ok(token)
    } else {
        // The value is a secret: never echo it.
        Err(ConfigError {
            variable: "TELEGRAM_BOT_TOKEN",
            problem: "is malformed".to_owned(),
            expected: EXPECTED,
        })
    }
}

fn ingress(env: &Env) -> Result<Ingress, ConfigError> {
    const EXPECTED: &str = "1-256 characters of A-Z a-z 0-9 _ -";
    if env.get("WEBHOOK_URL").is_none() {
        return Ok(Ingress::LongPolling);
    }
    let url = env.url("WEBHOOK_URL", "")?;
    let secret = env.get("WEBHOOK_SECRET").ok_or_else(|| ConfigError {
        variable: "WEBHOOK_SECRET",
        problem: "is missing (required when WEBHOOK_URL is set)".to_owned(),
        expected: EXPECTED,
    })?;
    let valid = (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(ConfigError {
            variable: "WEBHOOK_SECRET",
            problem: "is malformed".to_owned(),
            expected: EXPECTED,
        });
    }
    Ok(Ingress::Webhook {
        url,
        secret: SecretString::from(secret),
    })
}

fn admin_ids(env: &Env) -> Result<Vec<u64>, ConfigError> {
    const EXPECTED: &str = "numeric Telegram user ids separated by commas, like 12345,67890";
    let Some(raw) = env.get("ADMIN_USER_IDS") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse()
                .map_err(|_| malformed("ADMIN_USER_IDS", &raw, EXPECTED))
        })
        .collect()
}

fn log_format(env: &Env) -> Result<LogFormat, ConfigError> {
    match env.get("LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("pretty") => Ok(LogFormat::Pretty),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(malformed("LOG_FORMAT", other, "json or pretty")),
    }
}

fn llm(env: &Env) -> Result<LlmSettings, ConfigError> {
    let permits: usize = env.parsed("LLM_PERMITS", 3, "a positive integer")?;
    if permits == 0 {
        return Err(malformed("LLM_PERMITS", "0", "a positive integer"));
    }
    Ok(LlmSettings {
        api_key: env.get("OPENAI_API_KEY").map(SecretString::from),
        base_url: env.url("OPENAI_BASE_URL", "https://api.openai.com/v1")?,
        model: env
            .get("OPENAI_MODEL")
            .unwrap_or_else(|| "gpt-4.1-mini".to_owned()),
        permits,
        call_timeout: Duration::from_secs(env.parsed(
            "LLM_TIMEOUT_SECS",
            30,
            "a whole number of seconds",
        )?),
        queue_wait: Duration::from_secs(env.parsed(
            "LLM_QUEUE_WAIT_SECS",
            8,
            "a whole number of seconds",
        )?),
    })
}

fn facts(env: &Env) -> Result<FactSettings, ConfigError> {
    const WIKI: &str = "https://{lang}.wikipedia.org/w/api.php";
    let template = env
        .get("WIKIPEDIA_API_URL")
        .unwrap_or_else(|| WIKI.to_owned());
    let expected =
        "an http(s) URL with {lang} for the language, like https://{lang}.wikipedia.org/w/api.php";
    let probe = template.replace("{lang}", "en");
    let is_url =
        matches!(Url::parse(&probe), Ok(url) if url.has_host() && url.scheme().starts_with("http"));
    if !is_url || !template.contains("{lang}") {
        return Err(malformed("WIKIPEDIA_API_URL", &template, expected));
    }
    let redis_url = env.get("REDIS_URL");
    if let Some(url) = &redis_url
        && !(url.starts_with("redis://") || url.starts_with("rediss://"))
    {
        // The URL may carry a password: name the variable, not the value.
        return Err(ConfigError {
            variable: "REDIS_URL",
            problem: "is malformed".to_owned(),
            expected: "redis://[user:password@]host:port[/db]",
        });
    }
    Ok(FactSettings {
        wikipedia_api_url: template,
        redis_url: redis_url.map(SecretString::from),
        redis_key_prefix: env
            .get("REDIS_KEY_PREFIX")
            .unwrap_or_else(|| "excursobot:".to_owned()),
        cache_ttl: Duration::from_secs(env.parsed(
            "FACT_CACHE_TTL_SECS",
            7 * 24 * 3600,
            "a whole number of seconds",
        )?),
    })
}

fn log_filter(env: &Env) -> Result<String, ConfigError> {
    let filter = env.get("RUST_LOG").unwrap_or_else(|| "info".to_owned());
    match tracing_subscriber::EnvFilter::try_new(&filter) {
        Ok(_) => Ok(filter),
        Err(_) => Err(malformed(
            "RUST_LOG",
            &filter,
            "tracing directives such as info or excursobot=debug,info",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOKEN: &str = "123456:ABC-def_ghi";

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_only_a_token_and_mean_long_polling() {
        let settings = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN)]).unwrap();
        assert_eq!(settings.port, 8080);
        assert_eq!(settings.shutdown_grace, Duration::from_secs(10));
        assert_eq!(settings.log_format, LogFormat::Pretty);
        assert!(matches!(settings.ingress, Ingress::LongPolling));
        assert_eq!(
            settings.telegram_api_url.as_str(),
            "https://api.telegram.org/"
        );
    }

    #[test]
    fn a_missing_token_names_the_variable() {
        let error = settings(&[]).unwrap_err();
        assert_eq!(error.variable, "TELEGRAM_BOT_TOKEN");
        assert!(
            error
                .to_string()
                .starts_with("TELEGRAM_BOT_TOKEN: is missing")
        );
    }

    #[test]
    fn a_malformed_token_is_not_echoed() {
        let error = settings(&[("TELEGRAM_BOT_TOKEN", "secret-without-colon")]).unwrap_err();
        assert_eq!(error.variable, "TELEGRAM_BOT_TOKEN");
        assert!(!error.to_string().contains("secret-without-colon"));
    }

    #[test]
    fn webhook_mode_requires_a_well_formed_secret() {
        let base = [
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("WEBHOOK_URL", "https://x.example"),
        ];
        assert_eq!(settings(&base).unwrap_err().variable, "WEBHOOK_SECRET");
        let bad = [base[0], base[1], ("WEBHOOK_SECRET", "has space")];
        assert_eq!(settings(&bad).unwrap_err().variable, "WEBHOOK_SECRET");
        let good = [base[0], base[1], ("WEBHOOK_SECRET", "s3cr3t_-X")];
        assert!(matches!(
            settings(&good).unwrap().ingress,
            Ingress::Webhook { .. }
        ));
    }

    #[test]
    fn malformed_numbers_and_urls_name_their_variable() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("SHUTDOWN_GRACE_SECS", "-1"),
            ("ADMIN_USER_IDS", "12,abc"),
            ("LOG_FORMAT", "xml"),
            ("RUST_LOG", "info,=[{"),
            ("TELEGRAM_API_URL", "ftp://x"),
            ("TELEGRAM_PER_CHAT_BURST", "0"),
            ("LLM_PERMITS", "0"),
            ("OPENAI_BASE_URL", "not a url"),
            ("WIKIPEDIA_API_URL", "nowhere"),
            ("REDIS_URL", "localhost:6379"),
            ("FACT_CACHE_TTL_SECS", "week"),
        ] {
            let error = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN), (name, value)]).unwrap_err();
            assert_eq!(error.variable, name, "{error}");
        }
    }

    #[test]
    fn admin_ids_are_numeric_and_checked_by_id() {
        let settings = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN), ("ADMIN_USER_IDS", " 1, 42 ")]);
        let settings = settings.unwrap();
        assert!(settings.is_admin(42));
        assert!(!settings.is_admin(7));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let settings = settings(&[
            ("TELEGRAM_BOT_TOKEN", TOKEN),
            ("WEBHOOK_URL", "https://x.example"),
            ("WEBHOOK_SECRET", "topsecret"),
        ])
        .unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("ABC-def_ghi") && !printed.contains("topsecret"));
    }
}
