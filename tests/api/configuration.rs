//! Start-up configuration: errors name their variable; the webhook is registered only when it
//! differs from what Telegram has.

use std::process::Command;

use serde_json::json;

use crate::helpers::mock_telegram::ok;
use crate::helpers::{Mocks, SECRET, build_error, spawn_app};

fn run_binary(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_excursobot"))
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_missing_token_stops_start_up_with_one_line_naming_it() {
    let (code, stderr) = run_binary(&[]);

    assert_eq!(code, Some(2));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("TELEGRAM_BOT_TOKEN: is missing"),
        "{stderr}"
    );
}

#[test]
fn a_malformed_variable_is_named_with_its_expected_form() {
    let (code, stderr) = run_binary(&[("TELEGRAM_BOT_TOKEN", "1:abc"), ("PORT", "http")]);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("PORT: is malformed"), "{stderr}");
    assert!(stderr.contains("expected a port number"), "{stderr}");
}

#[test]
fn a_malformed_otlp_endpoint_stops_start_up_naming_it() {
    let vars = [
        ("TELEGRAM_BOT_TOKEN", "1:abc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    ];

    let (code, stderr) = run_binary(&vars);

    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("OTEL_EXPORTER_OTLP_ENDPOINT: is malformed"),
        "{stderr}"
    );
}

#[test]
fn webhook_mode_without_a_secret_is_refused() {
    let vars = [
        ("TELEGRAM_BOT_TOKEN", "1:abc"),
        ("WEBHOOK_URL", "https://x.example"),
    ];

    let (code, stderr) = run_binary(&vars);

    assert_eq!(code, Some(2));
    assert!(stderr.contains("WEBHOOK_SECRET"), "{stderr}");
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    // The database cannot be opened, so start-up fails after the logger is installed and the
    // error is logged through it, to a pipe here as to a log collector in production.
    let output = Command::new(env!("CARGO_BIN_EXE_excursobot"))
        .arg("migrate")
        .env_clear()
        .env("TELEGRAM_BOT_TOKEN", "1:abc")
        .env(
            "DATABASE_URL",
            "sqlite:///nonexistent-directory/excursobot.db?mode=rwc",
        )
        .output()
        .expect("binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ERROR"), "the failure is logged: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI escape codes: {stderr:?}"
    );
}

#[actix_web::test]
async fn the_webhook_is_set_with_secret_and_allowed_updates_when_telegram_differs() {
    let app = spawn_app().await;

    let calls = app.telegram.wait_for("setWebhook", 1).await;

    assert_eq!(calls.len(), 1);
    let received = app.telegram.server.received_requests().await.unwrap();
    let set = received
        .iter()
        .find(|r| r.url.path().to_ascii_lowercase().ends_with("/setwebhook"))
        .unwrap();
    let body = String::from_utf8_lossy(&set.body);
    assert!(
        body.contains("https://excursobot.example/webhook"),
        "{body}"
    );
    assert!(body.contains(SECRET), "secret_token not sent");
    for update in [
        "message",
        "edited_message",
        "callback_query",
        "pre_checkout_query",
        "my_chat_member",
    ] {
        assert!(
            body.contains(&format!("\"{update}\"")),
            "{update} missing: {body}"
        );
    }
}

#[actix_web::test]
async fn the_webhook_is_left_alone_when_telegram_already_has_it() {
    let mocks = Mocks::start().await;
    let current = json!({
        "url": "https://excursobot.example/webhook", "has_custom_certificate": false,
        "pending_update_count": 0,
        "allowed_updates": ["message", "edited_message", "callback_query", "pre_checkout_query", "my_chat_member"]
    });
    mocks
        .telegram
        .answer_always("getWebhookInfo", ok(current))
        .await;

    let app = mocks.spawn(&[]).await;

    assert_eq!(app.telegram.calls("getWebhookInfo").await.len(), 1);
    assert!(app.telegram.calls("setWebhook").await.is_empty());
}

/// The secret half of the test apps' token: it must never be printed.
const TOKEN_SECRET: &str = "TEST-token";

#[test]
fn an_unreachable_telegram_is_named_by_its_url_without_the_token() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/", closed.local_addr().unwrap().port());
    drop(closed);
    let token = format!("123456:{TOKEN_SECRET}");

    let (code, stderr) = run_binary(&[("TELEGRAM_BOT_TOKEN", &token), ("TELEGRAM_API_URL", &url)]);

    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("could not reach Telegram at {url} (getMe)")),
        "{stderr}"
    );
    assert!(
        !stderr.contains("TELEGRAM_BOT_TOKEN"),
        "not the token's fault: {stderr}"
    );
    assert!(
        !stderr.contains(TOKEN_SECRET),
        "the token is printed: {stderr}"
    );
}

#[actix_web::test]
async fn a_token_telegram_rejects_is_named_as_rejected() {
    let mocks = Mocks::start().await;
    let unauthorized = json!({ "ok": false, "error_code": 401, "description": "Unauthorized" });
    let answer = wiremock::ResponseTemplate::new(401).set_body_json(unauthorized);
    mocks.telegram.answer_always("getMe", answer).await;

    let error = build_error(mocks, &[]).await;

    assert!(
        error.starts_with("Telegram rejected TELEGRAM_BOT_TOKEN (getMe at http://127.0.0.1:"),
        "{error}"
    );
    assert!(!error.contains(TOKEN_SECRET), "{error}");
}

#[actix_web::test]
async fn an_answer_that_is_not_the_bot_api_is_named_as_unreadable() {
    let mocks = Mocks::start().await;
    let page = wiremock::ResponseTemplate::new(200).set_body_raw(
        "<html>Cannot POST /bot123456:TEST-token/GetMe</html>",
        "text/html",
    );
    mocks.telegram.answer_always("getMe", page).await;
    let url = mocks.telegram.url();

    let error = build_error(mocks, &[]).await;

    assert!(
        error.starts_with(&format!(
            "could not read the answer of Telegram at {url}/ to getMe"
        )),
        "{error}"
    );
    assert!(
        !error.contains("TELEGRAM_BOT_TOKEN"),
        "not the token's fault: {error}"
    );
    assert!(
        !error.contains(TOKEN_SECRET),
        "the answer is not echoed: {error}"
    );
}
