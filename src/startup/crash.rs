//! Test-only (`fault-injection`): a handle that makes a named actor panic, for the tests that
//! show every actor restarts and serves the next request.

use actix::{MailboxError, Recipient};

use super::{Services, TourActors};
use crate::{
    actors::{
        db_actor::DbActor, fact_cache::FactCache, live_sessions::LiveLocationSessions,
        openai_gate::OpenAiGate, supervision::crash::Crash,
    },
    facts::tour::TourGuide,
};

crate::crash_handlers!(
    DbActor,
    FactCache,
    OpenAiGate,
    LiveLocationSessions,
    TourGuide
);

/// Makes the actors of one application panic on demand.
#[doc(hidden)]
#[derive(Clone)]
pub struct CrashSwitch {
    actors: Vec<(&'static str, Recipient<Crash>)>,
}

impl CrashSwitch {
    pub(super) fn new(services: &Services, tours: &TourActors) -> Self {
        let mut actors: Vec<(&'static str, Recipient<Crash>)> = vec![
            ("db", services.db.clone().recipient()),
            ("cache", services.cache.clone().recipient()),
            ("tours", tours.sessions.clone().recipient()),
            ("guide", tours.guide.clone().recipient()),
        ];
        if let Some(gate) = &services.gate {
            actors.push(("gate", gate.clone().recipient()));
        }
        Self { actors }
    }

    /// Makes `actor` (`db`, `cache`, `gate`, `tours`, `guide`) panic as `crash` says; answers
    /// what its `send` answered (`MailboxError` when the panic took the answer with it).
    ///
    /// # Panics
    /// When no actor has that name.
    pub async fn crash(&self, actor: &str, crash: Crash) -> Result<(), MailboxError> {
        let Some((_, recipient)) = self.actors.iter().find(|(name, _)| *name == actor) else {
            panic!("no actor named {actor}");
        };
        recipient.send(crash).await
    }
}
