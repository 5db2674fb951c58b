//! The bot's own `/metrics`, as the simulator reads it: for the progress line while a run
//! goes and for the report's `metrics` lines at its end (what the bot says it did, beside
//! what the simulators saw).

use std::{fmt, net::SocketAddr, time::Duration};

/// Longest a scrape may take; the progress line skips a tick rather than wait.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// One scrape: every sample line (`name{labels} value`); comments are left out.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    samples: Vec<Sample>,
}

#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

impl Exposition {
    /// Reads `GET /metrics` at `addr`; `None` when it does not answer.
    pub async fn scrape(http: &reqwest::Client, addr: SocketAddr) -> Option<Self> {
        let request = http.get(format!("http://{addr}/metrics"));
        let answer = request.timeout(SCRAPE_TIMEOUT).send().await.ok()?;
        let text = answer.error_for_status().ok()?.text().await.ok()?;
        Some(Self::parse(&text))
    }

    /// Parses the Prometheus text format (the subset the exporter writes).
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(sample)
            .collect();
        Self { samples }
    }

    /// The sum of `name`'s samples whose labels include every one of `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|sample| sample.value).sum()
    }

    /// The smallest bucket bound of histogram `name` (its series with every one of `labels`,
    /// summed) that `percent` % of its samples are at or under: a percentile as far as the
    /// buckets tell it. `None` without samples; infinity past the last bound.
    pub fn bucket_bound(&self, name: &str, labels: &[(&str, &str)], percent: f64) -> Option<f64> {
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for sample in self.matching(&format!("{name}_bucket"), labels) {
            let Some((_, le)) = sample.labels.iter().find(|(key, _)| key == "le") else {
                continue;
            };
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            match buckets.iter_mut().find(|(seen, _)| *seen == bound) {
                Some((_, count)) => *count += sample.value,
                None => buckets.push((bound, sample.value)),
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = buckets
            .last()
            .map(|(_, count)| *count)
            .filter(|n| *n > 0.0)?;
        let wanted = total * percent / 100.0;
        buckets
            .iter()
            .find(|(_, count)| *count >= wanted)
            .map(|(bound, _)| *bound)
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.samples
            .iter()
            .filter(move |sample| sample.name == name)
            .filter(move |sample| {
                labels.iter().all(|(k, v)| {
                    sample
                        .labels
                        .iter()
                        .any(|(key, value)| key == k && value == v)
                })
            })
    }

    /// `name` summed by the values of `label`, in the order first seen, zeros left out.
    pub fn by(&self, name: &str, label: &str) -> Vec<(String, f64)> {
        let mut sums: Vec<(String, f64)> = Vec::new();
        for sample in self.samples.iter().filter(|sample| sample.name == name) {
            let Some((_, value)) = sample.labels.iter().find(|(key, _)| key == label) else {
                continue;
            };
            match sums.iter_mut().find(|(seen, _)| seen == value) {
                Some((_, sum)) => *sum += sample.value,
                None => sums.push((value.clone(), sample.value)),
            }
        }
        sums.retain(|(_, sum)| *sum > 0.0);
        sums
    }
}

/// `name{a="x",b="y"} 12.5`, or `None` for what is not a sample line.
fn sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.trim().parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, labels(rest.strip_suffix('}')?)),
        None => (series, Vec::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"` (the exporter's label values hold no quotes or commas here).
fn labels(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.to_owned(), value.trim_matches('"').to_owned()))
        })
        .collect()
}

/// The report's `metrics` lines: what the bot counted, from its last scrape.
pub struct Digest<'a>(pub &'a Exposition);

impl fmt::Display for Digest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        let list = |name: &str, label: &str| {
            let sums = m.by(name, label);
            if sums.is_empty() {
                return "none".to_owned();
            }
            let parts: Vec<String> = sums.iter().map(|(k, v)| format!("{k} {v}")).collect();
            parts.join(", ")
        };
        let total = |name: &str| m.sum(name, &[]);
        let lines = [
            format!(
                "(the bot's /metrics at the end) updates: {}",
                list("excursobot_updates_total", "outcome")
            ),
            format!("first answers: {}", first_answers(m)),
            format!(
                "LLM calls: {}; single-flight joins {}, shed {}",
                list("excursobot_llm_calls_total", "outcome"),
                total("excursobot_llm_single_flight_joins_total"),
                total("excursobot_llm_shed_total")
            ),
            format!(
                "replies: {}; Telegram 429s {}, paused {} s",
                list("excursobot_replies_total", "outcome"),
                total("excursobot_telegram_rate_limited_total"),
                total("excursobot_telegram_paused_seconds_total")
            ),
            format!(
                "cache hits: {}, misses {}; place lookups: {}",
                list("excursobot_cache_hits_total", "level"),
                total("excursobot_cache_misses_total"),
                list("excursobot_place_lookups_total", "source")
            ),
            format!(
                "tours refused {}; database flushes {} (failed {}), rows waiting {}",
                total("excursobot_tour_starts_refused_total"),
                total("excursobot_db_flush_duration_seconds_count"),
                total("excursobot_db_flush_failures_total"),
                total("excursobot_db_buffered_rows")
            ),
        ];
        lines
            .iter()
            .try_for_each(|line| writeln!(f, "metrics      {line}"))
    }
}

/// "story 180 (mean 1.20 s), summary 20 (mean 8.00 s)".
fn first_answers(m: &Exposition) -> String {
    let counts = m.by("excursobot_first_answer_seconds_count", "kind");
    if counts.is_empty() {
        return "none".to_owned();
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(kind, count)| {
            let sum = m.sum("excursobot_first_answer_seconds_sum", &[("kind", kind)]);
            format!("{kind} {count} (mean {:.2} s)", sum / count)
        })
        .collect();
    parts.join(", ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TEXT: &str = "# TYPE excursobot_updates_total counter\n\
        excursobot_updates_total{kind=\"message\",outcome=\"accepted\"} 3\n\
        excursobot_updates_total{kind=\"callback_query\",outcome=\"accepted\"} 2\n\
        excursobot_updates_total{kind=\"message\",outcome=\"busy\"} 1\n\
        excursobot_updates_total{kind=\"message\",outcome=\"closed\"} 0\n\
        excursobot_llm_permits_in_use 2\n";

    #[test]
    fn samples_are_summed_by_label() {
        let m = Exposition::parse(TEXT);
        assert_eq!(m.sum("excursobot_updates_total", &[]), 6.0);
        let accepted = [("outcome", "accepted")];
        assert_eq!(m.sum("excursobot_updates_total", &accepted), 5.0);
        assert_eq!(m.sum("excursobot_llm_permits_in_use", &[]), 2.0);
        let by = m.by("excursobot_updates_total", "outcome");
        assert_eq!(by, [("accepted".to_owned(), 5.0), ("busy".to_owned(), 1.0)]);
    }

    #[test]
    fn a_percentile_is_the_bound_of_the_bucket_it_falls_in() {
        let m = Exposition::parse(
            "t_seconds_bucket{source=\"a\",le=\"0.1\"} 8\n\
             t_seconds_bucket{source=\"a\",le=\"1\"} 9\n\
             t_seconds_bucket{source=\"a\",le=\"+Inf\"} 10\n\
             t_seconds_bucket{source=\"b\",le=\"0.1\"} 10\n\
             t_seconds_bucket{source=\"b\",le=\"1\"} 10\n\
             t_seconds_bucket{source=\"b\",le=\"+Inf\"} 10\n",
        );
        assert_eq!(m.bucket_bound("t_seconds", &[], 50.0), Some(0.1));
        assert_eq!(m.bucket_bound("t_seconds", &[], 95.0), Some(1.0));
        let a = [("source", "a")];
        assert_eq!(m.bucket_bound("t_seconds", &a, 95.0), Some(f64::INFINITY));
        assert_eq!(m.bucket_bound("none_seconds", &[], 50.0), None);
    }
}
