//! Hostile updates: bodies a stranger holding the secret (or a buggy client) could send, and
//! updates that parse but ask for what no honest client would. Each gets a clear answer in
//! the user's language, or is ignored with a log line; nothing crashes.

use std::{collections::BTreeMap, time::Instant};

use excursobot::{
    cache::SeenUpdates,
    handlers::triage::{Triage, triage},
    simulate::mutate::Mutator,
    telemetry::panics,
};
use serde_json::{Value, json};

use crate::helpers::{
    SECRET, button_update, location_update, logs, mock_telegram::story_button, sample,
    sample_paths, spawn_app, text_update,
};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

/// Hostile bodies the property test sends when `HOSTILE_BODIES` does not say.
const HOSTILE_BODIES: usize = 5_000;

/// The reaction sample with its actor (`user`) replaced by `actor` (removed when `None`).
fn reaction_with_actor(update_id: u64, actor: Option<Value>) -> Value {
    let mut update = sample("24_message_reaction_teloxide.json");
    update["update_id"] = json!(update_id);
    let reaction = update["message_reaction"].as_object_mut().unwrap();
    reaction.remove("user");
    if let Some(actor) = actor {
        reaction.insert("user".into(), actor);
    }
    update
}

#[actix_web::test]
async fn reactions_without_an_actor_get_200_and_one_warning_a_second_and_the_bot_goes_on() {
    logs::capture();
    let app = spawn_app().await;
    let started = Instant::now();

    for n in 0..20 {
        let actor = (n % 2 == 1).then_some(Value::Null);
        let update_id = 731_001 + n;
        let body = reaction_with_actor(update_id, actor)
            .to_string()
            .into_bytes();
        let response = app.post_raw(body, Some(SECRET)).await;
        assert_eq!(response.status(), 200, "update {update_id}");
    }
    let seconds = started.elapsed().as_secs() as usize;

    let first = logs::lines_containing("update_id=731001");
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(
        first[0].contains("WARN") && first[0].contains("bodies=1"),
        "{first:?}"
    );
    let warned = (731_001..731_021)
        .flat_map(|id| logs::lines_containing(&format!("update_id={id} ")))
        .count();
    assert!(warned <= 1 + seconds, "{warned} lines in {seconds} s");

    app.post_update(&text_update(731_100, 731, "en", "/start"))
        .await;
    assert_eq!(app.telegram.wait_for_messages_to(731, 1).await.len(), 1);
}

#[actix_web::test]
async fn a_flood_of_unparsable_bodies_is_one_warning_a_second_with_its_count() {
    logs::capture();
    let app = spawn_app().await;
    // A length no other test sends: the lines about these bodies are the ones with it.
    let body = "x".repeat(7_731);
    let started = Instant::now();

    for _ in 0..300 {
        let response = app.post_raw(body.clone().into_bytes(), Some(SECRET)).await;
        assert_eq!(response.status(), 200);
    }
    let seconds = started.elapsed().as_secs() as usize;

    let lines = logs::lines_containing("bytes=7731");
    assert!(!lines.is_empty());
    assert!(
        lines.len() <= 1 + seconds,
        "{} lines in {seconds} s",
        lines.len()
    );
    assert!(lines[0].contains("unparsable webhook body") && lines[0].contains("bodies=1"));
}

/// Every sample update in `tests/fixtures/telegram_updates` that is JSON.
fn json_samples() -> Vec<Value> {
    sample_paths()
        .iter()
        .filter_map(|path| serde_json::from_slice(&std::fs::read(path).unwrap()).ok())
        .filter(Value::is_object)
        .collect()
}

/// The property behind the fuzz target (`fuzz/`), short enough for every `cargo test`:
/// mutants of every sample (`simulate::mutate`) through the webhook path up to the lane;
/// none may panic. `HOSTILE_BODIES=1000000` runs a million.
#[tokio::test]
async fn mutants_of_every_sample_never_panic_the_webhook_path() {
    // The bot's warnings about unreadable bodies would be thousands of lines, and the panics
    // it contains would each print a backtrace: its panic hook keeps those quiet, as in
    // production (the standard hook comes back at the end).
    let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
    panics::install();
    let samples = json_samples();
    let count = std::env::var("HOSTILE_BODIES")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(HOSTILE_BODIES);
    let (seen, mut mutator) = (SeenUpdates::new(None), Mutator::new(0x5eed));
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let started = Instant::now();

    for n in 0..count {
        let mut update = samples[n % samples.len()].clone();
        update["update_id"] = json!(n);
        let outcome = match triage(&mutator.mutant(&update), &seen).await {
            Triage::Unusable => "unusable",
            Triage::Duplicate => "duplicate",
            Triage::Lane { key: Some(_), .. } => "lane",
            Triage::Lane { key: None, .. } => "outside the lanes",
        };
        *outcomes.entry(outcome).or_default() += 1;
    }

    drop(std::panic::take_hook());
    eprintln!(
        "{count} hostile bodies in {:.1} s: {outcomes:?}",
        started.elapsed().as_secs_f64()
    );
    assert!(samples.len() >= 30, "samples are missing");
    for outcome in ["unusable", "duplicate", "lane", "outside the lanes"] {
        assert!(
            outcomes.contains_key(outcome),
            "no body was {outcome}: {outcomes:?}"
        );
    }
}

/// Waits for a `sendMessage` to `chat` reading `text`, and a moment more for any other.
async fn only_message_to(app: &crate::helpers::TestApp, chat: i64, text: &str) -> Vec<Value> {
    let found = app.telegram.wait_for_text_to(chat, text).await;
    assert!(found.is_some(), "no {text:?} to {chat}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    app.telegram.messages_to(chat).await
}

/// `answerCallbackQuery` bodies for the query `cb{update_id}`.
async fn button_answers(app: &crate::helpers::TestApp, update_id: u64) -> Vec<Value> {
    let id = format!("cb{update_id}");
    let answers = app
        .telegram
        .wait_for("answerCallbackQuery", 1)
        .await
        .into_iter()
        .filter(|answer| answer["callback_query_id"] == json!(id))
        .collect::<Vec<_>>();
    if answers.is_empty() {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let all = app.telegram.calls("answerCallbackQuery").await;
        return all
            .into_iter()
            .filter(|answer| answer["callback_query_id"] == json!(id))
            .collect();
    }
    answers
}

#[actix_web::test]
async fn forged_foreign_and_oversized_button_data_is_answered_as_an_expired_button() {
    let app = spawn_app().await;
    let long = format!("more:{}", "f".repeat(4096));
    let forged = [
        (732_001, "more:0123456789abcdef0123456789abcdef"), // never issued
        (732_002, "next:not-a-token"),
        (732_003, "lang:xx"),
        (732_004, "\u{202e}\u{200b}:\u{0}"),
        (732_005, long.as_str()), // Telegram's limit is 64 bytes; a forger has none
        (732_006, "tour:-5"),
        (732_007, "set:radius:99999999999"),
        (732_008, "donate:-1"),
    ];

    for (update_id, data) in forged {
        let response = app.post_update(&button_update(update_id, 732, data)).await;
        assert_eq!(response.status(), 200, "{data}");
    }

    // Story buttons answer in the chat, the others on the button itself: every one of
    // them somehow, none with a Rust error.
    let expired = "This button has expired.";
    let chat = app.telegram.wait_for_messages_to(732, 3).await;
    for (update_id, _) in &forged[2..] {
        let answers = button_answers(&app, *update_id).await;
        assert_eq!(answers.len(), 1, "update {update_id}: {answers:?}");
    }
    let texts: Vec<_> = chat.iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(
        texts, [expired; 3],
        "one for each story button (the long one too)"
    );
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[actix_web::test]
async fn another_users_story_button_is_expired_for_them_and_tells_the_owner_nothing() {
    let app = spawn_app().await;
    app.post_update(&location_update(733_001, 7331, "en", LAT, LON))
        .await;
    let story = app.telegram.wait_for_stories(7331, 1).await;
    let more = story_button(&story[0], "more");
    assert!(!more.is_empty(), "a story with buttons: {story:?}");

    // A stranger (in Russian) presses the owner's "Tell me more" with the copied token.
    let mut stranger = button_update(733_002, 7332, &more);
    stranger["callback_query"]["from"]["language_code"] = json!("ru");
    app.post_update(&stranger).await;

    only_message_to(&app, 7332, "Эта кнопка устарела.").await;
    assert_eq!(app.telegram.stories_to(7331).await.len(), 1);
    assert!(app.telegram.stories_to(7332).await.is_empty());
}

#[actix_web::test]
async fn coordinates_out_of_range_get_the_unusable_answer_and_nan_is_unreadable() {
    logs::capture();
    let app = spawn_app().await;
    let bad = [(91.0, 37.6), (-90.5, 0.0), (55.7, 180.5), (1e308, -1e308)];

    for (n, (lat, lon)) in bad.iter().enumerate() {
        let update_id = 734_001 + n as u64;
        app.post_update(&location_update(update_id, 7341, "ru", *lat, *lon))
            .await;
    }
    let nan = location_update(734_010, 7342, "en", 1.0, 2.0)
        .to_string()
        .replace("\"latitude\":1.0", "\"latitude\":NaN");
    let response = app.post_raw(nan.into_bytes(), Some(SECRET)).await;

    assert_eq!(response.status(), 200);
    let unusable = "Это я не понимаю.";
    let replies = app.telegram.wait_for_messages_to(7341, bad.len()).await;
    assert_eq!(replies.len(), bad.len(), "{replies:?}");
    assert!(replies.iter().all(|reply| {
        reply["text"]
            .as_str()
            .is_some_and(|text| text.starts_with(unusable))
    }));
    assert!(app.telegram.messages_to(7342).await.is_empty());
    assert!(logs::lines_containing("location out of range").len() >= bad.len());
    assert!(!logs::lines_containing("unparsable webhook body").is_empty());
}

#[actix_web::test]
async fn a_live_period_of_zero_is_a_one_off_story_and_a_negative_one_is_unusable() {
    let app = spawn_app().await;
    let live = |update_id: u64, user: i64, period: i64| {
        let location = json!({ "latitude": LAT, "longitude": LON, "live_period": period });
        crate::helpers::private_message(update_id, user, "ru", json!({ "location": location }))
    };

    app.post_update(&live(735_001, 7351, 0)).await;
    let response = app.post_update(&live(735_002, 7352, -60)).await;

    assert_eq!(response.status(), 200);
    // Zero: the tour is over before it began, so the location gets its one story.
    assert_eq!(app.telegram.wait_for_stories(7351, 1).await.len(), 1);
    // Negative: teloxide reads a message with no content at all.
    only_message_to(&app, 7352, "Это я не понимаю.").await;
    assert!(app.telegram.stories_to(7352).await.is_empty());
}

#[actix_web::test]
async fn edits_of_messages_the_bot_never_saw_are_ignored() {
    logs::capture();
    let app = spawn_app().await;
    let edit = |update_id: u64, content: Value| {
        let mut update = crate::helpers::private_message(update_id, 7361, "en", content);
        let message = update["message"].take();
        update["edited_message"] = message;
        update["edited_message"]["edit_date"] = json!(1_700_000_100);
        update
    };
    let moved = json!({ "location": { "latitude": LAT, "longitude": LON, "live_period": 900 } });
    let stopped = json!({ "location": { "latitude": LAT, "longitude": LON } });
    let far = json!({ "location": { "latitude": 95.0, "longitude": LON, "live_period": 900 } });

    for (n, content) in [moved, stopped, json!({ "text": "/start" }), far]
        .into_iter()
        .enumerate()
    {
        let response = app.post_update(&edit(736_001 + n as u64, content)).await;
        assert_eq!(response.status(), 200);
    }

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(app.telegram.messages_to(7361).await.is_empty());
    assert!(app.telegram.stories_to(7361).await.is_empty());
    // Logged at warning level, where the update's span (with its id) is filtered out.
    let out_of_range = logs::lines_containing("live location out of range ignored");
    assert!(!out_of_range.is_empty());
    app.post_update(&text_update(736_010, 7361, "en", "/help"))
        .await;
    assert_eq!(app.telegram.wait_for_messages_to(7361, 1).await.len(), 1);
}

#[actix_web::test]
async fn texts_of_4096_characters_get_their_answers() {
    let app = spawn_app().await;
    let command = format!("/{}", "я".repeat(4095));
    let text = "🙂".repeat(4096);

    app.post_update(&text_update(737_001, 7371, "ru", &command))
        .await;
    app.post_update(&text_update(737_002, 7372, "en", &text))
        .await;

    only_message_to(&app, 7371, "Такой команды я не знаю.").await;
    only_message_to(&app, 7372, "I can't use that.").await;
}

#[actix_web::test]
async fn names_with_rtl_and_zero_width_marks_get_the_usual_replies() {
    let app = spawn_app().await;
    let name = "\u{202e}\u{200f}Ali\u{200b}\u{200d}\u{2066}ce\u{feff}\u{061c}";
    let mut start = text_update(738_001, 7381, "ru", "/start");
    start["message"]["from"]["first_name"] = json!(name);
    start["message"]["from"]["last_name"] = json!(name);
    start["message"]["from"]["username"] = json!(name);
    start["message"]["chat"]["first_name"] = json!(name);
    let mut venue = crate::helpers::private_message(
        738_002,
        7381,
        "ru",
        json!({ "venue": {
            "location": { "latitude": LAT, "longitude": LON },
            "title": name, "address": name
        } }),
    );
    venue["message"]["from"]["first_name"] = json!(name);

    app.post_update(&start).await;
    app.post_update(&venue).await;

    let welcome = app.telegram.wait_for_messages_to(7381, 1).await;
    assert!(
        welcome[0]["text"].as_str().unwrap().starts_with("Привет!"),
        "{welcome:?}"
    );
    assert_eq!(app.telegram.wait_for_stories(7381, 1).await.len(), 1);
}
