//! Work an update starts outside its user's lane ([`spawn_work`]). It keeps the update's
//! [`Admitted`] hold (its backlog permit and journal entry) until it ends, so
//! `UPDATE_BACKLOG_MAX`, the drain at shutdown and the journal cover it.

use std::{future::Future, sync::Arc};

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use crate::db::journal::{self, Ticket};
use crate::telemetry::panics;

/// What an admitted update holds until it and all the work it started are done: when the
/// last share is dropped, the backlog permit comes back and the journal entry is removed.
pub struct Admitted {
    /// Returned to the backlog when dropped.
    _permit: OwnedSemaphorePermit,
    /// The update's journal entry, when it was journaled; removed when dropped.
    ticket: Option<Ticket>,
}

impl Admitted {
    /// An update holding `permit` and, when journaled, `ticket`.
    pub fn new(permit: OwnedSemaphorePermit, ticket: Option<Ticket>) -> Self {
        Self {
            _permit: permit,
            ticket,
        }
    }

    fn is_journaled(&self) -> bool {
        self.ticket.is_some()
    }
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
    let work = async move {
        match update_id {
            Some(update_id) => panics::for_update(update_id, work).await,
            None => work.await,
        }
    };
    match HOLD.try_with(Arc::clone) {
        Ok(hold) => {
            let journaled = hold.is_journaled();
            let work = HOLD.scope(hold, journal::scope(journaled, work));
            tokio::spawn(work.in_current_span());
        }
        Err(_) => {
            tokio::spawn(work.in_current_span());
        }
    }
}

/// Runs `decide` (an update's handling in its lane) with its hold at hand, for the work it
/// starts.
pub async fn with_hold<F: Future>(admitted: Admitted, decide: F) -> F::Output {
    let journaled = admitted.is_journaled();
    HOLD.scope(Arc::new(admitted), journal::scope(journaled, decide))
        .await
}
