//! Each tour's two timers: the tick (every interval: maybe a story) and the end check
//! (expiry and inactivity), both tokio timers in the actor's context.

use actix::prelude::*;

use super::LiveLocationSessions;
use crate::{
    actors::openai_gate::Priority,
    tour::{TickPlan, millis},
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
