//! Long polling: no webhook, updates pulled with getUpdates and answered by the same router.

use std::time::Duration;

use serde_json::json;

use crate::helpers::mock_telegram::ok;
use crate::helpers::{Mocks, sample};

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
