//! The story pipeline: from a location to a story about a real place nearby, in steps that
//! each own what they need.
//!
//! 1. [`places`]: the places near the point (the place list cache, else Wikipedia: the user's
//!    language, English fallback, widening radius). Wikipedia unreachable: the offline
//!    gazetteer names the locality and the user is told to try again shortly.
//! 2. [`told`]: the nearest place this user has not been told about (the venue they shared,
//!    when it is among them), reserved for this story, atomically for the user.
//! 3. [`writer`]: its story: the fact cache, else the LLM, else the place's own summary.
//! 4. [`teller`]: the reply (see [`reply`]): one message with the photo, caption, source link
//!    and buttons ([`buttons`]), then the delivery's row. A summary told because the story
//!    was not written in time is turned into the story once it is (within [`UPGRADE_WITHIN`]).
//!
//! [`Storyteller`] runs them for a location or a button; [`tour`] runs them for a tour's
//! stories. At most one location per user is in flight: a newer one cancels the older.

pub mod buttons;
pub mod places;
pub mod reply;
pub mod teller;
pub mod told;
pub mod tour;
pub mod writer;

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use teloxide::types::ChatId;
use tokio_util::sync::CancellationToken;

use crate::{
    actors::openai_gate::Priority,
    geo::Coordinates,
    i18n::Lang,
    places::{Place, PlaceError, PlaceId, names::same_place},
    stats::{ErrorLog, Metrics},
    telegram::SendClass,
};
use buttons::{ButtonToken, Refused};
use places::PlaceFinder;
use teller::{FirstAnswer, FirstDraft, Listener, Teller, Told};
use told::{HistoryUnavailable, Reserved, ToldPlaces};
use writer::{StoryWriter, Subject};

/// A summary told because its story was not written in time becomes the story when it is
/// written within this long (later, the listener has moved on).
pub const UPGRADE_WITHIN: std::time::Duration = std::time::Duration::from_secs(120);

pub use told::choose_place;

/// A first story or a "tell me more".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The short first story.
    First,
    /// The deeper story behind "Tell me more".
    More,
}

/// The buttons under a story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoryButton {
    /// "Tell me more": a deeper story about the same place.
    More,
    /// "Another place": the next nearest untold place.
    Next,
    /// "On the map": the venue pin.
    Map,
}

/// Who asks, where, in which language, with which preferences.
#[derive(Debug, Clone)]
pub struct StoryRequest {
    /// Telegram user id.
    pub user_id: u64,
    /// Where replies go.
    pub chat: ChatId,
    /// The user's position.
    pub point: Coordinates,
    /// The user's language.
    pub lang: Lang,
    /// Search radius in metres (the user's preference).
    pub radius_m: u32,
    /// Whether to send photos (the user's preference).
    pub photos: bool,
    /// The title of a venue the user shared: the place of that name, when found nearby and
    /// untold, is told rather than the nearest.
    pub venue: Option<String>,
    /// When the request arrived, for the delivery's latency.
    pub started: Instant,
    /// Whether a delivered story is followed by the one-time live-location hint (a one-off
    /// story from a user with no tour running).
    pub offer_live_hint: bool,
}

impl StoryRequest {
    /// Who the story goes to.
    pub fn listener(&self) -> Listener {
        Listener {
            user_id: self.user_id,
            chat: self.chat,
            from: self.point,
            lang: self.lang,
            photos: self.photos,
            asked_at: self.started,
        }
    }
}

/// The steps of the pipeline, shared by one-off stories and tours. Cheap to clone.
#[derive(Clone)]
pub struct StorySteps {
    /// Places around a point.
    pub finder: PlaceFinder,
    /// What each user was told; reserves the next place.
    pub told: ToldPlaces,
    /// Story texts.
    pub writer: StoryWriter,
    /// Replies and notes.
    pub teller: Teller,
    /// Where failures are counted.
    pub errors: ErrorLog,
}

/// Why no place was chosen.
#[derive(Debug)]
pub enum NoPlace {
    /// The place sources could not be reached.
    SourcesDown(Arc<PlaceError>),
    /// The user's history could not be read: a place might be told twice.
    HistoryUnavailable(HistoryUnavailable),
}

impl StorySteps {
    /// Measures place lookups and first answers in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.finder = self.finder.with_metrics(metrics);
        self.teller = self.teller.with_metrics(metrics);
        self
    }

    /// Reserves the place around the user that they were not told about and that `accept`
    /// takes: the venue they shared (a place found there under its name), else the nearest
    /// (see [`ToldPlaces::reserve_nearest`]).
    pub async fn reserve_place(
        &self,
        request: &StoryRequest,
        accept: impl Fn(&Place) -> bool,
    ) -> Result<Option<Reserved>, NoPlace> {
        let places = self
            .finder
            .near(request.point, request.lang, request.radius_m)
            .await
            .map_err(NoPlace::SourcesDown)?;
        let (user, point) = (request.user_id, request.point);
        if let Some(venue) = request.venue.as_deref() {
            let named: Vec<Place> = places
                .iter()
                .filter(|place| same_place(venue, &place.title))
                .cloned()
                .collect();
            let reserved = self
                .told
                .reserve_nearest(user, &named, point, &accept)
                .await;
            if !matches!(reserved, Ok(None)) {
                return reserved.map_err(NoPlace::HistoryUnavailable);
            }
        }
        self.told
            .reserve_nearest(user, &places, point, accept)
            .await
            .map_err(NoPlace::HistoryUnavailable)
    }
}

impl StorySteps {
    /// Writes ahead, while LLM permits are idle (see [`StoryWriter::write_ahead`]), the stories
    /// of the places `choose` picks among those around `request`'s point that its user was not
    /// told about; nothing when writing ahead is off. Returns the places chosen.
    pub async fn write_ahead_of(
        &self,
        request: &StoryRequest,
        choose: impl FnOnce(&[Place]) -> Vec<Place>,
    ) -> Vec<PlaceId> {
        if !self.writer.writes_ahead() {
            return Vec::new();
        }
        let (point, lang) = (request.point, request.lang);
        let Ok(places) = self.finder.near(point, lang, request.radius_m).await else {
            return Vec::new();
        };
        let Ok(untold) = self.told.untold(request.user_id, &places).await else {
            return Vec::new();
        };
        let chosen = choose(&untold);
        for place in &chosen {
            tracing::debug!(user_id = request.user_id, place = %place.id, "a story written ahead");
            let subject = Subject {
                place,
                from: point,
                lang,
                depth: Depth::First,
            };
            self.writer.write_ahead(subject).await;
        }
        chosen.into_iter().map(|place| place.id).collect()
    }
}

/// Turns locations and story buttons into stories.
pub struct Storyteller {
    steps: StorySteps,
    /// Numbers the locations being answered, so a finished one never clears a newer one.
    next_generation: AtomicU64,
    /// Per user: the generation and cancel token of the location being answered.
    in_flight: Mutex<HashMap<u64, (u64, CancellationToken)>>,
}

impl Storyteller {
    /// A storyteller running `steps`.
    pub fn new(steps: StorySteps) -> Self {
        Self {
            steps,
            next_generation: AtomicU64::new(0),
            in_flight: Mutex::default(),
        }
    }

    /// Forgets what `user_id` was told (after /reset).
    pub async fn forget(&self, user_id: u64) {
        self.steps.told.forget(user_id).await;
    }

    /// Answers a location the user just sent: a newer location from the same user cancels
    /// it from the moment this is called; the returned future does the work.
    pub fn tell_nearby(
        self: &Arc<Self>,
        request: StoryRequest,
    ) -> impl Future<Output = ()> + Send + 'static + use<> {
        let (generation, cancel) = self.begin(request.user_id);
        let stories = Arc::clone(self);
        async move {
            let class = SendClass::FirstAnswer;
            tokio::select! {
                () = cancel.cancelled() => tracing::info!("replaced by a newer location"),
                () = stories.tell_nearest_untold(&request, Priority::Interactive, class) => {}
            }
            stories.finish(request.user_id, generation);
        }
    }

    /// The work behind a story button (`request.point` is replaced by the story's own):
    /// "Tell me more", "Another place" or "On the map". Refused when the button is stale or
    /// was not sent to `request`'s user and chat.
    pub fn press(
        self: &Arc<Self>,
        button: StoryButton,
        mut request: StoryRequest,
        token: ButtonToken,
    ) -> Result<impl Future<Output = ()> + Send + 'static + use<>, Refused> {
        let context = self
            .steps
            .teller
            .resolve(token, request.user_id, request.chat)?;
        request.point = context.from;
        let stories = Arc::clone(self);
        Ok(async move {
            match button {
                StoryButton::More => stories.tell_more(&request, &context.place).await,
                StoryButton::Next => {
                    let class = SendClass::Story;
                    stories
                        .tell_nearest_untold(&request, Priority::Interactive, class)
                        .await;
                }
                StoryButton::Map => {
                    let teller = &stories.steps.teller;
                    let (chat, from, lang) = (request.chat, request.point, request.lang);
                    teller.pin(chat, &context.place, from, lang).await;
                }
            }
        })
    }

    /// "Tell me more": the deeper story of `place`.
    async fn tell_more(&self, request: &StoryRequest, place: &Place) {
        let _typing = self.steps.teller.typing_soon(request.chat);
        let (class, priority) = (SendClass::Story, Priority::Interactive);
        let told = self
            .tell_place(request, place, Depth::More, priority, class)
            .await;
        if told {
            self.steps.told.mark_told(request.user_id, &place.id).await;
        }
    }

    /// Finds the nearest untold place and tells it (sent as `class`), or says why there is
    /// none.
    async fn tell_nearest_untold(
        &self,
        request: &StoryRequest,
        priority: Priority,
        class: SendClass,
    ) {
        let steps = &self.steps;
        let _typing = steps.teller.typing_soon(request.chat);
        let texts = request.lang.texts();
        let (chat, point, lang) = (request.chat, request.point, request.lang);
        match steps.reserve_place(request, |_| true).await {
            Ok(Some(reserved)) => {
                let place = &reserved.place;
                if self
                    .tell_place(request, place, Depth::First, priority, class)
                    .await
                {
                    reserved.keep();
                    self.write_next_ahead(request).await;
                    if request.offer_live_hint {
                        let (user_id, chat, lang) = (request.user_id, request.chat, request.lang);
                        steps.teller.live_hint_once(user_id, chat, lang).await;
                    }
                }
            }
            Ok(None) => {
                let near = steps.finder.you_are_near(point, lang).await;
                let note = texts.nothing_nearby.replace("{near}", &near);
                steps.teller.note(chat, note, class).await;
                self.answered_first(request, class, FirstAnswer::Note);
            }
            Err(NoPlace::SourcesDown(error)) => {
                steps.errors.record();
                tracing::warn!(%error, "place lookup failed; using the gazetteer");
                let near = steps.finder.you_are_near(point, lang).await;
                let note = texts.sources_down.replace("{near}", &near);
                steps.teller.note(chat, note, class).await;
                self.answered_first(request, class, FirstAnswer::Note);
            }
            Err(NoPlace::HistoryUnavailable(error)) => {
                tracing::warn!(%error, "no place chosen: the user's history is unreadable");
                steps
                    .teller
                    .note(chat, texts.internal_error.to_owned(), class)
                    .await;
            }
        }
    }

    /// After a story: the next place "Another place" would tell, written ahead while LLM
    /// permits are idle (see [`StoryWriter::write_ahead`]).
    async fn write_next_ahead(&self, request: &StoryRequest) {
        let point = request.point;
        let nearest =
            |untold: &[Place]| choose_place(untold, point, |_| true).into_iter().collect();
        self.steps.write_ahead_of(request, nearest).await;
    }

    /// Writes (or fetches) the story about `place` and sends it as `class`; whether it was
    /// delivered. The buttons work as soon as the first part is sent.
    async fn tell_place(
        &self,
        request: &StoryRequest,
        place: &Place,
        depth: Depth,
        priority: Priority,
        class: SendClass,
    ) -> bool {
        let steps = &self.steps;
        let subject = Subject {
            place,
            from: request.point,
            lang: request.lang,
            depth,
        };
        let drafts = steps
            .teller
            .drafts(&request.listener(), place, FirstDraft::Title, class);
        let progress = drafts.as_ref().map(|(progress, _)| progress);
        let (text, source, late) = steps
            .writer
            .story_or_late(subject, priority, progress)
            .await;
        if let Some((_, drafts)) = drafts {
            drafts.finish().await;
        }
        let told = Told {
            place,
            shown: place,
            text: &text,
            source,
        };
        let listener = request.listener();
        match steps.teller.deliver(&listener, &told, class).await {
            Ok(message) => {
                tracing::info!(place = %place.id, ?source, "story told");
                if let Some(late) = late {
                    let teller = &steps.teller;
                    teller.upgrade_when_written(listener, message, place, late, String::new());
                }
                true
            }
            Err(error) if error.is_budget() => {
                steps.teller.busy_note(request.chat, request.lang).await;
                self.answered_first(request, class, FirstAnswer::Busy);
                false
            }
            Err(error) => {
                tracing::warn!(%error, "story not delivered");
                false
            }
        }
    }

    /// Measures the first answer to a location that is not a story (a message sent as
    /// `class` `FirstAnswer`; the teller measures stories).
    fn answered_first(&self, request: &StoryRequest, class: SendClass, kind: FirstAnswer) {
        if class == SendClass::FirstAnswer {
            self.steps.teller.answered_first(kind, request.started);
        }
    }

    fn begin(&self, user_id: u64) -> (u64, CancellationToken) {
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, older)) = in_flight.insert(user_id, (generation, token.clone())) {
            older.cancel();
        }
        (generation, token)
    }

    fn finish(&self, user_id: u64, generation: u64) {
        let mut in_flight = self
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if in_flight
            .get(&user_id)
            .is_some_and(|(current, _)| *current == generation)
        {
            in_flight.remove(&user_id);
        }
    }
}
