//! The tours' wall clock: unix milliseconds that follow tokio's clock.
//!
//! Session times are persisted, so they must be wall-clock times; the timers that act on them
//! are tokio timers. Reading the wall clock once and then adding tokio's elapsed time keeps
//! both in step, so a test that pauses and advances tokio's clock moves session times too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::tour::millis;

/// Wall-clock time that advances with tokio's clock. Clones share the same origin.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Unix ms at `origin`.
    origin_ms: i64,
    origin: Instant,
    /// Tour time per real time: 1, except in a simulation that compresses tours.
    scale: u32,
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock {
    /// A clock reading the system time now.
    pub fn new() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self {
            origin_ms: millis(since_epoch),
            origin: Instant::now(),
            scale: 1,
        }
    }

    /// A clock on which `scale` ms pass for every real ms (`TOUR_TIME_SCALE`, simulation
    /// only: 60 makes a tour minute last a second). `scale` 1 is [`Clock::new`].
    pub fn scaled(scale: u32) -> Self {
        Self {
            scale: scale.max(1),
            ..Self::new()
        }
    }

    /// The time now, in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let elapsed = millis(self.origin.elapsed()).saturating_mul(i64::from(self.scale));
        self.origin_ms.saturating_add(elapsed)
    }

    /// How long until `at_ms` (zero when it has passed), in real time.
    pub fn until(&self, at_ms: i64) -> Duration {
        let wait = at_ms.saturating_sub(self.now_ms()).max(0);
        self.real(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
    }

    /// How long `span` of this clock's time lasts in real time.
    pub fn real(&self, span: Duration) -> Duration {
        span / self.scale
    }
}
