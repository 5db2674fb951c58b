//! Long polling: `getUpdates` in a loop feeding the same dispatcher as the webhook, for a
//! laptop with nothing but a token.
//!
//! Back-pressure is natural here: the loop waits for backlog room before admitting the next
//! update. An answer Telegram sent that teloxide cannot parse is taken apart by hand, so one
//! malformed update never wedges the loop on the same batch.
//!
//! Pacing: after updates the next call goes at once. An empty answer that came back well
//! before the poll timeout (a local Bot API server, a proxy or a wrong URL answering at once)
//! is followed by a pause, doubled up to [`MAX_IDLE_PAUSE`], so such a server is not asked
//! hundreds of times a second; a failed call or an unreadable answer by the error pause.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use teloxide::{
    Bot, RequestError, payloads::GetUpdatesSetters, prelude::Requester, requests::Request,
    types::Update,
};
use tokio_util::sync::CancellationToken;

use super::dispatch::{Admission, Dispatcher};
use crate::{telegram::setup::ALLOWED_UPDATES, telemetry::panics::Contained};

/// How long Telegram holds a `getUpdates` call open when there is nothing new.
const LONG_POLL_SECS: u32 = 25;
/// Pause after a failed `getUpdates`, doubled up to [`MAX_ERROR_PAUSE`].
const ERROR_PAUSE: Duration = Duration::from_millis(500);
/// Longest pause between failing `getUpdates` calls.
const MAX_ERROR_PAUSE: Duration = Duration::from_secs(30);
/// An empty answer back sooner than this was not held open as a long poll.
const PROMPT_ANSWER: Duration = Duration::from_secs(LONG_POLL_SECS as u64 / 2);
/// Pause after an empty answer that came back promptly, doubled up to [`MAX_IDLE_PAUSE`].
const IDLE_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between prompt empty answers: an update sent then waits at most this long.
const MAX_IDLE_PAUSE: Duration = Duration::from_secs(2);

/// Pulls updates until `stop` is cancelled, then confirms the last offset.
pub async fn run(bot: Bot, dispatcher: Arc<Dispatcher>, stop: CancellationToken) {
    let mut offset: i32 = 0;
    let mut pace = Pace::new();
    tracing::info!("long polling started");
    loop {
        let asked = Instant::now();
        let batch = tokio::select! {
            () = stop.cancelled() => break,
            batch = fetch(&bot, offset) => batch,
        };
        let pause = take(&dispatcher, batch, &mut offset, &mut pace, asked.elapsed()).await;
        if let Some(pause) = pause {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
    confirm(&bot, offset).await;
}

/// What one `getUpdates` brought.
enum Fetched {
    /// The updates, as teloxide read them, or why there are none.
    Parsed(Result<Vec<Update>, RequestError>),
    /// The answer's text, which teloxide could not read (or panicked reading).
    Raw(String),
}

/// Asks for the updates after `offset`. teloxide's parser can panic on an update (a
/// `message_reaction` without an actor, which a local Bot API server or a proxy could send):
/// that is contained, and the same batch is asked for again as text, to be taken apart by
/// hand, so one such update never stops the polling loop.
async fn fetch(bot: &Bot, offset: i32) -> Fetched {
    let request = bot
        .get_updates()
        .offset(offset)
        .timeout(LONG_POLL_SECS)
        .allowed_updates(ALLOWED_UPDATES);
    match Contained::new(request.send()).await {
        Ok(Err(RequestError::InvalidJson { raw, .. })) => Fetched::Raw(raw.into()),
        Ok(batch) => Fetched::Parsed(batch),
        Err(panic) => {
            tracing::warn!(
                panic.message = %panic.message,
                panic.location = panic.location.as_deref(),
                "the getUpdates parser panicked; reading the batch by hand"
            );
            fetch_raw(bot, offset).await
        }
    }
}

/// `getUpdates` after `offset` through the bot's own HTTP client, not held open, its answer
/// as text. The URL holds the token: a failure is reported without it.
async fn fetch_raw(bot: &Bot, offset: i32) -> Fetched {
    let mut url = bot.api_url();
    if let Ok(mut path) = url.path_segments_mut() {
        path.push(&format!("bot{}", bot.token())).push("getUpdates");
    }
    let body =
        serde_json::json!({ "offset": offset, "timeout": 0, "allowed_updates": ALLOWED_UPDATES });
    let answer = async {
        bot.client()
            .post(url)
            .json(&body)
            .send()
            .await?
            .text()
            .await
    };
    match answer.await {
        Ok(raw) => Fetched::Raw(raw),
        Err(error) => Fetched::Parsed(Err(RequestError::Network(Arc::new(error.without_url())))),
    }
}

/// Admits what one `getUpdates` brought (`took` to come) and moves `offset` past it; returns
/// how long to wait before the next call.
async fn take(
    dispatcher: &Dispatcher,
    batch: Fetched,
    offset: &mut i32,
    pace: &mut Pace,
    took: Duration,
) -> Option<Duration> {
    match batch {
        Fetched::Parsed(Ok(updates)) if updates.is_empty() => pace.after_empty(took),
        Fetched::Parsed(Ok(updates)) => {
            *offset = admit_all(dispatcher, updates, *offset).await;
            pace.after_updates()
        }
        Fetched::Raw(raw) => match admit_raw_batch(dispatcher, &raw, *offset).await {
            Some(next) => {
                *offset = next;
                pace.after_updates()
            }
            None => pace.after_error(),
        },
        Fetched::Parsed(Err(error)) => {
            let pause = pace.after_error();
            tracing::warn!(%error, ?pause, "getUpdates failed");
            pause
        }
    }
}

/// How long to wait before the next `getUpdates`, from how the last one went.
struct Pace {
    /// The pause after the next failure.
    error: Duration,
    /// The pause after the next prompt empty answer.
    idle: Duration,
}

impl Pace {
    fn new() -> Self {
        Self {
            error: ERROR_PAUSE,
            idle: IDLE_PAUSE,
        }
    }

    /// Updates arrived: ask again at once.
    fn after_updates(&mut self) -> Option<Duration> {
        *self = Self::new();
        None
    }

    /// An empty answer after `took`: a long poll that ran its course is asked again at once,
    /// an answer that came back promptly waits, longer each time.
    fn after_empty(&mut self, took: Duration) -> Option<Duration> {
        if took >= PROMPT_ANSWER {
            return self.after_updates();
        }
        let pause = self.idle;
        *self = Self::new();
        self.idle = (pause * 2).min(MAX_IDLE_PAUSE);
        Some(pause)
    }

    /// A failed call or an unreadable answer: the error pause, longer each time.
    fn after_error(&mut self) -> Option<Duration> {
        let pause = self.error;
        *self = Self::new();
        self.error = (pause * 2).min(MAX_ERROR_PAUSE);
        Some(pause)
    }
}

/// Admits a batch in order; stops at the first update refused because we are shutting down,
/// so its offset is not confirmed and Telegram hands it to the next instance.
async fn admit_all(dispatcher: &Dispatcher, updates: Vec<Update>, mut offset: i32) -> i32 {
    for update in updates {
        let next = next_offset(update.id.0);
        if dispatcher.offer_waiting(Box::new(update)).await == Admission::Closed {
            break;
        }
        offset = offset.max(next);
    }
    offset
}

/// Admits the readable updates of a batch teloxide could not parse and skips the rest;
/// `None` when the answer is no batch at all.
async fn admit_raw_batch(dispatcher: &Dispatcher, raw: &str, mut offset: i32) -> Option<i32> {
    let items = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|value| value.get("result")?.as_array().cloned());
    let Some(items) = items else {
        tracing::warn!(bytes = raw.len(), "unreadable getUpdates answer");
        return None;
    };
    for item in items {
        let Some(id) = item.get("update_id").and_then(serde_json::Value::as_u64) else {
            continue;
        };
        let next = next_offset(u32::try_from(id).unwrap_or(u32::MAX));
        if let Some(update) = dispatcher.parse(item.to_string().as_bytes())
            && dispatcher.offer_waiting(update).await == Admission::Closed
        {
            break;
        }
        offset = offset.max(next);
    }
    Some(offset)
}

fn next_offset(update_id: u32) -> i32 {
    i32::try_from(update_id).map_or(i32::MAX, |id| id.saturating_add(1))
}

/// Tells Telegram the updates we handled are done, so a restart does not fetch them again.
async fn confirm(bot: &Bot, offset: i32) {
    if offset == 0 {
        return;
    }
    let request = bot.get_updates().offset(offset).timeout(0).limit(1);
    if let Err(error) = request.await {
        tracing::warn!(%error, "could not confirm the last polled updates");
    }
    tracing::info!("long polling stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_empty_answers_wait_longer_each_time_up_to_the_cap() {
        let mut pace = Pace::new();
        let at_once = Duration::from_millis(5);
        let pauses: Vec<_> = (0..7).filter_map(|_| pace.after_empty(at_once)).collect();
        let millis: Vec<u128> = pauses.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(pace.after_empty(PROMPT_ANSWER), None, "a real long poll");
        assert_eq!(pace.after_empty(at_once), Some(IDLE_PAUSE));
    }

    #[test]
    fn errors_keep_their_own_pause_and_updates_reset_both() {
        let mut pace = Pace::new();
        assert_eq!(pace.after_error(), Some(ERROR_PAUSE));
        assert_eq!(pace.after_error(), Some(ERROR_PAUSE * 2));
        assert_eq!(pace.after_updates(), None);
        assert_eq!(pace.after_error(), Some(ERROR_PAUSE));
    }
}
