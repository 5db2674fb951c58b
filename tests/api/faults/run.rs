//! One run of a fault case and its checker: see [`FaultRun::check`].

use std::{collections::HashSet, time::Duration};

use excursobot::i18n::Lang;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::Value;

use crate::helpers::{
    Mocks, TestApp, eventually, location_update,
    mock_telegram::{is_story, story_button},
    tcp_proxy::TcpProxy,
};

pub const LAT: f64 = 55.7558;
pub const LON: f64 = 37.6173;

/// A location a user sent, and whether it is owed an answer: the webhook took it (200) and
/// the user had not blocked the bot.
pub struct Asked {
    pub user: i64,
    pub owed: bool,
}

/// One run of a fault case: what was asked, to be checked against what Telegram received.
pub struct FaultRun {
    pub app: TestApp,
    /// The database the app writes to, for the checker (the server's own address when the
    /// app reaches it through a proxy).
    pub database_url: String,
    pub db: tokio::sync::OnceCell<sea_orm::DatabaseConnection>,
    pub asked: Vec<Asked>,
    pub next_update: u64,
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
pub fn spot_of(user: i64) -> f64 {
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
    pub async fn start(mocks: Mocks, database_url: String, overrides: &[(&str, &str)]) -> Self {
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
    pub async fn round(&mut self, users: &[i64]) {
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
    pub async fn around_a_cut(&mut self, proxy: &TcpProxy, users: &[i64]) {
        self.round(users).await;
        proxy.cut();
        self.round(users).await;
        proxy.restore();
        self.round(users).await;
        self.check().await;
    }

    /// `user`, who blocked the bot, sends a location: it is owed no answer; waits until the
    /// bot tried to send `tries` calls to them in all.
    pub async fn round_blocked(&mut self, user: i64, tries: usize) {
        let id = self.next_update;
        self.next_update += 1;
        let update = location_update(id, user, lang_of(user).0, spot_of(user), LON);
        assert_eq!(self.app.post_update(&update).await.status(), 200);
        self.asked.push(Asked { user, owed: false });
        eventually(|| self.tries_to(user), |count| *count >= tries).await;
    }

    /// Photos and messages the bot tried to send to `user`, refused ones included.
    pub async fn tries_to(&self, user: i64) -> usize {
        let telegram = &self.app.telegram;
        telegram.calls_to("sendPhoto", user).await.len()
            + telegram.calls_to("sendMessage", user).await.len()
    }

    /// A count from the database (one connection pool per run, opened on first use).
    pub async fn count(&self, sql: &str) -> i64 {
        let url = self.database_url.as_str();
        let db = self
            .db
            .get_or_init(|| async { Database::connect(url).await.unwrap() })
            .await;
        let statement = Statement::from_string(db.get_database_backend(), sql.to_owned());
        let row = db.query_one_raw(statement).await.unwrap().unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }

    /// The answers `user` received so far, in order (the one-time live hint, the photo
    /// before a long story's text and a summary's upgrade to its story are not answers of
    /// their own).
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
            } else if text == texts.live_hint
                || body["method"] == "sendphoto"
                || text.contains(texts.guide_story)
            {
                // The story written after its summary was told comes as a reply to it: the
                // same answer, upgraded.
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
    pub async fn check(&self) {
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
pub async fn mocks() -> Mocks {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.wikipedia.serve_places("ru").await;
    mocks
}
