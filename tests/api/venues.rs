//! A shared venue (a place picked from the attachment menu: the message carries both `venue`
//! and `location`) is a location at the venue's coordinates, and the venue itself is the
//! place to tell when Wikipedia knows it there.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, button_update, mock_telegram::story_button, mock_wikipedia::NEAREST_TITLE,
    private_message, sample, spawn_app,
};

/// A venue titled `title` at (`lat`, `lon`) shared by `user` in their private chat.
fn venue_update(update_id: u64, user: i64, title: &str, lat: f64, lon: f64) -> Value {
    let location = json!({ "latitude": lat, "longitude": lon });
    let venue = json!({ "location": location, "title": title, "address": "Main St 1" });
    private_message(
        update_id,
        user,
        "en",
        json!({ "location": location, "venue": venue }),
    )
}

/// Waits (up to 10 s) for `count` stories sent to `chat` (each with its `title`).
async fn pins_to(app: &TestApp, chat: i64, count: usize) -> Vec<Value> {
    app.telegram.wait_for_stories(chat, count).await
}

#[actix_web::test]
async fn a_shared_venue_is_told_like_a_location_at_its_coordinates() {
    let app = spawn_app().await;
    let chat = 1089734;

    app.post_update(&sample("11_venue_DERIVED_pytba.json"))
        .await;

    let stories = pins_to(&app, chat, 1).await;
    assert_eq!(stories.len(), 1, "a story is told");
    assert_eq!(
        stories[0]["title"], NEAREST_TITLE,
        "no place is called Kyiv here"
    );
    // The sample's user (108734) is not its chat's id: press as that user, in that chat.
    let mut press = button_update(2, 108_734, &story_button(&stories[0], "map"));
    press["callback_query"]["message"]["chat"]["id"] = json!(chat);
    app.post_update(&press).await;
    let pin = &app.telegram.wait_for_calls_to("sendVenue", chat, 1).await[0];
    let expected_lat = 50.45 + 120.0 / 111_195.0;
    assert!(
        (pin["latitude"].as_f64().unwrap() - expected_lat).abs() < 1e-4,
        "places were looked up around the venue: {pin}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let texts = app.telegram.messages_to(chat).await;
    assert!(
        texts.iter().all(|m| !m["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("I can't use that")),
        "{texts:?}"
    );
}

#[actix_web::test]
async fn a_venue_named_like_a_place_nearby_is_the_place_told() {
    let app = spawn_app().await;

    app.post_update(&venue_update(1, 821, "Old church", 55.75, 37.62))
        .await;

    let pins = pins_to(&app, 821, 1).await;
    assert_eq!(pins[0]["title"], "Old Church", "not the nearest, the venue");
    let prompt = &app.openai.requests()[0].user;
    assert!(prompt.starts_with("Place: Old Church\n"), "{prompt}");
}

#[actix_web::test]
async fn a_venue_already_told_gives_the_nearest_untold_place() {
    let app = spawn_app().await;
    app.post_update(&venue_update(1, 822, "Old Church", 55.75, 37.62))
        .await;
    pins_to(&app, 822, 1).await;

    app.post_update(&venue_update(2, 822, "Old Church", 55.75, 37.62))
        .await;

    let pins = pins_to(&app, 822, 2).await;
    assert_eq!(
        pins[1]["title"], NEAREST_TITLE,
        "a place is never told twice"
    );
}
