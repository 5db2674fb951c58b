//! One lane per user: a user's updates are handled in order, one decision at a time, while
//! the slow work (Wikipedia, the LLM, sending) runs outside the lane. Each test here is a race
//! a user could hit when every update ran on its own.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, button_update, eventually, location_update,
    mock_telegram::{ok, sent_message, story_button},
    spawn_app, spawn_app_with,
    tcp_proxy::TcpProxy,
    text_update,
};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn titles(stories: &[Value]) -> Vec<String> {
    stories
        .iter()
        .map(|story| story["title"].as_str().unwrap().to_owned())
        .collect()
}

/// Posts every update at once, as Telegram delivers a burst.
async fn post_all(app: &TestApp, updates: &[Value]) {
    futures::future::join_all(updates.iter().map(|update| app.post_update(update))).await;
}

#[actix_web::test]
async fn two_quick_taps_on_another_place_tell_two_different_places() {
    let app = spawn_app().await;
    app.post_update(&location_update(1, 1501, "en", LAT, LON))
        .await;
    let first = app.telegram.wait_for_stories(1501, 1).await[0].clone();
    let next = story_button(&first, "next");
    app.openai.set_latency(Duration::from_millis(500));

    post_all(
        &app,
        &[button_update(2, 1501, &next), button_update(3, 1501, &next)],
    )
    .await;

    let stories = eventually(
        || app.telegram.stories_to(1501),
        |stories| stories.len() >= 3,
    )
    .await;
    let told = titles(&stories);
    assert_eq!(told.len(), 3, "{told:?}");
    assert_ne!(told[1], told[2], "the same place twice: {told:?}");
}

#[actix_web::test]
async fn a_one_off_location_during_a_tours_first_story_gets_another_place() {
    let app = spawn_app().await;
    app.openai.set_latency(Duration::from_millis(600));
    let live = json!({
        "update_id": 1,
        "message": {
            "message_id": 2001, "date": now(),
            "chat": { "id": 1502, "type": "private", "first_name": "Walker" },
            "from": { "id": 1502, "is_bot": false, "first_name": "Walker", "language_code": "en" },
            "location": { "latitude": LAT, "longitude": LON, "live_period": 3600 }
        }
    });

    post_all(&app, &[live, location_update(2, 1502, "en", LAT, LON)]).await;

    let stories = eventually(
        || app.telegram.stories_to(1502),
        |stories| stories.len() >= 2,
    )
    .await;
    let told: Vec<String> = titles(&stories)
        .into_iter()
        .map(|title| title.trim_start_matches("#1 · ").to_owned())
        .collect();
    assert_eq!(told.len(), 2, "{told:?}");
    assert_ne!(
        told[0], told[1],
        "a tour and a one-off story picked one place: {told:?}"
    );
}

#[actix_web::test]
async fn tell_me_more_pressed_while_the_story_is_still_being_sent_works() {
    let app = spawn_app().await;
    let slow = ok(sent_message()).set_delay(Duration::from_millis(1500));
    app.telegram.answer_next("sendPhoto", slow, 1).await;

    app.post_update(&location_update(1, 1503, "en", LAT, LON))
        .await;
    // The photo has reached Telegram; its answer (and whatever follows it) is still on the way.
    let story = app.telegram.wait_for_stories(1503, 1).await[0].clone();
    app.post_update(&button_update(2, 1503, &story_button(&story, "more")))
        .await;

    let stories = eventually(
        || app.telegram.stories_to(1503),
        |stories| stories.len() >= 2,
    )
    .await;
    assert_eq!(stories.len(), 2, "no deeper story");
    let expired = app.telegram.messages_to(1503).await;
    assert!(
        expired
            .iter()
            .all(|m| m["text"] != "This button has expired."),
        "{expired:?}"
    );
}

#[actix_web::test]
async fn two_quick_settings_presses_both_stick() {
    let app = spawn_app().await;

    post_all(
        &app,
        &[
            button_update(1, 1504, "set:int:60"),
            button_update(2, 1504, "set:rad:500"),
            button_update(3, 1504, "set:pho:0"),
        ],
    )
    .await;
    app.telegram.wait_for("answerCallbackQuery", 3).await;
    app.post_update(&text_update(4, 1504, "en", "/settings"))
        .await;

    let shown = eventually(
        || app.telegram.messages_to(1504),
        |messages| !messages.is_empty(),
    )
    .await;
    let text = shown[0]["text"].as_str().unwrap();
    assert!(text.contains("Tour interval: 60 min"), "{text}");
    assert!(text.contains("Search radius: 500 m"), "{text}");
    assert!(text.contains("Photos: off"), "{text}");
}

#[actix_web::test]
async fn stopping_right_after_starting_a_live_location_ends_the_tour() {
    // A slow database: the start's preferences take a while to read; the stop must still
    // come after the start, not overtake it.
    let Some(url) = crate::helpers::fresh_postgres_url("stopping_right_after_starting").await
    else {
        return;
    };
    let proxy = TcpProxy::start_with_latency(&url, Duration::from_millis(150)).await;
    let app = spawn_app_with(&[("DATABASE_URL", &proxy.url)]).await;
    let start = json!({
        "update_id": 1,
        "message": {
            "message_id": 2002, "date": now(),
            "chat": { "id": 1505, "type": "private", "first_name": "Walker" },
            "from": { "id": 1505, "is_bot": false, "first_name": "Walker", "language_code": "en" },
            "location": { "latitude": LAT, "longitude": LON, "live_period": 3600 }
        }
    });
    let stop = json!({
        "update_id": 2,
        "edited_message": {
            "message_id": 2002, "date": now(), "edit_date": now(),
            "chat": { "id": 1505, "type": "private", "first_name": "Walker" },
            "from": { "id": 1505, "is_bot": false, "first_name": "Walker", "language_code": "en" },
            "location": { "latitude": LAT, "longitude": LON }
        }
    });

    app.post_update(&start).await;
    app.post_update(&stop).await;

    let messages = eventually(
        || app.telegram.messages_to(1505),
        |messages| {
            messages
                .iter()
                .any(|m| m["text"].as_str().unwrap_or_default().starts_with("🏁"))
        },
    )
    .await;
    assert!(
        messages
            .iter()
            .any(|m| m["text"].as_str().unwrap_or_default().starts_with("🏁")),
        "the tour never ended: {messages:?}"
    );
}

#[actix_web::test]
async fn with_the_database_down_a_users_stories_still_never_repeat_each_other() {
    let Some(url) =
        crate::helpers::fresh_postgres_url("stories_never_repeat_with_the_database_down").await
    else {
        return;
    };
    let proxy = TcpProxy::start(&url).await;
    let app = spawn_app_with(&[("DATABASE_URL", &proxy.url)]).await;
    proxy.cut();

    app.post_update(&location_update(1, 1506, "en", LAT, LON))
        .await;
    let first = eventually(
        || app.telegram.stories_to(1506),
        |stories| !stories.is_empty(),
    )
    .await;
    let next = story_button(&first[0], "next");
    post_all(
        &app,
        &[button_update(2, 1506, &next), button_update(3, 1506, &next)],
    )
    .await;

    let stories = eventually(
        || app.telegram.stories_to(1506),
        |stories| stories.len() >= 3,
    )
    .await;
    let told = titles(&stories);
    assert_eq!(told.len(), 3, "{told:?}");
    let distinct: std::collections::HashSet<&String> = told.iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "a place told twice while the database was down: {told:?}"
    );
    proxy.restore();
}
