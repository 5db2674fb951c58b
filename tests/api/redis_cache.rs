//! Real Redis (`TEST_REDIS_URL`): the cache and the update dedup are shared between
//! instances, and a Redis outage mid-test never stops the stories.

use std::time::Duration;

use redis::AsyncCommands;

use crate::helpers::{
    Mocks, TestApp, eventually, location_update, tcp_proxy::TcpProxy, test_redis_url, text_update,
    unique_redis_prefix,
};

const LAT: f64 = 48.137;
const LON: f64 = 11.575;

async fn app_on_redis(url: &str, prefix: &str) -> TestApp {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_distinct_places("en").await;
    mocks
        .spawn(&[("REDIS_URL", url), ("REDIS_KEY_PREFIX", prefix)])
        .await
}

async fn venues_to(app: &TestApp, chat: i64, count: usize) -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let sent = app.telegram.stories_to(chat).await.len();
        if sent >= count || std::time::Instant::now() > deadline {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn keys_under(url: &str, prefix: &str) -> Vec<String> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    conn.keys(format!("{prefix}*")).await.unwrap()
}

#[actix_web::test]
async fn a_story_cached_in_redis_serves_another_instance_without_an_llm_call() {
    let Some(url) = test_redis_url("a_story_cached_in_redis_serves_another_instance") else {
        return;
    };
    let prefix = unique_redis_prefix();
    let first = app_on_redis(&url, &prefix).await;
    first
        .post_update(&location_update(1, 1101, "en", LAT, LON))
        .await;
    assert_eq!(venues_to(&first, 1101, 1).await, 1);

    let second = app_on_redis(&url, &prefix).await;
    second
        .post_update(&location_update(2, 1102, "en", LAT, LON))
        .await;

    assert_eq!(venues_to(&second, 1102, 1).await, 1);
    assert_eq!(first.openai.request_count(), 1);
    assert_eq!(
        second.openai.request_count(),
        0,
        "the story came from Redis"
    );
    assert!(
        second.wikipedia.requests().await.is_empty(),
        "the place list came from Redis"
    );
    let keys = keys_under(&url, &prefix).await;
    assert!(
        keys.iter().any(|key| key.contains("fact:v1:en:en:")),
        "{keys:?}"
    );
}

#[actix_web::test]
async fn redis_stopping_mid_test_keeps_stories_flowing_and_redis_is_used_again_when_back() {
    let Some(url) = test_redis_url("redis_stopping_mid_test_keeps_stories_flowing") else {
        return;
    };
    let proxy = TcpProxy::start(&url).await;
    let prefix = unique_redis_prefix();
    let app = app_on_redis(&proxy.url, &prefix).await;
    app.post_update(&location_update(1, 1201, "en", LAT, LON))
        .await;
    assert_eq!(venues_to(&app, 1201, 1).await, 1);
    // The story and its place list reach Redis in the background, a moment after the story
    // went out: count the keys once both are there.
    let keys_before = eventually(
        || keys_under(&url, &prefix),
        |keys| {
            keys.iter().any(|key| key.contains("fact:v1:"))
                && keys.iter().any(|key| key.contains("places:v1:"))
        },
    )
    .await
    .len();

    proxy.cut();
    app.post_update(&location_update(2, 1202, "en", LAT + 0.01, LON))
        .await;
    assert_eq!(
        venues_to(&app, 1202, 1).await,
        1,
        "a story while Redis is down"
    );
    app.post_update(&location_update(3, 1203, "en", LAT, LON))
        .await;
    assert_eq!(venues_to(&app, 1203, 1).await, 1, "L1 still answers");
    assert_eq!(
        keys_under(&url, &prefix).await.len(),
        keys_before,
        "nothing reached Redis"
    );

    proxy.restore();
    tokio::time::sleep(Duration::from_millis(2500)).await; // the store's back-off after errors
    app.post_update(&location_update(4, 1204, "en", LAT + 0.02, LON))
        .await;
    assert_eq!(venues_to(&app, 1204, 1).await, 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while keys_under(&url, &prefix).await.len() <= keys_before
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        keys_under(&url, &prefix).await.len() > keys_before,
        "Redis is used again"
    );
}

#[actix_web::test]
async fn a_redelivered_update_is_handled_once_across_instances() {
    let Some(url) = test_redis_url("a_redelivered_update_is_handled_once_across_instances") else {
        return;
    };
    let prefix = unique_redis_prefix();
    let first = app_on_redis(&url, &prefix).await;
    let second = app_on_redis(&url, &prefix).await;
    let update = text_update(777, 1301, "en", "/help");

    assert_eq!(first.post_update(&update).await.status(), 200);
    assert_eq!(second.post_update(&update).await.status(), 200);

    first.telegram.wait_for_messages_to(1301, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let replies = first.telegram.messages_to(1301).await.len()
        + second.telegram.messages_to(1301).await.len();
    assert_eq!(replies, 1);
}
