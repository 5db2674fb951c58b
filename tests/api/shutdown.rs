//! Shutdown: new updates get 503 + Retry-After, the reply in flight is still delivered.

use std::time::Duration;

use crate::helpers::mock_telegram::{ok, sent_message};
use crate::helpers::{spawn_app, text_update};

#[actix_web::test]
async fn shutdown_refuses_new_updates_and_still_delivers_the_reply_in_flight() {
    let mut app = spawn_app().await;
    let slow = ok(sent_message()).set_delay(Duration::from_millis(800));
    app.telegram.answer_next("sendMessage", slow, 1).await;
    assert_eq!(
        app.post_update(&text_update(1, 801, "en", "/start"))
            .await
            .status(),
        200
    );
    app.telegram.wait_for_messages_to(801, 1).await;

    app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = app.post_update(&text_update(2, 802, "en", "/start")).await;
    let ready = app.get("/readyz").await;

    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(ready.status(), 503);
    app.stopped().await.unwrap();
    assert_eq!(app.telegram.messages_to(801).await.len(), 1);
    assert!(app.telegram.messages_to(802).await.is_empty());
}
