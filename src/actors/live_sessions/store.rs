//! The [`SessionWriter`]: it feeds the tours' [`SessionStore`] from the actor without ever
//! making the actor wait, and without losing a change while the store is down.
//!
//! The writer is write-behind. The actor puts operations into a bounded queue holding one
//! slot per tour: a tour's newer operation replaces the older one still waiting (a burst of
//! saves is one write, a remove after a save is just the remove). One task applies them,
//! oldest first, each call bounded by [`STORE_CALL_TIMEOUT`]. A failed operation stays in
//! its slot and is tried again with back-off ([`RETRY_FIRST`] doubling to [`RETRY_MAX`])
//! until it succeeds or a newer operation of that tour replaces it, so a tour that ended
//! while the database was down is removed once it is back (it is not restored at the next
//! start). At the bound ([`PENDING_CAP`] tours waiting) a remove takes the slot of the
//! oldest save waiting (a save is a snapshot the actor writes again on the next change);
//! what cannot be kept is refused with an error in the log.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use tokio::{
    sync::{Notify, oneshot},
    time::Instant,
};

use crate::tour::{LiveSession, SessionStore, StoreError};

/// Tours whose change may wait to be written (a few hundred times the tours cap).
pub const PENDING_CAP: usize = 10_000;
/// The longest one store call may take before it counts as failed.
pub const STORE_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The first pause after a failed write.
pub const RETRY_FIRST: Duration = Duration::from_millis(500);
/// The longest pause between tries while the store keeps failing.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

#[derive(Clone)]
enum StoreOp {
    Save(LiveSession),
    Remove,
}

/// A tour's operation waiting to be written.
struct Slot {
    op: StoreOp,
    /// Its place in the order of arrival (newer operations get higher numbers).
    seq: u64,
    /// It was tried and failed: it waits for the back-off.
    failed: bool,
}

/// What waits, behind the lock the actor and the task share.
#[derive(Default)]
struct Pending {
    slots: HashMap<u64, Slot>,
    /// Slots by `seq`, oldest first.
    order: BTreeMap<u64, u64>,
    next_seq: u64,
    /// The operation being written now (user, seq).
    writing: Option<(u64, u64)>,
    /// Barriers by the `seq` before which everything must have been tried once.
    barriers: Vec<(u64, oneshot::Sender<()>)>,
    /// Failed slots are not tried before then.
    retry_at: Option<Instant>,
    backoff: Duration,
    /// No writer handle is left: the task ends once every slot was tried.
    closed: bool,
}

impl Pending {
    /// Puts `op` in `user_id`'s slot; `false` when it had to be refused at the bound.
    fn put(&mut self, user_id: u64, op: StoreOp, cap: usize) -> bool {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(old) = self.slots.remove(&user_id) {
            self.order.remove(&old.seq);
        } else if self.slots.len() >= cap && !self.evict_a_save(&op) {
            return false;
        }
        self.order.insert(seq, user_id);
        let failed = false;
        self.slots.insert(user_id, Slot { op, seq, failed });
        true
    }

    /// Makes room for a remove by dropping the oldest save waiting.
    fn evict_a_save(&mut self, incoming: &StoreOp) -> bool {
        if matches!(incoming, StoreOp::Save(_)) {
            return false;
        }
        let oldest_save = self
            .order
            .iter()
            .find(|(_, user)| matches!(self.slots[*user].op, StoreOp::Save(_)))
            .map(|(seq, user)| (*seq, *user));
        let Some((seq, user)) = oldest_save else {
            return false;
        };
        tracing::error!(
            user_id = user,
            "tour change dropped: the store's backlog is full"
        );
        self.order.remove(&seq);
        self.slots.remove(&user);
        true
    }

    /// The oldest slot that may be written now, taken out; else when to look again.
    fn take_due(&mut self, now: Instant) -> Result<(u64, Slot), Option<Instant>> {
        let retry_now = self.retry_at.is_none_or(|at| at <= now);
        let due = self
            .order
            .iter()
            .find(|(_, user)| retry_now || !self.slots[*user].failed)
            .map(|(seq, user)| (*seq, *user));
        let Some((seq, user)) = due else {
            return Err(self.retry_at.filter(|_| !self.slots.is_empty()));
        };
        self.order.remove(&seq);
        let slot = self.slots.remove(&user).ok_or(None)?;
        self.writing = Some((user, seq));
        Ok((user, slot))
    }

    /// Records how writing `slot` went: a failure goes back in its slot unless a newer
    /// operation of the tour took it meanwhile.
    fn settle(&mut self, user_id: u64, mut slot: Slot, result: Result<(), StoreError>) {
        self.writing = None;
        match result {
            Ok(()) => {
                self.backoff = Duration::ZERO;
                self.retry_at = None;
            }
            Err(error) => {
                tracing::warn!(user_id, %error, "live session not persisted; will retry");
                self.backoff = (self.backoff * 2).clamp(RETRY_FIRST, RETRY_MAX);
                self.retry_at = Some(Instant::now() + self.backoff);
                if !self.slots.contains_key(&user_id) {
                    slot.failed = true;
                    self.order.insert(slot.seq, user_id);
                    self.slots.insert(user_id, slot);
                }
            }
        }
        self.answer_barriers();
    }

    /// Answers every barrier whose operations before it were all tried at least once.
    fn answer_barriers(&mut self) {
        let untried = self
            .order
            .iter()
            .find(|(_, user)| !self.slots[*user].failed)
            .map(|(seq, _)| *seq);
        let writing = self.writing.map(|(_, seq)| seq);
        let oldest = [untried, writing].into_iter().flatten().min();
        let (ready, waiting) = std::mem::take(&mut self.barriers)
            .into_iter()
            .partition(|(seq, _)| oldest.is_none_or(|oldest| oldest >= *seq));
        self.barriers = waiting;
        for (_, done) in ready {
            let _ = done.send(());
        }
    }

    fn finished(&self) -> bool {
        self.closed && self.slots.values().all(|slot| slot.failed)
    }
}

/// What the handles and the task share.
struct Shared {
    pending: Mutex<Pending>,
    wake: Notify,
    cap: usize,
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Closes the queue when the last [`SessionWriter`] clone is dropped.
struct Handle(Arc<Shared>);

impl Drop for Handle {
    fn drop(&mut self) {
        self.0.pending().closed = true;
        self.0.wake.notify_one();
    }
}

/// The actor's handle on the write-behind task. Cheap to clone.
#[derive(Clone)]
pub struct SessionWriter {
    handle: Arc<Handle>,
}

impl SessionWriter {
    /// Starts the writer task on the current runtime, bounded at [`PENDING_CAP`] tours.
    pub fn spawn(store: Arc<dyn SessionStore>) -> Self {
        Self::spawn_bounded(store, PENDING_CAP)
    }

    /// Starts the writer task with room for `cap` tours' changes.
    pub fn spawn_bounded(store: Arc<dyn SessionStore>, cap: usize) -> Self {
        let shared = Arc::new(Shared {
            pending: Mutex::default(),
            wake: Notify::new(),
            cap,
        });
        tokio::spawn(write_behind(store, Arc::clone(&shared)));
        Self {
            handle: Arc::new(Handle(shared)),
        }
    }

    /// Queues a save of `session`.
    pub fn save(&self, session: LiveSession) {
        self.put(session.user_id, StoreOp::Save(session));
    }

    /// Queues the removal of `user_id`'s session.
    pub fn remove(&self, user_id: u64) {
        self.put(user_id, StoreOp::Remove);
    }

    /// Tours whose change waits to be written (failed ones included).
    pub fn waiting(&self) -> usize {
        self.shared().pending().slots.len()
    }

    /// Completes once everything queued so far was tried at least once (a write that failed
    /// stays queued for retry), or the writer is gone.
    pub fn flushed(&self) -> impl Future<Output = ()> + use<> {
        let (done, wait) = oneshot::channel();
        let mut pending = self.shared().pending();
        let seq = pending.next_seq;
        pending.barriers.push((seq, done));
        pending.answer_barriers();
        drop(pending);
        self.shared().wake.notify_one();
        async move {
            let _ = wait.await;
        }
    }

    fn shared(&self) -> &Shared {
        &self.handle.0
    }

    fn put(&self, user_id: u64, op: StoreOp) {
        let shared = self.shared();
        if !shared.pending().put(user_id, op, shared.cap) {
            tracing::error!(
                user_id,
                "tour change not saved: the store's backlog is full"
            );
        }
        shared.wake.notify_one();
    }
}

async fn write_behind(store: Arc<dyn SessionStore>, shared: Arc<Shared>) {
    loop {
        let next = {
            let mut pending = shared.pending();
            if pending.finished() {
                return;
            }
            pending.take_due(Instant::now())
        };
        match next {
            Ok((user_id, slot)) => {
                let result = apply(store.as_ref(), user_id, &slot.op).await;
                shared.pending().settle(user_id, slot, result);
            }
            Err(Some(until)) => {
                tokio::select! {
                    () = tokio::time::sleep_until(until) => {}
                    () = shared.wake.notified() => {}
                }
            }
            Err(None) => shared.wake.notified().await,
        }
    }
}

async fn apply(store: &dyn SessionStore, user_id: u64, op: &StoreOp) -> Result<(), StoreError> {
    let call = match op {
        StoreOp::Save(session) => store.save(session.clone()),
        StoreOp::Remove => store.remove(user_id),
    };
    tokio::time::timeout(STORE_CALL_TIMEOUT, call)
        .await
        .unwrap_or(Err(StoreError::TimedOut))
}

#[cfg(test)]
mod tests;
