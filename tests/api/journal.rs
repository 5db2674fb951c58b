//! The journal: an acknowledged update is written down before its 200 and removed once its
//! reply was sent; what a stop, a crash or a kill interrupted is handled at the next start
//! (an old entry gets an apology), exactly once, and no place is told twice.

mod killed;
mod payment;

use std::time::Duration;

use excursobot::db::entity::{fact_delivery, journal_entry};
use sea_orm::{ActiveValue::Set, Database, DatabaseConnection, EntityTrait, PaginatorTrait};
use serde_json::Value;

use crate::helpers::{
    MockOpenAi, Mocks, Reply, eventually, location_update, on_both_databases, spawn_app_on,
    test_redis_url,
};

on_both_databases!(a_location_is_journaled_before_its_200_and_removed_once_its_story_is_on_record);
on_both_databases!(sigterm_during_an_llm_call_is_answered_once_after_the_restart);
on_both_databases!(entries_left_by_a_crash_are_handled_and_old_ones_get_an_apology);

pub async fn connect(url: &str) -> DatabaseConnection {
    Database::connect(url).await.unwrap()
}

pub async fn entries(url: &str) -> Vec<journal_entry::Model> {
    journal_entry::Entity::find()
        .all(&connect(url).await)
        .await
        .unwrap()
}

pub async fn deliveries(url: &str) -> u64 {
    fact_delivery::Entity::find()
        .count(&connect(url).await)
        .await
        .unwrap()
}

/// Mocks whose LLM hangs on its first call (and answers at once after that).
async fn mocks_with_a_hanging_first_llm_call() -> Mocks {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.wikipedia.serve_places("ru").await;
    mocks.openai.then([Reply::Hang]);
    mocks
}

/// Waits for the first LLM call to arrive.
async fn llm_called(openai: &MockOpenAi) {
    let calls = eventually(|| async { openai.request_count() }, |n| *n >= 1).await;
    assert_eq!(calls, 1, "the story's LLM call never came");
}

async fn a_location_is_journaled_before_its_200_and_removed_once_its_story_is_on_record(
    url: String,
) {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.openai.set_latency(Duration::from_millis(1500));
    let app = spawn_app_on(mocks, &[("DATABASE_URL", &url)]).await;

    let answer = app
        .post_update(&location_update(1, 9101, "en", 55.7558, 37.6173))
        .await;
    let at_the_200 = entries(&url).await;

    assert_eq!(answer.status(), 200);
    assert_eq!(at_the_200.len(), 1, "journaled before the 200");
    assert_eq!(at_the_200[0].update_id, 1);
    let body: Value = serde_json::from_str(&at_the_200[0].body).unwrap();
    assert_eq!(body["message"]["location"]["latitude"], 55.7558);
    app.telegram.wait_for_stories(9101, 1).await;
    let left = eventually(|| entries(&url), Vec::is_empty).await;
    assert!(left.is_empty(), "{left:?}");
    // The entry went only after the told place was on record.
    assert_eq!(deliveries(&url).await, 1);
}

async fn sigterm_during_an_llm_call_is_answered_once_after_the_restart(url: String) {
    let mocks = mocks_with_a_hanging_first_llm_call().await;
    let vars = [("DATABASE_URL", url.as_str()), ("SHUTDOWN_GRACE_SECS", "1")];
    let app = spawn_app_on(mocks, &vars).await;
    let location = location_update(1, 9102, "en", 55.7558, 37.6173);
    assert_eq!(app.post_update(&location).await.status(), 200);
    llm_called(&app.openai).await;

    let app = app.restart().await;

    let stories = app.telegram.wait_for_stories(9102, 1).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let stories_now = app.telegram.stories_to(9102).await;
    assert_eq!(stories.len(), 1, "answered after the restart");
    assert_eq!(stories_now.len(), 1, "answered once: {stories_now:?}");
    assert_eq!(deliveries(&url).await, 1, "the place is on record once");
    let left = eventually(|| entries(&url), Vec::is_empty).await;
    assert!(left.is_empty(), "{left:?}");
}

#[actix_web::test]
async fn a_redelivery_after_a_crash_is_answered_not_dropped_as_a_duplicate() {
    if test_redis_url("a_redelivery_after_a_crash_is_answered").is_none() {
        return;
    }
    let mocks = mocks_with_a_hanging_first_llm_call().await;
    let app = spawn_app_on(mocks, &[("SHUTDOWN_GRACE_SECS", "1")]).await;
    let location = location_update(1, 9103, "en", 55.7558, 37.6173);
    assert_eq!(app.post_update(&location).await.status(), 200);
    llm_called(&app.openai).await;

    // The first instance is gone without its answer; Telegram delivers the update again to
    // the next one (Redis remembers the update id).
    let app = app.restart().await;
    assert_eq!(app.post_update(&location).await.status(), 200);

    app.telegram.wait_for_stories(9103, 1).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(app.telegram.stories_to(9103).await.len(), 1);
}

/// Writes an entry as an earlier run would have left it, `age` ago.
async fn left_behind(url: &str, update: &Value, age: Duration) {
    let received_at = excursobot::db::now_ms() - i64::try_from(age.as_millis()).unwrap();
    let row = journal_entry::ActiveModel {
        update_id: Set(update["update_id"].as_i64().unwrap()),
        body: Set(update.to_string()),
        received_at: Set(received_at),
        attempts: Set(0),
        claimed_at: Set(None),
    };
    journal_entry::Entity::insert(row)
        .exec_without_returning(&connect(url).await)
        .await
        .unwrap();
}

async fn entries_left_by_a_crash_are_handled_and_old_ones_get_an_apology(url: String) {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.wikipedia.serve_places("ru").await;
    let app = spawn_app_on(mocks, &[("DATABASE_URL", &url)]).await;
    let young = location_update(11, 9104, "en", 55.7558, 37.6173);
    let old = location_update(12, 9105, "ru", 55.7558, 37.6173);
    left_behind(&url, &young, Duration::from_secs(60)).await;
    left_behind(&url, &old, Duration::from_secs(11 * 60)).await;

    let app = app.restart().await;

    assert_eq!(app.telegram.wait_for_stories(9104, 1).await.len(), 1);
    let apology = app
        .telegram
        .wait_for_text_to(9105, "Простите, я перезапускался")
        .await;
    assert!(
        apology.is_some(),
        "{:?}",
        app.telegram.messages_to(9105).await
    );
    assert!(app.telegram.stories_to(9105).await.is_empty());
    let left = eventually(|| entries(&url), Vec::is_empty).await;
    assert!(left.is_empty(), "{left:?}");
}
