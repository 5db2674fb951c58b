//! Log set-up: tracing-subscriber writing JSON lines (`LOG_FORMAT=json`) or readable lines,
//! filtered by `RUST_LOG` (default `info`).
//!
//! Secrets never reach these logs: settings hold them as `SecretString`, and Telegram errors
//! have the token stripped from their URLs by teloxide before we see them.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt};

use crate::config::LogFormat;

/// Installs the global subscriber. Call once, from `main`; a second call is ignored.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only on a terminal: a log piped to a file or a collector stays plain text.
    let builder = fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    if installed.is_err() {
        tracing::debug!("a tracing subscriber was already installed");
    }
}
