//! Outgoing calls: Telegram's 429 pauses everything, nothing waits under the limits, replies
//! go before stories, "typing…" never waits, 403 is final.

use std::time::{Duration, Instant};

use wiremock::ResponseTemplate;

use crate::helpers::{
    location_update, mock_telegram::too_many_requests, spawn_app, spawn_app_with, text_update,
};

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

/// Every counted send so far (messages, photos), in the order Telegram received them, as
/// `(chat_id, method)`.
async fn sends_in_order(app: &crate::helpers::TestApp) -> Vec<(i64, String)> {
    let requests = app.telegram.server.received_requests().await.unwrap();
    requests
        .iter()
        .filter_map(|request| {
            let method = request.url.path().rsplit('/').next()?.to_ascii_lowercase();
            if !matches!(method.as_str(), "sendmessage" | "sendphoto" | "sendvenue") {
                return None;
            }
            let content_type = request
                .headers
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            let body = excursobot::simulate::telegram::fields(content_type, &request.body);
            Some((body["chat_id"].as_i64()?, method))
        })
        .collect()
}

#[actix_web::test]
async fn a_429_pauses_every_chat_and_the_replies_waiting_go_first_after_it() {
    // A slow bot-wide budget spaces the sends out, so they reach Telegram in the order they
    // were let go (sends to different chats run at once).
    let app = spawn_app_with(&[("TELEGRAM_GLOBAL_PER_SEC", "5")]).await;
    app.telegram
        .answer_next("sendMessage", too_many_requests(1), 1)
        .await;
    app.post_update(&text_update(1, 711, "en", "/help")).await;
    app.telegram.wait_for_messages_to(711, 1).await;

    // During the pause: a location (its story is a first answer), then a /start (a reply).
    app.post_update(&location_update(2, 712, "en", 55.7539, 37.6208))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.post_update(&text_update(3, 713, "en", "/start")).await;
    let paused_at = Instant::now();
    app.telegram.wait_for_stories(712, 1).await;

    let order: Vec<i64> = sends_in_order(&app)
        .await
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert_eq!(
        order,
        [711, 711, 713, 712],
        "paused, then replies, then the story"
    );
    assert!(paused_at.elapsed() >= Duration::from_millis(500));
}

#[actix_web::test]
async fn a_start_overtakes_a_queue_of_stories_under_the_bot_wide_limit() {
    let app = spawn_app_with(&[("TELEGRAM_GLOBAL_PER_SEC", "5")]).await;
    app.openai.set_latency(Duration::from_millis(300));
    // Eight users at one spot: one LLM call, eight stories ready at once.
    for user in 0..8 {
        app.post_update(&location_update(
            10 + user,
            720 + user as i64,
            "en",
            55.7539,
            37.6208,
        ))
        .await;
    }
    // Once a story went out, the others wait for the budget, a few a second.
    app.telegram.wait_for_stories(720, 1).await;
    let already_sent = sends_in_order(&app).await.len();

    app.post_update(&text_update(30, 799, "en", "/start")).await;
    app.telegram.wait_for_messages_to(799, 1).await;
    for user in 0..8 {
        app.telegram.wait_for_stories(720 + user, 1).await;
    }

    let order: Vec<i64> = sends_in_order(&app)
        .await
        .into_iter()
        .map(|s| s.0)
        .collect();
    let at = order.iter().position(|chat| *chat == 799).unwrap();
    // At most the story let go while /start was on its way may go before it.
    assert!(
        at <= already_sent + 1,
        "/start went out as send #{} of {order:?}; {already_sent} had gone before it came",
        at + 1
    );
    assert!(
        order.len() - at >= 5,
        "most stories waited behind /start: {order:?}"
    );
}

#[actix_web::test]
async fn typing_is_dropped_not_queued_while_messages_wait_for_the_budget() {
    let app = spawn_app_with(&[("TELEGRAM_GLOBAL_PER_SEC", "2")]).await;
    app.openai.set_latency(Duration::from_millis(800));
    for user in 0..4 {
        app.post_update(&text_update(1 + user, 730 + user as i64, "en", "/start"))
            .await;
    }

    app.post_update(&location_update(10, 739, "en", 55.7539, 37.6208))
        .await;
    app.telegram.wait_for_stories(739, 1).await;

    assert!(
        app.telegram.calls("sendChatAction").await.is_empty(),
        "typing was sent while replies waited"
    );
}
