//! `POST /webhook`: Telegram's way in when `WEBHOOK_URL` is set.
//!
//! The secret header is compared in constant time before the body is read (401 when missing
//! or wrong, the body never buffered; refusals are warned about at most once a second, with
//! their count). Bodies over 1 MiB get 413, at once when their length says so. Whatever the
//! body holds, a readable-or-not update is acknowledged with 200 so Telegram does not
//! redeliver it for a day; the only other answers are 503 + `Retry-After` when the backlog is
//! full or we are shutting down, which makes Telegram keep the update and try again, and 400
//! for a body that breaks off.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::header, web, web::Bytes};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::dispatch::{Admission, Dispatcher};
use crate::telemetry::warnings::RateLimitedWarning;

/// Header Telegram puts the webhook secret in.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";
/// Largest body accepted; Telegram's updates are a few KiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Seconds Telegram is asked to wait when the backlog is full.
const BUSY_RETRY_AFTER_SECS: u32 = 1;
/// Seconds Telegram is asked to wait while we shut down (the next instance will be up).
const CLOSED_RETRY_AFTER_SECS: u32 = 5;

/// What the webhook handler needs.
pub struct WebhookState {
    /// The expected secret; `None` in polling mode, where every POST is refused.
    secret: Option<SecretString>,
    /// Where admitted updates go.
    dispatcher: Arc<Dispatcher>,
    /// Calls refused for a missing or wrong secret: anyone on the internet can make them.
    unauthorised: RateLimitedWarning,
    /// Updates refused for a full backlog.
    busy: RateLimitedWarning,
}

impl WebhookState {
    /// The state of a webhook expecting `secret` and handing updates to `dispatcher`.
    pub fn new(secret: Option<SecretString>, dispatcher: Arc<Dispatcher>) -> Self {
        Self {
            secret,
            dispatcher,
            unauthorised: RateLimitedWarning::default(),
            busy: RateLimitedWarning::default(),
        }
    }

    fn authorised(&self, request: &HttpRequest) -> bool {
        let (Some(expected), Some(given)) = (&self.secret, request.headers().get(SECRET_HEADER))
        else {
            return false;
        };
        expected
            .expose_secret()
            .as_bytes()
            .ct_eq(given.as_bytes())
            .into()
    }
}

/// Receives one update.
pub async fn receive(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<WebhookState>,
) -> HttpResponse {
    if !state.authorised(&request) {
        if let Some(refused) = state.unauthorised.record(1) {
            let peer = request.peer_addr();
            tracing::warn!(
                refused,
                ?peer,
                "webhook calls refused: missing or wrong secret"
            );
        }
        return HttpResponse::Unauthorized().finish();
    }
    let body = match read_body(&request, payload).await {
        Ok(body) => body,
        Err(refusal) => return refusal,
    };
    match state.dispatcher.offer_raw(&body).await {
        Admission::Accepted | Admission::Duplicate | Admission::Unusable => {
            HttpResponse::Ok().finish()
        }
        Admission::Busy => {
            if let Some(refused) = state.busy.record(1) {
                tracing::warn!(refused, "backlog full: asking Telegram to retry");
            }
            retry_later(BUSY_RETRY_AFTER_SECS)
        }
        Admission::Closed => retry_later(CLOSED_RETRY_AFTER_SECS),
    }
}

/// The whole body, or the answer when it is too large (413) or breaks off (400).
async fn read_body(request: &HttpRequest, payload: web::Payload) -> Result<Bytes, HttpResponse> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|length| length.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES) {
        return Err(HttpResponse::PayloadTooLarge().finish());
    }
    match payload.to_bytes_limited(MAX_BODY_BYTES).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(_broken)) => Err(HttpResponse::BadRequest().finish()),
        Err(_too_large) => Err(HttpResponse::PayloadTooLarge().finish()),
    }
}

fn retry_later(seconds: u32) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .finish()
}
