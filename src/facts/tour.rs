//! Tour stories: the storyteller's side of a live-location tour.
//!
//! A tour asks for one story at a time with a [`TourStoryRequest`] and learns what happened
//! from the [`TourOutcome`], so it numbers only the stories that were really sent. Unlike a
//! location the user just sent, a tour tick never says "nothing nearby": it either tells the
//! nearest untold place ("#N", a heading cue, the usual photo, caption, buttons and pin) or
//! quietly reports why not. A `Live` tick that finds every LLM permit taken does not queue
//! behind them: it answers [`TourOutcome::GateBusy`] and the tour tries again at its next tick.
//! Nothing is sent once the request's cancel token fires (the tour ended meanwhile).

use std::time::Instant;

use teloxide::types::ChatId;
use tokio_util::sync::CancellationToken;

use super::{
    Depth, GateBusy, StoryRequest, StorySource, Storyteller, Told, fallback_text, told::Reserved,
};
use crate::{
    actors::openai_gate::{GateStats, Priority},
    geo::Coordinates,
    i18n::Lang,
    places::{Place, PlaceId},
    telegram::{SendClass, TelegramError},
};

/// One story for a tour.
#[derive(Debug, Clone)]
pub struct TourStoryRequest {
    /// Telegram user id (whose "told" places to skip).
    pub user_id: u64,
    /// Where the story goes.
    pub chat: ChatId,
    /// The walker's position.
    pub point: Coordinates,
    /// Direction of movement in degrees (1-360, Telegram's `heading`), for "on your left".
    pub heading: Option<u16>,
    /// The user's language.
    pub lang: Lang,
    /// The story's number in this tour ("#N").
    pub number: u32,
    /// `Interactive` for the first story of a tour, `Live` for ticks.
    pub priority: Priority,
    /// Tell a place only if it is nearer than this many metres: the walker has not moved, so
    /// only a nearer untold place is news.
    pub nearer_than_m: Option<f64>,
    /// Fired when the tour ends: after that nothing is sent.
    pub cancel: CancellationToken,
}

impl TourStoryRequest {
    /// The storyteller's request for this tour story, with the user's radius and photo
    /// preferences.
    pub fn story_request(&self, radius_m: u32, photos: bool) -> StoryRequest {
        StoryRequest {
            user_id: self.user_id,
            chat: self.chat,
            point: self.point,
            lang: self.lang,
            radius_m,
            photos,
            venue: None,
            started: Instant::now(),
        }
    }
}

/// What became of a [`TourStoryRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum TourOutcome {
    /// A story was sent (its number is used).
    Told {
        /// The place told about.
        place: PlaceId,
        /// Its distance from the walker, in metres.
        distance_m: f64,
        /// Where the text came from.
        source: StorySource,
    },
    /// No untold place (nearer than asked) around: nothing was sent.
    NothingNew,
    /// Every LLM permit was taken (or the gate shed the request): nothing was sent, retry later.
    GateBusy,
    /// The place sources could not be reached: nothing was sent, retry later.
    Unavailable,
    /// The story could not be delivered; `blocked` when the user blocked the bot.
    Undelivered {
        /// Telegram said the user blocked the bot: the tour should end.
        blocked: bool,
    },
    /// The tour ended before the story was ready: nothing was sent.
    Cancelled,
}

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

impl Storyteller {
    /// Tells the nearest untold place on a tour, numbered and with a heading cue; see
    /// [`TourOutcome`] for everything else that can happen. Never sends after `cancel` fires.
    /// `story` carries the user's preferences (see [`TourStoryRequest::story_request`]).
    pub async fn tell_tour_story(
        &self,
        story: &StoryRequest,
        tour: &TourStoryRequest,
    ) -> TourOutcome {
        let prepared = tokio::select! {
            () = tour.cancel.cancelled() => return TourOutcome::Cancelled,
            prepared = self.prepare_tour_story(story, tour) => prepared,
        };
        let (reserved, text, source) = match prepared {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        if tour.cancel.is_cancelled() {
            return TourOutcome::Cancelled;
        }
        let outcome = self
            .send_tour_story(story, tour, &reserved.place, &text, source)
            .await;
        if matches!(outcome, TourOutcome::Told { .. }) {
            reserved.keep();
        }
        outcome
    }

    /// Finds the place and writes its story, or says why not.
    async fn prepare_tour_story(
        &self,
        story: &StoryRequest,
        tour: &TourStoryRequest,
    ) -> Result<(Reserved, String, StorySource), TourOutcome> {
        let nearer = |place: &Place| {
            tour.nearer_than_m
                .is_none_or(|limit| place.distance_m < limit)
        };
        let reserved = self
            .reserve_nearest(story, nearer)
            .await
            .map_err(|error| {
                tracing::info!(?error, "tour tick: no place can be chosen now");
                TourOutcome::Unavailable
            })?
            .ok_or(TourOutcome::NothingNew)?;
        let _typing = self.typing_soon(story.chat);
        match self
            .tour_story_text(&reserved.place, story, tour.priority)
            .await
        {
            Ok((text, source)) => Ok((reserved, text, source)),
            Err(GateBusy) => Err(TourOutcome::GateBusy),
        }
    }

    /// The story text: cache, else the gate, else the place's own summary. A `Live` tick never
    /// queues behind a full gate (`GateBusy`: retried at the next tick) and waits for its story
    /// as long as the gate takes; the first story (`Interactive`) waits at most
    /// `LLM_QUEUE_WAIT_SECS`, then the summary goes out and the story is cached when it comes.
    async fn tour_story_text(
        &self,
        place: &Place,
        story: &StoryRequest,
        priority: Priority,
    ) -> Result<(String, StorySource), GateBusy> {
        let live = priority != Priority::Interactive;
        if live
            && let Some(gate) = &self.gate
            && matches!(gate.send(GateStats).await, Ok(s) if s.in_flight >= s.permits)
        {
            return Err(GateBusy);
        }
        let wait = (!live).then_some(self.llm_wait);
        match self
            .story_or_busy(place, story, Depth::First, priority, wait)
            .await
        {
            Err(GateBusy) if !live => {
                let text = fallback_text(&place.summary, Depth::First);
                Ok((text, StorySource::Fallback))
            }
            other => other,
        }
    }

    async fn send_tour_story(
        &self,
        story: &StoryRequest,
        tour: &TourStoryRequest,
        place: &Place,
        text: &str,
        source: StorySource,
    ) -> TourOutcome {
        let mut shown = place.clone();
        shown.title = format!("#{} · {}", tour.number, place.title);
        let body = match tour.heading {
            Some(heading) => {
                let bearing = story.point.bearing_deg(&place.coordinates);
                let cue = HeadingCue::new(f64::from(heading), bearing);
                format!("{}\n\n{text}", cue.text(story.lang))
            }
            None => text.to_owned(),
        };
        let class = match tour.priority {
            Priority::Interactive => SendClass::FirstAnswer,
            _ => SendClass::Story,
        };
        let told = Told {
            place,
            shown: &shown,
            text: &body,
            source,
        };
        match self.deliver(story, &told, class).await {
            Ok(()) => {
                tracing::info!(place = %place.id, number = tour.number, ?source, "tour story told");
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
