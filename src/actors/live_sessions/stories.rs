//! Asking for a tour's story and taking its answer, without ever waiting for it: the request
//! runs in a task of its own, bounded by [`STORY_DEADLINE`], and its answer comes back to the
//! actor's address ([`StoryAnswered`]), so a restart of the actor meanwhile loses no answer.

use actix::prelude::*;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::{
    Clock, LiveLocationSessions, STORY_DEADLINE, StoryInFlight, TellTourStory, TourOutcome,
    TourStoryRequest,
};
use crate::{
    actors::openai_gate::Priority,
    tour::{EndReason, LiveSession, tick_patience},
};

/// A tour's story was answered (or lost).
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct StoryAnswered {
    user_id: u64,
    id: u64,
    answer: Result<TourOutcome, StoryLost>,
}

/// Why a story's answer never came.
pub(super) enum StoryLost {
    /// Not back within [`STORY_DEADLINE`].
    TimedOut,
    /// The storyteller's mailbox is closed.
    Unreachable,
}

impl LiveLocationSessions {
    /// Asks the storyteller for the tour's next story; its answer comes back in `on_story`.
    pub(super) fn ask_story(
        &mut self,
        user_id: u64,
        priority: Priority,
        nearer_than_m: Option<f64>,
        ctx: &mut Context<Self>,
    ) {
        let now = self.clock.now_ms();
        self.next_story_id += 1;
        let id = self.next_story_id;
        let clock = self.clock;
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        let session = &tour.session;
        let cancel = CancellationToken::new();
        let request = story_request(session, priority, nearer_than_m, &clock, cancel.clone());
        tour.story = Some(StoryInFlight {
            id,
            started_at: now,
            tick: priority == Priority::Live,
            from: session.position,
            cancel,
        });
        let asked = self.guide.stories.send(TellTourStory(request));
        let actor = ctx.address();
        actix_rt::spawn(async move {
            let answer = match tokio::time::timeout(STORY_DEADLINE, asked).await {
                Ok(Ok(outcome)) => Ok(outcome),
                Ok(Err(_)) => Err(StoryLost::Unreachable),
                Err(_) => Err(StoryLost::TimedOut),
            };
            actor.do_send(StoryAnswered {
                user_id,
                id,
                answer,
            });
        });
        self.arm_end_check(user_id, ctx);
    }

    fn on_story(
        &mut self,
        user_id: u64,
        id: u64,
        answer: Result<TourOutcome, StoryLost>,
        ctx: &mut Context<Self>,
    ) {
        self.take_answer(user_id, id, answer, ctx);
        if self.settled.is_some()
            && self.stories_in_flight() == 0
            && let Some(settled) = self.settled.take()
        {
            let _ = settled.send(());
        }
    }

    /// For a shutdown: cancels every story; `None` when none is in flight, else a receiver
    /// told when the last one has reported.
    pub(super) fn settle_stories(&mut self) -> Option<oneshot::Receiver<()>> {
        for story in self.tours.values().filter_map(|tour| tour.story.as_ref()) {
            story.cancel.cancel();
        }
        if self.stories_in_flight() == 0 {
            return None;
        }
        let (settled, wait) = oneshot::channel();
        self.settled = Some(settled);
        Some(wait)
    }

    /// Stories not yet reported: of running tours and of ended ones awaiting their summary.
    pub(super) fn stories_in_flight(&self) -> usize {
        let running = self.tours.values().filter(|tour| tour.story.is_some());
        running.count() + self.finishing.len()
    }

    fn take_answer(
        &mut self,
        user_id: u64,
        id: u64,
        answer: Result<TourOutcome, StoryLost>,
        ctx: &mut Context<Self>,
    ) {
        if let Some(mut ended) = self.finishing.remove(&id) {
            if let Ok(TourOutcome::Told { .. }) = answer {
                ended.summary.stories = ended.summary.stories.saturating_add(1);
            }
            self.announce(ended);
            return;
        }
        let now = self.clock.now_ms();
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        let Some(story) = tour.story.take_if(|story| story.id == id) else {
            return;
        };
        tour.session.credit_writing(story.started_at, now);
        if story.tick {
            self.counters.tick_outcomes.count(tick_outcome(&answer));
        }
        match answer {
            Ok(TourOutcome::Told { distance_m, .. }) => {
                tour.session.record_story(story.from, distance_m);
            }
            Ok(TourOutcome::Undelivered { blocked: true }) => {
                self.end_tour(user_id, EndReason::Blocked, ctx);
                return;
            }
            Ok(outcome) => tracing::debug!(user_id, ?outcome, "no tour story this time"),
            Err(StoryLost::TimedOut) => {
                tracing::warn!(user_id, "tour story timed out; cancelled");
                story.cancel.cancel();
            }
            Err(StoryLost::Unreachable) => tracing::error!(user_id, "the storyteller is gone"),
        }
        self.persist(user_id);
        self.arm_end_check(user_id, ctx);
    }
}

/// What the guide is asked for `session`'s next story.
pub(super) fn story_request(
    session: &LiveSession,
    priority: Priority,
    nearer_than_m: Option<f64>,
    clock: &Clock,
    cancel: CancellationToken,
) -> TourStoryRequest {
    TourStoryRequest {
        user_id: session.user_id,
        chat: teloxide::types::ChatId(session.chat_id),
        point: session.position,
        came_from: session.last_story_position,
        heading: session.heading,
        lang: session.lang,
        number: session.stories_told.saturating_add(1),
        priority,
        patience: clock.real(tick_patience(session.interval())),
        nearer_than_m,
        cancel,
        asked_at: std::time::Instant::now(),
    }
}

/// The [`TickOutcomes`](super::TickOutcomes) name of a tick's answer.
fn tick_outcome(answer: &Result<TourOutcome, StoryLost>) -> &'static str {
    match answer {
        Ok(TourOutcome::Told { .. }) => "told",
        Ok(TourOutcome::NothingNew) => "nothing_new",
        Ok(TourOutcome::GateBusy | TourOutcome::Unavailable) => "unavailable",
        Ok(TourOutcome::Undelivered { .. }) => "undelivered",
        Ok(TourOutcome::Cancelled) => "cancelled",
        Err(_) => "lost",
    }
}

impl Handler<StoryAnswered> for LiveLocationSessions {
    type Result = ();

    fn handle(&mut self, msg: StoryAnswered, ctx: &mut Self::Context) {
        self.on_story(msg.user_id, msg.id, msg.answer, ctx);
    }
}
