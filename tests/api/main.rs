//! One integration-test binary: the real application on port 0 against mock servers.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod blocked;
mod configuration;
mod donations;
mod facts;
mod faults;
mod gate;
mod groups;
mod hostile;
mod journal;
mod lanes;
mod layers;
mod llm_answers;
mod log_hygiene;
mod memory;
mod metrics;
mod onboarding;
mod places;
mod polling;
mod redis_cache;
mod sending;
mod shutdown;
mod simulate;
mod streaming;
mod supervision;
mod tours;
mod traces;
mod upgrade;
mod venues;
mod webhook;
mod write_ahead;
