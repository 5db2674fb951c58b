//! `spawn_app()`: the real application on port 0, configured through the same variables as in
//! production, talking over real HTTP to a mock Telegram.

pub mod bot_process;
pub mod logs;
pub mod mock_openai;
pub mod mock_telegram;
pub mod mock_wikipedia;
pub mod paced_openai;
pub mod tcp_proxy;

use std::{collections::HashMap, time::Duration};

use excursobot::{
    config::Settings,
    startup::{Application, CrashSwitch},
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use mock_openai::{MockOpenAi, Reply};
pub use mock_telegram::MockTelegram;
pub use mock_wikipedia::MockWikipedia;

/// The webhook secret every test app expects.
pub const SECRET: &str = "test-secret_123";

/// The mock services an app talks to; prepare them, then [`Mocks::spawn`].
pub struct Mocks {
    pub telegram: MockTelegram,
    pub wikipedia: MockWikipedia,
    pub openai: MockOpenAi,
}

impl Mocks {
    /// Mocks with defaults: Telegram answers, OpenAI writes "A story.", Wikipedia knows
    /// nothing until told (`wikipedia.serve_places(..)`).
    pub async fn start() -> Self {
        Self {
            telegram: MockTelegram::start().await,
            wikipedia: MockWikipedia::start().await,
            openai: MockOpenAi::start().await,
        }
    }

    /// Starts the app against these mocks with `overrides` on top of the test defaults.
    pub async fn spawn(self, overrides: &[(&str, &str)]) -> TestApp {
        spawn_app_on(self, overrides).await
    }
}

/// A running application and its mocks.
pub struct TestApp {
    pub address: String,
    /// `METRICS_PORT`'s listener, when the test set one.
    pub metrics_address: Option<String>,
    pub telegram: MockTelegram,
    pub wikipedia: MockWikipedia,
    pub openai: MockOpenAi,
    pub http: reqwest::Client,
    /// Makes the app's actors panic (the `fault-injection` feature).
    pub crash: CrashSwitch,
    /// The variables the app was built from (a restart reuses them: same database).
    pub vars: HashMap<String, String>,
    shutdown: CancellationToken,
    running: Option<JoinHandle<anyhow::Result<()>>>,
    /// Stops the app when the test ends.
    _stop_on_drop: tokio_util::sync::DropGuard,
}

/// Starts the app in webhook mode with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with these variables on top of the test defaults (`("WEBHOOK_URL", "")`
/// switches to long polling); Wikipedia knows places in English and Russian.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.wikipedia.serve_places("ru").await;
    mocks.spawn(overrides).await
}

/// A fresh Redis key prefix, so tests sharing one Redis never see each other's keys.
pub fn unique_redis_prefix() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("test:{}:{nanos}:{n}:", std::process::id())
}

/// `TEST_REDIS_URL`, or `None` after saying the test runs without Redis.
pub fn test_redis_url(test: &str) -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty());
    if url.is_none() {
        skipped(test, "TEST_REDIS_URL");
    }
    url
}

/// Starts the app against prepared mocks. With `TEST_REDIS_URL` set, it uses that Redis under
/// a fresh key prefix (unless `overrides` set `REDIS_URL`).
pub async fn spawn_app_on(mocks: Mocks, overrides: &[(&str, &str)]) -> TestApp {
    let vars = test_vars(&mocks, overrides);
    start(mocks, vars).await
}

/// Builds the app against prepared mocks, expecting start-up to fail; returns the error as
/// the binary prints it.
pub async fn build_error(mocks: Mocks, overrides: &[(&str, &str)]) -> String {
    let vars = test_vars(&mocks, overrides);
    excursobot::install_tls_provider();
    let settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("settings");
    match Application::build(settings).await {
        Ok(_) => panic!("the app built"),
        Err(error) => format!("{error:#}"),
    }
}

/// The test defaults pointing at `mocks`, with `overrides` on top (for a bot run as a child
/// process: the same variables the in-process app gets).
pub fn test_vars(mocks: &Mocks, overrides: &[(&str, &str)]) -> HashMap<String, String> {
    let mut vars: HashMap<String, String> = [
        ("TELEGRAM_BOT_TOKEN", "123456:TEST-token"),
        ("WEBHOOK_URL", "https://excursobot.example"),
        ("WEBHOOK_SECRET", SECRET),
        ("PORT", "0"),
        ("HTTP_WORKERS", "1"),
        ("SHUTDOWN_GRACE_SECS", "5"),
        // On in production; off here so that a test counts the LLM calls it asks for (the
        // tests of writing ahead turn it on).
        ("LLM_WRITE_AHEAD", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.insert("TELEGRAM_API_URL".into(), mocks.telegram.url());
    vars.insert(
        "WIKIPEDIA_API_URL".into(),
        mocks.wikipedia.api_url_template(),
    );
    vars.insert("OPENAI_BASE_URL".into(), mocks.openai.config().base_url);
    vars.insert("OPENAI_API_KEY".into(), mock_openai::API_KEY.into());
    vars.insert("DATABASE_URL".into(), fresh_sqlite_url());
    if let Ok(redis) = std::env::var("TEST_REDIS_URL") {
        vars.insert("REDIS_URL".into(), redis);
    }
    vars.insert("REDIS_KEY_PREFIX".into(), unique_redis_prefix());
    for (name, value) in overrides {
        vars.insert((*name).to_owned(), (*value).to_owned());
    }
    vars
}

/// Builds and runs the app from `vars` against `mocks`.
async fn start(mocks: Mocks, vars: HashMap<String, String>) -> TestApp {
    excursobot::install_tls_provider();
    let mut settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("settings");
    settings.host = "127.0.0.1".to_owned();
    let application = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let crash = application.crash_switch();
    let metrics_address = application
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(application.run_until_stopped(shutdown.clone().cancelled_owned()));
    let Mocks {
        telegram,
        wikipedia,
        openai,
    } = mocks;
    TestApp {
        address,
        metrics_address,
        telegram,
        wikipedia,
        openai,
        http: reqwest::Client::new(),
        crash,
        vars,
        _stop_on_drop: shutdown.clone().drop_guard(),
        shutdown,
        running: Some(running),
    }
}

/// A SQLite file of its own in the temp directory.
pub fn fresh_sqlite_url() -> String {
    let name = unique_redis_prefix().replace(':', "-");
    let path = std::env::temp_dir().join(format!("excursobot-{name}db"));
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A fresh PostgreSQL database on `TEST_DATABASE_URL`'s server, or `None` after saying the
/// test was skipped.
pub async fn fresh_postgres_url(test: &str) -> Option<String> {
    let Some(base) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        skipped(test, "TEST_DATABASE_URL");
        return None;
    };
    use sea_orm::ConnectionTrait;
    let admin = sea_orm::Database::connect(base.as_str())
        .await
        .expect("TEST_DATABASE_URL answers");
    drop_databases_of_earlier_runs(&admin).await;
    let name = format!(
        "excursobot_{}",
        unique_redis_prefix().replace([':', '.'], "_")
    )
    .to_lowercase();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("CREATE DATABASE");
    let mut url = url::Url::parse(&base).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    Some(url.to_string())
}

/// Drops the test databases earlier test processes left behind (once per process).
/// Whether the process that created the test database `name` (`excursobot_test_{pid}_…`) is
/// still running.
fn test_process_alive(name: &str) -> bool {
    name.strip_prefix("excursobot_test_")
        .and_then(|rest| rest.split('_').next())
        .is_some_and(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
}

async fn drop_databases_of_earlier_runs(admin: &sea_orm::DatabaseConnection) {
    use sea_orm::{ConnectionTrait, Statement};
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let mine = format!("excursobot_test_{}_%", std::process::id());
        let query = format!(
            "SELECT datname FROM pg_database WHERE datname LIKE 'excursobot_test_%' AND datname NOT LIKE '{mine}'"
        );
        let statement = Statement::from_string(admin.get_database_backend(), query);
        let rows = admin.query_all_raw(statement).await.unwrap_or_default();
        for row in rows {
            if let Ok(name) = row.try_get::<String>("", "datname") {
                if test_process_alive(&name) {
                    // Another test binary (or another worktree's run) still uses it.
                    continue;
                }
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
            }
        }
    })
    .await;
}

/// Says (past libtest's capture) that `test` did not run for want of `variable`.
pub fn skipped(test: &str, variable: &str) {
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {variable} is not set (no server to test against)"
    );
}

impl TestApp {
    /// POSTs `update` to the webhook with the right secret.
    pub async fn post_update(&self, update: &Value) -> reqwest::Response {
        self.post_raw(update.to_string().into_bytes(), Some(SECRET))
            .await
    }

    /// POSTs raw bytes to the webhook with `secret` (or none).
    pub async fn post_raw(&self, body: Vec<u8>, secret: Option<&str>) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/webhook", self.address))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(secret) = secret {
            request = request.header("X-Telegram-Bot-Api-Secret-Token", secret);
        }
        request.send().await.expect("webhook answers")
    }

    /// Where the app listens, for a raw TCP connection.
    pub fn socket_address(&self) -> String {
        self.address.trim_start_matches("http://").to_owned()
    }

    /// GETs a path of the app.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("app answers")
    }

    /// Begins shutdown, as SIGTERM would.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Stops the app (as SIGTERM would) and starts it again with the same variables, so the
    /// same database; the mocks keep their records.
    pub async fn restart(mut self) -> TestApp {
        self.begin_shutdown();
        self.stopped().await.expect("app stops cleanly");
        let mocks = Mocks {
            telegram: self.telegram,
            wikipedia: self.wikipedia,
            openai: self.openai,
        };
        start(mocks, self.vars).await
    }

    /// Waits for the app to stop after [`TestApp::begin_shutdown`].
    pub async fn stopped(&mut self) -> anyhow::Result<()> {
        let running = self.running.take().expect("still running");
        tokio::time::timeout(Duration::from_secs(15), running)
            .await
            .expect("app stops in time")
            .expect("app task")
    }
}

/// Polls `read` until `done` holds or 15 s pass; returns the last read.
pub async fn eventually<T, F, Fut>(read: F, done: impl Fn(&T) -> bool) -> T
where
    F: Fn() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let value = read().await;
        if done(&value) || std::time::Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every file in `tests/fixtures/telegram_updates`, sorted.
pub fn sample_paths() -> Vec<std::path::PathBuf> {
    let dir = format!(
        "{}/tests/fixtures/telegram_updates",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("samples are there")
        .map(|entry| entry.expect("a sample").path())
        .collect();
    paths.sort();
    paths
}

/// A sample update from `tests/fixtures/telegram_updates`, parsed.
pub fn sample(name: &str) -> Value {
    serde_json::from_str(&sample_text(name)).expect("sample is JSON")
}

/// A sample update's raw text.
pub fn sample_text(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/telegram_updates/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).expect("sample exists")
}

/// A private-chat message from `user_id` (Telegram language `language`) with `content`
/// fields (`text`, `location`, ...).
pub fn private_message(update_id: u64, user_id: i64, language: &str, content: Value) -> Value {
    let mut message = json!({
        "message_id": update_id,
        "date": 1_700_000_000,
        "chat": { "id": user_id, "type": "private", "first_name": "Test" },
        "from": { "id": user_id, "is_bot": false, "first_name": "Test", "language_code": language },
    });
    if let (Some(message), Value::Object(content)) = (message.as_object_mut(), content) {
        message.extend(content);
    }
    json!({ "update_id": update_id, "message": message })
}

/// A private-chat text message (a command gets its `bot_command` entity).
pub fn text_update(update_id: u64, user_id: i64, language: &str, text: &str) -> Value {
    let mut content = json!({ "text": text });
    if text.starts_with('/') {
        let length = text
            .split_whitespace()
            .next()
            .map_or(0, |command| command.encode_utf16().count());
        content["entities"] = json!([{ "type": "bot_command", "offset": 0, "length": length }]);
    }
    private_message(update_id, user_id, language, content)
}

/// `text` from `user_id` in the supergroup `chat_id` (a command gets its `bot_command` entity).
pub fn group_message(update_id: u64, chat_id: i64, user_id: i64, text: &str) -> Value {
    let mut update = text_update(update_id, user_id, "en", text);
    update["message"]["chat"] = json!({ "id": chat_id, "type": "supergroup", "title": "Walkers" });
    update
}

/// A one-off location (no `live_period`) in a private chat.
pub fn location_update(update_id: u64, user_id: i64, language: &str, lat: f64, lon: f64) -> Value {
    let content = json!({ "location": { "latitude": lat, "longitude": lon } });
    private_message(update_id, user_id, language, content)
}

/// A live location (sent now, shared for `period` seconds) in a private chat: it starts a
/// tour.
pub fn live_location_update(
    update_id: u64,
    user_id: i64,
    lat: f64,
    lon: f64,
    period: u32,
) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let location = json!({ "latitude": lat, "longitude": lon, "live_period": period });
    let mut update = private_message(update_id, user_id, "en", json!({ "location": location }));
    update["message"]["date"] = json!(now);
    update
}

/// The service message of a payment `charge` of `total` stars by `user` in their private chat.
pub fn payment_update(update_id: u64, user: i64, charge: &str, total: u32, payload: &str) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": update_id, "date": 1_700_000_000,
            "chat": { "id": user, "type": "private", "first_name": "Donor" },
            "from": { "id": user, "is_bot": false, "first_name": "Donor", "language_code": "en" },
            "successful_payment": {
                "currency": "XTR",
                "total_amount": total,
                "invoice_payload": payload,
                "telegram_payment_charge_id": charge,
                "provider_payment_charge_id": ""
            }
        }
    })
}

/// A button press by `user_id` on message `message_id` in their private chat.
pub fn button_update(update_id: u64, user_id: i64, data: &str) -> Value {
    json!({
        "update_id": update_id,
        "callback_query": {
            "id": format!("cb{update_id}"),
            "chat_instance": "ci",
            "data": data,
            "from": { "id": user_id, "is_bot": false, "first_name": "Test", "language_code": "en" },
            "message": {
                "message_id": 77, "date": 1_700_000_000, "text": "Choose a language:",
                "chat": { "id": user_id, "type": "private", "first_name": "Test" }
            }
        }
    })
}

/// Runs `$scenario(database_url)` on SQLite and, when available, on PostgreSQL.
macro_rules! on_both_databases_impl {
    ($scenario:ident) => {
        mod $scenario {
            #[actix_web::test]
            async fn on_sqlite() {
                super::$scenario(crate::helpers::fresh_sqlite_url()).await;
            }

            #[actix_web::test]
            async fn on_postgres() {
                if let Some(url) = crate::helpers::fresh_postgres_url(stringify!($scenario)).await {
                    super::$scenario(url).await;
                }
            }
        }
    };
}
pub(crate) use on_both_databases_impl as on_both_databases;
