//! What the log never holds: webhook bodies, the bot token, the LLM key, the webhook secret;
//! and that with `LOG_FORMAT=json` every line is one JSON object, a contained panic
//! included. The real binary runs with JSON logs at `trace` against the mocks and is fed
//! bodies carrying a marker, then stopped with SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use crate::helpers::{
    Mocks, SECRET, button_update, fresh_sqlite_url, location_update, mock_openai, sample,
    text_update,
};

/// The bot token the binary gets; neither it nor its secret half may be logged.
const TOKEN: &str = "987654321:AAH-very-secret_TOKEN-part";
const TOKEN_SECRET: &str = "AAH-very-secret_TOKEN-part";
/// Put in every body sent: user text that must not reach the log.
const MARKER: &str = "MARKER-home-address-4f2a";

/// The binary, its stderr lines being collected, and where it listens.
struct Bot {
    child: Child,
    lines: JoinHandle<Vec<String>>,
    address: String,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn start_bot(mocks: &Mocks) -> Bot {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_excursobot"))
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", TOKEN)
        .env("TELEGRAM_API_URL", mocks.telegram.url())
        .env("WEBHOOK_URL", "https://excursobot.example")
        .env("WEBHOOK_SECRET", SECRET)
        .env("PORT", port.to_string())
        .env("HTTP_WORKERS", "1")
        .env("OPENAI_API_KEY", mock_openai::API_KEY)
        .env("OPENAI_BASE_URL", mocks.openai.config().base_url)
        .env("WIKIPEDIA_API_URL", mocks.wikipedia.api_url_template())
        .env("DATABASE_URL", fresh_sqlite_url())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "trace")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().unwrap();
    let lines = std::thread::spawn(move || {
        BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect()
    });
    Bot {
        child,
        lines,
        address: format!("http://127.0.0.1:{port}"),
    }
}

async fn wait_until_healthy(http: &reqwest::Client, address: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(response) = http.get(format!("{address}/healthz")).send().await
            && response.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the bot did not come up");
}

/// Bodies that carry [`MARKER`] wherever a user or a forger could put text.
fn marked_bodies() -> Vec<Vec<u8>> {
    let mut reaction = sample("24_message_reaction_teloxide.json");
    reaction["update_id"] = json!(739_001);
    reaction["message_reaction"]["chat"]["title"] = json!(MARKER);
    reaction["message_reaction"]
        .as_object_mut()
        .unwrap()
        .remove("user");
    let mut named = text_update(739_006, 7391, "en", "hello");
    named["message"]["from"]["first_name"] = json!(MARKER);
    [
        reaction,
        text_update(739_002, 7391, "en", MARKER),
        text_update(
            739_003,
            7391,
            "en",
            &format!("/{MARKER}{}", "x".repeat(4000)),
        ),
        button_update(739_004, 7391, &format!("more:{MARKER}")),
        json!({ "update_id": MARKER }),
        named,
    ]
    .iter()
    .map(|body| body.to_string().into_bytes())
    .chain([
        format!(r#"{{"update_id":739005,"message":{{"text":"{MARKER}""#).into_bytes(),
        MARKER.as_bytes().to_vec(),
    ])
    .collect()
}

#[actix_web::test]
async fn the_json_log_holds_one_object_a_line_and_no_body_token_or_key() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    let bot = start_bot(&mocks);
    excursobot::install_tls_provider();
    let http = reqwest::Client::new();
    wait_until_healthy(&http, &bot.address).await;

    let post = |body: Vec<u8>| {
        http.post(format!("{}/webhook", bot.address))
            .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
            .body(body)
            .send()
    };
    for body in marked_bodies() {
        assert_eq!(post(body).await.unwrap().status(), 200);
    }
    let location = location_update(739_010, 7392, "en", 55.7539, 37.6208);
    post(location.to_string().into_bytes()).await.unwrap();
    assert_eq!(mocks.telegram.wait_for_stories(7392, 1).await.len(), 1);
    mocks.telegram.wait_for_messages_to(7391, 3).await;

    let lines = stop(bot);

    assert!(lines.len() > 20, "{lines:?}");
    for line in &lines {
        let object: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("{line}"));
        assert!(object["level"].is_string(), "{line}");
        for secret in [TOKEN_SECRET, mock_openai::API_KEY, SECRET, MARKER] {
            assert!(!line.contains(secret), "{secret} logged: {line}");
        }
    }
    assert!(
        lines
            .iter()
            .any(|line| line.contains("(not a command name)")),
        "the long command was logged without its text"
    );
    let panicked: Vec<_> = lines
        .iter()
        .filter(|line| line.contains("the update parser panicked"))
        .collect();
    assert_eq!(panicked.len(), 1, "{panicked:?}");
    assert!(panicked[0].contains("\"update_id\":739001"), "{panicked:?}");
}

/// SIGTERM, then every line it wrote.
fn stop(mut bot: Bot) -> Vec<String> {
    let pid = libc::pid_t::try_from(bot.child.id()).unwrap();
    // SAFETY: kill only sends a signal to the child this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while bot.child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the bot did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    bot.lines.join().unwrap()
}
