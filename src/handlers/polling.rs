//! Long polling: `getUpdates` in a loop feeding the same dispatcher as the webhook, for a
//! laptop with nothing but a token.
//!
//! Back-pressure is natural here: the loop waits for backlog room before admitting the next
//! update. An answer Telegram sent that teloxide cannot parse is taken apart by hand, so one
//! malformed update never wedges the loop on the same batch.

use std::{sync::Arc, time::Duration};

use teloxide::{Bot, RequestError, payloads::GetUpdatesSetters, prelude::Requester, types::Update};
use tokio_util::sync::CancellationToken;

use super::dispatch::{Admission, Dispatcher, parse_update};
use crate::telegram::setup::ALLOWED_UPDATES;

/// How long Telegram holds a `getUpdates` call open when there is nothing new.
const LONG_POLL_SECS: u32 = 25;
/// Pause after a failed `getUpdates`, doubled up to [`MAX_ERROR_PAUSE`].
const ERROR_PAUSE: Duration = Duration::from_millis(500);
/// Longest pause between failing `getUpdates` calls.
const MAX_ERROR_PAUSE: Duration = Duration::from_secs(30);

/// Pulls updates until `stop` is cancelled, then confirms the last offset.
pub async fn run(bot: Bot, dispatcher: Arc<Dispatcher>, stop: CancellationToken) {
    let mut offset: i32 = 0;
    let mut pause = ERROR_PAUSE;
    tracing::info!("long polling started");
    loop {
        let request = bot
            .get_updates()
            .offset(offset)
            .timeout(LONG_POLL_SECS)
            .allowed_updates(ALLOWED_UPDATES);
        let batch = tokio::select! {
            () = stop.cancelled() => break,
            batch = request => batch,
        };
        match batch {
            Ok(updates) => {
                pause = ERROR_PAUSE;
                offset = admit_all(&dispatcher, updates, offset).await;
            }
            Err(RequestError::InvalidJson { raw, .. }) => {
                offset = admit_raw_batch(&dispatcher, &raw, offset).await;
            }
            Err(error) => {
                tracing::warn!(%error, ?pause, "getUpdates failed");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(pause) => {}
                }
                pause = (pause * 2).min(MAX_ERROR_PAUSE);
            }
        }
    }
    confirm(&bot, offset).await;
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

/// Admits the readable updates of a batch teloxide could not parse; skips the rest.
async fn admit_raw_batch(dispatcher: &Dispatcher, raw: &str, mut offset: i32) -> i32 {
    let items = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|value| value.get("result")?.as_array().cloned());
    let Some(items) = items else {
        tracing::warn!("unreadable getUpdates answer");
        return offset;
    };
    for item in items {
        let Some(id) = item.get("update_id").and_then(serde_json::Value::as_u64) else {
            continue;
        };
        let next = next_offset(u32::try_from(id).unwrap_or(u32::MAX));
        if let Some(update) = parse_update(item.to_string().as_bytes())
            && dispatcher.offer_waiting(update).await == Admission::Closed
        {
            break;
        }
        offset = offset.max(next);
    }
    offset
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
