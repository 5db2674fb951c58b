//! `POST /webhook`: Telegram's way in when `WEBHOOK_URL` is set.
//!
//! The secret header is compared in constant time (401 when missing or wrong, nothing
//! processed). Bodies over 1 MiB get 413. Whatever the body holds, a readable-or-not update is
//! acknowledged with 200 so Telegram does not redeliver it for a day; the only non-2xx answers
//! are 503 + `Retry-After` when the backlog is full or we are shutting down, which makes
//! Telegram keep the update and try again.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::dispatch::{Admission, Dispatcher};

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
    pub secret: Option<SecretString>,
    /// Where admitted updates go.
    pub dispatcher: Arc<Dispatcher>,
}

impl WebhookState {
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
    body: web::Bytes,
    state: web::Data<WebhookState>,
) -> HttpResponse {
    if !state.authorised(&request) {
        tracing::warn!(peer = ?request.peer_addr(), "webhook call with a missing or wrong secret");
        return HttpResponse::Unauthorized().finish();
    }
    match state.dispatcher.offer_raw(&body).await {
        Admission::Accepted | Admission::Duplicate | Admission::Unusable => {
            HttpResponse::Ok().finish()
        }
        Admission::Busy => {
            tracing::warn!("backlog full: asking Telegram to retry");
            retry_later(BUSY_RETRY_AFTER_SECS)
        }
        Admission::Closed => retry_later(CLOSED_RETRY_AFTER_SECS),
    }
}

fn retry_later(seconds: u32) -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, seconds.to_string()))
        .finish()
}
