//! In-process operational figures that are not in the database: errors in the last 24 hours,
//! the Prometheus registry ([`registry`]) and the process's own figures ([`process`]).

pub mod process;
pub mod registry;

pub use registry::Metrics;

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

/// The window `/stats` reports errors over.
const WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Most error times remembered (older ones are forgotten first).
const MAX_REMEMBERED: usize = 100_000;

/// Times of recent errors (Telegram failures, LLM failures, database failures). Cheap to clone.
#[derive(Clone, Default)]
pub struct ErrorLog {
    times: Arc<Mutex<VecDeque<Instant>>>,
}

impl ErrorLog {
    /// Records one error now.
    pub fn record(&self) {
        let mut times = self.times.lock().unwrap_or_else(PoisonError::into_inner);
        if times.len() >= MAX_REMEMBERED {
            times.pop_front();
        }
        times.push_back(Instant::now());
    }

    /// Errors in the last 24 hours.
    pub fn last_24h(&self) -> usize {
        let mut times = self.times.lock().unwrap_or_else(PoisonError::into_inner);
        while times.front().is_some_and(|time| time.elapsed() > WINDOW) {
            times.pop_front();
        }
        times.len()
    }
}
