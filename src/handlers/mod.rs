//! Everything that turns an incoming update into replies: HTTP endpoints, the polling loop,
//! the dispatcher between them and the router, and the handlers the router calls.

pub mod commands;
pub mod context;
pub mod dispatch;
pub mod donations;
pub mod figures;
pub mod health;
pub mod lanes;
pub mod polling;
pub mod replay;
pub mod router;
pub mod scrape;
pub mod settings;
pub mod stats;
pub mod tours;
pub mod triage;
pub mod webhook;
pub mod work;
