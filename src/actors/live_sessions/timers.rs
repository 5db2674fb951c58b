//! Each tour's two timers: the tick (every interval: maybe a story) and the end check
//! (expiry and inactivity), both tokio timers in the actor's context.

use actix::prelude::*;

use tokio_util::sync::CancellationToken;

use super::{LiveLocationSessions, WriteTourAhead, stories::story_request};
use crate::{
    actors::openai_gate::Priority,
    tour::{TickPlan, millis, tick_patience},
};

impl LiveLocationSessions {
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
        self.arm_ahead(user_id, ctx);
    }

    /// Schedules writing the next tick's story ahead, the tick's patience before it: near
    /// enough for the walker to be almost where the tick finds them, early enough for the
    /// story to be written by then.
    fn arm_ahead(&mut self, user_id: u64, ctx: &mut Context<Self>) {
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        if let Some(old) = tour.ahead.take() {
            ctx.cancel_future(old);
        }
        tour.ahead_from = None;
        let lead = millis(tick_patience(tour.session.interval()));
        let at = tour.session.next_tick_at.saturating_sub(lead);
        let delay = self.clock.until(at);
        tour.ahead = Some(ctx.run_later(delay, move |act, _| act.on_ahead(user_id)));
    }

    /// Asks the guide to write ahead the story the coming tick will tell, unless a story is
    /// being written or the walker has not moved (the tick then tells only a nearer place).
    pub(super) fn on_ahead(&mut self, user_id: u64) {
        let now = self.clock.now_ms();
        let clock = self.clock;
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        tour.ahead = None;
        let session = &tour.session;
        if tour.story.is_some() || session.tick_plan() != TickPlan::Tell {
            return;
        }
        tour.ahead_from = Some(session.position);
        let interval = millis(session.interval());
        let walked = interval.saturating_sub(session.next_tick_at.saturating_sub(now));
        let to_go = session.next_tick_at.saturating_sub(now).max(0) as f64;
        let share = to_go / walked.max(1) as f64;
        let cancel = CancellationToken::new();
        let request = story_request(session, Priority::Background, None, &clock, cancel);
        self.guide.ahead.do_send(WriteTourAhead(request, share));
    }

    fn on_tick(&mut self, user_id: u64, ctx: &mut Context<Self>) {
        let now = self.clock.now_ms();
        let Some(tour) = self.tours.get_mut(&user_id) else {
            return;
        };
        tour.tick = None;
        self.counters.ticks += 1;
        let interval = millis(tour.session.interval());
        tour.session.next_tick_at = now.saturating_add(interval);
        let busy = tour.story.is_some();
        let plan = tour.session.tick_plan();
        self.persist(user_id);
        self.arm_tick(user_id, ctx);
        if busy {
            self.counters.tick_outcomes.count("skipped");
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

    pub(super) fn on_end_check(&mut self, user_id: u64, ctx: &mut Context<Self>) {
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
}
