//! Live-location tours through the real application and a mock Telegram: a live location
//! starts one, edits move and stop it, `/stop`, the cap, a plain location in the middle, a
//! restart in the middle. The timing rules are in [`clocked`] and [`endings`], on tokio's paused
//! clock, against the actor alone with a stub guide ([`rig`], [`stub`]).

mod clocked;
mod endings;
mod rig;
mod stub;

use std::time::{Duration, Instant};

use excursobot::db::entity::{live_session, tour};
use sea_orm::{Database, EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::helpers::{
    Mocks, Reply, TestApp, button_update, eventually, location_update,
    mock_wikipedia::NEAREST_TITLE, on_both_databases, sample, spawn_app, spawn_app_with,
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

/// A live location from `user` (sent now), shared for `period` seconds, heading east.
fn live_location(update_id: u64, user: i64, language: &str, period: u32) -> Value {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": 1000 + update_id, "date": now(),
            "chat": { "id": user, "type": "private", "first_name": "Walker" },
            "from": { "id": user, "is_bot": false, "first_name": "Walker", "language_code": language },
            "location": { "latitude": LAT, "longitude": LON, "live_period": period, "heading": 90 }
        }
    })
}

/// An edit of `user`'s live location; without `period` it says sharing stopped.
pub(crate) fn live_edit(update_id: u64, user: i64, north_m: f64, period: Option<u32>) -> Value {
    let mut location = json!({ "latitude": LAT + north_m / 111_195.0, "longitude": LON });
    if let Some(period) = period {
        location["live_period"] = json!(period);
    }
    json!({
        "update_id": update_id,
        "edited_message": {
            "message_id": 1001, "date": now() - 60, "edit_date": now(),
            "chat": { "id": user, "type": "private", "first_name": "Walker" },
            "from": { "id": user, "is_bot": false, "first_name": "Walker", "language_code": "en" },
            "location": location
        }
    })
}

async fn wait_for_venues(app: &TestApp, chat: i64, count: usize) -> Vec<Value> {
    app.telegram.wait_for_stories(chat, count).await
}

/// The first text sent to `chat` that starts with `prefix` (waiting up to 10 s).
async fn text_to(app: &TestApp, chat: i64, prefix: &str) -> Option<Value> {
    let found = eventually(
        || app.telegram.messages_to(chat),
        |messages| messages.iter().any(|m| starts_with(m, prefix)),
    )
    .await;
    found.into_iter().find(|m| starts_with(m, prefix))
}

fn starts_with(message: &Value, prefix: &str) -> bool {
    message["text"]
        .as_str()
        .is_some_and(|t| t.starts_with(prefix))
}

fn button_texts(message: &Value) -> Vec<String> {
    message["reply_markup"]["inline_keyboard"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn a_live_location_asks_for_the_interval_and_tells_the_first_place_at_once() {
    let app = spawn_app().await;

    app.post_update(&live_location(1, 701, "en", 3600)).await;

    let question = text_to(&app, 701, "🚶 Your tour has started!")
        .await
        .unwrap();
    assert_eq!(
        button_texts(&question),
        ["5 min", "✅ 10 min", "30 min", "60 min"]
    );
    let data = &question["reply_markup"]["inline_keyboard"][0][3]["callback_data"];
    assert_eq!(data, "tour:60");
    let venue = &wait_for_venues(&app, 701, 1).await[0];
    assert_eq!(venue["title"], format!("#1 · {NEAREST_TITLE}"));
    let photo = &app.telegram.calls("sendPhoto").await[0];
    let caption = photo["caption"].as_str().unwrap();
    assert!(
        caption.starts_with("<b>#1 · Café &lt;Noir&gt; &amp; Co</b>"),
        "{caption}"
    );
    // Walking east, a place to the north is on the left.
    assert!(
        caption.contains("👀 On your left\n\nA story about "),
        "{caption}"
    );
}

#[actix_web::test]
async fn an_interval_button_sets_the_interval_and_becomes_the_next_default() {
    let app = spawn_app().await;
    app.post_update(&live_location(1, 702, "en", 3600)).await;
    text_to(&app, 702, "🚶").await.unwrap();

    app.post_update(&button_update(2, 702, "tour:30")).await;

    let answers = app.telegram.wait_for("answerCallbackQuery", 1).await;
    assert_eq!(answers[0]["text"], "A new place every 30 min.");
    let edits = app.telegram.wait_for("editMessageReplyMarkup", 1).await;
    assert_eq!(
        button_texts(&edits[0]),
        ["5 min", "10 min", "✅ 30 min", "60 min"]
    );
    app.post_update(&text_update(3, 702, "en", "/stop")).await;
    text_to(&app, 702, "🏁").await.unwrap();
    app.post_update(&live_location(4, 702, "en", 3600)).await;
    let questions = eventually(
        || app.telegram.messages_to(702),
        |m| m.iter().filter(|m| starts_with(m, "🚶")).count() == 2,
    )
    .await;
    let second = questions
        .iter()
        .filter(|m| starts_with(m, "🚶"))
        .nth(1)
        .unwrap();
    assert_eq!(button_texts(second)[2], "✅ 30 min");
}

#[actix_web::test]
async fn past_the_cap_the_next_walker_hears_to_try_later_and_still_gets_a_place() {
    let app = spawn_app_with(&[("LIVE_SESSIONS_MAX", "1")]).await;
    app.post_update(&live_location(1, 711, "en", 3600)).await;
    wait_for_venues(&app, 711, 1).await;

    app.post_update(&live_location(2, 712, "ru", 3600)).await;

    let refusal = text_to(&app, 712, "Сейчас со мной гуляет слишком много людей")
        .await
        .unwrap();
    let text = refusal["text"].as_str().unwrap();
    assert!(text.contains("Отдельные геопозиции работают"), "{text}");
    assert!(text.contains("чуть позже"), "{text}");
    let venue = &wait_for_venues(&app, 712, 1).await[0];
    assert_eq!(
        venue["title"], NEAREST_TITLE,
        "a one-off story, not a tour's"
    );
    assert!(
        app.telegram
            .messages_to(712)
            .await
            .iter()
            .all(|m| !starts_with(m, "🚶"))
    );
}

#[actix_web::test]
async fn an_edit_without_live_period_ends_the_tour_with_a_summary() {
    let app = spawn_app().await;
    let user = 680000041;
    app.post_update(&sample("08_live_location_start_hugphp.json"))
        .await;
    wait_for_venues(&app, user, 1).await;

    app.post_update(&sample("09_live_location_edit_DERIVED.json"))
        .await;
    app.post_update(&sample("10_live_location_stop_DERIVED.json"))
        .await;

    let summary = text_to(&app, user, "🏁").await.unwrap();
    assert_eq!(
        summary["text"],
        "🏁 Tour finished. Stories: 1 · walked: 0 m · time: < 1 min."
    );
}

#[actix_web::test]
async fn stop_ends_the_tour_with_a_summary_and_a_second_stop_finds_none() {
    let app = spawn_app().await;
    app.post_update(&live_location(1, 721, "en", 3600)).await;
    wait_for_venues(&app, 721, 1).await;
    app.post_update(&live_edit(2, 721, 150.0, Some(3600))).await;
    tokio::time::sleep(Duration::from_millis(1300)).await; // one batch flush

    app.post_update(&text_update(3, 721, "en", "/stop")).await;

    let summary = text_to(&app, 721, "🏁").await.unwrap();
    assert_eq!(
        summary["text"],
        "🏁 Tour finished. Stories: 1 · walked: 150 m · time: < 1 min."
    );
    app.post_update(&text_update(4, 721, "en", "/stop")).await;
    let none = text_to(&app, 721, "No tour is running.").await;
    assert!(none.is_some());
}

#[actix_web::test]
async fn a_plain_location_during_a_tour_gets_a_one_off_story_and_the_tour_goes_on() {
    let app = spawn_app().await;
    app.post_update(&live_location(1, 731, "en", 3600)).await;
    wait_for_venues(&app, 731, 1).await;

    app.post_update(&location_update(2, 731, "en", LAT, LON))
        .await;

    let venues = wait_for_venues(&app, 731, 2).await;
    assert_eq!(
        venues[1]["title"], "Quiet Garden",
        "no number: not a tour story"
    );
    app.post_update(&text_update(3, 731, "en", "/stop")).await;
    let summary = text_to(&app, 731, "🏁").await.unwrap();
    let text = summary["text"].as_str().unwrap();
    assert!(text.starts_with("🏁 Tour finished. Stories: 1 "), "{text}");
    let messages = app.telegram.messages_to(731).await;
    let hints: Vec<_> = messages.iter().filter(|m| starts_with(m, "💡")).collect();
    assert!(
        hints.is_empty(),
        "no live-location hint during a tour: {hints:?}"
    );
}

on_both_databases!(a_tour_survives_a_restart_of_the_app);

async fn a_tour_survives_a_restart_of_the_app(url: String) {
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    app.post_update(&live_location(1, 741, "en", 3600)).await;
    wait_for_venues(&app, 741, 1).await;
    let db = Database::connect(url.as_str()).await.unwrap();
    let saved = eventually(
        || live_session::Entity::find().count(&db),
        |rows| *rows == Ok(1),
    );
    assert_eq!(saved.await, Ok(1), "the tour is in live_sessions");

    let app = app.restart().await;
    app.post_update(&text_update(2, 741, "en", "/stop")).await;

    let summary = text_to(&app, 741, "🏁").await.unwrap();
    let text = summary["text"].as_str().unwrap();
    assert!(text.starts_with("🏁 Tour finished. Stories: 1 "), "{text}");
    let left = eventually(
        || live_session::Entity::find().count(&db),
        |rows| *rows == Ok(0),
    );
    assert_eq!(left.await, Ok(0), "the ended tour left live_sessions");
    let finished = eventually(|| tour::Entity::find().count(&db), |rows| *rows == Ok(1));
    assert_eq!(finished.await, Ok(1), "the finished tour is recorded");
}

#[actix_web::test]
async fn stop_is_answered_at_once_while_every_llm_call_hangs_and_nothing_follows_it() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_distinct_places("en").await;
    mocks.openai.always(Reply::Hang);
    let app = mocks.spawn(&[("LLM_QUEUE_WAIT_SECS", "60")]).await;
    for user in 0..4 {
        let mut update = live_location(1 + user, 750 + user as i64, "en", 3600);
        update["message"]["location"]["latitude"] = json!(LAT + 0.002 * user as f64);
        app.post_update(&update).await;
    }
    eventually(|| async { app.openai.request_count() }, |n| *n >= 3).await;

    let started = Instant::now();
    app.post_update(&text_update(10, 750, "en", "/stop")).await;
    let summary = text_to(&app, 750, "🏁").await.unwrap();
    let elapsed = started.elapsed();

    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    assert!(summary["text"].as_str().unwrap().contains("Stories: 0"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let venues = app.telegram.calls_to("sendVenue", 750).await;
    assert!(venues.is_empty(), "nothing after the end");
    assert_eq!(app.openai.max_concurrent_requests(), 3);
}

on_both_databases!(reset_forgets_the_distance_walked_on_tours);

async fn reset_forgets_the_distance_walked_on_tours(url: String) {
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    app.post_update(&live_location(1, 761, "en", 3600)).await;
    wait_for_venues(&app, 761, 1).await;
    app.post_update(&live_edit(2, 761, 500.0, Some(3600))).await;
    tokio::time::sleep(Duration::from_millis(1300)).await; // one batch flush
    app.post_update(&text_update(3, 761, "en", "/stop")).await;
    text_to(&app, 761, "🏁").await.unwrap();
    let db = Database::connect(url.as_str()).await.unwrap();
    let finished = eventually(|| tour::Entity::find().count(&db), |rows| *rows == Ok(1));
    assert_eq!(finished.await, Ok(1), "the finished tour is recorded");
    app.post_update(&text_update(4, 761, "en", "/stats")).await;
    let before = text_to(&app, 761, "<b>Your stats</b>").await.unwrap();
    assert!(
        before["text"]
            .as_str()
            .unwrap()
            .ends_with("Distance walked on tours: 0.5 km"),
        "{before}"
    );

    app.post_update(&text_update(5, 761, "en", "/reset")).await;
    text_to(&app, 761, "Forget your settings").await.unwrap();
    app.post_update(&button_update(6, 761, "reset:yes")).await;
    app.telegram.wait_for("editMessageText", 1).await;
    app.post_update(&text_update(7, 761, "en", "/stats")).await;

    let stats = eventually(
        || app.telegram.messages_to(761),
        |messages| {
            messages
                .iter()
                .filter(|m| starts_with(m, "<b>Your stats</b>"))
                .count()
                == 2
        },
    )
    .await;
    let after = stats
        .iter()
        .rfind(|m| starts_with(m, "<b>Your stats</b>"))
        .unwrap();
    assert!(
        after["text"]
            .as_str()
            .unwrap()
            .ends_with("Distance walked on tours: 0.0 km"),
        "{after}"
    );
    assert_eq!(tour::Entity::find().count(&db).await, Ok(0));
}

/// Tours' time compressed 60 times (`TOUR_TIME_SCALE`): a 5-minute interval lasts 5 s, and a
/// tick's story may wait for the LLM 30 s of tour time, half a second.
#[actix_web::test]
async fn a_tick_that_finds_every_llm_permit_taken_tells_the_summary_and_never_goes_quiet() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_distinct_places("en").await;
    mocks.openai.set_latency(Duration::from_secs(4));
    let app = mocks.spawn(&[("TOUR_TIME_SCALE", "60")]).await;
    let walker = 811;
    app.post_update(&live_location(1, walker, "en", 3600)).await;
    app.telegram.wait_for_stories(walker, 1).await;

    let interval_set = Instant::now();
    app.post_update(&button_update(2, walker, "tour:5")).await;
    app.post_update(&live_edit(3, walker, 120.0, Some(3600)))
        .await;
    // Three strangers far away take every permit until after the tick (~5 s from now).
    for (update_id, user, north) in [(4, 812, 0.05), (5, 813, 0.1), (6, 814, 0.15)] {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let location = location_update(update_id, user, "en", LAT + north, LON);
        app.post_update(&location).await;
    }
    let stories = app.telegram.wait_for_stories(walker, 2).await;

    let told_after = interval_set.elapsed();
    assert_eq!(stories.len(), 2, "the tick told a story");
    let second = &stories[1];
    assert!(
        second["title"].as_str().unwrap().starts_with("#2 · "),
        "{second}"
    );
    let text = second["caption"]
        .as_str()
        .or(second["text"].as_str())
        .unwrap();
    assert!(
        text.contains("📖 From Wikipedia:"),
        "the summary, not silence: {text}"
    );
    // The tick at ~5 s and its patience of half a second: before the permits free (~8.5 s)
    // and long before the next tick (~10 s).
    assert!(told_after < Duration::from_secs(7), "{told_after:?}");
}
