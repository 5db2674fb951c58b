//! A live-location tour as plain data ([`LiveSession`], what the store persists) and the
//! rules that read it: when it ends, whether a tick should tell a story, what the summary
//! says; and where tours are kept between restarts ([`store`]).
//!
//! Times are unix milliseconds from the tours actor's clock, so a paused test clock and a
//! restarted process agree on them.

pub mod store;

pub use store::{InMemorySessionStore, SessionStore, StoreError};

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{geo::Coordinates, i18n::Lang};

/// A walker must move this far from the last story's spot before a tick tells another place
/// (unless a nearer untold place appears).
pub const MOVED_AT_LEAST_M: f64 = 50.0;
/// A tour with no live update for this long (or `interval + IDLE_GRACE`, if longer) ends.
pub const IDLE_AT_LEAST: Duration = Duration::from_secs(15 * 60);
/// Added to the interval for the inactivity limit of long intervals.
pub const IDLE_GRACE: Duration = Duration::from_secs(10 * 60);
/// Movements shorter than this are GPS jitter, not walking (for the distance walked).
pub const JITTER_M: f64 = 10.0;

/// A live-location tour, as persisted: one row per user in `live_sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveSession {
    /// Telegram user id: the key (one tour per user).
    pub user_id: u64,
    /// The private chat the tour talks in.
    pub chat_id: i64,
    /// The language stories and the summary are told in.
    pub lang: Lang,
    /// Seconds between ticks.
    pub interval_secs: u32,
    /// When the tour started (unix ms).
    pub started_at: i64,
    /// When Telegram stops the live location (`date + live_period`, unix ms); `None` when
    /// shared until stopped. Natural expiry sends no update, so this is our own timer.
    pub expires_at: Option<i64>,
    /// The last live update (unix ms), moved forward by time spent writing stories and by
    /// downtime, neither of which counts as inactivity.
    pub last_activity_at: i64,
    /// When the next tick is due (unix ms).
    pub next_tick_at: i64,
    /// When this record was last handed to the store (unix ms); measures downtime on restore.
    pub saved_at: i64,
    /// The walker's latest position.
    pub position: Coordinates,
    /// Telegram's date of that position (unix s), so an older edit arriving late is ignored.
    pub position_date: i64,
    /// Direction of movement (degrees, 1-360) when the last update carried one.
    pub heading: Option<u16>,
    /// Where the walker was when the last story was told.
    pub last_story_position: Option<Coordinates>,
    /// How far that story's place was, in metres: a nearer untold place is news.
    pub last_place_distance_m: Option<f64>,
    /// Stories sent in this tour; the next one is `#stories_told + 1`.
    pub stories_told: u32,
    /// Metres walked, measured between points at least `JITTER_M` (10 m) apart.
    pub distance_walked_m: f64,
    /// The point the distance walked was last measured from.
    pub walk_anchor: Coordinates,
}

/// A live position for a tour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionFix {
    /// Where the walker is.
    pub position: Coordinates,
    /// Direction of movement, when the client sent one.
    pub heading: Option<u16>,
    /// Telegram's date of the fix (`edit_date`, else `date`; unix s).
    pub date: i64,
}

/// Why a tour ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// An edit without `live_period`: the user stopped sharing.
    SharingStopped,
    /// `date + live_period` passed.
    Expired,
    /// No live update for the inactivity limit.
    Inactive,
    /// The user sent `/stop`.
    Command,
    /// The user blocked the bot (no summary is sent).
    Blocked,
}

/// What a tick should do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TickPlan {
    /// The walker moved (or no story was told yet): tell the nearest untold place.
    Tell,
    /// The walker stayed: tell a place only if it is nearer than this many metres.
    TellIfNearer(f64),
}

/// The numbers of a finished tour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TourSummary {
    /// Stories sent.
    pub stories: u32,
    /// Metres walked.
    pub distance_m: f64,
    /// From start to end.
    pub duration: Duration,
}

/// How long a tick's story may wait for its written text before the summary is told: a tenth
/// of the interval, from 5 to 30 s.
pub fn tick_patience(interval: Duration) -> Duration {
    (interval / 10).clamp(Duration::from_secs(5), Duration::from_secs(30))
}

/// How far apart tours' ticks are kept: about the time the LLM's permits take to start
/// another story (3 permits, ~5 s a story).
pub const TICK_GAP: Duration = Duration::from_secs(2);

/// The furthest a tour's tick is moved to keep [`TICK_GAP`] from the others': a quarter of
/// the interval, at most three minutes. Fifty tours started together (the cap) then tick in
/// fifty slots, 100 s in all: about the pace the LLM's permits write at, less one for people.
pub fn tick_spread(interval: Duration) -> Duration {
    (interval / 4).min(Duration::from_secs(180))
}

/// The first free slot at or after `wanted` (unix ms) at least [`TICK_GAP`] away from every
/// tick in `others`, moved at most [`tick_spread`] of `interval`; `wanted` itself when none
/// is free so near (the ticks then share the LLM's queue).
pub fn free_tick_slot(wanted: i64, interval: Duration, others: &[i64]) -> i64 {
    let gap = millis(TICK_GAP);
    let latest = wanted.saturating_add(millis(tick_spread(interval)));
    let mut slot = wanted;
    while slot <= latest {
        match others.iter().find(|&&other| (other - slot).abs() < gap) {
            None => return slot,
            Some(&other) => slot = other.saturating_add(gap),
        }
    }
    wanted
}

impl LiveSession {
    /// A tour starting `now` at `fix`.
    pub fn new(user_id: u64, chat_id: i64, lang: Lang, fix: PositionFix, now: i64) -> Self {
        Self {
            user_id,
            chat_id,
            lang,
            interval_secs: 600,
            started_at: now,
            expires_at: None,
            last_activity_at: now,
            next_tick_at: now.saturating_add(600_000),
            saved_at: now,
            position: fix.position,
            position_date: fix.date,
            heading: fix.heading,
            last_story_position: None,
            last_place_distance_m: None,
            stories_told: 0,
            distance_walked_m: 0.0,
            walk_anchor: fix.position,
        }
    }

    /// The tick interval.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval_secs))
    }

    /// Sets the interval and schedules the next tick one interval from `now`.
    pub fn set_interval(&mut self, interval: Duration, now: i64) {
        self.interval_secs = u32::try_from(interval.as_secs()).unwrap_or(u32::MAX).max(1);
        self.next_tick_at = now.saturating_add(millis(self.interval()));
    }

    /// Moves the tour to `fix` (ignored when older than the current position).
    pub fn apply(&mut self, fix: PositionFix, now: i64) {
        self.last_activity_at = self.last_activity_at.max(now);
        if fix.date < self.position_date {
            return;
        }
        self.position = fix.position;
        self.position_date = fix.date;
        self.heading = fix.heading;
        let step = self.walk_anchor.distance_m(&fix.position);
        if step >= JITTER_M {
            self.distance_walked_m += step;
            self.walk_anchor = fix.position;
        }
    }

    /// How long the tour may go without a live update.
    pub fn idle_limit(&self) -> Duration {
        IDLE_AT_LEAST.max(self.interval() + IDLE_GRACE)
    }

    /// Why the tour should end `now`, if it should; a tour writing a story is never idle.
    pub fn end_due(&self, now: i64, writing: bool) -> Option<EndReason> {
        if self.expires_at.is_some_and(|at| now >= at) {
            return Some(EndReason::Expired);
        }
        let idle_until = self
            .last_activity_at
            .saturating_add(millis(self.idle_limit()));
        (!writing && now >= idle_until).then_some(EndReason::Inactive)
    }

    /// When [`LiveSession::end_due`] should be asked next.
    pub fn next_end_check(&self, writing: bool) -> Option<i64> {
        let idle = (!writing).then(|| {
            self.last_activity_at
                .saturating_add(millis(self.idle_limit()))
        });
        match (self.expires_at, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether and how a tick should look for a story.
    pub fn tick_plan(&self) -> TickPlan {
        let moved = self
            .last_story_position
            .is_none_or(|at| at.distance_m(&self.position) >= MOVED_AT_LEAST_M);
        match self.last_place_distance_m {
            Some(distance) if !moved => TickPlan::TellIfNearer(distance),
            _ => TickPlan::Tell,
        }
    }

    /// A story about a place `distance_m` away was sent while the walker stood at `at`.
    pub fn record_story(&mut self, at: Coordinates, distance_m: f64) {
        self.stories_told = self.stories_told.saturating_add(1);
        self.last_story_position = Some(at);
        self.last_place_distance_m = Some(distance_m);
    }

    /// Writing a story from `started` to `done` does not count as inactivity.
    pub fn credit_writing(&mut self, started: i64, done: i64) {
        let idle_from = self.last_activity_at.max(started);
        let credit = done.saturating_sub(idle_from).max(0);
        self.last_activity_at = self.last_activity_at.saturating_add(credit);
    }

    /// After a restart: the time the process was down (since the last save) is not inactivity.
    pub fn credit_downtime(&mut self, now: i64) {
        let downtime = now.saturating_sub(self.saved_at).max(0);
        let credited = self.last_activity_at.saturating_add(downtime).min(now);
        self.last_activity_at = self.last_activity_at.max(credited);
    }

    /// The numbers for the summary, as of `now`.
    pub fn summary(&self, now: i64) -> TourSummary {
        let elapsed = u64::try_from(now.saturating_sub(self.started_at)).unwrap_or(0);
        TourSummary {
            stories: self.stories_told,
            distance_m: self.distance_walked_m,
            duration: Duration::from_millis(elapsed),
        }
    }
}

impl TourSummary {
    /// "🏁 Tour finished. Stories: 3 · walked: 1.2 km · time: 47 min." in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        let texts = lang.texts();
        let distance = if self.distance_m < 1000.0 {
            format!(
                "{} {}",
                (self.distance_m / 10.0).round() * 10.0,
                texts.units.0
            )
        } else {
            format!("{:.1} {}", self.distance_m / 1000.0, texts.units.1)
        };
        let minutes = self.duration.as_secs() / 60;
        let duration = if minutes == 0 {
            // "0 min" reads like nothing happened.
            format!("< 1 {}", texts.minutes)
        } else if minutes < 60 {
            format!("{minutes} {}", texts.minutes)
        } else {
            format!(
                "{} {} {:02} {}",
                minutes / 60,
                texts.hours,
                minutes % 60,
                texts.minutes
            )
        };
        texts
            .tour_summary
            .replace("{stories}", &self.stories.to_string())
            .replace("{distance}", &distance)
            .replace("{duration}", &duration)
    }
}

/// A duration in milliseconds, saturating (timestamps are `i64` ms).
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn fix(lat: f64, date: i64) -> PositionFix {
        PositionFix {
            position: Coordinates::new(lat, 37.0).unwrap(),
            heading: None,
            date,
        }
    }

    fn session() -> LiveSession {
        LiveSession::new(1, 1, Lang::En, fix(55.0, 100), 0)
    }

    #[test]
    fn the_idle_limit_is_15_minutes_or_interval_plus_10() {
        let mut tour = session();
        tour.set_interval(Duration::from_secs(300), 0);
        assert_eq!(tour.idle_limit(), Duration::from_secs(900));
        tour.set_interval(Duration::from_secs(3600), 0);
        assert_eq!(tour.idle_limit(), Duration::from_secs(4200));
    }

    #[test]
    fn a_tour_writing_a_story_is_never_idle_but_still_expires() {
        let mut tour = session();
        tour.expires_at = Some(60 * MIN);
        assert_eq!(tour.end_due(20 * MIN, false), Some(EndReason::Inactive));
        assert_eq!(tour.end_due(20 * MIN, true), None);
        assert_eq!(tour.end_due(60 * MIN, true), Some(EndReason::Expired));
        assert_eq!(tour.next_end_check(true), Some(60 * MIN));
        assert_eq!(tour.next_end_check(false), Some(20 * MIN));
    }

    #[test]
    fn writing_time_moves_the_idle_clock_forward() {
        let mut tour = session();
        tour.credit_writing(5 * MIN, 8 * MIN);
        assert_eq!(tour.last_activity_at, 3 * MIN);
        tour.last_activity_at = 10 * MIN;
        tour.credit_writing(9 * MIN, 12 * MIN);
        assert_eq!(tour.last_activity_at, 12 * MIN);
    }

    #[test]
    fn an_older_fix_arriving_late_does_not_move_the_walker_back() {
        let mut tour = session();
        tour.apply(fix(55.001, 200), MIN);
        tour.apply(fix(55.0005, 150), 2 * MIN);
        assert_eq!(tour.position, fix(55.001, 0).position);
        assert_eq!(tour.last_activity_at, 2 * MIN);
        assert!((tour.distance_walked_m - 111.2).abs() < 1.0);
    }

    #[test]
    fn jitter_does_not_add_up_to_a_walk() {
        let mut tour = session();
        for i in 0..50 {
            let lat = if i % 2 == 0 { 55.00003 } else { 55.0 };
            tour.apply(fix(lat, 100 + i), MIN);
        }
        assert_eq!(tour.distance_walked_m, 0.0);
    }

    #[test]
    fn a_tick_tells_after_50_m_or_only_a_nearer_place() {
        let mut tour = session();
        assert_eq!(tour.tick_plan(), TickPlan::Tell);
        tour.record_story(tour.position, 120.0);
        assert_eq!(tour.tick_plan(), TickPlan::TellIfNearer(120.0));
        tour.apply(fix(55.0004, 101), MIN);
        assert_eq!(tour.tick_plan(), TickPlan::TellIfNearer(120.0));
        tour.apply(fix(55.0005, 102), MIN);
        assert_eq!(tour.tick_plan(), TickPlan::Tell);
    }

    #[test]
    fn the_summary_reads_well_in_both_languages() {
        let summary = TourSummary {
            stories: 3,
            distance_m: 1234.0,
            duration: Duration::from_secs(65 * 60),
        };
        assert_eq!(
            summary.text(Lang::En),
            "🏁 Tour finished. Stories: 3 · walked: 1.2 km · time: 1 h 05 min."
        );
        let short = TourSummary {
            distance_m: 342.0,
            duration: Duration::from_secs(47 * 60 + 30),
            ..summary
        };
        assert_eq!(
            short.text(Lang::Ru),
            "🏁 Прогулка окончена. Историй: 3 · пройдено: 340 м · время: 47 мин."
        );
        let brief = TourSummary {
            duration: Duration::from_secs(13),
            ..short
        };
        assert!(brief.text(Lang::En).ends_with("time: < 1 min."));
        assert!(brief.text(Lang::Ru).ends_with("время: < 1 мин."));
    }

    #[test]
    fn a_tick_slot_keeps_clear_of_the_others_within_a_quarter_of_the_interval() {
        let five_min = Duration::from_secs(300);
        assert_eq!(free_tick_slot(1_000, five_min, &[]), 1_000);
        assert_eq!(free_tick_slot(1_000, five_min, &[1_000]), 3_000);
        assert_eq!(
            free_tick_slot(1_000, five_min, &[1_000, 3_000, 4_500]),
            6_500
        );
        assert_eq!(free_tick_slot(1_000, five_min, &[-2_000, 8_000]), 1_000);
        // Every slot of the 75 s window is taken: the chosen time, sharing the queue.
        let full: Vec<i64> = (0..=38).map(|n| 1_000 + n * 2_000).collect();
        assert_eq!(free_tick_slot(1_000, five_min, &full), 1_000);
        assert_eq!(tick_patience(five_min), Duration::from_secs(30));
        assert_eq!(
            tick_patience(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
    }
}
