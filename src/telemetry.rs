//! Log set-up: tracing-subscriber writing JSON lines (`LOG_FORMAT=json`) or readable lines,
//! filtered by `RUST_LOG` (default `info`), a panic hook writing each panic as one such
//! line ([`panics`]), and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, the same spans exported
//! over OTLP ([`traces`]).
//!
//! Secrets never reach these logs: settings hold them as `SecretString`, and Telegram errors
//! have the token stripped from their URLs by teloxide before we see them.
//!
//! Malformed HTTP from clients is not logged: actix-http answers it (400, 414, 431) and then
//! writes an ERROR line for each such connection, which actix offers no setting for; a
//! stranger could fill the log with them. [`ClientMistakes`] drops exactly those lines.

pub mod panics;
pub mod traces;
pub mod warnings;

use std::io::IsTerminal;

use tracing::{
    Event, Subscriber,
    field::{Field, Visit},
};
use tracing_subscriber::{
    EnvFilter, Layer, fmt,
    fmt::MakeWriter,
    layer::{Context, SubscriberExt},
    util::SubscriberInitExt,
};

use crate::config::LogFormat;
use traces::Traces;

/// Where actix-http's HTTP/1 connection loop logs.
const ACTIX_DISPATCHER: &str = "actix_http::h1::dispatcher";
/// How it begins the line for a request it could not parse ("stream error: request parse
/// error: invalid Header provided", "…: URI error: uri too long", "…: message head is too
/// large").
const PARSE_ERROR_LINE: &str = "stream error: request parse error";

/// Installs the global subscriber, writing to stderr and exporting spans through `traces`,
/// and the panic hook sending panics through it ([`panics`]). Call once, from `main`; a
/// second call is ignored.
pub fn init(format: LogFormat, filter: &str, traces: &Traces) {
    // Colours only on a terminal: a log piped to a file or a collector stays plain text.
    let ansi = std::io::stderr().is_terminal();
    if subscriber(format, filter, std::io::stderr, ansi, traces)
        .try_init()
        .is_err()
    {
        tracing::debug!("a tracing subscriber was already installed");
        return;
    }
    panics::install();
}

/// The bot's subscriber writing to `writer`: `filter` (`RUST_LOG` directives; `info` when
/// they do not parse; spans below it are neither logged nor exported), [`ClientMistakes`]
/// and the export of `traces` when it is on. Tests capture the bot's logs through it.
pub fn subscriber<W>(
    format: LogFormat,
    filter: &str,
    writer: W,
    ansi: bool,
    traces: &Traces,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Json => {
            let logs = builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .finish();
            Box::new(logs.with(traces.layer()).with(ClientMistakes))
        }
        LogFormat::Pretty => {
            let logs = builder.compact().finish();
            Box::new(logs.with(traces.layer()).with(ClientMistakes))
        }
    }
}

/// Drops actix-http's ERROR line about a request it could not parse: the client's mistake,
/// already answered with a 4xx, not a fault of ours. Every other line passes, actix's other
/// errors included.
pub struct ClientMistakes;

impl<S: Subscriber> Layer<S> for ClientMistakes {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        if event.metadata().target() != ACTIX_DISPATCHER {
            return true;
        }
        let mut message = Message::default();
        event.record(&mut message);
        !message.0.starts_with(PARSE_ERROR_LINE)
    }
}

/// The `message` field of an event, as text.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}
