//! Outgoing Telegram calls: teloxide's `Bot` behind our own send limits and retry rules.
//!
//! [`Outbox::send`] is the one way a reply leaves. It waits on a per-chat and a global
//! [`governor`] limiter (no added latency while under the limits, unlike teloxide's `Throttle`,
//! which sleeps 250 ms between passes), then sends. A 429 pauses for Telegram's `retry_after`
//! and tries again; a network error retries a few times with back-off; "bot was blocked" is
//! logged at info, marks the user blocked and is never retried.

pub mod setup;

use std::{sync::Arc, time::Duration};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use teloxide::{
    ApiError, Bot, RequestError,
    requests::{HasPayload, Payload, Request},
    types::ChatId,
};

use crate::{config::SendLimits, stats::ErrorLog, users::UserStore};

/// How many times one request may be paused by a 429 before we give up.
const MAX_RATE_LIMITED_ATTEMPTS: u32 = 3;
/// How many times a request that failed on the network is tried again.
const MAX_NETWORK_RETRIES: u32 = 3;
/// First back-off after a network error; doubled on each retry.
const NETWORK_BACKOFF: Duration = Duration::from_millis(250);
/// Longest pause we accept from a 429; longer means the reply is no longer worth sending.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a Telegram call did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TelegramError {
    /// The user blocked the bot (or deleted their account): nothing will reach them.
    #[error("the user blocked the bot")]
    Blocked,
    /// Telegram kept answering 429 or asked for too long a pause.
    #[error("rate limited by Telegram")]
    RateLimited,
    /// Telegram rejected the request.
    #[error("Telegram rejected the request: {0}")]
    Api(ApiError),
    /// Telegram could not be reached, after retries.
    #[error("Telegram unreachable: {0}")]
    Network(Arc<RequestError>),
    /// Any other failure (unparsable answer, ...).
    #[error("Telegram call failed: {0}")]
    Other(Arc<RequestError>),
}

/// The bot's outgoing side, shared by every handler. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    bot: Bot,
    /// One bucket per chat: ~1 msg/s with a small burst.
    per_chat: Arc<DefaultKeyedRateLimiter<ChatId>>,
    /// One bucket for the whole bot: ~30 msg/s.
    global: Arc<DefaultDirectRateLimiter>,
    /// Where "bot was blocked" is recorded.
    users: UserStore,
    /// Where failed calls are counted.
    errors: ErrorLog,
}

impl Outbox {
    /// Wraps `bot` with the given send limits.
    pub fn new(bot: Bot, limits: SendLimits, users: UserStore, errors: ErrorLog) -> Self {
        let per_chat =
            Quota::per_second(limits.per_chat_per_sec).allow_burst(limits.per_chat_burst);
        Self {
            bot,
            per_chat: Arc::new(RateLimiter::keyed(per_chat)),
            global: Arc::new(RateLimiter::direct(Quota::per_second(
                limits.global_per_sec,
            ))),
            users,
            errors,
        }
    }

    /// The underlying client, to build requests with.
    pub fn bot(&self) -> &Bot {
        &self.bot
    }

    /// Sends `request` to `chat` within the send limits, with the retry rules above.
    pub async fn send<R>(
        &self,
        chat: ChatId,
        request: R,
    ) -> Result<<R::Payload as Payload>::Output, TelegramError>
    where
        R: Request<Err = RequestError> + HasPayload,
    {
        let mut rate_limited = 0;
        let mut network_failures = 0;
        loop {
            self.per_chat.until_key_ready(&chat).await;
            self.global.until_ready().await;
            let error = match request.send_ref().await {
                Ok(output) => return Ok(output),
                Err(error) => error,
            };
            let pause = match error {
                RequestError::RetryAfter(after) => {
                    rate_limited += 1;
                    let pause = after.duration();
                    if rate_limited >= MAX_RATE_LIMITED_ATTEMPTS || pause > MAX_RETRY_AFTER {
                        tracing::warn!(chat_id = chat.0, "Telegram rate limit: giving up");
                        return Err(TelegramError::RateLimited);
                    }
                    tracing::info!(chat_id = chat.0, ?pause, "Telegram asked to pause");
                    pause
                }
                RequestError::Network(_) if network_failures < MAX_NETWORK_RETRIES => {
                    network_failures += 1;
                    tracing::warn!(chat_id = chat.0, %error, "Telegram call failed, retrying");
                    NETWORK_BACKOFF * 2u32.pow(network_failures - 1)
                }
                other => return Err(self.classify(chat, other)),
            };
            tokio::time::sleep(pause).await;
        }
    }

    /// Forgets per-chat buckets that are full again, so the map does not grow forever.
    pub fn forget_idle_chats(&self) {
        self.per_chat.retain_recent();
        self.per_chat.shrink_to_fit();
    }

    fn classify(&self, chat: ChatId, error: RequestError) -> TelegramError {
        if !matches!(
            error,
            RequestError::Api(ApiError::BotBlocked | ApiError::UserDeactivated)
        ) {
            self.errors.record();
        }
        match error {
            RequestError::Api(ApiError::BotBlocked | ApiError::UserDeactivated) => {
                tracing::info!(chat_id = chat.0, "the user blocked the bot; not retrying");
                self.users.mark_blocked(chat);
                TelegramError::Blocked
            }
            RequestError::Api(api) => {
                tracing::warn!(chat_id = chat.0, error = %api, "Telegram rejected a request");
                TelegramError::Api(api)
            }
            RequestError::Network(_) => {
                tracing::warn!(chat_id = chat.0, %error, "Telegram unreachable");
                TelegramError::Network(Arc::new(error))
            }
            other => {
                tracing::warn!(chat_id = chat.0, error = %other, "Telegram call failed");
                TelegramError::Other(Arc::new(other))
            }
        }
    }
}
