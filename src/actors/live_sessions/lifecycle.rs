//! A tour's life inside the actor: start, batched updates, persistence, the end. Ticks and
//! end checks are in `timers`, stories in `stories`, restoring in `restore`.
//!
//! Every function here runs on the actor's thread and returns at once.

use std::time::Duration;

use actix::prelude::*;

use super::{
    LiveLocationSessions, LiveUpdate, SessionWriter, Start, StartOutcome, Tour, TourEnded,
    batch::BufferedUpdate,
};
use crate::{
    actors::openai_gate::Priority,
    tour::{self, EndReason, LiveSession},
};

/// A walker who has moved this far since the next tick's story was written ahead has it
/// written ahead again from where they are now (a new fix between the writing and the tick,
/// say a live location's next edit, may bring another place nearest).
const AHEAD_AGAIN_M: f64 = 30.0;

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
            self.counters.refused += 1;
            return StartOutcome::Full {
                active: self.tours.len(),
                cap: self.settings.max_sessions,
            };
        }
        let mut session = LiveSession::new(msg.user_id, msg.chat_id, msg.lang, msg.fix, now);
        session.expires_at = expires_at;
        session.set_interval(msg.interval, now);
        let interval = session.interval();
        session.next_tick_at = self.free_tick_slot(msg.user_id, session.next_tick_at, interval);
        tracing::info!(user_id = msg.user_id, ?interval, "tour started");
        self.adopt(session, ctx);
        self.ask_story(msg.user_id, Priority::Interactive, None, ctx);
        StartOutcome::Started { interval }
    }

    /// Handles a [`LiveUpdate`]: buffer it (flushing when the batch is full or its timer
    /// fires), or end the tour at once when sharing stopped.
    pub(super) fn receive(&mut self, msg: LiveUpdate, ctx: &mut Context<Self>) {
        self.counters.updates_received += 1;
        let update = BufferedUpdate {
            chat_id: msg.chat_id,
            fix: msg.fix,
        };
        if !msg.sharing {
            if let Some(buffered) = self.buffer.take(msg.user_id) {
                self.apply_one(msg.user_id, buffered);
            }
            self.apply_one(msg.user_id, update);
            self.end_tour(msg.user_id, EndReason::SharingStopped, ctx);
            return;
        }
        let received = self.buffer.push(msg.user_id, update);
        if received >= self.settings.batch_size {
            self.flush(ctx);
        } else if self.flush_timer.is_none() {
            let after = self.settings.batch_flush;
            self.flush_timer = Some(ctx.run_later(after, |act, ctx| {
                act.flush_timer = None;
                act.flush(ctx);
            }));
        }
    }

    /// For [`Shutdown`](super::Shutdown), once stories have settled: applies buffered
    /// updates, writes every tour, lets go of them without summaries (the next instance
    /// restores them), sends the summaries still waiting. The future completes once
    /// everything is in the store.
    pub(super) fn hand_over(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = ()> + use<> {
        self.flush(ctx);
        let users: Vec<u64> = self.tours.keys().copied().collect();
        tracing::info!(tours = users.len(), "live tours handed to the store");
        for user_id in users {
            self.persist(user_id);
        }
        for (_, tour) in self.tours.drain() {
            if let Some(story) = tour.story {
                story.cancel.cancel();
            }
        }
        for (_, ended) in std::mem::take(&mut self.finishing) {
            self.announce(ended);
        }
        let flushed = self.writer.as_ref().map(SessionWriter::flushed);
        async move {
            if let Some(flushed) = flushed {
                flushed.await;
            }
        }
    }

    /// Takes `session` in, saves it and arms its timers.
    pub(super) fn adopt(&mut self, session: LiveSession, ctx: &mut Context<Self>) {
        let user_id = session.user_id;
        let tour = Tour {
            session,
            tick: None,
            ahead: None,
            ahead_from: None,
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
        let moved_on = tour
            .ahead_from
            .is_some_and(|from| from.distance_m(&tour.session.position) >= AHEAD_AGAIN_M);
        self.persist(user_id);
        if moved_on {
            // The place the tick will tell may be another now.
            self.on_ahead(user_id);
        }
    }

    /// Hands the tour's current state to the writer.
    /// The slot for `user_id`'s next tick nearest after `wanted` that keeps clear of other
    /// tours' ticks ([`tour::free_tick_slot`]): tours started together would otherwise tick
    /// together at every interval, competing for the same LLM permits each time.
    pub(super) fn free_tick_slot(&self, user_id: u64, wanted: i64, interval: Duration) -> i64 {
        let others: Vec<i64> = self
            .tours
            .iter()
            .filter(|(user, _)| **user != user_id)
            .map(|(_, tour)| tour.session.next_tick_at)
            .collect();
        tour::free_tick_slot(wanted, interval, &others)
    }

    pub(super) fn persist(&mut self, user_id: u64) {
        let now = self.clock.now_ms();
        let (Some(tour), Some(writer)) = (self.tours.get_mut(&user_id), &self.writer) else {
            return;
        };
        tour.session.saved_at = now;
        writer.save(tour.session.clone());
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
        for handle in [tour.tick, tour.ahead, tour.end_check]
            .into_iter()
            .flatten()
        {
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
        let now = self.clock.now_ms();
        let ended = TourEnded {
            user_id,
            chat_id: session.chat_id,
            lang: session.lang,
            reason,
            summary: session.summary(now),
            started_at: session.started_at,
            ended_at: now,
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

    pub(super) fn announce(&self, ended: TourEnded) {
        self.guide.endings.do_send(ended);
    }
}
