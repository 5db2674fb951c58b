//! The webhook path on arbitrary bodies: parse, admission (kind, dedup), the lane chosen
//! (`excursobot::handlers::triage`). A panic that escapes is a crash.
//!
//! libFuzzer's hook aborts on every panic, even one caught later; the bot's own hook goes
//! on top of it, so a panic the bot contains itself (teloxide's parser on a reaction without
//! an actor) is not a crash, and any other still is. `EXCURSOBOT_FUZZ_STRICT=1` leaves the
//! bot's hook out: then contained panics are crashes too, to find what the parser panics on.
#![no_main]

use std::sync::OnceLock;

use excursobot::{cache::SeenUpdates, handlers::triage::triage, telemetry::panics};
use libfuzzer_sys::fuzz_target;

struct Harness {
    runtime: tokio::runtime::Runtime,
    seen: SeenUpdates,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| Harness {
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime"),
        seen: SeenUpdates::new(None),
    })
}

fuzz_target!(
    init: {
        if std::env::var_os("EXCURSOBOT_FUZZ_STRICT").is_none() {
            panics::install();
        }
    },
    |body: &[u8]| {
        let harness = harness();
        harness.runtime.block_on(triage(body, &harness.seen));
    }
);
