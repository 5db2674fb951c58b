//! The bot's figures at one moment, gathered in one place for both `/stats` and `GET /metrics`:
//! each actor's own snapshot (the fact cache's hits, the gate's queues and permits, the tours
//! running, the database buffer) and the outbox's. Nothing here counts; the actors do, and
//! both readers see the same numbers.

use std::time::Duration;

use actix::{Actor, Addr, Handler, Message, dev::ToEnvelope};

use super::context::Context;
use crate::{
    actors::{
        db_actor::BufferedRows,
        fact_cache::{CacheSnapshot, Stats as CacheStats},
        live_sessions::{SessionsSnapshot, SessionsStats},
        openai_gate::{GateSnapshot, GateStats},
    },
    telegram::outbox::OutboxSnapshot,
};

/// Longest an actor may take to give its figures; a scrape must not hang on a stuck mailbox.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// What every part of the bot reports about itself; `None` when that actor did not answer
/// (logged) or, for the gate, when there is no LLM.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Fact-cache hits and misses by level.
    pub cache: Option<CacheSnapshot>,
    /// The LLM gate's queues, permits, breaker and counters.
    pub gate: Option<GateSnapshot>,
    /// Live tours.
    pub tours: Option<SessionsSnapshot>,
    /// Rows waiting in the database's write-behind buffer.
    pub db_buffered: Option<usize>,
    /// The send queue, 429s and pauses.
    pub outbox: OutboxSnapshot,
}

impl Figures {
    /// Asks every actor at once.
    pub async fn gather(ctx: &Context) -> Self {
        let gate = async {
            match &ctx.gate {
                Some(gate) => ask(gate, GateStats, "the LLM gate").await,
                None => None,
            }
        };
        let (cache, gate, tours, db_buffered) = tokio::join!(
            ask(&ctx.cache, CacheStats, "the fact cache"),
            gate,
            ask(&ctx.tours, SessionsStats, "the tours actor"),
            ask(&ctx.db, BufferedRows, "the database actor"),
        );
        Self {
            cache,
            gate,
            tours,
            db_buffered,
            outbox: ctx.outbox.snapshot(),
        }
    }
}

/// `message`'s answer from `actor`, or `None` (logged) when it does not come in time.
async fn ask<A, M>(actor: &Addr<A>, message: M, who: &'static str) -> Option<M::Result>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    match tokio::time::timeout(ASK_TIMEOUT, actor.send(message)).await {
        Ok(Ok(answer)) => Some(answer),
        Ok(Err(error)) => {
            tracing::error!(%error, actor = who, "unreachable; its figures are left out");
            None
        }
        Err(_) => {
            tracing::error!(actor = who, "no figures in time; they are left out");
            None
        }
    }
}
