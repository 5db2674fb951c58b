//! Restoring tours: from the store at start-up (downtime is not inactivity), and their timers
//! after a supervised restart.

use actix::prelude::*;

use super::{LiveLocationSessions, RESTORE_TIMEOUT};
use crate::tour::{LiveSession, StoreError};

impl LiveLocationSessions {
    /// Reads the store (holding other messages until done) and adopts every tour in it.
    pub(super) fn restore(&mut self, ctx: &mut Context<Self>) {
        let store = std::sync::Arc::clone(&self.store);
        let load = async move {
            match tokio::time::timeout(RESTORE_TIMEOUT, store.load_all()).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::TimedOut),
            }
        };
        ctx.wait(load.into_actor(self).map(|loaded, act, ctx| {
            act.restored = true;
            match loaded {
                Ok(sessions) => act.adopt_restored(sessions, ctx),
                Err(error) => tracing::error!(%error, "live tours not restored"),
            }
        }));
    }

    fn adopt_restored(&mut self, sessions: Vec<LiveSession>, ctx: &mut Context<Self>) {
        let now = self.clock.now_ms();
        let count = sessions.len();
        for mut session in sessions {
            let user_id = session.user_id;
            session.credit_downtime(now);
            self.adopt(session, ctx);
            self.on_end_check(user_id, ctx);
        }
        if count > 0 {
            tracing::info!(
                restored = count,
                active = self.tours.len(),
                "live tours restored"
            );
        }
    }

    /// After a supervised restart: every tour's timers again.
    pub(super) fn rearm_all(&mut self, ctx: &mut Context<Self>) {
        let users: Vec<u64> = self.tours.keys().copied().collect();
        for user_id in users {
            self.arm_tick(user_id, ctx);
            self.arm_end_check(user_id, ctx);
        }
        if !self.buffer.is_empty() {
            self.flush(ctx);
        }
    }
}
