//! One integration-test binary: the real application on port 0 against mock servers.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod configuration;
mod donations;
mod facts;
mod gate;
mod groups;
mod lanes;
mod layers;
mod llm_answers;
mod memory;
mod metrics;
mod onboarding;
mod places;
mod polling;
mod redis_cache;
mod sending;
mod shutdown;
mod simulate;
mod tours;
mod venues;
mod webhook;
