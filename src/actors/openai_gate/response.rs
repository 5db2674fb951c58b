//! Turns what async-openai returns (a completion or an `OpenAIError`) into a story or a
//! `GateError`, and says whether a failed attempt is worth retrying.

use async_openai::error::{ApiErrorResponse, OpenAIError};
use async_openai::types::chat::{CreateChatCompletionStreamResponse, FinishReason};

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

/// A streamed answer as it comes: the first choice's text, whether it refused, and why it
/// finished.
#[derive(Debug, Default)]
pub(super) struct StreamedAnswer {
    text: String,
    chunks: usize,
    refused: bool,
    finish: Option<FinishReason>,
}

impl StreamedAnswer {
    /// Takes one chunk; whether it added text.
    pub(super) fn add(&mut self, chunk: CreateChatCompletionStreamResponse) -> bool {
        self.chunks += 1;
        let Some(choice) = chunk.choices.into_iter().find(|choice| choice.index == 0) else {
            return false;
        };
        self.refused |= choice.delta.refusal.is_some_and(|r| !r.is_empty());
        if let Some(reason) = choice.finish_reason {
            self.finish = Some(reason);
        }
        match choice.delta.content {
            Some(content) if !content.is_empty() => {
                self.text.push_str(&content);
                true
            }
            _ => false,
        }
    }

    /// The text so far.
    pub(super) fn text(&self) -> &str {
        &self.text
    }

    /// Whether any chunk came (after which the attempt is not retried).
    pub(super) fn started(&self) -> bool {
        self.chunks > 0
    }

    /// The story, or why there is none, once the stream ended.
    pub(super) fn finish(self) -> Result<String, GateError> {
        if self.refused {
            return Err(GateError::Refused);
        }
        match self.finish {
            Some(FinishReason::Stop) => {}
            Some(FinishReason::ContentFilter) => return Err(GateError::ContentFilter),
            Some(FinishReason::Length) => return Err(GateError::Truncated),
            Some(other) => {
                return Err(GateError::Upstream(format!(
                    "unexpected finish_reason {other:?}"
                )));
            }
            None if self.chunks == 0 => {
                let why = "no streamed answer (does the endpoint stream with `stream: true`?)";
                return Err(GateError::Upstream(why.into()));
            }
            None => {
                return Err(GateError::Upstream(format!(
                    "the stream ended after {} characters, unfinished",
                    self.text.chars().count()
                )));
            }
        }
        match self.text.trim() {
            "" => Err(GateError::Unusable(Unusable::Empty)),
            text => Ok(text.to_owned()),
        }
    }
}

/// A stream that broke after text came: a failed call, not retried.
pub(super) fn broken(error: &OpenAIError) -> GateError {
    let why = match error {
        OpenAIError::JSONDeserialize(..) => "a malformed chunk".to_owned(),
        OpenAIError::Reqwest(error) => format!("network: {error}"),
        other => other.to_string(),
    };
    GateError::Upstream(format!("the stream broke midway: {why}"))
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
