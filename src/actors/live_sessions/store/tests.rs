//! The writer against a store that fails while "the database is down", on tokio's paused
//! clock.
#![allow(clippy::unwrap_used)]

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};

use super::SessionWriter;
use crate::{
    geo::Coordinates,
    i18n::Lang,
    tour::{InMemorySessionStore, LiveSession, PositionFix, SessionStore, StoreError},
};

/// An in-memory store whose writes fail while `down` is set (reads always work).
#[derive(Default)]
struct FlakyStore {
    rows: InMemorySessionStore,
    down: AtomicBool,
    /// Writes that reached the store, failed ones included.
    writes: AtomicUsize,
}

impl FlakyStore {
    fn write<'a>(
        &'a self,
        op: impl FnOnce(&'a InMemorySessionStore) -> BoxFuture<'a, Result<(), StoreError>>,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            let error: Box<dyn std::error::Error + Send + Sync> = "database down".into();
            return async move { Err(StoreError::Backend(Arc::from(error))) }.boxed();
        }
        op(&self.rows)
    }
}

impl SessionStore for FlakyStore {
    fn save(&self, session: LiveSession) -> BoxFuture<'_, Result<(), StoreError>> {
        self.write(move |rows| rows.save(session))
    }

    fn remove(&self, user_id: u64) -> BoxFuture<'_, Result<(), StoreError>> {
        self.write(move |rows| rows.remove(user_id))
    }

    fn load_all(&self) -> BoxFuture<'_, Result<Vec<LiveSession>, StoreError>> {
        self.rows.load_all()
    }
}

fn session(user_id: u64) -> LiveSession {
    let fix = PositionFix {
        position: Coordinates::new(55.75, 37.61).unwrap(),
        heading: None,
        date: 1_700_000_000,
    };
    LiveSession::new(user_id, user_id as i64, Lang::En, fix, 0)
}

async fn stored_users(store: &FlakyStore) -> Vec<u64> {
    let mut users: Vec<u64> = store
        .load_all()
        .await
        .unwrap()
        .iter()
        .map(|session| session.user_id)
        .collect();
    users.sort_unstable();
    users
}

#[tokio::test(start_paused = true)]
async fn a_remove_that_failed_is_retried_so_an_ended_tour_does_not_come_back() {
    let store = Arc::new(FlakyStore::default());
    let writer = SessionWriter::spawn(Arc::clone(&store) as Arc<dyn SessionStore>);
    writer.save(session(1));
    writer.flushed().await;
    assert_eq!(stored_users(&store).await, [1]);

    store.down.store(true, Ordering::SeqCst);
    writer.remove(1);
    writer.flushed().await;
    store.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(60)).await;

    assert_eq!(
        stored_users(&store).await,
        Vec::<u64>::new(),
        "the ended tour would be restored at the next start"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_save_is_retried_unless_a_newer_change_of_the_tour_replaced_it() {
    let store = Arc::new(FlakyStore::default());
    let writer = SessionWriter::spawn(Arc::clone(&store) as Arc<dyn SessionStore>);
    store.down.store(true, Ordering::SeqCst);
    writer.save(session(1));
    writer.save(session(2));
    writer.flushed().await;
    writer.remove(2);
    store.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(60)).await;

    assert_eq!(stored_users(&store).await, [1]);
}

#[tokio::test(start_paused = true)]
async fn while_the_store_is_down_retries_back_off_instead_of_spinning() {
    let store = Arc::new(FlakyStore::default());
    let writer = SessionWriter::spawn(Arc::clone(&store) as Arc<dyn SessionStore>);
    store.down.store(true, Ordering::SeqCst);
    writer.save(session(1));
    writer.flushed().await;

    tokio::time::sleep(Duration::from_secs(120)).await;

    // 0.5 s doubling to 30 s: about 10 tries in two minutes, not thousands.
    let writes = store.writes.load(Ordering::SeqCst);
    assert!((3..=15).contains(&writes), "{writes} writes in 2 minutes");
}

#[tokio::test(start_paused = true)]
async fn past_its_bound_the_writer_keeps_removes_and_refuses_new_tours_saves() {
    let store = Arc::new(FlakyStore::default());
    store.down.store(true, Ordering::SeqCst);
    let writer = SessionWriter::spawn_bounded(Arc::clone(&store) as Arc<dyn SessionStore>, 3);
    for user_id in 1..=3 {
        writer.save(session(user_id));
    }
    writer.save(session(4));
    writer.remove(5);
    assert_eq!(writer.waiting(), 3, "the bound holds");
    store.down.store(false, Ordering::SeqCst);
    writer.flushed().await;
    tokio::time::sleep(Duration::from_secs(60)).await;

    // The newest save past the bound was refused, and a remove took the place of a save.
    let stored = stored_users(&store).await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(!stored.contains(&4), "{stored:?}");
}
