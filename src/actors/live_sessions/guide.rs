//! What the tours actor asks of its guide: a story ([`TellTourStory`] with a
//! [`TourStoryRequest`], answered with a [`TourOutcome`]) and a summary ([`TourEnded`]),
//! reached through the [`Guide`] recipients. The production guide is the pipeline's
//! `facts::tour::TourGuide`; tests put a stub there. The actor never knows who tells.

use actix::prelude::*;
use teloxide::types::ChatId;
use tokio_util::sync::CancellationToken;

use crate::{
    actors::openai_gate::Priority,
    geo::Coordinates,
    i18n::Lang,
    places::PlaceId,
    story::StorySource,
    tour::{EndReason, TourSummary},
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
    /// Where the walker stood when the tour's previous story was told: with `point`, the
    /// direction they are walking in and how far they go between stories.
    pub came_from: Option<Coordinates>,
    /// Direction of movement in degrees (1-360, Telegram's `heading`), for "on your left".
    pub heading: Option<u16>,
    /// The user's language.
    pub lang: Lang,
    /// The story's number in this tour ("#N").
    pub number: u32,
    /// `Interactive` for the first story of a tour, `Live` for ticks.
    pub priority: Priority,
    /// How long a tick's story may wait for its written text (in the LLM queue and being
    /// written) before the place's summary is told instead; a fraction of the interval.
    pub patience: std::time::Duration,
    /// Tell a place only if it is nearer than this many metres: the walker has not moved, so
    /// only a nearer untold place is news.
    pub nearer_than_m: Option<f64>,
    /// Fired when the tour ends: after that nothing is sent.
    pub cancel: CancellationToken,
    /// When the story was asked for (the tick), for its latency.
    pub asked_at: std::time::Instant,
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
    /// No story could be had now: nothing was sent, retry later. (The production guide
    /// tells the place's summary instead when the LLM cannot write in time.)
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

/// Sent to the storyteller: tell this tour story and answer what happened.
#[derive(Debug, Message)]
#[rtype(result = "TourOutcome")]
pub struct TellTourStory(pub TourStoryRequest);

/// Sent shortly before a tick (its patience ahead of it): write ahead, for the cache, the story
/// the tick is about to tell. `0` is the walker's position and direction now; `1` is the share
/// of their last step (from the previous story to now) they walk before the tick.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct WriteTourAhead(pub TourStoryRequest, pub f64);

/// Sent when a tour ends, for the summary.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TourEnded {
    /// Telegram user id.
    pub user_id: u64,
    /// Where the summary goes.
    pub chat_id: i64,
    /// The user's language.
    pub lang: Lang,
    /// Why it ended (no summary for [`EndReason::Blocked`]).
    pub reason: EndReason,
    /// Stories, distance, duration.
    pub summary: TourSummary,
    /// When the tour started (unix ms), e.g. for a row in the finished tours' table.
    pub started_at: i64,
    /// When it ended (unix ms).
    pub ended_at: i64,
}

/// Where the actor's stories and summaries go: the [`TourGuide`] in production, a stub in tests.
#[derive(Clone)]
pub struct Guide {
    /// Tells tour stories.
    pub stories: Recipient<TellTourStory>,
    /// Sends end-of-tour summaries.
    pub endings: Recipient<TourEnded>,
    /// Writes the stories ticks are about to tell ahead.
    pub ahead: Recipient<WriteTourAhead>,
}

impl Guide {
    /// Both recipients from one actor.
    pub fn of<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>>
            + Handler<TellTourStory>
            + Handler<TourEnded>
            + Handler<WriteTourAhead>,
    {
        Self {
            stories: addr.clone().recipient(),
            endings: addr.clone().recipient(),
            ahead: addr.clone().recipient(),
        }
    }
}
