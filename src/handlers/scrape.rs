//! `GET /metrics`: the Prometheus text format. Served on `METRICS_PORT` (a listener of its own,
//! for private networking) and, only when `METRICS_TOKEN` is set, on the public port too;
//! with a token every request must carry `Authorization: Bearer <token>` (compared in
//! constant time).
//!
//! A scrape first copies the figures the actors keep ([`Figures`]) and the process's own
//! (memory, CPU, file descriptors) into the registry, then renders it: the counters that
//! code increments as things happen are in there already.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::{context::Context, dispatch::Dispatcher, figures::Figures};
use crate::{
    actors::live_sessions::TickOutcomes,
    stats::{Metrics, process, registry::names::*},
    telegram::SendClass,
};

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What `/metrics` reads.
pub struct Scrape {
    /// The actors and the outbox.
    pub ctx: Arc<Context>,
    /// The backlog and the lanes.
    pub dispatcher: Arc<Dispatcher>,
    /// The registry rendered.
    pub metrics: Metrics,
    /// `METRICS_TOKEN`, when set.
    pub token: Option<SecretString>,
}

/// Answers a scrape: 401 without the right bearer token (when one is set), else the text.
pub async fn metrics(request: HttpRequest, scrape: web::Data<Scrape>) -> HttpResponse {
    if let Some(token) = &scrape.token
        && !bearer_matches(&request, token)
    {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
            .finish();
    }
    let figures = Figures::gather(&scrape.ctx).await;
    publish(&scrape.metrics, &figures);
    publish_ingress(&scrape.metrics, &scrape.dispatcher, &scrape.ctx);
    publish_process(&scrape.metrics);
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .body(scrape.metrics.render())
}

fn bearer_matches(request: &HttpRequest, token: &SecretString) -> bool {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.as_bytes().strip_prefix(b"Bearer "));
    given.is_some_and(|given| bool::from(given.ct_eq(token.expose_secret().as_bytes())))
}

/// Copies the actors' and the outbox's figures into the registry.
fn publish(metrics: &Metrics, figures: &Figures) {
    if let Some(cache) = figures.cache {
        metrics
            .counter(CACHE_HITS, &[("level", "l1")])
            .absolute(cache.l1_hits);
        metrics
            .counter(CACHE_HITS, &[("level", "l2")])
            .absolute(cache.l2_hits);
        metrics.counter(CACHE_MISSES, &[]).absolute(cache.misses);
        let redis_errors = metrics.counter(CACHE_REDIS_ERRORS, &[]);
        redis_errors.absolute(cache.redis_errors);
    }
    if let Some(gate) = figures.gate {
        publish_gate(metrics, &gate);
    }
    if let Some(tours) = figures.tours {
        metrics.gauge(TOURS_ACTIVE, &[]).set(tours.active as f64);
        metrics.gauge(TOURS_CAP, &[]).set(tours.cap as f64);
        metrics.counter(TOURS_REFUSED, &[]).absolute(tours.refused);
        metrics.counter(TOUR_TICKS, &[]).absolute(tours.ticks);
        let outcomes = TickOutcomes::NAMES.iter().zip(tours.tick_outcomes.0);
        for (outcome, ticks) in outcomes {
            let counter = metrics.counter(TOUR_TICK_OUTCOMES, &[("outcome", outcome)]);
            counter.absolute(ticks);
        }
    }
    if let Some(rows) = figures.db_buffered {
        metrics.gauge(DB_BUFFERED, &[]).set(rows as f64);
    }
    let outbox = &figures.outbox;
    for class in SendClass::ALL {
        let waiting = outbox.queue.waiting[class.index()] as f64;
        metrics
            .gauge(OUTBOX_QUEUED, &[("class", class.name())])
            .set(waiting);
    }
    metrics
        .counter(TELEGRAM_429, &[])
        .absolute(outbox.rate_limited);
    // Whole milliseconds as seconds: a counter holds integers, so round down to seconds.
    let paused = metrics.counter(TELEGRAM_PAUSED, &[]);
    paused.absolute(outbox.paused_ms / 1000);
}

fn publish_gate(metrics: &Metrics, gate: &crate::actors::openai_gate::GateSnapshot) {
    use crate::actors::openai_gate::Priority;
    for priority in Priority::ALL {
        let queued = gate.queued[priority.index()] as f64;
        metrics
            .gauge(LLM_QUEUED, &[("priority", priority.name())])
            .set(queued);
    }
    metrics
        .gauge(LLM_QUEUE_CAPACITY, &[])
        .set(gate.queue_cap as f64);
    metrics.gauge(LLM_PERMITS, &[]).set(gate.permits as f64);
    metrics
        .gauge(LLM_PERMITS_IN_USE, &[])
        .set(gate.in_flight as f64);
    metrics.counter(LLM_JOINS, &[]).absolute(gate.joins);
    metrics.counter(LLM_SHED, &[]).absolute(gate.shed);
    let open = if gate.breaker_open { 1.0 } else { 0.0 };
    metrics.gauge(LLM_BREAKER_OPEN, &[]).set(open);
}

fn publish_ingress(metrics: &Metrics, dispatcher: &Dispatcher, ctx: &Context) {
    let in_flight = dispatcher.backlog_len() as f64;
    metrics.gauge(UPDATES_IN_FLIGHT, &[]).set(in_flight);
    let max = ctx.settings.update_backlog_max as f64;
    metrics.gauge(UPDATES_BACKLOG_MAX, &[]).set(max);
    metrics
        .gauge(LANES_ACTIVE, &[])
        .set(dispatcher.lanes_active() as f64);
}

fn publish_process(metrics: &Metrics) {
    if let Some(figures) = process::ProcessFigures::read("self", "the bot") {
        let rss = (figures.rss_kib * 1024) as f64;
        metrics.gauge(PROCESS_RSS, &[]).set(rss);
        let cpu = metrics.counter(PROCESS_CPU, &[]);
        cpu.absolute(figures.cpu().as_secs());
    }
    if let Some((open, max)) = process::open_fds() {
        metrics.gauge(PROCESS_FDS, &[]).set(open as f64);
        metrics.gauge(PROCESS_MAX_FDS, &[]).set(max as f64);
    }
}
