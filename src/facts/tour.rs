//! Tour stories: the pipeline's side of a live-location tour, as the [`TourGuide`] actor the
//! tours actor talks to.
//!
//! A tour asks for one story at a time ([`TellTourStory`]) and learns what happened from the
//! [`TourOutcome`], so it numbers only the stories that were really sent. Unlike a location
//! the user just sent, a tour tick never says "nothing nearby": it either tells the nearest
//! untold place ("#N", a heading cue, the usual photo, caption and buttons) or quietly
//! reports why not. A `Live` tick's story waits for the LLM at most its request's
//! `patience` (a fraction of the interval), then the place's summary is told: a tick that
//! finds a place never goes quiet. Nothing is sent once the request's cancel token fires (the tour ended meanwhile). After
//! a tick's patience before each tick, the story it is about to tell is written ahead
//! ([`ahead`], [`WriteTourAhead`], with `LLM_WRITE_AHEAD`), and the tick tells it even when
//! the walker's last fix moved the nearest untold place a block on (see [`ahead`]). The guide
//! also sends each tour's summary and records the finished tour.

pub mod ahead;

use std::panic::AssertUnwindSafe;

use actix::prelude::*;
use futures::FutureExt;
use teloxide::types::{ChatId, InlineKeyboardMarkup};

use super::{
    Depth, StoryRequest, StorySteps,
    teller::{FirstDraft, Told},
    told::Reserved,
    writer::{GateBusy, LateStory, Subject, summary},
};
use crate::{
    actors::{
        db_actor::{DbActor, DonorStars, RecordTour},
        live_sessions::{TellTourStory, TourEnded, TourOutcome, TourStoryRequest, WriteTourAhead},
        openai_gate::Priority,
        supervision::contained,
    },
    db::{now_ms, queries::FinishedTour},
    i18n::Lang,
    payments::support_button,
    places::{Place, PlaceId},
    story::StorySource,
    telegram::{SendClass, TelegramError},
    tour::EndReason,
    users::UserStore,
};

/// Donors of this many days get their tour stories at `Interactive` priority.
pub const DONOR_PERK_DAYS: u32 = 30;

/// Where to look for a place, relative to the direction the walker is heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadingCue {
    /// Within 45 degrees of the heading.
    Ahead,
    /// 45-135 degrees clockwise from the heading.
    Right,
    /// More than 135 degrees from the heading either way.
    Behind,
    /// 45-135 degrees counter-clockwise from the heading.
    Left,
}

impl HeadingCue {
    /// The cue for a place at `bearing_deg` seen by someone heading `heading_deg` (both
    /// clockwise from north).
    pub fn new(heading_deg: f64, bearing_deg: f64) -> Self {
        let relative = (bearing_deg - heading_deg).rem_euclid(360.0);
        match relative {
            r if !(45.0..315.0).contains(&r) => HeadingCue::Ahead,
            r if r < 135.0 => HeadingCue::Right,
            r if r <= 225.0 => HeadingCue::Behind,
            _ => HeadingCue::Left,
        }
    }

    /// The cue in `lang`, e.g. "👀 On your left".
    pub fn text(self, lang: Lang) -> &'static str {
        let cues = &lang.texts().heading_cues;
        match self {
            HeadingCue::Ahead => cues[0],
            HeadingCue::Right => cues[1],
            HeadingCue::Behind => cues[2],
            HeadingCue::Left => cues[3],
        }
    }
}

/// Tells tours' stories and summaries: the production guide of the tours actor.
pub struct TourGuide {
    steps: StorySteps,
    /// For each story's radius and photo preferences (they may change during a tour).
    users: UserStore,
    /// Where finished tours are recorded (a user's distance walked).
    db: Addr<DbActor>,
    /// The places written ahead for each walker's coming tick.
    written_ahead: ahead::WrittenAhead,
}

impl TourGuide {
    /// A guide running the pipeline's `steps`, reading `users`' preferences, recording
    /// finished tours with `db`.
    pub fn new(steps: StorySteps, users: UserStore, db: Addr<DbActor>) -> Self {
        Self {
            steps,
            users,
            db,
            written_ahead: ahead::WrittenAhead::default(),
        }
    }
}

impl Actor for TourGuide {
    type Context = Context<Self>;
}

impl Supervised for TourGuide {}

impl Handler<TellTourStory> for TourGuide {
    type Result = ResponseFuture<TourOutcome>;

    fn handle(
        &mut self,
        TellTourStory(request): TellTourStory,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        let (steps, users, db) = (self.steps.clone(), self.users.clone(), self.db.clone());
        let written_ahead = self.written_ahead.take(request.user_id);
        contained(ctx, async move {
            let mut request = request;
            if request.priority == Priority::Live && is_donor(&db, request.user_id).await {
                // A donor's perk: their tour stories wait in the queue of people waiting.
                request.priority = Priority::Interactive;
            }
            let preferences = users.preferences(request.user_id).await;
            let story = story_request(&request, preferences.radius_m, preferences.photos);
            // A panic here would take the guide's thread down with every tour's story.
            let told = tell_tour_story(&steps, &story, &request, &written_ahead);
            let told = AssertUnwindSafe(told).catch_unwind();
            told.await.unwrap_or_else(|_| {
                tracing::error!("a tour story panicked");
                TourOutcome::Unavailable
            })
        })
    }
}

impl Handler<WriteTourAhead> for TourGuide {
    type Result = ResponseFuture<()>;

    fn handle(
        &mut self,
        WriteTourAhead(tour, share): WriteTourAhead,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        if !self.steps.writer.writes_ahead() {
            return Box::pin(async {});
        }
        let (steps, users) = (self.steps.clone(), self.users.clone());
        let written_ahead = self.written_ahead.clone();
        contained(ctx, async move {
            let preferences = users.preferences(tour.user_id).await;
            let story = story_request(&tour, preferences.radius_m, preferences.photos);
            let places = ahead::write_ahead(&steps, &story, &tour, share).await;
            written_ahead.record(tour.user_id, places);
        })
    }
}

impl Handler<TourEnded> for TourGuide {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, ended: TourEnded, ctx: &mut Self::Context) -> Self::Result {
        self.written_ahead.take(ended.user_id);
        self.db.do_send(RecordTour(FinishedTour {
            user_id: ended.user_id as i64,
            started_at: ended.started_at,
            ended_at: ended.ended_at,
            stories_told: ended.summary.stories,
            distance_walked_m: ended.summary.distance_m,
        }));
        let teller = self.steps.teller.clone();
        contained(ctx, async move {
            if ended.reason == EndReason::Blocked {
                return;
            }
            let text = ended.summary.text(ended.lang);
            // After the tour, never in the way of a story: a way to support the bot.
            let support = InlineKeyboardMarkup::new([[support_button(ended.lang)]]);
            let chat = ChatId(ended.chat_id);
            teller
                .note_with_buttons(chat, text, support, SendClass::Other)
                .await;
        })
    }
}

/// Whether `user_id` donated in the last [`DONOR_PERK_DAYS`] days (a failed read: no).
async fn is_donor(db: &Addr<DbActor>, user_id: u64) -> bool {
    let since_ms = now_ms() - i64::from(DONOR_PERK_DAYS) * 24 * 3600 * 1000;
    let asked = db.send(DonorStars {
        user_id: user_id as i64,
        since_ms,
    });
    match asked.await {
        Ok(Ok(stars)) => stars > 0,
        Ok(Err(error)) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "donations unreadable"
            );
            false
        }
        Err(error) => {
            tracing::error!(%error, "the database actor is unreachable");
            false
        }
    }
}

/// The pipeline's request for a tour story, with the user's radius and photo preferences.
fn story_request(tour: &TourStoryRequest, radius_m: u32, photos: bool) -> StoryRequest {
    StoryRequest {
        user_id: tour.user_id,
        chat: tour.chat,
        point: tour.point,
        lang: tour.lang,
        radius_m,
        photos,
        venue: None,
        started: tour.asked_at,
        offer_live_hint: false,
    }
}

/// Tells the nearest untold place on a tour (or one `written_ahead` for it, see
/// [`ahead::reserve_tick_place`]), numbered and with a heading cue; see [`TourOutcome`] for
/// everything else that can happen. Never sends after `cancel` fires.
async fn tell_tour_story(
    steps: &StorySteps,
    story: &StoryRequest,
    tour: &TourStoryRequest,
    written_ahead: &[PlaceId],
) -> TourOutcome {
    let prepared = tokio::select! {
        () = tour.cancel.cancelled() => return TourOutcome::Cancelled,
        prepared = prepare(steps, story, tour, written_ahead) => prepared,
    };
    let (reserved, written) = match prepared {
        Ok(prepared) => prepared,
        Err(outcome) => return outcome,
    };
    if tour.cancel.is_cancelled() {
        return TourOutcome::Cancelled;
    }
    let outcome = send(steps, story, tour, &reserved.place, written).await;
    if matches!(outcome, TourOutcome::Told { .. }) {
        reserved.keep();
    }
    outcome
}

/// Reserves the place and writes its story, or says why not.
async fn prepare(
    steps: &StorySteps,
    story: &StoryRequest,
    tour: &TourStoryRequest,
    written_ahead: &[PlaceId],
) -> Result<(Reserved, Written), TourOutcome> {
    let nearer = |place: &Place| {
        tour.nearer_than_m
            .is_none_or(|limit| place.distance_m < limit)
    };
    let reserved = ahead::reserve_tick_place(steps, story, written_ahead, nearer)
        .await
        .map_err(|error| {
            tracing::info!(?error, "tour tick: no place can be chosen now");
            TourOutcome::Unavailable
        })?
        .ok_or(TourOutcome::NothingNew)?;
    let written = text(steps, &reserved.place, story, tour).await;
    Ok((reserved, written))
}

/// A tour story's text, where it came from, and (for the first story, told as the summary
/// because no LLM permit was free in time) the story still being written.
struct Written {
    text: String,
    source: StorySource,
    late: Option<LateStory>,
}

/// The story text: cache, else the gate, else the place's own summary. A tick's story waits
/// for the LLM (queued behind people, then written) at most its `patience`, then the summary
/// is told; the call goes on and caches its story for later. The first story (`Interactive`)
/// is the answer to the location just shared, like a one-off one: the summary when the story
/// cannot start within `LLM_START_WAIT_MS`, replaced by the story once written. Once the text
/// starts coming, the walker sees it as a draft: nothing ("typing…" included) shows while
/// the story only waits for a permit.
async fn text(
    steps: &StorySteps,
    place: &Place,
    story: &StoryRequest,
    tour: &TourStoryRequest,
) -> Written {
    let subject = Subject {
        place,
        from: story.point,
        lang: story.lang,
        depth: Depth::First,
    };
    let shown = numbered(place, tour.number);
    let drafts = steps.teller.drafts(
        &story.listener(),
        &shown,
        FirstDraft::FirstWords,
        class_of(tour),
    );
    let progress = drafts.as_ref().map(|(progress, _)| progress);
    let priority = tour.priority;
    let written = if tour.number == 1 {
        let written = steps.writer.story_or_late(subject, priority, progress);
        let (text, source, late) = written.await;
        Written { text, source, late }
    } else {
        let patience = Some(tour.patience);
        let written = steps
            .writer
            .story_or_busy(subject, priority, patience, progress);
        let (text, source) = written.await.unwrap_or_else(|GateBusy| {
            tracing::info!("tour tick: the LLM is busy; telling the summary");
            summary(subject)
        });
        Written {
            text,
            source,
            late: None,
        }
    };
    if let Some((_, drafts)) = drafts {
        drafts.finish().await;
    }
    written
}

/// How a tour's story is sent: the first is the answer to the location just shared.
fn class_of(tour: &TourStoryRequest) -> SendClass {
    if tour.number == 1 {
        SendClass::FirstAnswer
    } else {
        SendClass::Story
    }
}

/// The place as a tour shows it: "#N · title".
fn numbered(place: &Place, number: u32) -> Place {
    let mut shown = place.clone();
    shown.title = format!("#{number} · {}", place.title);
    shown
}

/// Sends the numbered story with its heading cue.
async fn send(
    steps: &StorySteps,
    story: &StoryRequest,
    tour: &TourStoryRequest,
    place: &Place,
    written: Written,
) -> TourOutcome {
    let shown = numbered(place, tour.number);
    let with_cue = |text: &str| match tour.heading {
        Some(heading) => {
            let bearing = story.point.bearing_deg(&place.coordinates);
            let cue = HeadingCue::new(f64::from(heading), bearing);
            format!("{}\n\n{text}", cue.text(story.lang))
        }
        None => text.to_owned(),
    };
    let (body, source) = (with_cue(&written.text), written.source);
    let class = class_of(tour);
    let told = Told {
        place,
        shown: &shown,
        text: &body,
        source,
    };
    let listener = story.listener();
    match steps.teller.deliver(&listener, &told, class).await {
        Ok(message) => {
            tracing::info!(user_id = story.user_id, place = %place.id, number = tour.number, ?source, "tour story told");
            if let Some(late) = written.late {
                let teller = &steps.teller;
                teller.upgrade_when_written(listener, message, &shown, late, with_cue(""));
            }
            if tour.number > 1 {
                steps.teller.answered_tick(source, tour.asked_at);
            }
            TourOutcome::Told {
                place: place.id.clone(),
                distance_m: story.point.distance_m(&place.coordinates),
                source,
            }
        }
        Err(error) => {
            tracing::warn!(%error, "tour story not delivered");
            let blocked = matches!(error, TelegramError::Blocked);
            TourOutcome::Undelivered { blocked }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cue_follows_the_bearing_relative_to_the_heading() {
        assert_eq!(HeadingCue::new(90.0, 100.0), HeadingCue::Ahead);
        assert_eq!(HeadingCue::new(360.0, 10.0), HeadingCue::Ahead);
        assert_eq!(HeadingCue::new(10.0, 350.0), HeadingCue::Ahead);
        assert_eq!(HeadingCue::new(0.0, 90.0), HeadingCue::Right);
        assert_eq!(HeadingCue::new(0.0, 180.0), HeadingCue::Behind);
        assert_eq!(HeadingCue::new(90.0, 0.0), HeadingCue::Left);
        assert_eq!(HeadingCue::new(270.0, 0.0), HeadingCue::Right);
    }

    #[test]
    fn every_cue_has_text_in_both_languages() {
        for cue in [
            HeadingCue::Ahead,
            HeadingCue::Right,
            HeadingCue::Behind,
            HeadingCue::Left,
        ] {
            assert!(!cue.text(Lang::En).is_empty() && !cue.text(Lang::Ru).is_empty());
        }
        assert_eq!(HeadingCue::Left.text(Lang::En), "👀 On your left");
    }
}
