//! Flood mode: as many updates as the bot acknowledges, over many keep-alive connections
//! (one request in flight on each, as Telegram delivers), from a few load-generator threads
//! of this process. Bounded by time and by a cap on requests per connection.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use super::{
    report::{FloodFigures, Samples},
    telegram::SimTelegram,
    updates::{self, Sender},
    webhook_client::Connection,
};

/// Most updates one connection sends, whatever the duration.
const MAX_PER_CONNECTION: u64 = 20_000_000;
/// One acknowledgement latency in this many is kept.
const SAMPLE_EVERY: u64 = 16;
/// Time for every connection to open before the clock starts.
const WARM_UP: Duration = Duration::from_millis(300);
/// Longest wait for the bot to finish sending replies after the load stops.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);
/// A placeholder update id, replaced in each body.
const ID_MARK: &str = "999999999";

/// Which updates the flood sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FloodKind {
    /// Edited text messages: acknowledged, parsed, deduplicated and dropped by the router.
    Ignored,
    /// `/start` from a few hundred users: each one is journaled and answered through the
    /// simulated Telegram.
    Start,
    /// One-off locations from a few hundred users, at the city's landmarks: each one is
    /// journaled (the webhook answers once it is committed) and told a story.
    Locations,
    /// What a fuzzer holding the secret sends ([`super::hostile`]): mutated updates, bodies
    /// just under the 1 MiB limit and over it. Answered 200 or 413; nothing is replied.
    Hostile,
}

/// How hard to flood.
#[derive(Debug, Clone, Copy)]
pub struct FloodPlan {
    /// Which updates.
    pub kind: FloodKind,
    /// Keep-alive connections.
    pub connections: usize,
    /// Load-generator threads (each runs its share of the connections).
    pub threads: usize,
    /// How long the load runs.
    pub duration: Duration,
}

/// What one connection counted.
#[derive(Debug, Default)]
struct Tally {
    accepted: u64,
    busy: u64,
    errors: u64,
    acks: Samples,
}

/// Floods the webhook at `addr`, then waits for the bot's replies to drain.
pub async fn run(
    plan: FloodPlan,
    addr: SocketAddr,
    secret: &str,
    telegram: &SimTelegram,
) -> FloodFigures {
    let threads = plan.threads.clamp(1, plan.connections.max(1));
    let hostile = Arc::new(match plan.kind {
        FloodKind::Hostile => super::hostile::bodies(),
        FloodKind::Ignored | FloodKind::Start | FloodKind::Locations => Vec::new(),
    });
    let start = Instant::now() + WARM_UP;
    let stop = start + plan.duration;
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let ids: Vec<usize> = (thread..plan.connections).step_by(threads).collect();
            let (secret, kind, hostile) = (secret.to_owned(), plan.kind, Arc::clone(&hostile));
            std::thread::spawn(move || {
                let load = Load {
                    addr,
                    secret: &secret,
                    kind,
                    stride: plan.connections,
                    hostile: &hostile,
                    window: (start, stop),
                };
                load_thread(&load, &ids)
            })
        })
        .collect();
    let tallies = tokio::task::spawn_blocking(move || {
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_default())
            .collect::<Vec<Tally>>()
    })
    .await
    .unwrap_or_default();
    let drained_in = drain(telegram).await;
    let mut figures = FloodFigures {
        kind: format!("{:?}", plan.kind).to_lowercase(),
        connections: plan.connections,
        client_threads: threads,
        elapsed: plan.duration,
        replies: telegram.sent(),
        drained_in,
        ..FloodFigures::default()
    };
    for tally in tallies {
        figures.accepted += tally.accepted;
        figures.busy += tally.busy;
        figures.errors += tally.errors;
        figures.acks.extend(&tally.acks);
    }
    figures
}

/// What every connection of a flood shares.
struct Load<'a> {
    addr: SocketAddr,
    secret: &'a str,
    kind: FloodKind,
    /// Connections in all: the step between one connection's update ids.
    stride: usize,
    /// The bodies of the hostile flood, built once.
    hostile: &'a Arc<Vec<Vec<u8>>>,
    /// When the load starts and stops.
    window: (Instant, Instant),
}

/// One load-generator thread: its connections on a runtime of its own.
fn load_thread(load: &Load, ids: &[usize]) -> Vec<Tally> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(runtime) = runtime else {
        return Vec::new();
    };
    runtime.block_on(futures::future::join_all(
        ids.iter().map(|id| connection_loop(load, *id)),
    ))
}

/// One connection: post until the window closes or the cap is reached; a connection the bot
/// closes (after a 413, say) is opened again.
async fn connection_loop(load: &Load<'_>, id: usize) -> Tally {
    let mut tally = Tally::default();
    let mut bodies = Bodies::new(load, id);
    let (start, stop) = load.window;
    let Ok(mut connection) = Connection::open(load.addr, load.secret).await else {
        tally.errors += 1;
        return tally;
    };
    tokio::time::sleep_until(start.into()).await;
    for sent in 0..MAX_PER_CONNECTION {
        if Instant::now() >= stop {
            break;
        }
        let kept_alive = match connection.post(bodies.next()).await {
            Ok((ack, keep_alive)) => {
                tally.count(ack.status, load.kind);
                if sent.is_multiple_of(SAMPLE_EVERY) {
                    tally.acks.push(ack.latency);
                }
                keep_alive
            }
            Err(_) => {
                tally.errors += 1;
                false
            }
        };
        if !kept_alive {
            match Connection::open(load.addr, load.secret).await {
                Ok(reopened) => connection = reopened,
                Err(_) => break,
            }
        }
    }
    tally
}

impl Tally {
    /// Counts one answer: 200 and 503 as they are, 413 as right in the hostile flood.
    fn count(&mut self, status: u16, kind: FloodKind) {
        match status {
            200 => self.accepted += 1,
            503 => self.busy += 1,
            413 if kind == FloodKind::Hostile => self.accepted += 1,
            _ => self.errors += 1,
        }
    }
}

/// What one connection sends next.
enum Bodies {
    /// One update again and again, each time with the next of this connection's ids.
    Numbered {
        prefix: String,
        suffix: String,
        update_id: u64,
        stride: u64,
        body: Vec<u8>,
    },
    /// The hostile bodies in turn.
    Cycle {
        bodies: Arc<Vec<Vec<u8>>>,
        next: usize,
    },
}

impl Bodies {
    fn new(load: &Load, id: usize) -> Self {
        if load.kind == FloodKind::Hostile {
            return Self::Cycle {
                bodies: Arc::clone(load.hostile),
                next: id,
            };
        }
        let (prefix, suffix) = body_template(load.kind, id);
        Self::Numbered {
            body: Vec::with_capacity(prefix.len() + suffix.len() + 12),
            prefix,
            suffix,
            update_id: 1_000_000_000 + id as u64,
            stride: load.stride as u64,
        }
    }

    fn next(&mut self) -> &[u8] {
        match self {
            Self::Numbered {
                prefix,
                suffix,
                update_id,
                stride,
                body,
            } => {
                body.clear();
                body.extend_from_slice(prefix.as_bytes());
                body.extend_from_slice(update_id.to_string().as_bytes());
                body.extend_from_slice(suffix.as_bytes());
                *update_id += *stride;
                body
            }
            Self::Cycle { bodies, next } => {
                *next = (*next + 1) % bodies.len().max(1);
                bodies.get(*next).map_or(&[], Vec::as_slice)
            }
        }
    }
}

/// The update's JSON split around its id.
fn body_template(kind: FloodKind, connection: usize) -> (String, String) {
    let sender = Sender {
        user_id: 20_000 + connection as i64,
        language: "en",
    };
    let placeholder: u32 = 999_999_999;
    let update = match kind {
        FloodKind::Start => updates::command(placeholder, sender, 1, 1_700_000_000, "/start"),
        FloodKind::Locations => {
            let (row, col) = super::city::HOT_SPOTS[connection % super::city::HOT_SPOTS.len()];
            let at = super::city::landmark_point(row, col);
            updates::location(placeholder, sender, 1, 1_700_000_000, at, false)
        }
        FloodKind::Ignored | FloodKind::Hostile => {
            updates::ignored(placeholder, sender, 1, 1_700_000_000)
        }
    };
    let text = update.to_string();
    match text.split_once(ID_MARK) {
        Some((prefix, suffix)) => (prefix.to_owned(), suffix.to_owned()),
        None => (text, String::new()),
    }
}

/// Waits until the bot stops sending (no new reply for half a second); returns how long
/// that took.
async fn drain(telegram: &SimTelegram) -> Duration {
    let started = Instant::now();
    let mut last = (telegram.sent(), Instant::now());
    while started.elapsed() < DRAIN_LIMIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let sent = telegram.sent();
        if sent != last.0 {
            last = (sent, Instant::now());
        } else if last.1.elapsed() >= Duration::from_millis(500) {
            break;
        }
    }
    last.1.saturating_duration_since(started)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_template_holds_the_id_once() {
        for kind in [FloodKind::Ignored, FloodKind::Start, FloodKind::Locations] {
            let (prefix, suffix) = body_template(kind, 3);
            let body = format!("{prefix}1234{suffix}");
            let update: teloxide::types::Update = serde_json::from_str(&body).unwrap();
            assert_eq!(update.id.0, 1234);
        }
    }
}
