//! The live-tour actors: the sessions and the guide that tells their stories, each on an
//! arbiter of its own so story I/O never shares a thread with the tours' timers.

use std::{sync::Arc, time::Duration};

use actix::{Addr, Arbiter, Supervisor};

use crate::{
    actors::db_actor::DbActor,
    actors::live_sessions::{
        Clock, Guide, LiveLocationSessions, SessionStore, Shutdown, TourGuide,
    },
    config::Settings,
    facts::Storyteller,
    telegram::Outbox,
    users::UserStore,
};

/// Longest the shutdown waits for live tours to reach their store.
const TOURS_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The running tour actors.
pub struct TourActors {
    /// The tours, for the router.
    pub sessions: Addr<LiveLocationSessions>,
    arbiters: Vec<Arbiter>,
}

impl TourActors {
    /// Starts the guide and the sessions actor, which restores the tours in `store`.
    pub fn start(
        settings: &Settings,
        store: Arc<dyn SessionStore>,
        stories: Arc<Storyteller>,
        outbox: Outbox,
        users: UserStore,
        db: Addr<DbActor>,
    ) -> Self {
        let guide_arbiter = Arbiter::new();
        let guide = Supervisor::start_in_arbiter(&guide_arbiter.handle(), move |_| {
            TourGuide::new(stories, outbox, users, db)
        });
        let guide = Guide::of(&guide);
        let live = settings.live;
        let sessions_arbiter = Arbiter::new();
        let sessions = Supervisor::start_in_arbiter(&sessions_arbiter.handle(), move |_| {
            LiveLocationSessions::new(live, store, guide, Clock::new())
        });
        Self {
            sessions,
            arbiters: vec![sessions_arbiter, guide_arbiter],
        }
    }

    /// Writes every tour to the store, then stops the actors.
    pub async fn stop(self) {
        match tokio::time::timeout(TOURS_DRAIN_TIMEOUT, self.sessions.send(Shutdown)).await {
            Ok(Ok(())) => tracing::info!("live tours saved"),
            Ok(Err(error)) => tracing::warn!(%error, "live tours not drained"),
            Err(_) => tracing::warn!("live tours not saved in time"),
        }
        for arbiter in self.arbiters {
            arbiter.stop();
        }
    }
}
