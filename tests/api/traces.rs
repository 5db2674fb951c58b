//! Traces: every line logged about an update carries its `update_id` and user id, and with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set the real binary exports its spans over OTLP/HTTP to a
//! collector (a local mock here): the update's span, the actors' spans (the gate's, the
//! cache's, the database's) linked to it, and the sends' spans under it.

use std::collections::HashMap;

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value::Value as Any},
    trace::v1::Span,
};
use prost::Message as _;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::helpers::{
    Mocks,
    bot_process::{BotProcess, free_port},
    location_update, logs, test_vars,
};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

#[actix_web::test]
async fn a_warning_about_an_update_carries_its_update_id_and_user_id() {
    logs::capture();
    let mocks = Mocks::start().await;
    mocks
        .wikipedia
        .serve_error(
            "en",
            "internal_api_error_DBQueryError",
            "Database query error",
        )
        .await;
    let app = mocks.spawn(&[]).await;

    app.post_update(&location_update(741_001, 7411, "en", LAT, LON))
        .await;
    app.telegram.wait_for_messages_to(7411, 1).await;

    let ours = logs::lines_containing("update_id=741001");
    assert!(
        ours.iter()
            .any(|line| line.contains("place lookup failed; using the gazetteer")),
        "{ours:?}"
    );
    for line in &ours {
        assert!(line.contains("user_id=7411"), "{line}");
    }
}

#[actix_web::test]
async fn with_an_otlp_endpoint_the_spans_of_an_answered_location_reach_the_collector() {
    let collector = MockServer::builder().start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&collector)
        .await;
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    let port = free_port();
    let endpoint = collector.uri();
    let vars = test_vars(
        &mocks,
        &[("PORT", &port), ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)],
    );
    let bot = BotProcess::start(&vars).await;

    assert_eq!(
        bot.post_update(&location_update(742_001, 7421, "en", LAT, LON))
            .await,
        200
    );
    mocks.telegram.wait_for_stories(7421, 1).await;
    assert_eq!(bot.terminate(), Some(0), "an orderly shutdown");

    let (spans, services) = exported(&collector).await;
    assert!(
        services.iter().all(|name| name == "excursobot"),
        "{services:?}"
    );
    let update = spans
        .iter()
        .find(|span| span.name == "update" && number(span, "update_id") == Some(742_001))
        .unwrap_or_else(|| panic!("no update span: {:?}", names(&spans)));
    assert_eq!(number(update, "user_id"), Some(7421));
    for actor in ["openai_gate.call", "fact_cache.get", "db.load_told_places"] {
        let linked = spans.iter().find(|span| {
            span.name == actor && span.links.iter().any(|link| link.span_id == update.span_id)
        });
        let linked = linked.unwrap_or_else(|| panic!("no {actor} span follows from the update"));
        assert_ne!(
            linked.trace_id, update.trace_id,
            "{actor}: a trace of its own"
        );
    }
    let sends: Vec<_> = spans
        .iter()
        .filter(|span| span.name == "outbox.send" && span.trace_id == update.trace_id)
        .collect();
    assert!(
        !sends.is_empty(),
        "the story's sends are in the update's trace"
    );
    assert!(sends.iter().all(|send| send.parent_span_id != [0; 8]));
}

/// Every span the collector received, and the `service.name` of each batch.
async fn exported(collector: &MockServer) -> (Vec<Span>, Vec<String>) {
    let (mut spans, mut services) = (Vec::new(), Vec::new());
    for request in collector.received_requests().await.unwrap_or_default() {
        let export = ExportTraceServiceRequest::decode(request.body.as_slice()).unwrap();
        for batch in export.resource_spans {
            let resource = batch.resource.unwrap_or_default();
            let attributes = attributes(&resource.attributes);
            if let Some(Any::StringValue(name)) = attributes.get("service.name") {
                services.push(name.clone());
            }
            let scoped = batch.scope_spans.into_iter().flat_map(|scope| scope.spans);
            spans.extend(scoped);
        }
    }
    assert!(!services.is_empty(), "nothing was exported");
    (spans, services)
}

fn attributes(pairs: &[KeyValue]) -> HashMap<&str, Any> {
    pairs
        .iter()
        .filter_map(|pair| {
            let value = pair
                .value
                .as_ref()
                .and_then(|value: &AnyValue| value.value.clone())?;
            Some((pair.key.as_str(), value))
        })
        .collect()
}

/// The number attribute `key` of `span` (tracing-opentelemetry writes a `u64` as text).
fn number(span: &Span, key: &str) -> Option<i64> {
    match attributes(&span.attributes).get(key)? {
        Any::IntValue(value) => Some(*value),
        Any::StringValue(text) => text.parse().ok(),
        _ => None,
    }
}

fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|span| span.name.as_str()).collect()
}
