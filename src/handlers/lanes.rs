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
//! matters), and past the cap an update is dropped with a warning naming the user.
//!
//! Every update keeps its backlog permit while it is decided and while the work it started
//! runs, so `UPDATE_BACKLOG_MAX` and the drain at shutdown cover both.

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use futures::FutureExt;
use teloxide::types::{Update, UpdateKind};
use tokio::sync::OwnedSemaphorePermit;

use super::{context::Context, router, work};

/// Updates one user may have waiting in their lane.
pub const LANE_CAP: usize = 32;

/// An update waiting in a lane, with its backlog permit.
struct Queued {
    update: Box<Update>,
    permit: OwnedSemaphorePermit,
}

/// Whose lane an update belongs to: the user, else the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum LaneKey {
    User(u64),
    Chat(i64),
}

impl LaneKey {
    fn of(update: &Update) -> Option<Self> {
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
}

impl Lanes {
    /// Lanes routing their updates with `ctx`.
    pub fn new(ctx: Arc<Context>) -> Arc<Self> {
        Arc::new(Self {
            ctx,
            waiting: Mutex::default(),
        })
    }

    fn waiting(&self) -> MutexGuard<'_, HashMap<LaneKey, VecDeque<Queued>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Users with a lane right now.
    pub fn active(&self) -> usize {
        self.waiting().len()
    }

    /// Puts `update` in its user's lane, starting the lane if it is idle; never waits.
    pub fn submit(self: &Arc<Self>, update: Box<Update>, permit: OwnedSemaphorePermit) {
        let Some(key) = LaneKey::of(&update) else {
            // No user and no chat (a poll's state, say): nothing to keep in order with.
            let lanes = Arc::clone(self);
            tokio::spawn(async move { lanes.decide(Queued { update, permit }).await });
            return;
        };
        let queued = Queued { update, permit };
        let mut waiting = self.waiting();
        match waiting.entry(key) {
            Entry::Vacant(slot) => {
                slot.insert(VecDeque::new());
                drop(waiting);
                let lanes = Arc::clone(self);
                tokio::spawn(async move { lanes.run(key, queued).await });
            }
            Entry::Occupied(mut lane) => enqueue(key, lane.get_mut(), queued),
        }
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

    /// Decides one update. A panic in a handler is contained here: it is logged, the
    /// update is given up, and the lane goes on with the user's next update.
    async fn decide(&self, Queued { update, permit }: Queued) {
        let update_id = update.id.0;
        let decided = work::with_permit(permit, router::route(&self.ctx, update));
        if AssertUnwindSafe(decided).catch_unwind().await.is_err() {
            tracing::error!(update_id, "handling an update panicked; update given up");
        }
    }
}

/// Adds `queued` to a running lane: an edit of a live location replaces the waiting edit of
/// the same message; past [`LANE_CAP`] it is dropped.
fn enqueue(key: LaneKey, lane: &mut VecDeque<Queued>, queued: Queued) {
    if let Some(edit) = live_edit(&queued.update)
        && let Some(older) = lane
            .iter_mut()
            .rev()
            .find(|waiting| live_edit(&waiting.update) == Some(edit))
    {
        *older = queued;
        return;
    }
    if lane.len() >= LANE_CAP {
        tracing::warn!(
            lane = ?key,
            update_id = queued.update.id.0,
            "a user's lane is full; update dropped"
        );
        return;
    }
    lane.push_back(queued);
}

/// The chat and message of an edited live location, if `update` is one.
fn live_edit(update: &Update) -> Option<(i64, i32)> {
    match &update.kind {
        UpdateKind::EditedMessage(message) if message.location().is_some() => {
            Some((message.chat.id.0, message.id.0))
        }
        _ => None,
    }
}
