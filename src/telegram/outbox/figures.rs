//! What the outbox measures: every message asked for, by class and how it ended, and every
//! Bot API call, by method and how Telegram answered.

use metrics::Counter;
use teloxide::{ApiError, RequestError};

use super::{SendClass, TelegramError};
use crate::stats::{Metrics, registry::names};

/// How a message asked of the outbox ended.
const REPLY_OUTCOMES: [&str; 8] = [
    "sent",
    "blocked",
    "rejected",
    "failed",
    "expired",
    "dropped",
    "closed",
    "unconfirmed",
];

/// The outbox's handles in the registry.
pub(super) struct SendFigures {
    metrics: Metrics,
    /// By class, then outcome (registered once: a reply costs one atomic add).
    replies: [[Counter; REPLY_OUTCOMES.len()]; SendClass::ALL.len()],
}

impl SendFigures {
    pub(super) fn new(metrics: &Metrics) -> Self {
        let replies = SendClass::ALL.map(|class| {
            REPLY_OUTCOMES.map(|outcome| {
                let labels = [("class", class.name()), ("outcome", outcome)];
                metrics.counter(names::REPLIES, &labels)
            })
        });
        Self {
            metrics: metrics.clone(),
            replies,
        }
    }

    /// A message of `class` ended with `result`.
    pub(super) fn reply<T>(&self, class: SendClass, result: &Result<T, TelegramError>) {
        let outcome = match result {
            Ok(_) => 0,
            Err(TelegramError::Blocked) => 1,
            Err(TelegramError::Api(_)) => 2,
            Err(TelegramError::Network(_) | TelegramError::Other(_)) => 3,
            Err(TelegramError::TooLate | TelegramError::RateLimited) => 4,
            Err(TelegramError::QueueFull) => 5,
            Err(TelegramError::ShuttingDown) => 6,
            Err(TelegramError::Unconfirmed(_)) => 7,
        };
        self.replies[class.index()][outcome].increment(1);
    }

    /// One Bot API call of `method` was answered with `result` (a network error retried
    /// counts once per attempt).
    pub(super) fn call<T>(&self, method: &'static str, result: &Result<T, RequestError>) {
        let status = match result {
            Ok(_) => "ok",
            Err(RequestError::RetryAfter(_)) => "rate_limited",
            Err(RequestError::Api(ApiError::BotBlocked | ApiError::UserDeactivated)) => "blocked",
            Err(RequestError::Api(_)) => "rejected",
            Err(RequestError::Network(_)) => "network_error",
            Err(_) => "invalid_answer",
        };
        let labels = [("method", method), ("status", status)];
        self.metrics
            .counter(names::TELEGRAM_CALLS, &labels)
            .increment(1);
    }
}
