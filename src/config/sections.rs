//! One parser per group of variables, each naming the variable and the expected form when
//! a value is malformed. Values that may hold secrets are never echoed back.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{
    ConfigError, DatabaseSettings, Env, FactSettings, Ingress, LiveSettings, LlmSettings,
    LogFormat, MetricsSettings, RestartLimits, TraceSettings, malformed,
};

pub(super) fn telegram_token(env: &Env) -> Result<SecretString, ConfigError> {
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

pub(super) fn ingress(env: &Env) -> Result<Ingress, ConfigError> {
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

pub(super) fn admin_ids(env: &Env) -> Result<Vec<u64>, ConfigError> {
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

pub(super) fn log_format(env: &Env) -> Result<LogFormat, ConfigError> {
    match env.get("LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("pretty") => Ok(LogFormat::Pretty),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(malformed("LOG_FORMAT", other, "json or pretty")),
    }
}

pub(super) fn llm(env: &Env) -> Result<LlmSettings, ConfigError> {
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
        start_wait: Duration::from_millis(env.parsed(
            "LLM_START_WAIT_MS",
            800,
            "a whole number of milliseconds",
        )?),
        write_ahead: env.parsed("LLM_WRITE_AHEAD", true, "true or false")?,
    })
}

pub(super) fn facts(env: &Env) -> Result<FactSettings, ConfigError> {
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

pub(super) fn live(env: &Env) -> Result<LiveSettings, ConfigError> {
    let max_sessions = env.parsed("LIVE_SESSIONS_MAX", 50, "a whole number of tours")?;
    let batch_size: usize = env.parsed("LIVE_BATCH_SIZE", 5, "a positive integer")?;
    if batch_size == 0 {
        return Err(malformed("LIVE_BATCH_SIZE", "0", "a positive integer"));
    }
    let flush_ms: u64 = env.parsed("LIVE_BATCH_FLUSH_MS", 1000, "a positive number of ms")?;
    if flush_ms == 0 {
        return Err(malformed(
            "LIVE_BATCH_FLUSH_MS",
            "0",
            "a positive number of ms",
        ));
    }
    let expected = "a whole number from 1 to 3600 (simulation only; 1 in production)";
    let time_scale: u32 = env.parsed("TOUR_TIME_SCALE", 1, expected)?;
    if !(1..=3600).contains(&time_scale) {
        return Err(malformed(
            "TOUR_TIME_SCALE",
            &time_scale.to_string(),
            expected,
        ));
    }
    Ok(LiveSettings {
        max_sessions,
        batch_size,
        batch_flush: Duration::from_millis(flush_ms),
        time_scale,
    })
}

pub(super) fn restarts(env: &Env) -> Result<RestartLimits, ConfigError> {
    let default = RestartLimits::default();
    let secs = "a whole number of seconds";
    Ok(RestartLimits {
        max_restarts: env.parsed("ACTOR_MAX_RESTARTS", default.max_restarts, "a whole number")?,
        window: Duration::from_secs(env.parsed("ACTOR_RESTART_WINDOW_SECS", 10, secs)?),
        give_up_after: Duration::from_secs(env.parsed("ACTOR_GIVE_UP_SECS", 30, secs)?),
    })
}

pub(super) fn database(env: &Env) -> Result<DatabaseSettings, ConfigError> {
    let url = env
        .get("DATABASE_URL")
        .unwrap_or_else(|| super::DEFAULT_DATABASE_URL.to_owned());
    let sqlite = super::is_sqlite(&url);
    if !(sqlite || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        // The URL may carry a password: name the variable, not the value.
        return Err(ConfigError {
            variable: "DATABASE_URL",
            problem: "is malformed".to_owned(),
            expected: "postgres://user:password@host:5432/db or sqlite://file.db?mode=rwc",
        });
    }
    // SQLite serialises writers, and two writers (the write-behind flush, the tour store) can
    // hold two connections while one waits out the other's lock; four leave a reader free.
    // With two, a `/start` read sometimes waited ~50 ms behind them (BENCHMARKS.md).
    let default_pool = if sqlite { 4 } else { 20 };
    let pool_max: u32 = env.parsed("DB_POOL_MAX", default_pool, "a positive integer")?;
    if pool_max == 0 {
        return Err(malformed("DB_POOL_MAX", "0", "a positive integer"));
    }
    Ok(DatabaseSettings {
        url: SecretString::from(url),
        pool_max,
        repeat_days: env.parsed("FACT_REPEAT_DAYS", 30, "a whole number of days")?,
    })
}

pub(super) fn log_filter(env: &Env) -> Result<String, ConfigError> {
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

/// Shortest `PAYMENT_SECRET` accepted: an HMAC key should not be guessable.
const MIN_PAYMENT_SECRET: usize = 16;

pub(super) fn payment_secret(env: &Env) -> Result<Option<SecretString>, ConfigError> {
    let Some(secret) = env.get("PAYMENT_SECRET") else {
        return Ok(None);
    };
    if secret.chars().count() < MIN_PAYMENT_SECRET {
        return Err(ConfigError {
            variable: "PAYMENT_SECRET",
            problem: "is too short".to_owned(),
            expected: "a random string of at least 16 characters",
        });
    }
    Ok(Some(SecretString::from(secret)))
}

/// Shortest `METRICS_TOKEN` accepted: it guards the figures on a public port.
const MIN_METRICS_TOKEN: usize = 16;

pub(super) fn metrics(env: &Env) -> Result<MetricsSettings, ConfigError> {
    let port = match env.get("METRICS_PORT") {
        None => None,
        Some(raw) => Some(
            raw.trim()
                .parse()
                .map_err(|_| malformed("METRICS_PORT", &raw, "a port number 0-65535"))?,
        ),
    };
    let token = match env.get("METRICS_TOKEN") {
        None => None,
        Some(token) => {
            let visible = token.chars().all(|c| c.is_ascii_graphic());
            if token.chars().count() < MIN_METRICS_TOKEN || !visible {
                return Err(ConfigError {
                    variable: "METRICS_TOKEN",
                    problem: "is too short or holds spaces or non-ASCII characters".to_owned(),
                    expected: "a random string of at least 16 visible ASCII characters",
                });
            }
            Some(SecretString::from(token))
        }
    };
    Ok(MetricsSettings { port, token })
}

/// `OTEL_EXPORTER_OTLP_ENDPOINT` (unset: no export) and `OTEL_SERVICE_NAME` (default
/// `excursobot`).
pub(super) fn traces(env: &Env) -> Result<TraceSettings, ConfigError> {
    const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    let otlp_endpoint = match env.get(ENDPOINT) {
        None => None,
        Some(_) => Some(env.url(ENDPOINT, "")?),
    };
    let service_name = env
        .get("OTEL_SERVICE_NAME")
        .map_or_else(|| "excursobot".to_owned(), |name| name.trim().to_owned());
    Ok(TraceSettings {
        otlp_endpoint,
        service_name,
    })
}
