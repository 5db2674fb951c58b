//! `LiveLocationSessions`: live-location tours, one per user, at most `LIVE_SESSIONS_MAX`.
//!
//! The actor owns the active tours (a [`LiveSession`] each, plus its timers), the buffer of
//! live updates, and the write-behind [`SessionWriter`] that mirrors every tour into a
//! [`SessionStore`]. Its algorithm:
//!
//! 1. [`Start`] (a location with `live_period`) creates a tour and asks for the first story
//!    at `Interactive` priority; past the cap it answers [`StartOutcome::Full`].
//! 2. [`LiveUpdate`]s are buffered, one slot per user (newest wins), and applied in one pass
//!    when `LIVE_BATCH_SIZE` arrived or `LIVE_BATCH_FLUSH_MS` passed. An update without
//!    `live_period` (sharing stopped) ends its tour at once.
//! 3. Each tour has a tick timer (its interval) and an end timer (expiry, inactivity). A tick
//!    asks for a story at `Live` priority when the walker moved 50 m since the last one, or
//!    for a nearer untold place otherwise. Stories are numbered only when sent. A tick's
//!    patience before each tick, [`WriteTourAhead`] asks the guide to write the story the tick
//!    is about to tell ahead (when the walker moved and no story is being written), and
//!    again when a new fix before the tick finds the walker 30 m on.
//! 4. The actor never awaits a story: it sends [`TellTourStory`] to a recipient and the answer
//!    comes back into the actor later. While a story is being written the tour skips ticks
//!    and its inactivity clock stands still. A story not back within [`STORY_DEADLINE`] is
//!    cancelled; nothing is ever sent for a tour that has ended.
//! 5. Ending a tour ([`Stop`], sharing stopped, expiry, inactivity) sends a [`TourEnded`]
//!    summary, after the story in flight (if any) has settled, so it always comes last.
//! 6. At start-up tours are restored from the store with their timers; downtime is not
//!    counted as inactivity. After a panic (a supervised restart) the tours in memory may be
//!    half-changed, so they are read again from the store, once every change handed to it
//!    is written; stories being written carry on and their answers reach the restored tours.

mod batch;
mod clock;
mod guide;
mod lifecycle;
mod restore;
mod store;
mod stories;
mod timers;

use std::{collections::HashMap, sync::Arc, time::Duration};

use actix::prelude::*;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::{
    actors::db_actor::MarkBlocked,
    config::LiveSettings,
    geo::Coordinates,
    i18n::Lang,
    tour::{EndReason, LiveSession, PositionFix, SessionStore},
};
use batch::UpdateBuffer;

pub use clock::Clock;
pub use guide::{Guide, TellTourStory, TourEnded, TourOutcome, TourStoryRequest, WriteTourAhead};
pub use store::SessionWriter;

/// Longest a story may take before the tour gives up on it (and cancels it); well above the
/// gate's own worst case, so a slow LLM costs one story, never the tour.
pub const STORY_DEADLINE: Duration = Duration::from_secs(4 * 60);
/// Longest the shutdown waits for stories already being sent to report back.
pub const SHUTDOWN_SETTLE: Duration = Duration::from_secs(3);
/// Longest the start-up restore may wait for the store before starting empty.
pub const RESTORE_TIMEOUT: Duration = Duration::from_secs(10);

/// A live location arrived: start a tour, or refresh the user's running one.
#[derive(Debug, Clone, Message)]
#[rtype(result = "StartOutcome")]
pub struct Start {
    /// Telegram user id: one tour per user.
    pub user_id: u64,
    /// The private chat the tour talks in.
    pub chat_id: i64,
    /// The user's language.
    pub lang: Lang,
    /// Where the walker is.
    pub fix: PositionFix,
    /// `live_period` in seconds; `None` when shared until stopped (`0x7FFFFFFF`).
    pub live_period_secs: Option<u32>,
    /// Telegram's `date` of the live location message (unix s): expiry counts from it.
    pub sent_at: i64,
    /// The interval the user prefers.
    pub interval: Duration,
}

/// What [`Start`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new tour; its first story is on the way.
    Started {
        /// The tour's interval.
        interval: Duration,
    },
    /// The user already had a tour: it goes on with the new expiry and position.
    Refreshed,
    /// The instance runs its maximum of tours.
    Full {
        /// Tours running.
        active: usize,
        /// `LIVE_SESSIONS_MAX`.
        cap: usize,
    },
    /// `date + live_period` has already passed (a late redelivery): no tour.
    AlreadyOver,
}

/// A live location was edited (buffered until the next flush).
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct LiveUpdate {
    /// Telegram user id.
    pub user_id: u64,
    /// The chat of the edited message.
    pub chat_id: i64,
    /// The new position.
    pub fix: PositionFix,
    /// `false` when the edit has no `live_period`: the user stopped sharing.
    pub sharing: bool,
}

/// `/stop`: end the user's tour; answers whether there was one.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "bool")]
pub struct Stop {
    /// Telegram user id.
    pub user_id: u64,
}

/// An interval button was pressed; answers whether the user has a tour.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "bool")]
pub struct SetInterval {
    /// Telegram user id.
    pub user_id: u64,
    /// The chosen interval.
    pub interval: Duration,
}

/// Whether the user has a tour running.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "bool")]
pub struct HasTour {
    /// Telegram user id.
    pub user_id: u64,
}

/// Telegram said the user blocked the bot ([`MarkBlocked`], the database's message too):
/// their tour ends at once, silently.
pub type UserBlocked = MarkBlocked;

/// Asks for the actor's counters.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "SessionsSnapshot")]
pub struct SessionsStats;

/// The actor's state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionsSnapshot {
    /// Tours running.
    pub active: usize,
    /// `LIVE_SESSIONS_MAX`.
    pub cap: usize,
    /// Live updates received since start.
    pub updates_received: u64,
    /// Flushes that applied at least one update.
    pub batches_applied: u64,
    /// Stories being written right now.
    pub stories_in_flight: usize,
    /// Tour starts refused because `cap` tours were running.
    pub refused: u64,
    /// Ticks of running tours, skipped ones (a story still being written) included.
    pub ticks: u64,
    /// What the ticks came to, as far as their tour was still running.
    pub tick_outcomes: TickOutcomes,
}

/// What tour ticks came to, by [`TickOutcomes::NAMES`]: a story told, nothing new nearby,
/// no story could be had, not delivered, cancelled, lost (timed out or the guide gone), or
/// skipped (the tour's previous story was still being written). A tick whose tour ended
/// before its answer came is in none of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickOutcomes(pub [u64; 7]);

impl TickOutcomes {
    /// The outcomes' names, as `/metrics` labels them.
    pub const NAMES: [&'static str; 7] = [
        "told",
        "nothing_new",
        "unavailable",
        "undelivered",
        "cancelled",
        "lost",
        "skipped",
    ];

    /// Counts one tick that came to `name` (one of [`TickOutcomes::NAMES`]).
    fn count(&mut self, name: &str) {
        if let Some(index) = Self::NAMES.iter().position(|n| *n == name) {
            self.0[index] += 1;
        }
    }
}

/// Shutdown: cancel the stories being written and give the ones already being sent up to
/// [`SHUTDOWN_SETTLE`] to report (so their numbers count), apply buffered updates, write every
/// tour to the store, let go of them quietly (no summaries: the next instance restores them)
/// and stop. Answers once all is written.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// A running tour: its data and the handles of what is scheduled for it.
struct Tour {
    session: LiveSession,
    tick: Option<SpawnHandle>,
    /// Writing the next tick's story ahead, a tick's patience before it.
    ahead: Option<SpawnHandle>,
    /// Where the walker was when the next tick's story was last written ahead (`None`
    /// before that): a walker who moved on since has it written ahead again.
    ahead_from: Option<crate::geo::Coordinates>,
    end_check: Option<SpawnHandle>,
    story: Option<StoryInFlight>,
}

/// The story being written for a tour.
struct StoryInFlight {
    id: u64,
    started_at: i64,
    /// Asked by a tick (not the tour's first story).
    tick: bool,
    /// Where the walker stood when it was asked for.
    from: Coordinates,
    cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct Counters {
    updates_received: u64,
    ticks: u64,
    tick_outcomes: TickOutcomes,
    batches_applied: u64,
    refused: u64,
}

/// The tours actor; see the module docs for its algorithm.
pub struct LiveLocationSessions {
    settings: LiveSettings,
    guide: Guide,
    clock: Clock,
    store: Arc<dyn SessionStore>,
    /// Started with the actor (it needs the runtime).
    writer: Option<SessionWriter>,
    tours: HashMap<u64, Tour>,
    buffer: UpdateBuffer,
    flush_timer: Option<SpawnHandle>,
    /// Summaries of ended tours waiting for their last story to settle, by story id.
    finishing: HashMap<u64, TourEnded>,
    next_story_id: u64,
    /// Stories in flight across a restart, by user, until their tours are read again.
    carried: HashMap<u64, StoryInFlight>,
    /// Set while a shutdown waits for stories in flight; told when the last one reports.
    settled: Option<oneshot::Sender<()>>,
    counters: Counters,
}

impl LiveLocationSessions {
    /// The actor over `store`, telling stories through `guide`, timing with `clock`.
    pub fn new(
        settings: LiveSettings,
        store: Arc<dyn SessionStore>,
        guide: Guide,
        clock: Clock,
    ) -> Self {
        Self {
            settings,
            guide,
            clock,
            store,
            writer: None,
            tours: HashMap::new(),
            buffer: UpdateBuffer::default(),
            flush_timer: None,
            finishing: HashMap::new(),
            next_story_id: 0,
            carried: HashMap::new(),
            settled: None,
            counters: Counters::default(),
        }
    }
}

impl Actor for LiveLocationSessions {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        if self.writer.is_none() {
            self.writer = Some(SessionWriter::spawn(Arc::clone(&self.store)));
        }
        self.restore(ctx);
    }
}

impl Supervised for LiveLocationSessions {
    /// After a panic: let go of the tours in memory (their timers died with the old context)
    /// and keep their stories in flight; `started` reads the tours again from the store.
    /// Buffered updates and summaries waiting for their last story are kept.
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.flush_timer = None;
        self.carried = self
            .tours
            .drain()
            .filter_map(|(user_id, tour)| tour.story.map(|story| (user_id, story)))
            .collect();
    }
}

impl Handler<Start> for LiveLocationSessions {
    type Result = MessageResult<Start>;

    fn handle(&mut self, msg: Start, ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.start(msg, ctx))
    }
}

impl Handler<LiveUpdate> for LiveLocationSessions {
    type Result = ();

    fn handle(&mut self, msg: LiveUpdate, ctx: &mut Self::Context) {
        self.receive(msg, ctx);
    }
}

impl Handler<Stop> for LiveLocationSessions {
    type Result = bool;

    fn handle(&mut self, msg: Stop, ctx: &mut Self::Context) -> bool {
        if let Some(update) = self.buffer.take(msg.user_id) {
            self.apply_one(msg.user_id, update);
        }
        self.end_tour(msg.user_id, EndReason::Command, ctx)
    }
}

impl Handler<UserBlocked> for LiveLocationSessions {
    type Result = ();

    fn handle(&mut self, msg: UserBlocked, ctx: &mut Self::Context) {
        let Ok(user_id) = u64::try_from(msg.user_id) else {
            return;
        };
        self.buffer.take(user_id);
        self.end_tour(user_id, EndReason::Blocked, ctx);
    }
}

impl Handler<SetInterval> for LiveLocationSessions {
    type Result = bool;

    fn handle(&mut self, msg: SetInterval, ctx: &mut Self::Context) -> bool {
        let now = self.clock.now_ms();
        let Some(tour) = self.tours.get_mut(&msg.user_id) else {
            return false;
        };
        tour.session.set_interval(msg.interval, now);
        let (wanted, interval) = (tour.session.next_tick_at, tour.session.interval());
        let slot = self.free_tick_slot(msg.user_id, wanted, interval);
        if let Some(tour) = self.tours.get_mut(&msg.user_id) {
            tour.session.next_tick_at = slot;
        }
        tracing::info!(user_id = msg.user_id, interval = ?msg.interval, "tour interval set");
        self.persist(msg.user_id);
        self.arm_tick(msg.user_id, ctx);
        self.arm_end_check(msg.user_id, ctx);
        true
    }
}

impl Handler<HasTour> for LiveLocationSessions {
    type Result = bool;

    fn handle(&mut self, msg: HasTour, _ctx: &mut Self::Context) -> bool {
        self.tours.contains_key(&msg.user_id)
    }
}

impl Handler<SessionsStats> for LiveLocationSessions {
    type Result = MessageResult<SessionsStats>;

    fn handle(&mut self, _msg: SessionsStats, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(SessionsSnapshot {
            active: self.tours.len(),
            cap: self.settings.max_sessions,
            updates_received: self.counters.updates_received,
            batches_applied: self.counters.batches_applied,
            stories_in_flight: self.stories_in_flight(),
            refused: self.counters.refused,
            ticks: self.counters.ticks,
            tick_outcomes: self.counters.tick_outcomes,
        })
    }
}

impl Handler<Shutdown> for LiveLocationSessions {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: Shutdown, _ctx: &mut Self::Context) -> Self::Result {
        let settled = self.settle_stories();
        let settle = async move {
            if let Some(settled) = settled {
                let _ = tokio::time::timeout(SHUTDOWN_SETTLE, settled).await;
            }
        };
        Box::pin(
            actix::fut::wrap_future(settle)
                .then(|(), act: &mut Self, ctx| actix::fut::wrap_future(act.hand_over(ctx)))
                .map(|(), _act, ctx| ctx.stop()),
        )
    }
}
