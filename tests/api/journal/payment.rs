//! A payment whose thank-you was not sent when the bot stopped: the journaled
//! `successful_payment` is replayed at the next start, credited once and thanked once.

use std::time::Duration;

use excursobot::db::entity::donation;
use sea_orm::EntityTrait;
use serde_json::Value;

use super::{connect, entries};
use crate::helpers::{
    Mocks, button_update, eventually, mock_telegram::too_many_requests, on_both_databases,
    payment_update, spawn_app_on, text_update,
};

on_both_databases!(the_bot_stopped_between_payment_and_thank_you_credits_once_after_restart);

const DONOR: i64 = 9301;

fn thanks(messages: &[Value]) -> usize {
    messages
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("Thank you"))
        })
        .count()
}

async fn the_bot_stopped_between_payment_and_thank_you_credits_once_after_restart(url: String) {
    let mocks = Mocks::start().await;
    let vars = [("DATABASE_URL", url.as_str()), ("SHUTDOWN_GRACE_SECS", "1")];
    let app = spawn_app_on(mocks, &vars).await;
    app.post_update(&text_update(1, DONOR, "en", "/donate"))
        .await;
    app.telegram.wait_for_messages_to(DONOR, 1).await;
    // The invoice is answered 429: all sending pauses, so the thank-you will wait.
    app.telegram
        .answer_next("sendInvoice", too_many_requests(30), 1)
        .await;
    app.post_update(&button_update(2, DONOR, "donate:100"))
        .await;
    let invoice = app
        .telegram
        .wait_for_calls_to("sendInvoice", DONOR, 1)
        .await;
    let payload = invoice[0]["payload"].as_str().unwrap().to_owned();
    let paid = payment_update(3, DONOR, "stx-journal-1", 100, &payload);
    assert_eq!(app.post_update(&paid).await.status(), 200);
    let credited = eventually(
        || async {
            donation::Entity::find()
                .all(&connect(&url).await)
                .await
                .unwrap()
        },
        |rows| !rows.is_empty(),
    )
    .await;
    assert_eq!(credited.len(), 1, "credited before the stop");
    assert_eq!(thanks(&app.telegram.messages_to(DONOR).await), 0);

    let app = app.restart().await;

    let thanked = eventually(
        || app.telegram.messages_to(DONOR),
        |messages| thanks(messages) > 0,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(thanks(&thanked), 1, "{thanked:?}");
    assert_eq!(thanks(&app.telegram.messages_to(DONOR).await), 1);
    let rows = donation::Entity::find()
        .all(&connect(&url).await)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].stars, 100);
    assert!(rows[0].thanked_at.is_some());
    let left = eventually(|| entries(&url), Vec::is_empty).await;
    assert!(left.is_empty(), "{left:?}");
}
