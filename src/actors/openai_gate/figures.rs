//! What the gate measures as calls finish: calls by priority and outcome, and how long they
//! took. Handles are registered once, so a finished call costs two atomic updates.

use std::time::Duration;

use metrics::{Counter, Histogram};

use super::{GateError, Priority};
use crate::stats::{Metrics, registry::names};

/// The outcomes a finished call is counted under.
const OUTCOMES: [&str; 6] = [
    "ok",
    "timeout",
    "rate_limited",
    "quota_exceeded",
    "unusable",
    "upstream",
];

/// Counters and latency histograms, by priority then outcome.
pub(super) struct CallFigures {
    calls: [[Counter; OUTCOMES.len()]; Priority::ALL.len()],
    durations: [[Histogram; OUTCOMES.len()]; Priority::ALL.len()],
}

impl CallFigures {
    /// Handles in `metrics` for every priority and outcome.
    pub(super) fn new(metrics: &Metrics) -> Self {
        let labels = |priority: Priority, outcome: &'static str| {
            [("priority", priority.name()), ("outcome", outcome)]
        };
        let calls = Priority::ALL
            .map(|p| OUTCOMES.map(|o| metrics.counter(names::LLM_CALLS, &labels(p, o))));
        let durations = Priority::ALL
            .map(|p| OUTCOMES.map(|o| metrics.histogram(names::LLM_CALL_DURATION, &labels(p, o))));
        Self { calls, durations }
    }

    /// A call of `priority` ended with `result` after `took`.
    pub(super) fn finished(
        &self,
        priority: Priority,
        result: &Result<String, GateError>,
        took: Duration,
    ) {
        let outcome = outcome_index(result);
        self.calls[priority.index()][outcome].increment(1);
        self.durations[priority.index()][outcome].record(took.as_secs_f64());
    }
}

/// Where `result` is in [`OUTCOMES`].
fn outcome_index(result: &Result<String, GateError>) -> usize {
    match result {
        Ok(_) => 0,
        Err(GateError::Timeout) => 1,
        Err(GateError::RateLimited) => 2,
        Err(GateError::QuotaExceeded) => 3,
        Err(
            GateError::Refused
            | GateError::Truncated
            | GateError::ContentFilter
            | GateError::Unusable(_),
        ) => 4,
        Err(_) => 5,
    }
}
