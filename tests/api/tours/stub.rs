//! A stand-in for the tour guide, so paused-clock tests need no HTTP: a small world of places,
//! told nearest-untold-first like the real storyteller, with knobs for a full gate, a slow
//! story and LLM calls that hang while holding one of the gate's permits.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use actix::prelude::*;
use excursobot::{
    actors::{
        live_sessions::{
            Clock, Guide, InMemorySessionStore, LiveLocationSessions, TellTourStory, TourEnded,
        },
        openai_gate::Priority,
    },
    config::LiveSettings,
    facts::tour::{HeadingCue, TourOutcome},
    geo::Coordinates,
    places::PlaceId,
};
use tokio::{sync::Semaphore, time::Instant};

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

/// How the stub answers a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Tell the nearest untold place at once.
    Tell,
    /// The gate is full.
    Busy,
    /// Take this long (unless cancelled), then tell.
    Slow(Duration),
    /// Hold a gate permit and never answer (unless cancelled); busy when no permit is free.
    Hang,
}

/// A request the stub received.
#[derive(Debug, Clone)]
pub struct Asked {
    pub user: u64,
    pub number: u32,
    pub priority: Priority,
    pub nearer_than: Option<f64>,
    pub heading: Option<u16>,
    pub at: Duration,
}

/// A story the stub "sent".
#[derive(Debug, Clone)]
pub struct Told {
    pub user: u64,
    pub number: u32,
    pub place: String,
    pub cue: Option<HeadingCue>,
    pub at: Duration,
}

/// Everything the stub knows and saw.
pub struct World {
    pub places: Vec<(String, Coordinates)>,
    told_places: HashSet<(u64, String)>,
    pub asked: Vec<Asked>,
    pub told: Vec<Told>,
    pub endings: Vec<(TourEnded, Duration)>,
    pub script: VecDeque<Mode>,
    pub mode: Mode,
    /// The gate's permits, held by hanging calls.
    permits: Arc<Semaphore>,
    origin: Instant,
}

/// The stub actor; clones of `world` let the test look inside.
pub struct StubGuide {
    pub world: Arc<Mutex<World>>,
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
        let world = Arc::new(Mutex::new(World {
            places: (0..40)
                .map(|i| 40.0 + 150.0 * f64::from(i))
                .map(|m| (format!("{m} m north"), at(m, 0.0)))
                .collect(),
            told_places: HashSet::new(),
            asked: Vec::new(),
            told: Vec::new(),
            endings: Vec::new(),
            script: VecDeque::new(),
            mode: Mode::Tell,
            permits: Arc::new(Semaphore::new(3)),
            origin: Instant::now(),
        }));
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

/// Settings with this cap, batches of 5 or 1 s, 10 min default interval.
pub fn settings(max_sessions: usize) -> LiveSettings {
    LiveSettings {
        max_sessions,
        batch_size: 5,
        batch_flush: Duration::from_millis(1000),
        default_interval: Duration::from_secs(600),
    }
}

impl Actor for StubGuide {
    type Context = Context<Self>;
}

impl Handler<TourEnded> for StubGuide {
    type Result = ();

    fn handle(&mut self, ended: TourEnded, _: &mut Self::Context) {
        let mut world = self.world.lock().unwrap();
        let at = world.origin.elapsed();
        world.endings.push((ended, at));
    }
}

impl Handler<TellTourStory> for StubGuide {
    type Result = ResponseFuture<TourOutcome>;

    fn handle(
        &mut self,
        TellTourStory(request): TellTourStory,
        _: &mut Self::Context,
    ) -> Self::Result {
        let world = Arc::clone(&self.world);
        let (mode, permits) = {
            let mut w = world.lock().unwrap();
            let at = w.origin.elapsed();
            w.asked.push(Asked {
                user: request.user_id,
                number: request.number,
                priority: request.priority,
                nearer_than: request.nearer_than_m,
                heading: request.heading,
                at,
            });
            let mode = w.script.pop_front().unwrap_or(w.mode);
            (mode, Arc::clone(&w.permits))
        };
        let cancel = request.cancel.clone();
        Box::pin(async move {
            match mode {
                Mode::Tell => {}
                Mode::Busy => return TourOutcome::GateBusy,
                Mode::Slow(delay) => {
                    tokio::select! {
                        () = cancel.cancelled() => return TourOutcome::Cancelled,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                Mode::Hang => {
                    let Ok(_permit) = permits.try_acquire_owned() else {
                        return TourOutcome::GateBusy;
                    };
                    cancel.cancelled().await;
                    return TourOutcome::Cancelled;
                }
            }
            if cancel.is_cancelled() {
                return TourOutcome::Cancelled;
            }
            world.lock().unwrap().tell(&request)
        })
    }
}

impl World {
    fn tell(&mut self, request: &excursobot::facts::tour::TourStoryRequest) -> TourOutcome {
        let user = request.user_id;
        let nearest = self
            .places
            .iter()
            .filter(|(id, _)| !self.told_places.contains(&(user, id.clone())))
            .map(|(id, point)| (id.clone(), *point, request.point.distance_m(point)))
            .min_by(|a, b| a.2.total_cmp(&b.2));
        let Some((id, point, distance_m)) =
            nearest.filter(|(_, _, d)| request.nearer_than_m.is_none_or(|limit| *d < limit))
        else {
            return TourOutcome::NothingNew;
        };
        self.told_places.insert((user, id.clone()));
        let cue = request
            .heading
            .map(|h| HeadingCue::new(f64::from(h), request.point.bearing_deg(&point)));
        let at = self.origin.elapsed();
        self.told.push(Told {
            user,
            number: request.number,
            place: id.clone(),
            cue,
            at,
        });
        TourOutcome::Told {
            place: PlaceId(id),
            distance_m,
            source: excursobot::facts::StorySource::Llm,
        }
    }
}
