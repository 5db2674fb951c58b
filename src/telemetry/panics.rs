//! Panics as log lines. The hook [`install`]ed by `telemetry::init` sends every panic
//! through `tracing` as one ERROR event (one JSON line with `LOG_FORMAT=json`): its message,
//! where it happened and, when the panic happened while an update was being handled, that
//! update's `update_id` (set by the lanes with [`for_update`]). The default hook would write
//! several lines of plain text, and with `RUST_BACKTRACE` a backtrace, into the JSON log.
//!
//! A panic the code expects and contains itself, the caller naming what it was doing, is
//! not logged by the hook: [`contain`] and [`Contained`] run code with the hook told to keep
//! the panic for them, and hand it back as a [`Panic`] for the caller's own, single line.
//!
//! When no subscriber listens (a panic before logging is set up), the previous hook (the
//! standard one) writes it, so a panic is never silent.

use std::{
    any::Any,
    backtrace::{Backtrace, BacktraceStatus},
    cell::{Cell, RefCell},
    future::Future,
    panic::{self, AssertUnwindSafe, PanicHookInfo},
    pin::Pin,
    task::{Context, Poll},
};

tokio::task_local! {
    /// The update the current task is handling.
    static UPDATE_ID: u32;
}

thread_local! {
    /// How many [`contain`] scopes this thread is in: while any, the hook keeps panics for
    /// them instead of logging.
    static CONTAINED: Cell<u32> = const { Cell::new(0) };
    /// Where the last contained panic on this thread happened, for its [`Panic`].
    static CAUGHT_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic that was contained: what it said and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panic {
    /// The panic's message (`"called `Option::unwrap()` on a `None` value"`).
    pub message: String,
    /// `file:line:column`, when the hook saw it.
    pub location: Option<String>,
}

/// Installs the hook (replacing the standard one, which it falls back to when nothing
/// listens). Installing twice stacks harmlessly: the outer hook logs, the inner is unused.
pub fn install() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let location = info.location().map(ToString::to_string);
        if CONTAINED.with(Cell::get) > 0 {
            CAUGHT_AT.with(|at| *at.borrow_mut() = location);
        } else if tracing::enabled!(tracing::Level::ERROR) {
            log(info, location);
        } else {
            previous(info);
        }
    }));
}

/// The hook's one line: message, location, thread, the update when known, and the backtrace
/// (only when `RUST_BACKTRACE` asks for one) folded into one field.
fn log(info: &PanicHookInfo<'_>, location: Option<String>) {
    let message = message_of(info.payload());
    let update_id = UPDATE_ID.try_with(|id| *id).ok();
    let thread = std::thread::current();
    let backtrace = Backtrace::capture();
    let backtrace = (backtrace.status() == BacktraceStatus::Captured).then(|| {
        let text = backtrace.to_string();
        text.lines().map(str::trim).collect::<Vec<_>>().join(" | ")
    });
    tracing::error!(
        update_id,
        panic.message = %message,
        panic.location = location.as_deref(),
        panic.thread = thread.name(),
        panic.backtrace = backtrace.as_deref(),
        "panic"
    );
}

/// Runs `work` (a future handling update `update_id`) so that a panic inside it is logged
/// with that `update_id`. Tasks it spawns with `work::spawn_work` inherit it.
pub fn for_update<F: Future>(update_id: u32, work: F) -> impl Future<Output = F::Output> {
    UPDATE_ID.scope(update_id, work)
}

/// The update the current task is handling, if any.
pub fn current_update() -> Option<u32> {
    UPDATE_ID.try_with(|id| *id).ok()
}

/// Runs `f`, turning a panic into `Err(Panic)` that the hook does not log: the caller logs
/// it once, saying what it was doing.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, Panic> {
    CONTAINED.with(|depth| depth.set(depth.get() + 1));
    let outcome = panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|depth| depth.set(depth.get() - 1));
    outcome.map_err(|payload| Panic {
        message: message_of(payload.as_ref()),
        location: CAUGHT_AT.with(|at| at.borrow_mut().take()),
    })
}

/// A future whose panics are contained like [`contain`]'s: it resolves to `Err(Panic)`.
pub struct Contained<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> Contained<F> {
    /// Wraps `future`.
    pub fn new(future: F) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }
}

impl<F: Future> Future for Contained<F> {
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        match contain(move || inner.poll(cx)) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// A panic payload as text (`panic!` gives a `&str` or a `String`).
pub fn message_of(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
#[path = "panics_tests.rs"]
mod tests;
