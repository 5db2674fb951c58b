//! Long polling: no webhook, updates pulled with getUpdates and answered by the same router.

use std::time::Duration;

use serde_json::json;

use crate::helpers::mock_telegram::ok;
use crate::helpers::{Mocks, TestApp, sample};

#[actix_web::test]
async fn polling_mode_pulls_updates_and_replies() {
    let mocks = Mocks::start().await;
    let batch = json!([
        sample("01_start_command_private.json"),
        sample("14_sticker_private_teloxide.json")
    ]);
    mocks.telegram.answer_next("getUpdates", ok(batch), 1).await;

    let mut app = mocks.spawn(&[("WEBHOOK_URL", "")]).await;

    let welcome = app.telegram.wait_for_messages_to(1443186301, 1).await;
    assert!(welcome[0]["text"].as_str().unwrap().starts_with("Hi!"));
    let hint = app.telegram.wait_for_messages_to(250918540, 1).await;
    assert!(
        hint[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("I can't use that.")
    );
    assert_eq!(app.telegram.calls("deleteWebhook").await.len(), 1);
    assert!(app.telegram.calls("setWebhook").await.is_empty());
    let polls = app.telegram.wait_for("getUpdates", 2).await;
    assert_eq!(
        polls[1]["offset"], 102739889,
        "the next poll confirms the batch"
    );

    app.begin_shutdown();
    app.stopped().await.unwrap();
}

#[actix_web::test]
async fn in_polling_mode_the_webhook_refuses_every_post() {
    let mocks = Mocks::start().await;
    let app = mocks.spawn(&[("WEBHOOK_URL", "")]).await;

    let response = app.post_raw(b"{}".to_vec(), Some("anything")).await;

    assert_eq!(response.status(), 401);
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// `getUpdates` calls the app makes while every one is answered with `answer` at once.
async fn polls_in_three_seconds(answer: wiremock::ResponseTemplate) -> (TestApp, usize) {
    let mocks = Mocks::start().await;
    mocks.telegram.answer_always("getUpdates", answer).await;
    let app = mocks.spawn(&[("WEBHOOK_URL", "")]).await;
    app.telegram.wait_for("getUpdates", 1).await;
    let before = app.telegram.calls("getUpdates").await.len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let polls = app.telegram.calls("getUpdates").await.len() - before;
    (app, polls)
}

#[actix_web::test]
async fn empty_answers_that_come_at_once_are_paced_and_an_update_still_comes_soon() {
    let (app, polls) = polls_in_three_seconds(ok(json!([]))).await;

    assert!((2..=8).contains(&polls), "{polls} getUpdates calls in 3 s");
    let batch = json!([sample("01_start_command_private.json")]);
    app.telegram.answer_next("getUpdates", ok(batch), 1).await;
    let started = std::time::Instant::now();
    let welcome = app.telegram.wait_for_messages_to(1443186301, 1).await;
    assert_eq!(welcome.len(), 1, "the update is still fetched");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn an_unreadable_answer_pauses_polling_like_an_error() {
    let page = wiremock::ResponseTemplate::new(404).set_body_raw("<h1>Not Found</h1>", "text/html");

    let (_app, polls) = polls_in_three_seconds(page).await;

    assert!((1..=6).contains(&polls), "{polls} getUpdates calls in 3 s");
}

#[actix_web::test]
async fn a_polled_update_teloxide_panics_on_is_skipped_and_the_batch_still_answered() {
    let mocks = Mocks::start().await;
    let mut reaction = sample("24_message_reaction_teloxide.json");
    reaction["update_id"] = json!(102739887);
    reaction["message_reaction"]
        .as_object_mut()
        .unwrap()
        .remove("user");
    let batch = json!([reaction, sample("01_start_command_private.json")]);
    // The typed call panics on it; the same batch, asked for again, is read by hand.
    mocks.telegram.answer_next("getUpdates", ok(batch), 2).await;

    let app = mocks.spawn(&[("WEBHOOK_URL", "")]).await;

    let welcome = app.telegram.wait_for_messages_to(1443186301, 1).await;
    assert_eq!(welcome.len(), 1, "the start after it is answered");
    let polls = app.telegram.wait_for("getUpdates", 3).await;
    assert_eq!(polls[2]["offset"], 102739889, "the next poll confirms both");
}
