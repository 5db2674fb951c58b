//! Shutdown: new updates get 503 + Retry-After, the reply in flight is still delivered; and
//! when the HTTP server or the polling task ends first, the same order runs.

use std::time::Duration;

use excursobot::db::entity::user;
use sea_orm::{Database, EntityTrait, PaginatorTrait};
use serde_json::json;

use crate::helpers::mock_telegram::{ok, sent_message};
use crate::helpers::{
    Mocks, Reply, TestApp, eventually, fresh_postgres_url, fresh_sqlite_url, location_update,
    spawn_app, spawn_app_on, spawn_app_with, tcp_proxy::TcpProxy, text_update,
};
use crate::journal;

#[actix_web::test]
async fn shutdown_refuses_new_updates_and_still_delivers_the_reply_in_flight() {
    let mut app = spawn_app().await;
    let slow = ok(sent_message()).set_delay(Duration::from_millis(800));
    app.telegram.answer_next("sendMessage", slow, 1).await;
    assert_eq!(
        app.post_update(&text_update(1, 801, "en", "/start"))
            .await
            .status(),
        200
    );
    app.telegram.wait_for_messages_to(801, 1).await;

    app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = app.post_update(&text_update(2, 802, "en", "/start")).await;
    let ready = app.get("/readyz").await;

    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(ready.status(), 503);
    app.stopped().await.unwrap();
    assert_eq!(app.telegram.messages_to(801).await.len(), 1);
    assert!(app.telegram.messages_to(802).await.is_empty());
}

/// What a shutdown must have done with a location whose story was still being written (the
/// LLM hangs), and a `/start` whose user's row was still in the write buffer: the location is
/// kept in the journal for the next start, and the buffered row is written.
async fn in_flight_work_is_kept_and_buffers_are_flushed(app: &TestApp, url: &str) {
    assert!(
        app.telegram.stories_to(812).await.is_empty(),
        "still being written"
    );
    let left = journal::entries(url).await;
    assert_eq!(
        left.iter().map(|entry| entry.update_id).collect::<Vec<_>>(),
        [2],
        "the location waits in the journal for the next start"
    );
    let db = journal::connect(url).await;
    let users = user::Entity::find().count(&db).await.unwrap();
    assert_eq!(users, 2, "both users' rows were written");
}

/// The `/start` (its user's row buffered) and the location whose story hangs; returns once
/// the LLM call is in flight.
async fn work_in_flight(app: &TestApp, post: bool) {
    if post {
        app.post_update(&text_update(1, 811, "en", "/start")).await;
        app.post_update(&location_update(2, 812, "en", 55.7558, 37.6173))
            .await;
    }
    app.telegram.wait_for_messages_to(811, 1).await;
    let calls = eventually(|| async { app.openai.request_count() }, |n| *n >= 1).await;
    assert_eq!(calls, 1, "the story's LLM call never came");
}

#[actix_web::test]
async fn when_the_http_server_ends_first_shutdown_still_runs_in_order_and_exits_non_zero() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.openai.then([Reply::Hang]);
    let url = fresh_sqlite_url();
    let vars = [
        ("DATABASE_URL", url.as_str()),
        ("SHUTDOWN_GRACE_SECS", "1"),
        // No summary instead of the story, however slow the machine.
        ("LLM_QUEUE_WAIT_SECS", "120"),
    ];
    let mut app = spawn_app_on(mocks, &vars).await;
    work_in_flight(&app, true).await;

    app.crash.end_http_server().await;
    let stopped = app.stopped().await;

    let error = stopped
        .expect_err("a server that stopped by itself is a failure")
        .to_string();
    assert!(
        error.contains("the HTTP server stopped by itself"),
        "{error}"
    );
    in_flight_work_is_kept_and_buffers_are_flushed(&app, &url).await;
}

#[actix_web::test]
async fn when_the_polling_task_panics_shutdown_still_runs_in_order_and_exits_non_zero() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.openai.then([Reply::Hang]);
    let batch = json!([
        text_update(1, 811, "en", "/start"),
        location_update(2, 812, "en", 55.7558, 37.6173),
    ]);
    mocks.telegram.answer_next("getUpdates", ok(batch), 1).await;
    let url = fresh_sqlite_url();
    let vars = [
        ("WEBHOOK_URL", ""),
        ("DATABASE_URL", url.as_str()),
        ("SHUTDOWN_GRACE_SECS", "1"),
        ("LLM_QUEUE_WAIT_SECS", "120"),
    ];
    let mut app = spawn_app_on(mocks, &vars).await;
    work_in_flight(&app, false).await;

    app.crash.panic_polling();
    let stopped = app.stopped().await;

    let error = stopped
        .expect_err("polling that died is a failure")
        .to_string();
    assert!(error.contains("long polling stopped"), "{error}");
    in_flight_work_is_kept_and_buffers_are_flushed(&app, &url).await;
}

/// Rows the database actor's periodic write had taken out of its buffer when shutdown came
/// are written before the pool closes. Before, the shutdown's flush found the buffer empty,
/// answered, and the actors' thread was stopped under the write still running: the rows were
/// lost (here the `/start` user's row).
#[actix_web::test]
async fn a_periodic_write_in_flight_at_shutdown_is_finished_not_dropped() {
    let Some(url) = fresh_postgres_url("a_periodic_write_in_flight_at_shutdown").await else {
        return;
    };
    let proxy = TcpProxy::start(&url).await;
    let mut app = spawn_app_with(&[("DATABASE_URL", &proxy.url)]).await;
    app.post_update(&text_update(1, 821, "en", "/start")).await;
    app.telegram.wait_for_messages_to(821, 1).await;
    // From now on every answer of the database takes 2 s: the periodic write of the buffered
    // row (one starts every second) waits 2 s for its connection check before it inserts, so
    // 1.2 s from now one is still waiting, whenever it started.
    proxy.set_latency(Duration::from_secs(2));
    tokio::time::sleep(Duration::from_millis(1200)).await;

    app.begin_shutdown();
    app.stopped().await.unwrap();

    let direct = Database::connect(url.as_str()).await.unwrap();
    let users = user::Entity::find().count(&direct).await.unwrap();
    assert_eq!(
        users, 1,
        "the user's row was written before the pool closed"
    );
}
