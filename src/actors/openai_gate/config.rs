//! Settings of the gate (limits and timings) and of the OpenAI endpoint it calls.

use std::time::Duration;

use secrecy::SecretString;

use super::{
    DEFAULT_BREAKER_COOLDOWN, DEFAULT_BREAKER_FAILURES, DEFAULT_CALL_TIMEOUT,
    DEFAULT_INTERACTIVE_QUEUE_WAIT, DEFAULT_LATE_QUEUE_WAIT, DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_RETRY_AFTER, DEFAULT_PERMITS, DEFAULT_QUEUE_CAPS, DEFAULT_RETRY_BACKOFF,
    DEFAULT_TOTAL_QUEUE_CAP,
};

/// Limits and timings of the gate; `Default` gives the production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateConfig {
    /// How many LLM calls may run at once.
    pub permits: usize,
    /// Queue cap per priority (Interactive, Live, Background).
    pub queue_caps: [usize; 3],
    /// Cap on all queued jobs together; reaching it sheds the lowest priority first.
    pub total_queue_cap: usize,
    /// Timeout of one HTTP attempt.
    pub call_timeout: Duration,
    /// Retries after the first attempt, for 429, 5xx, network errors and timeouts.
    pub max_retries: u32,
    /// Cap on a server's `Retry-After`.
    pub max_retry_after: Duration,
    /// First back-off when no `Retry-After` is given; doubles on each retry.
    pub retry_backoff: Duration,
    /// How long an Interactive request may wait in the queue before `QueueWait`.
    pub interactive_queue_wait: Duration,
    /// How long a request whose caller told a fallback meanwhile may wait in the queue
    /// ([`super::Generate::late_after`]) before `QueueWait`.
    pub late_queue_wait: Duration,
    /// Consecutive failed calls that open the breaker.
    pub breaker_failures: u32,
    /// How long an open breaker fails fast before letting one probe call through.
    pub breaker_cooldown: Duration,
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            permits: DEFAULT_PERMITS,
            queue_caps: DEFAULT_QUEUE_CAPS,
            total_queue_cap: DEFAULT_TOTAL_QUEUE_CAP,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            interactive_queue_wait: DEFAULT_INTERACTIVE_QUEUE_WAIT,
            late_queue_wait: DEFAULT_LATE_QUEUE_WAIT,
            breaker_failures: DEFAULT_BREAKER_FAILURES,
            breaker_cooldown: DEFAULT_BREAKER_COOLDOWN,
        }
    }
}

/// Where and as whom the gate calls the chat-completions API.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// API base URL, e.g. `https://api.openai.com/v1` (a mock's URL in tests).
    pub base_url: String,
    /// Bearer key; `SecretString` keeps it out of `Debug` output and logs.
    pub api_key: SecretString,
    /// Model name, e.g. `gpt-4o-mini`.
    pub model: String,
}
