//! A tour's life inside the actor: start, batched updates, ticks, stories, the end, restore.
//!
//! Every function here runs on the actor's thread and returns at once; stories and store
//! reads are spawned into the actor's context and report back through closures.

use actix::prelude::*;
use tokio_util::sync::CancellationToken;

use super::{
    LiveLocationSessions, RESTORE_TIMEOUT, STORY_DEADLINE, Start, StartOutcome, StoryInFlight,
    TellTourStory, Tour, TourEnded,
    batch::BufferedUpdate,
    session::{EndReason, LiveSession, TickPlan, millis},
    store::StoreError,
};
use crate::{
    actors::openai_gate::Priority,
    facts::tour::{TourOutcome, TourStoryRequest},
};

/// Why a story's answer never came.
enum StoryLost {
    /// Not back within [`STORY_DEADLINE`].
    TimedOut,
    /// The storyteller's mailbox is closed.
    Unreachable,
}

impl LiveLocationSessions {
    /// Handles [`Start`]; see [`StartOutcome`].
    pub(super) fn start(&mut self, msg: Start, ctx: &mut Context<Self>) -> StartOutcome {
        let now = self.clock.now_ms();
        let expires_at = msg.live_period_secs.map(|period| {
            msg.sent_at
                .saturating_add(i64::from(period))
                .saturating_mul(1000)
        });
        if expires_at.is_some_and(|at| at <= now) {
            return StartOutcome::AlreadyOver;
        }
        if let Some(tour) = self.tours.get_mut(&msg.user_id) {
            tour.session.expires_at = expires_at;
            tour.session.chat_id = msg.chat_id;
            tour.session.apply(msg.fix, now);
            self.persist(msg.user_id);
            self.arm_end_check(msg.user_id, ctx);
            return StartOutcome::Refreshed;
        }
        if self.tours.len() >= self.settings.max_sessions {
            tracing::info!(active = self.tours.len(), "tour refused: at the cap");
            return StartOutcome::Full {
                active: self.tours.len(),
                cap: self.settings.max_sessions,
            };
        }
        let mut session = LiveSession::new(msg.user_id, msg.chat_id, msg.lang, msg.fix, now);
        session.expires_at = expires_at;
        session.set_interval(msg.interval, now);
        let interval = session.interval();
        tracing::info!(user_id = msg.user_id, ?interval, "tour started");
        self.adopt(session, ctx);
        self.ask_story(msg.user_id, Priority::Interactive, None, ctx);
        StartOutcome::Started { interval }
    }

    /// Takes `session` in, saves it and arms its timers.
    fn adopt(&mut self, session: LiveSession, ctx: &mut Context<Self>) {
        let user_id = session.user_id;
        let tour = Tour {
            session,
            tick: None,
            end_check: None,
            story: None,
        };
        self.tours.insert(user_id, tour);
        self.persist(user_id);
        self.arm_tick(user_id, ctx);
        self.arm_end_check(user_id, ctx);
    }

    /// Applies every buffered update in one pass.
    pub(super) fn flush(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.flush_timer.take() {
            ctx.cancel_future(timer);
        }
        if self.buffer.is_empty() {
            return;
        }
        self.counters.batches_applied += 1;
        for (user_id, update) in self.buffer.take_all() {
            self.apply_one(user_id, update);
        }
    }

    /// Moves `user_id`'s tour to `update` (when the update comes from the tour's chat).
    pub(super) fn apply_one(&mut self, user_id: u64, update: BufferedUpdate) {
        let now = self.clock.now_ms();
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        if tour.session.chat_id != update.chat_id {
            return;
        }
        tour.session.apply(update.fix, now);
        self.persist(user_id);
    }

    /// Hands the tour's current state to the writer.
    pub(super) fn persist(&mut self, user_id: u64) {
        let now = self.clock.now_ms();
        let (Some(tour), Some(writer)) = (self.tours.get_mut(&user_id), &self.writer) else {
            return;
        };
        tour.session.saved_at = now;
        writer.save(tour.session.clone());
    }

    /// Schedules the tour's next tick at `next_tick_at`.
    pub(super) fn arm_tick(&mut self, user_id: u64, ctx: &mut Context<Self>) {
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        if let Some(old) = tour.tick.take() {
            ctx.cancel_future(old);
        }
        let delay = self.clock.until(tour.session.next_tick_at);
        tour.tick = Some(ctx.run_later(delay, move |act, ctx| act.on_tick(user_id, ctx)));
    }

    fn on_tick(&mut self, user_id: u64, ctx: &mut Context<Self>) {
        let now = self.clock.now_ms();
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        tour.tick = None;
        let interval = millis(tour.session.interval());
        tour.session.next_tick_at = now.saturating_add(interval);
        let busy = tour.story.is_some();
        let plan = tour.session.tick_plan();
        self.persist(user_id);
        self.arm_tick(user_id, ctx);
        if busy {
            tracing::debug!(user_id, "tick skipped: a story is still being written");
            return;
        }
        let nearer_than = match plan {
            TickPlan::Tell => None,
            TickPlan::TellIfNearer(distance) => Some(distance),
        };
        self.ask_story(user_id, Priority::Live, nearer_than, ctx);
    }

    /// Schedules the next look at expiry and inactivity.
    pub(super) fn arm_end_check(&mut self, user_id: u64, ctx: &mut Context<Self>) {
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        if let Some(old) = tour.end_check.take() {
            ctx.cancel_future(old);
        }
        let Some(at) = tour.session.next_end_check(tour.story.is_some()) else {
            return;
        };
        let delay = self.clock.until(at);
        tour.end_check = Some(ctx.run_later(delay, move |act, ctx| act.on_end_check(user_id, ctx)));
    }

    fn on_end_check(&mut self, user_id: u64, ctx: &mut Context<Self>) {
        let now = self.clock.now_ms();
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        tour.end_check = None;
        match tour.session.end_due(now, tour.story.is_some()) {
            Some(reason) => {
                self.end_tour(user_id, reason, ctx);
            }
            None => self.arm_end_check(user_id, ctx),
        }
    }

    /// Asks the storyteller for the tour's next story; its answer comes back in `on_story`.
    fn ask_story(
        &mut self,
        user_id: u64,
        priority: Priority,
        nearer_than_m: Option<f64>,
        ctx: &mut Context<Self>,
    ) {
        let now = self.clock.now_ms();
        self.next_story_id += 1;
        let id = self.next_story_id;
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        let session = &tour.session;
        let cancel = CancellationToken::new();
        let request = TourStoryRequest {
            user_id,
            chat: teloxide::types::ChatId(session.chat_id),
            point: session.position,
            heading: session.heading,
            lang: session.lang,
            number: session.stories_told.saturating_add(1),
            priority,
            nearer_than_m,
            cancel: cancel.clone(),
        };
        tour.story = Some(StoryInFlight {
            id,
            started_at: now,
            from: session.position,
            cancel,
        });
        let asked = self.guide.stories.send(TellTourStory(request));
        let answer = async move {
            match tokio::time::timeout(STORY_DEADLINE, asked).await {
                Ok(Ok(outcome)) => Ok(outcome),
                Ok(Err(_)) => Err(StoryLost::Unreachable),
                Err(_) => Err(StoryLost::TimedOut),
            }
        };
        ctx.spawn(
            answer
                .into_actor(self)
                .map(move |answer, act, ctx| act.on_story(user_id, id, answer, ctx)),
        );
        self.arm_end_check(user_id, ctx);
    }

    fn on_story(
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

    /// Ends `user_id`'s tour; `false` when there was none. The summary waits for a story in
    /// flight to settle (it is cancelled first), so nothing arrives after it.
    pub(super) fn end_tour(
        &mut self,
        user_id: u64,
        reason: EndReason,
        ctx: &mut Context<Self>,
    ) -> bool {
        let Some(tour) = self.tours.remove(&user_id) else {
            return false;
        };
        for handle in [tour.tick, tour.end_check].into_iter().flatten() {
            ctx.cancel_future(handle);
        }
        if let Some(writer) = &self.writer {
            writer.remove(user_id);
        }
        let session = &tour.session;
        tracing::info!(
            user_id,
            ?reason,
            stories = session.stories_told,
            "tour ended"
        );
        let ended = TourEnded {
            user_id,
            chat_id: session.chat_id,
            lang: session.lang,
            reason,
            summary: session.summary(self.clock.now_ms()),
        };
        match tour.story {
            Some(story) => {
                story.cancel.cancel();
                self.finishing.insert(story.id, ended);
            }
            None => self.announce(ended),
        }
        true
    }

    fn announce(&self, ended: TourEnded) {
        self.guide.endings.do_send(ended);
    }

    /// Reads the store (holding other messages until done) and adopts every tour in it.
    pub(super) fn restore(&mut self, ctx: &mut Context<Self>) {
        let store = std::sync::Arc::clone(&self.store);
        let load = async move {
            match tokio::time::timeout(RESTORE_TIMEOUT, store.load_all()).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::Backend("timed out".into())),
            }
        };
        ctx.wait(load.into_actor(self).map(|loaded, act, ctx| {
            act.restored = true;
            match loaded {
                Ok(sessions) => act.adopt_restored(sessions, ctx),
                Err(error) => tracing::error!(%error, "live tours not restored"),
            }
        }));
    }

    fn adopt_restored(&mut self, sessions: Vec<LiveSession>, ctx: &mut Context<Self>) {
        let now = self.clock.now_ms();
        let count = sessions.len();
        for mut session in sessions {
            let user_id = session.user_id;
            session.credit_downtime(now);
            self.adopt(session, ctx);
            self.on_end_check(user_id, ctx);
        }
        if count > 0 {
            tracing::info!(
                restored = count,
                active = self.tours.len(),
                "live tours restored"
            );
        }
    }

    /// After a supervised restart: every tour's timers again.
    pub(super) fn rearm_all(&mut self, ctx: &mut Context<Self>) {
        let users: Vec<u64> = self.tours.keys().copied().collect();
        for user_id in users {
            self.arm_tick(user_id, ctx);
            self.arm_end_check(user_id, ctx);
        }
        if !self.buffer.is_empty() {
            self.flush(ctx);
        }
    }
}
