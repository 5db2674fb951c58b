//! Outgoing calls: Telegram's 429 is honoured, nothing waits under the limits, 403 is final.

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::helpers::{spawn_app, text_update};

fn too_many_requests(retry_after: u64) -> ResponseTemplate {
    ResponseTemplate::new(429).set_body_json(json!({
        "ok": false,
        "error_code": 429,
        "description": format!("Too Many Requests: retry after {retry_after}"),
        "parameters": { "retry_after": retry_after }
    }))
}

#[actix_web::test]
async fn a_429_with_retry_after_1_delays_and_then_delivers_the_message() {
    let app = spawn_app().await;
    app.telegram
        .answer_next("sendMessage", too_many_requests(1), 1)
        .await;
    let started = Instant::now();

    app.post_update(&text_update(1, 701, "en", "/help")).await;

    let attempts = app.telegram.wait_for_messages_to(701, 2).await;
    assert_eq!(attempts.len(), 2, "the message was not tried again");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "retried before retry_after"
    );
    assert_eq!(attempts[0], attempts[1], "the same message is sent again");
}

#[actix_web::test]
async fn under_the_limits_a_burst_of_replies_to_one_chat_leaves_without_waiting() {
    let app = spawn_app().await;
    let started = Instant::now();

    for (id, command) in [(1, "/start"), (2, "/help"), (3, "/language")] {
        app.post_update(&text_update(id, 702, "en", command)).await;
    }

    let messages = app.telegram.wait_for_messages_to(702, 3).await;
    assert_eq!(messages.len(), 3);
    // One message per second per chat would need two seconds for three; the burst allows them
    // at once. This is a correctness bound, not a speed figure.
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn a_403_bot_blocked_is_not_retried() {
    let app = spawn_app().await;
    let blocked = include_str!("../fixtures/telegram_responses/error_403_bot_blocked.json");
    let answer = ResponseTemplate::new(403).set_body_raw(blocked, "application/json");
    app.telegram.answer_always("sendMessage", answer).await;

    app.post_update(&text_update(1, 703, "en", "/start")).await;

    app.telegram.wait_for_messages_to(703, 1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.telegram.messages_to(703).await.len(), 1);
}
