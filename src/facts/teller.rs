//! Step four of a story: telling it. [`Teller::deliver`] is the one way a story goes out, a
//! one-off one or a tour's: the buttons' context is kept first (so they work from the first
//! part sent on), then the reply is sent (see [`super::reply`]), then the delivery is
//! recorded. The short notes ("nothing new here", "busy"), "typing…" and the map pin go
//! out here too.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use actix::Addr;
use teloxide::{
    payloads::SendMessageSetters,
    prelude::Requester,
    types::{ChatId, InlineKeyboardMarkup, ParseMode},
};

use super::{
    buttons::{ButtonToken, Refused, StoryButtons, StoryContext},
    reply::{StoryReply, send_pin, send_story},
};
use crate::{
    actors::db_actor::{DbActor, Delivered, FirstHint},
    db::{now_ms, queries::Delivery},
    geo::Coordinates,
    i18n::Lang,
    places::Place,
    stats::{Metrics, registry::names},
    story::StorySource,
    telegram::{Outbox, SendClass, TelegramError},
};

/// The hint's name in the database: a live location makes a tour.
const LIVE_HINT: &str = "live_location";

/// "typing…" shows only when an answer takes longer than this: an answer from the cache
/// arrives first, and the call is saved.
const TYPING_AFTER: Duration = Duration::from_millis(400);

/// Who a story goes to, and with which preferences.
#[derive(Debug, Clone, Copy)]
pub struct Listener {
    /// Telegram user id.
    pub user_id: u64,
    /// Where the story goes.
    pub chat: ChatId,
    /// Where the user stands.
    pub from: Coordinates,
    /// The user's language.
    pub lang: Lang,
    /// Whether to send the photo.
    pub photos: bool,
    /// When the user asked, for the delivery's latency.
    pub asked_at: Instant,
}

/// A story ready to go out.
pub struct Told<'a> {
    /// The place it is about (the buttons' context, the delivery row).
    pub place: &'a Place,
    /// The place as shown: a tour's story shows "#N · title".
    pub shown: &'a Place,
    /// The story text.
    pub text: &'a str,
    /// Where the text came from.
    pub source: StorySource,
}

/// What the first answer to a location was, for its latency's histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstAnswer {
    /// A story (written or cached).
    Story,
    /// The place's own summary (the LLM down, slow or busy).
    Summary,
    /// A "busy" note: the send budget could not take the story in time.
    Busy,
    /// A note: nothing new nearby, the sources out of reach.
    Note,
}

impl FirstAnswer {
    const ALL: [FirstAnswer; 4] = [Self::Story, Self::Summary, Self::Busy, Self::Note];

    fn name(self) -> &'static str {
        match self {
            Self::Story => "story",
            Self::Summary => "summary",
            Self::Busy => "busy",
            Self::Note => "note",
        }
    }
}

/// Sends stories and notes. Cheap to clone.
#[derive(Clone)]
pub struct Teller {
    outbox: Outbox,
    /// Location-to-first-answer latencies, by [`FirstAnswer`] kind.
    first_answers: Arc<[metrics::Histogram; 4]>,
    /// What the buttons under recent stories refer to, and whom they belong to.
    buttons: StoryButtons,
    /// Where deliveries are recorded.
    db: Addr<DbActor>,
}

impl Teller {
    /// A teller sending through `outbox` and recording deliveries with `db`.
    pub fn new(outbox: Outbox, db: Addr<DbActor>) -> Self {
        Self {
            outbox,
            first_answers: Arc::new(first_answer_histograms(&Metrics::default())),
            buttons: StoryButtons::new(),
            db,
        }
    }

    /// Measures first answers in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.first_answers = Arc::new(first_answer_histograms(metrics));
        self
    }

    /// The first answer to a location asked at `asked_at` went out, as `kind`.
    pub fn answered_first(&self, kind: FirstAnswer, asked_at: Instant) {
        self.first_answers[kind as usize].record(asked_at.elapsed().as_secs_f64());
    }

    /// Sends `told` to `to` as `class` and records it (as a first answer's latency too, when
    /// `class` is [`SendClass::FirstAnswer`]); see the module docs.
    pub async fn deliver(
        &self,
        to: &Listener,
        told: &Told<'_>,
        class: SendClass,
    ) -> Result<(), TelegramError> {
        let token = self.buttons.issue(StoryContext {
            place: told.place.clone(),
            from: to.from,
            user_id: to.user_id,
            chat: to.chat,
        });
        let reply = StoryReply {
            place: told.shown,
            text: told.text,
            is_summary: told.source == StorySource::Fallback,
            from: to.from,
            lang: to.lang,
            photos: to.photos,
            token,
        };
        send_story(&self.outbox, to.chat, class, &reply).await?;
        if class == SendClass::FirstAnswer {
            let kind = match told.source {
                StorySource::Fallback => FirstAnswer::Summary,
                StorySource::Cache | StorySource::Llm => FirstAnswer::Story,
            };
            self.answered_first(kind, to.asked_at);
        }
        self.db
            .do_send(Delivered(delivery(to, told.place, told.source)));
        Ok(())
    }

    /// The context behind a story button pressed by `user_id` in `chat`.
    pub fn resolve(
        &self,
        token: ButtonToken,
        user_id: u64,
        chat: ChatId,
    ) -> Result<std::sync::Arc<StoryContext>, Refused> {
        self.buttons.resolve(token, user_id, chat)
    }

    /// Sends a short note (plain text) as `class`.
    pub async fn note(&self, chat: ChatId, text: String, class: SendClass) {
        let message = self.outbox.bot().send_message(chat, text);
        if let Err(error) = self.outbox.send(chat, class, message).await {
            tracing::warn!(%error, "note not delivered");
        }
    }

    /// After a user's first one-off story: the hint that a live location makes a tour, once per
    /// user (remembered in the database; nothing is sent when the database cannot say).
    pub async fn live_hint_once(&self, user_id: u64, chat: ChatId, lang: Lang) {
        let first = self
            .db
            .send(FirstHint {
                user_id: user_id as i64,
                hint: LIVE_HINT,
            })
            .await;
        match first {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => return,
            Ok(Err(error)) => {
                tracing::warn!(%error, "live hint skipped: the database cannot say if it was shown");
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "live hint skipped: the database actor is unreachable");
                return;
            }
        }
        let message = self
            .outbox
            .bot()
            .send_message(chat, lang.texts().live_hint)
            .parse_mode(ParseMode::Html);
        if let Err(error) = self.outbox.send(chat, SendClass::Other, message).await {
            tracing::warn!(%error, "live hint not delivered");
        }
    }

    /// Sends a short note (plain text) with `buttons` under it, as `class`.
    pub async fn note_with_buttons(
        &self,
        chat: ChatId,
        text: String,
        buttons: InlineKeyboardMarkup,
        class: SendClass,
    ) {
        let message = self
            .outbox
            .bot()
            .send_message(chat, text)
            .reply_markup(buttons);
        if let Err(error) = self.outbox.send(chat, class, message).await {
            tracing::warn!(%error, "note not delivered");
        }
    }

    /// A story could not go within the send budget: a short "busy" note instead, ahead of
    /// other stories, rather than the story minutes late.
    pub async fn busy_note(&self, chat: ChatId, lang: Lang) {
        tracing::info!(
            chat_id = chat.0,
            "story not sent in time; a busy note instead"
        );
        self.note(chat, lang.texts().busy.to_owned(), SendClass::Reply)
            .await;
    }

    /// The venue pin of `place` ("📍 On the map"), with its distance and direction from
    /// `from`.
    pub async fn pin(&self, chat: ChatId, place: &Place, from: Coordinates, lang: Lang) {
        if let Err(error) = send_pin(&self.outbox, chat, place, from, lang).await {
            tracing::warn!(%error, "map pin not delivered");
        }
    }

    /// Shows "typing…" if the answer is not out within [`TYPING_AFTER`] (and the send budget
    /// has room then); dropping the guard cancels it.
    pub fn typing_soon(&self, chat: ChatId) -> TypingSoon {
        let outbox = self.outbox.clone();
        TypingSoon(tokio::spawn(async move {
            tokio::time::sleep(TYPING_AFTER).await;
            outbox.typing(chat);
        }))
    }
}

/// A "typing…" that will show unless dropped first.
pub struct TypingSoon(tokio::task::JoinHandle<()>);

impl Drop for TypingSoon {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The delivery row for a story just sent.
fn first_answer_histograms(metrics: &Metrics) -> [metrics::Histogram; 4] {
    FirstAnswer::ALL.map(|kind| metrics.histogram(names::FIRST_ANSWER, &[("kind", kind.name())]))
}

fn delivery(to: &Listener, place: &Place, source: StorySource) -> Delivery {
    Delivery {
        user_id: to.user_id as i64,
        place_id: place.id.0.clone(),
        place_title: place.title.clone(),
        lat: place.coordinates.lat,
        lon: place.coordinates.lon,
        source: source.as_str(),
        latency_ms: i64::try_from(to.asked_at.elapsed().as_millis()).unwrap_or(i64::MAX),
        at: now_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_first_answer_has_its_own_histogram() {
        let metrics = Metrics::new();
        let histograms = first_answer_histograms(&metrics);
        for kind in FirstAnswer::ALL {
            histograms[kind as usize].record(0.01);
        }
        let text = metrics.render();
        for kind in ["story", "summary", "busy", "note"] {
            let line = format!(r#"excursobot_first_answer_seconds_count{{kind="{kind}"}} 1"#);
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
