//! Test-only (`fault-injection`): a handle that makes a named actor panic, for the tests that
//! show every actor restarts and serves the next request.

use std::future::Future;

use actix::{MailboxError, Recipient};
use actix_web::dev::ServerHandle;
use tokio_util::sync::CancellationToken;

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
    /// The webhook's HTTP server, to end it as if it stopped by itself.
    server: ServerHandle,
    /// Cancelled to make the long-polling task panic.
    polling: CancellationToken,
}

impl CrashSwitch {
    pub(super) fn new(services: &Services, tours: &TourActors, server: ServerHandle) -> Self {
        let mut actors: Vec<(&'static str, Recipient<Crash>)> = vec![
            ("db", services.db.clone().recipient()),
            ("cache", services.cache.clone().recipient()),
            ("tours", tours.sessions.clone().recipient()),
            ("guide", tours.guide.clone().recipient()),
        ];
        if let Some(gate) = &services.gate {
            actors.push(("gate", gate.clone().recipient()));
        }
        Self {
            actors,
            server,
            polling: CancellationToken::new(),
        }
    }

    /// Ends the HTTP server at once, as if it had stopped by itself (not by a shutdown).
    pub async fn end_http_server(&self) {
        self.server.stop(false).await;
    }

    /// Makes the long-polling task panic.
    pub fn panic_polling(&self) {
        self.polling.cancel();
    }

    /// `polling`, which panics once [`Self::panic_polling`] is called.
    pub(super) fn panicking<F: Future<Output = ()>>(
        &self,
        polling: F,
    ) -> impl Future<Output = ()> + use<F> {
        let (panic, polling) = (self.polling.clone(), Box::pin(polling));
        async move {
            tokio::select! {
                () = polling => {}
                () = panic.cancelled() => panic!("injected panic in the polling task"),
            }
        }
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
