//! The default scenario: users arrive spread over the first 40 % of the run; each sends
//! `/start`, then a location; the walkers on a tour share a live location and walk block by
//! block towards the nearest hot spot, where crowds meet; two users in five start at a hot
//! spot. One Russian speaker in five. Every loop is bounded by the user count, the edit count
//! and the run's deadline.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use super::{
    city::{self, BLOCK_M, BLOCKS, Dice, HOT_SPOTS},
    openai::LlmLedger,
    telegram::SimTelegram,
    webhook_client::WebhookClient,
};
use crate::geo::Coordinates;

/// First update id the simulated Telegram hands out.
const FIRST_UPDATE_ID: u32 = 500_000_000;
/// Share of the run over which users arrive.
const ARRIVAL_SHARE: f64 = 0.4;

/// The shape of a scenario.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Simulated users.
    pub users: u32,
    /// Share of them that walk with a live location, 0..=1.
    pub tour_share: f64,
    /// Moves of the live location per walker (a stop edit follows).
    pub edits: u32,
    /// Length of the run: nothing is sent after it.
    pub duration: Duration,
    /// Seed of the city walk.
    pub seed: u64,
}

/// Pauses derived from the run's length, so a short run is a faster version of a long one.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Between the `/start` reply and sending the location.
    pub think: Duration,
    /// Between two live-location edits.
    pub edit_every: Duration,
}

impl Timing {
    fn for_run(duration: Duration) -> Self {
        let clamp = |d: Duration, low: u64, high: u64| {
            d.clamp(Duration::from_millis(low), Duration::from_millis(high))
        };
        Self {
            think: clamp(duration / 120, 20, 500),
            edit_every: clamp(duration / 30, 50, 2000),
        }
    }
}

/// One simulated user.
#[derive(Debug, Clone)]
pub struct Walker {
    /// Telegram user id, also the private chat's id.
    pub user_id: i64,
    /// Telegram `language_code`.
    pub language: String,
    /// When the user starts, after the run began.
    pub arrival: Duration,
    /// Where the location is sent from.
    pub start: Coordinates,
    /// Whether it is a live location followed by a walk.
    pub tour: bool,
    /// Each edit's position and heading; the last one is the stop.
    pub route: Vec<(Coordinates, u32)>,
}

/// What the users share while they play.
pub struct Stage {
    /// The way updates reach the bot.
    pub client: WebhookClient,
    /// Where the bot's replies arrive.
    pub telegram: Arc<SimTelegram>,
    /// The simulated LLM's calls.
    pub ledger: Arc<LlmLedger>,
    /// The bot's LLM permits.
    pub permits: usize,
    /// When the run began.
    pub started: Instant,
    /// Nothing is sent after this.
    pub deadline: Instant,
    /// Pauses.
    pub timing: Timing,
    next_update_id: AtomicU32,
}

impl Stage {
    /// A stage starting now and lasting `duration`.
    pub fn new(
        client: WebhookClient,
        telegram: Arc<SimTelegram>,
        ledger: Arc<LlmLedger>,
        permits: usize,
        duration: Duration,
    ) -> Self {
        let started = Instant::now();
        Self {
            client,
            telegram,
            ledger,
            permits,
            started,
            deadline: started + duration,
            timing: Timing::for_run(duration),
            next_update_id: AtomicU32::new(FIRST_UPDATE_ID),
        }
    }

    /// A fresh update id.
    pub fn next_update_id(&self) -> u32 {
        self.next_update_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether every LLM permit is busy right now.
    pub fn llm_saturated(&self) -> bool {
        self.ledger.in_flight() >= self.permits
    }
}

/// The users of `plan`, seeded.
pub fn walkers(plan: &Plan) -> Vec<Walker> {
    let mut dice = Dice::new(plan.seed);
    let window = plan.duration.mul_f64(ARRIVAL_SHARE);
    let share = plan.tour_share.clamp(0.0, 1.0);
    (0..plan.users)
        .map(|i| {
            let at_hot_spot = i % 5 < 2;
            let start = if at_hot_spot {
                let (row, col) = HOT_SPOTS[dice.below(HOT_SPOTS.len() as u32) as usize];
                let spot = city::landmark_point(row, col);
                nudge(spot, dice.between(-8.0, 8.0), dice.between(-8.0, 8.0))
            } else {
                let side = f64::from(BLOCKS - 1) * BLOCK_M;
                city::point(dice.between(0.0, side), dice.between(0.0, side))
            };
            // Spread evenly: user i walks when the running share crosses a whole number.
            let tour = (f64::from(i + 1) * share).ceil() > (f64::from(i) * share).ceil();
            let route = if tour {
                route(start, plan.edits)
            } else {
                Vec::new()
            };
            Walker {
                user_id: 10_000 + i64::from(i),
                language: if i % 5 == 4 { "ru" } else { "en" }.to_owned(),
                arrival: window.mul_f64(f64::from(i) / f64::from(plan.users.max(1))),
                start,
                tour,
                route,
            }
        })
        .collect()
}

/// `edits` moves of one block towards the nearest hot spot (the next one for a walker who
/// starts at one; once there, on eastwards), then the stop where the last move ended.
fn route(start: Coordinates, edits: u32) -> Vec<(Coordinates, u32)> {
    let target = HOT_SPOTS
        .iter()
        .map(|(row, col)| city::landmark_point(*row, *col))
        .filter(|spot| start.distance_m(spot) > BLOCK_M)
        .min_by(|a, b| start.distance_m(a).total_cmp(&start.distance_m(b)))
        .unwrap_or(start);
    let mut at = start;
    let mut legs = Vec::new();
    for _ in 0..edits {
        let north = (target.lat - at.lat) * 111_195.0;
        let east = (target.lon - at.lon) * 111_195.0 * at.lat.to_radians().cos();
        let (dn, de, heading) = if north.abs() < BLOCK_M / 2.0 && east.abs() < BLOCK_M / 2.0 {
            (0.0, BLOCK_M, 90)
        } else if north.abs() > east.abs() {
            (
                BLOCK_M.copysign(north),
                0.0,
                if north > 0.0 { 360 } else { 180 },
            )
        } else {
            (
                0.0,
                BLOCK_M.copysign(east),
                if east > 0.0 { 90 } else { 270 },
            )
        };
        at = nudge(at, dn, de);
        legs.push((at, heading));
    }
    let heading = legs.last().map_or(90, |(_, heading)| *heading);
    legs.push((at, heading));
    legs
}

fn nudge(from: Coordinates, north_m: f64, east_m: f64) -> Coordinates {
    Coordinates {
        lat: from.lat + north_m / 111_195.0,
        lon: from.lon + east_m / (111_195.0 * from.lat.to_radians().cos()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(users: u32, share: f64) -> Plan {
        Plan {
            users,
            tour_share: share,
            edits: 3,
            duration: Duration::from_secs(60),
            seed: 1,
        }
    }

    #[test]
    fn half_the_users_walk_and_each_walk_has_its_edits_and_a_stop() {
        let walkers = walkers(&plan(200, 0.5));
        let touring: Vec<&Walker> = walkers.iter().filter(|w| w.tour).collect();
        assert_eq!(touring.len(), 100);
        assert!(walkers[0].tour, "the first user (the transcript's) walks");
        assert!(touring.iter().all(|w| w.route.len() == 4));
        assert!(walkers.iter().all(|w| w.arrival < Duration::from_secs(24)));
    }

    #[test]
    fn a_walk_moves_one_block_per_edit() {
        let walker = &walkers(&plan(1, 1.0))[0];
        let mut from = walker.start;
        for (at, _) in &walker.route[..3] {
            assert!((from.distance_m(at) - BLOCK_M).abs() < 1.0);
            from = *at;
        }
        assert_eq!(walker.route[3].0, walker.route[2].0);
    }
}
