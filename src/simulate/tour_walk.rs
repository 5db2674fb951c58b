//! The walk scenario (`--scenario walk`): `--walkers` (default 50, the tour cap) share a live
//! location within the first seconds and walk the simulated city's streets for the whole run,
//! one block (150 m) every [`EDIT_EVERY`] of tour time, turning at one corner in
//! [`TURN_ONE_IN`], at the tours' default interval (10 minutes), then stop sharing.
//!
//! Time: the bot runs with `TOUR_TIME_SCALE` (`--time-scale`, default 60: a tour minute lasts
//! a second), so its intervals, a tick's patience, expiry and inactivity shrink by the scale,
//! and so does the walk (edits come every `EDIT_EVERY / scale`). The simulated LLM's pace
//! shrinks with it (see `SimulateArgs::llm_pace`): a story written in 4.5 s takes 75 ms, the
//! same share of an interval as in a real tour. What is *not* compressed: the bot's own work
//! (HTTP, places, the database, the cache), Telegram's send limits (30 a second, about one a
//! second per chat: sixty times stricter for tours than in real time) and the LLM's permit
//! count. So a tick-to-story latency in wall time is exact for a story told from the cache
//! and too short by the compression for one the LLM wrote at the tick; read in tour time (wall
//! time × scale) it is too long for everything but the LLM's part: the report gives both.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use futures::future::join_all;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{
    city::{self, BLOCK_M, BLOCKS, Dice},
    report::{AnswerKind, Answers, WalkFigures},
    scenario::Stage,
    telegram::Delivery,
    updates::{self, LiveEdit, Sender, unix_now},
    walk::{answer_kind, told_title},
};
use crate::{geo::Coordinates, i18n::Lang};

/// Walkers when `--walkers` is not given: the tours' cap (`LIVE_SESSIONS_MAX`).
pub const DEFAULT_WALKERS: u32 = 50;
/// Tour time per wall time when `--time-scale` is not given: a tour minute lasts a second.
pub const DEFAULT_TIME_SCALE: u32 = 60;
/// Tour time between two live-location edits of a walker: one block (150 m) in two
/// minutes, a stroll of 75 m a minute.
pub const EDIT_EVERY: Duration = Duration::from_secs(120);
/// A walker turns left or right at one corner in this many.
pub const TURN_ONE_IN: u32 = 4;
/// The walkers start within this share of the run.
const ARRIVAL_SHARE: f64 = 0.05;
/// How long a walker keeps reading the chat after they stopped sharing (wall time).
const SUMMARY_PATIENCE: Duration = Duration::from_secs(2);
/// `live_period` meaning "until I stop sharing".
const UNTIL_STOPPED: u32 = 0x7FFF_FFFF;

/// The walk's shape.
#[derive(Debug, Clone, Copy)]
pub struct WalkPlan {
    /// Walkers.
    pub walkers: u32,
    /// Tour time per wall time (`TOUR_TIME_SCALE` of the bot).
    pub scale: u32,
    /// How long they walk (wall time); they stop sharing at its end.
    pub duration: Duration,
    /// Seed of the streets they take.
    pub seed: u64,
}

impl WalkPlan {
    /// Wall time between two edits.
    pub fn edit_every(&self) -> Duration {
        EDIT_EVERY / self.scale.max(1)
    }

    /// How long the stage must stay open: the walk, then the summaries.
    pub fn stage_time(&self) -> Duration {
        self.duration + SUMMARY_PATIENCE + Duration::from_secs(1)
    }
}

/// One walker: who, when, from where, which streets.
#[derive(Debug, Clone)]
struct TourWalker {
    user_id: i64,
    arrival: Duration,
    start: Coordinates,
    route: Vec<(Coordinates, u32)>,
}

/// Runs every walker to the end of the walk; returns what they saw.
pub async fn run(stage: &Stage, plan: &WalkPlan) -> WalkFigures {
    let walkers = walkers(plan);
    let logs = join_all(walkers.iter().map(|walker| walk(stage, plan, walker))).await;
    let mut figures = WalkFigures {
        walkers: plan.walkers,
        scale: plan.scale,
        elapsed: stage.started.elapsed(),
        ..WalkFigures::default()
    };
    for log in logs {
        figures.started += u32::from(log.started);
        figures.edits += log.edits;
        figures.refused += log.refused;
        figures.stories.merge(&log.stories);
        figures.told.extend(log.told);
    }
    figures
}

/// The walkers of `plan`, seeded: each starts at a landmark and walks the streets.
fn walkers(plan: &WalkPlan) -> Vec<TourWalker> {
    let mut dice = Dice::new(plan.seed);
    let window = plan.duration.mul_f64(ARRIVAL_SHARE);
    let legs = u32::try_from(plan.duration.as_nanos() / plan.edit_every().as_nanos().max(1))
        .unwrap_or(u32::MAX);
    (0..plan.walkers)
        .map(|i| {
            let corner = (dice.below(BLOCKS), dice.below(BLOCKS));
            let route = streets(corner, legs, &mut dice);
            TourWalker {
                user_id: 20_000 + i64::from(i),
                arrival: window.mul_f64(f64::from(i) / f64::from(plan.walkers.max(1))),
                start: corner_point(corner),
                route,
            }
        })
        .collect()
}

/// `legs` blocks along the grid's streets from `corner`: straight on, turning at one corner in
/// [`TURN_ONE_IN`], turning back at the grid's edge; each leg's end and Telegram heading.
fn streets(mut corner: (u32, u32), legs: u32, dice: &mut Dice) -> Vec<(Coordinates, u32)> {
    // Headings clockwise from north: (row step, column step, Telegram heading).
    const WAYS: [(i64, i64, u32); 4] = [(1, 0, 360), (0, 1, 90), (-1, 0, 180), (0, -1, 270)];
    let mut way = dice.below(4) as usize;
    let mut route = Vec::new();
    for _ in 0..legs {
        if dice.below(TURN_ONE_IN) == 0 {
            way = (way + if dice.below(2) == 0 { 1 } else { 3 }) % 4;
        }
        let inside = |way: usize| {
            let (dr, dc, _) = WAYS[way];
            let (row, col) = (i64::from(corner.0) + dr, i64::from(corner.1) + dc);
            (0..i64::from(BLOCKS)).contains(&row) && (0..i64::from(BLOCKS)).contains(&col)
        };
        if !inside(way) {
            way = (way + 2) % 4;
        }
        let (dr, dc, heading) = WAYS[way];
        let step = |at: u32, by: i64| u32::try_from(i64::from(at) + by).unwrap_or(at);
        corner = (step(corner.0, dr), step(corner.1, dc));
        route.push((corner_point(corner), heading));
    }
    route
}

/// The street corner of block `(row, col)`.
fn corner_point((row, col): (u32, u32)) -> Coordinates {
    city::point(f64::from(row) * BLOCK_M, f64::from(col) * BLOCK_M)
}

/// What one walker saw.
#[derive(Debug, Default)]
struct WalkerLog {
    started: bool,
    edits: u64,
    refused: u64,
    stories: Answers,
    told: HashSet<String>,
}

/// One walker's chat: the live location, an edit a block, the stop at the walk's end.
async fn walk(stage: &Stage, plan: &WalkPlan, walker: &TourWalker) -> WalkerLog {
    let mut chat = WalkerChat {
        stage,
        walker,
        inbox: stage.telegram.open_chat(walker.user_id),
        log: WalkerLog::default(),
        last_post: Instant::now(),
    };
    let start = stage.started + walker.arrival;
    tokio::time::sleep_until(start.into()).await;
    let walk_ends = stage.started + plan.duration;
    let date = unix_now();
    let mut body = updates::location(
        stage.next_update_id(),
        chat.sender(),
        1,
        date,
        walker.start,
        true,
    );
    body["message"]["location"]["live_period"] = UNTIL_STOPPED.into();
    chat.post(&body).await;
    let mut last = (walker.start, 90);
    for (leg, (at, heading)) in walker.route.iter().enumerate() {
        let due = start + plan.edit_every() * u32::try_from(leg + 1).unwrap_or(u32::MAX);
        if due >= walk_ends {
            break;
        }
        chat.listen_until(due).await;
        let edit = LiveEdit {
            date,
            edit_date: unix_now(),
            at: *at,
            heading: *heading,
        };
        let body = updates::live_edit(stage.next_update_id(), chat.sender(), 1, &edit);
        chat.post(&body).await;
        last = (*at, *heading);
    }
    chat.listen_until(walk_ends).await;
    let stop = LiveEdit {
        date,
        edit_date: unix_now(),
        at: last.0,
        heading: last.1,
    };
    let body = updates::live_stop(stage.next_update_id(), chat.sender(), 1, &stop);
    chat.post(&body).await;
    chat.listen_until(Instant::now() + SUMMARY_PATIENCE).await;
    chat.log
}

/// A walker's side of the chat.
struct WalkerChat<'a> {
    stage: &'a Stage,
    walker: &'a TourWalker,
    inbox: UnboundedReceiver<Delivery>,
    log: WalkerLog,
    last_post: Instant,
}

impl WalkerChat<'_> {
    fn sender(&self) -> Sender<'_> {
        Sender {
            user_id: self.walker.user_id,
            language: "en",
        }
    }

    async fn post(&mut self, body: &serde_json::Value) {
        self.last_post = Instant::now();
        let accepted = self.stage.client.post(body.to_string().as_bytes()).await;
        if !matches!(accepted, Ok(ack) if ack.status == 200) {
            self.log.refused += 1;
        }
        self.log.edits += u64::from(body.get("edited_message").is_some());
    }

    /// Reads the chat until `until`, noting every tour story.
    async fn listen_until(&mut self, until: Instant) {
        let until = until.min(self.stage.deadline);
        while let Ok(Some(delivery)) =
            tokio::time::timeout_at(until.into(), self.inbox.recv()).await
        {
            let kind = answer_kind(&delivery, Lang::En);
            let on_tour = delivery.text.starts_with("<b>#");
            let Some(title) = told_title(&delivery.text).filter(|_| on_tour) else {
                continue;
            };
            if matches!(kind, Some(AnswerKind::Story | AnswerKind::Fallback)) {
                self.log.started = true;
                let latency = delivery.at.saturating_duration_since(self.last_post);
                self.log.stories.record(kind, latency);
                self.log.told.insert(title);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walkers_keep_to_the_grid_one_block_a_leg() {
        let plan = WalkPlan {
            walkers: 5,
            scale: 60,
            duration: Duration::from_secs(60),
            seed: 3,
        };
        for walker in walkers(&plan) {
            assert_eq!(walker.route.len(), 30);
            let mut from = walker.start;
            for (at, _) in &walker.route {
                assert!(
                    (from.distance_m(at) - BLOCK_M).abs() < 1.0,
                    "{from:?} {at:?}"
                );
                from = *at;
            }
        }
    }
}
