//! The line that shows a run's progress while it goes (elapsed, users arrived, answers sent,
//! LLM calls in flight), rewritten in place once a second. Only when stderr is a terminal: a
//! report piped to a file stays clean. Its figures come from the bot's own `/metrics`.

use std::{
    io::{IsTerminal, Write},
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::exposition::Exposition;

/// How often the line is rewritten.
const EVERY: Duration = Duration::from_secs(1);
/// Erases the terminal line and returns to its start.
const CLEAR: &str = "\r\x1b[2K";

/// What the line measures against.
pub struct Plan {
    /// The bot's `/metrics` listener.
    pub metrics: SocketAddr,
    /// When each simulated user arrives (empty for a flood).
    pub arrivals: Vec<Duration>,
    /// The run's length.
    pub duration: Duration,
}

/// The running line; [`Progress::finish`] erases it.
pub struct Progress {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts the line, or nothing when stderr is not a terminal.
    pub fn start(plan: Plan) -> Option<Self> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(plan, stop.clone()));
        Some(Self { stop, task })
    }

    /// Stops and erases the line.
    pub async fn finish(self) {
        self.stop.cancel();
        let _ = self.task.await;
        eprint!("{CLEAR}");
    }
}

async fn run(plan: Plan, stop: CancellationToken) {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut every = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let Some(metrics) = Exposition::scrape(&http, plan.metrics).await else {
            continue;
        };
        eprint!("{CLEAR}{}", line(&plan, &metrics, started.elapsed()));
        let _ = std::io::stderr().flush();
    }
}

/// "elapsed 12 s of 60 · users 150 of 200 · answers 340 · LLM in flight 3 of 3".
fn line(plan: &Plan, metrics: &Exposition, elapsed: Duration) -> String {
    let users = if plan.arrivals.is_empty() {
        let accepted = metrics.sum("excursobot_updates_total", &[("outcome", "accepted")]);
        format!("updates accepted {accepted}")
    } else {
        let arrived = plan.arrivals.iter().filter(|at| **at <= elapsed).count();
        format!("users {arrived} of {}", plan.arrivals.len())
    };
    let answers = metrics.sum("excursobot_replies_total", &[("outcome", "sent")]);
    let in_flight = metrics.sum("excursobot_llm_permits_in_use", &[]);
    let permits = metrics.sum("excursobot_llm_permits", &[]);
    format!(
        "elapsed {} s of {} · {users} · answers {answers} · LLM in flight {in_flight} of {permits}",
        elapsed.as_secs(),
        plan.duration.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_arrived_users_answers_and_calls_in_flight() {
        let plan = Plan {
            metrics: SocketAddr::from(([127, 0, 0, 1], 9)),
            arrivals: vec![Duration::from_secs(1), Duration::from_secs(5)],
            duration: Duration::from_secs(60),
        };
        let metrics = Exposition::parse(
            "excursobot_replies_total{class=\"reply\",outcome=\"sent\"} 4\n\
             excursobot_replies_total{class=\"story\",outcome=\"sent\"} 3\n\
             excursobot_replies_total{class=\"story\",outcome=\"expired\"} 1\n\
             excursobot_llm_permits_in_use 2\nexcursobot_llm_permits 3\n",
        );
        let text = line(&plan, &metrics, Duration::from_secs(3));
        assert_eq!(
            text,
            "elapsed 3 s of 60 · users 1 of 2 · answers 7 · LLM in flight 2 of 3"
        );
    }
}
