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

pub mod names;

use names::{DESCRIPTIONS, Kind};

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
        for (name, kind, help) in DESCRIPTIONS {
            let unit = Some(unit_of(name));
            let (name, help) = ((*name).into(), (*help).into());
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

/// The unit a name ends in (`_seconds`, `_bytes`), else a count.
fn unit_of(name: &str) -> Unit {
    let base = name.strip_suffix("_total").unwrap_or(name);
    if base.ends_with("_seconds") {
        Unit::Seconds
    } else if base.ends_with("_bytes") {
        Unit::Bytes
    } else {
        Unit::Count
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
    use super::{names::*, *};

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
