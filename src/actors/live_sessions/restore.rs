//! Restoring tours from the store: at start-up (downtime is not inactivity) and after a
//! supervised restart (then once every change handed to the store is written, with the
//! stories still in flight given back to their tours).

use actix::prelude::*;

use super::{LiveLocationSessions, RESTORE_TIMEOUT, SessionWriter};
use crate::tour::{LiveSession, StoreError};

impl LiveLocationSessions {
    /// Reads the store (holding other messages until done) and adopts every tour in it.
    pub(super) fn restore(&mut self, ctx: &mut Context<Self>) {
        let store = std::sync::Arc::clone(&self.store);
        let written = self.writer.as_ref().map(SessionWriter::flushed);
        let load = async move {
            if let Some(written) = written {
                written.await;
            }
            match tokio::time::timeout(RESTORE_TIMEOUT, store.load_all()).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::TimedOut),
            }
        };
        ctx.wait(load.into_actor(self).map(|loaded, act, ctx| {
            match loaded {
                Ok(sessions) => act.adopt_restored(sessions, ctx),
                Err(error) => tracing::error!(%error, "live tours not restored"),
            }
            act.give_back_carried();
            if !act.buffer.is_empty() {
                act.flush(ctx);
            }
        }));
    }

    /// Stories in flight across a restart go back to their restored tours; a tour that is
    /// gone from the store has ended, so its story is cancelled.
    fn give_back_carried(&mut self) {
        for (user_id, story) in std::mem::take(&mut self.carried) {
            match self.tours.get_mut(&user_id) {
                Some(tour) => tour.story = Some(story),
                None => story.cancel.cancel(),
            }
        }
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
}
