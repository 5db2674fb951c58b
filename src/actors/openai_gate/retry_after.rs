//! A tower service around async-openai's `ReqwestService` that makes exactly one HTTP attempt
//! and records the response's `Retry-After` into a per-attempt slot.
//!
//! async-openai turns an error response into `OpenAIError::ApiError` (status and body) but
//! drops the headers, so the delay the server asked for is caught here, below the client.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use futures::future::BoxFuture;
use reqwest::Response;

/// Marks an empty slot (no header seen).
const NO_DELAY: u64 = u64::MAX;

/// The `Retry-After` of one attempt, shared between the service and the gate.
#[derive(Debug, Clone)]
pub(super) struct RetryAfterSlot(Arc<AtomicU64>);

impl RetryAfterSlot {
    pub(super) fn new() -> Self {
        Self(Arc::new(AtomicU64::new(NO_DELAY)))
    }

    /// The delay the server asked for, if it sent one.
    pub(super) fn get(&self) -> Option<Duration> {
        match self.0.load(Ordering::Relaxed) {
            NO_DELAY => None,
            millis => Some(Duration::from_millis(millis)),
        }
    }

    fn set(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(NO_DELAY - 1);
        self.0.store(millis.min(NO_DELAY - 1), Ordering::Relaxed);
    }
}

/// One-attempt HTTP service that records `Retry-After` / `retry-after-ms`.
#[derive(Debug, Clone)]
pub(super) struct RecordRetryAfter {
    inner: ReqwestService,
    slot: RetryAfterSlot,
}

impl RecordRetryAfter {
    pub(super) fn new(inner: ReqwestService, slot: RetryAfterSlot) -> Self {
        Self { inner, slot }
    }
}

impl tower::Service<HttpRequestFactory> for RecordRetryAfter {
    type Response = Response;
    type Error = OpenAIError;
    type Future = BoxFuture<'static, Result<Response, OpenAIError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let sent = self.inner.call(request);
        let slot = self.slot.clone();
        Box::pin(async move {
            let response = sent.await?;
            if let Some(delay) = retry_after(response.headers()) {
                slot.set(delay);
            }
            Ok(response)
        })
    }
}

/// Reads OpenAI's `retry-after-ms` (milliseconds) or the standard `Retry-After` (seconds).
/// The HTTP-date form of `Retry-After` is not used by OpenAI and is ignored.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let number = |name: &str| -> Option<f64> {
        let value = headers
            .get(name)?
            .to_str()
            .ok()?
            .trim()
            .parse::<f64>()
            .ok()?;
        (value.is_finite() && value >= 0.0).then_some(value)
    };
    let seconds = number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("retry-after"))?;
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn reads_seconds_and_prefers_milliseconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
    }

    #[test]
    fn ignores_dates_and_garbage() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("1e300"));
        assert_eq!(retry_after(&headers), None);
    }
}
