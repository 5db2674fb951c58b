//! Test-only: [`Crash`] makes an actor panic in one of the places a handler's code runs, so
//! the tests can show each actor restarts and serves the next request. Compiled only with the
//! `fault-injection` feature (the integration tests enable it); the bot as built for
//! production has no such message.

use actix::{
    Actor, AsyncContext, Context, Message, ResponseActFuture, ResponseFuture,
    dev::{MessageResponse, OneshotSender},
    fut::wrap_future,
};

use super::contained;

/// Where the panic happens (or, for `Stall`, how long the actor holds its mailbox).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Message)]
#[rtype(result = "()")]
pub enum Crash {
    /// In the handler's synchronous body.
    InHandler,
    /// In the future the handler returns (a `ResponseFuture`, run as a task of its own).
    InReturnedFuture,
    /// In the actor future the handler returns (a `ResponseActFuture`, run on the context).
    InActorFuture,
    /// In a future the handler spawned on its context (`ctx.spawn`); the handler answers.
    InSpawnedFuture,
    /// No panic: the handler answers, then the actor holds its mailbox for this long (a
    /// `ctx.wait`), as a stuck actor would.
    Stall(std::time::Duration),
}

/// What a [`Crash`] handler returns: the future that will panic, of the kind asked for.
#[doc(hidden)]
pub enum Struck<A: Actor> {
    /// A task of its own.
    Detached(ResponseFuture<()>),
    /// An actor future.
    OnContext(ResponseActFuture<A, ()>),
    /// Answered at once.
    Answered,
}

impl Crash {
    /// Panics now, or returns (or spawns) the future that will.
    pub fn strike<A: Actor<Context = Context<A>>>(self, ctx: &mut Context<A>) -> Struck<A> {
        match self {
            Crash::InHandler => panic!("injected panic in a handler"),
            Crash::InReturnedFuture => Struck::Detached(contained(ctx, async {
                tokio::task::yield_now().await;
                panic!("injected panic in a returned future")
            })),
            Crash::InActorFuture => Struck::OnContext(Box::pin(wrap_future(async {
                tokio::task::yield_now().await;
                panic!("injected panic in an actor future")
            }))),
            Crash::InSpawnedFuture => {
                ctx.spawn(wrap_future(async {
                    tokio::task::yield_now().await;
                    panic!("injected panic in a spawned future")
                }));
                Struck::Answered
            }
            Crash::Stall(pause) => {
                ctx.wait(wrap_future(tokio::time::sleep(pause)));
                Struck::Answered
            }
        }
    }
}

impl<A: Actor<Context = Context<A>>> MessageResponse<A, Crash> for Struck<A> {
    fn handle(self, ctx: &mut Context<A>, tx: Option<OneshotSender<()>>) {
        match self {
            Struck::Detached(work) => MessageResponse::<A, Crash>::handle(work, ctx, tx),
            Struck::OnContext(work) => MessageResponse::<A, Crash>::handle(work, ctx, tx),
            Struck::Answered => MessageResponse::<A, Crash>::handle((), ctx, tx),
        }
    }
}

/// `impl Handler<Crash>` for each actor named, answering with [`Crash::strike`].
#[doc(hidden)]
#[macro_export]
macro_rules! crash_handlers {
    ($($actor:ty),+ $(,)?) => {$(
        impl ::actix::Handler<$crate::actors::supervision::crash::Crash> for $actor {
            type Result = $crate::actors::supervision::crash::Struck<Self>;

            fn handle(
                &mut self,
                crash: $crate::actors::supervision::crash::Crash,
                ctx: &mut Self::Context,
            ) -> Self::Result {
                crash.strike(ctx)
            }
        }
    )+};
}
