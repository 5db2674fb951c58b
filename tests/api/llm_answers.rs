//! What the LLM returns is checked before it is told or cached: an answer that is no story
//! about the place (empty, far too short or long, talk about itself or the request, a
//! greeting, a question back, another subject) gives the place's own summary, is never cached
//! and counts as a failed call.

use crate::helpers::{
    Mocks, Reply, TestApp, location_update, mock_openai::story, spawn_app, spawn_app_with,
    text_update,
};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

/// The caption of the story `user` gets for a location at (`lat`, LON).
async fn caption_at(app: &TestApp, update_id: u64, user: i64, lat: f64) -> String {
    app.post_update(&location_update(update_id, user, "en", lat, LON))
        .await;
    let photos = app.telegram.wait_for_calls_to("sendPhoto", user, 1).await;
    photos[0]["caption"].as_str().unwrap().to_owned()
}

/// The caption of the story `user` gets for a location at (LAT, LON).
async fn caption_for(app: &TestApp, update_id: u64, user: i64) -> String {
    caption_at(app, update_id, user, LAT).await
}

fn is_summary(caption: &str) -> bool {
    caption.contains("📖 From Wikipedia:") && caption.contains("is a place used in tests.")
}

#[actix_web::test]
async fn a_greeting_is_never_told_nor_cached_and_counts_as_an_error() {
    let app = spawn_app_with(&[("ADMIN_USER_IDS", "830")]).await;
    app.openai
        .always(Reply::Story("Hello! How can I assist you today?".into()));

    let first = caption_for(&app, 1, 831).await;
    let second = caption_for(&app, 2, 832).await;

    for caption in [&first, &second] {
        assert!(is_summary(caption), "{caption}");
        assert!(!caption.contains("assist"), "{caption}");
    }
    assert_eq!(app.openai.request_count(), 2, "the greeting was cached");
    app.post_update(&text_update(3, 830, "en", "/stats")).await;
    let stats = app.telegram.wait_for_messages_to(830, 1).await;
    let stats = stats[0]["text"].as_str().unwrap();
    assert!(stats.contains("Errors in 24 h: 2"), "{stats}");
}

#[actix_web::test]
async fn answers_that_are_no_story_about_the_place_give_its_summary() {
    let mocks = Mocks::start().await;
    // A place of its own for each user, so no story is served from the cache.
    mocks.wikipedia.serve_distinct_places("en").await;
    let app = mocks.spawn(&[]).await;
    let bad = [
        String::new(),
        story("As an AI language model, I will happily tell you about Café Noir."),
        story("I'm sorry, but I can't write about Café Noir without more details."),
        "Café Noir is old and loved.".to_owned(),
        format!("Café Noir {}", "stood ".repeat(300)),
        story("The river here once carried timber down to the sea."),
        format!(
            "{} Would you like to hear more?",
            story("Café Noir has a secret.")
        ),
    ];
    let good = story("Café Noir served its first coffee in 1890.");
    // A good story after every three bad ones keeps the breaker closed.
    let script = bad.chunks(3).flat_map(|chunk| chunk.iter().chain([&good]));
    let replies: Vec<Reply> = script.map(|text| Reply::Story(text.clone())).collect();
    let calls = replies.len();
    app.openai.then(replies.clone());

    for (i, reply) in replies.iter().enumerate() {
        let user = 840 + i as i64;
        let caption = caption_at(&app, i as u64 + 1, user, LAT + 0.002 * i as f64).await;
        if *reply == Reply::Story(good.clone()) {
            assert!(
                caption.contains("served its first coffee in 1890."),
                "{caption}"
            );
        } else {
            assert!(is_summary(&caption), "{reply:?} was told: {caption}");
        }
    }

    assert_eq!(app.openai.request_count(), calls);
}

#[actix_web::test]
async fn a_story_that_names_the_place_in_part_or_in_another_case_is_told() {
    let app = spawn_app().await;
    app.openai.always(Reply::Story(story(
        "The NOIR café, as locals call it, is older than the street.",
    )));

    let caption = caption_for(&app, 1, 870).await;

    assert!(caption.contains("older than the street"), "{caption}");
}
