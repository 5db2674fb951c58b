//! Supervisors that really restart (issue 14): each actor made to panic in each place a
//! handler's code runs serves the next request behind the same address; a tour's story and
//! the gate's call in flight survive a panic; a restart of the database actor loses no row.
//! `/readyz` and giving up are in [`readiness`], the fault-suite case in [`fault_suite`].

mod fault_suite;
mod readiness;

use std::time::{Duration, Instant};

use excursobot::{actors::supervision::crash::Crash, db::entity::fact_delivery};
use sea_orm::{ColumnTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{
    Mocks, TestApp, fresh_postgres_url, location_update, tcp_proxy::TcpProxy, text_update,
};

/// Every way an actor can be made to panic.
const KINDS: [Crash; 4] = [
    Crash::InHandler,
    Crash::InReturnedFuture,
    Crash::InActorFuture,
    Crash::InSpawnedFuture,
];
/// The names the actors are supervised under.
const ACTORS: [&str; 5] = ["db", "cache", "gate", "tours", "guide"];
const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

/// An app whose Wikipedia has places of their own in every ~110 m cell, so a location in a
/// new cell is a new place (a cache miss, an LLM call).
async fn app_with(overrides: &[(&str, &str)]) -> TestApp {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_distinct_places("en").await;
    mocks.spawn(overrides).await
}

/// A one-off location in cell `n` (1.1 km apart).
fn location_in_cell(update_id: u64, user: i64, n: u32) -> Value {
    location_update(update_id, user, "en", LAT + 0.01 * f64::from(n), LON)
}

/// A live location shared for an hour.
fn live_location(update_id: u64, user: i64) -> Value {
    let mut update = location_update(update_id, user, "en", LAT, LON);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    update["message"]["date"] = json!(now);
    update["message"]["location"]["live_period"] = json!(3600);
    update
}

/// Panics `actor` as `kind` says; the answer is lost unless the panic came after it.
async fn crash(app: &TestApp, actor: &str, kind: Crash) {
    let answered = app.crash.crash(actor, kind).await;
    assert_eq!(
        answered.is_ok(),
        kind == Crash::InSpawnedFuture,
        "{actor} {kind:?}: {answered:?}"
    );
}

/// `/readyz`: its status and JSON body.
async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app.get("/readyz").await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Waits (up to 15 s) until `/readyz` satisfies `done`; returns the last answer.
async fn readiness_until(app: &TestApp, done: impl Fn(u16, &Value) -> bool) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = readiness(app).await;
        if done(status, &body) || Instant::now() > deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The one story `chat` got, which the LLM wrote (not the place's own summary).
async fn llm_story(app: &TestApp, chat: i64) -> Value {
    let stories = app.telegram.wait_for_stories(chat, 1).await;
    assert_eq!(stories.len(), 1, "chat {chat}: {stories:?}");
    let story = stories[0].clone();
    let text = story["caption"]
        .as_str()
        .or(story["text"].as_str())
        .unwrap();
    assert!(text.contains("A story about"), "chat {chat}: {text}");
    story
}

/// Rows in `fact_deliveries` for `user` (the app's database).
async fn delivery_rows(app: &TestApp, user: i64) -> u64 {
    let db = Database::connect(app.vars["DATABASE_URL"].as_str())
        .await
        .unwrap();
    fact_delivery::Entity::find()
        .filter(fact_delivery::Column::UserId.eq(user))
        .count(&db)
        .await
        .unwrap()
}

/// After four panics of `actor` (one of each kind), `/readyz` is 200 and says so: `actor`
/// restarted four times, every other actor never.
async fn assert_restarted_four_times(app: &TestApp, actor: &str) {
    let (status, body) = readiness_until(app, |_, body| {
        body["actors"][actor]["restarts"] == 4 && body["ready"] == true
    })
    .await;
    assert_eq!(status, 200, "{body}");
    for name in ACTORS {
        let expected = if name == actor { 4 } else { 0 };
        assert_eq!(body["actors"][name]["state"], "running", "{body}");
        assert_eq!(body["actors"][name]["restarts"], expected, "{name}: {body}");
    }
}

#[actix_web::test]
async fn the_gate_writes_the_next_story_after_each_kind_of_panic() {
    let app = app_with(&[]).await;
    for (n, kind) in (1u32..).zip(KINDS) {
        crash(&app, "gate", kind).await;
        let user = 14_100 + i64::from(n);
        app.post_update(&location_in_cell(u64::from(n), user, n))
            .await;
        llm_story(&app, user).await;
    }
    assert_restarted_four_times(&app, "gate").await;
}

#[actix_web::test]
async fn the_cache_answers_the_next_read_after_each_kind_of_panic() {
    let app = app_with(&[]).await;
    for (n, kind) in (1u32..).zip(KINDS) {
        let (first, second) = (14_200 + 2 * i64::from(n), 14_201 + 2 * i64::from(n));
        app.post_update(&location_in_cell(u64::from(2 * n), first, n))
            .await;
        llm_story(&app, first).await;
        let calls = app.openai.request_count();

        crash(&app, "cache", kind).await;
        app.post_update(&location_in_cell(u64::from(2 * n + 1), second, n))
            .await;

        llm_story(&app, second).await;
        assert_eq!(
            app.openai.request_count(),
            calls,
            "the story came from the cache"
        );
    }
    assert_restarted_four_times(&app, "cache").await;
}

#[actix_web::test]
async fn the_database_actor_records_the_next_delivery_after_each_kind_of_panic() {
    let app = app_with(&[]).await;
    for (n, kind) in (1u32..).zip(KINDS) {
        crash(&app, "db", kind).await;
        let user = 14_300 + i64::from(n);
        app.post_update(&location_in_cell(u64::from(n), user, n))
            .await;
        llm_story(&app, user).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while delivery_rows(&app, user).await == 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(delivery_rows(&app, user).await, 1, "{kind:?}");
    }
    assert_restarted_four_times(&app, "db").await;
}

#[actix_web::test]
async fn tours_go_on_and_start_after_each_kind_of_panic_of_the_tours_actor() {
    let app = app_with(&[]).await;
    let walker = 14_400;
    app.post_update(&live_location(1, walker)).await;
    app.telegram.wait_for_stories(walker, 1).await;
    for (n, kind) in (1u32..).zip(KINDS) {
        crash(&app, "tours", kind).await;
        let newcomer = walker + i64::from(n);
        app.post_update(&live_location(u64::from(10 + n), newcomer))
            .await;
        let stories = app.telegram.wait_for_stories(newcomer, 1).await;
        assert_eq!(stories.len(), 1, "{kind:?}: {stories:?}");
        assert!(stories[0]["title"].as_str().unwrap().starts_with("#1 · "));
    }
    assert_restarted_four_times(&app, "tours").await;

    // The first walker's tour was read back from the store after each restart.
    stop_finds_one_story(&app, 99, walker).await;
}

#[actix_web::test]
async fn the_guide_tells_the_next_tour_story_after_each_kind_of_panic() {
    let app = app_with(&[]).await;
    for (n, kind) in (1u32..).zip(KINDS) {
        crash(&app, "guide", kind).await;
        let walker = 14_500 + i64::from(n);
        app.post_update(&live_location(u64::from(n), walker)).await;
        let stories = app.telegram.wait_for_stories(walker, 1).await;
        assert_eq!(stories.len(), 1, "{kind:?}: {stories:?}");
        app.post_update(&text_update(u64::from(100 + n), walker, "en", "/stop"))
            .await;
        assert!(app.telegram.wait_for_text_to(walker, "🏁").await.is_some());
    }
    assert_restarted_four_times(&app, "guide").await;
}

#[actix_web::test]
async fn a_tour_story_being_written_when_the_tours_actor_panics_still_arrives_and_counts() {
    let app = app_with(&[]).await;
    app.openai.set_latency(Duration::from_millis(1500));
    let walker = 14_450;
    app.post_update(&live_location(1, walker)).await;
    wait_for_llm_calls(&app, 1).await;

    crash(&app, "tours", Crash::InHandler).await;

    let stories = app.telegram.wait_for_stories(walker, 1).await;
    assert_eq!(stories.len(), 1, "{stories:?}");
    assert!(stories[0]["title"].as_str().unwrap().starts_with("#1 · "));
    stop_finds_one_story(&app, 2, walker).await;
}

#[actix_web::test]
async fn a_gate_panic_answers_its_queue_with_summaries_and_keeps_the_call_in_flight() {
    let app = app_with(&[("LLM_PERMITS", "1")]).await;
    app.openai.set_latency(Duration::from_millis(2000));
    let (writing, queued) = (14_460, 14_461);
    app.post_update(&location_in_cell(1, writing, 1)).await;
    wait_for_llm_calls(&app, 1).await;
    app.post_update(&location_in_cell(2, queued, 2)).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // in the gate's queue

    let panicked = Instant::now();
    crash(&app, "gate", Crash::InHandler).await;

    let summary = &app.telegram.wait_for_stories(queued, 1).await[0];
    let text = summary["caption"]
        .as_str()
        .or(summary["text"].as_str())
        .unwrap();
    assert!(
        !text.contains("A story about"),
        "the place's own summary: {text}"
    );
    assert!(
        panicked.elapsed() < Duration::from_millis(1500),
        "{:?}",
        panicked.elapsed()
    );
    llm_story(&app, writing).await;
    assert_eq!(
        app.openai.request_count(),
        1,
        "the call in flight was not made again"
    );
}

/// `/stop` from `walker` gets the summary of a tour that told one story.
async fn stop_finds_one_story(app: &TestApp, update_id: u64, walker: i64) {
    app.post_update(&text_update(update_id, walker, "en", "/stop"))
        .await;
    let summary = app.telegram.wait_for_text_to(walker, "🏁").await.unwrap();
    let text = summary["text"].as_str().unwrap();
    assert!(text.starts_with("🏁 Tour finished. Stories: 1 "), "{text}");
}

async fn wait_for_llm_calls(app: &TestApp, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.openai.request_count() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(app.openai.request_count() >= count);
}

#[actix_web::test]
async fn a_restart_of_the_database_actor_loses_no_row_being_written_and_writes_none_twice() {
    let test = "a_restart_of_the_database_actor_loses_no_row";
    let Some(url) = private_postgres_url(test).await else {
        return;
    };
    // Every answer of the database is slow, so a write of the buffer (a statement per table)
    // takes a while and some of the panics below come while one is in flight.
    let proxy = TcpProxy::start_with_latency(&url, Duration::from_millis(300)).await;
    let app = app_with(&[("DATABASE_URL", &proxy.url)]).await;
    let switch = app.crash.clone();
    let crasher = tokio::spawn(async move {
        for kind in KINDS.into_iter().cycle().take(40) {
            let _ = switch.crash("db", kind).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let users: Vec<i64> = (14_701..14_709).collect();
    for (n, &user) in (1..).zip(&users) {
        app.post_update(&location_in_cell(u64::from(n), user, n))
            .await;
    }
    for &user in &users {
        assert_eq!(app.telegram.wait_for_stories(user, 1).await.len(), 1);
    }
    crasher.await.unwrap();

    let db = Database::connect(url.as_str()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let written = || fact_delivery::Entity::find().count(&db);
    while written().await.unwrap() < users.len() as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // any second write would be in
    assert_eq!(written().await.unwrap(), users.len() as u64);
    drop(app);
    drop_private_database(&url).await;
}

/// A fresh PostgreSQL database named outside `fresh_postgres_url`'s pattern, which other test
/// processes on the same server drop as left over (this test runs ~30 s), or `None`.
async fn private_postgres_url(test: &str) -> Option<String> {
    use sea_orm::ConnectionTrait;
    let url = fresh_postgres_url(test).await?;
    let mut private = url::Url::parse(&url).unwrap();
    let name = private
        .path()
        .trim_start_matches('/')
        .replace("excursobot_test_", "excursobot_sup_");
    private.set_path(&name);
    let mut admin = private.clone();
    admin.set_path("/postgres");
    let admin = Database::connect(admin.as_str()).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    Some(private.to_string())
}

async fn drop_private_database(url: &str) {
    use sea_orm::ConnectionTrait;
    let mut admin = url::Url::parse(url).unwrap();
    let name = admin.path().trim_start_matches('/').to_owned();
    admin.set_path("/postgres");
    let admin = Database::connect(admin.as_str()).await.unwrap();
    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    let _ = admin.execute_unprepared(&drop).await;
}

/// A journaled story's delivery row is written at once, while the update waits in the
/// journal. A restart of the database actor in the middle of that write used to drop it (the
/// write was a future on the actor's context, which a restart clears): the place went
/// unrecorded, and after a crash it could be told again. Now the write is a task of its own.
#[actix_web::test]
async fn a_restart_of_the_database_actor_during_a_journaled_delivery_write_loses_no_row() {
    let test = "a_restart_during_a_journaled_delivery_write";
    let Some(url) = private_postgres_url(test).await else {
        return;
    };
    // Migrated first, directly: through the slow proxy it would take half a minute.
    let direct = Database::connect(url.as_str()).await.unwrap();
    <migration::Migrator as migration::MigratorTrait>::up(&direct, None)
        .await
        .unwrap();
    // Each answer of the database takes 300 ms: the row's write (a connection check, then the
    // insert) is in flight for at least 600 ms after the story reaches Telegram.
    let proxy = TcpProxy::start_with_latency(&url, Duration::from_millis(300)).await;
    let app = app_with(&[("DATABASE_URL", &proxy.url)]).await;
    app.post_update(&location_in_cell(1, 14_751, 1)).await;
    assert_eq!(app.telegram.wait_for_stories(14_751, 1).await.len(), 1);
    crash(&app, "db", Crash::InActorFuture).await;

    let rows = || {
        fact_delivery::Entity::find()
            .filter(fact_delivery::Column::UserId.eq(14_751))
            .count(&direct)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while rows().await.unwrap() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // any second write would be in
    assert_eq!(rows().await.unwrap(), 1, "the story's row, once");
    drop(app);
    drop_private_database(&url).await;
}
