//! The priority outbox: the one way a message leaves, within Telegram's send budget.
//!
//! Telegram allows a bot about 30 messages a second in all and about one a second per chat
//! (a short burst is tolerated), and answers `429 Too Many Requests` with a `retry_after`
//! past that, for the whole bot. The methods that count are the ones that put a message in a
//! chat (the Bot API marks them with `allow_paid_broadcast`: `sendMessage`, `sendPhoto`,
//! `sendVenue`, `sendInvoice`, ...) and edits of messages. Callback answers, chat actions
//! ("typing…") and pre-checkout answers do not count and never wait here.
//!
//! Counted sends ([`Outbox::send`]) take a turn from the [`queue`]: ordered by what a person
//! is waiting for ([`SendClass`]), first come first served within a class, one at a time per
//! chat so a chat's messages keep their order, limited by two [`governor`] limiters (a
//! keyed one per chat, a direct one for the bot) that add no latency while under the limits.
//! A 429 anywhere pauses every send for its `retry_after`; a message that could not go
//! within its class's patience is not sent late: its sender hears [`TelegramError::TooLate`]
//! and says something shorter instead. "typing…" is sent only when nothing waits and is
//! dropped otherwise ([`Outbox::typing`]); a story's drafts likewise take a bot-wide token
//! only when one is free at once ([`Outbox::draft`], in [`draft`]). Nothing is sent to a
//! user who blocked the bot until they write again ([`blocked`]).

pub mod blocked;
mod draft;
mod figures;
pub mod queue;

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use actix::Recipient;
use governor::{Quota, RateLimiter};
use teloxide::{
    ApiError, Bot, RequestError,
    prelude::Requester,
    requests::{HasPayload, Payload, Request},
    types::{ChatAction, ChatId},
};
use tokio::time::Instant;
use tracing::Instrument;

use super::TelegramError;
use crate::{
    actors::db_actor::MarkBlocked,
    config::SendLimits,
    stats::{ErrorLog, Metrics},
};
use blocked::BlockedChats;
pub use draft::{DraftOutcome, SendMessageDraft};
use figures::SendFigures;
use queue::{Caps, Limiters, Pending, QueueSnapshot, Refusal, SendQueue};

/// How many times a request that could not connect is tried again (one that went out and
/// lost its answer is not: Telegram may have delivered it).
const MAX_NETWORK_RETRIES: u32 = 3;
/// First back-off after a network error; doubled on each retry.
const NETWORK_BACKOFF: Duration = Duration::from_millis(250);
/// How many times a request Telegram answered with a server error (5xx) is tried again.
/// teloxide itself waits 10 s before it reports a 5xx, which is the back-off.
const MAX_SERVER_ERROR_RETRIES: u32 = 1;
/// How Telegram (or the proxy in front of it) words a server error; teloxide keeps only
/// this description, not the status.
const SERVER_ERRORS: [&str; 4] = [
    "Internal Server Error",
    "Bad Gateway",
    "Service Unavailable",
    "Gateway Timeout",
];
/// Turns that may wait for one chat (a story is one or two messages).
const PER_CHAT_CAP: usize = 20;
/// Turns that may wait in all (~3 minutes of the whole budget).
const TOTAL_CAP: usize = 5_000;
/// The most messages the bot-wide limiter lets go at once; the rest of the second's budget
/// is spread evenly, so no one-second window ever holds more than the limit.
const MAX_GLOBAL_BURST: u32 = 5;
/// What the bot-wide budget of a second is spread over: a second and a margin, so that
/// jitter on the way to Telegram cannot make one second hold one message too many.
const SPREAD_OVER: Duration = Duration::from_millis(1010);
/// The share of the bot-wide rate kept free of everything but replies (one in four), so a
/// reply finds the budget open even while stories stream out.
const REPLY_RESERVE_DIVISOR: u32 = 4;

/// What a person is waiting for, highest first; a class's messages go before any lower one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendClass {
    /// An answer to something the person just did: a command, a setting, a button, the
    /// tour-interval question, a "busy" note.
    Reply,
    /// The first answer to a location the person just sent.
    FirstAnswer,
    /// A tour's story, "Tell me more", "Another place".
    Story,
    /// Everything else (tour summaries, ...).
    Other,
}

impl SendClass {
    /// Every class, highest first.
    pub const ALL: [SendClass; 4] = [
        SendClass::Reply,
        SendClass::FirstAnswer,
        SendClass::Story,
        SendClass::Other,
    ];

    /// Position in [`SendClass::ALL`].
    pub fn index(self) -> usize {
        match self {
            SendClass::Reply => 0,
            SendClass::FirstAnswer => 1,
            SendClass::Story => 2,
            SendClass::Other => 3,
        }
    }

    /// The longest a message of this class may wait (in the queue and through 429 pauses)
    /// and still be worth sending.
    pub fn patience(self) -> Duration {
        match self {
            SendClass::Reply | SendClass::Story => Duration::from_secs(60),
            SendClass::FirstAnswer => Duration::from_secs(20),
            SendClass::Other => Duration::from_secs(300),
        }
    }

    /// The class's name, for logs and reports.
    pub fn name(self) -> &'static str {
        match self {
            SendClass::Reply => "reply",
            SendClass::FirstAnswer => "first_answer",
            SendClass::Story => "story",
            SendClass::Other => "other",
        }
    }
}

/// The outbox's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxSnapshot {
    /// The queue's depths and drops.
    pub queue: QueueSnapshot,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Milliseconds of pause asked for by those 429s.
    pub paused_ms: u64,
    /// "typing…" calls dropped because the budget had no room.
    pub typing_dropped: u64,
    /// Story drafts shown.
    pub drafts_sent: u64,
    /// Story drafts skipped because the budget had no room at that instant.
    pub drafts_skipped: u64,
}

#[derive(Default)]
struct Counters {
    rate_limited: AtomicU64,
    paused_ms: AtomicU64,
    typing_dropped: AtomicU64,
    drafts_sent: AtomicU64,
    drafts_skipped: AtomicU64,
    /// The Bot API server answered that it has no `sendMessageDraft`.
    drafts_unsupported: AtomicBool,
}

/// The bot's outgoing side, shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    bot: Bot,
    queue: Arc<SendQueue>,
    /// Chats that blocked the bot, and who hears of a block.
    blocked: Arc<BlockedChats>,
    /// Where failed calls are counted.
    errors: ErrorLog,
    counters: Arc<Counters>,
    /// Messages and calls counted for `/metrics`.
    figures: Arc<SendFigures>,
}

impl Outbox {
    /// Wraps `bot` with the given send limits and starts the queue's scheduler on the
    /// current runtime; `blocked` hears of every user who blocks the bot.
    pub fn new(
        bot: Bot,
        limits: SendLimits,
        blocked: Recipient<MarkBlocked>,
        errors: ErrorLog,
    ) -> Self {
        let per_chat =
            Quota::per_second(limits.per_chat_per_sec).allow_burst(limits.per_chat_burst);
        let caps = Caps {
            per_chat: PER_CHAT_CAP,
            total: TOTAL_CAP,
        };
        let per_sec = limits.global_per_sec.get();
        let limiters = Limiters {
            per_chat: RateLimiter::keyed(per_chat),
            global: RateLimiter::direct(global_quota(per_sec)),
            lower: RateLimiter::direct(lower_quota(per_sec)),
        };
        let queue = SendQueue::new(limiters, caps);
        tokio::spawn(Arc::clone(&queue).schedule());
        Self {
            bot,
            queue,
            blocked: Arc::new(BlockedChats::new(blocked)),
            errors,
            counters: Arc::default(),
            figures: Arc::new(SendFigures::new(&Metrics::default())),
        }
    }

    /// Counts messages and Bot API calls in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.figures = Arc::new(SendFigures::new(metrics));
        self
    }

    /// `listener` also hears of every user who blocks the bot from now on (the tours, which
    /// start after the outbox).
    pub fn tell_blocks_to(&self, listener: Recipient<MarkBlocked>) {
        self.blocked.tell(listener);
    }

    /// The user of `chat` blocked the bot (Telegram said so in an update): nothing more is
    /// sent there until they write again.
    pub fn mark_blocked(&self, chat: ChatId) {
        tracing::info!(chat_id = chat.0, "the user blocked the bot");
        self.blocked.mark(chat);
    }

    /// The user of `chat` wrote to us: they do not block the bot (any more).
    pub fn heard_from(&self, chat: ChatId) {
        self.blocked.clear(chat);
    }

    /// The underlying client, to build requests with.
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// Sends a message (or an edit) to `chat` when its turn comes: see the module docs.
    ///
    /// The message takes its place in the queue when this is called, not when the future is
    /// first polled: messages asked for in order keep that order even when each is awaited
    /// in a task of its own.
    pub fn send<R>(
        &self,
        chat: ChatId,
        class: SendClass,
        request: R,
    ) -> impl Future<Output = Result<<R::Payload as Payload>::Output, TelegramError>> + use<R>
    where
        R: Request<Err = RequestError> + HasPayload,
    {
        let deadline = Instant::now() + class.patience();
        let pending =
            (!self.blocked.contains(chat)).then(|| self.queue.enqueue(chat, class, deadline));
        let outbox = self.clone();
        let span = send_span::<R>(chat, Some(class));
        async move {
            let Some(pending) = pending else {
                tracing::debug!(chat_id = chat.0, "not sent: the user blocked the bot");
                return Err(TelegramError::Blocked);
            };
            let result = outbox.send_in_turn(pending, chat, class, request).await;
            outbox.figures.reply(class, &result);
            result
        }
        .instrument(span)
    }

    async fn send_in_turn<R>(
        &self,
        mut pending: Pending,
        chat: ChatId,
        class: SendClass,
        request: R,
    ) -> Result<<R::Payload as Payload>::Output, TelegramError>
    where
        R: Request<Err = RequestError> + HasPayload,
    {
        loop {
            let turn = pending.granted().await.map_err(|refusal| {
                tracing::info!(
                    chat_id = chat.0,
                    class = class.name(),
                    ?refusal,
                    "message not sent"
                );
                TelegramError::from(refusal)
            })?;
            match self.attempt(chat, &request).await {
                Err(RequestError::RetryAfter(after)) => {
                    let pause = after.duration();
                    self.paused_by_429(chat, pause);
                    pending = turn.retry_after(pause);
                }
                Err(error) => return Err(self.classify(chat, error)),
                Ok(output) => return Ok(output),
            }
        }
    }

    /// Counts a 429 and the pause it asked for.
    fn paused_by_429(&self, chat: ChatId, pause: Duration) {
        self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX);
        self.counters.paused_ms.fetch_add(ms, Ordering::Relaxed);
        tracing::warn!(
            chat_id = chat.0,
            ?pause,
            "Telegram asked to pause: all sending paused"
        );
    }

    /// Sends a call Telegram does not count against the send budget (a callback answer, a
    /// pre-checkout answer) at once, retrying network errors.
    pub async fn send_uncounted<R>(
        &self,
        chat: ChatId,
        request: R,
    ) -> Result<<R::Payload as Payload>::Output, TelegramError>
    where
        R: Request<Err = RequestError> + HasPayload,
    {
        if self.blocked.contains(chat) {
            return Err(TelegramError::Blocked);
        }
        self.attempt(chat, &request)
            .instrument(send_span::<R>(chat, None))
            .await
            .map_err(|error| self.classify(chat, error))
    }

    /// Shows "typing…" in `chat` when the budget has room, without waiting; dropped, never
    /// queued, otherwise (it is cosmetic and stale a second later).
    pub fn typing(&self, chat: ChatId) {
        if self.blocked.contains(chat) {
            return;
        }
        if !self.queue.has_room(chat) {
            self.counters.typing_dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(chat_id = chat.0, "typing dropped: the send budget is busy");
            return;
        }
        let action = self.bot.send_chat_action(chat, ChatAction::Typing);
        let figures = Arc::clone(&self.figures);
        tokio::spawn(async move {
            let result = action.await;
            figures.call("SendChatAction", &result);
            if let Err(error) = result {
                tracing::debug!(%error, "typing action not sent");
            }
        });
    }

    /// The outbox's depths and counters.
    pub fn snapshot(&self) -> OutboxSnapshot {
        OutboxSnapshot {
            queue: self.queue.snapshot(),
            rate_limited: self.counters.rate_limited.load(Ordering::Relaxed),
            paused_ms: self.counters.paused_ms.load(Ordering::Relaxed),
            typing_dropped: self.counters.typing_dropped.load(Ordering::Relaxed),
            drafts_sent: self.counters.drafts_sent.load(Ordering::Relaxed),
            drafts_skipped: self.counters.drafts_skipped.load(Ordering::Relaxed),
        }
    }

    /// Forgets per-chat buckets that are full again, so the limiter does not grow forever.
    pub fn forget_idle_chats(&self) {
        self.queue.forget_idle_chats();
    }

    /// Refuses whatever still waits and stops the scheduler (the last step of shutdown).
    pub fn close(&self) {
        self.queue.close();
    }

    /// One request, with network errors retried under bounded back-off and a server error
    /// (5xx) tried once more.
    async fn attempt<R>(
        &self,
        chat: ChatId,
        request: &R,
    ) -> Result<<R::Payload as Payload>::Output, RequestError>
    where
        R: Request<Err = RequestError> + HasPayload,
    {
        let (mut network_failures, mut server_failures) = (0, 0);
        loop {
            let result = request.send_ref().await;
            self.figures.call(<R::Payload as Payload>::NAME, &result);
            match result {
                Err(RequestError::Network(error))
                    if error.is_connect() && network_failures < MAX_NETWORK_RETRIES =>
                {
                    network_failures += 1;
                    tracing::warn!(chat_id = chat.0, %error, "Telegram call failed, retrying");
                    tokio::time::sleep(NETWORK_BACKOFF * 2u32.pow(network_failures - 1)).await;
                }
                Err(RequestError::Api(ApiError::Unknown(error)))
                    if SERVER_ERRORS.contains(&error.as_str())
                        && server_failures < MAX_SERVER_ERROR_RETRIES =>
                {
                    server_failures += 1;
                    tracing::warn!(chat_id = chat.0, %error, "Telegram server error, retrying");
                }
                other => return other,
            }
        }
    }

    fn classify(&self, chat: ChatId, error: RequestError) -> TelegramError {
        match error {
            RequestError::Api(ApiError::BotBlocked | ApiError::UserDeactivated) => {
                tracing::info!(chat_id = chat.0, "the user blocked the bot; not retrying");
                self.blocked.mark(chat);
                TelegramError::Blocked
            }
            RequestError::RetryAfter(_) => {
                tracing::warn!(chat_id = chat.0, "Telegram rate limit on an uncounted call");
                TelegramError::RateLimited
            }
            RequestError::Api(api) => {
                self.errors.record();
                tracing::warn!(chat_id = chat.0, error = %api, "Telegram rejected a request");
                TelegramError::Api(api)
            }
            RequestError::Network(ref cause) if !cause.is_connect() => {
                self.errors.record();
                tracing::warn!(chat_id = chat.0, %error, "Telegram's answer lost; not retried");
                TelegramError::Unconfirmed(Arc::new(error))
            }
            RequestError::Network(_) => {
                self.errors.record();
                tracing::warn!(chat_id = chat.0, %error, "Telegram unreachable");
                TelegramError::Network(Arc::new(error))
            }
            other => {
                self.errors.record();
                tracing::warn!(chat_id = chat.0, error = %other, "Telegram call failed");
                TelegramError::Other(Arc::new(other))
            }
        }
    }
}

impl From<Refusal> for TelegramError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Dropped => TelegramError::QueueFull,
            Refusal::Expired => TelegramError::TooLate,
            Refusal::Closed => TelegramError::ShuttingDown,
        }
    }
}

/// The span of one Bot API call, from its turn in the queue (`class`; `None` for a call that
/// does not wait) to Telegram's answer: a child of the caller's (an update's or a tour's).
fn send_span<R: HasPayload>(chat: ChatId, class: Option<SendClass>) -> tracing::Span {
    tracing::info_span!(
        "outbox.send",
        method = <R::Payload as Payload>::NAME,
        chat_id = chat.0,
        class = class.map(SendClass::name),
    )
}

/// The bot-wide quota for at most `per_sec` messages in any one second: a burst of a few,
/// the rest of the second's budget spread evenly after it.
pub fn global_quota(per_sec: u32) -> Quota {
    let burst = (per_sec / 10).clamp(1, MAX_GLOBAL_BURST);
    spread_quota(per_sec.saturating_sub(burst), burst)
}

/// The pace of every class below replies: three quarters of the bot-wide rate, one at a
/// time (no burst), so the bot-wide bucket keeps its burst for replies.
pub fn lower_quota(per_sec: u32) -> Quota {
    let reserve = (per_sec / REPLY_RESERVE_DIVISOR).max(1);
    spread_quota(per_sec.saturating_sub(reserve), 1)
}

/// `per_second` cells spread evenly over [`SPREAD_OVER`], after a burst of `burst`.
fn spread_quota(per_second: u32, burst: u32) -> Quota {
    let period = SPREAD_OVER / per_second.max(1);
    let burst = std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MIN))
        .allow_burst(burst)
}

#[cfg(test)]
mod tests;
