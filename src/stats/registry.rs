//! The bot's Prometheus registry: one per application (so tests running several bots in one
//! process each read their own), rendered by `GET /metrics`.
//!
//! Code that counts holds [`metrics`] handles registered here once ([`Metrics::counter`] and
//! its siblings): incrementing one is an atomic add, with no lookup and no allocation, so
//! the hot paths stay cheap. Figures an actor already keeps (queue depths, cache hits, tours
//! running) are not counted twice: `/metrics` and `/stats` read the same snapshots, and the
//! scrape copies them into the gauges and counters named here. Histograms (latencies) are
//! kept as Prometheus buckets ([`LATENCY_BUCKETS`]).
//!
//! The first application in a process also becomes the global recorder, so what other
//! modules record through the `metrics` macros (`metrics::counter!(...)`) shows too.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Bucket bounds of every `_seconds` histogram: from a fast cached answer (5 ms) to an LLM
/// call at its timeout (30 s) and past it.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0, 120.0,
];

/// Every metric the bot exposes: name, help text and unit. The names follow Prometheus'
/// conventions: the `excursobot_` prefix, base units, `_total` on counters; labels are a
/// handful of fixed words (never a user, a chat or a place).
pub mod names {
    /// Updates offered to the bot, by `kind` and admission `outcome`.
    pub const UPDATES: &str = "excursobot_updates_total";
    /// Updates being handled right now (holding a backlog permit).
    pub const UPDATES_IN_FLIGHT: &str = "excursobot_updates_in_flight";
    /// `UPDATE_BACKLOG_MAX`.
    pub const UPDATES_BACKLOG_MAX: &str = "excursobot_updates_backlog_max";
    /// Users whose updates are being handled right now.
    pub const LANES_ACTIVE: &str = "excursobot_lanes_active";
    /// Messages the outbox was asked to send, by send `class` and `outcome`.
    pub const REPLIES: &str = "excursobot_replies_total";
    /// Messages waiting for the send budget, by `class`.
    pub const OUTBOX_QUEUED: &str = "excursobot_outbox_queued";
    /// Bot API calls, by `method` and `status`.
    pub const TELEGRAM_CALLS: &str = "excursobot_telegram_calls_total";
    /// `429 Too Many Requests` answers from Telegram.
    pub const TELEGRAM_429: &str = "excursobot_telegram_rate_limited_total";
    /// Seconds of pause Telegram's 429s asked for (all sending pauses meanwhile).
    pub const TELEGRAM_PAUSED: &str = "excursobot_telegram_paused_seconds_total";
    /// LLM calls finished, by `priority` and `outcome`.
    pub const LLM_CALLS: &str = "excursobot_llm_calls_total";
    /// How long LLM calls took (retries included), by `priority` and `outcome`.
    pub const LLM_CALL_DURATION: &str = "excursobot_llm_call_duration_seconds";
    /// LLM jobs waiting for a permit, by `priority`.
    pub const LLM_QUEUED: &str = "excursobot_llm_queued";
    /// The most LLM jobs that may wait in all.
    pub const LLM_QUEUE_CAPACITY: &str = "excursobot_llm_queue_capacity";
    /// LLM permits (calls in flight) in use.
    pub const LLM_PERMITS_IN_USE: &str = "excursobot_llm_permits_in_use";
    /// LLM permits in all (`LLM_PERMITS`).
    pub const LLM_PERMITS: &str = "excursobot_llm_permits";
    /// Requests that joined an LLM call already queued or running for the same story.
    pub const LLM_JOINS: &str = "excursobot_llm_single_flight_joins_total";
    /// LLM requests shed (queue full, displaced by a more urgent one).
    pub const LLM_SHED: &str = "excursobot_llm_shed_total";
    /// 1 while the LLM circuit breaker is open or half-open, else 0.
    pub const LLM_BREAKER_OPEN: &str = "excursobot_llm_breaker_open";
    /// Fact-cache lookups answered, by `level` (`l1` in process, `l2` Redis).
    pub const CACHE_HITS: &str = "excursobot_cache_hits_total";
    /// Fact-cache lookups found at no level.
    pub const CACHE_MISSES: &str = "excursobot_cache_misses_total";
    /// Redis operations that failed or timed out.
    pub const CACHE_REDIS_ERRORS: &str = "excursobot_cache_redis_errors_total";
    /// Place lookups, by `source` (`cache`, `wikipedia`, `gazetteer`) and `outcome`.
    pub const PLACE_LOOKUPS: &str = "excursobot_place_lookups_total";
    /// How long place lookups took, by `source`.
    pub const PLACE_LOOKUP_DURATION: &str = "excursobot_place_lookup_duration_seconds";
    /// From a location received to its first answer sent, by `kind` (`story`, `summary`,
    /// `busy`, `note`).
    pub const FIRST_ANSWER: &str = "excursobot_first_answer_seconds";
    /// Live tours running.
    pub const TOURS_ACTIVE: &str = "excursobot_tours_active";
    /// `LIVE_SESSIONS_MAX`.
    pub const TOURS_CAP: &str = "excursobot_tours_cap";
    /// Tour starts refused because `LIVE_SESSIONS_MAX` tours were running.
    pub const TOURS_REFUSED: &str = "excursobot_tour_starts_refused_total";
    /// Rows waiting in the database's write-behind buffer.
    pub const DB_BUFFERED: &str = "excursobot_db_buffered_rows";
    /// How long writing the buffer took.
    pub const DB_FLUSH_DURATION: &str = "excursobot_db_flush_duration_seconds";
    /// Buffer writes that failed (the rows are kept and tried again).
    pub const DB_FLUSH_FAILURES: &str = "excursobot_db_flush_failures_total";
    /// Resident memory.
    pub const PROCESS_RSS: &str = "excursobot_process_resident_memory_bytes";
    /// CPU time, user and system.
    pub const PROCESS_CPU: &str = "excursobot_process_cpu_seconds_total";
    /// File descriptors open.
    pub const PROCESS_FDS: &str = "excursobot_process_open_fds";
    /// The most file descriptors the process may open.
    pub const PROCESS_MAX_FDS: &str = "excursobot_process_max_fds";
}

use names::*;

/// Help texts, read by Prometheus and Grafana (`# HELP`).
const DESCRIPTIONS: &[(&str, Kind, Unit, &str)] = &[
    (
        UPDATES,
        Kind::Counter,
        Unit::Count,
        "Updates offered, by kind and admission outcome",
    ),
    (
        UPDATES_IN_FLIGHT,
        Kind::Gauge,
        Unit::Count,
        "Updates being handled",
    ),
    (
        UPDATES_BACKLOG_MAX,
        Kind::Gauge,
        Unit::Count,
        "Updates that may be handled at once",
    ),
    (
        LANES_ACTIVE,
        Kind::Gauge,
        Unit::Count,
        "Users whose updates are being handled",
    ),
    (
        REPLIES,
        Kind::Counter,
        Unit::Count,
        "Messages to send, by class and outcome",
    ),
    (
        OUTBOX_QUEUED,
        Kind::Gauge,
        Unit::Count,
        "Messages waiting for the send budget",
    ),
    (
        TELEGRAM_CALLS,
        Kind::Counter,
        Unit::Count,
        "Bot API calls, by method and status",
    ),
    (
        TELEGRAM_429,
        Kind::Counter,
        Unit::Count,
        "429 answers from Telegram",
    ),
    (
        TELEGRAM_PAUSED,
        Kind::Counter,
        Unit::Seconds,
        "Pause asked for by Telegram's 429s",
    ),
    (
        LLM_CALLS,
        Kind::Counter,
        Unit::Count,
        "LLM calls, by priority and outcome",
    ),
    (
        LLM_CALL_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "LLM call duration",
    ),
    (
        LLM_QUEUED,
        Kind::Gauge,
        Unit::Count,
        "LLM jobs waiting, by priority",
    ),
    (
        LLM_QUEUE_CAPACITY,
        Kind::Gauge,
        Unit::Count,
        "LLM jobs that may wait in all",
    ),
    (
        LLM_PERMITS_IN_USE,
        Kind::Gauge,
        Unit::Count,
        "LLM calls in flight",
    ),
    (
        LLM_PERMITS,
        Kind::Gauge,
        Unit::Count,
        "LLM calls that may be in flight",
    ),
    (
        LLM_JOINS,
        Kind::Counter,
        Unit::Count,
        "Requests joining an LLM call for the same story",
    ),
    (LLM_SHED, Kind::Counter, Unit::Count, "LLM requests shed"),
    (
        LLM_BREAKER_OPEN,
        Kind::Gauge,
        Unit::Count,
        "1 while the LLM circuit breaker is open",
    ),
    (
        CACHE_HITS,
        Kind::Counter,
        Unit::Count,
        "Fact-cache hits, by level",
    ),
    (
        CACHE_MISSES,
        Kind::Counter,
        Unit::Count,
        "Fact-cache misses at every level",
    ),
    (
        CACHE_REDIS_ERRORS,
        Kind::Counter,
        Unit::Count,
        "Redis operations failed",
    ),
    (
        PLACE_LOOKUPS,
        Kind::Counter,
        Unit::Count,
        "Place lookups, by source and outcome",
    ),
    (
        PLACE_LOOKUP_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "Place lookup duration",
    ),
    (
        FIRST_ANSWER,
        Kind::Histogram,
        Unit::Seconds,
        "Location to first answer, by kind",
    ),
    (TOURS_ACTIVE, Kind::Gauge, Unit::Count, "Live tours running"),
    (
        TOURS_CAP,
        Kind::Gauge,
        Unit::Count,
        "Live tours that may run at once",
    ),
    (
        TOURS_REFUSED,
        Kind::Counter,
        Unit::Count,
        "Tour starts refused by the cap",
    ),
    (
        DB_BUFFERED,
        Kind::Gauge,
        Unit::Count,
        "Rows in the write-behind buffer",
    ),
    (
        DB_FLUSH_DURATION,
        Kind::Histogram,
        Unit::Seconds,
        "Write-behind flush duration",
    ),
    (
        DB_FLUSH_FAILURES,
        Kind::Counter,
        Unit::Count,
        "Write-behind flushes failed",
    ),
    (PROCESS_RSS, Kind::Gauge, Unit::Bytes, "Resident memory"),
    (
        PROCESS_CPU,
        Kind::Counter,
        Unit::Seconds,
        "CPU time, user and system",
    ),
    (
        PROCESS_FDS,
        Kind::Gauge,
        Unit::Count,
        "Open file descriptors",
    ),
    (
        PROCESS_MAX_FDS,
        Kind::Gauge,
        Unit::Count,
        "File descriptor limit",
    ),
];

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The registry and its renderer. Cheap to clone: clones share the figures.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// An empty registry with every metric described.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS);
        // Only fails for an empty bucket list.
        let builder = builder.unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        for (name, kind, unit, help) in DESCRIPTIONS {
            let (name, unit, help) = ((*name).into(), Some(*unit), (*help).into());
            match kind {
                Kind::Counter => recorder.describe_counter(name, unit, help),
                Kind::Gauge => recorder.describe_gauge(name, unit, help),
                Kind::Histogram => recorder.describe_histogram(name, unit, help),
            }
        }
        Self {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    /// Makes this registry the process's global recorder, unless one is set already (tests
    /// start several applications in one process; the first one keeps it).
    pub fn install_global(&self) {
        if metrics::set_global_recorder(Arc::clone(&self.recorder)).is_err() {
            tracing::debug!("a global metrics recorder is set already");
        }
    }

    /// The counter `name` with `labels`, registered once and then cheap to increment.
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Counter {
        self.recorder
            .register_counter(&key(name, labels), &metadata())
    }

    /// The gauge `name` with `labels`.
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &'static str)]) -> Gauge {
        self.recorder
            .register_gauge(&key(name, labels), &metadata())
    }

    /// The histogram `name` with `labels`.
    pub fn histogram(
        &self,
        name: &'static str,
        labels: &[(&'static str, &'static str)],
    ) -> Histogram {
        self.recorder
            .register_histogram(&key(name, labels), &metadata())
    }

    /// Everything in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Folds the latency samples recorded since the last time into their buckets. Rendering
    /// does it too; this keeps their memory bounded when nobody scrapes.
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

fn key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(key, value)| Label::from_static_parts(key, value))
        .collect();
    Key::from_parts(name, labels)
}

fn metadata() -> metrics::Metadata<'static> {
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, None)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn handles_registered_twice_count_together() {
        let metrics = Metrics::new();
        let labels = [("kind", "message"), ("outcome", "accepted")];
        metrics.counter(UPDATES, &labels).increment(2);
        metrics.counter(UPDATES, &labels).increment(1);
        let text = metrics.render();
        let line = r#"excursobot_updates_total{kind="message",outcome="accepted"} 3"#;
        assert!(text.contains(line), "{text}");
        assert!(text.contains("# HELP excursobot_updates_total"), "{text}");
    }

    #[test]
    fn latencies_are_histograms_in_seconds() {
        let metrics = Metrics::new();
        metrics
            .histogram(FIRST_ANSWER, &[("kind", "story")])
            .record(0.3);
        let text = metrics.render();
        let bucket = r#"excursobot_first_answer_seconds_bucket{kind="story",le="0.5"} 1"#;
        assert!(text.contains(bucket), "{text}");
        assert!(text.contains("# TYPE excursobot_first_answer_seconds histogram"));
    }

    #[test]
    fn two_registries_keep_their_own_figures() {
        let (one, other) = (Metrics::new(), Metrics::new());
        one.counter(TOURS_REFUSED, &[]).increment(1);
        assert!(
            one.render()
                .contains("excursobot_tour_starts_refused_total 1")
        );
        assert!(
            !other
                .render()
                .contains("excursobot_tour_starts_refused_total 1")
        );
    }
}
