//! The fault suite: the real app against the mocks, real Redis and PostgreSQL behind cuttable
//! proxies, while something it depends on fails. Every case ends with one checker
//! ([`run::FaultRun::check`]): every location the webhook acknowledged got exactly one answer (a
//! story, or a note in the user's language), no place was told twice to a user, and no
//! delivery row was written twice (nor lost).

mod run;

use std::time::Duration;

use excursobot::i18n::Lang;

use crate::helpers::{
    Mocks, Reply, eventually, fresh_postgres_url, fresh_sqlite_url, live_location_update,
    location_update, mock_telegram::api_error, tcp_proxy::TcpProxy, test_redis_url,
};
use run::{Asked, FaultRun, LAT, LON, mocks, spot_of};

#[actix_web::test]
async fn redis_stopped_mid_run_and_started_again() {
    let Some(redis) = test_redis_url("redis_stopped_mid_run_and_started_again") else {
        return;
    };
    let proxy = TcpProxy::start(&redis).await;
    let mut run = FaultRun::start(
        mocks().await,
        fresh_sqlite_url(),
        &[("REDIS_URL", &proxy.url)],
    )
    .await;
    let users = [101, 102, 103, 104];

    run.around_a_cut(&proxy, &users).await;
}

#[actix_web::test]
async fn the_database_unreachable_and_back() {
    let Some(url) = fresh_postgres_url("the_database_unreachable_and_back").await else {
        return;
    };
    let proxy = TcpProxy::start(&url).await;
    let mut run = FaultRun::start(mocks().await, proxy.url.clone(), &[]).await;
    run.database_url = url;
    let users = [201, 202, 203, 204];

    run.around_a_cut(&proxy, &users).await;
}

#[actix_web::test]
async fn a_tour_ended_while_the_database_is_down_does_not_come_back_after_a_restart() {
    let Some(url) = fresh_postgres_url("a_tour_ended_while_the_database_is_down").await else {
        return;
    };
    let proxy = TcpProxy::start(&url).await;
    let run = FaultRun::start(mocks().await, proxy.url.clone(), &[]).await;
    let run = FaultRun {
        database_url: url,
        ..run
    };
    let tours = "SELECT COUNT(*) FROM live_sessions";
    run.app
        .post_update(&live_location_update(1, 251, LAT, LON, 3600))
        .await;
    run.app.telegram.wait_for_stories(251, 1).await;
    assert_eq!(
        eventually(|| run.count(tours), |count| *count == 1).await,
        1
    );

    proxy.cut();
    run.app
        .post_update(&crate::helpers::text_update(2, 251, "en", "/stop"))
        .await;
    run.app.telegram.wait_for_text_to(251, "🏁").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.restore();

    assert_eq!(
        eventually(|| run.count(tours), |count| *count == 0).await,
        0
    );
    let finished = "SELECT COUNT(*) FROM tours";
    let recorded = eventually(|| run.count(finished), |count| *count >= 1).await;
    assert_eq!(recorded, 1, "the finished tour's row");
    let app = run.app.restart().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let summaries = app.telegram.messages_to(251).await;
    let ended = summaries
        .iter()
        .filter(|m| m["text"].as_str().unwrap_or_default().starts_with("🏁"))
        .count();
    assert_eq!(ended, 1, "the ended tour came back and ended again");
    app.post_update(&crate::helpers::text_update(3, 251, "en", "/stop"))
        .await;
    let no_tour = Lang::En.texts().no_tour;
    assert!(
        app.telegram.wait_for_text_to(251, no_tour).await.is_some(),
        "a tour was restored"
    );
}

#[actix_web::test]
async fn the_llm_answers_429_then_500_then_hangs() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_distinct_places("en").await;
    mocks.wikipedia.serve_distinct_places("ru").await;
    mocks.openai.then([
        Reply::RateLimited {
            retry_after_secs: Some(1),
        },
        Reply::ServerError,
        Reply::Hang,
        Reply::ServerError,
        Reply::Hang,
    ]);
    let overrides = [("LLM_TIMEOUT_SECS", "2"), ("LLM_QUEUE_WAIT_SECS", "2")];
    let mut run = FaultRun::start(mocks, fresh_sqlite_url(), &overrides).await;
    let users = [301, 302, 303, 304];

    for user in users {
        run.round(&[user]).await;
    }
    run.round(&users).await;

    run.check().await;
}

#[actix_web::test]
async fn telegram_answers_429_403_and_500() {
    let mocks = mocks().await;
    let telegram = &mocks.telegram;
    telegram
        .fail_next_to(
            "sendPhoto",
            401,
            api_error(429, "Too Many Requests: retry after 1"),
            1,
        )
        .await;
    telegram
        .fail_next_to("sendPhoto", 402, api_error(500, "Internal Server Error"), 1)
        .await;
    telegram
        .fail_next_to(
            "sendMessage",
            402,
            api_error(500, "Internal Server Error"),
            1,
        )
        .await;
    let blocked = api_error(403, "Forbidden: bot was blocked by the user");
    telegram.fail_next_to("sendPhoto", 403, blocked, 1).await;
    let bad_photo = api_error(400, "Bad Request: wrong file identifier/HTTP URL specified");
    telegram.fail_next_to("sendPhoto", 404, bad_photo, 1).await;
    let mut run = FaultRun::start(mocks, fresh_sqlite_url(), &[]).await;

    run.round_blocked(403, 1).await;
    run.round(&[401, 402, 404]).await;
    run.round(&[401, 402, 404]).await;

    // A block is final (no text instead of the photo, no retry) and remembered.
    assert_eq!(run.tries_to(403).await, 1);
    let blocked_at = "SELECT COUNT(*) FROM users WHERE id = 403 AND blocked_at IS NOT NULL";
    eventually(|| run.count(blocked_at), |count| *count == 1).await;
    // Writing again unblocks: the next location is answered.
    run.round(&[403]).await;
    run.check().await;
}

#[actix_web::test]
async fn telegram_unreachable_for_a_moment() {
    crate::helpers::logs::capture();
    let mocks = mocks().await;
    let proxy = TcpProxy::start(&mocks.telegram.url()).await;
    let telegram_url = proxy.url.trim_end_matches('/').to_owned();
    let overrides = [("TELEGRAM_API_URL", telegram_url.as_str())];
    let mut run = FaultRun::start(mocks, fresh_sqlite_url(), &overrides).await;
    let users = [501, 502];

    run.round(&users).await;
    proxy.cut();
    let restore = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        proxy.restore();
    };
    tokio::join!(run.round(&users), restore);
    run.round(&users).await;

    run.check().await;
    let retried = crate::helpers::logs::lines_containing("Telegram call failed, retrying");
    assert!(
        retried
            .iter()
            .any(|line| line.contains("501") || line.contains("502")),
        "nothing was retried: the cut missed the sends"
    );
}

#[actix_web::test]
async fn telegram_lost_its_answer_to_a_story_it_delivered() {
    let mocks = mocks().await;
    let slow = crate::helpers::mock_telegram::ok(crate::helpers::mock_telegram::sent_message())
        .set_delay(Duration::from_millis(500));
    mocks
        .telegram
        .answer_next_to("sendPhoto", 602, slow, 1)
        .await;
    let proxy = TcpProxy::start(&mocks.telegram.url()).await;
    let telegram_url = proxy.url.trim_end_matches('/').to_owned();
    let overrides = [("TELEGRAM_API_URL", telegram_url.as_str())];
    let mut run = FaultRun::start(mocks, fresh_sqlite_url(), &overrides).await;

    // The photo reaches Telegram; the connection breaks before its answer comes back.
    let cut_when_received = async {
        eventually(
            || run.app.telegram.calls_to("sendPhoto", 602),
            |calls| !calls.is_empty(),
        )
        .await;
        proxy.cut();
        proxy.restore();
    };
    let id = run.next_update;
    let update = location_update(id, 602, "en", spot_of(602), LON);
    run.next_update += 1;
    let (response, ()) = tokio::join!(run.app.post_update(&update), cut_when_received);
    run.asked.push(Asked {
        user: 602,
        owed: response.status() == 200,
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    run.round(&[602]).await;

    run.check().await;
}
