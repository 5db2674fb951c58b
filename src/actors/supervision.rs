//! Supervision that really restarts: every actor runs under [`Supervision::start_in_arbiter`].
//!
//! actix's own `Supervisor` restarts an actor only when its context *stops*; a panic in a
//! handler unwinds out of the actor's future instead, the task dies and the mailbox with it
//! (`send` fails forever, `do_send` drops silently, `restarting` never runs). Here the
//! actor's future is polled inside `catch_unwind`, so whatever runs on the actor's context
//! (a handler's synchronous body, a `ResponseActFuture`, a future spawned with `ctx.spawn`,
//! a timer) panics into the supervisor, which restarts the actor behind the same address:
//! the futures of the old context are dropped (their waiters get `MailboxError`, never a
//! hang), `Supervised::restarting` rebuilds the actor's transient state and `started` runs
//! again. A handler's `ResponseFuture` runs as a task of its own, outside the context; built
//! with [`contained`], its panic is carried back into the context and restarts the actor the
//! same way. The actor value itself is kept: what must survive a restart (the write-behind
//! buffer, the tours' store) is never lost by one. An actor that stops on purpose (its
//! context stopped, as the tours actor does at shutdown) stays stopped.
//!
//! Restart intensity as in OTP: more than [`RestartLimits::max_restarts`] panics of one
//! actor within [`RestartLimits::window`] mark the service not ready (logged as an error);
//! still over the limit [`RestartLimits::give_up_after`] after it went over, the supervision
//! gives up ([`Supervision::given_up`]) and the application exits non-zero, so the platform
//! restarts the process. Each restart counts `excursobot_actor_restarts_total{actor}`.

#[cfg(feature = "fault-injection")]
pub mod crash;
mod intensity;

use std::{
    any::Any,
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{self, Poll},
    time::{Duration, Instant},
};

use actix::{
    Actor, Addr, ArbiterHandle, AsyncContext, Context, Handler, Message, Recipient, ResponseFuture,
    Supervised,
    dev::{ContextFut, channel},
    fut::ActorFutureExt,
};
use futures::{FutureExt, future::join_all};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::{config::RestartLimits, telemetry::panics};
use intensity::{ActorRecord, Verdict};

pub use intensity::{ActorReport, ActorState};

/// Messages a mailbox holds before `send` waits (actix's default, not exported by actix).
const MAILBOX_CAPACITY: usize = 16;
/// Longest an actor may take to answer a [`Probe`] before it counts as unresponsive.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Answered at once by every supervised actor: [`Supervision::check`] sends it to tell a
/// mailbox that is served from one held up (`answers_probes!` implements the handler).
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "()")]
pub struct Probe;

/// The registry of supervised actors: their restarts, readiness and the decision to give up.
/// Cheap to clone; one per application.
#[derive(Clone)]
pub struct Supervision {
    inner: Arc<Registry>,
}

/// One supervised actor: its record and where to probe it.
struct Entry {
    record: Arc<ActorRecord>,
    probe: Recipient<Probe>,
}

struct Registry {
    limits: RestartLimits,
    actors: Mutex<Vec<Entry>>,
    /// Cancelled when an actor stayed over its restart limit past `give_up_after`.
    given_up: CancellationToken,
    /// Which actor made us give up, for the exit message.
    culprit: Mutex<Option<&'static str>>,
}

impl Supervision {
    /// A registry applying `limits` to every actor started through it.
    pub fn new(limits: RestartLimits) -> Self {
        Self {
            inner: Arc::new(Registry {
                limits,
                actors: Mutex::default(),
                given_up: CancellationToken::new(),
                culprit: Mutex::default(),
            }),
        }
    }

    /// Starts the actor `make` builds on `arbiter`, supervised under `name` (as in `/readyz`
    /// and the restart metric); like actix's `Supervisor::start_in_arbiter`, plus panics.
    pub fn start_in_arbiter<A, F>(
        &self,
        arbiter: &ArbiterHandle,
        name: &'static str,
        make: F,
    ) -> Addr<A>
    where
        A: Actor<Context = Context<A>> + Supervised + Handler<Probe>,
        F: FnOnce(&mut Context<A>) -> A + Send + 'static,
    {
        let record = Arc::new(ActorRecord::new(name));
        let registered = Arc::clone(&record);
        let registry = Arc::clone(&self.inner);
        let (sender, receiver) = channel::channel(MAILBOX_CAPACITY);
        arbiter.spawn_fn(move || {
            let mut ctx = Context::with_receiver(receiver);
            let actor = make(&mut ctx);
            let fut = ctx.into_future(actor);
            actix_rt::spawn(Restarting {
                fut,
                record,
                registry,
            });
        });
        let address = Addr::new(sender);
        lock(&self.inner.actors).push(Entry {
            record: registered,
            probe: address.clone().recipient(),
        });
        address
    }

    /// Every actor's state now, in the order they were started, from its restarts alone.
    pub fn report(&self) -> Vec<ActorReport> {
        self.entries().0
    }

    /// [`Supervision::report`], with each running actor asked to answer a [`Probe`] within
    /// [`PROBE_TIMEOUT`]: one that does not is [`ActorState::Unresponsive`].
    pub async fn check(&self) -> Vec<ActorReport> {
        let (mut reports, probes) = self.entries();
        let asked = probes
            .iter()
            .map(|probe| tokio::time::timeout(PROBE_TIMEOUT, probe.send(Probe)));
        for (report, answer) in reports.iter_mut().zip(join_all(asked).await) {
            if report.state == ActorState::Running && !matches!(answer, Ok(Ok(()))) {
                report.state = ActorState::Unresponsive;
            }
        }
        reports
    }

    fn entries(&self) -> (Vec<ActorReport>, Vec<Recipient<Probe>>) {
        let now = Instant::now();
        let actors = lock(&self.inner.actors);
        actors
            .iter()
            .map(|actor| {
                let report = actor.record.report(now, &self.inner.limits);
                (report, actor.probe.clone())
            })
            .unzip()
    }

    /// Completes once an actor kept failing past `give_up_after`; answers its name.
    pub fn given_up(&self) -> impl Future<Output = &'static str> + use<> {
        let inner = Arc::clone(&self.inner);
        async move {
            inner.given_up.cancelled().await;
            lock(&inner.culprit).unwrap_or("an actor")
        }
    }
}

impl Registry {
    /// Counts a restart of `record`'s actor and acts on the verdict.
    fn restarted(&self, record: &ActorRecord, panic: &str) {
        metrics::counter!("excursobot_actor_restarts_total", "actor" => record.name).increment(1);
        let actor = record.name;
        match record.restarted(Instant::now(), &self.limits) {
            Verdict::Within => {
                tracing::error!(
                    actor,
                    panic,
                    "actor panicked; restarted behind the same address"
                );
            }
            Verdict::OverLimit => tracing::error!(
                actor,
                panic,
                max_restarts = self.limits.max_restarts,
                window_secs = self.limits.window.as_secs(),
                "actor restarting too often: not ready"
            ),
            Verdict::GiveUp => {
                tracing::error!(
                    actor,
                    panic,
                    "actor keeps failing: giving up, the process exits"
                );
                lock(&self.culprit).get_or_insert(actor);
                self.given_up.cancel();
            }
        }
    }
}

/// The supervised actor's future: polls its context inside `catch_unwind` and restarts it
/// after a panic. Unlike actix's `Supervisor`, an actor that stops on purpose is not
/// restarted.
struct Restarting<A: Actor<Context = Context<A>> + Supervised> {
    fut: ContextFut<A, Context<A>>,
    record: Arc<ActorRecord>,
    registry: Arc<Registry>,
}

impl<A: Actor<Context = Context<A>> + Supervised> Future for Restarting<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let polled =
                std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut this.fut).poll(cx)));
            match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                // It stopped on purpose (the tours' `Shutdown`): it stays stopped.
                Ok(Poll::Ready(())) => {
                    this.record.stopped();
                    return Poll::Ready(());
                }
                Err(panic) => this.restarted(&*panic),
            }
            match std::panic::catch_unwind(AssertUnwindSafe(|| this.fut.restart())) {
                Ok(true) => {}
                // No address left: nobody can send it anything, so it ends for good.
                Ok(false) => {
                    this.record.stopped();
                    return Poll::Ready(());
                }
                // `restarting` itself (or a dropped future's `Drop`) panicked: the context
                // is reset already; `started` runs at the next poll, after other tasks ran.
                Err(panic) => {
                    this.restarted(&*panic);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }
}

impl<A: Actor<Context = Context<A>> + Supervised> Restarting<A> {
    fn restarted(&self, panic: &(dyn Any + Send)) {
        self.registry
            .restarted(&self.record, &panics::message_of(panic));
    }
}

impl<A: Actor<Context = Context<A>> + Supervised> Drop for Restarting<A> {
    /// The arbiter stopped (or the last address went): the actor is gone.
    fn drop(&mut self) {
        self.record.stopped();
    }
}

/// A handler's future, run as a task of its own like a `ResponseFuture`, whose panic restarts
/// the actor: the panic is caught, the task ends (its waiter gets `MailboxError`), and the
/// panic is raised again inside the actor's context, where the supervisor catches it.
pub fn contained<A, T>(
    ctx: &mut Context<A>,
    work: impl Future<Output = T> + 'static,
) -> ResponseFuture<T>
where
    A: Actor<Context = Context<A>>,
    T: 'static,
{
    let (report, panicked) = oneshot::channel::<String>();
    // Finishes quietly when the work ends normally (the sender is dropped unused).
    ctx.spawn(
        actix::fut::wrap_future::<_, A>(panicked).map(|panicked, _, _| {
            if let Ok(message) = panicked {
                std::panic::resume_unwind(Box::new(message));
            }
        }),
    );
    // Combinators, not an `async` block, which would keep `work` twice (see
    // `handlers::work`).
    Box::pin(
        AssertUnwindSafe(work)
            .catch_unwind()
            .map(move |outcome| match outcome {
                Ok(value) => value,
                Err(panic) => {
                    let _ = report.send(panics::message_of(&*panic));
                    std::panic::resume_unwind(panic)
                }
            }),
    )
}

/// `impl Handler<Probe>` (answered at once) for each actor named.
#[macro_export]
macro_rules! answers_probes {
    ($($actor:ty),+ $(,)?) => {$(
        impl ::actix::Handler<$crate::actors::supervision::Probe> for $actor {
            type Result = ();

            fn handle(
                &mut self,
                _: $crate::actors::supervision::Probe,
                _: &mut Self::Context,
            ) {
            }
        }
    )+};
}

/// Locks `mutex`, also after a panic elsewhere poisoned it (the data stays consistent: every
/// critical section here is a few plain assignments).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
