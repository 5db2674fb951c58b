//! One actor's restart record: its restarts in the sliding window (OTP's intensity and
//! period), since when it is over the limit, and whether it still runs.

use std::{collections::VecDeque, sync::Mutex, time::Instant};

use serde::Serialize;

use super::lock;
use crate::config::RestartLimits;

/// What an actor is, as `/readyz` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorState {
    /// Serving its mailbox within its restart limit.
    Running,
    /// Restarted more often than the limit allows within the window.
    Failing,
    /// Running, but it did not answer a probe in time: its mailbox is held up.
    Unresponsive,
    /// Its future ended (the arbiter stopped): nothing serves its mailbox.
    Stopped,
}

/// One actor in the supervision's report.
#[derive(Debug, Clone, Serialize)]
pub struct ActorReport {
    /// The name it was started under (`db`, `cache`, `gate`, `tours`, `guide`).
    pub name: &'static str,
    /// Its state now.
    pub state: ActorState,
    /// Restarts since start-up.
    pub restarts: u64,
    /// Restarts within the window.
    pub recent_restarts: usize,
}

/// What one more restart means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Within the limit.
    Within,
    /// Over the limit: not ready.
    OverLimit,
    /// Over the limit for longer than `give_up_after`.
    GiveUp,
}

/// The record of one supervised actor.
pub(super) struct ActorRecord {
    pub(super) name: &'static str,
    state: Mutex<Record>,
}

#[derive(Default)]
struct Record {
    /// Restarts within the window, oldest first.
    recent: VecDeque<Instant>,
    total: u64,
    /// The restart that first went over the limit, while it stays over.
    over_since: Option<Instant>,
    stopped: bool,
}

impl ActorRecord {
    pub(super) fn new(name: &'static str) -> Self {
        Self {
            name,
            state: Mutex::default(),
        }
    }

    /// Counts a restart at `now`.
    pub(super) fn restarted(&self, now: Instant, limits: &RestartLimits) -> Verdict {
        let mut record = lock(&self.state);
        record.total += 1;
        record.forget_before(now, limits);
        record.recent.push_back(now);
        if record.recent.len() <= limits.max_restarts {
            return Verdict::Within;
        }
        let since = *record.over_since.get_or_insert(now);
        if now.duration_since(since) >= limits.give_up_after {
            Verdict::GiveUp
        } else {
            Verdict::OverLimit
        }
    }

    /// Its future ended.
    pub(super) fn stopped(&self) {
        lock(&self.state).stopped = true;
    }

    /// Its state at `now`.
    pub(super) fn report(&self, now: Instant, limits: &RestartLimits) -> ActorReport {
        let mut record = lock(&self.state);
        record.forget_before(now, limits);
        let state = if record.stopped {
            ActorState::Stopped
        } else if record.recent.len() > limits.max_restarts {
            ActorState::Failing
        } else {
            ActorState::Running
        };
        ActorReport {
            name: self.name,
            state,
            restarts: record.total,
            recent_restarts: record.recent.len(),
        }
    }
}

impl Record {
    fn forget_before(&mut self, now: Instant, limits: &RestartLimits) {
        while let Some(&first) = self.recent.front() {
            if now.duration_since(first) < limits.window {
                break;
            }
            self.recent.pop_front();
        }
        if self.recent.len() <= limits.max_restarts {
            self.over_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits() -> RestartLimits {
        RestartLimits {
            max_restarts: 5,
            window: Duration::from_secs(10),
            give_up_after: Duration::from_secs(30),
        }
    }

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn the_sixth_restart_within_the_window_goes_over_the_limit() {
        let (record, start) = (ActorRecord::new("cache"), Instant::now());
        for n in 0..5 {
            assert_eq!(
                record.restarted(at(start, n * 100), &limits()),
                Verdict::Within
            );
        }
        assert_eq!(
            record.report(at(start, 500), &limits()).state,
            ActorState::Running
        );

        assert_eq!(
            record.restarted(at(start, 600), &limits()),
            Verdict::OverLimit
        );
        let report = record.report(at(start, 700), &limits());
        assert_eq!(
            (report.state, report.recent_restarts),
            (ActorState::Failing, 6)
        );
    }

    #[test]
    fn restarts_spread_wider_than_the_window_stay_within_the_limit() {
        let (record, start) = (ActorRecord::new("db"), Instant::now());
        for n in 0..20 {
            assert_eq!(
                record.restarted(at(start, n * 2_100), &limits()),
                Verdict::Within
            );
        }
        let report = record.report(at(start, 40_000), &limits());
        assert_eq!((report.state, report.restarts), (ActorState::Running, 20));
    }

    #[test]
    fn calm_for_a_window_makes_it_ready_again() {
        let (record, start) = (ActorRecord::new("gate"), Instant::now());
        for n in 0..6 {
            record.restarted(at(start, n), &limits());
        }
        assert_eq!(
            record.report(at(start, 9_000), &limits()).state,
            ActorState::Failing
        );
        assert_eq!(
            record.report(at(start, 10_006), &limits()).state,
            ActorState::Running
        );
    }

    #[test]
    fn staying_over_the_limit_past_give_up_after_gives_up() {
        let (record, start) = (ActorRecord::new("tours"), Instant::now());
        let mut verdicts = Vec::new();
        // A panic every second: 10 in every window, from the 6th on over the limit.
        for second in 0..40 {
            verdicts.push(record.restarted(at(start, second * 1_000), &limits()));
        }
        assert_eq!(verdicts[4], Verdict::Within);
        assert_eq!(verdicts[5], Verdict::OverLimit);
        assert_eq!(verdicts[34], Verdict::OverLimit);
        assert_eq!(
            verdicts[35],
            Verdict::GiveUp,
            "30 s after it went over (at 5 s)"
        );
    }

    #[test]
    fn going_back_under_the_limit_restarts_the_give_up_clock() {
        let (record, start) = (ActorRecord::new("guide"), Instant::now());
        for n in 0..6 {
            record.restarted(at(start, n), &limits());
        }
        // A quiet minute, then another burst: over again, but only just.
        for n in 0..6 {
            let verdict = record.restarted(at(start, 60_000 + n), &limits());
            assert_ne!(verdict, Verdict::GiveUp);
        }
    }
}
