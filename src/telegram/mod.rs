//! Outgoing Telegram calls: teloxide's `Bot` behind our own send budget and retry rules
//! ([`outbox`]), the start-up conversation ([`setup`]), and why a call failed.

pub mod outbox;
pub mod setup;

use std::sync::Arc;

use teloxide::{ApiError, RequestError};

pub use outbox::{Outbox, SendClass};

/// Why a Telegram call did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TelegramError {
    /// The user blocked the bot (or deleted their account): nothing will reach them.
    #[error("the user blocked the bot")]
    Blocked,
    /// Telegram answered 429 to a call outside the send budget.
    #[error("rate limited by Telegram")]
    RateLimited,
    /// The message could not go within its class's patience (a long 429 pause or queue):
    /// not sent, so the person is not answered minutes late.
    #[error("not sent in time: the send budget is exhausted")]
    TooLate,
    /// The send queue was full and the message was of the lowest class waiting.
    #[error("not sent: the send queue is full")]
    QueueFull,
    /// The outbox is shut down.
    #[error("not sent: shutting down")]
    ShuttingDown,
    /// Telegram rejected the request.
    #[error("Telegram rejected the request: {0}")]
    Api(ApiError),
    /// Telegram could not be reached, after retries.
    #[error("Telegram unreachable: {0}")]
    Network(Arc<RequestError>),
    /// The request went out but its answer was lost (the connection broke on the way back):
    /// Telegram may well have delivered the message. Not retried, so nobody gets a message
    /// twice; a story counts as told.
    #[error("Telegram's answer was lost: {0}")]
    Unconfirmed(Arc<RequestError>),
    /// Any other failure (unparsable answer, ...).
    #[error("Telegram call failed: {0}")]
    Other(Arc<RequestError>),
}

impl TelegramError {
    /// Whether the send budget (not Telegram, not the message) is why it was not sent.
    pub fn is_budget(&self) -> bool {
        matches!(
            self,
            TelegramError::RateLimited
                | TelegramError::TooLate
                | TelegramError::QueueFull
                | TelegramError::ShuttingDown
        )
    }
}
