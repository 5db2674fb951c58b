//! Span export over OTLP (HTTP/protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! The spans are the ones the bot already makes for its logs (each update's `update` span,
//! opened at admission, and those below and linked to it); [`Traces::layer`] hands them to
//! `tracing-opentelemetry`, whose spans go in batches to `{endpoint}/v1/traces` from the SDK's
//! own thread, sent with reqwest's blocking client. Unset, there is no exporter, no thread and
//! no layer: nothing runs that would not run without this module. At shutdown
//! [`Traces::shutdown`] sends what is still batched.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{ExporterBuildError, Protocol, WithExportConfig};
use opentelemetry_sdk::{
    Resource,
    trace::{SdkTracer, SdkTracerProvider},
};
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetryLayer;
use tracing_subscriber::registry::LookupSpan;

use crate::config::TraceSettings;

/// Where OTLP/HTTP collectors take spans, under the endpoint's base URL.
const TRACES_PATH: &str = "v1/traces";

/// The span exporter, when one is configured.
#[derive(Debug, Default)]
pub struct Traces {
    provider: Option<SdkTracerProvider>,
}

/// The exporter could not be built from the settings.
#[derive(Debug, thiserror::Error)]
#[error("OTEL_EXPORTER_OTLP_ENDPOINT: the OTLP exporter could not be built: {0}")]
pub struct TracesError(#[from] ExporterBuildError);

impl Traces {
    /// No export (the variable is unset, or the simulator runs).
    pub fn off() -> Self {
        Self::default()
    }

    /// The exporter `settings` ask for: batches of spans to the endpoint, as `service.name`
    /// `settings.service_name`; [`Traces::off`] when no endpoint is set.
    pub fn start(settings: &TraceSettings) -> Result<Self, TracesError> {
        let Some(endpoint) = &settings.otlp_endpoint else {
            return Ok(Self::off());
        };
        let base = endpoint.as_str().trim_end_matches('/');
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{base}/{TRACES_PATH}"))
            .build()?;
        let resource = Resource::builder()
            .with_service_name(settings.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        Ok(Self {
            provider: Some(provider),
        })
    }

    /// Whether spans are exported.
    pub fn is_on(&self) -> bool {
        self.provider.is_some()
    }

    /// The layer turning the subscriber's spans into exported ones; `None` when off (an
    /// absent layer costs one branch per span).
    pub fn layer<S>(&self) -> Option<OpenTelemetryLayer<S, SdkTracer>>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        let tracer = self.provider.as_ref()?.tracer("excursobot");
        Some(tracing_opentelemetry::layer().with_tracer(tracer))
    }

    /// Sends the spans still batched and stops the exporter's thread; call once, after the
    /// application stopped and outside its runtime (the HTTP client blocks).
    pub fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        if let Err(error) = provider.shutdown() {
            tracing::warn!(%error, "the last spans were not exported");
        }
    }
}

/// The span a message to an actor was sent from, carried in the message: the handler opens
/// a span of its own (a root, so one long-lived actor does not grow one giant trace) that
/// `follows_from` it, which links the actor's work to the update that asked for it.
#[derive(Debug, Clone)]
pub struct SenderSpan(tracing::Span);

impl SenderSpan {
    /// The sender's current span.
    pub fn current() -> Self {
        Self(tracing::Span::current())
    }

    /// `span`, the handler's own, linked to the sender's.
    pub fn followed_by(&self, span: tracing::Span) -> tracing::Span {
        span.follows_from(&self.0);
        span
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn without_an_endpoint_there_is_no_exporter_and_no_layer() {
        let settings = TraceSettings {
            otlp_endpoint: None,
            service_name: "excursobot".to_owned(),
        };

        let traces = Traces::start(&settings).unwrap();

        assert!(!traces.is_on());
        assert!(traces.layer::<tracing_subscriber::Registry>().is_none());
    }
}
