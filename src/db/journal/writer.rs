//! The journal's writer: takes everything waiting (up to [`MAX_GROUP`]) and commits it in one
//! transaction, answers the writers, and retries removals that failed.

use std::{collections::HashSet, sync::Arc, sync::atomic::Ordering, time::Duration};

use sea_orm::DatabaseConnection;
use tokio::sync::{Mutex, mpsc::UnboundedReceiver, oneshot};

use super::{DOWN_PAUSE, NewEntry, State, store};
use crate::db::{DbError, now_ms};

/// Most operations committed in one transaction.
const MAX_GROUP: usize = 512;
/// Pause before removals that failed are tried again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

/// What the writer is asked to do.
pub enum Op {
    /// Write an entry; answer `true` when it was new.
    Write {
        entry: NewEntry,
        done: oneshot::Sender<Result<bool, DbError>>,
    },
    /// Remove an entry.
    Remove(u32),
    /// Commit what waits and stop.
    Close(oneshot::Sender<()>),
}

/// One transaction's worth.
#[derive(Default)]
struct Group {
    entries: Vec<NewEntry>,
    waiting: Vec<oneshot::Sender<Result<bool, DbError>>>,
    removals: Vec<u32>,
    close: Option<oneshot::Sender<()>>,
}

impl Group {
    fn add(&mut self, op: Op) {
        match op {
            Op::Write { entry, done } => {
                self.entries.push(entry);
                self.waiting.push(done);
            }
            Op::Remove(update_id) => self.removals.push(update_id),
            Op::Close(done) => self.close = Some(done),
        }
    }

    fn len(&self) -> usize {
        self.entries.len() + self.removals.len()
    }
}

/// One writer: takes a group from the shared queue (holding it only while it collects), then
/// commits it while the next writer collects the next group. Runs until [`Op::Close`] (the
/// writer that takes it closes the queue, commits, waits for the others' commits and answers)
/// or until the queue is closed and drained.
pub async fn run(
    db: DatabaseConnection,
    ops: Arc<Mutex<UnboundedReceiver<Op>>>,
    state: Arc<State>,
) {
    let mut retry: Vec<u32> = Vec::new();
    loop {
        let (mut group, drained, committing) = {
            let mut ops = ops.lock().await;
            let (group, drained) = collect(&mut ops, std::mem::take(&mut retry)).await;
            if group.close.is_some() {
                ops.close();
            }
            // Taken before the queue is let go, so the closing writer cannot miss this commit.
            (group, drained, state.committing.read().await)
        };
        let close = group.close.take();
        retry = commit(&db, group, &state).await;
        drop(committing);
        if let Some(close) = close {
            // Every other writer's commit is done once no read guard is held.
            drop(state.committing.write().await);
            let _ = close.send(());
            return;
        }
        if drained {
            return;
        }
    }
}

/// Waits for an operation (or, with removals to retry, at most [`RETRY_PAUSE`]), then takes
/// whatever else waits, up to [`MAX_GROUP`]; the flag says the queue is closed and empty.
async fn collect(ops: &mut UnboundedReceiver<Op>, retry: Vec<u32>) -> (Group, bool) {
    let first = if retry.is_empty() {
        ops.recv().await
    } else {
        tokio::time::timeout(RETRY_PAUSE, ops.recv())
            .await
            .unwrap_or(None)
    };
    let drained = first.is_none() && ops.is_closed();
    let mut group = Group {
        removals: retry,
        ..Group::default()
    };
    if let Some(op) = first {
        group.add(op);
    }
    while group.len() < MAX_GROUP && group.close.is_none() {
        match ops.try_recv() {
            Ok(op) => group.add(op),
            Err(_) => break,
        }
    }
    (group, drained)
}

/// Commits `group`, answers its writers and updates the gauges; returns the removals to try
/// again.
async fn commit(db: &DatabaseConnection, group: Group, state: &State) -> Vec<u32> {
    if group.len() == 0 {
        return Vec::new();
    }
    match store::commit(db, &group.entries, &group.removals).await {
        Ok(inserted) => {
            state.commits.fetch_add(1, Ordering::Relaxed);
            settle(state, &group.entries, &inserted, &group.removals);
            for (entry, done) in group.entries.iter().zip(group.waiting) {
                let _ = done.send(Ok(inserted.contains(&entry.update_id)));
            }
            Vec::new()
        }
        Err(error) => {
            state.reach.saw(&error);
            let error = DbError::from(error);
            let down_until = now_ms() + i64::try_from(DOWN_PAUSE.as_millis()).unwrap_or(1000);
            state.down_until.store(down_until, Ordering::Relaxed);
            tracing::warn!(
                %error,
                entries = group.entries.len(),
                removals = group.removals.len(),
                "journal commit failed: updates handled unjournaled for a second"
            );
            for done in group.waiting {
                let _ = done.send(Err(error.clone()));
            }
            group.removals
        }
    }
}

/// Records what the commit changed and publishes the gauges.
fn settle(state: &State, entries: &[NewEntry], inserted: &HashSet<u32>, removals: &[u32]) {
    {
        let mut live = state.live();
        for entry in entries
            .iter()
            .filter(|entry| inserted.contains(&entry.update_id))
        {
            live.insert(entry.update_id, entry.received_at);
        }
        for update_id in removals {
            live.remove(update_id);
        }
    }
    state.publish();
}
