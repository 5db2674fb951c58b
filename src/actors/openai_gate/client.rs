//! One LLM call: a chat-completions request through async-openai, with a per-attempt timeout
//! and the gate's own bounded retry loop (async-openai's retries are switched off).

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::ReqwestService;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use secrecy::ExposeSecret;

use super::answer;
use super::response::{self, AttemptFailure};
use super::retry_after::{RecordRetryAfter, RetryAfterSlot};
use super::{ChatPrompt, GateBuildError, GateConfig, GateError, OpenAiConfig};

/// Bounds the TCP/TLS connect phase separately from the whole attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// is no story of the prompt's shape is not retried.
    pub(super) async fn generate(&self, prompt: &ChatPrompt) -> Result<String, GateError> {
        let request = self
            .request(prompt)
            .map_err(|error| response::classify(error).error)?;
        let mut retry = 0;
        loop {
            let slot = RetryAfterSlot::new();
            let failure = match self.attempt(request.clone(), slot.clone()).await {
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

    /// One HTTP attempt; `Ok` holds the mapped answer of a 2xx response.
    async fn attempt(
        &self,
        request: CreateChatCompletionRequest,
        slot: RetryAfterSlot,
    ) -> Result<Result<String, GateError>, AttemptFailure> {
        let service = RecordRetryAfter::new(ReqwestService::new(self.http.clone()), slot);
        let client = self.client.clone().with_http_service(service);
        let chat = client.chat();
        match tokio::time::timeout(self.policy.call_timeout, chat.create(request)).await {
            Err(_elapsed) => Err(AttemptFailure::timeout()),
            Ok(Err(error)) => Err(response::classify(error)),
            Ok(Ok(completion)) => Ok(response::story(completion)),
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
