//! A summary told because the story was not written in time becomes the story once it is:
//! a text message is edited into it (buttons kept), a photo's caption is answered with it;
//! once, marked as the guide's story.

use std::time::{Duration, Instant};

use crate::helpers::{
    Mocks, Reply, TestApp, button_update, eventually, live_location_update, location_update,
    mock_openai::story, mock_telegram::story_button, spawn_app_with,
};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;
const SLOW_STORY: &str = "A slow story about the café.";

/// An app whose users wait 1 s for a story the LLM writes in 2.5 s.
async fn slow_app() -> TestApp {
    let app = spawn_app_with(&[("LLM_QUEUE_WAIT_SECS", "1")]).await;
    app.openai.set_latency(Duration::from_millis(2500));
    app.openai.always(Reply::Story(story(SLOW_STORY)));
    app
}

#[actix_web::test]
async fn a_summary_in_a_text_message_is_edited_into_the_story_once_written() {
    let app = slow_app().await;
    let user = 7601;
    app.post_update(&button_update(1, user, "set:pho:0")).await;
    app.telegram.wait_for_messages_to(user, 1).await;

    app.post_update(&location_update(2, user, "en", LAT, LON))
        .await;
    let stories = app.telegram.wait_for_stories(user, 1).await;
    let summary = stories[0]["text"].as_str().unwrap();
    assert!(summary.contains("📖 From Wikipedia:"), "{summary}");
    let edits = eventually(
        || app.telegram.calls_to("editMessageText", user),
        |edits| {
            edits
                .iter()
                .any(|e| e["text"].as_str().unwrap().contains(SLOW_STORY))
        },
    )
    .await;

    let edit = edits
        .iter()
        .find(|e| e["text"].as_str().unwrap().contains(SLOW_STORY))
        .expect("the summary became the story");
    let text = edit["text"].as_str().unwrap();
    assert!(text.contains("✨ Now written by the guide:"), "{text}");
    assert!(!text.contains("From Wikipedia"), "{text}");
    assert_eq!(
        story_button(edit, "more"),
        story_button(&stories[0], "more"),
        "the buttons stay"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let edits = app.telegram.calls_to("editMessageText", user).await;
    let upgrades = edits
        .iter()
        .filter(|e| e["text"].as_str().unwrap().contains(SLOW_STORY))
        .count();
    assert_eq!(upgrades, 1, "once (the other edit is the settings panel's)");
    assert_eq!(app.openai.request_count(), 1);
}

#[actix_web::test]
async fn a_summary_in_a_photo_caption_is_answered_with_the_story() {
    let app = slow_app().await;
    let user = 7602;

    app.post_update(&location_update(1, user, "en", LAT, LON))
        .await;
    let stories = app.telegram.wait_for_stories(user, 1).await;
    let caption = stories[0]["caption"].as_str().unwrap();
    assert!(caption.contains("📖 From Wikipedia:"), "{caption}");
    let reply = app.telegram.wait_for_text_to(user, "<b>").await;

    let reply = reply.expect("the story as a reply to the photo");
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains(SLOW_STORY), "{text}");
    assert!(text.contains("✨ Now written by the guide:"), "{text}");
    assert!(reply["reply_parameters"]["message_id"].is_i64(), "{reply}");
}

#[actix_web::test]
async fn a_story_written_in_time_is_told_once_and_never_upgraded() {
    let app = spawn_app_with(&[]).await;
    let user = 7603;

    app.post_update(&location_update(1, user, "en", LAT, LON))
        .await;
    app.telegram.wait_for_stories(user, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(
        app.telegram
            .calls_to("editMessageText", user)
            .await
            .is_empty()
    );
    let texts = app.telegram.messages_to(user).await;
    assert!(
        texts.iter().all(|m| !m["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Now written by the guide")),
        "{texts:?}"
    );
}

/// An app with one LLM permit, whose stories take 2 s, on places of their own every ~110 m.
async fn one_permit_app() -> TestApp {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_distinct_places("en").await;
    let app = mocks.spawn(&[("LLM_PERMITS", "1")]).await;
    app.openai.set_latency(Duration::from_secs(2));
    app.openai.always(Reply::Story(story(SLOW_STORY)));
    app
}

/// The first story sent to `user` and how long after `asked` it was seen.
async fn first_story(app: &TestApp, user: i64, asked: Instant) -> (serde_json::Value, Duration) {
    let stories = app.telegram.wait_for_stories(user, 1).await;
    (stories[0].clone(), asked.elapsed())
}

#[actix_web::test]
async fn a_story_that_cannot_start_at_once_is_the_summary_at_once_then_the_story() {
    let app = one_permit_app().await;
    let (first, second) = (7611, 7612);
    app.post_update(&location_update(1, first, "en", LAT, LON))
        .await;
    eventually(|| async { app.openai.request_count() }, |n| *n == 1).await;

    // The only permit is taken for 2 s: the second story cannot start within the 0.8 s
    // start wait, so the summary goes at once, and the story, written next, replaces it.
    let asked = Instant::now();
    app.post_update(&location_update(2, second, "en", LAT + 0.01, LON))
        .await;
    let (summary, seen) = first_story(&app, second, asked).await;

    let caption = summary["caption"].as_str().unwrap();
    assert!(caption.contains("📖 From Wikipedia:"), "{caption}");
    assert!(seen < Duration::from_millis(1500), "{seen:?}");
    let reply = app
        .telegram
        .wait_for_text_to(second, "<b>")
        .await
        .expect("the story as a reply to the summary's photo");
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains(SLOW_STORY), "{text}");
    assert!(text.contains("✨ Now written by the guide:"), "{text}");
    let (told, _) = first_story(&app, first, asked).await;
    assert!(told["caption"].as_str().unwrap().contains(SLOW_STORY));
    assert_eq!(app.openai.request_count(), 2, "one call each, none wasted");
}

#[actix_web::test]
async fn a_tours_first_story_told_as_the_summary_is_replaced_by_the_story() {
    let app = one_permit_app().await;
    let (one_off, walker) = (7613, 7614);
    app.post_update(&location_update(1, one_off, "en", LAT, LON))
        .await;
    eventually(|| async { app.openai.request_count() }, |n| *n == 1).await;

    let asked = Instant::now();
    let live = live_location_update(2, walker, LAT + 0.01, LON, 3600);
    app.post_update(&live).await;
    let (summary, seen) = first_story(&app, walker, asked).await;

    let caption = summary["caption"].as_str().unwrap();
    assert!(caption.contains("#1 · "), "{caption}");
    assert!(caption.contains("📖 From Wikipedia:"), "{caption}");
    assert!(seen < Duration::from_millis(1500), "{seen:?}");
    let reply = app.telegram.wait_for_text_to(walker, "<b>#1 · ").await;
    let reply = reply.expect("the tour's first story as a reply to the summary's photo");
    let text = reply["text"].as_str().unwrap();
    assert!(text.contains(SLOW_STORY), "{text}");
    assert!(text.contains("✨ Now written by the guide:"), "{text}");
}
