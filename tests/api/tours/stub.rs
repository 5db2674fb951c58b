//! A stand-in for the tour guide, so paused-clock tests need no HTTP: a small world of places,
//! told nearest-untold-first like the real storyteller, with knobs for a full gate, a slow
//! story and LLM calls that hang while holding one of the gate's permits.

use std::{
    collections::{HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use actix::prelude::*;
use excursobot::{
    actors::{
        live_sessions::{TellTourStory, TourEnded, TourOutcome, WriteTourAhead},
        openai_gate::Priority,
    },
    facts::tour::HeadingCue,
    geo::Coordinates,
    places::PlaceId,
};
use tokio::{sync::Semaphore, time::Instant};

/// How the stub answers a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Tell the nearest untold place at once.
    Tell,
    /// The gate is full.
    Busy,
    /// Take this long (unless cancelled), then tell.
    Slow(Duration),
    /// Already past the last cancel check: take this long sending, then tell regardless.
    Sending(Duration),
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
    /// Stories asked to be written ahead: the walker, where they were, when.
    pub aheads: Vec<(u64, Coordinates, Duration)>,
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

/// Writing ahead is the production guide's business: the stub only notes who asked, from
/// where.
impl Handler<WriteTourAhead> for StubGuide {
    type Result = ();

    fn handle(&mut self, WriteTourAhead(request, _): WriteTourAhead, _: &mut Self::Context) {
        let mut world = self.world.lock().unwrap();
        let at = world.origin.elapsed();
        world.aheads.push((request.user_id, request.point, at));
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
                Mode::Sending(delay) => {
                    tokio::time::sleep(delay).await;
                    return world.lock().unwrap().tell(&request);
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
    /// A world with a place every 150 m north of home (`at` places them), from 40 m.
    pub fn new(at: fn(f64, f64) -> Coordinates) -> Self {
        Self {
            places: (0..40)
                .map(|i| 40.0 + 150.0 * f64::from(i))
                .map(|m| (format!("{m} m north"), at(m, 0.0)))
                .collect(),
            told_places: HashSet::new(),
            asked: Vec::new(),
            aheads: Vec::new(),
            told: Vec::new(),
            endings: Vec::new(),
            script: VecDeque::new(),
            mode: Mode::Tell,
            permits: Arc::new(Semaphore::new(3)),
            origin: Instant::now(),
        }
    }

    fn tell(
        &mut self,
        request: &excursobot::actors::live_sessions::TourStoryRequest,
    ) -> TourOutcome {
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
            source: excursobot::story::StorySource::Llm,
        }
    }
}
