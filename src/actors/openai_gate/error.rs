//! Why the gate gave no story; `Clone` because one call answers many waiters.

use super::Unusable;

/// Why a request was shed from the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShedReason {
    /// The queue (its priority's cap or the total cap) was full and nothing lower could go.
    QueueFull,
    /// Dropped from the queue to make room for a higher-priority request.
    Displaced,
}

impl std::fmt::Display for ShedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShedReason::QueueFull => f.write_str("the queue is full"),
            ShedReason::Displaced => f.write_str("displaced by a higher-priority request"),
        }
    }
}

/// The answer of a `Generate` that produced no story.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// Not queued, or dropped from the queue, because of load.
    #[error("request shed: {0}")]
    Shed(ShedReason),
    /// An Interactive request was not started within the queue wait.
    #[error("request waited too long in the queue")]
    QueueWait,
    /// Every attempt timed out.
    #[error("the LLM call timed out")]
    Timeout,
    /// Still rate limited (429) after the retries.
    #[error("rate limited by the LLM API")]
    RateLimited,
    /// The account is out of quota (`insufficient_quota`); retrying will not help.
    #[error("LLM quota exceeded")]
    QuotaExceeded,
    /// The circuit breaker is open after repeated failures.
    #[error("the LLM circuit breaker is open")]
    CircuitOpen,
    /// The model refused (`message.refusal`).
    #[error("the model refused to answer")]
    Refused,
    /// The answer was cut at the token limit (`finish_reason: length`).
    #[error("the answer was truncated")]
    Truncated,
    /// The prompt or the answer was filtered (`content_filter`).
    #[error("the content filter blocked the answer")]
    ContentFilter,
    /// The model answered, but not with a story we can tell (see `answer`).
    #[error("the answer is no usable story: {0}")]
    Unusable(Unusable),
    /// Any other failure: other 4xx/5xx statuses, network, malformed answers, panics.
    #[error("LLM upstream error: {0}")]
    Upstream(String),
    /// The gate stopped before answering.
    #[error("the gate stopped")]
    Stopped,
}

impl GateError {
    /// Whether this outcome says the LLM service is unhealthy (counts toward the breaker).
    /// Refusals, truncation and filtering are healthy answers about one prompt; an unusable
    /// answer (a greeting, the wrong subject) says the model does not follow the prompt.
    pub fn is_service_failure(&self) -> bool {
        matches!(
            self,
            GateError::Timeout
                | GateError::RateLimited
                | GateError::QuotaExceeded
                | GateError::Unusable(_)
                | GateError::Upstream(_)
        )
    }
}

/// Why the gate could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GateBuildError {
    /// The HTTP client (TLS set-up) could not be built.
    #[error("building the HTTP client for OpenAI failed: {0}")]
    HttpClient(#[from] reqwest::Error),
}
