//! When would a new job start? The gate's guess, so an Interactive request the queue cannot
//! reach within its wait is answered at once instead of after the whole wait.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use tokio::time::Instant;

/// How long calls take: a moving average of the finished ones (each weighs 1/4).
#[derive(Debug, Default)]
pub(super) struct CallDurations {
    average: Option<Duration>,
}

impl CallDurations {
    /// Records a finished call (answered or failed) that took `took`.
    pub(super) fn record(&mut self, took: Duration) {
        self.average = Some(match self.average {
            None => took,
            Some(average) => (average * 3 + took) / 4,
        });
    }

    /// The average so far; `None` before the first call finished.
    pub(super) fn average(&self) -> Option<Duration> {
        self.average
    }
}

/// When a job with `ahead` jobs queued before it would start while every permit is taken, if
/// every call takes `call`: the calls in flight (started at `running_since`) free their
/// permits `call` after they started (or now, if they are overdue), and each job ahead takes
/// the first permit to free up for `call`.
pub(super) fn predicted_start(
    now: Instant,
    running_since: impl IntoIterator<Item = Instant>,
    ahead: usize,
    call: Duration,
) -> Instant {
    let mut frees: BinaryHeap<Reverse<Instant>> = running_since
        .into_iter()
        .map(|started| Reverse((started + call).max(now)))
        .collect();
    for _ in 0..ahead {
        let Some(Reverse(free)) = frees.pop() else {
            return now;
        };
        frees.push(Reverse(free + call));
    }
    frees.pop().map_or(now, |Reverse(free)| free)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: Duration = Duration::from_secs(5);

    #[test]
    fn the_average_starts_at_the_first_call_and_follows_later_ones() {
        let mut durations = CallDurations::default();
        assert_eq!(durations.average(), None);
        durations.record(Duration::from_secs(4));
        assert_eq!(durations.average(), Some(Duration::from_secs(4)));
        durations.record(Duration::from_secs(8));
        assert_eq!(durations.average(), Some(Duration::from_secs(5)));
    }

    /// A moment a minute into the clock, so the tests can look back.
    fn now() -> Instant {
        Instant::now() + Duration::from_secs(60)
    }

    #[test]
    fn the_job_waits_for_the_earliest_permit_and_for_the_jobs_ahead() {
        let now = now();
        let running = [
            now - Duration::from_secs(1),
            now - Duration::from_secs(3),
            now,
        ];
        // Permits free at +2 s, +4 s and +5 s.
        let at = |ahead| predicted_start(now, running, ahead, CALL) - now;
        assert_eq!(at(0), Duration::from_secs(2));
        assert_eq!(at(1), Duration::from_secs(4));
        assert_eq!(at(2), Duration::from_secs(5));
        // The first job ahead took the +2 s permit until +7 s.
        assert_eq!(at(3), Duration::from_secs(7));
    }

    #[test]
    fn an_overdue_call_is_counted_as_ending_now() {
        let now = now();
        let overdue = now - Duration::from_secs(60);
        assert_eq!(predicted_start(now, [overdue], 0, CALL), now);
        assert_eq!(predicted_start(now, [overdue], 1, CALL), now + CALL);
    }
}
