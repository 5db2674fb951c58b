#![allow(clippy::unwrap_used)]

use std::{
    io,
    panic::{self, AssertUnwindSafe},
    sync::{Arc, Mutex},
};

use serde_json::Value;

use super::*;
use crate::{
    config::LogFormat,
    telemetry::{self, traces::Traces},
};

/// A log writer the test reads back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// Runs `f` on a thread of its own whose logs (the bot's JSON subscriber) go to the buffer
/// returned, with the hook installed meanwhile (then the standard hook is put back, so other
/// tests' failures still print as usual).
fn with_hook_and_json_logs(f: impl FnOnce() + Send + 'static) -> Buffer {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    install();
    let thread = std::thread::spawn(move || {
        let logs = telemetry::subscriber(
            LogFormat::Json,
            "info",
            move || writer.clone(),
            false,
            &Traces::off(),
        );
        tracing::subscriber::with_default(logs, f);
    });
    let joined = thread.join();
    drop(panic::take_hook());
    joined.unwrap();
    buffer
}

#[test]
fn the_hook_logs_a_panic_as_one_json_line_with_its_update_id_and_contained_panics_not_at_all() {
    let buffer = with_hook_and_json_logs(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let handled = for_update(4242, async { panic!("boom in a handler") });
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| runtime.block_on(handled)));
        assert!(outcome.is_err());

        let kept = contain(|| -> u32 { panic!("kept for the caller") });
        let kept = kept.unwrap_err();
        assert_eq!(kept.message, "kept for the caller");
        assert!(kept.location.unwrap().contains("panics_tests.rs"));

        let future = Contained::new(async { panic!("a contained future") });
        let contained: Result<(), Panic> = runtime.block_on(future);
        assert_eq!(contained.unwrap_err().message, "a contained future");
        assert_eq!(contain(|| 7).unwrap(), 7);
    });

    let lines = buffer.lines();
    assert_eq!(
        lines.len(),
        1,
        "one line, only for the uncontained panic: {lines:?}"
    );
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["message"], "panic");
    assert_eq!(line["update_id"], 4242);
    assert_eq!(line["panic.message"], "boom in a handler");
    let location = line["panic.location"].as_str().unwrap();
    assert!(location.contains("panics_tests.rs"), "{location}");
}

#[test]
fn without_the_hook_a_contained_panic_still_comes_back_with_its_message() {
    let caught = contain(|| -> () { std::panic::panic_any(String::from("owned message")) });

    assert_eq!(caught.unwrap_err().message, "owned message");
    assert_eq!(current_update(), None);
}
