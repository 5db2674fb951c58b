//! A warning written at most once a second, carrying how many events it stands for, so a
//! flood of the same event (a full queue, dropped messages) costs one log line a second.

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

    #[test]
    fn a_burst_is_reported_once_and_the_rest_waits_for_the_next_line() {
        let warning = RateLimitedWarning::default();
        assert_eq!(warning.record(1), Some(1));
        let later: Vec<_> = (0..100).filter_map(|_| warning.record(2)).collect();
        assert!(later.is_empty());
        assert_eq!(warning.unreported.load(Ordering::Relaxed), 200);
    }
}
