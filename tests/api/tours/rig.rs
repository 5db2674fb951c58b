//! The paused-clock rig: a tours actor over an in-memory store with the [`StubGuide`], and
//! the small helpers the timing tests share.

use std::{
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use actix::prelude::*;
use excursobot::{
    actors::live_sessions::{
        Clock, Guide, LiveLocationSessions, LiveUpdate, SessionsSnapshot, SessionsStats, Start,
        StartOutcome, TourEnded,
    },
    config::LiveSettings,
    geo::Coordinates,
    i18n::Lang,
    tour::{InMemorySessionStore, PositionFix},
};

use super::stub::{Asked, StubGuide, World};

/// Metres per degree of latitude.
pub const M_PER_DEG: f64 = 111_195.0;
/// Where walks start.
pub const HOME: (f64, f64) = (55.75, 37.62);

/// `metres` north and `east_m` east of [`HOME`].
pub fn at(north_m: f64, east_m: f64) -> Coordinates {
    let lat = HOME.0 + north_m / M_PER_DEG;
    let lon = HOME.1 + east_m / (M_PER_DEG * HOME.0.to_radians().cos());
    Coordinates::new(lat, lon).unwrap()
}

/// A test's tours actor, its stub and its store.
pub struct Rig {
    pub tours: Addr<LiveLocationSessions>,
    pub world: Arc<Mutex<World>>,
    pub store: InMemorySessionStore,
    pub clock: Clock,
}

impl Rig {
    /// Pauses tokio's clock and starts the actor (cap 50, batches of 5 or 1 s) over a world
    /// with a place every 150 m north of home, from 40 m.
    pub fn start() -> Self {
        Self::capped(50)
    }

    /// Like [`Rig::start`], with at most `cap` tours.
    pub fn capped(cap: usize) -> Self {
        tokio::time::pause();
        Self::start_with(settings(cap), InMemorySessionStore::default(), Clock::new())
    }

    /// Starts an actor over `store` with `clock` (a restart shares both).
    pub fn start_with(settings: LiveSettings, store: InMemorySessionStore, clock: Clock) -> Self {
        let world = Arc::new(Mutex::new(World::new(at)));
        let guide = StubGuide {
            world: Arc::clone(&world),
        }
        .start();
        let tours =
            LiveLocationSessions::new(settings, Arc::new(store.clone()), Guide::of(&guide), clock)
                .start();
        Self {
            tours,
            world,
            store,
            clock,
        }
    }

    /// The stub's world, locked.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    /// Numbers of the stories told to `user`, in order.
    pub fn numbers_told(&self, user: u64) -> Vec<u32> {
        let world = self.world();
        world
            .told
            .iter()
            .filter(|t| t.user == user)
            .map(|t| t.number)
            .collect()
    }

    /// Requests made for `user`.
    /// Where `user` was at each request to write their next story ahead.
    pub fn aheads(&self, user: u64) -> Vec<Coordinates> {
        let world = self.world();
        let of_user = world.aheads.iter().filter(|(u, _, _)| *u == user);
        of_user.map(|(_, point, _)| *point).collect()
    }

    pub fn asked(&self, user: u64) -> Vec<Asked> {
        let world = self.world();
        world
            .asked
            .iter()
            .filter(|a| a.user == user)
            .cloned()
            .collect()
    }

    /// The ending of `user`'s tour, if it ended.
    pub fn ending(&self, user: u64) -> Option<(TourEnded, Duration)> {
        let world = self.world();
        world
            .endings
            .iter()
            .find(|(e, _)| e.user_id == user)
            .cloned()
    }
}

/// Settings with this cap, batches of 5 or 1 s.
pub fn settings(max_sessions: usize) -> LiveSettings {
    LiveSettings {
        max_sessions,
        batch_size: 5,
        batch_flush: Duration::from_millis(1000),
        time_scale: 1,
    }
}

pub const SEC: Duration = Duration::from_secs(1);
pub const MIN: Duration = Duration::from_secs(60);

/// Lets `span` of paused time pass; every timer due meanwhile fires, in order.
pub async fn pass(span: Duration) {
    tokio::time::sleep(span).await;
}

pub fn fix(rig: &Rig, point: Coordinates, heading: Option<u16>) -> PositionFix {
    PositionFix {
        position: point,
        heading,
        date: rig.clock.now_ms() / 1000,
    }
}

pub fn start_at(rig: &Rig, user: u64, point: Coordinates, interval_min: u64) -> Start {
    Start {
        user_id: user,
        chat_id: user as i64,
        lang: Lang::En,
        fix: fix(rig, point, None),
        live_period_secs: None,
        sent_at: rig.clock.now_ms() / 1000,
        interval: Duration::from_secs(interval_min * 60),
    }
}

pub async fn start(rig: &Rig, user: u64, interval_min: u64) -> StartOutcome {
    let point = at(0.0, 10.0 * user as f64);
    rig.tours
        .send(start_at(rig, user, point, interval_min))
        .await
        .unwrap()
}

pub fn moved(rig: &Rig, user: u64, point: Coordinates, heading: Option<u16>) -> LiveUpdate {
    LiveUpdate {
        user_id: user,
        chat_id: user as i64,
        fix: fix(rig, point, heading),
        sharing: true,
    }
}

pub async fn stats(rig: &Rig) -> SessionsSnapshot {
    rig.tours.send(SessionsStats).await.unwrap()
}

pub fn seconds(asked: &[super::stub::Asked]) -> Vec<u64> {
    asked.iter().map(|a| a.at.as_secs()).collect()
}

/// Sends `point` at the start of each of `minutes` minutes.
pub async fn stay(rig: &Rig, user: u64, point: Coordinates, minutes: u32) {
    for _ in 0..minutes {
        rig.tours.do_send(moved(rig, user, point, None));
        pass(MIN).await;
    }
}

/// Starts user 1's tour at home, 10 minutes apart.
pub async fn start_home(rig: &Rig) {
    let message = start_at(rig, 1, at(0.0, 0.0), 10);
    rig.tours.send(message).await.unwrap();
}
