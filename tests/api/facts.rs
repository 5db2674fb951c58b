//! A location gets a story about a real place: photo, caption, source link, venue pin,
//! buttons; cache and single-flight; every LLM failure falls back to the place's summary.

use std::time::Duration;

use futures::future::join_all;
use serde_json::Value;

use crate::helpers::{
    Mocks, Reply, TestApp, button_update, location_update, mock_openai::story,
    mock_telegram::story_button, mock_wikipedia::NEAREST_TITLE, spawn_app, spawn_app_with,
    text_update,
};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

/// Story messages (photos and texts) sent to `chat`, in order.
async fn stories_to(app: &TestApp, chat: i64) -> Vec<Value> {
    let mut photos = app.telegram.calls("sendPhoto").await;
    photos.retain(|body| body["chat_id"] == chat);
    let texts = app.telegram.messages_to(chat).await;
    photos.into_iter().chain(texts).collect()
}

async fn first_caption(app: &TestApp) -> String {
    let photos = app.telegram.calls("sendPhoto").await;
    photos[0]["caption"].as_str().unwrap().to_owned()
}

/// Waits (up to 20 s) for `count` stories to `chat`; each has the `title` it shows.
async fn wait_for_stories(app: &TestApp, chat: i64, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let stories = app.telegram.stories_to(chat).await;
        if stories.len() >= count || std::time::Instant::now() > deadline {
            return stories;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[actix_web::test]
async fn the_nearest_place_is_told_in_one_photo_with_caption_source_link_and_buttons() {
    let app = spawn_app().await;
    app.openai.set_latency(Duration::from_millis(600));
    app.openai
        .always(Reply::Story(story("Once, a café here <hid> a secret.")));

    app.post_update(&location_update(1, 901, "en", LAT, LON))
        .await;

    let story = &wait_for_stories(&app, 901, 1).await[0];
    assert_eq!(story["title"], NEAREST_TITLE);
    let photo = &app.telegram.calls("sendPhoto").await[0];
    assert_eq!(photo, &{
        let mut shown = story.clone();
        shown.as_object_mut().unwrap().remove("title");
        shown
    });
    assert!(
        photo["photo"]
            .as_str()
            .unwrap()
            .contains("upload.wikimedia.org")
    );
    let caption = photo["caption"].as_str().unwrap();
    assert!(
        caption.starts_with("<b>Café &lt;Noir&gt; &amp; Co</b>\n📍 120 m north of you\n"),
        "{caption}"
    );
    assert!(
        caption.contains("Once, a café here &lt;hid&gt; a secret."),
        "{caption}"
    );
    let link = "<a href=\"https://en.wikipedia.org/wiki/Café_&lt;Noir&gt;_&amp;_Co\">Wikipedia</a>";
    assert!(caption.ends_with(link), "{caption}");
    assert_eq!(photo["parse_mode"], "HTML");
    let buttons = &photo["reply_markup"]["inline_keyboard"][0];
    assert!(
        buttons[0]["callback_data"]
            .as_str()
            .unwrap()
            .starts_with("more:")
    );
    assert!(
        buttons[1]["callback_data"]
            .as_str()
            .unwrap()
            .starts_with("next:")
    );
    assert!(buttons[0]["callback_data"].as_str().unwrap().len() <= 64);
    assert_eq!(
        app.telegram.calls("sendChatAction").await[0]["action"],
        "typing",
        "the story took a while, so the user saw typing"
    );
    let prompt = &app.openai.requests()[0];
    assert!(format!("{prompt:?}").contains(NEAREST_TITLE));
    assert_eq!(
        app.telegram.calls("sendMessage").await.len(),
        0,
        "one message"
    );
    assert_eq!(
        app.telegram.calls("sendVenue").await.len(),
        0,
        "no pin unasked"
    );
}

#[actix_web::test]
async fn on_the_map_sends_the_pin_at_the_places_own_coordinates() {
    let app = spawn_app().await;
    app.post_update(&location_update(1, 917, "en", LAT, LON))
        .await;
    let story = wait_for_stories(&app, 917, 1).await[0].clone();
    let map = story_button(&story, "map");
    assert!(map.len() <= 64, "{map}");
    assert!(
        app.telegram.calls_to("sendVenue", 917).await.is_empty(),
        "no pin until asked"
    );

    app.post_update(&button_update(2, 917, &map)).await;

    let venue = &app.telegram.wait_for_calls_to("sendVenue", 917, 1).await[0];
    assert_eq!(venue["title"], NEAREST_TITLE);
    let expected_lat = LAT + 120.0 / 111_194.9;
    assert!(
        (venue["latitude"].as_f64().unwrap() - expected_lat).abs() < 1e-4,
        "{venue}"
    );
    assert_eq!(venue["address"], "120 m north of you");
    assert_eq!(
        app.telegram.wait_for("answerCallbackQuery", 1).await.len(),
        1
    );
}

#[actix_web::test]
async fn a_photo_refused_with_an_unreadable_error_body_still_tells_the_story_as_text() {
    let app = spawn_app().await;
    let refusal = wiremock::ResponseTemplate::new(400)
        .set_body_raw("<html><body>400 Bad Request</body></html>", "text/html");
    app.telegram.answer_always("sendPhoto", refusal).await;

    app.post_update(&location_update(1, 920, "en", LAT, LON))
        .await;

    let stories = wait_for_stories(&app, 920, 2).await;
    let text = stories.iter().find(|story| story["text"].is_string());
    let text = text.expect("the story came as text");
    assert_eq!(text["title"], NEAREST_TITLE);
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .contains("120 m north of you"),
        "{text}"
    );
}

#[actix_web::test]
async fn an_answer_from_the_cache_shows_no_typing() {
    let app = spawn_app().await;
    app.post_update(&location_update(1, 918, "en", LAT, LON))
        .await;
    wait_for_stories(&app, 918, 1).await;
    let typing_before = app.telegram.calls("sendChatAction").await.len();

    app.post_update(&location_update(2, 919, "en", LAT, LON))
        .await;
    wait_for_stories(&app, 919, 1).await;
    tokio::time::sleep(Duration::from_millis(600)).await;

    assert_eq!(
        app.telegram.calls("sendChatAction").await.len(),
        typing_before
    );
}

#[actix_web::test]
async fn a_long_story_splits_into_a_photo_then_the_text() {
    let app = spawn_app().await;
    app.openai
        .always(Reply::Story(format!("Café {}", "wonderful ".repeat(160))));

    app.post_update(&location_update(1, 902, "en", LAT, LON))
        .await;

    wait_for_stories(&app, 902, 1).await;
    let photo = &app.telegram.calls("sendPhoto").await[0];
    assert_eq!(photo["caption"], "<b>Café &lt;Noir&gt; &amp; Co</b>");
    let text = &app.telegram.messages_to(902).await[0];
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .contains("wonderful wonderful")
    );
    assert!(text["reply_markup"]["inline_keyboard"][0][0]["callback_data"].is_string());
}

#[actix_web::test]
async fn a_cache_hit_makes_no_llm_call() {
    let app = spawn_app().await;

    app.post_update(&location_update(1, 903, "en", LAT, LON))
        .await;
    wait_for_stories(&app, 903, 1).await;
    app.post_update(&location_update(2, 904, "en", LAT, LON))
        .await;
    wait_for_stories(&app, 904, 1).await;

    assert_eq!(app.openai.request_count(), 1);
    assert_eq!(
        app.wikipedia.requests().await.len(),
        1,
        "the place list is cached too"
    );
    let second = &stories_to(&app, 904).await[0];
    assert!(
        second["caption"]
            .as_str()
            .unwrap()
            .contains("A story about Café")
    );
}

#[actix_web::test]
async fn twenty_users_at_the_same_spot_at_once_cause_exactly_one_llm_call() {
    let app = spawn_app().await;
    app.openai.set_latency(Duration::from_millis(500));

    let updates: Vec<Value> = (0..20)
        .map(|i| location_update(10 + i, 1000 + i as i64, "en", LAT, LON))
        .collect();
    join_all(updates.iter().map(|update| app.post_update(update))).await;

    for user in 0..20 {
        assert_eq!(
            wait_for_stories(&app, 1000 + user, 1).await.len(),
            1,
            "user {user}"
        );
    }
    assert_eq!(app.openai.request_count(), 1);
    assert_eq!(
        app.wikipedia.requests().await.len(),
        1,
        "one place lookup per cell"
    );
    let photos = app.telegram.calls("sendPhoto").await;
    assert!(
        photos
            .iter()
            .all(|p| p["caption"].as_str().unwrap().contains("A story about"))
    );
}

#[actix_web::test]
async fn an_llm_refusal_gives_the_places_own_summary_marked_as_such() {
    let app = spawn_app().await;
    app.openai.always(Reply::Refusal);

    app.post_update(&location_update(1, 905, "ru", LAT, LON))
        .await;

    wait_for_stories(&app, 905, 1).await;
    let caption = first_caption(&app).await;
    assert!(caption.contains("📖 Из Википедии:"), "{caption}");
    assert!(caption.contains("is a place used in tests."), "{caption}");
    assert!(!caption.contains("null"));
}

#[actix_web::test]
async fn insufficient_quota_falls_back_at_once_without_retrying() {
    let app = spawn_app().await;
    app.openai.always(Reply::InsufficientQuota);

    app.post_update(&location_update(1, 906, "en", LAT, LON))
        .await;

    wait_for_stories(&app, 906, 1).await;
    assert_eq!(app.openai.request_count(), 1);
    let caption = first_caption(&app).await;
    assert!(caption.contains("📖 From Wikipedia:"), "{caption}");
}

#[actix_web::test]
async fn a_hanging_llm_times_out_into_the_fallback() {
    let app = spawn_app_with(&[("LLM_TIMEOUT_SECS", "1")]).await;
    app.openai.always(Reply::Hang);

    app.post_update(&location_update(1, 907, "en", LAT, LON))
        .await;

    assert_eq!(wait_for_stories(&app, 907, 1).await.len(), 1);
    let caption = first_caption(&app).await;
    assert!(caption.contains("📖 From Wikipedia:"), "{caption}");
}

#[actix_web::test]
async fn wikipedia_unreachable_gives_the_gazetteer_locality() {
    let app = spawn_app_with(&[("WIKIPEDIA_API_URL", "http://127.0.0.1:9/{lang}/w/api.php")]).await;

    // The Eiffel Tower: the nearest GeoNames centre is Neuilly-sur-Seine.
    app.post_update(&location_update(1, 908, "en", 48.8584, 2.2945))
        .await;

    let messages = app.telegram.wait_for_messages_to(908, 1).await;
    let text = messages[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("My sources are out of reach right now."),
        "{text}"
    );
    assert!(text.contains("You are near Neuilly-sur-Seine."), "{text}");
    assert_eq!(app.openai.request_count(), 0);
}

#[actix_web::test]
async fn nothing_nearby_gets_a_friendly_note_to_move_a_little() {
    let mocks = Mocks::start().await;
    for lang in ["en", "ru"] {
        mocks.wikipedia.serve_empty(lang).await;
    }
    let app = mocks.spawn(&[]).await;

    app.post_update(&location_update(1, 909, "ru", 48.8584, 2.2945))
        .await;

    let text = app.telegram.wait_for_messages_to(909, 1).await[0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        text.starts_with("Здесь мне пока нечего рассказать"),
        "{text}"
    );
    assert!(text.contains("Neuilly-sur-Seine"), "{text}");
}

#[actix_web::test]
async fn another_place_tells_the_next_nearest_and_tell_me_more_goes_deeper() {
    let app = spawn_app().await;
    app.post_update(&location_update(1, 910, "en", LAT, LON))
        .await;
    wait_for_stories(&app, 910, 1).await;
    let photo = app.telegram.calls("sendPhoto").await[0].clone();
    let buttons = &photo["reply_markup"]["inline_keyboard"][0];
    let (more, next) = (
        buttons[0]["callback_data"].as_str().unwrap(),
        buttons[1]["callback_data"].as_str().unwrap(),
    );

    app.post_update(&button_update(2, 910, next)).await;
    let venues = wait_for_stories(&app, 910, 2).await;
    assert_eq!(venues[1]["title"], "Quiet Garden");

    app.post_update(&button_update(3, 910, more)).await;
    let venues = wait_for_stories(&app, 910, 3).await;
    assert_eq!(venues[2]["title"], NEAREST_TITLE);
    let prompts: Vec<String> = app
        .openai
        .requests()
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    assert!(
        prompts.iter().any(|p| p.contains("deeper story")),
        "{prompts:?}"
    );
    assert_eq!(app.telegram.calls("answerCallbackQuery").await.len(), 2);
}

#[actix_web::test]
async fn a_stale_story_button_gets_a_clear_answer() {
    let app = spawn_app().await;

    app.post_update(&button_update(1, 911, "more:12345")).await;

    let messages = app.telegram.wait_for_messages_to(911, 1).await;
    assert_eq!(messages[0]["text"], "This button has expired.");
}

#[actix_web::test]
async fn a_stranger_pressing_another_users_story_buttons_learns_nothing() {
    let app = spawn_app().await;
    app.post_update(&location_update(1, 914, "en", LAT, LON))
        .await;
    wait_for_stories(&app, 914, 1).await;
    // The owner's first story is followed by the live-location hint; nothing else comes.
    assert!(app.telegram.wait_for_text_to(914, "💡").await.is_some());
    let photo = app.telegram.calls("sendPhoto").await[0].clone();
    let buttons = &photo["reply_markup"]["inline_keyboard"][0];
    let (more, next) = (
        buttons[0]["callback_data"].as_str().unwrap().to_owned(),
        buttons[1]["callback_data"].as_str().unwrap().to_owned(),
    );
    let calls_before = app.telegram.server.received_requests().await.unwrap().len();

    // User 915 never sent a location; they press 914's buttons in their own chat.
    app.post_update(&button_update(2, 915, &more)).await;
    app.post_update(&button_update(3, 915, &next)).await;

    let refusals = app.telegram.wait_for_messages_to(915, 2).await;
    assert!(
        refusals
            .iter()
            .all(|m| m["text"] == "This button has expired."),
        "{refusals:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    for method in ["sendPhoto", "sendVenue"] {
        assert!(
            app.telegram.calls_to(method, 915).await.is_empty(),
            "no {method} to the stranger"
        );
    }
    assert_eq!(
        wait_for_stories(&app, 914, 1).await.len(),
        1,
        "the owner got nothing more"
    );
    let calls_after = app.telegram.server.received_requests().await.unwrap().len();
    // Two callback answers and two refusals, nothing else.
    assert_eq!(calls_after - calls_before, 4);
}

#[actix_web::test]
async fn story_button_tokens_are_not_sequential() {
    let app = spawn_app().await;
    for id in 1..=2 {
        app.post_update(&location_update(id, 916, "en", LAT, LON))
            .await;
        wait_for_stories(&app, 916, id as usize).await;
    }

    let tokens: Vec<String> = stories_to(&app, 916)
        .await
        .iter()
        .filter_map(|story| {
            let data = story["reply_markup"]["inline_keyboard"][0][0]["callback_data"].as_str()?;
            Some(data.trim_start_matches("more:").to_owned())
        })
        .collect();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0].len(), 32, "{tokens:?}");
    let [a, b] = [&tokens[0], &tokens[1]].map(|t| u128::from_str_radix(t, 16).unwrap());
    assert!(a.abs_diff(b) > 1 << 64, "{tokens:?}");
}

#[actix_web::test]
async fn the_same_place_is_never_told_twice_to_one_user() {
    let app = spawn_app().await;

    for id in 1..=4 {
        app.post_update(&location_update(id, 912, "en", LAT, LON))
            .await;
        wait_for_stories(&app, 912, id as usize).await;
    }

    let titles: Vec<Value> = wait_for_stories(&app, 912, 3)
        .await
        .iter()
        .map(|v| v["title"].clone())
        .collect();
    assert_eq!(titles, [NEAREST_TITLE, "Quiet Garden", "Old Church"]);
    let last = app.telegram.wait_for_messages_to(912, 1).await;
    assert!(last.iter().any(|m| {
        m["text"]
            .as_str()
            .unwrap()
            .starts_with("I have no new place")
    }));
}

#[actix_web::test]
async fn a_second_location_within_seconds_replaces_the_first() {
    let app = spawn_app().await;
    app.openai.set_latency(Duration::from_millis(800));

    app.post_update(&location_update(1, 913, "en", LAT, LON))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.post_update(&location_update(2, 913, "en", LAT + 0.01, LON))
        .await;

    assert_eq!(wait_for_stories(&app, 913, 1).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        wait_for_stories(&app, 913, 1).await.len(),
        1,
        "the first request was not replaced"
    );
}

#[actix_web::test]
async fn start_is_answered_within_100_ms_while_3_llm_calls_hang_and_50_wait() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_distinct_places("en").await;
    mocks.openai.always(Reply::Hang);
    let app = mocks.spawn(&[("LLM_QUEUE_WAIT_SECS", "60")]).await;
    let updates: Vec<Value> = (0..53)
        .map(|i| location_update(100 + i, 2000 + i as i64, "en", LAT + 0.002 * i as f64, LON))
        .collect();
    join_all(updates.iter().map(|update| app.post_update(update))).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.openai.request_count() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = std::time::Instant::now();
    app.post_update(&text_update(1, 999, "en", "/start")).await;
    app.telegram.wait_for_messages_to(999, 1).await;
    let elapsed = started.elapsed();

    assert_eq!(app.openai.max_concurrent_requests(), 3);
    // A correctness bound (the webhook and router never wait on the LLM), not a speed figure.
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
}

#[actix_web::test]
async fn a_story_slower_than_the_wait_is_summarised_now_and_cached_for_the_next_visitor() {
    let app = spawn_app_with(&[("LLM_QUEUE_WAIT_SECS", "1")]).await;
    app.openai.set_latency(Duration::from_millis(2500));
    app.openai
        .always(Reply::Story(story("A slow story about the café.")));

    let asked = std::time::Instant::now();
    app.post_update(&location_update(1, 914, "en", LAT, LON))
        .await;
    wait_for_stories(&app, 914, 1).await;
    let waited = asked.elapsed();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    app.post_update(&location_update(2, 915, "en", LAT, LON))
        .await;
    wait_for_stories(&app, 915, 1).await;

    assert!(waited < Duration::from_millis(2000), "{waited:?}");
    let first = &stories_to(&app, 914).await[0];
    assert!(
        first["caption"]
            .as_str()
            .unwrap()
            .contains("📖 From Wikipedia:")
    );
    let second = &stories_to(&app, 915).await[0];
    assert!(
        second["caption"]
            .as_str()
            .unwrap()
            .contains("A slow story about the café.")
    );
    assert_eq!(app.openai.request_count(), 1);
}
