//! The bot's own log subscriber (`telemetry::subscriber`, warnings and errors) installed once
//! for this test binary, writing into a buffer the tests read. It is global because the app
//! logs from its HTTP worker threads; tests running at the same time write into it too, so a
//! test picks its own lines by something only it has (the local address of its connection).

use std::{
    io,
    sync::{Mutex, Once},
};

use excursobot::{
    config::LogFormat,
    telemetry::{self, traces::Traces},
};

/// Everything logged since [`capture`] was first called.
static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Installs the subscriber (once); from then on every warning and error lands in the buffer.
pub fn capture() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let subscriber =
            telemetry::subscriber(LogFormat::Pretty, "warn", || Writer, false, &Traces::off());
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
    });
}

/// The lines logged so far that contain `needle`.
pub fn lines_containing(needle: &str) -> Vec<String> {
    let buffer = BUFFER.lock().unwrap();
    String::from_utf8_lossy(&buffer)
        .lines()
        .filter(|line| line.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Appends to [`BUFFER`].
struct Writer;

impl io::Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        BUFFER.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
