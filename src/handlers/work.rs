//! Work an update starts outside its user's lane ([`spawn_work`]). It keeps the update's
//! backlog permit until it ends, so `UPDATE_BACKLOG_MAX` and the drain at shutdown cover it.

use std::{future::Future, sync::Arc};

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use crate::telemetry::panics;

tokio::task_local! {
    /// The backlog permit of the update being decided; work it starts takes a share.
    static PERMIT: Arc<OwnedSemaphorePermit>;
}

/// Starts `work` outside the lane. It keeps the current update's backlog permit until it
/// ends, so the shutdown drain waits for it, and its `update_id`, so a panic in it is
/// logged with it.
pub fn spawn_work(work: impl Future<Output = ()> + Send + 'static) {
    let permit = PERMIT.try_with(Arc::clone).ok();
    let update_id = panics::current_update();
    let work = async move {
        match update_id {
            Some(update_id) => panics::for_update(update_id, work).await,
            None => work.await,
        }
        drop(permit);
    };
    tokio::spawn(work.in_current_span());
}

/// Runs `decide` (an update's handling in its lane) with its backlog permit at hand, for
/// the work it starts.
pub async fn with_permit<F: Future>(permit: OwnedSemaphorePermit, decide: F) -> F::Output {
    PERMIT.scope(Arc::new(permit), decide).await
}
