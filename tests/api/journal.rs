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

#[actix_web::test]
async fn in_polling_mode_a_location_is_journaled_before_the_next_poll_confirms_it() {
    let mocks = mocks_with_a_hanging_first_llm_call().await;
    let batch = serde_json::json!([location_update(41, 9106, "en", 55.7558, 37.6173)]);
    mocks
        .telegram
        .answer_next("getUpdates", crate::helpers::mock_telegram::ok(batch), 1)
        .await;
    let url = crate::helpers::fresh_sqlite_url();
    let app = spawn_app_on(mocks, &[("WEBHOOK_URL", ""), ("DATABASE_URL", &url)]).await;

    let polls = app.telegram.wait_for("getUpdates", 2).await;
    let journaled = entries(&url).await;

    assert_eq!(
        polls[1]["offset"], 42,
        "the next poll confirms the location"
    );
    assert_eq!(journaled.len(), 1, "journaled while its story is written");
    assert_eq!(journaled[0].update_id, 41);
}

/// A fresh PostgreSQL database with the schema, and the bot's pool over it (`None`: skipped).
async fn migrated_postgres(test: &str) -> Option<(String, DatabaseConnection)> {
    let url = crate::helpers::fresh_postgres_url(test).await?;
    let db = excursobot::db::connect(&url, 8).await.unwrap();
    excursobot::db::migrate(&db).await.unwrap();
    Some((url, db))
}

#[actix_web::test]
async fn on_postgres_entries_another_instance_is_claiming_are_skipped_not_waited_for() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let Some((url, db)) = migrated_postgres("journal_skip_locked").await else {
        return;
    };
    for id in 1..=5 {
        let update = location_update(id, 9107, "en", 55.7558, 37.6173);
        left_behind(&url, &update, Duration::from_secs(30)).await;
    }
    let other = db.begin().await.unwrap();
    other
        .execute_unprepared("SELECT update_id FROM journal WHERE update_id <= 3 FOR UPDATE")
        .await
        .unwrap();

    let claim = excursobot::db::journal::store::claim(&db, excursobot::db::now_ms(), 100);
    let claimed = tokio::time::timeout(Duration::from_secs(3), claim)
        .await
        .expect("the claim does not wait for the other instance's locks")
        .unwrap();
    other.rollback().await.unwrap();

    let ids: Vec<i64> = claimed.iter().map(|row| row.update_id).collect();
    assert_eq!(ids, [4, 5]);
    assert!(claimed.iter().all(|row| row.attempts == 1));
}

#[actix_web::test]
async fn on_postgres_concurrent_writers_commit_every_entry_and_close_waits_for_their_removals() {
    use excursobot::db::{
        journal::{Journal, NewEntry, Written},
        reachability::Reachability,
    };
    let Some((url, db)) = migrated_postgres("journal_writers").await else {
        return;
    };
    let journal = Journal::start(db.clone(), Reachability::new(db.clone()));
    let entry = |update_id| NewEntry {
        update_id,
        body: "{}".into(),
        received_at: excursobot::db::now_ms(),
    };

    let written = futures::future::join_all((1..=300).map(|id| journal.write(entry(id)))).await;
    let tickets: Vec<_> = written
        .into_iter()
        .filter_map(|written| match written.unwrap() {
            Written::New(ticket) => Some(ticket),
            Written::Existing => None,
        })
        .collect();
    let journaled = entries(&url).await.len();
    drop(tickets);
    journal.close().await;

    assert_eq!(journaled, 300);
    assert!(
        entries(&url).await.is_empty(),
        "every removal committed before close returned"
    );
}
