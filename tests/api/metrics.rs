//! `GET /metrics`: never on the public port unless a bearer token guards it, alone on
//! `METRICS_PORT`; what a story leaves in it; the exposition passes `promtool check metrics`,
//! a real Prometheus scrapes it and answers queries over it, and the alert rules pass
//! `promtool check rules` and load into that Prometheus. The tests that need `promtool` or
//! `prometheus` (Debian's `prometheus` package) say `SKIPPED` without them.

use std::{io::Write, path::PathBuf, process::Stdio, time::Duration};

use serde_json::Value;

use crate::helpers::{TestApp, eventually, location_update, spawn_app_with, text_update};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;
const TOKEN: &str = "scrape-token_0123456789";

pub(crate) async fn scrape(app: &TestApp) -> String {
    let base = app.metrics_address.as_ref().expect("METRICS_PORT set");
    let response = app
        .http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The value of the series written exactly `series` (name and labels as rendered).
pub(crate) fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// Whether `tool` runs here; says the test is skipped when it does not.
fn available(tool: &str, test: &str) -> bool {
    let runs = std::process::Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !runs {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: `{tool}` is not installed (apt-get install prometheus)"
        );
    }
    runs
}

fn repository_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// One location told as a story, a `/start` and one update delivered twice.
async fn app_that_told_a_story(overrides: &[(&str, &str)]) -> TestApp {
    let app = spawn_app_with(overrides).await;
    app.post_update(&text_update(1, 701, "en", "/start")).await;
    app.post_update(&location_update(2, 701, "en", LAT, LON))
        .await;
    app.post_update(&location_update(2, 701, "en", LAT, LON))
        .await;
    app.telegram.wait_for_stories(701, 1).await;
    app
}

#[actix_web::test]
async fn metrics_are_not_on_the_public_port_by_default() {
    let app = spawn_app_with(&[]).await;

    let response = app.get("/metrics").await;

    assert_eq!(response.status(), 404);
    assert!(app.metrics_address.is_none());
}

#[actix_web::test]
async fn metrics_on_the_public_port_need_the_bearer_token() {
    let app = spawn_app_with(&[("METRICS_TOKEN", TOKEN)]).await;
    let url = format!("{}/metrics", app.address);
    let with = |auth: Option<String>| {
        let request = app.http.get(&url);
        let request = match auth {
            Some(auth) => request.header("Authorization", auth),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };

    let none = with(None).await;
    let wrong = with(Some("Bearer scrape-token_0123456788".to_owned())).await;
    let right = with(Some(format!("Bearer {TOKEN}"))).await;

    assert_eq!(none.status(), 401);
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_eq!(wrong.status(), 401);
    assert_eq!(right.status(), 200);
    let content_type = right.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    assert!(
        right
            .text()
            .await
            .unwrap()
            .contains("excursobot_updates_total")
    );
}

#[actix_web::test]
async fn the_metrics_port_serves_metrics_and_nothing_else() {
    let app = spawn_app_with(&[("METRICS_PORT", "0")]).await;
    let base = app.metrics_address.clone().unwrap();

    let webhook = app.http.post(format!("{base}/webhook")).send().await;
    let text = scrape(&app).await;

    assert_eq!(webhook.unwrap().status(), 404);
    assert!(
        text.contains("# TYPE excursobot_updates_total counter"),
        "{text}"
    );
    assert_eq!(
        app.get("/metrics").await.status(),
        404,
        "not on the public port"
    );
}

#[actix_web::test]
async fn a_story_shows_in_the_metrics_with_its_calls_lookups_and_latency() {
    let app = app_that_told_a_story(&[("METRICS_PORT", "0")]).await;

    let accepted = r#"excursobot_updates_total{kind="message",outcome="accepted"}"#;
    let text = eventually(|| scrape(&app), |text| value(text, accepted) == Some(2.0)).await;

    let series = |name: &str| value(&text, name);
    assert_eq!(series(accepted), Some(2.0), "{text}");
    let duplicate = r#"excursobot_updates_total{kind="message",outcome="duplicate"}"#;
    assert_eq!(series(duplicate), Some(1.0));
    let first = r#"excursobot_first_answer_seconds_count{kind="story"}"#;
    assert_eq!(series(first), Some(1.0));
    let llm = r#"excursobot_llm_calls_total{priority="interactive",outcome="ok"}"#;
    assert_eq!(series(llm), Some(1.0));
    let llm_time =
        r#"excursobot_llm_call_duration_seconds_count{priority="interactive",outcome="ok"}"#;
    assert_eq!(series(llm_time), Some(1.0));
    let wikipedia = r#"excursobot_place_lookups_total{source="wikipedia",outcome="found"}"#;
    assert_eq!(series(wikipedia), Some(1.0));
    let photo = r#"excursobot_telegram_calls_total{method="SendPhoto",status="ok"}"#;
    assert_eq!(series(photo), Some(1.0));
    let reply = r#"excursobot_replies_total{class="first_answer",outcome="sent"}"#;
    assert_eq!(series(reply), Some(1.0));
    assert_eq!(
        series("excursobot_cache_misses_total"),
        Some(2.0),
        "places, story"
    );
    assert_eq!(series("excursobot_llm_permits"), Some(3.0));
    assert_eq!(series("excursobot_llm_breaker_open"), Some(0.0));
    assert_eq!(series("excursobot_tours_cap"), Some(50.0));
    assert!(series("excursobot_process_resident_memory_bytes").unwrap() > 1e6);
    assert!(series("excursobot_process_open_fds").unwrap() > 3.0);
}

#[actix_web::test]
async fn the_exposition_passes_promtool() {
    let test = "the_exposition_passes_promtool";
    if !available("promtool", test) {
        return;
    }
    let app = app_that_told_a_story(&[("METRICS_PORT", "0")]).await;
    let text = scrape(&app).await;
    if let Ok(path) = std::env::var("EXCURSOBOT_DUMP_METRICS") {
        std::fs::write(path, &text).unwrap();
    }

    let mut check = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = check.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, text.as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = check.wait_with_output().await.unwrap();

    let said = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "promtool: {said}\n{text}");
    assert!(said.trim().is_empty(), "promtool found problems: {said}");
}

#[actix_web::test]
async fn the_alert_rules_pass_promtool() {
    if !available("promtool", "the_alert_rules_pass_promtool") {
        return;
    }
    let rules = repository_file("deploy/prometheus/alerts.yml");
    let tests = repository_file("deploy/prometheus/alerts.test.yml");

    let check = std::process::Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
        .unwrap();
    let unit = std::process::Command::new("promtool")
        .args(["test", "rules"])
        .arg(&tests)
        .output()
        .unwrap();

    let said = |output: &std::process::Output| {
        String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr)
    };
    assert!(check.status.success(), "{}", said(&check));
    assert!(unit.status.success(), "{}", said(&unit));
}

/// A Prometheus server of our own on a free port, scraping `target` every second, with the
/// alert rules loaded; killed when dropped.
struct Prometheus {
    url: String,
    _child: tokio::process::Child,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Prometheus {
    async fn start(target: &str) -> Self {
        let dir = TempDir(std::env::temp_dir().join(format!(
            "excursobot-prometheus-{}",
            crate::helpers::unique_redis_prefix().replace(':', "-")
        )));
        std::fs::create_dir_all(&dir.0).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {rules}\n\
             scrape_configs:\n  - job_name: excursobot\n    authorization:\n      \
             credentials: {TOKEN}\n    static_configs:\n      - targets: ['{target}']\n",
            rules = repository_file("deploy/prometheus/alerts.yml").display(),
        );
        let config_file = dir.0.join("prometheus.yml");
        std::fs::write(&config_file, config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = tokio::process::Command::new("prometheus")
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Self {
            url: format!("http://127.0.0.1:{port}"),
            _child: child,
            _dir: dir,
        }
    }

    /// The first sample of an instant query's answer, once there is one (within 30 s).
    async fn query(&self, http: &reqwest::Client, query: &str) -> Option<f64> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            let url = format!("{}/api/v1/query", self.url);
            let answer = http.get(&url).query(&[("query", query)]).send().await;
            if let Ok(answer) = answer
                && let Ok(body) = answer.json::<Value>().await
                && let Some(value) = body["data"]["result"][0]["value"][1].as_str()
            {
                return value.parse().ok();
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }
}

#[actix_web::test]
async fn a_real_prometheus_scrapes_the_bot_and_answers_queries() {
    let test = "a_real_prometheus_scrapes_the_bot_and_answers_queries";
    if !available("prometheus", test) {
        return;
    }
    let app = app_that_told_a_story(&[("METRICS_PORT", "0"), ("METRICS_TOKEN", TOKEN)]).await;
    let target = app.metrics_address.clone().unwrap().replace("http://", "");

    let prometheus = Prometheus::start(&target).await;
    let http = &app.http;

    assert_eq!(
        prometheus.query(http, r#"up{job="excursobot"}"#).await,
        Some(1.0)
    );
    let accepted = r#"excursobot_updates_total{kind="message",outcome="accepted"}"#;
    assert_eq!(prometheus.query(http, accepted).await, Some(2.0));
    let stories = r#"excursobot_first_answer_seconds_count{kind="story"}"#;
    assert_eq!(prometheus.query(http, stories).await, Some(1.0));
    let p99 = "histogram_quantile(0.99, sum by (le) (excursobot_first_answer_seconds_bucket))";
    assert!(prometheus.query(http, p99).await.is_some_and(|s| s > 0.0));
    let rules = http
        .get(format!("{}/api/v1/rules", prometheus.url))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let groups = rules["data"]["groups"].as_array().unwrap();
    let loaded: usize = groups
        .iter()
        .map(|g| g["rules"].as_array().unwrap().len())
        .sum();
    assert!(loaded >= 6, "the alert rules are loaded: {rules}");
    assert!(
        groups
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .all(|rule| rule["health"] != "err"),
        "{rules}"
    );
    for expr in dashboard_queries() {
        let url = format!("{}/api/v1/query", prometheus.url);
        let answer = http.get(&url).query(&[("query", &expr)]).send().await;
        let body: Value = answer.unwrap().json().await.unwrap();
        assert_eq!(body["status"], "success", "the dashboard's {expr}: {body}");
    }
}

/// Metrics other parts of the bot record through the `metrics` macros, in the first
/// application of a process only (so not necessarily in a test's scrape).
const RECORDED_ELSEWHERE: [&str; 3] = [
    "excursobot_actor_restarts_total",
    "excursobot_journal_entries",
    "excursobot_journal_oldest_age_seconds",
];

/// Every query of the Grafana dashboard, its variables filled in.
fn dashboard_queries() -> Vec<String> {
    let text = std::fs::read_to_string(repository_file("deploy/grafana/excursobot.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    panels
        .iter()
        .filter_map(|panel| panel["targets"].as_array())
        .flatten()
        .map(|target| target["expr"].as_str().unwrap())
        .map(|expr| expr.replace("$job", ".*").replace("$__rate_interval", "1m"))
        .collect()
}

#[actix_web::test]
async fn the_dashboard_shows_only_metrics_the_bot_exposes() {
    let app = app_that_told_a_story(&[("METRICS_PORT", "0")]).await;
    let text = scrape(&app).await;

    let queries = dashboard_queries();

    assert!(queries.len() >= 30, "{} queries", queries.len());
    let mut unknown = Vec::new();
    for expr in &queries {
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("excursobot_"))
        {
            let family = ["_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            let exposed = text.contains(&format!("# TYPE {family} "));
            if !exposed && !RECORDED_ELSEWHERE.contains(&family) {
                unknown.push(name.to_owned());
            }
        }
    }
    assert!(unknown.is_empty(), "not exposed: {unknown:?}");
}

/// A live location from `user`, shared for an hour.
fn live_location(update_id: u64, user: i64) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    serde_json::json!({
        "update_id": update_id,
        "message": {
            "message_id": 1000 + update_id, "date": now,
            "chat": { "id": user, "type": "private", "first_name": "Walker" },
            "from": { "id": user, "is_bot": false, "first_name": "Walker", "language_code": "ru" },
            "location": { "latitude": LAT, "longitude": LON, "live_period": 3600 }
        }
    })
}

#[actix_web::test]
async fn a_429_a_refused_tour_and_a_shared_llm_call_are_counted() {
    let app = spawn_app_with(&[("METRICS_PORT", "0"), ("LIVE_SESSIONS_MAX", "1")]).await;
    let too_many = wiremock::ResponseTemplate::new(429).set_body_json(serde_json::json!({
        "ok": false, "error_code": 429, "description": "Too Many Requests: retry after 1",
        "parameters": { "retry_after": 1 }
    }));
    app.telegram.answer_next("sendMessage", too_many, 1).await;
    app.openai.set_latency(Duration::from_millis(600));

    app.post_update(&text_update(1, 701, "en", "/help")).await;
    app.post_update(&location_update(2, 702, "en", LAT, LON))
        .await;
    app.post_update(&location_update(3, 703, "en", LAT, LON))
        .await;
    app.post_update(&live_location(4, 704)).await;
    app.telegram.wait_for_stories(704, 1).await;
    app.post_update(&live_location(5, 705)).await;

    let refused = "excursobot_tour_starts_refused_total";
    let text = eventually(
        || scrape(&app),
        |text| {
            value(text, refused) == Some(1.0)
                && value(text, "excursobot_telegram_paused_seconds_total") == Some(1.0)
        },
    )
    .await;
    assert_eq!(value(&text, refused), Some(1.0), "{text}");
    assert_eq!(
        value(&text, "excursobot_telegram_rate_limited_total"),
        Some(1.0)
    );
    assert_eq!(
        value(&text, "excursobot_telegram_paused_seconds_total"),
        Some(1.0)
    );
    let limited = r#"excursobot_telegram_calls_total{method="SendMessage",status="rate_limited"}"#;
    assert_eq!(value(&text, limited), Some(1.0));
    let joins = value(&text, "excursobot_llm_single_flight_joins_total").unwrap();
    assert!(joins >= 1.0, "702 and 703 shared one call: {text}");
    assert_eq!(value(&text, "excursobot_tours_active"), Some(1.0));
}

#[actix_web::test]
async fn a_database_outage_shows_as_rows_waiting_and_failed_flushes() {
    let test = "a_database_outage_shows_as_rows_waiting_and_failed_flushes";
    let Some(url) = crate::helpers::fresh_postgres_url(test).await else {
        return;
    };
    let proxy = crate::helpers::tcp_proxy::TcpProxy::start(&url).await;
    let app = spawn_app_with(&[("DATABASE_URL", &proxy.url), ("METRICS_PORT", "0")]).await;
    app.post_update(&location_update(1, 3601, "en", LAT, LON))
        .await;
    app.telegram.wait_for_stories(3601, 1).await;

    proxy.cut();
    app.post_update(&location_update(2, 3602, "en", LAT + 0.01, LON))
        .await;
    app.telegram.wait_for_stories(3602, 1).await;
    let failures = "excursobot_db_flush_failures_total";
    let rows = "excursobot_db_buffered_rows";
    let during = eventually(
        || scrape(&app),
        |text| value(text, failures).is_some_and(|n| n >= 1.0),
    )
    .await;
    proxy.restore();
    let after = eventually(|| scrape(&app), |text| value(text, rows) == Some(0.0)).await;

    assert!(value(&during, failures).unwrap() >= 1.0, "{during}");
    assert!(
        value(&during, rows).unwrap() >= 1.0,
        "the story's rows wait: {during}"
    );
    assert_eq!(value(&after, rows), Some(0.0), "written once it is back");
    let flushes = "excursobot_db_flush_duration_seconds_count";
    let (flushed, failed) = (
        value(&after, flushes).unwrap(),
        value(&after, failures).unwrap(),
    );
    assert!(
        flushed > failed,
        "{flushed} flushes, {failed} failed: {after}"
    );
}

#[actix_web::test]
async fn stats_and_metrics_show_the_same_cache_and_llm_figures() {
    let app = spawn_app_with(&[("METRICS_PORT", "0"), ("ADMIN_USER_IDS", "800")]).await;
    for (id, user) in [(1, 801), (2, 802)] {
        app.post_update(&location_update(id, user, "en", LAT, LON))
            .await;
        app.telegram.wait_for_stories(user, 1).await;
    }

    app.post_update(&text_update(3, 800, "en", "/stats")).await;
    let stats = app
        .telegram
        .wait_for_text_to(800, "<b>Bot statistics</b>")
        .await
        .expect("the admin's figures");
    let text = scrape(&app).await;

    let stats = stats["text"].as_str().unwrap();
    let hits = value(&text, r#"excursobot_cache_hits_total{level="l1"}"#).unwrap()
        + value(&text, r#"excursobot_cache_hits_total{level="l2"}"#).unwrap();
    let misses = value(&text, "excursobot_cache_misses_total").unwrap();
    assert!(
        hits >= 1.0,
        "the second visitor's story came from the cache: {text}"
    );
    let ratio = format!("Cache hit ratio: {:.0}%", 100.0 * hits / (hits + misses));
    assert!(stats.contains(&ratio), "{ratio} in {stats}");
    let permits = value(&text, "excursobot_llm_permits").unwrap();
    let in_use = value(&text, "excursobot_llm_permits_in_use").unwrap();
    assert!(
        stats.contains(&format!("permits in use {in_use} of {permits}")),
        "{stats}"
    );
    let cap = value(&text, "excursobot_tours_cap").unwrap();
    assert!(
        stats.contains(&format!("Live tours: 0 of {cap}")),
        "{stats}"
    );
}
