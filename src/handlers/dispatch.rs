//! The hand-over point between ingress (webhook or polling) and the router.
//!
//! An update is admitted without waiting for its work: it takes a backlog permit, is checked
//! against the update ids already seen (Telegram redelivers), and goes into its user's lane
//! ([`super::lanes`]), which returns the permit when the update and the work it started are
//! done. When every permit is taken the webhook answers 503 so
//! Telegram keeps the update and retries; nothing is marked seen until it is really admitted.
//! At shutdown admission closes and [`Dispatcher::drain`] waits for the permits to come back.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use teloxide::types::{Update, UpdateKind};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{context::Context, lanes::Lanes};
use crate::{
    cache::SeenUpdates,
    stats::{Metrics, registry::names},
};

/// Update kinds counted apart; "unknown" is a body that could not be read (or was not read
/// at shutdown).
const KINDS: [&str; 6] = [
    "message",
    "edited_message",
    "callback_query",
    "pre_checkout_query",
    "other",
    "unknown",
];
/// Where "unknown" is in [`KINDS`].
const UNKNOWN_KIND: usize = 5;

/// What happened to an offered update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handed to the router.
    Accepted,
    /// Seen before: acknowledged, not processed again.
    Duplicate,
    /// Malformed or of a kind we do not handle: acknowledged and logged.
    Unusable,
    /// The backlog is full: ask Telegram to retry later.
    Busy,
    /// Shutting down: ask Telegram to retry later.
    Closed,
}

impl Admission {
    /// Every outcome, in the order of their counters.
    const ALL: [Admission; 5] = [
        Admission::Accepted,
        Admission::Duplicate,
        Admission::Unusable,
        Admission::Busy,
        Admission::Closed,
    ];

    /// The outcome's name, for metrics' labels.
    pub fn name(self) -> &'static str {
        match self {
            Admission::Accepted => "accepted",
            Admission::Duplicate => "duplicate",
            Admission::Unusable => "unusable",
            Admission::Busy => "busy",
            Admission::Closed => "closed",
        }
    }
}

/// Admits updates into the router, bounded and deduplicated.
pub struct Dispatcher {
    lanes: Arc<Lanes>,
    /// One permit per update being handled; its size is the backlog bound.
    backlog: Arc<Semaphore>,
    backlog_max: usize,
    /// Update ids already admitted (Redis when configured, else in process).
    seen: SeenUpdates,
    /// Cleared when shutdown begins.
    accepting: AtomicBool,
    /// Updates by kind, then outcome (registered once: counting is one atomic add).
    admitted: [[metrics::Counter; Admission::ALL.len()]; KINDS.len()],
}

impl Dispatcher {
    /// A dispatcher that lets at most `backlog_max` updates be handled at once.
    pub fn new(ctx: Arc<Context>, backlog_max: usize, seen: SeenUpdates) -> Self {
        let backlog_max = backlog_max.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            lanes: Lanes::new(ctx),
            backlog: Arc::new(Semaphore::new(backlog_max)),
            backlog_max,
            seen,
            accepting: AtomicBool::new(true),
            admitted: admission_counters(&Metrics::default()),
        }
    }

    /// Counts offered updates in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.admitted = admission_counters(metrics);
        self
    }

    /// Offers a raw webhook body; never waits.
    pub async fn offer_raw(&self, body: &[u8]) -> Admission {
        if !self.is_accepting() {
            return self.counted(UNKNOWN_KIND, Admission::Closed);
        }
        match parse_update(body) {
            Some(update) => self.offer(update).await,
            None => self.counted(UNKNOWN_KIND, Admission::Unusable),
        }
    }

    /// Offers a parsed update; never waits. `Busy` when the backlog is full.
    ///
    /// The update (~2 KiB) travels boxed: every future that holds it is copied a few times
    /// on its way into a task, once per update.
    pub async fn offer(&self, update: Box<Update>) -> Admission {
        let kind = kind_index(&update);
        let admission = if !self.is_accepting() {
            Admission::Closed
        } else {
            match self.backlog.clone().try_acquire_owned() {
                Ok(permit) => self.start(update, permit).await,
                Err(_) => Admission::Busy,
            }
        };
        self.counted(kind, admission)
    }

    /// Offers a parsed update, waiting for backlog room (polling applies back-pressure).
    pub async fn offer_waiting(&self, update: Box<Update>) -> Admission {
        let kind = kind_index(&update);
        let admission = if !self.is_accepting() {
            Admission::Closed
        } else {
            match self.backlog.clone().acquire_owned().await {
                Ok(permit) => self.start(update, permit).await,
                Err(_) => Admission::Closed,
            }
        };
        self.counted(kind, admission)
    }

    fn counted(&self, kind: usize, admission: Admission) -> Admission {
        self.admitted[kind][admission as usize].increment(1);
        admission
    }

    /// Whether new updates are admitted.
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Acquire)
    }

    /// Users whose updates are being handled right now.
    pub fn lanes_active(&self) -> usize {
        self.lanes.active()
    }

    /// Updates currently being handled.
    pub fn backlog_len(&self) -> usize {
        self.backlog_max - self.backlog.available_permits()
    }

    /// Refuses new updates from now on (they get 503 and are retried by Telegram).
    pub fn stop_accepting(&self) {
        self.accepting.store(false, Ordering::Release);
    }

    /// Waits up to `grace` for every admitted update to finish; `false` if time ran out.
    pub async fn drain(&self, grace: Duration) -> bool {
        let everything = u32::try_from(self.backlog_max).unwrap_or(u32::MAX);
        tokio::time::timeout(grace, self.backlog.acquire_many(everything))
            .await
            .is_ok()
    }

    async fn start(&self, update: Box<Update>, permit: OwnedSemaphorePermit) -> Admission {
        if let UpdateKind::Error(_) = update.kind {
            tracing::warn!(
                update_id = update.id.0,
                "update of an unknown or malformed kind"
            );
            return Admission::Unusable;
        }
        if !self.seen.first_time(update.id.0).await {
            tracing::debug!(update_id = update.id.0, "duplicate update ignored");
            return Admission::Duplicate;
        }
        self.lanes.submit(update, permit);
        Admission::Accepted
    }
}

fn admission_counters(metrics: &Metrics) -> [[metrics::Counter; 5]; KINDS.len()] {
    KINDS.map(|kind| {
        Admission::ALL.map(|outcome| {
            let labels = [("kind", kind), ("outcome", outcome.name())];
            metrics.counter(names::UPDATES, &labels)
        })
    })
}

/// Where `update`'s kind is in [`KINDS`].
fn kind_index(update: &Update) -> usize {
    match update.kind {
        UpdateKind::Message(_) => 0,
        UpdateKind::EditedMessage(_) => 1,
        UpdateKind::CallbackQuery(_) => 2,
        UpdateKind::PreCheckoutQuery(_) => 3,
        UpdateKind::Error(_) => UNKNOWN_KIND,
        _ => 4,
    }
}

/// Parses a webhook body, logging (with the `update_id` when readable) what cannot be used.
pub fn parse_update(body: &[u8]) -> Option<Box<Update>> {
    match serde_json::from_slice::<Box<Update>>(body) {
        Ok(update) => Some(update),
        Err(error) => {
            let update_id = serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|value| value.get("update_id")?.as_u64());
            match update_id {
                Some(id) => tracing::warn!(update_id = id, %error, "schema-invalid update"),
                None => tracing::warn!(%error, bytes = body.len(), "unparsable webhook body"),
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_outcome_counts_under_its_own_name() {
        let metrics = Metrics::new();
        let counters = admission_counters(&metrics);
        for admission in Admission::ALL {
            counters[0][admission as usize].increment(1);
        }
        let text = metrics.render();
        for outcome in ["accepted", "duplicate", "unusable", "busy", "closed"] {
            let line =
                format!(r#"excursobot_updates_total{{kind="message",outcome="{outcome}"}} 1"#);
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
