//! Settings parsing: defaults, and every malformed variable named in its error.

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
    assert_eq!(settings.live.max_sessions, 50);
    assert_eq!(settings.live.batch_size, 5);
    assert_eq!(settings.live.batch_flush, Duration::from_millis(1000));
    assert!(settings.llm.write_ahead, "idle permits write ahead");
    assert_eq!(
        settings.database.pool_max, 4,
        "SQLite: a reader beside two writers"
    );
}

#[test]
fn the_pool_default_follows_the_database() {
    let postgres = settings(&[
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("DATABASE_URL", "postgres://bot@db:5432/excursobot"),
    ])
    .unwrap();
    assert_eq!(postgres.database.pool_max, 20);
    let chosen = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN), ("DB_POOL_MAX", "7")]).unwrap();
    assert_eq!(chosen.database.pool_max, 7);
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
        ("LIVE_SESSIONS_MAX", "many"),
        ("LIVE_BATCH_SIZE", "0"),
        ("LIVE_BATCH_FLUSH_MS", "0"),
        ("DATABASE_URL", "mysql://x"),
        ("DB_POOL_MAX", "0"),
        ("FACT_REPEAT_DAYS", "month"),
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

#[test]
fn restart_limits_default_to_five_in_ten_seconds_and_name_a_malformed_variable() {
    let defaults = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN)]).unwrap();
    assert_eq!(defaults.restarts, RestartLimits::default());
    assert_eq!(defaults.restarts.max_restarts, 5);
    assert_eq!(defaults.restarts.window, Duration::from_secs(10));
    assert_eq!(defaults.restarts.give_up_after, Duration::from_secs(30));

    let chosen = settings(&[
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("ACTOR_MAX_RESTARTS", "3"),
        ("ACTOR_RESTART_WINDOW_SECS", "60"),
        ("ACTOR_GIVE_UP_SECS", "120"),
    ])
    .unwrap();
    assert_eq!(
        chosen.restarts,
        RestartLimits {
            max_restarts: 3,
            window: Duration::from_secs(60),
            give_up_after: Duration::from_secs(120),
        }
    );

    let error = settings(&[
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("ACTOR_GIVE_UP_SECS", "soon"),
    ])
    .unwrap_err();
    assert_eq!(error.variable, "ACTOR_GIVE_UP_SECS");
    assert_eq!(error.expected, "a whole number of seconds");
}

#[test]
fn metrics_stay_off_the_public_port_unless_asked() {
    let plain = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN)]).unwrap();
    assert!(plain.metrics.port.is_none() && plain.metrics.token.is_none());
    let both = settings(&[
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("METRICS_PORT", "9091"),
        ("METRICS_TOKEN", "0123456789abcdef-xyz"),
    ])
    .unwrap();
    assert_eq!(both.metrics.port, Some(9091));
    assert!(both.metrics.token.is_some());
}

#[test]
fn a_malformed_metrics_variable_is_named_without_echoing_the_token() {
    let port = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN), ("METRICS_PORT", "http")]);
    assert_eq!(port.unwrap_err().variable, "METRICS_PORT");
    let short = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN), ("METRICS_TOKEN", "s3cret")]);
    let error = short.unwrap_err();
    assert_eq!(error.variable, "METRICS_TOKEN");
    assert!(!error.to_string().contains("s3cret"), "{error}");
}

#[test]
fn traces_are_off_by_default_and_named_excursobot() {
    let off = settings(&[("TELEGRAM_BOT_TOKEN", TOKEN)]).unwrap();
    assert!(off.traces.otlp_endpoint.is_none());
    assert_eq!(off.traces.service_name, "excursobot");

    let on = settings(&[
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_SERVICE_NAME", "excursobot-eu"),
    ])
    .unwrap();
    let endpoint = on.traces.otlp_endpoint.unwrap();
    assert_eq!(endpoint.as_str(), "http://collector:4318/");
    assert_eq!(on.traces.service_name, "excursobot-eu");
}

#[test]
fn a_malformed_otlp_endpoint_is_named() {
    let error = settings(&[
        ("TELEGRAM_BOT_TOKEN", TOKEN),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    ])
    .unwrap_err();
    assert_eq!(error.variable, "OTEL_EXPORTER_OTLP_ENDPOINT");
    assert!(error.expected.contains("http"), "{error}");
}
