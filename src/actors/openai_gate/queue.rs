//! The waiting room: one `VecDeque` of jobs per priority (ractor `factory/queues.rs` style).
//! Pops from the highest priority, sheds the newest job of the lowest priority, and keeps one
//! job per single-flight key, promoting it when a higher-priority waiter joins.

use std::collections::VecDeque;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{ChatPrompt, GateError, Priority, ShedReason, StoryProgress};

/// One caller waiting for a job's answer.
#[derive(Debug)]
pub(super) struct Waiter {
    /// Lets a queue-wait timer find this very waiter.
    pub(super) id: u64,
    pub(super) priority: Priority,
    /// The caller's span; the call's span `follows_from` it.
    pub(super) span: tracing::Span,
    /// Hears the text so far while the call streams, if the caller asked to.
    progress: Option<StoryProgress>,
    /// Told when the call starts, for a caller that tells something else if it does not
    /// start soon ([`super::Generate::late_after`]); with how long that caller waits.
    pub(super) late: Option<Late>,
    reply: oneshot::Sender<Result<String, GateError>>,
}

/// A caller that gives up waiting for the call to start after `after`, tells something else
/// meanwhile, and still takes the answer when it comes.
#[derive(Debug)]
pub(super) struct Late {
    pub(super) after: std::time::Duration,
    pub(super) started: Option<oneshot::Sender<()>>,
}

impl Waiter {
    pub(super) fn new(
        id: u64,
        priority: Priority,
        span: tracing::Span,
        progress: Option<StoryProgress>,
        late: Option<Late>,
        reply: oneshot::Sender<Result<String, GateError>>,
    ) -> Self {
        Self {
            id,
            priority,
            span,
            progress,
            late,
            reply,
        }
    }

    /// Tells a caller waiting for the start that the call has started (once).
    pub(super) fn started(&mut self) {
        if let Some(started) = self.late.as_mut().and_then(|late| late.started.take()) {
            let _ = started.send(());
        }
    }

    /// Tells the caller the text written so far (when it asked to hear it).
    pub(super) fn progress(&self, text: &std::sync::Arc<str>) {
        if let Some(progress) = &self.progress {
            progress.send_replace(std::sync::Arc::clone(text));
        }
    }

    /// Answers the caller; a caller that stopped waiting is ignored.
    pub(super) fn answer(self, result: Result<String, GateError>) {
        let _ = self.reply.send(result);
    }

    /// Whether the caller dropped its future (nobody needs the answer any more).
    fn is_abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

/// One LLM call to make, with everybody waiting for it.
#[derive(Debug)]
pub(super) struct Job {
    pub(super) key: String,
    pub(super) prompt: ChatPrompt,
    /// The highest priority among the waiters; decides the queue the job sits in.
    pub(super) priority: Priority,
    pub(super) waiters: Vec<Waiter>,
    /// Keeps queue order when a job moves between queues.
    enqueued_at: Instant,
}

impl Job {
    pub(super) fn new(key: String, prompt: ChatPrompt, waiter: Waiter) -> Self {
        Self {
            key,
            prompt,
            priority: waiter.priority,
            waiters: vec![waiter],
            enqueued_at: Instant::now(),
        }
    }

    /// Answers every waiter with the same result; returns how many were answered.
    pub(super) fn answer_all(self, result: &Result<String, GateError>) -> usize {
        let count = self.waiters.len();
        self.waiters
            .into_iter()
            .for_each(|w| w.answer(result.clone()));
        count
    }

    fn top_waiter_priority(&self) -> Option<Priority> {
        self.waiters
            .iter()
            .map(|w| w.priority)
            .min_by_key(|p| p.index())
    }
}

/// What happened to a job offered to the queues.
#[derive(Debug)]
pub(super) enum Admission {
    /// Queued; `displaced` is a lower-priority job dropped to make room.
    Queued { displaced: Option<Job> },
    /// Not queued: nothing lower could make room.
    Rejected(Job, ShedReason),
}

/// Bounded queues, one per priority.
#[derive(Debug)]
pub(super) struct JobQueues {
    queues: [VecDeque<Job>; 3],
    caps: [usize; 3],
    total_cap: usize,
}

impl JobQueues {
    pub(super) fn new(caps: [usize; 3], total_cap: usize) -> Self {
        Self {
            queues: Default::default(),
            caps,
            total_cap,
        }
    }

    /// Jobs queued per priority.
    pub(super) fn lens(&self) -> [usize; 3] {
        [0, 1, 2].map(|i| self.queues[i].len())
    }

    fn total(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    fn position(&self, key: &str) -> Option<(usize, usize)> {
        self.queues.iter().enumerate().find_map(|(level, queue)| {
            let at = queue.iter().position(|job| job.key == key)?;
            Some((level, at))
        })
    }

    /// Attaches `waiter` to the queued job with `key`, promoting the job when the waiter's
    /// priority is higher; gives the waiter back when no such job is queued.
    pub(super) fn join(&mut self, key: &str, waiter: Waiter) -> Result<(), Waiter> {
        let Some((level, at)) = self.position(key) else {
            return Err(waiter);
        };
        if waiter.priority.index() >= level {
            self.queues[level][at].waiters.push(waiter);
            return Ok(());
        }
        if let Some(mut job) = self.queues[level].remove(at) {
            job.priority = waiter.priority;
            job.waiters.push(waiter);
            self.insert_in_order(job);
        }
        Ok(())
    }

    /// Queues a new job, shedding the newest job of the lowest priority below it when full.
    pub(super) fn admit(&mut self, job: Job) -> Admission {
        let level = job.priority.index();
        if self.queues[level].len() >= self.caps[level] {
            return Admission::Rejected(job, ShedReason::QueueFull);
        }
        let mut displaced = None;
        if self.total() >= self.total_cap {
            displaced = self.pop_newest_below(level);
            if displaced.is_none() {
                return Admission::Rejected(job, ShedReason::QueueFull);
            }
        }
        self.queues[level].push_back(job);
        Admission::Queued { displaced }
    }

    fn pop_newest_below(&mut self, level: usize) -> Option<Job> {
        self.queues[level + 1..]
            .iter_mut()
            .rev()
            .find_map(VecDeque::pop_back)
    }

    /// Takes the oldest job of the highest priority, dropping jobs nobody waits for any more.
    pub(super) fn pop_next(&mut self) -> Option<Job> {
        for queue in &mut self.queues {
            while let Some(mut job) = queue.pop_front() {
                job.waiters.retain(|w| !w.is_abandoned());
                if !job.waiters.is_empty() {
                    return Some(job);
                }
            }
        }
        None
    }

    /// Puts back a job that was popped but could not start.
    pub(super) fn push_front(&mut self, job: Job) {
        self.queues[job.priority.index()].push_front(job);
    }

    /// Removes one waiter from the queued job with `key`; the job goes when it has no waiters
    /// left, or moves to the queue of its remaining highest priority.
    pub(super) fn remove_waiter(&mut self, key: &str, id: u64) -> Option<Waiter> {
        let (level, at) = self.position(key)?;
        let mut job = self.queues[level].remove(at)?;
        let waiter = job
            .waiters
            .iter()
            .position(|w| w.id == id)
            .map(|i| job.waiters.swap_remove(i));
        if let Some(priority) = job.top_waiter_priority() {
            job.priority = priority;
            self.insert_in_order(job);
        }
        waiter
    }

    /// Moves one waiter of the queued job with `key` down to `to` (its caller has been told
    /// something else meanwhile); the job follows its remaining highest priority, keeping its
    /// place in order of arrival. Whether the waiter was queued.
    pub(super) fn demote_waiter(&mut self, key: &str, id: u64, to: Priority) -> bool {
        let Some((level, at)) = self.position(key) else {
            return false;
        };
        let Some(waiter) = self.queues[level][at]
            .waiters
            .iter_mut()
            .find(|w| w.id == id)
        else {
            return false;
        };
        if waiter.priority.index() >= to.index() {
            return true;
        }
        waiter.priority = to;
        let job = &self.queues[level][at];
        if job.top_waiter_priority() != Some(job.priority)
            && let Some(mut job) = self.queues[level].remove(at)
        {
            job.priority = job.top_waiter_priority().unwrap_or(to);
            self.insert_in_order(job);
        }
        true
    }

    /// Inserts a job into its priority's queue in order of arrival.
    fn insert_in_order(&mut self, job: Job) {
        let queue = &mut self.queues[job.priority.index()];
        let at = queue
            .iter()
            .position(|queued| queued.enqueued_at > job.enqueued_at)
            .unwrap_or(queue.len());
        queue.insert(at, job);
    }

    /// Empties every queue, highest priority first.
    pub(super) fn drain(&mut self) -> Vec<Job> {
        self.queues.iter_mut().flat_map(|q| q.drain(..)).collect()
    }
}
