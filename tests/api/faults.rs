//! The fault suite: the real app against the mocks, real Redis and PostgreSQL behind cuttable
//! proxies, while something it depends on fails. Every case ends with one checker
//! ([`FaultRun::check`]): every location the webhook acknowledged got exactly one answer (a
//! story, or a note in the user's language), no place was told twice to a user, and no
//! delivery row was written twice (nor lost).

use std::{collections::HashSet, time::Duration};

use excursobot::i18n::Lang;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;

use crate::helpers::{
    Mocks, Reply, TestApp, eventually, fresh_postgres_url, fresh_sqlite_url, live_location_update,
    location_update,
    mock_telegram::{api_error, is_story, story_button},
    tcp_proxy::TcpProxy,
    test_redis_url,
};

const LAT: f64 = 55.7558;
const LON: f64 = 37.6173;

/// A location a user sent, and whether it is owed an answer: the webhook took it (200) and
/// the user had not blocked the bot.
struct Asked {
    user: i64,
    owed: bool,
}

/// One run of a fault case: what was asked, to be checked against what Telegram received.
struct FaultRun {
    app: TestApp,
    /// The database the app writes to, for the checker (the server's own address when the
    /// app reaches it through a proxy).
    database_url: String,
    db: tokio::sync::OnceCell<sea_orm::DatabaseConnection>,
    asked: Vec<Asked>,
    next_update: u64,
}

/// What one message to a user was.
#[derive(Debug, PartialEq)]
enum Answer {
    /// A story (its title).
    Story(String),
    /// A note: busy, nothing near, sources down, an error.
    Note,
}

/// Where a test user stands: a ~110 m cell of their own, ~1 km from the others'.
fn spot_of(user: i64) -> f64 {
    LAT + 0.01 * (user % 100) as f64
}

/// The language a test user speaks: odd ids Russian, even ones English.
fn lang_of(user: i64) -> (&'static str, Lang) {
    if user % 2 == 1 {
        ("ru", Lang::Ru)
    } else {
        ("en", Lang::En)
    }
}

impl FaultRun {
    async fn start(mocks: Mocks, database_url: String, overrides: &[(&str, &str)]) -> Self {
        let mut vars = vec![("DATABASE_URL", database_url.as_str())];
        vars.extend_from_slice(overrides);
        let app = mocks.spawn(&vars).await;
        Self {
            app,
            database_url,
            db: tokio::sync::OnceCell::new(),
            asked: Vec::new(),
            next_update: 1,
        }
    }

    /// Every user in `users` sends a location at once, each at a spot of their own (~1 km
    /// apart); waits until each acknowledged one is answered (or 15 s pass).
    async fn round(&mut self, users: &[i64]) {
        let mut expected = Vec::new();
        for &user in users {
            let answered_before = self.answers(user).await.len();
            let id = self.next_update;
            self.next_update += 1;
            let update = location_update(id, user, lang_of(user).0, spot_of(user), LON);
            let owed = self.app.post_update(&update).await.status() == 200;
            self.asked.push(Asked { user, owed });
            expected.push((user, answered_before + usize::from(owed)));
        }
        for (user, count) in expected {
            eventually(|| self.answers(user), |answers| answers.len() >= count).await;
        }
    }

    /// `users` send locations before, during and after `proxy` is cut (a server stopped
    /// and started again), then the checker runs.
    async fn around_a_cut(&mut self, proxy: &TcpProxy, users: &[i64]) {
        self.round(users).await;
        proxy.cut();
        self.round(users).await;
        proxy.restore();
        self.round(users).await;
        self.check().await;
    }

    /// `user`, who blocked the bot, sends a location: it is owed no answer; waits until the
    /// bot tried to send `tries` calls to them in all.
    async fn round_blocked(&mut self, user: i64, tries: usize) {
        let id = self.next_update;
        self.next_update += 1;
        let update = location_update(id, user, lang_of(user).0, spot_of(user), LON);
        assert_eq!(self.app.post_update(&update).await.status(), 200);
        self.asked.push(Asked { user, owed: false });
        eventually(|| self.tries_to(user), |count| *count >= tries).await;
    }

    /// Photos and messages the bot tried to send to `user`, refused ones included.
    async fn tries_to(&self, user: i64) -> usize {
        let telegram = &self.app.telegram;
        telegram.calls_to("sendPhoto", user).await.len()
            + telegram.calls_to("sendMessage", user).await.len()
    }

    /// A count from the database (one connection pool per run, opened on first use).
    async fn count(&self, sql: &str) -> i64 {
        let url = self.database_url.as_str();
        let db = self
            .db
            .get_or_init(|| async { Database::connect(url).await.unwrap() })
            .await;
        let statement = Statement::from_string(db.get_database_backend(), sql.to_owned());
        let row = db.query_one_raw(statement).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// The answers `user` received so far, in order (the one-time live hint and the photo
    /// before a long story's text are not answers of their own).
    async fn answers(&self, user: i64) -> Vec<Answer> {
        let texts = lang_of(user).1.texts();
        let delivered = self.app.telegram.delivered_to(user).await;
        let mut answers = Vec::new();
        for body in delivered {
            let text = body["text"].as_str().unwrap_or_default();
            if is_story(&body) {
                assert_in_language(&body, texts.tell_more_button, user);
                let html = body["caption"].as_str().unwrap_or(text);
                answers.push(Answer::Story(crate::helpers::mock_telegram::title_of(html)));
            } else if text == texts.live_hint || body["method"] == "sendphoto" {
                continue;
            } else if is_note(text, lang_of(user).1) {
                answers.push(Answer::Note);
            } else {
                panic!("user {user} got a message that answers nothing: {body}");
            }
        }
        answers
    }

    /// The checker: see the module docs.
    async fn check(&self) {
        let mut users: Vec<i64> = self.asked.iter().map(|asked| asked.user).collect();
        users.sort_unstable();
        users.dedup();
        // Late or doubled answers have a moment to show.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut stories = 0;
        for &user in &users {
            let asked = self
                .asked
                .iter()
                .filter(|asked| asked.user == user && asked.owed)
                .count();
            let answers = self.answers(user).await;
            assert_eq!(answers.len(), asked, "user {user}: {answers:?}");
            let told: Vec<&String> = answers
                .iter()
                .filter_map(|answer| match answer {
                    Answer::Story(title) => Some(title),
                    Answer::Note => None,
                })
                .collect();
            let distinct: HashSet<&&String> = told.iter().collect();
            assert_eq!(
                distinct.len(),
                told.len(),
                "user {user} told twice: {told:?}"
            );
            stories += told.len();
        }
        self.check_rows(stories).await;
    }

    /// One delivery row per story told, none twice.
    async fn check_rows(&self, stories: usize) {
        let written = eventually(
            || self.count("SELECT COUNT(*) FROM fact_deliveries"),
            |written| *written as usize >= stories,
        )
        .await;
        assert_eq!(written as usize, stories, "delivery rows");
        let doubled = self
            .count(
                "SELECT COUNT(*) FROM (SELECT user_id, place_id FROM fact_deliveries \
             GROUP BY user_id, place_id HAVING COUNT(*) > 1) AS doubled",
            )
            .await;
        assert_eq!(doubled, 0, "a delivery row written twice");
    }
}

/// Whether `text` is one of the notes a location can get instead of a story, in `lang`.
fn is_note(text: &str, lang: Lang) -> bool {
    let texts = lang.texts();
    let before_near = |template: &str| {
        template
            .split("{near}")
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    [texts.busy, texts.internal_error].contains(&text)
        || text.starts_with(&before_near(texts.nothing_nearby))
        || text.starts_with(&before_near(texts.sources_down))
}

/// A story's "Tell me more" button is in the user's language.
fn assert_in_language(story: &Value, tell_more: &str, user: i64) {
    let more = story_button(story, "more");
    let button = story["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .find(|button| button["callback_data"] == more.as_str());
    let label = button.and_then(|button| button["text"].as_str());
    assert_eq!(
        label,
        Some(tell_more),
        "user {user}: a story in another language"
    );
}

/// Mocks whose Wikipedia knows the standard places in both languages.
async fn mocks() -> Mocks {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.wikipedia.serve_places("ru").await;
    mocks
}

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
