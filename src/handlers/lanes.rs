//! One lane per user: a user's updates are handled in the order they arrived, one at a time,
//! the way Telegram's own Bot API server keeps per-chat order, while different users run
//! fully in parallel.
//!
//! A lane only *decides* (applies a setting, starts or stops a tour, takes the send queue's
//! place for a reply, hands a location to the story pipeline); the slow work (Wikipedia, the
//! LLM, waiting for the send budget) runs in tasks started with [`work::spawn_work`], which do not
//! hold the lane. A lane exists only while it has updates to handle: a user with nothing
//! queued costs nothing. A lane holds at most [`LANE_CAP`] updates; an edit of a live
//! location replaces an edit of the same message still waiting (only the newest position
//! matters), and past the cap an update is dropped with a warning naming the user (at most
//! one a second, with how many were dropped since the last). A
//! pre-checkout query skips the lanes: Telegram waits at most 10 s for its answer.
//!
//! Every update keeps its backlog permit (and its journal entry) while it is decided and while
//! the work it started runs, so `UPDATE_BACKLOG_MAX`, the drain at shutdown and the journal
//! cover both.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use teloxide::types::{Update, UpdateKind};
use tracing::Instrument;

use super::{context::Context, router, work, work::Admitted};
use crate::telemetry::{
    panics::{self, Contained},
    warnings::RateLimitedWarning,
};

/// Updates one user may have waiting in their lane.
pub const LANE_CAP: usize = 32;

/// An update waiting in a lane, with its backlog permit and journal entry.
struct Queued {
    update: Box<Update>,
    admitted: Admitted,
    /// The update's span ([`super::dispatch::update_span`]): the lane's task runs many
    /// users' updates in turn, so each is decided in its own.
    span: tracing::Span,
}

/// Whose lane an update belongs to: the user, else the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LaneKey {
    /// The user the update comes from.
    User(u64),
    /// The chat, for an update without a user (a channel post, say).
    Chat(i64),
}

impl LaneKey {
    /// The lane `update` waits in; `None` when it waits in none: a pre-checkout query
    /// (Telegram waits at most 10 s for its answer) and an update with no user and no chat
    /// (a poll's state, say: nothing to keep in order with).
    pub fn of(update: &Update) -> Option<Self> {
        if matches!(update.kind, UpdateKind::PreCheckoutQuery(_)) {
            return None;
        }
        if let Some(user) = update.from() {
            return Some(LaneKey::User(user.id.0));
        }
        update.chat().map(|chat| LaneKey::Chat(chat.id.0))
    }
}

/// The lanes of every user with updates in flight.
pub struct Lanes {
    ctx: Arc<Context>,
    /// A key is present exactly while its lane's task runs.
    waiting: Mutex<HashMap<LaneKey, VecDeque<Queued>>>,
    /// Updates dropped from full lanes, warned about once a second.
    dropped: RateLimitedWarning,
}

impl Lanes {
    /// Lanes routing their updates with `ctx`.
    pub fn new(ctx: Arc<Context>) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            waiting: Mutex::default(),
            dropped: RateLimitedWarning::default(),
        })
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<LaneKey, VecDeque<Queued>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Users with a lane right now.
    pub fn active(&self) -> usize {
        self.waiting().len()
    }

    /// Puts `update` in its user's lane, starting the lane if it is idle; never waits. The
    /// update is decided in the span current here (its own).
    pub fn submit(self: &Arc<Self>, update: Box<Update>, admitted: Admitted) {
        let span = tracing::Span::current();
        let Some(key) = LaneKey::of(&update) else {
            let lanes = Arc::clone(self);
            let queued = Queued {
                update,
                admitted,
                span,
            };
            tokio::spawn(async move { lanes.decide(queued).await });
            return;
        };
        let queued = Queued {
            update,
            admitted,
            span,
        };
        let mut waiting = self.waiting();
        match waiting.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(VecDeque::new());
                drop(waiting);
                let lanes = Arc::clone(self);
                tokio::spawn(async move { lanes.run(key, queued).await });
            }
            Entry::Occupied(mut lane) => enqueue(key, lane.get_mut(), queued, &self.dropped),
        }
    }

    /// Answers `update`, which an earlier run left too long ago, with an apology (outside the
    /// lanes: nothing else of the user's is decided by it).
    pub fn apologise(self: &Arc<Self>, update: Box<Update>, admitted: Admitted) {
        let lanes = Arc::clone(self);
        let apology = async move {
            work::with_hold(admitted, router::apologise(&lanes.ctx, &update)).await;
        };
        tokio::spawn(apology.in_current_span());
    }

    /// Handles `first`, then whatever arrives meanwhile, until the lane is empty.
    async fn run(self: Arc<Self>, key: LaneKey, first: Queued) {
        let mut next = Some(first);
        while let Some(queued) = next {
            self.decide(queued).await;
            let mut waiting = self.waiting();
            next = waiting.get_mut(&key).and_then(VecDeque::pop_front);
            if next.is_none() {
                waiting.remove(&key);
            }
        }
    }

    /// Decides one update. A panic in a handler is contained here: it is logged (one line,
    /// with its message and place), the update is given up, and the lane goes on with the
    /// user's next update. Work it started outside the lane knows its `update_id`, so a
    /// panic there is logged with it by the panic hook.
    async fn decide(&self, queued: Queued) {
        let Queued {
            update,
            admitted,
            span,
        } = queued;
        let update_id = update.id.0;
        let decided = work::with_hold(admitted, router::route(&self.ctx, update));
        let decided = panics::for_update(update_id, decided);
        let contained = Contained::new(decided.instrument(span.clone())).await;
        if let Err(panic) = contained {
            let _in_span = span.enter();
            tracing::error!(
                update_id,
                panic.message = %panic.message,
                panic.location = panic.location.as_deref(),
                "handling an update panicked; update given up"
            );
        }
    }
}

/// Adds `queued` to a running lane: an edit of a live location replaces the edit of the same
/// message waiting last in the lane (order with anything else is kept); past [`LANE_CAP`] it
/// is dropped, and `dropped` says so at most once a second (one user's flood, or many users'
/// at once, is one line a second naming the user of the first drop and how many there were).
fn enqueue(
    key: LaneKey,
    lane: &mut VecDeque<Queued>,
    queued: Queued,
    dropped: &RateLimitedWarning,
) {
    if let Some(edit) = live_edit(&queued.update)
        && let Some(last) = lane.back_mut()
        && live_edit(&last.update) == Some(edit)
    {
        std::mem::replace(last, queued).admitted.give_up();
        return;
    }
    if lane.len() >= LANE_CAP {
        if let Some(dropped) = dropped.record(1) {
            tracing::warn!(
                dropped,
                lane = ?key,
                update_id = queued.update.id.0,
                "a user's lane is full; update dropped"
            );
        }
        queued.admitted.give_up();
        return;
    }
    lane.push_back(queued);
}

/// The chat and message of an edited live location that is still shared, if `update` is
/// one (the edit that stops sharing is never replaced: it must arrive): a newer such edit
/// replaces it in its lane.
pub fn live_edit(update: &Update) -> Option<(i64, i32)> {
    match &update.kind {
        UpdateKind::EditedMessage(message)
            if message
                .location()
                .is_some_and(|location| location.live_period.is_some()) =>
        {
            Some((message.chat.id.0, message.id.0))
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use tokio::sync::Semaphore;
    use tracing_test::traced_test;

    use super::*;

    fn queued(update: serde_json::Value) -> Queued {
        let permits = Arc::new(Semaphore::new(1));
        Queued {
            // teloxide's `Update` parses from text; from a `Value` its flattened kinds fail.
            update: serde_json::from_str(&update.to_string()).unwrap(),
            admitted: Admitted::new(permits.try_acquire_owned().unwrap(), None),
            span: tracing::Span::none(),
        }
    }

    fn edit(update_id: u64, lat: f64, sharing: bool) -> Queued {
        let mut location = json!({ "latitude": lat, "longitude": 37.6 });
        if sharing {
            location["live_period"] = json!(3600);
        }
        queued(json!({
            "update_id": update_id,
            "edited_message": {
                "message_id": 5, "date": 1_700_000_000, "edit_date": 1_700_000_000 + update_id,
                "chat": { "id": 7, "type": "private", "first_name": "W" },
                "from": { "id": 7, "is_bot": false, "first_name": "W" },
                "location": location
            }
        }))
    }

    fn ids(lane: &VecDeque<Queued>) -> Vec<u32> {
        lane.iter().map(|queued| queued.update.id.0).collect()
    }

    #[test]
    fn waiting_edits_of_a_live_location_coalesce_to_the_newest_but_a_stop_stays() {
        let (key, dropped) = (LaneKey::User(7), RateLimitedWarning::default());
        let mut lane = VecDeque::new();
        enqueue(key, &mut lane, edit(1, 55.0, true), &dropped);
        enqueue(key, &mut lane, edit(2, 55.1, true), &dropped);
        enqueue(key, &mut lane, edit(3, 55.2, true), &dropped);
        assert_eq!(ids(&lane), [3]);
        enqueue(key, &mut lane, edit(4, 55.2, false), &dropped);
        enqueue(key, &mut lane, edit(5, 55.3, true), &dropped);
        assert_eq!(ids(&lane), [3, 4, 5], "the stop is never replaced");
    }

    #[test]
    #[traced_test]
    fn past_the_cap_updates_are_dropped_with_one_warning_a_second_naming_the_user() {
        let (key, dropped) = (LaneKey::User(7), RateLimitedWarning::default());
        let mut lane = VecDeque::new();
        for id in 0..LANE_CAP as u64 + 500 {
            enqueue(key, &mut lane, edit(id, 55.0, false), &dropped);
        }
        assert_eq!(lane.len(), LANE_CAP);
        logs_assert(|lines: &[&str]| {
            let full: Vec<_> = lines
                .iter()
                .filter(|l| l.contains("lane is full"))
                .collect();
            match full.as_slice() {
                [line] if line.contains("User(7)") && line.contains("dropped=1") => Ok(()),
                _ => Err(format!("{full:?}")),
            }
        });
    }
}
