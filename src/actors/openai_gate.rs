//! `OpenAiGate`: the only path from excursobot to the LLM.
//!
//! The actor owns a pool of call permits (3 by default), one bounded queue per [`Priority`]
//! (an array of `VecDeque`s, popped from the highest priority), the table of calls in flight,
//! and a circuit breaker. Its algorithm:
//!
//! 1. [`Generate`] never waits inside the handler: it stores a oneshot sender (a *waiter*) and
//!    returns a future that awaits the answer, so the mailbox keeps moving while calls run.
//! 2. Single-flight: a request whose key is already in flight or queued attaches to that job;
//!    every waiter gets the same answer. A higher-priority waiter promotes a queued job.
//! 3. Admission: a request whose own priority's queue is at its cap is refused
//!    (`GateError::Shed(QueueFull)`). When the total cap is reached, the newest job of the
//!    lowest priority below the incoming one (Live) is shed
//!    (`GateError::Shed(Displaced)`); when there is none, the incoming request is refused.
//! 4. An Interactive waiter still queued after `interactive_queue_wait` is answered
//!    `GateError::QueueWait` at once, so its caller can send a fallback. A new Interactive job
//!    that the queue cannot start within that wait (judged from the calls in flight, the jobs
//!    ahead and the average call so far) gets `QueueWait` on arrival instead of at the end.
//!    A caller that sends a fallback itself when the call has not started soon
//!    ([`Generate::late_after`]) is told when it starts; still queued then, its waiter moves to
//!    the `Live` queue (its person has an answer; a fresh one has none) and keeps waiting up
//!    to `late_queue_wait`, so the story is still written and can replace the fallback.
//! 5. Up to `permits` calls run at once, each spawned on the arbiter; a call is one streamed
//!    chat-completions request (`stream: true`) with a per-attempt timeout, retried (only
//!    here) on 429, 5xx, network errors and timeouts before any text came, honouring a capped
//!    `Retry-After`; a stream that breaks once text came is a failed call, never half a story.
//!    While it streams, the text so far reaches every waiter that asked for it
//!    ([`Generate::with_progress`]) through `CallProgress`, a few times a second. Panics are
//!    caught. The call reports back with `CallFinished`, which frees the permit and starts the
//!    next job.
//! 6. Circuit breaker: after `breaker_failures` consecutive failed calls the breaker opens,
//!    queued and new requests fail fast with `GateError::CircuitOpen` for `breaker_cooldown`;
//!    then one probe call is let through and its success closes the breaker.

mod answer;
mod breaker;
mod client;
mod config;
mod error;
mod estimate;
mod figures;
mod queue;
mod response;
mod retry_after;
mod scheduler;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, ActorContext, Context, Handler, Message, MessageResult};
use actix::{ResponseFuture, Supervised};
use tokio::sync::{oneshot, watch};

use crate::{actors::supervision::contained, prompts::ChatPrompt, stats::Metrics};

use breaker::CircuitBreaker;
use client::LlmClient;
use estimate::CallDurations;
use figures::CallFigures;
use queue::{JobQueues, Late, Waiter};

pub use answer::Unusable;
pub use config::{GateConfig, OpenAiConfig};
pub use error::{GateBuildError, GateError, ShedReason};

/// How many LLM calls may run at once by default.
pub const DEFAULT_PERMITS: usize = 3;
/// Default queue caps, indexed by priority (Interactive, Live, Background).
pub const DEFAULT_QUEUE_CAPS: [usize; 3] = [100, 100, 20];
/// Default cap on all queued jobs together; reaching it sheds the lowest priority first.
pub const DEFAULT_TOTAL_QUEUE_CAP: usize = 200;
/// How long one HTTP attempt to the LLM may take before it counts as a timeout.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times one call is retried after a retryable failure.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The longest `Retry-After` we honour; longer values are capped to this.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(20);
/// First back-off when the server gives no `Retry-After` (doubled on each retry).
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(1);
/// How long an Interactive request may wait in the queue before it gets `QueueWait`.
pub const DEFAULT_INTERACTIVE_QUEUE_WAIT: Duration = Duration::from_secs(8);
/// How long a request whose caller told a fallback meanwhile ([`Generate::late_after`]) may
/// wait in the queue: started by then, its story still replaces the fallback within
/// [`crate::facts::UPGRADE_WITHIN`].
pub const DEFAULT_LATE_QUEUE_WAIT: Duration = Duration::from_secs(60);
/// Consecutive failed calls that open the circuit breaker.
pub const DEFAULT_BREAKER_FAILURES: u32 = 5;
/// How long an open breaker fails requests fast before letting one probe through.
pub const DEFAULT_BREAKER_COOLDOWN: Duration = Duration::from_secs(30);

/// How urgent a request is; Interactive is served first, Live after it and shed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// A user is waiting right now (a location just sent, "tell me more").
    Interactive,
    /// A live-location session tick.
    Live,
    /// Writing ahead while permits are idle: a story someone is about to ask for. Never takes
    /// the last free permit, never starts while anything of higher priority waits, shed first.
    Background,
}

impl Priority {
    /// All priorities, highest first; `index()` is the position in this array.
    pub const ALL: [Priority; 3] = [Priority::Interactive, Priority::Live, Priority::Background];

    /// Position of this priority in per-priority arrays (0 = Interactive, highest).
    pub fn index(self) -> usize {
        match self {
            Priority::Interactive => 0,
            Priority::Live => 1,
            Priority::Background => 2,
        }
    }

    /// The priority's name, for metrics' labels.
    pub fn name(self) -> &'static str {
        match self {
            Priority::Interactive => "interactive",
            Priority::Live => "live",
            Priority::Background => "background",
        }
    }
}

/// Where a caller hears a story's text while it is written (the whole text so far each time).
pub type StoryProgress = watch::Sender<Arc<str>>;

/// Ask the gate for a story; answers the story text or why there is none.
#[derive(Debug, Message)]
#[rtype(result = "Result<String, GateError>")]
pub struct Generate {
    /// Single-flight key, e.g. `fact:v1:en:en:12345`; equal keys share one LLM call.
    pub key: String,
    /// What to send to the LLM.
    pub prompt: ChatPrompt,
    /// Queue class of this request.
    pub priority: Priority,
    /// The sender's span, so the call's span can `follows_from` it.
    span: tracing::Span,
    /// Hears the text so far while the call streams.
    progress: Option<StoryProgress>,
    /// How long the caller waits for the call to start, and where it hears that it did.
    late: Option<(Duration, oneshot::Sender<()>)>,
}

impl Generate {
    /// Builds the message, capturing the caller's current tracing span.
    pub fn new(key: impl Into<String>, prompt: ChatPrompt, priority: Priority) -> Self {
        Self {
            key: key.into(),
            prompt,
            priority,
            span: tracing::Span::current(),
            progress: None,
            late: None,
        }
    }

    /// Lets `progress` hear the text written so far while the call streams (also when this
    /// request joins a call already running: it hears the text so far at once). What it hears
    /// is unchecked work in progress; only the answer is a story.
    pub fn with_progress(mut self, progress: StoryProgress) -> Self {
        self.progress = Some(progress);
        self
    }

    /// The caller waits `after` for the call to start (`started` hears when it does, at once
    /// when it runs already) and tells a fallback if it has not; it still takes the answer.
    /// Queued past `after`, the request moves to the `Live` queue, behind people who have no
    /// answer yet, and waits there up to the gate's `late_queue_wait`.
    pub fn late_after(mut self, after: Duration, started: oneshot::Sender<()>) -> Self {
        self.late = Some((after, started));
        self
    }
}

/// Ask the gate for a snapshot of its counters.
#[derive(Debug, Clone, Copy, Message)]
#[rtype(result = "GateSnapshot")]
pub struct GateStats;

/// The gate's state at one moment, for metrics, readiness and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateSnapshot {
    /// Configured number of concurrent calls.
    pub permits: usize,
    /// Calls running now.
    pub in_flight: usize,
    /// Queued jobs by priority (Interactive, Live, Background).
    pub queued: [usize; 3],
    /// Calls started since the gate started.
    pub calls_started: u64,
    /// Highest number of concurrent calls ever seen.
    pub max_in_flight_seen: usize,
    /// Waiters answered `GateError::Shed`.
    pub shed: u64,
    /// Requests that joined a job already queued or running for the same key.
    pub joins: u64,
    /// The most jobs that may be queued in all.
    pub queue_cap: usize,
    /// Whether the breaker is open or half-open (not closed).
    pub breaker_open: bool,
}

/// A call ended (or panicked); frees its permit and answers its waiters.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct CallFinished {
    key: String,
    result: Result<String, GateError>,
}

/// A streaming call's text so far.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct CallProgress {
    key: String,
    text: Arc<str>,
}

/// A call in flight: when it started, everybody waiting for it, and its text so far.
#[derive(Debug)]
struct Running {
    started: tokio::time::Instant,
    /// The job's priority when it started, for the call's figures.
    priority: Priority,
    waiters: Vec<Waiter>,
    partial: Option<Arc<str>>,
}

/// Counters behind [`GateSnapshot`].
#[derive(Debug, Default)]
struct Counters {
    calls_started: u64,
    max_in_flight_seen: usize,
    shed: u64,
    joins: u64,
}

/// The gate actor; see the module docs for its algorithm.
pub struct OpenAiGate {
    config: GateConfig,
    client: LlmClient,
    queues: JobQueues,
    /// Each call in flight, by key; its size is the number of permits taken.
    in_flight: HashMap<String, Running>,
    /// How long calls have taken, to judge whether a new job can start in time.
    durations: CallDurations,
    breaker: CircuitBreaker,
    counters: Counters,
    /// Finished calls, by priority and outcome, with their durations.
    figures: CallFigures,
    /// Identifies waiters so a queue-wait timer can find its own waiter.
    next_waiter_id: u64,
}

impl OpenAiGate {
    /// Builds the gate and its async-openai client (installing the ring TLS provider if no
    /// provider is installed yet).
    ///
    /// `permits` below 1 is raised to 1: with no permit nothing would ever be answered.
    pub fn new(mut config: GateConfig, openai: OpenAiConfig) -> Result<Self, GateBuildError> {
        config.permits = config.permits.max(1);
        let client = LlmClient::new(&openai, &config)?;
        Ok(Self {
            queues: JobQueues::new(config.queue_caps, config.total_queue_cap),
            breaker: CircuitBreaker::new(config.breaker_failures, config.breaker_cooldown),
            config,
            client,
            in_flight: HashMap::new(),
            durations: CallDurations::default(),
            counters: Counters::default(),
            figures: CallFigures::new(&Metrics::default()),
            next_waiter_id: 0,
        })
    }

    /// Counts finished calls in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.figures = CallFigures::new(metrics);
        self
    }
}

impl Actor for OpenAiGate {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.fail_everything(GateError::Stopped);
    }
}

impl Supervised for OpenAiGate {
    /// Queued waiters lose their queue-wait timers on restart, so they are answered now;
    /// calls in flight keep running and report to the same address.
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        self.fail_queued(GateError::Stopped);
    }
}

impl Handler<Generate> for OpenAiGate {
    type Result = ResponseFuture<Result<String, GateError>>;

    fn handle(&mut self, msg: Generate, ctx: &mut Self::Context) -> Self::Result {
        let (reply, answer) = oneshot::channel();
        self.next_waiter_id += 1;
        let id = self.next_waiter_id;
        let late = msg.late.map(|(after, started)| Late {
            after,
            started: Some(started),
        });
        let waiter = Waiter::new(id, msg.priority, msg.span, msg.progress, late, reply);
        self.admit(msg.key, msg.prompt, waiter, ctx);
        self.dispatch(ctx);
        contained(ctx, async move {
            answer.await.unwrap_or(Err(GateError::Stopped))
        })
    }
}

impl Handler<GateStats> for OpenAiGate {
    type Result = MessageResult<GateStats>;

    fn handle(&mut self, _msg: GateStats, _ctx: &mut Self::Context) -> Self::Result {
        MessageResult(self.snapshot())
    }
}

impl Handler<CallProgress> for OpenAiGate {
    type Result = ();

    fn handle(&mut self, msg: CallProgress, _ctx: &mut Self::Context) {
        if let Some(running) = self.in_flight.get_mut(&msg.key) {
            running.waiters.iter().for_each(|w| w.progress(&msg.text));
            running.partial = Some(msg.text);
        }
    }
}

impl Handler<CallFinished> for OpenAiGate {
    type Result = ();

    fn handle(&mut self, msg: CallFinished, ctx: &mut Self::Context) {
        self.finish(msg.key, msg.result);
        if ctx.state().alive() {
            self.dispatch(ctx);
        }
    }
}
