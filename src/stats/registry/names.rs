//! Every metric the bot exposes, and its help text (`# HELP`). The names follow Prometheus'
//! conventions: the `excursobot_` prefix, base units, `_total` on counters; labels are a
//! handful of fixed words (never a user, a chat or a place).

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
/// Tour ticks (every interval of a running tour, skipped ones included).
pub const TOUR_TICKS: &str = "excursobot_tour_ticks_total";
/// What tour ticks came to, by outcome (see `live_sessions::TickOutcomes`).
pub const TOUR_TICK_OUTCOMES: &str = "excursobot_tour_tick_outcomes_total";
/// From a tour's tick to its story delivered, by source.
pub const TOUR_STORY: &str = "excursobot_tour_story_seconds";
/// Live tours running.
pub const TOURS_ACTIVE: &str = "excursobot_tours_active";
/// `LIVE_SESSIONS_MAX`.
pub const TOURS_CAP: &str = "excursobot_tours_cap";
/// Tour starts refused because `LIVE_SESSIONS_MAX` tours were running.
pub const TOURS_REFUSED: &str = "excursobot_tour_starts_refused_total";
/// Rows waiting to be written: in the write-behind buffer and in the writes in flight.
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

/// What kind of metric a name is, for its description.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// A metric's name, kind and help text (its unit is in its name).
pub(super) type Description = (&'static str, Kind, &'static str);

const fn counter(name: &'static str, help: &'static str) -> Description {
    (name, Kind::Counter, help)
}

const fn gauge(name: &'static str, help: &'static str) -> Description {
    (name, Kind::Gauge, help)
}

const fn histogram(name: &'static str, help: &'static str) -> Description {
    (name, Kind::Histogram, help)
}

/// Every metric above, described.
pub(super) const DESCRIPTIONS: &[Description] = &[
    counter(UPDATES, "Updates offered, by kind and admission outcome"),
    gauge(UPDATES_IN_FLIGHT, "Updates being handled"),
    gauge(UPDATES_BACKLOG_MAX, "Updates that may be handled at once"),
    gauge(LANES_ACTIVE, "Users whose updates are being handled"),
    counter(REPLIES, "Messages to send, by class and outcome"),
    gauge(OUTBOX_QUEUED, "Messages waiting for the send budget"),
    counter(TELEGRAM_CALLS, "Bot API calls, by method and status"),
    counter(TELEGRAM_429, "429 answers from Telegram"),
    counter(TELEGRAM_PAUSED, "Pause asked for by Telegram's 429s"),
    counter(LLM_CALLS, "LLM calls, by priority and outcome"),
    histogram(LLM_CALL_DURATION, "LLM call duration"),
    gauge(LLM_QUEUED, "LLM jobs waiting, by priority"),
    gauge(LLM_QUEUE_CAPACITY, "LLM jobs that may wait in all"),
    gauge(LLM_PERMITS_IN_USE, "LLM calls in flight"),
    gauge(LLM_PERMITS, "LLM calls that may be in flight"),
    counter(LLM_JOINS, "Requests joining an LLM call for the same story"),
    counter(LLM_SHED, "LLM requests shed"),
    gauge(LLM_BREAKER_OPEN, "1 while the LLM circuit breaker is open"),
    counter(CACHE_HITS, "Fact-cache hits, by level"),
    counter(CACHE_MISSES, "Fact-cache misses at every level"),
    counter(CACHE_REDIS_ERRORS, "Redis operations failed"),
    counter(PLACE_LOOKUPS, "Place lookups, by source and outcome"),
    histogram(PLACE_LOOKUP_DURATION, "Place lookup duration"),
    histogram(FIRST_ANSWER, "Location to first answer, by kind"),
    counter(TOUR_TICKS, "Tour ticks, skipped ones included"),
    counter(TOUR_TICK_OUTCOMES, "Tour ticks, by outcome"),
    histogram(TOUR_STORY, "Tour tick to its story delivered, by source"),
    gauge(TOURS_ACTIVE, "Live tours running"),
    gauge(TOURS_CAP, "Live tours that may run at once"),
    counter(TOURS_REFUSED, "Tour starts refused by the cap"),
    gauge(DB_BUFFERED, "Rows waiting to be written"),
    histogram(DB_FLUSH_DURATION, "Write-behind flush duration"),
    counter(DB_FLUSH_FAILURES, "Write-behind flushes failed"),
    gauge(PROCESS_RSS, "Resident memory"),
    counter(PROCESS_CPU, "CPU time, user and system"),
    gauge(PROCESS_FDS, "Open file descriptors"),
    gauge(PROCESS_MAX_FDS, "File descriptor limit"),
];
