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
    utils::html,
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    UPGRADE_WITHIN,
    buttons::{ButtonToken, Refused, StoryButtons, StoryContext},
    reply::{SentStory, StoryReply, header, send_pin, send_story, upgrade_story},
    writer::LateStory,
};
use crate::telemetry::traces::SenderSpan;
use crate::{
    actors::{
        db_actor::{DbActor, Delivered, DeliveredNow, FirstHint},
        openai_gate::StoryProgress,
    },
    db::{journal, now_ms, queries::Delivery},
    geo::Coordinates,
    i18n::Lang,
    places::Place,
    stats::{Metrics, registry::names},
    story::StorySource,
    telegram::{Outbox, SendClass, TelegramError, outbox::DraftOutcome},
};

/// The hint's name in the database: a live location makes a tour.
const LIVE_HINT: &str = "live_location";

/// "typing…" shows only when an answer takes longer than this: an answer from the cache
/// arrives first, and the call is saved.
const TYPING_AFTER: Duration = Duration::from_millis(400);

/// Drafts of a story being written replace each other at most this often (Telegram animates
/// the change; more often is not easier to read and costs budget).
const DRAFT_EVERY: Duration = Duration::from_secs(1);
/// The draft with a story's first words may wait this long for a turn among the messages of
/// its class when the budget has no room at once; later, it is skipped.
const FIRST_WORDS_PATIENCE: Duration = Duration::from_millis(300);
/// The most characters of a story's text shown in one draft (Telegram takes 4096 in all).
const DRAFT_MAX_CHARS: usize = 3500;

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

/// Where a story went, and the token its buttons carry.
#[derive(Debug, Clone, Copy)]
pub struct StoryMessage {
    /// The message with the story's text (`None` when Telegram's answer was lost).
    pub sent: Option<SentStory>,
    /// The buttons' token.
    pub token: ButtonToken,
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
    /// Tour-tick-to-story latencies, by story source (cache, LLM, summary).
    tick_stories: Arc<[metrics::Histogram; 3]>,
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
            tick_stories: Arc::new(tick_story_histograms(&Metrics::default())),
            buttons: StoryButtons::new(),
            db,
        }
    }

    /// Measures first answers in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.first_answers = Arc::new(first_answer_histograms(metrics));
        self.tick_stories = Arc::new(tick_story_histograms(metrics));
        self
    }

    /// The first answer to a location asked at `asked_at` went out, as `kind`.
    pub fn answered_first(&self, kind: FirstAnswer, asked_at: Instant) {
        self.first_answers[kind as usize].record(asked_at.elapsed().as_secs_f64());
    }

    /// A tour tick's story from `source` (asked for at the tick, `ticked_at`) was delivered.
    pub fn answered_tick(&self, source: StorySource, ticked_at: Instant) {
        let index = StorySource::ALL.iter().position(|s| *s == source);
        if let Some(histogram) = index.and_then(|index| self.tick_stories.get(index)) {
            histogram.record(ticked_at.elapsed().as_secs_f64());
        }
    }

    /// Sends `told` to `to` as `class` and records it (as a first answer's latency too, when
    /// `class` is [`SendClass::FirstAnswer`]); see the module docs.
    pub async fn deliver(
        &self,
        to: &Listener,
        told: &Told<'_>,
        class: SendClass,
    ) -> Result<StoryMessage, TelegramError> {
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
            upgrade: false,
            from: to.from,
            lang: to.lang,
            photos: to.photos,
            token,
        };
        let sent = match send_story(&self.outbox, to.chat, class, &reply).await {
            Ok(sent) => Some(sent),
            Err(TelegramError::Unconfirmed(error)) => {
                // Most likely delivered: counted as told, so the place is not told again.
                tracing::warn!(%error, "story perhaps delivered; counted as told");
                None
            }
            Err(error) => return Err(error),
        };
        if class == SendClass::FirstAnswer {
            let kind = match told.source {
                StorySource::Fallback => FirstAnswer::Summary,
                StorySource::Cache | StorySource::Llm => FirstAnswer::Story,
            };
            self.answered_first(kind, to.asked_at);
        }
        self.record(delivery(to, told.place, told.source)).await;
        Ok(StoryMessage { sent, token })
    }

    /// When the story still being written (`late`) comes within [`UPGRADE_WITHIN`], the
    /// summary sent as `message` becomes it, after `opening` (a tour's heading cue, or
    /// nothing): see [`Teller::upgrade`]. Waits in a task of its own, holding little
    /// meanwhile (not the place's summary; the sending is set up only when the story came):
    /// a crowd told summaries keeps a hundred of them waiting.
    pub fn upgrade_when_written(
        &self,
        to: Listener,
        message: StoryMessage,
        place: &Place,
        late: LateStory,
        opening: String,
    ) {
        let teller = self.clone();
        let place = Place {
            summary: String::new(),
            ..place.clone()
        };
        let upgrade = async move {
            if let Some(text) = late.arrive(UPGRADE_WITHIN).await {
                let story = format!("{opening}{text}");
                Box::pin(teller.upgrade(&to, message, &place, &story)).await;
            }
        };
        tokio::spawn(upgrade.in_current_span());
    }

    /// The summary sent as `message` becomes `story`, written meanwhile (see
    /// [`upgrade_story`]): once, marked as the guide's story.
    pub async fn upgrade(&self, to: &Listener, message: StoryMessage, place: &Place, story: &str) {
        let reply = StoryReply {
            place,
            text: story,
            is_summary: false,
            upgrade: true,
            from: to.from,
            lang: to.lang,
            photos: to.photos,
            token: message.token,
        };
        let Some(sent) = message.sent else {
            return;
        };
        match upgrade_story(&self.outbox, to.chat, sent, &reply).await {
            // The delivery was recorded with the summary; the place is not told twice.
            Ok(()) => tracing::info!(place = %place.id, "the summary became the written story"),
            Err(error) => tracing::info!(%error, "the written story was not offered"),
        }
    }

    /// Records a delivery: written behind, or at once for a journaled update, whose entry
    /// must not leave the journal before the place is on record (else a crash in between
    /// would tell the place again at the replay).
    async fn record(&self, row: Delivery) {
        if !journal::in_journaled_work() {
            self.db.do_send(Delivered(row));
            return;
        }
        match self.db.send(DeliveredNow(row.clone())).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "delivery not written at once; buffered"),
            // The actor restarting (the write may or may not have run: a second write of the
            // row adds nothing), or gone.
            Err(error) => {
                tracing::warn!(%error, "delivery not written at once; buffered");
                self.db.do_send(Delivered(row));
            }
        }
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
                sender: SenderSpan::current(),
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

    /// Shows the story about `place` as drafts while it is written, in a private chat where
    /// Telegram has drafts: `None` otherwise. After [`TYPING_AFTER`] (a story from the cache
    /// needs none) the title and where the place is (or, with [`FirstDraft::FirstWords`],
    /// nothing until the first words are written), then the first words as soon as they are
    /// written (waiting up to [`FIRST_WORDS_PATIENCE`] for a turn) and the text so far at most
    /// every [`DRAFT_EVERY`] after them, each only if the send budget has room at that
    /// instant. The writer reports to the returned [`StoryProgress`]; [`DraftStream::finish`]
    /// ends the drafts before the story itself goes out.
    pub fn drafts(
        &self,
        to: &Listener,
        place: &Place,
        first: FirstDraft,
        class: SendClass,
    ) -> Option<(StoryProgress, DraftStream)> {
        if !self.outbox.drafts_available(to.chat) {
            return None;
        }
        let (progress, written) = watch::channel(Arc::<str>::from(""));
        let stop = CancellationToken::new();
        let shown = Drafts {
            outbox: self.outbox.clone(),
            chat: to.chat,
            header: header(place, to.lang, to.from),
            first,
            class,
            stop: stop.clone(),
        };
        let task = tokio::spawn(shown.run(written).in_current_span());
        Some((progress, DraftStream { stop, task }))
    }

    /// Shows "typing…" if the answer is not out within [`TYPING_AFTER`] (and the send budget
    /// has room then); dropping the guard cancels it.
    pub fn typing_soon(&self, chat: ChatId) -> TypingSoon {
        let outbox = self.outbox.clone();
        let typing = async move {
            tokio::time::sleep(TYPING_AFTER).await;
            outbox.typing(chat);
        };
        TypingSoon(tokio::spawn(typing.in_current_span()))
    }
}

/// What a story's drafts start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstDraft {
    /// The title and whereabouts after [`TYPING_AFTER`]: the person just asked.
    Title,
    /// Nothing until the first words are written (a tour tick: a story that only waits for a
    /// permit shows nothing, "typing…" included).
    FirstWords,
}

/// A story shown as drafts while it is written: see [`Teller::drafts`].
pub struct DraftStream {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl DraftStream {
    /// Stops the drafts and waits for one on its way, so none arrives after the story.
    pub async fn finish(mut self) {
        self.stop.cancel();
        if let Err(error) = (&mut self.task).await {
            tracing::warn!(%error, "the drafts' task failed");
        }
    }
}

impl Drop for DraftStream {
    fn drop(&mut self) {
        // Cancelled before `finish` (a newer location): no more drafts.
        self.stop.cancel();
    }
}

/// The task behind a [`DraftStream`].
struct Drafts {
    outbox: Outbox,
    chat: ChatId,
    /// The story's title and whereabouts, in HTML.
    header: String,
    first: FirstDraft,
    /// The story's class: its first words may queue as one ([`FIRST_WORDS_PATIENCE`]).
    class: SendClass,
    stop: CancellationToken,
}

impl Drafts {
    async fn run(self, mut written: watch::Receiver<Arc<str>>) {
        let stop = self.stop.clone();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(TYPING_AFTER) => {}
        }
        // Non-zero, and different for every story, so two stories never animate into each
        // other.
        let draft_id = rand::random_range(1..i64::MAX);
        let mut shown_at = tokio::time::Instant::now();
        if self.first == FirstDraft::Title {
            let opening = format!("{}…", self.header);
            if self.outbox.draft(self.chat, draft_id, opening).await == DraftOutcome::Unsupported {
                self.outbox.typing(self.chat);
                return;
            }
        }
        // The first words show as soon as they are written (tried again with the next words
        // while the budget skips them); later drafts at most every DRAFT_EVERY.
        let mut words_shown = false;
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                changed = written.changed() => if changed.is_err() { return },
            }
            if words_shown {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep_until(shown_at + DRAFT_EVERY) => {}
                }
            }
            let text = Arc::clone(&written.borrow_and_update());
            shown_at = tokio::time::Instant::now();
            let draft = self.body(&text);
            let shown = if words_shown {
                self.outbox.draft(self.chat, draft_id, draft).await
            } else {
                let (class, within) = (self.class, FIRST_WORDS_PATIENCE);
                let outbox = &self.outbox;
                outbox
                    .first_words_draft(self.chat, draft_id, draft, class, within)
                    .await
            };
            match shown {
                DraftOutcome::Unsupported => {
                    // Written, but no drafts here: "typing…" says so.
                    self.outbox.typing(self.chat);
                    return;
                }
                // A refused draft counts too: Telegram is not asked again at once.
                DraftOutcome::Sent | DraftOutcome::Failed => words_shown = true,
                DraftOutcome::Skipped => {}
            }
        }
    }

    /// The draft's HTML: the header, then the text so far.
    fn body(&self, text: &str) -> String {
        let mut shown: String = text.chars().take(DRAFT_MAX_CHARS).collect();
        if shown.len() < text.len() {
            shown.push('…');
        }
        format!("{}{}", self.header, html::escape(&shown))
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

fn tick_story_histograms(metrics: &Metrics) -> [metrics::Histogram; 3] {
    StorySource::ALL
        .map(|source| metrics.histogram(names::TOUR_STORY, &[("source", source.as_str())]))
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
