//! The hand-over point between ingress (webhook or polling) and the router.
//!
//! An update is admitted without waiting for its work: it takes a backlog permit, is written
//! to the journal when it asks for work ([`asks_for_work`]; the caller answers Telegram only
//! after that commit), is checked against the update ids already seen (Telegram redelivers),
//! and goes into its user's lane ([`super::lanes`]), which returns the permit and removes the
//! journal entry when the update and the work it started are done. When every permit is taken
//! the webhook answers 503 so Telegram keeps the update and retries; nothing is marked seen
//! until it is journaled and admitted, so a redelivery of an update a crash interrupted before
//! that is handled, not dropped. At shutdown admission closes and [`Dispatcher::drain`] waits
//! for the permits to come back. [`Dispatcher::replay`] takes back what an earlier run left in
//! the journal.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use teloxide::types::{ChatKind, PublicChatKind, Update, UpdateKind};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use super::{context::Context, lanes::Lanes, work::Admitted};
use crate::{
    cache::SeenUpdates,
    db::{
        journal::{Journal, JournalError, NewEntry, Ticket, Written},
        now_ms,
    },
    stats::{Metrics, registry::names},
    telemetry::{panics, warnings::RateLimitedWarning},
};

/// Update kinds counted apart; "unknown" is a body that could not be read (or was not read
/// at shutdown).
const KINDS: [&str; 6] = [
    "message",
    "edited_message",
    "callback_query",
    "pre_checkout_query",
    "other",
    "unknown",
];
/// Where "unknown" is in [`KINDS`].
const UNKNOWN_KIND: usize = 5;

/// What happened to an offered update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handed to the router.
    Accepted,
    /// Seen before: acknowledged, not processed again.
    Duplicate,
    /// Malformed or of a kind we do not handle: acknowledged and logged.
    Unusable,
    /// The backlog is full: ask Telegram to retry later.
    Busy,
    /// Shutting down: ask Telegram to retry later.
    Closed,
}

impl Admission {
    /// Every outcome, in the order of their counters.
    const ALL: [Admission; 5] = [
        Admission::Accepted,
        Admission::Duplicate,
        Admission::Unusable,
        Admission::Busy,
        Admission::Closed,
    ];

    /// The outcome's name, for metrics' labels.
    pub fn name(self) -> &'static str {
        match self {
            Admission::Accepted => "accepted",
            Admission::Duplicate => "duplicate",
            Admission::Unusable => "unusable",
            Admission::Busy => "busy",
            Admission::Closed => "closed",
        }
    }
}

/// Admits updates into the router, bounded and deduplicated.
pub struct Dispatcher {
    lanes: Arc<Lanes>,
    /// One permit per update being handled; its size is the backlog bound.
    backlog: Arc<Semaphore>,
    backlog_max: usize,
    /// Update ids already admitted (Redis when configured, else in process).
    seen: SeenUpdates,
    /// Where updates that ask for work are written down; `None` only in benchmarks.
    journal: Option<Journal>,
    /// Cleared when shutdown begins.
    accepting: AtomicBool,
    /// Updates by kind, then outcome (registered once: counting is one atomic add).
    admitted: [[metrics::Counter; Admission::ALL.len()]; KINDS.len()],
    /// Warnings about bodies and updates that cannot be used.
    unusable: UnusableWarnings,
}

impl Dispatcher {
    /// A dispatcher that lets at most `backlog_max` updates be handled at once.
    pub fn new(ctx: Arc<Context>, backlog_max: usize, seen: SeenUpdates) -> Self {
        let backlog_max = backlog_max.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            lanes: Lanes::new(ctx),
            backlog: Arc::new(Semaphore::new(backlog_max)),
            backlog_max,
            seen,
            journal: None,
            accepting: AtomicBool::new(true),
            admitted: admission_counters(&Metrics::default()),
            unusable: UnusableWarnings::default(),
        }
    }

    /// Counts offered updates in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.admitted = admission_counters(metrics);
        self
    }

    /// The same, journaling the updates that ask for work in `journal`.
    pub fn with_journal(self, journal: Journal) -> Self {
        Self {
            journal: Some(journal),
            ..self
        }
    }

    /// Takes back an update an earlier run acknowledged and did not finish (its entry
    /// claimed, `ticket`), waiting for backlog room: handled again, or answered with an
    /// apology in the user's language when it is too old (`apologise`). It is marked seen, so a
    /// redelivery of it is a duplicate; its entry goes once it is done. When shutdown has begun
    /// the entry stays for the next start.
    pub async fn replay(&self, update: Box<Update>, ticket: Ticket, apologise: bool) -> Admission {
        let span = update_span(&update);
        self.replay_in_span(update, ticket, apologise)
            .instrument(span)
            .await
    }

    async fn replay_in_span(
        &self,
        update: Box<Update>,
        ticket: Ticket,
        apologise: bool,
    ) -> Admission {
        let Some(permit) = self.permit_waiting().await else {
            ticket.keep();
            return Admission::Closed;
        };
        self.seen.first_time(update.id.0).await;
        let admitted = Admitted::new(permit, Some(ticket));
        if apologise {
            self.lanes.apologise(update, admitted);
        } else {
            self.lanes.submit(update, admitted);
        }
        Admission::Accepted
    }

    async fn permit_waiting(&self) -> Option<OwnedSemaphorePermit> {
        if !self.is_accepting() {
            return None;
        }
        let permit = self.backlog.clone().acquire_owned().await.ok()?;
        self.is_accepting().then_some(permit)
    }

    /// Offers a raw webhook body; never waits.
    pub async fn offer_raw(&self, body: &[u8]) -> Admission {
        if !self.is_accepting() {
            return self.counted(UNKNOWN_KIND, Admission::Closed);
        }
        match parse_update(body, &self.unusable) {
            Some(update) => self.offer(update).await,
            None => self.counted(UNKNOWN_KIND, Admission::Unusable),
        }
    }

    /// Offers a parsed update; never waits. `Busy` when the backlog is full.
    ///
    /// The update (~2 KiB) travels boxed: every future that holds it is copied a few times
    /// on its way into a task, once per update.
    pub async fn offer(&self, update: Box<Update>) -> Admission {
        let kind = kind_index(&update);
        let admission = if !self.is_accepting() {
            Admission::Closed
        } else {
            match self.backlog.clone().try_acquire_owned() {
                Ok(permit) => {
                    let span = update_span(&update);
                    self.start(update, permit).instrument(span).await
                }
                Err(_) => Admission::Busy,
            }
        };
        self.counted(kind, admission)
    }

    /// Offers a parsed update, waiting for backlog room (polling applies back-pressure).
    pub async fn offer_waiting(&self, update: Box<Update>) -> Admission {
        let kind = kind_index(&update);
        let admission = if !self.is_accepting() {
            Admission::Closed
        } else {
            match self.backlog.clone().acquire_owned().await {
                Ok(permit) => {
                    let span = update_span(&update);
                    self.start(update, permit).instrument(span).await
                }
                Err(_) => Admission::Closed,
            }
        };
        self.counted(kind, admission)
    }

    fn counted(&self, kind: usize, admission: Admission) -> Admission {
        self.admitted[kind][admission as usize].increment(1);
        admission
    }

    /// Parses a body (from `getUpdates`), warning about it as the webhook's are.
    pub fn parse(&self, body: &[u8]) -> Option<Box<Update>> {
        parse_update(body, &self.unusable)
    }

    /// Whether new updates are admitted.
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }

    /// Users whose updates are being handled right now.
    pub fn lanes_active(&self) -> usize {
        self.lanes.active()
    }

    /// Updates currently being handled.
    pub fn backlog_len(&self) -> usize {
        self.backlog_max - self.backlog.available_permits()
    }

    /// Refuses new updates from now on (they get 503 and are retried by Telegram).
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Release);
    }

    /// Waits up to `grace` for every admitted update to finish; `false` if time ran out.
    pub async fn drain(&self, grace: Duration) -> bool {
        let everything = u32::try_from(self.backlog_max).unwrap_or(u32::MAX);
        tokio::time::timeout(grace, self.backlog.acquire_many(everything))
            .await
            .is_ok()
    }

    async fn start(&self, update: Box<Update>, permit: OwnedSemaphorePermit) -> Admission {
        if !usable(&update, &self.unusable) {
            return Admission::Unusable;
        }
        let ticket = match self.write_down(&update).await {
            Journaled::New(ticket) => Some(ticket),
            Journaled::Existing => {
                tracing::debug!(update_id = update.id.0, "update already journaled");
                return Admission::Duplicate;
            }
            Journaled::Not => None,
        };
        if !self.seen.first_time(update.id.0).await {
            // Dropping the ticket removes the entry just written: the update was handled.
            tracing::debug!(update_id = update.id.0, "duplicate update ignored");
            return Admission::Duplicate;
        }
        self.lanes.submit(update, Admitted::new(permit, ticket));
        Admission::Accepted
    }

    /// Journals `update` when it asks for work; waits for the commit.
    async fn write_down(&self, update: &Update) -> Journaled {
        let Some(journal) = self.journal.as_ref().filter(|_| asks_for_work(update)) else {
            return Journaled::Not;
        };
        let body = match serde_json::to_string(update) {
            Ok(body) => body,
            Err(error) => {
                tracing::warn!(update_id = update.id.0, %error, "update not journaled");
                return Journaled::Not;
            }
        };
        let entry = NewEntry {
            update_id: update.id.0,
            body,
            received_at: now_ms(),
        };
        match journal.write(entry).await {
            Ok(Written::New(ticket)) => Journaled::New(ticket),
            Ok(Written::Existing) => Journaled::Existing,
            Err(JournalError::Database(_)) => {
                // The writer warned; the update is still handled, just not durably.
                tracing::debug!(update_id = update.id.0, "update handled unjournaled");
                Journaled::Not
            }
            Err(JournalError::Closed) => Journaled::Not,
        }
    }
}

/// What journaling an update gave.
enum Journaled {
    /// Written: the update is ours to finish.
    New(Ticket),
    /// Already in the journal: in flight or being replayed.
    Existing,
    /// Not journaled (no work asked, or the database refused).
    Not,
}

/// The span every line logged about `update` is in, from its admission through its lane to
/// the work it starts and the sends it makes; the actors' spans for it `follow_from` it.
///
/// It is an ERROR-level span so that it is enabled whenever any line is: a span below the
/// filter's level is not recorded, and a warning logged inside it would lose the ids (the
/// simulator and many deployments run at `RUST_LOG=warn`). Created only for an update that
/// got a backlog permit: a flood refused as busy costs no span.
pub fn update_span(update: &Update) -> tracing::Span {
    tracing::error_span!(
        "update",
        update_id = update.id.0,
        user_id = update.from().map(|user| user.id.0),
        chat_id = update.chat().map(|chat| chat.id.0),
        chat = update.chat().map(|chat| chat_kind(&chat.kind)),
        kind = KINDS[kind_index(update)],
    )
}

/// The kind of a chat, as Telegram names it.
fn chat_kind(kind: &ChatKind) -> &'static str {
    match kind {
        ChatKind::Private(_) => "private",
        ChatKind::Public(public) => match public.kind {
            PublicChatKind::Channel(_) => "channel",
            PublicChatKind::Group => "group",
            PublicChatKind::Supergroup(_) => "supergroup",
        },
    }
}

/// Whether `update` asks for work worth journaling: anything said in a private chat (a
/// location, a live start, a command), a button press, a payment. Edits (live positions,
/// coalesced anyway), membership changes, group chatter and pre-checkout queries (answered
/// at once or never: Telegram waits 10 s) are not.
pub fn asks_for_work(update: &Update) -> bool {
    match &update.kind {
        UpdateKind::Message(message) => {
            message.from.is_some()
                && (message.chat.is_private() || message.successful_payment().is_some())
        }
        UpdateKind::CallbackQuery(_) => true,
        _ => false,
    }
}

/// What admission decides about a parsed update before it goes to a lane: `Unusable` for a
/// kind teloxide could not read, `Duplicate` for an `update_id` seen before, else `Accepted`
/// (from then on the id counts as seen).
pub async fn check(update: &Update, seen: &SeenUpdates, warnings: &UnusableWarnings) -> Admission {
    if !usable(update, warnings) {
        return Admission::Unusable;
    }
    if !seen.first_time(update.id.0).await {
        tracing::debug!(update_id = update.id.0, "duplicate update ignored");
        return Admission::Duplicate;
    }
    Admission::Accepted
}

/// The warnings about what cannot be used, each written at most once a second with how many
/// bodies it stands for (the line describes the first of them): a stranger's flood of
/// malformed bodies costs a line a second, not a line a body.
#[derive(Default)]
pub struct UnusableWarnings {
    /// Bodies teloxide's parser panicked on.
    panicked: RateLimitedWarning,
    /// Bodies with an `update_id` that are not an update.
    schema_invalid: RateLimitedWarning,
    /// Bodies that are no update at all (not JSON, no `update_id`).
    unparsable: RateLimitedWarning,
    /// Updates teloxide read as a kind it does not know.
    unknown_kind: RateLimitedWarning,
}

/// Whether `update` is of a kind the bot can read (warned about when not).
fn usable(update: &Update, warnings: &UnusableWarnings) -> bool {
    if let UpdateKind::Error(_) = update.kind {
        if let Some(updates) = warnings.unknown_kind.record(1) {
            tracing::warn!(
                updates,
                update_id = update.id.0,
                "update of an unknown or malformed kind"
            );
        }
        return false;
    }
    true
}

/// Parses a webhook body, warning through `warnings` (with the `update_id` when readable)
/// about what cannot be used.
///
/// Never panics: teloxide's parser can (a `message_reaction` with neither `user` nor
/// `actor_chat` unwraps a `None`), so a panic is contained and the body is unusable like any
/// other. Nothing of the body reaches the log but its `update_id`, its length and where and
/// why the parser stopped (serde's messages quote the offending value; that part is cut).
pub fn parse_update(body: &[u8], warnings: &UnusableWarnings) -> Option<Box<Update>> {
    let error = match panics::contain(|| serde_json::from_slice::<Box<Update>>(body)) {
        Ok(Ok(update)) => return Some(update),
        Ok(Err(error)) => error,
        Err(panic) => {
            if let Some(bodies) = warnings.panicked.record(1) {
                tracing::warn!(
                    bodies,
                    update_id = update_id_of(body),
                    bytes = body.len(),
                    panic.message = %panic.message,
                    panic.location = panic.location.as_deref(),
                    "the update parser panicked; update given up"
                );
            }
            return None;
        }
    };
    let reason = Unquoted(&error);
    match update_id_of(body) {
        Some(id) => {
            if let Some(bodies) = warnings.schema_invalid.record(1) {
                tracing::warn!(bodies, update_id = id, error = %reason, "schema-invalid update");
            }
        }
        None => {
            if let Some(bodies) = warnings.unparsable.record(1) {
                let bytes = body.len();
                tracing::warn!(bodies, error = %reason, bytes, "unparsable webhook body");
            }
        }
    }
    None
}

/// The `update_id` of a body that may be no update at all.
fn update_id_of(body: &[u8]) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct UpdateId {
        update_id: u64,
    }
    serde_json::from_slice::<UpdateId>(body)
        .ok()
        .map(|only| only.update_id)
}

/// A serde error without what it quotes of the input (`invalid type: string "…", expected
/// u32`): the category of the message, then the position.
struct Unquoted<'e>(&'e serde_json::Error);

impl std::fmt::Display for Unquoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = self.0.to_string();
        let head = full.split(" at line ").next().unwrap_or_default();
        let kept = head.split(['"', '`']).next().unwrap_or_default();
        let cut = if kept.len() < head.len() { " …" } else { "" };
        let (line, column) = (self.0.line(), self.0.column());
        write!(f, "{}{cut} at line {line} column {column}", kept.trim_end())
    }
}

fn admission_counters(metrics: &Metrics) -> [[metrics::Counter; 5]; KINDS.len()] {
    KINDS.map(|kind| {
        Admission::ALL.map(|outcome| {
            let labels = [("kind", kind), ("outcome", outcome.name())];
            metrics.counter(names::UPDATES, &labels)
        })
    })
}

/// Where `update`'s kind is in [`KINDS`].
fn kind_index(update: &Update) -> usize {
    match update.kind {
        UpdateKind::Message(_) => 0,
        UpdateKind::EditedMessage(_) => 1,
        UpdateKind::CallbackQuery(_) => 2,
        UpdateKind::PreCheckoutQuery(_) => 3,
        UpdateKind::Error(_) => UNKNOWN_KIND,
        _ => 4,
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
