//! `sendMessageDraft` (Bot API 9.3+): a partial message shown in a private chat while it is
//! being written. teloxide 0.17 does not have it, so it is a small typed request of our own,
//! sent by the same client with the same error mapping.
//!
//! A draft is worth something only now: it is sent when the send budget has a token free at
//! this instant and skipped otherwise, never queued ([`SendQueue::try_now`]). The draft with
//! a story's first words is the one exception ([`Outbox::first_words_draft`]): it is the
//! person's first sight of their story, so it may wait a moment for a turn among the messages
//! of its class, and is skipped when that moment passes. A Bot API
//! server that does not know the method (an older local server answers 404 "Not Found") is
//! found out once and remembered: no more drafts are tried, and stories go out whole.
//!
//! [`SendQueue::try_now`]: super::queue::SendQueue::try_now

use std::{sync::atomic::Ordering, time::Duration};

use serde::Serialize;
use teloxide::{
    ApiError, RequestError,
    requests::{JsonRequest, Payload, Request},
    types::{ChatId, ParseMode, True},
};

use tokio::time::Instant;

use super::{Outbox, SendClass};

/// The request's payload, as in the Bot API spec.
#[derive(Debug, Clone, Serialize)]
pub struct SendMessageDraft {
    /// The private chat.
    pub chat_id: i64,
    /// Non-zero; drafts with the same id replace each other (animated).
    pub draft_id: i64,
    /// The text so far, 0-4096 characters after entity parsing.
    pub text: String,
    /// How `text` is marked up.
    pub parse_mode: ParseMode,
}

impl Payload for SendMessageDraft {
    type Output = True;
    const NAME: &'static str = "sendMessageDraft";
}

/// What became of a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftOutcome {
    /// Telegram shows it.
    Sent,
    /// Not sent: the budget had no token free this instant.
    Skipped,
    /// Drafts are not available here (not a private chat, or the Bot API server lacks the
    /// method): send the message whole.
    Unsupported,
    /// Telegram refused it or could not be reached; the next one may go.
    Failed,
}

impl Outbox {
    /// Shows `html` as draft `draft_id` in `chat` if the budget has room this instant: see
    /// the module docs.
    pub async fn draft(&self, chat: ChatId, draft_id: i64, html: String) -> DraftOutcome {
        if !self.drafts_available(chat) {
            return DraftOutcome::Unsupported;
        }
        if !self.queue.try_now(chat) {
            self.counters.drafts_skipped.fetch_add(1, Ordering::Relaxed);
            return DraftOutcome::Skipped;
        }
        self.send_draft(chat, draft_id, html).await
    }

    /// Sends the draft, its budget taken.
    async fn send_draft(&self, chat: ChatId, draft_id: i64, html: String) -> DraftOutcome {
        let payload = SendMessageDraft {
            chat_id: chat.0,
            draft_id,
            text: html,
            parse_mode: ParseMode::Html,
        };
        match JsonRequest::new(self.bot.clone(), payload).send().await {
            Ok(True) => {
                self.counters.drafts_sent.fetch_add(1, Ordering::Relaxed);
                DraftOutcome::Sent
            }
            Err(RequestError::RetryAfter(after)) => {
                self.paused_by_429(chat, after.duration());
                self.queue.pause(after.duration());
                DraftOutcome::Skipped
            }
            Err(error) if method_is_missing(&error) => {
                if !self
                    .counters
                    .drafts_unsupported
                    .swap(true, Ordering::Relaxed)
                {
                    tracing::warn!(
                        %error,
                        "the Bot API server has no sendMessageDraft; stories go out whole"
                    );
                }
                DraftOutcome::Unsupported
            }
            Err(error) => {
                tracing::debug!(chat_id = chat.0, %error, "draft not shown");
                DraftOutcome::Failed
            }
        }
    }

    /// Shows the draft with a story's first words: at once if the budget has room, else it
    /// queues as `class` for at most `within` (then `Skipped`): a draft that comes late is
    /// worth nothing, one that comes a moment later is the first thing the person sees.
    pub async fn first_words_draft(
        &self,
        chat: ChatId,
        draft_id: i64,
        html: String,
        class: SendClass,
        within: Duration,
    ) -> DraftOutcome {
        if !self.drafts_available(chat) {
            return DraftOutcome::Unsupported;
        }
        // The budget is taken once: here, or by the turn below.
        if self.queue.try_now(chat) {
            return self.send_draft(chat, draft_id, html).await;
        }
        let pending = self.queue.enqueue(chat, class, Instant::now() + within);
        let Ok(_turn) = pending.granted().await else {
            self.counters.drafts_skipped.fetch_add(1, Ordering::Relaxed);
            return DraftOutcome::Skipped;
        };
        self.send_draft(chat, draft_id, html).await
    }

    /// Whether a story for `chat` may be shown as drafts: a private chat, and a Bot API
    /// server that has the method (as far as is known).
    pub fn drafts_available(&self, chat: ChatId) -> bool {
        chat.is_user() && !self.counters.drafts_unsupported.load(Ordering::Relaxed)
    }
}

/// Whether Telegram answered that the method does not exist. The Bot API answers an unknown
/// method with 404 "Not Found", which teloxide reads as [`ApiError::InvalidToken`] (a wrong
/// token gets the same answer, but then nothing else works either).
fn method_is_missing(error: &RequestError) -> bool {
    match error {
        RequestError::Api(ApiError::InvalidToken) => true,
        RequestError::Api(ApiError::Unknown(description)) => {
            let description = description.to_ascii_lowercase();
            description.contains("not found")
        }
        _ => false,
    }
}
