//! Where Prometheus scrapes the bot: `METRICS_PORT`'s listener (the public port's `/metrics`
//! route, behind `METRICS_TOKEN`, is in [`super::serve`]), and the upkeep that keeps the
//! latency histograms' memory bounded between scrapes.

use std::{net::TcpListener, time::Duration};

use actix_web::{App, HttpServer, dev::Server, web};
use anyhow::Context;

use crate::{
    config::Settings,
    handlers::scrape::{self, Scrape},
    stats::Metrics,
};

/// How often latency samples are folded into their histograms when nobody scrapes.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// `METRICS_PORT`: a listener serving only `/metrics`, on one worker. On `0.0.0.0` it binds
/// `[::]` instead (both IPv4 and IPv6), since Railway's private network is IPv6.
pub(super) fn serve_metrics(
    settings: &Settings,
    scrape: web::Data<Scrape>,
) -> anyhow::Result<Option<(Server, u16)>> {
    let Some(port) = settings.metrics.port else {
        return Ok(None);
    };
    let listener = match settings.host.as_str() {
        "0.0.0.0" => {
            TcpListener::bind(("::", port)).or_else(|_| TcpListener::bind(("0.0.0.0", port)))
        }
        host => TcpListener::bind((host, port)),
    }
    .with_context(|| format!("binding port {port} (METRICS_PORT)"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(scrape.clone())
            .route("/metrics", web::get().to(scrape::metrics))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    tracing::info!(port, "serving /metrics");
    Ok(Some((server, port)))
}

/// Folds latency samples into their buckets now and then (a scrape does it too).
pub(super) async fn keep_metrics_bounded(metrics: Metrics) {
    let mut every = tokio::time::interval(METRICS_UPKEEP_EVERY);
    loop {
        every.tick().await;
        metrics.upkeep();
    }
}
