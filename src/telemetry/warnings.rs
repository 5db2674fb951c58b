//! A warning written at most once a second, carrying how many events it stands for, so a
//! flood of the same event (a full queue, dropped messages, refused or unreadable webhook
//! calls, a user's overflowing lane) costs one log line a second: an overloaded bot writing
//! one line per event (thousands a second) would spend its last CPU on logging, and a
//! stranger's flood would drown the log.

use std::{
    num::NonZeroU32,
    sync::atomic::{AtomicU64, Ordering},
};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Counts events and says when a warning about them is due.
pub struct RateLimitedWarning {
    lines: DefaultDirectRateLimiter,
    /// Events since the last warning.
    unreported: AtomicU64,
}

impl Default for RateLimitedWarning {
    fn default() -> Self {
        Self {
            lines: RateLimiter::direct(Quota::per_second(NonZeroU32::MIN)),
            unreported: AtomicU64::new(0),
        }
    }
}

impl RateLimitedWarning {
    /// Records `events`; `Some(n)` when a warning is due now, `n` being the events since the
    /// last one (these included).
    pub fn record(&self, events: u64) -> Option<u64> {
        self.unreported.fetch_add(events, Ordering::Relaxed);
        self.lines
            .check()
            .is_ok()
            .then(|| self.unreported.swap(0, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tracing_test::traced_test;

    #[test]
    fn a_burst_is_reported_once_and_the_rest_waits_for_the_next_line() {
        let warning = RateLimitedWarning::default();
        assert_eq!(warning.record(1), Some(1));
        let later: Vec<_> = (0..100).filter_map(|_| warning.record(2)).collect();
        assert!(later.is_empty());
        assert_eq!(warning.unreported.load(Ordering::Relaxed), 200);
    }

    #[test]
    #[traced_test]
    fn a_flood_of_a_thousand_events_is_one_line_with_its_count() {
        let warning = RateLimitedWarning::default();

        for _ in 0..1000 {
            if let Some(refused) = warning.record(1) {
                tracing::warn!(refused, "backlog full");
            }
        }

        logs_assert(|lines: &[&str]| {
            match lines
                .iter()
                .filter(|line| line.contains("backlog full"))
                .count()
            {
                1 => Ok(()),
                n => Err(format!("{n} warnings: {lines:?}")),
            }
        });
        assert!(logs_contain("refused=1"));
        assert_eq!(warning.unreported.load(Ordering::Relaxed), 999);
    }
}
