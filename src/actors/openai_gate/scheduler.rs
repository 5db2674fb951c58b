//! The gate's bookkeeping: admitting waiters, starting calls while permits last, answering
//! finished calls, expiring Interactive waits (at once when the queue cannot reach them in
//! time) and failing fast when the breaker opens.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actix::{AsyncContext, Context};
use futures::FutureExt;
use tokio::time::Instant;
use tracing::Instrument;

use super::estimate::predicted_start;
use super::queue::{Admission, Job, Waiter};
use super::{
    CallFinished, CallProgress, ChatPrompt, GateError, GateSnapshot, OpenAiGate, Priority, Running,
    ShedReason,
};

impl OpenAiGate {
    /// Places a new waiter: on a call in flight, on a queued job, or in a new job.
    pub(super) fn admit(
        &mut self,
        key: String,
        prompt: ChatPrompt,
        mut waiter: Waiter,
        ctx: &mut Context<Self>,
    ) {
        if let Some(running) = self.in_flight.get_mut(&key) {
            if let Some(partial) = &running.partial {
                waiter.progress(partial);
            }
            waiter.started();
            running.waiters.push(waiter);
            self.counters.joins += 1;
            return;
        }
        if self.breaker.rejects_requests(Instant::now()) {
            waiter.answer(Err(GateError::CircuitOpen));
            return;
        }
        let (id, priority) = (waiter.id, waiter.priority);
        let late_after = waiter.late.as_ref().map(|late| late.after);
        let wait = match late_after {
            Some(_) => self.config.late_queue_wait,
            None => self.config.interactive_queue_wait,
        };
        let queued = match self.queues.join(&key, waiter) {
            Ok(()) => {
                self.counters.joins += 1;
                true
            }
            Err(waiter)
                if priority == Priority::Interactive
                    && self.cannot_start_in_time(wait, late_after.is_some()) =>
            {
                tracing::info!(%key, "the LLM queue cannot reach this request in time");
                waiter.answer(Err(GateError::QueueWait));
                false
            }
            Err(waiter) => self.enqueue(Job::new(key.clone(), prompt, waiter)),
        };
        if queued && priority == Priority::Interactive {
            if let Some(after) = late_after {
                let key = key.clone();
                ctx.run_later(after, move |gate, _ctx| gate.demote_waiter(&key, id));
            }
            ctx.run_later(wait, move |gate, _ctx| gate.expire_waiter(&key, id));
        }
    }

    /// Whether a new Interactive job, queued behind the Interactive jobs already waiting (and
    /// the `Live` ones, for a request that will move there), would still be waiting for a
    /// permit when its queue `wait` ends. Unknown (no call has finished yet) counts as "it
    /// can".
    fn cannot_start_in_time(&self, wait: std::time::Duration, goes_live: bool) -> bool {
        let Some(call) = self.durations.average() else {
            return false;
        };
        if self.in_flight.len() < self.config.permits {
            return false;
        }
        let now = Instant::now();
        let running = self.in_flight.values().map(|running| running.started);
        let lens = self.queues.lens();
        let mut ahead = lens[Priority::Interactive.index()];
        if goes_live {
            ahead += lens[Priority::Live.index()];
        }
        let start = predicted_start(now, running, ahead, call);
        start > now + wait
    }

    /// Queues a new job, shedding as needed; returns whether the job was queued.
    fn enqueue(&mut self, job: Job) -> bool {
        match self.queues.admit(job) {
            Admission::Queued { displaced } => {
                if let Some(job) = displaced {
                    self.shed(job, ShedReason::Displaced);
                }
                true
            }
            Admission::Rejected(job, reason) => {
                self.shed(job, reason);
                false
            }
        }
    }

    fn shed(&mut self, job: Job, reason: ShedReason) {
        if job.priority == Priority::Background {
            // Writing ahead is shed first by design, all day on a busy gate: not a warning.
            tracing::debug!(key = %job.key, %reason, "a story written ahead shed");
        } else {
            tracing::warn!(key = %job.key, priority = ?job.priority, %reason, "LLM request shed");
        }
        let answered = job.answer_all(&Err(GateError::Shed(reason)));
        self.counters.shed += answered as u64;
    }

    /// A waiter's caller stopped waiting for the start and told a fallback: if it is still
    /// queued, it waits on in the `Live` queue.
    fn demote_waiter(&mut self, key: &str, id: u64) {
        if self.queues.demote_waiter(key, id, Priority::Live) {
            tracing::debug!(key, "a story told late waits on in the Live queue");
        }
    }

    /// An Interactive waiter's queue wait is over: answer `QueueWait` if it has not started.
    fn expire_waiter(&mut self, key: &str, id: u64) {
        if let Some(waiter) = self.queues.remove_waiter(key, id) {
            tracing::info!(key, "interactive LLM request waited too long in the queue");
            waiter.answer(Err(GateError::QueueWait));
        }
    }

    /// Starts queued jobs while permits are free and the breaker lets calls through.
    pub(super) fn dispatch(&mut self, ctx: &mut Context<Self>) {
        while self.in_flight.len() < self.config.permits {
            let Some(job) = self.queues.pop_next() else {
                return;
            };
            // Writing ahead never takes the last free permit: a person may need it next.
            if job.priority == Priority::Background
                && self.in_flight.len() + 1 >= self.config.permits
            {
                self.queues.push_front(job);
                return;
            }
            if !self.breaker.try_start_call(Instant::now()) {
                self.queues.push_front(job);
                return;
            }
            self.start_call(job, ctx);
        }
    }

    /// Spawns the call on the arbiter; it always reports back with `CallFinished`.
    fn start_call(&mut self, mut job: Job, ctx: &mut Context<Self>) {
        job.waiters.iter_mut().for_each(Waiter::started);
        let span =
            tracing::info_span!("openai_gate.call", key = %job.key, priority = ?job.priority);
        job.waiters.iter().for_each(|w| {
            span.follows_from(&w.span);
        });
        let (client, gate, key) = (self.client.clone(), ctx.address(), job.key.clone());
        let prompt = job.prompt;
        let progress = {
            let (gate, key) = (gate.clone(), key.clone());
            move |text: Arc<str>| {
                let key = key.clone();
                gate.do_send(CallProgress { key, text });
            }
        };
        let call = async move {
            let result = AssertUnwindSafe(client.generate(&prompt, progress))
                .catch_unwind()
                .await;
            let result = result.unwrap_or_else(|_panic| {
                tracing::error!("LLM call panicked");
                Err(GateError::Upstream("panic".into()))
            });
            gate.do_send(CallFinished { key, result });
        };
        actix::spawn(call.instrument(span));
        let running = Running {
            started: Instant::now(),
            priority: job.priority,
            waiters: job.waiters,
            partial: None,
        };
        self.in_flight.insert(job.key, running);
        self.counters.calls_started += 1;
        let in_flight = self.in_flight.len();
        self.counters.max_in_flight_seen = self.counters.max_in_flight_seen.max(in_flight);
    }

    /// A call ended: free its permit, update the breaker and answer its waiters.
    pub(super) fn finish(&mut self, key: String, result: Result<String, GateError>) {
        if let Err(error) = &result {
            tracing::warn!(key = %key, %error, "LLM call failed");
        }
        if self.breaker.record(&result, Instant::now()) {
            tracing::error!("LLM circuit breaker opened; failing queued requests");
            self.fail_queued(GateError::CircuitOpen);
        }
        let Some(running) = self.in_flight.remove(&key) else {
            return;
        };
        let took = running.started.elapsed();
        self.durations.record(took);
        self.figures.finished(running.priority, &result, took);
        running
            .waiters
            .into_iter()
            .for_each(|w| w.answer(result.clone()));
    }

    /// Answers every queued waiter with `error` and empties the queues.
    pub(super) fn fail_queued(&mut self, error: GateError) {
        let result = Err(error);
        for job in self.queues.drain() {
            job.answer_all(&result);
        }
    }

    /// Answers every queued and in-flight waiter (the gate is stopping).
    pub(super) fn fail_everything(&mut self, error: GateError) {
        self.fail_queued(error.clone());
        for (_key, running) in self.in_flight.drain() {
            running
                .waiters
                .into_iter()
                .for_each(|w| w.answer(Err(error.clone())));
        }
    }

    pub(super) fn snapshot(&self) -> GateSnapshot {
        GateSnapshot {
            permits: self.config.permits,
            in_flight: self.in_flight.len(),
            queued: self.queues.lens(),
            calls_started: self.counters.calls_started,
            max_in_flight_seen: self.counters.max_in_flight_seen,
            shed: self.counters.shed,
            joins: self.counters.joins,
            queue_cap: self.config.total_queue_cap,
            breaker_open: self.breaker.is_open(),
        }
    }
}
