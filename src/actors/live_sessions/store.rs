//! The [`SessionWriter`]: it feeds the tours' [`SessionStore`] from the actor without ever
//! making the actor wait.
//!
//! The writer is write-behind: the actor hands it operations over a channel; one task applies
//! them in order, collapsing a burst of saves of one tour into its latest state. A failed
//! write is logged and superseded by the next save of that tour.

use std::{collections::HashMap, sync::Arc};

use tokio::sync::{mpsc, oneshot};

use crate::tour::{LiveSession, SessionStore};

enum StoreOp {
    Save(LiveSession),
    Remove(u64),
    /// Answered once every operation sent before it is applied.
    Barrier(oneshot::Sender<()>),
}

/// The actor's handle on the write-behind task. Cheap to clone.
#[derive(Clone)]
pub struct SessionWriter {
    ops: mpsc::UnboundedSender<StoreOp>,
}

impl SessionWriter {
    /// Starts the writer task on the current runtime.
    pub fn spawn(store: Arc<dyn SessionStore>) -> Self {
        let (ops, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_behind(store, queue));
        Self { ops }
    }

    /// Queues a save of `session`.
    pub fn save(&self, session: LiveSession) {
        self.send(StoreOp::Save(session));
    }

    /// Queues the removal of `user_id`'s session.
    pub fn remove(&self, user_id: u64) {
        self.send(StoreOp::Remove(user_id));
    }

    /// Completes once everything queued so far is written (or the writer is gone).
    pub fn flushed(&self) -> impl Future<Output = ()> + use<> {
        let (done, wait) = oneshot::channel();
        self.send(StoreOp::Barrier(done));
        async move {
            let _ = wait.await;
        }
    }

    fn send(&self, op: StoreOp) {
        if self.ops.send(op).is_err() {
            tracing::error!("the live session writer is gone; a tour change was not saved");
        }
    }
}

async fn write_behind(store: Arc<dyn SessionStore>, mut queue: mpsc::UnboundedReceiver<StoreOp>) {
    while let Some(first) = queue.recv().await {
        // Everything queued right now is one pass; a tour's last operation wins.
        let mut latest: HashMap<u64, StoreOp> = HashMap::new();
        let mut order = Vec::new();
        let mut barriers = Vec::new();
        let mut next = Some(first);
        while let Some(op) = next {
            match op {
                StoreOp::Barrier(done) => barriers.push(done),
                StoreOp::Save(ref session) => {
                    let user_id = session.user_id;
                    if latest.insert(user_id, op).is_none() {
                        order.push(user_id);
                    }
                }
                StoreOp::Remove(user_id) => {
                    if latest.insert(user_id, op).is_none() {
                        order.push(user_id);
                    }
                }
            }
            next = queue.try_recv().ok();
        }
        for op in order.iter().filter_map(|user_id| latest.remove(user_id)) {
            apply(store.as_ref(), op).await;
        }
        for done in barriers {
            let _ = done.send(());
        }
    }
}

async fn apply(store: &dyn SessionStore, op: StoreOp) {
    let (user_id, result) = match op {
        StoreOp::Save(session) => (session.user_id, store.save(session).await),
        StoreOp::Remove(user_id) => (user_id, store.remove(user_id).await),
        StoreOp::Barrier(_) => return,
    };
    if let Err(error) = result {
        tracing::warn!(user_id, %error, "live session not persisted");
    }
}
