//! The live-tour actors: the sessions and the guide that tells their stories, on the actors'
//! arbiter (see `services`): the guide never blocks, so its story I/O never holds up the
//! tours' timers.

use std::{sync::Arc, time::Duration};

use actix::{Addr, ArbiterHandle};

use crate::{
    actors::{
        live_sessions::{Clock, Guide, LiveLocationSessions, Shutdown},
        supervision::Supervision,
    },
    config::Settings,
    facts::{StorySteps, tour::TourGuide},
    tour::SessionStore,
    users::UserStore,
};

/// Longest the shutdown waits for live tours to reach their store.
const TOURS_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The running tour actors.
pub struct TourActors {
    /// The tours, for the router.
    pub sessions: Addr<LiveLocationSessions>,
    /// The guide telling their stories (for the crash switch).
    #[cfg(feature = "fault-injection")]
    pub guide: Addr<TourGuide>,
}

impl TourActors {
    /// Starts the guide and the sessions actor on `arbiter`; the sessions actor restores the
    /// tours in `store`.
    pub fn start(
        arbiter: &ArbiterHandle,
        supervision: &Supervision,
        settings: &Settings,
        store: Arc<dyn SessionStore>,
        steps: StorySteps,
        users: &UserStore,
    ) -> Self {
        let (users, db) = (users.clone(), users.db());
        let guide = supervision
            .start_in_arbiter(arbiter, "guide", move |_| TourGuide::new(steps, users, db));
        let (recipients, live) = (Guide::of(&guide), settings.live);
        if live.time_scale != 1 {
            tracing::warn!(
                scale = live.time_scale,
                "TOUR_TIME_SCALE is set: tours run faster than the clock (simulation only)"
            );
        }
        let clock = Clock::scaled(live.time_scale);
        let sessions = supervision.start_in_arbiter(arbiter, "tours", move |_| {
            LiveLocationSessions::new(live, store, recipients, clock)
        });
        Self {
            sessions,
            #[cfg(feature = "fault-injection")]
            guide,
        }
    }

    /// Writes every tour to the store; the actors stop with their arbiter.
    pub async fn stop(self) {
        match tokio::time::timeout(TOURS_DRAIN_TIMEOUT, self.sessions.send(Shutdown)).await {
            Ok(Ok(())) => tracing::info!("live tours saved"),
            Ok(Err(error)) => tracing::warn!(%error, "live tours not drained"),
            Err(_) => tracing::warn!("live tours not saved in time"),
        }
    }
}
