//! A user who blocked the bot (Telegram answers 403): remembered in the database even before
//! their row was first written, their tour ended at once and silently, nothing more sent
//! to them until they write again.

use std::time::Duration;

use excursobot::db::entity::live_session;
use sea_orm::{ConnectionTrait, Database, EntityTrait, PaginatorTrait, Statement};

use crate::helpers::{
    Mocks, TestApp, eventually, live_location_update, location_update, mock_telegram::api_error,
    spawn_app_with, text_update,
};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

fn bot_blocked() -> wiremock::ResponseTemplate {
    api_error(403, "Forbidden: bot was blocked by the user")
}

async fn blocked_at_is_set(app: &TestApp, user: i64) -> bool {
    let db = Database::connect(app.vars["DATABASE_URL"].as_str())
        .await
        .unwrap();
    let sql = format!("SELECT COUNT(*) FROM users WHERE id = {user} AND blocked_at IS NOT NULL");
    let statement = Statement::from_string(db.get_database_backend(), sql);
    let row = db.query_one_raw(statement).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap() == 1
}

/// Photos and messages the bot tried to send to `user`, refused ones included.
async fn tries_to(app: &TestApp, user: i64) -> usize {
    app.telegram.calls_to("sendPhoto", user).await.len()
        + app.telegram.calls_to("sendMessage", user).await.len()
}

#[actix_web::test]
async fn a_new_user_who_blocks_the_bot_at_once_stays_marked_blocked() {
    let app = spawn_app_with(&[]).await;
    app.telegram
        .fail_next_to("sendMessage", 3701, bot_blocked(), 1)
        .await;

    app.post_update(&text_update(1, 3701, "en", "/start")).await;

    // The user's row is written behind (within a second); the block must outlive that.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(blocked_at_is_set(&app, 3701).await);
}

#[actix_web::test]
async fn after_a_403_nothing_more_is_sent_until_the_user_writes_again() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.openai.set_latency(Duration::from_millis(1500));
    let app = mocks.spawn(&[]).await;
    app.telegram
        .fail_next_to("sendMessage", 3702, bot_blocked(), 1)
        .await;

    // A story is being written when the user blocks the bot (the reply to /help hits 403).
    app.post_update(&location_update(1, 3702, "en", LAT, LON))
        .await;
    app.post_update(&text_update(2, 3702, "en", "/help")).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(
        tries_to(&app, 3702).await,
        1,
        "the story went to a blocked user"
    );

    app.post_update(&text_update(3, 3702, "en", "/help")).await;
    let delivered = eventually(
        || app.telegram.delivered_to(3702),
        |delivered| !delivered.is_empty(),
    )
    .await;
    assert_eq!(delivered.len(), 1, "writing again unblocks: {delivered:?}");
}

#[actix_web::test]
async fn a_403_on_any_message_ends_the_users_tour_without_a_summary() {
    let app = spawn_app_with(&[]).await;
    let live = live_location_update(1, 3703, LAT, LON, 3600);
    app.post_update(&live).await;
    app.telegram.wait_for_stories(3703, 1).await;
    let db = Database::connect(app.vars["DATABASE_URL"].as_str())
        .await
        .unwrap();
    let tours = || async { live_session::Entity::find().count(&db).await.unwrap() };
    assert_eq!(eventually(tours, |count| *count == 1).await, 1);

    // A one-off location's story (a photo, or a text for a place without one) hits the block.
    for method in ["sendPhoto", "sendMessage"] {
        app.telegram
            .fail_next_to(method, 3703, bot_blocked(), 1)
            .await;
    }
    app.post_update(&location_update(2, 3703, "en", LAT + 0.01, LON))
        .await;

    assert_eq!(
        eventually(tours, |count| *count == 0).await,
        0,
        "the tour goes on"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let summaries = app.telegram.messages_to(3703).await;
    assert!(
        !summaries
            .iter()
            .any(|m| m["text"].as_str().unwrap_or_default().starts_with("🏁")),
        "a summary sent to a blocked user: {summaries:?}"
    );
}
