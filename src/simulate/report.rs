//! What a run measured, and how it is printed: latency samples with nearest-rank percentiles,
//! the answer each location got, the LLM ledger, and the process's peak memory and CPU time.

use std::{collections::HashSet, time::Duration};

use super::{exposition::Exposition, openai::LlmFigures, telegram::CallLedger};
use crate::stats::process::ProcessFigures;

/// How soon a location must be answered (a story, the fallback, or a note).
pub const ANSWER_TARGET: Duration = Duration::from_secs(10);

/// Latency samples.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    /// Adds one sample.
    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    /// Adds every sample of `other`.
    pub fn extend(&mut self, other: &Samples) {
        self.0.extend_from_slice(&other.0);
    }

    /// How many samples.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The nearest-rank `percent` percentile.
    pub fn percentile(&self, percent: f64) -> Option<Duration> {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
        sorted.get(rank.clamp(1, sorted.len().max(1)) - 1).copied()
    }

    /// How many samples are at most `limit`.
    pub fn within(&self, limit: Duration) -> usize {
        self.0.iter().filter(|sample| **sample <= limit).count()
    }

    /// "p50 1.20 ms  p99 3.40 ms" for the given percentiles.
    pub fn summary(&self, low: f64, high: f64) -> String {
        match (self.percentile(low), self.percentile(high)) {
            (Some(a), Some(b)) => format!("p{low} {}  p{high} {}", show(a), show(b)),
            _ => "no samples".to_owned(),
        }
    }
}

/// A duration the way a reader wants it: µs, ms or s.
pub fn show(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 1e6 {
        format!("{:.2} ms", micros / 1e3)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

/// What a location got first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerKind {
    /// A story the LLM wrote (fresh or from the cache).
    Story,
    /// The place's own summary, marked "From Wikipedia".
    Fallback,
    /// "Lots of people are exploring right now."
    Busy,
    /// "I have no new place to tell you about right here."
    NothingNearby,
    /// "My sources are out of reach right now."
    SourcesDown,
}

/// Answers to locations, by kind, with their end-to-end latencies.
#[derive(Debug, Clone, Default)]
pub struct Answers {
    /// Written stories.
    pub story: Samples,
    /// Summaries.
    pub fallback: Samples,
    /// Busy, nothing-nearby and sources-down notes.
    pub note: Samples,
    /// Locations that got no answer before the user gave up.
    pub unanswered: usize,
    /// Summaries turned into the written story afterwards (the upgrade edit).
    pub upgraded: usize,
    /// From the location to the first words of its story: a draft with the text being
    /// written, or the story or summary itself when no draft came first.
    pub first_words: Samples,
    /// From the location to the first sight of the place: the draft naming it (title and
    /// whereabouts, before any words are written), or the answer.
    pub first_sight: Samples,
}

impl Answers {
    /// Records one answer.
    pub fn record(&mut self, kind: Option<AnswerKind>, latency: Duration) {
        match kind {
            Some(AnswerKind::Story) => self.story.push(latency),
            Some(AnswerKind::Fallback) => self.fallback.push(latency),
            Some(_) => self.note.push(latency),
            None => self.unanswered += 1,
        }
    }

    /// Every answer, whatever its kind.
    pub fn all(&self) -> Samples {
        let mut all = self.story.clone();
        all.extend(&self.fallback);
        all.extend(&self.note);
        all
    }

    /// Locations asked (answered or not).
    pub fn asked(&self) -> usize {
        self.story.len() + self.fallback.len() + self.note.len() + self.unanswered
    }

    /// Merges `other` into this.
    pub fn merge(&mut self, other: &Answers) {
        self.story.extend(&other.story);
        self.fallback.extend(&other.fallback);
        self.note.extend(&other.note);
        self.unanswered += other.unanswered;
        self.upgraded += other.upgraded;
        self.first_words.extend(&other.first_words);
        self.first_sight.extend(&other.first_sight);
    }
}

/// The figures of the scenario run.
#[derive(Debug, Clone, Default)]
pub struct ScenarioFigures {
    /// Webhook acknowledgement latencies of every update.
    pub acks: Samples,
    /// Updates answered 200 (and in the hostile flood bodies over the limit answered 413, as
    /// they should be).
    pub accepted: u64,
    /// Updates answered otherwise (503 when the backlog was full) or not at all.
    pub refused: u64,
    /// `/start` end-to-end: from posting the update to the reply reaching Telegram.
    pub start: Samples,
    /// The same, for the `/start`s sent while every LLM permit was busy.
    pub start_saturated: Samples,
    /// `/start`s that got no reply.
    pub start_unanswered: usize,
    /// What each user's (first) location got.
    pub locations: Answers,
    /// Answers that came while users walked with a live location.
    pub tour_answers: Answers,
    /// Live-location edits sent (moves and stops).
    pub tour_edits: u64,
    /// From the first update to the last user's end.
    pub elapsed: Duration,
    /// The places told (their titles, from the stories' headers).
    pub told: HashSet<String>,
    /// LLM calls for first stories of places nobody was told (filled in after the run).
    pub wasted_calls: u64,
}

/// What the walkers of the walk scenario saw.
#[derive(Debug, Clone, Default)]
pub struct WalkFigures {
    /// Walkers that shared a live location.
    pub walkers: u32,
    /// Tour time per wall time.
    pub scale: u32,
    /// Walkers whose tour told its first story.
    pub started: u32,
    /// Live-location edits posted (moves and stops).
    pub edits: u64,
    /// Updates the webhook did not answer 200.
    pub refused: u64,
    /// The tour stories they got (first stories included), by kind, timed from the last
    /// update the walker sent (the bot's own tick-to-story latency is in its metrics).
    pub stories: Answers,
    /// The places told (their titles, from the stories' headers).
    pub told: HashSet<String>,
    /// LLM calls for first stories of places nobody was told (filled in after the run).
    pub wasted_calls: u64,
    /// From the first walker's start to the last walker's end.
    pub elapsed: Duration,
}

/// The figures of a flood run.
#[derive(Debug, Clone, Default)]
pub struct FloodFigures {
    /// What was sent: `ignored` or `start`.
    pub kind: String,
    /// Keep-alive connections used.
    pub connections: usize,
    /// Load-generator threads.
    pub client_threads: usize,
    /// Updates answered 200 (and in the hostile flood bodies over the limit answered 413, as
    /// they should be).
    pub accepted: u64,
    /// Updates answered 503 (backlog full).
    pub busy: u64,
    /// Other answers and failed connections.
    pub errors: u64,
    /// Sampled acknowledgement latencies.
    pub acks: Samples,
    /// How long the load ran.
    pub elapsed: Duration,
    /// Replies the bot sent to the simulated Telegram (for `/start`).
    pub replies: u64,
    /// How long after the load the last reply left (the backlog draining).
    pub drained_in: Duration,
}

/// Everything a run prints.
#[derive(Debug, Clone)]
pub struct Report {
    /// One line on what ran.
    pub title: String,
    /// The scenario's figures, when it ran.
    pub scenario: Option<ScenarioFigures>,
    /// The walk scenario's figures, when it ran.
    pub walk: Option<WalkFigures>,
    /// The flood's figures, when it ran.
    pub flood: Option<FloodFigures>,
    /// The simulated LLM's ledger.
    pub llm: LlmFigures,
    /// The simulated Telegram's ledger: calls by method, 429s, what stories cost.
    pub telegram: CallLedger,
    /// LLM permits of the bot.
    pub permits: usize,
    /// Peak memory and CPU time, and of what.
    pub process: Option<ProcessFigures>,
    /// Resident memory of the same process just before the load began, in KiB.
    pub rss_before_kib: Option<u64>,
    /// The bot's own `/metrics` at the end of the run.
    pub metrics: Option<Exposition>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Samples {
        let mut samples = Samples::default();
        values
            .iter()
            .for_each(|v| samples.push(Duration::from_millis(*v)));
        samples
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(samples.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(samples.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(ms(&[7]).percentile(99.0), Some(Duration::from_millis(7)));
        assert_eq!(Samples::default().percentile(50.0), None);
        assert_eq!(samples.within(Duration::from_millis(10)), 10);
    }

    #[test]
    fn durations_read_in_the_right_unit() {
        assert_eq!(show(Duration::from_micros(250)), "250 µs");
        assert_eq!(show(Duration::from_micros(2500)), "2.50 ms");
        assert_eq!(show(Duration::from_millis(5100)), "5.10 s");
    }
}
