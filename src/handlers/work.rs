//! Work an update starts outside its user's lane ([`spawn_work`]). It keeps the update's
//! [`Admitted`] hold (its backlog permit and journal entry) until it ends, so
//! `UPDATE_BACKLOG_MAX`, the drain at shutdown and the journal cover it.
//!
//! An update's journal entry goes only when its handling *ended* (or was given up on purpose,
//! or panicked). Work that was dropped midway, because the runtime it ran on stopped (the
//! HTTP server's workers, when the server ends by itself), leaves its entry for the next
//! start: before, dropping the work removed it, and an acknowledged update was lost.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use futures::{FutureExt, future::Either};
use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use crate::db::journal::{self, Ticket};
use crate::telemetry::panics;

/// What an admitted update holds until it and all the work it started are done: when the
/// last share is dropped, the backlog permit comes back and the journal entry is removed,
/// unless the handling never ended (see the module docs).
pub struct Admitted {
    /// Returned to the backlog when dropped.
    _permit: OwnedSemaphorePermit,
    /// The update's journal entry, when it was journaled; removed when dropped.
    ticket: Option<Ticket>,
    /// The update's handling ended, or it was given up on purpose.
    settled: AtomicBool,
    /// Some of its work was dropped before it ended.
    abandoned: AtomicBool,
}

impl Admitted {
    /// An update holding `permit` and, when journaled, `ticket`.
    pub fn new(permit: OwnedSemaphorePermit, ticket: Option<Ticket>) -> Self {
        Self {
            _permit: permit,
            ticket,
            settled: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
        }
    }

    fn is_journaled(&self) -> bool {
        self.ticket.is_some()
    }

    /// The update is not handled, on purpose (a newer live-location edit replaced it, its
    /// lane was full): its entry goes.
    pub fn give_up(self) {
        self.settled.store(true, Ordering::Release);
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let ended = self.settled.load(Ordering::Acquire) && !self.abandoned.load(Ordering::Acquire);
        if let Some(ticket) = self.ticket.take()
            && !ended
        {
            tracing::warn!(
                update_id = ticket.update_id(),
                "an update's work was dropped before it ended; it stays journaled for the next start"
            );
            ticket.keep();
        }
    }
}

/// Marks its hold abandoned when dropped before [`Unfinished::ended`].
struct Unfinished(Option<Arc<Admitted>>);

impl Unfinished {
    fn ended(mut self) {
        self.0 = None;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(hold) = self.0.take() {
            hold.abandoned.store(true, Ordering::Release);
        }
    }
}

/// Runs `work` with `hold` marked abandoned unless it ends; a panic counts as ended (the
/// update was given up) and is handed back for the caller to raise again. Combinators, not
/// an `async fn` (which would keep `work` twice in its state: every story's task grew by
/// about 15 KB, 3 MiB of peak memory in the default scenario).
fn to_the_end<F: Future>(
    hold: &Arc<Admitted>,
    work: F,
) -> impl Future<Output = std::thread::Result<F::Output>> + use<F> {
    let unfinished = Unfinished(Some(Arc::clone(hold)));
    AssertUnwindSafe(work).catch_unwind().map(move |outcome| {
        unfinished.ended();
        outcome
    })
}

tokio::task_local! {
    /// The hold of the update being decided; work it starts takes a share.
    static HOLD: Arc<Admitted>;
}

/// Starts `work` outside the lane. It keeps the current update's hold until it ends (and
/// work it starts in turn takes a share), so the shutdown drain waits for it and its journal
/// entry stays until it is done, and its `update_id`, so a panic in it is logged with it.
pub fn spawn_work(work: impl Future<Output = ()> + Send + 'static) {
    let update_id = panics::current_update();
    // Combinators, not an `async` block: see [`to_the_end`].
    let work = match update_id {
        Some(update_id) => Either::Left(panics::for_update(update_id, work)),
        None => Either::Right(work),
    };
    match HOLD.try_with(Arc::clone) {
        Ok(hold) => {
            let journaled = hold.is_journaled();
            let guarded = to_the_end(&hold, journal::scope(journaled, work));
            let work = HOLD.scope(hold, guarded).map(|outcome| {
                if let Err(panic) = outcome {
                    std::panic::resume_unwind(panic);
                }
            });
            tokio::spawn(work.in_current_span());
        }
        Err(_) => {
            tokio::spawn(work.in_current_span());
        }
    }
}

/// Runs `decide` (an update's handling in its lane) with its hold at hand, for the work it
/// starts.
pub fn with_hold<F: Future>(admitted: Admitted, decide: F) -> impl Future<Output = F::Output> {
    let journaled = admitted.is_journaled();
    let hold = Arc::new(admitted);
    let decided = to_the_end(&hold, journal::scope(journaled, decide));
    HOLD.scope(Arc::clone(&hold), decided).map(move |decided| {
        hold.settled.store(true, Ordering::Release);
        decided.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
