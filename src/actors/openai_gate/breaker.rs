//! Circuit breaker: closed -> open after N consecutive service failures -> half-open after the
//! cool-down (one probe call) -> closed on success, open again on failure.

use std::time::Duration;

use tokio::time::Instant;

use super::GateError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Normal service; counts consecutive service failures.
    Closed { failures: u32 },
    /// Failing fast until `until`.
    Open { until: Instant },
    /// Cool-down over; at most one probe call may run.
    HalfOpen { probe_in_flight: bool },
}

/// Decides whether calls may start, from the outcomes of finished calls.
#[derive(Debug)]
pub(super) struct CircuitBreaker {
    state: State,
    threshold: u32,
    cooldown: Duration,
}

impl CircuitBreaker {
    /// A closed breaker opening after `threshold` consecutive failures (at least 1).
    pub(super) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            state: State::Closed { failures: 0 },
            threshold: threshold.max(1),
            cooldown,
        }
    }

    /// Whether new requests must fail fast now (open and still cooling down).
    pub(super) fn rejects_requests(&self, now: Instant) -> bool {
        matches!(self.state, State::Open { until } if now < until)
    }

    /// Whether the breaker is not closed, for stats.
    pub(super) fn is_open(&self) -> bool {
        !matches!(self.state, State::Closed { .. })
    }

    /// Asks to start one call; in half-open state only one probe is allowed at a time.
    pub(super) fn try_start_call(&mut self, now: Instant) -> bool {
        match self.state {
            State::Closed { .. } => true,
            State::Open { until } if now < until => false,
            State::Open { .. }
            | State::HalfOpen {
                probe_in_flight: false,
            } => {
                self.state = State::HalfOpen {
                    probe_in_flight: true,
                };
                true
            }
            State::HalfOpen {
                probe_in_flight: true,
            } => false,
        }
    }

    /// Records a finished call; returns true when this outcome opened the breaker.
    pub(super) fn record(&mut self, result: &Result<String, GateError>, now: Instant) -> bool {
        let failed = matches!(result, Err(error) if error.is_service_failure());
        if !failed {
            self.state = State::Closed { failures: 0 };
            return false;
        }
        match self.state {
            State::Closed { failures } if failures + 1 < self.threshold => {
                self.state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::Closed { .. } | State::HalfOpen { .. } => {
                self.state = State::Open {
                    until: now + self.cooldown,
                };
                true
            }
            State::Open { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure() -> Result<String, GateError> {
        Err(GateError::Timeout)
    }

    #[tokio::test]
    async fn opens_after_threshold_then_probes_once_and_closes_on_success() {
        let mut breaker = CircuitBreaker::new(2, Duration::from_secs(10));
        let now = Instant::now();
        assert!(!breaker.record(&failure(), now));
        assert!(breaker.record(&failure(), now));
        assert!(breaker.rejects_requests(now));
        assert!(!breaker.try_start_call(now));

        let later = now + Duration::from_secs(11);
        assert!(!breaker.rejects_requests(later));
        assert!(breaker.try_start_call(later));
        assert!(!breaker.try_start_call(later), "only one probe");
        breaker.record(&Ok("story".into()), later);
        assert!(!breaker.is_open());
    }

    #[tokio::test]
    async fn refusals_do_not_count_as_failures() {
        let mut breaker = CircuitBreaker::new(1, Duration::from_secs(10));
        assert!(!breaker.record(&Err(GateError::Refused), Instant::now()));
        assert!(!breaker.is_open());
    }
}
