//! One LLM call: a streamed chat-completions request through async-openai, with a
//! per-attempt timeout and the gate's own bounded retry loop (async-openai's retries are
//! switched off). An attempt that fails before any text came is retried like any other; one
//! that breaks after text came is not (its listeners saw the text start, and another attempt
//! would start over while the user waits): it is a failed call, and the caller tells the
//! summary.

use std::sync::Arc;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use futures::StreamExt;
use secrecy::ExposeSecret;
use tokio::time::Instant;

use super::answer;
use super::response::{self, AttemptFailure};
use super::retry_after::{RecordRetryAfter, RetryAfterSlot};
use super::{ChatPrompt, GateBuildError, GateConfig, GateError, OpenAiConfig};

/// Bounds the TCP/TLS connect phase separately from the whole attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The text so far is passed on at most this often while a call streams.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy)]
struct RetryPolicy {
    call_timeout: Duration,
    max_retries: u32,
    max_retry_after: Duration,
    backoff: Duration,
}

impl RetryPolicy {
    /// Wait before retry number `retry` (0-based): the server's `Retry-After` if it sent one,
    /// else `backoff * 2^retry`; capped at `max_retry_after` either way.
    fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let fallback = self.backoff.saturating_mul(2u32.saturating_pow(retry));
        retry_after.unwrap_or(fallback).min(self.max_retry_after)
    }
}

/// A cheap-to-clone handle that makes LLM calls.
#[derive(Clone)]
pub(super) struct LlmClient {
    /// Used for config and request building; each attempt swaps in a one-shot HTTP service.
    client: Client<OpenAIConfig>,
    http: reqwest::Client,
    model: String,
    policy: RetryPolicy,
}

impl LlmClient {
    pub(super) fn new(openai: &OpenAiConfig, gate: &GateConfig) -> Result<Self, GateBuildError> {
        // async-openai is built with `rustls-no-provider`; an Err means one is already installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        let config = OpenAIConfig::new()
            .with_api_base(&openai.base_url)
            .with_api_key(openai.api_key.expose_secret());
        Ok(Self {
            client: Client::build(http.clone(), config),
            http,
            model: openai.model.clone(),
            policy: RetryPolicy {
                call_timeout: gate.call_timeout,
                max_retries: gate.max_retries,
                max_retry_after: gate.max_retry_after,
                backoff: gate.retry_backoff,
            },
        })
    }

    /// Makes the call, retrying retryable failures at most `max_retries` times; an answer that
    /// is no story of the prompt's shape is not retried. `progress` hears the text so far
    /// while it streams, at most every [`PROGRESS_EVERY`].
    pub(super) async fn generate(
        &self,
        prompt: &ChatPrompt,
        progress: impl Fn(Arc<str>),
    ) -> Result<String, GateError> {
        let request = self
            .request(prompt)
            .map_err(|error| response::classify(error).error)?;
        let mut retry = 0;
        loop {
            let slot = RetryAfterSlot::new();
            let attempt = self.attempt(request.clone(), slot.clone(), &progress);
            let failure = match attempt.await {
                Ok(answer) => return answer.and_then(|text| answer::judge(text, &prompt.shape)),
                Err(failure) => failure,
            };
            if !failure.retryable || retry >= self.policy.max_retries {
                return Err(failure.error);
            }
            let delay = self.policy.delay(retry, slot.get());
            tracing::warn!(error = %failure.error, retry = retry + 1, ?delay, "retrying LLM call");
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// One HTTP attempt, streamed; `Ok` holds the mapped answer of a 2xx response that
    /// streamed to its end, or why there is no story.
    async fn attempt(
        &self,
        request: CreateChatCompletionRequest,
        slot: RetryAfterSlot,
        progress: &impl Fn(Arc<str>),
    ) -> Result<Result<String, GateError>, AttemptFailure> {
        let service = RecordRetryAfter::new(ReqwestService::new(self.http.clone()), slot);
        let client = self.client.clone().with_http_service(service);
        let mut answer = response::StreamedAnswer::default();
        let streamed = async {
            let mut stream = client.chat().create_stream(request).await?;
            let mut told_at: Option<Instant> = None;
            while let Some(chunk) = stream.next().await {
                if answer.add(chunk?) && told_at.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY) {
                    progress(answer.text().into());
                    told_at = Some(Instant::now());
                }
            }
            Ok(())
        };
        let outcome = tokio::time::timeout(self.policy.call_timeout, streamed).await;
        match outcome {
            Ok(Ok(())) => Ok(answer.finish()),
            Err(_elapsed) if answer.started() => Ok(Err(GateError::Timeout)),
            Err(_elapsed) => Err(AttemptFailure::timeout()),
            Ok(Err(error)) if answer.started() => Ok(Err(response::broken(&error))),
            Ok(Err(error)) => Err(response::classify(error)),
        }
    }

    fn request(&self, prompt: &ChatPrompt) -> Result<CreateChatCompletionRequest, OpenAIError> {
        CreateChatCompletionRequestArgs::default()
            .model(&self.model)
            .max_completion_tokens(prompt.max_tokens)
            .messages([
                ChatCompletionRequestSystemMessage::from(prompt.system.as_str()).into(),
                ChatCompletionRequestUserMessage::from(prompt.user.as_str()).into(),
            ])
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_and_retry_after_is_capped() {
        let policy = RetryPolicy {
            call_timeout: Duration::from_secs(30),
            max_retries: 2,
            max_retry_after: Duration::from_secs(20),
            backoff: Duration::from_secs(1),
        };
        assert_eq!(policy.delay(0, None), Duration::from_secs(1));
        assert_eq!(policy.delay(1, None), Duration::from_secs(2));
        let asked = Some(Duration::from_secs(90));
        assert_eq!(policy.delay(0, asked), Duration::from_secs(20));
    }
}
