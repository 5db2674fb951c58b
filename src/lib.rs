//! excursobot: a Telegram bot that tells short, true stories about real places near the user.
//!
//! `main` only reads [`config::Settings`], sets up [`telemetry`] and runs
//! [`startup::Application`]; everything else lives here so the tests run the very same code.

pub mod actors;
pub mod allocator;
pub mod cache;
pub mod config;
pub mod db;
pub mod facts;
pub mod geo;
pub mod handlers;
pub mod i18n;
pub mod payments;
pub mod places;
pub mod prompts;
pub mod simulate;
pub mod startup;
pub mod stats;
pub mod story;
pub mod telegram;
pub mod telemetry;
pub mod tour;
pub mod users;

/// Installs rustls' crypto provider (ring). Call before any HTTPS client exists; calling it
/// again is harmless.
pub fn install_tls_provider() {
    // Err only means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
