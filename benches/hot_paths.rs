//! Micro-benchmarks of the hot paths, kept short (20 samples, 1 s each):
//!
//! - `parse_update/*`: a webhook body into a teloxide `Update` (what every update pays);
//! - `webhook_body_to_route/ignored`: the whole admission of an update the bot ignores:
//!   parse, backlog permit, `update_id` dedup, the spawned route task and its decision;
//! - `cache_key/*`: the fact key and the place-list key of a ~110 m cell;
//! - `choose_place/20_places`: the nearest untold place among a Wikipedia answer's 20.
//!
//! Run with `cargo bench --bench hot_paths`; results land in `target/criterion`.

use std::{
    collections::HashSet,
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use actix::Actor;
use criterion::{Criterion, criterion_group, criterion_main};
use excursobot::{
    actors::{
        db_actor::DbActor,
        fact_cache::FactCache,
        live_sessions::{Clock, Guide, LiveLocationSessions},
    },
    cache::{SeenUpdates, fact_key, places_key},
    config::Settings,
    db::{self, reachability::Reachability},
    facts::{
        StorySteps, Storyteller, choose_place, places::PlaceFinder, teller::Teller,
        told::ToldPlaces, tour::TourGuide, writer::StoryWriter,
    },
    geo::Coordinates,
    handlers::{
        context::Context,
        dispatch::{Admission, Dispatcher, UnusableWarnings, parse_update},
    },
    places::{Place, PlaceError, PlaceId, PlaceSource},
    simulate::{city, updates},
    stats::ErrorLog,
    telegram::Outbox,
    tour::InMemorySessionStore,
    users::UserStore,
};
use futures::future::BoxFuture;

const START: &str =
    include_str!("../tests/fixtures/telegram_updates/01_start_command_private.json");
const LOCATION: &str =
    include_str!("../tests/fixtures/telegram_updates/07_location_static_private_pytba.json");
const LIVE_EDIT: &str =
    include_str!("../tests/fixtures/telegram_updates/09_live_location_edit_DERIVED.json");
const IGNORED: &str =
    include_str!("../tests/fixtures/telegram_updates/25_edited_text_message_tgbot.json");

fn short() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

fn parse(c: &mut Criterion) {
    let warnings = UnusableWarnings::default();
    for (name, body) in [
        ("start", START),
        ("location", LOCATION),
        ("live_edit", LIVE_EDIT),
        ("ignored", IGNORED),
    ] {
        c.bench_function(&format!("parse_update/{name}"), |b| {
            b.iter(|| parse_update(black_box(body.as_bytes()), &warnings))
        });
    }
}

/// A place source that is never asked (ignored updates do not look for places).
struct NoPlaces;

impl PlaceSource for NoPlaces {
    fn places_near<'a>(
        &'a self,
        _point: Coordinates,
        _lang: &'a str,
        _radius_m: u32,
    ) -> BoxFuture<'a, Result<Vec<Place>, PlaceError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// The real dispatcher and router over an in-memory SQLite database, an in-process cache and
/// no LLM; nothing here sends.
async fn dispatcher() -> Dispatcher {
    excursobot::install_tls_provider();
    let token = "123456:BENCH-token";
    let settings =
        Settings::from_lookup(|name| (name == "TELEGRAM_BOT_TOKEN").then(|| token.to_owned()));
    let Ok(settings) = settings else {
        panic!("bench settings");
    };
    let Ok(connection) = db::connect("sqlite::memory:", 1).await else {
        panic!("in-memory SQLite");
    };
    if db::migrate(&connection).await.is_err() {
        panic!("migrations");
    }
    let errors = ErrorLog::default();
    let db = DbActor::new(
        connection.clone(),
        Reachability::new(connection),
        errors.clone(),
    )
    .start();
    let users = UserStore::new(db.clone());
    let outbox = Outbox::new(
        teloxide::Bot::new(token),
        settings.send_limits,
        db.clone().recipient(),
        errors.clone(),
    );
    let cache = FactCache::new(None, Duration::from_secs(60)).start();
    let steps = StorySteps {
        finder: PlaceFinder::new(Arc::new(NoPlaces), cache.clone()),
        told: ToldPlaces::new(db.clone(), 30, errors.clone()),
        writer: StoryWriter::new(cache.clone(), None, errors.clone()),
        teller: Teller::new(outbox.clone(), db.clone()),
        errors: errors.clone(),
    };
    let stories = Arc::new(Storyteller::new(steps.clone()));
    let guide = TourGuide::new(steps, users.clone(), db.clone()).start();
    let store = Arc::new(InMemorySessionStore::default());
    let tours =
        LiveLocationSessions::new(settings.live, store, Guide::of(&guide), Clock::new()).start();
    let router = Context {
        outbox,
        users,
        settings: Arc::new(settings),
        bot_username: "bench_bot".to_owned(),
        stories,
        tours,
        db,
        cache,
        gate: None,
        errors,
        started_at: Instant::now(),
        payment_key: excursobot::payments::PaymentKey::from_bot_token(token.as_bytes()),
    };
    Dispatcher::new(Arc::new(router), 1000, SeenUpdates::new(None))
}

fn admission(c: &mut Criterion) {
    let system = actix::System::new();
    let dispatcher = system.block_on(dispatcher());
    let sender = updates::Sender {
        user_id: 42,
        language: "en",
    };
    let mut next_id: u32 = 0;
    c.bench_function("webhook_body_to_route/ignored", |b| {
        b.iter_custom(|iters| {
            let bodies: Vec<Vec<u8>> = (0..iters)
                .map(|_| {
                    next_id = next_id.wrapping_add(1);
                    updates::ignored(next_id, sender, 1, 1_700_000_000)
                        .to_string()
                        .into_bytes()
                })
                .collect();
            system.block_on(async {
                let started = Instant::now();
                for body in &bodies {
                    let admitted = dispatcher.offer_raw(body).await;
                    assert_eq!(admitted, Admission::Accepted);
                    // Lets the spawned route task run, as the worker's runtime would.
                    tokio::task::yield_now().await;
                }
                started.elapsed()
            })
        })
    });
}

fn cache_keys(c: &mut Criterion) {
    let place = PlaceId("en:1006017".to_owned());
    let point = Coordinates {
        lat: 55.748_17,
        lon: 37.620_78,
    };
    c.bench_function("cache_key/fact", |b| {
        b.iter(|| fact_key(black_box("en"), black_box(&place)))
    });
    c.bench_function("cache_key/places", |b| {
        b.iter(|| places_key(black_box("en"), black_box(point), black_box(1000)))
    });
}

fn place_choice(c: &mut Criterion) {
    let point = city::landmark_point(6, 17);
    let places: Vec<Place> = city::landmarks_near(point, 1000.0, 20, "en")
        .into_iter()
        .map(|(landmark, distance_m)| Place {
            id: PlaceId(format!("en:{}", landmark.page_id)),
            title: landmark.title,
            coordinates: landmark.at,
            distance_m,
            summary: landmark.extract,
            image_url: landmark.image,
            source_url: "https://wikipedia.example/wiki/x".to_owned(),
            lang: "en".to_owned(),
        })
        .collect();
    // The user already heard the three nearest.
    let told: HashSet<PlaceId> = places[..3].iter().map(|place| place.id.clone()).collect();
    c.bench_function("choose_place/20_places", |b| {
        b.iter(|| {
            choose_place(black_box(&places), black_box(point), |id| {
                !told.contains(id)
            })
        })
    });
}

criterion_group! {
    name = hot_paths;
    config = short();
    targets = parse, admission, cache_keys, place_choice
}
criterion_main!(hot_paths);
