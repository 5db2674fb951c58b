//! Turns what async-openai returns (a completion or an `OpenAIError`) into a story or a
//! `GateError`, and says whether a failed attempt is worth retrying.

use async_openai::error::{ApiErrorResponse, OpenAIError};
use async_openai::types::chat::{CreateChatCompletionResponse, FinishReason};

use super::{GateError, Unusable};

/// Error `code`/`type` of a 429 that no retry can fix.
const INSUFFICIENT_QUOTA: &str = "insufficient_quota";
/// Error `code` of a prompt blocked by the content filter (Azure answers 400).
const CONTENT_FILTER: &str = "content_filter";

/// A failed attempt and whether the gate may try again.
#[derive(Debug)]
pub(super) struct AttemptFailure {
    pub(super) error: GateError,
    pub(super) retryable: bool,
}

impl AttemptFailure {
    fn retry(error: GateError) -> Self {
        Self {
            error,
            retryable: true,
        }
    }

    fn fatal(error: GateError) -> Self {
        Self {
            error,
            retryable: false,
        }
    }

    /// The attempt ran out of time.
    pub(super) fn timeout() -> Self {
        Self::retry(GateError::Timeout)
    }
}

/// The story in the first choice, or why there is none.
pub(super) fn story(response: CreateChatCompletionResponse) -> Result<String, GateError> {
    let Some(choice) = response.choices.into_iter().next() else {
        return Err(GateError::Upstream("the answer has no choices".into()));
    };
    if choice.message.refusal.is_some() {
        return Err(GateError::Refused);
    }
    match choice.finish_reason {
        Some(FinishReason::ContentFilter) => return Err(GateError::ContentFilter),
        Some(FinishReason::Length) => return Err(GateError::Truncated),
        Some(FinishReason::Stop) | None => {}
        Some(other) => {
            return Err(GateError::Upstream(format!(
                "unexpected finish_reason {other:?}"
            )));
        }
    }
    match choice.message.content.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => Ok(text.to_owned()),
        _ => Err(GateError::Unusable(Unusable::Empty)),
    }
}

/// Classifies an async-openai error.
pub(super) fn classify(error: OpenAIError) -> AttemptFailure {
    match error {
        OpenAIError::ApiError(response) => classify_status(&response),
        OpenAIError::Reqwest(error) if error.is_timeout() => AttemptFailure::timeout(),
        OpenAIError::Reqwest(error) => {
            AttemptFailure::retry(GateError::Upstream(format!("network: {error}")))
        }
        OpenAIError::JSONDeserialize(error, _) => {
            AttemptFailure::fatal(GateError::Upstream(format!("malformed answer: {error}")))
        }
        other => AttemptFailure::fatal(GateError::Upstream(other.to_string())),
    }
}

fn classify_status(response: &ApiErrorResponse) -> AttemptFailure {
    let status = response.status_code;
    let api = &response.api_error;
    let is =
        |wanted: &str| api.code.as_deref() == Some(wanted) || api.r#type.as_deref() == Some(wanted);
    if status.as_u16() == 429 && is(INSUFFICIENT_QUOTA) {
        AttemptFailure::fatal(GateError::QuotaExceeded)
    } else if status.as_u16() == 429 {
        AttemptFailure::retry(GateError::RateLimited)
    } else if status.is_server_error() {
        AttemptFailure::retry(GateError::Upstream(format!("status {status}")))
    } else if is(CONTENT_FILTER) {
        AttemptFailure::fatal(GateError::ContentFilter)
    } else {
        // Only status and code: an auth error's message may quote part of the key.
        let code = api.code.as_deref().unwrap_or("none");
        AttemptFailure::fatal(GateError::Upstream(format!("status {status}, code {code}")))
    }
}
