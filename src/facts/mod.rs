//! The facts pipeline: from a location to a story about a real place nearby.
//!
//! 1. Places near the point: the place list cache (a ~110 m cell), else Wikipedia (the user's
//!    language, English fallback, widening radius). Wikipedia unreachable: the offline
//!    gazetteer names the locality and the user is told to try again shortly.
//! 2. The nearest place this user has not been told about.
//! 3. Its story: the fact cache, else the LLM through the `OpenAiGate` (single-flight, so a
//!    crowd at one spot costs one call), else the place's own summary, marked as such.
//! 4. The reply (see [`reply`]): photo, caption, source link, buttons, venue pin.
//!
//! At most one location per user is in flight: a newer one cancels the older.

pub mod buttons;
pub mod prompt;
pub mod reply;
pub mod told;
pub mod tour;

use std::{
    collections::HashMap,
    future::Future,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix::Addr;
use teloxide::{prelude::Requester, types::ChatId};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{
    actors::{
        db_actor::{DbActor, Delivered},
        fact_cache::{CacheSnapshot, FactCache, Get, Put, Stats as CacheStats},
        openai_gate::{
            ChatPrompt, DEFAULT_INTERACTIVE_QUEUE_WAIT, GateError, GateSnapshot, GateStats,
            Generate, OpenAiGate, Priority,
        },
    },
    cache::{fact_key, more_fact_key, places_key},
    db::{now_ms, queries::Delivery},
    geo::Coordinates,
    i18n::Lang,
    places::{
        Place, PlaceError, PlaceId, PlaceSource, find_places, gazetteer::Gazetteer,
        names::same_place,
    },
    stats::ErrorLog,
    telegram::{Outbox, SendClass, TelegramError},
};
use buttons::{ButtonToken, Refused, StoryButtons, StoryContext};
use reply::{StoryReply, send_pin, send_story};
use told::{Reserved, ToldPlaces};

/// Search radius when the user has not chosen one.
pub const DEFAULT_RADIUS_M: u32 = 1000;
/// Cells whose lookups can be in flight at once.
const LOOKUPS_CAPACITY: u64 = 10_000;
/// Sentences of the place's own summary used when the LLM cannot write.
const FALLBACK_SENTENCES: usize = 3;
/// "typing…" shows only when an answer takes longer than this: an answer from the cache
/// arrives first, and the call is saved.
const TYPING_AFTER: Duration = Duration::from_millis(400);

/// Where a story came from (for statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorySource {
    /// The fact cache.
    Cache,
    /// A fresh LLM call.
    Llm,
    /// The place's own summary.
    Fallback,
}

impl StorySource {
    /// The name stored in `fact_deliveries.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorySource::Cache => "cache",
            StorySource::Llm => "llm",
            StorySource::Fallback => "fallback",
        }
    }
}

/// A story ready to go out.
struct Told<'a> {
    /// The place it is about (the buttons' context, the delivery row).
    place: &'a Place,
    /// The place as shown: a tour's story shows "#N · title".
    shown: &'a Place,
    /// The story text.
    text: &'a str,
    source: StorySource,
}

/// Why no place was chosen.
#[derive(Debug)]
enum NoPlace {
    /// The place sources could not be reached.
    SourcesDown(Arc<PlaceError>),
    /// The user's history could not be read: a place might be told twice.
    HistoryUnavailable(told::HistoryUnavailable),
}

/// The LLM gate shed a request or kept it queued too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GateBusy;

/// Why the LLM wrote no story.
enum NoStory {
    /// Shed or waited too long in the queue: worth trying again later.
    Busy,
    /// Failed, refused, timed out or empty: tell the summary.
    Failed,
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

/// A first story or a "tell me more".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The short first story.
    First,
    /// The deeper story behind "Tell me more".
    More,
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
}

/// Turns locations into stories.
pub struct Storyteller {
    places: Arc<dyn PlaceSource>,
    gazetteer: Gazetteer,
    cache: Addr<FactCache>,
    /// `None` when no `OPENAI_API_KEY` is set: every story is the summary.
    gate: Option<Addr<OpenAiGate>>,
    outbox: Outbox,
    told: ToldPlaces,
    /// Place lists being fetched, so concurrent lookups of a cell share one fetch. Each is
    /// dropped once fetched: the fact cache keeps the list (as compact JSON) for the next
    /// visitor, and keeping it here too would hold every list twice.
    lookups: moka::future::Cache<String, Arc<Vec<Place>>>,
    /// What the buttons under recent stories refer to, and whom they belong to.
    buttons: StoryButtons,
    /// Numbers the locations being answered, so a finished one never clears a newer one.
    next_generation: AtomicU64,
    /// Per user: the generation and cancel token of the location being answered.
    in_flight: Mutex<HashMap<u64, (u64, CancellationToken)>>,
    /// Where deliveries are recorded.
    db: Addr<DbActor>,
    /// Longest a user waits for a written story before the summary is sent instead.
    llm_wait: Duration,
    errors: ErrorLog,
}

/// The sources and actors a [`Storyteller`] works with.
pub struct StorySources {
    /// Where places come from.
    pub places: Arc<dyn PlaceSource>,
    /// Stories and place lists.
    pub cache: Addr<FactCache>,
    /// The LLM, if configured.
    pub gate: Option<Addr<OpenAiGate>>,
    /// Users' memory.
    pub db: Addr<DbActor>,
    /// What each user was told.
    pub told: ToldPlaces,
    /// Where failures are counted.
    pub errors: ErrorLog,
}

impl Storyteller {
    /// A storyteller over these sources and actors.
    pub fn new(sources: StorySources, outbox: Outbox) -> Self {
        let StorySources {
            places,
            cache,
            gate,
            db,
            told,
            errors,
        } = sources;
        Self {
            places,
            gazetteer: Gazetteer::new(),
            cache,
            gate,
            outbox,
            told,
            lookups: moka::future::Cache::new(LOOKUPS_CAPACITY),
            buttons: StoryButtons::new(),
            next_generation: AtomicU64::new(0),
            in_flight: Mutex::default(),
            db,
            errors,
            llm_wait: DEFAULT_INTERACTIVE_QUEUE_WAIT,
        }
    }

    /// Sets how long a user waits for a written story (`LLM_QUEUE_WAIT_SECS`) before the
    /// place's summary is sent; the story is still cached when it comes.
    pub fn with_llm_wait(mut self, llm_wait: Duration) -> Self {
        self.llm_wait = llm_wait;
        self
    }

    /// The fact cache's counters.
    pub async fn cache_stats(&self) -> Option<CacheSnapshot> {
        self.cache.send(CacheStats).await.ok()
    }

    /// The LLM gate's state, if there is an LLM.
    pub async fn gate_stats(&self) -> Option<GateSnapshot> {
        self.gate.as_ref()?.send(GateStats).await.ok()
    }

    /// Forgets what `user_id` was told (after /reset).
    pub async fn forget(&self, user_id: u64) {
        self.told.forget(user_id).await;
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
        let context = self.buttons.resolve(token, request.user_id, request.chat)?;
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
                StoryButton::Map => stories.show_on_map(&request, &context.place).await,
            }
        })
    }

    /// "Tell me more": the deeper story of `place`.
    async fn tell_more(&self, request: &StoryRequest, place: &Place) {
        let _typing = self.typing_soon(request.chat);
        let (class, priority) = (SendClass::Story, Priority::Interactive);
        let told = self
            .tell_place(request, place, Depth::More, priority, class)
            .await;
        if told.is_some() {
            self.told.mark_told(request.user_id, &place.id).await;
        }
    }

    /// "On the map": the venue pin at the place's own coordinates, with its distance and
    /// direction from where the story was told.
    async fn show_on_map(&self, request: &StoryRequest, place: &Place) {
        let pinned = send_pin(
            &self.outbox,
            request.chat,
            place,
            request.point,
            request.lang,
        );
        if let Err(error) = pinned.await {
            tracing::warn!(%error, "map pin not delivered");
        }
    }

    /// Finds the nearest untold place and tells it (sent as `class`), or says why there is
    /// none.
    pub async fn tell_nearest_untold(
        &self,
        request: &StoryRequest,
        priority: Priority,
        class: SendClass,
    ) {
        let _typing = self.typing_soon(request.chat);
        let texts = request.lang.texts();
        match self.reserve_nearest(request, |_| true).await {
            Ok(Some(reserved)) => {
                let told = self
                    .tell_place(request, &reserved.place, Depth::First, priority, class)
                    .await;
                if told.is_some() {
                    reserved.keep();
                }
            }
            Ok(None) => self.say_near(request, texts.nothing_nearby, class).await,
            Err(NoPlace::SourcesDown(error)) => {
                self.errors.record();
                tracing::warn!(%error, "place lookup failed; using the gazetteer");
                self.say_near(request, texts.sources_down, class).await;
            }
            Err(NoPlace::HistoryUnavailable(error)) => {
                self.errors.record();
                tracing::warn!(%error, "no place chosen: the user's history is unreadable");
                let note = self
                    .outbox
                    .bot()
                    .send_message(request.chat, texts.internal_error);
                if let Err(error) = self.outbox.send(request.chat, class, note).await {
                    tracing::warn!(%error, "note not delivered");
                }
            }
        }
    }

    /// Writes (or fetches) the story about `place` and sends it as `class`; where it came
    /// from when it was delivered. The buttons work as soon as the first part is sent.
    pub async fn tell_place(
        &self,
        request: &StoryRequest,
        place: &Place,
        depth: Depth,
        priority: Priority,
        class: SendClass,
    ) -> Option<StorySource> {
        let (text, source) = self.story(place, request, depth, priority).await;
        let told = Told {
            place,
            shown: place,
            text: &text,
            source,
        };
        match self.deliver(request, &told, class).await {
            Ok(()) => {
                tracing::info!(place = %place.id, ?source, "story told");
                Some(source)
            }
            Err(error) if error.is_budget() => {
                self.busy_note(request.chat, request.lang).await;
                None
            }
            Err(error) => {
                tracing::warn!(%error, "story not delivered");
                None
            }
        }
    }

    /// The one way a story goes out, one-off or on a tour: its buttons' context is kept
    /// first (so they work from the first part sent on), then the reply is sent, then the
    /// delivery is recorded.
    async fn deliver(
        &self,
        request: &StoryRequest,
        told: &Told<'_>,
        class: SendClass,
    ) -> Result<(), TelegramError> {
        let token = self.buttons.issue(StoryContext {
            place: told.place.clone(),
            from: request.point,
            user_id: request.user_id,
            chat: request.chat,
        });
        let reply = StoryReply {
            place: told.shown,
            text: told.text,
            is_summary: told.source == StorySource::Fallback,
            from: request.point,
            lang: request.lang,
            photos: request.photos,
            token,
        };
        send_story(&self.outbox, request.chat, class, &reply).await?;
        let row = delivery(request, told.place, told.source);
        self.db.do_send(Delivered(row));
        Ok(())
    }

    async fn story(
        &self,
        place: &Place,
        request: &StoryRequest,
        depth: Depth,
        priority: Priority,
    ) -> (String, StorySource) {
        let wait = Some(self.llm_wait);
        self.story_or_busy(place, request, depth, priority, wait)
            .await
            .unwrap_or_else(|GateBusy| {
                (fallback_text(&place.summary, depth), StorySource::Fallback)
            })
    }

    /// The story about `place`: the fact cache, else the LLM (waiting at most `wait`), else the
    /// place's own summary; `Err(GateBusy)` when the gate shed the request or it waited too
    /// long in the queue (a tour tick then tries again at the next tick).
    pub(crate) async fn story_or_busy(
        &self,
        place: &Place,
        request: &StoryRequest,
        depth: Depth,
        priority: Priority,
        wait: Option<Duration>,
    ) -> Result<(String, StorySource), GateBusy> {
        let lang = request.lang;
        let key = match depth {
            Depth::First => fact_key(lang.code(), &place.id),
            Depth::More => more_fact_key(lang.code(), &place.id),
        };
        if let Ok(Some(text)) = self.cache.send(Get(key.clone())).await {
            return Ok((text.to_string(), StorySource::Cache));
        }
        let fallback = || (fallback_text(&place.summary, depth), StorySource::Fallback);
        let Some(gate) = &self.gate else {
            return Ok(fallback());
        };
        let prompt = match depth {
            Depth::First => prompt::story(place, request.point, lang),
            Depth::More => prompt::deeper_story(place, request.point, lang),
        };
        match self.written_story(gate, key, prompt, priority, wait).await {
            Ok(text) => Ok((text, StorySource::Llm)),
            Err(NoStory::Busy) => Err(GateBusy),
            Err(NoStory::Failed) => Ok(fallback()),
        }
    }

    /// Asks the gate for a story and waits at most `wait` for it (`None`: until the gate
    /// answers). The call runs in a task of its own that caches the story when it comes, so a
    /// user is never kept waiting past `wait`, a slow story still serves the next visitor, and
    /// no call is wasted (or made twice) because its first asker stopped waiting or sent a
    /// newer location.
    async fn written_story(
        &self,
        gate: &Addr<OpenAiGate>,
        key: String,
        prompt: ChatPrompt,
        priority: Priority,
        wait: Option<Duration>,
    ) -> Result<String, NoStory> {
        let request = Generate::new(key.clone(), prompt, priority);
        let (gate, cache) = (gate.clone(), self.cache.clone());
        let call = tokio::spawn(
            async move {
                let answer = gate.send(request).await;
                if let Ok(Ok(text)) = &answer
                    && !text.trim().is_empty()
                {
                    let value: Arc<str> = text.as_str().into();
                    cache.do_send(Put { key, value });
                }
                answer
            }
            .in_current_span(),
        );
        let waited = match wait {
            Some(wait) => tokio::time::timeout(wait, call).await,
            None => Ok(call.await),
        };
        let outcome = match waited {
            Ok(Ok(Ok(answer))) => answer,
            Ok(Ok(Err(error))) => {
                tracing::warn!(%error, "LLM gate unreachable; telling the summary");
                return Err(NoStory::Failed);
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "LLM task failed; telling the summary");
                return Err(NoStory::Failed);
            }
            Err(_) => {
                tracing::info!("no LLM story in time; telling the summary, caching it later");
                return Err(NoStory::Failed);
            }
        };
        match outcome {
            Ok(text) if !text.trim().is_empty() => Ok(text),
            Ok(_) => Err(NoStory::Failed),
            Err(GateError::Shed(_) | GateError::QueueWait) => Err(NoStory::Busy),
            Err(error) => {
                if error.is_service_failure() {
                    self.errors.record();
                }
                tracing::info!(%error, "no LLM story; telling the summary");
                Err(NoStory::Failed)
            }
        }
    }

    /// Reserves the place around the user that they were not told about and that `accept`
    /// takes: the venue they shared (a place found there under its name), else the nearest
    /// (see [`ToldPlaces::reserve_nearest`]).
    async fn reserve_nearest(
        &self,
        request: &StoryRequest,
        accept: impl Fn(&Place) -> bool,
    ) -> Result<Option<Reserved>, NoPlace> {
        let places = self
            .places_near(request)
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

    /// The places around the user's ~110 m cell, from the cache or Wikipedia (distances as
    /// found for the cell; [`choose_place`] measures from the user).
    async fn places_near(
        &self,
        request: &StoryRequest,
    ) -> Result<Arc<Vec<Place>>, Arc<PlaceError>> {
        let (point, lang, radius) = (request.point, request.lang, request.radius_m);
        let key = places_key(lang.code(), point, radius);
        // Concurrent lookups of one cell share a single fetch (a crowd costs one request);
        // whoever gets the list lets go of the shared copy.
        let fetch = self.fetch_places(key.clone(), point, lang, radius);
        let places = self.lookups.try_get_with_by_ref(&key, fetch).await;
        self.lookups.invalidate(&key).await;
        // moka holds an invalidated value until its next housekeeping; do it now.
        self.lookups.run_pending_tasks().await;
        places
    }

    /// The place list of a cell from the fact cache, else from the place source.
    async fn fetch_places(
        &self,
        key: String,
        point: Coordinates,
        lang: Lang,
        radius: u32,
    ) -> Result<Arc<Vec<Place>>, PlaceError> {
        if let Ok(Some(json)) = self.cache.send(Get(key.clone())).await
            && let Ok(places) = serde_json::from_str::<Vec<Place>>(&json)
        {
            return Ok(Arc::new(places));
        }
        let found = find_places(self.places.as_ref(), point, lang.code(), radius).await?;
        if let Ok(json) = serde_json::to_string(&found) {
            self.cache.do_send(Put {
                key,
                value: json.into(),
            });
        }
        Ok(Arc::new(found))
    }

    /// Sends `template` (as `class`) with the nearest locality's name in place of `{near}`.
    async fn say_near(&self, request: &StoryRequest, template: &str, class: SendClass) {
        let texts = request.lang.texts();
        let near = match self.gazetteer.nearest(request.point) {
            Some(locality) => texts
                .you_are_near
                .replace("{locality}", &teloxide::utils::html::escape(&locality.name)),
            None => String::new(),
        };
        let text = template.replace("{near}", &near);
        let message = self.outbox.bot().send_message(request.chat, text);
        if let Err(error) = self.outbox.send(request.chat, class, message).await {
            tracing::warn!(%error, "note not delivered");
        }
    }

    /// A story could not go within the send budget: a short "busy" note instead, ahead of
    /// other stories, rather than the story minutes late.
    pub(crate) async fn busy_note(&self, chat: ChatId, lang: Lang) {
        tracing::info!(
            chat_id = chat.0,
            "story not sent in time; a busy note instead"
        );
        let note = self.outbox.bot().send_message(chat, lang.texts().busy);
        if let Err(error) = self.outbox.send(chat, SendClass::Reply, note).await {
            tracing::warn!(%error, "busy note not delivered");
        }
    }

    /// Shows "typing…" if the answer is not out within [`TYPING_AFTER`] (and the send budget
    /// has room then); dropping the guard cancels it.
    fn typing_soon(&self, chat: ChatId) -> TypingSoon {
        let outbox = self.outbox.clone();
        TypingSoon(tokio::spawn(async move {
            tokio::time::sleep(TYPING_AFTER).await;
            outbox.typing(chat);
        }))
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

/// A "typing…" that will show unless dropped first.
struct TypingSoon(tokio::task::JoinHandle<()>);

impl Drop for TypingSoon {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The nearest of `places` for which `is_untold` holds, with its distance measured from
/// `point` itself (a cached list may have been found for a neighbour in the same cell).
pub fn choose_place(
    places: &[Place],
    point: Coordinates,
    is_untold: impl Fn(&PlaceId) -> bool,
) -> Option<Place> {
    places
        .iter()
        .filter(|place| is_untold(&place.id))
        .map(|place| (place, point.distance_m(&place.coordinates)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(place, distance_m)| Place {
            distance_m,
            ..place.clone()
        })
}

/// The delivery row for a story just sent.
fn delivery(request: &StoryRequest, place: &Place, source: StorySource) -> Delivery {
    Delivery {
        user_id: request.user_id as i64,
        place_id: place.id.0.clone(),
        place_title: place.title.clone(),
        lat: place.coordinates.lat,
        lon: place.coordinates.lon,
        source: source.as_str(),
        latency_ms: i64::try_from(request.started.elapsed().as_millis()).unwrap_or(i64::MAX),
        at: now_ms(),
    }
}

/// The first sentences of a summary (all of it, up to a limit, for "tell me more").
pub fn fallback_text(summary: &str, depth: Depth) -> String {
    let (sentences, limit) = match depth {
        Depth::First => (FALLBACK_SENTENCES, 700),
        Depth::More => (12, 2500),
    };
    let mut text = String::new();
    for sentence in summary
        .split_inclusive(['.', '!', '?', '。'])
        .take(sentences)
    {
        if !text.is_empty() && text.chars().count() + sentence.chars().count() > limit {
            break;
        }
        text.push_str(sentence);
    }
    let text = text.trim();
    if text.chars().count() > limit {
        let cut: String = text.chars().take(limit).collect();
        format!("{}…", cut.trim_end())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_is_the_first_three_sentences() {
        let summary = "One. Two is here! Three? Four. Five.";
        assert_eq!(
            fallback_text(summary, Depth::First),
            "One. Two is here! Three?"
        );
        assert_eq!(fallback_text(summary, Depth::More), summary);
    }

    #[test]
    fn a_fallback_never_exceeds_its_limit() {
        let summary = "x".repeat(5000);
        assert!(fallback_text(&summary, Depth::First).chars().count() <= 701);
    }
}
