//! Whose message goes next: turns to send, handed out in priority order within the send
//! budget.
//!
//! The queue orders *turns*, not requests: a sender asks for a turn for its chat and class,
//! waits until it is granted, sends its request itself and gives the turn back (by dropping
//! it). Keeping the requests out of the queue keeps it free of teloxide's generic request
//! types and lets the sender see its own answer.
//!
//! Rules:
//! - Classes first ([`SendClass`]), then first come first served (a global sequence number).
//! - One turn per chat at a time, and a chat's turns of one class keep their order, so a
//!   photo and the text after it arrive in order. A higher class of the same chat may go
//!   before a lower one queued earlier.
//! - A chat whose own limiter is empty rests until it refills; the others go meanwhile. The
//!   bot-wide limiter is waited on by the scheduler, one grant at a time.
//! - A 429 pauses every grant until its `retry_after`; a turn given back with a 429 goes to
//!   the front of its chat's line, keeping its number. Turns that cannot be granted before
//!   their deadline are refused as soon as that is known.
//! - Bounded: past the chat's or the whole queue's cap, the newest turn of the lowest class
//!   is refused (the incoming one when it is of the lowest class queued).

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, clock::Clock};
use teloxide::types::ChatId;
use tokio::{
    sync::{Notify, oneshot},
    time::Instant,
};

use super::SendClass;
use crate::telemetry::warnings::RateLimitedWarning;

/// Classes, highest first; a class's index is its position here.
const CLASSES: usize = SendClass::ALL.len();

/// Why a turn was not granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The queue (or the chat's line) was full and this turn was of the lowest class.
    Dropped,
    /// It could not be granted before its deadline (a long 429 pause, or a long queue).
    Expired,
    /// The outbox is shut down.
    Closed,
}

/// The limiters a queue grants turns within.
pub struct Limiters {
    /// One bucket per chat.
    pub per_chat: DefaultKeyedRateLimiter<ChatId>,
    /// The bot's bucket.
    pub global: DefaultDirectRateLimiter,
    /// The pace of every class below replies.
    pub lower: DefaultDirectRateLimiter,
}

/// Caps of the queue.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Turns waiting for one chat.
    pub per_chat: usize,
    /// Turns waiting in all.
    pub total: usize,
}

/// A turn waiting to be granted.
struct Waiting {
    seq: u64,
    deadline: Instant,
    grant: oneshot::Sender<Result<(), Refusal>>,
}

/// One chat's waiting turns, one line per class.
#[derive(Default)]
struct ChatLine {
    lines: [VecDeque<Waiting>; CLASSES],
    /// A turn of this chat is out.
    busy: bool,
    /// The chat's limiter is empty until then.
    resting_until: Option<Instant>,
    /// The key this chat has in `State::ready`, if any.
    ready_key: Option<(usize, u64)>,
}

impl ChatLine {
    /// The turn to grant next: the highest class, its oldest turn.
    fn head(&self) -> Option<(usize, u64)> {
        self.lines
            .iter()
            .enumerate()
            .find_map(|(class, line)| line.front().map(|waiting| (class, waiting.seq)))
    }

    fn len(&self) -> usize {
        self.lines.iter().map(VecDeque::len).sum()
    }

    /// The newest turn of the lowest class.
    fn lowest(&self) -> Option<(usize, u64)> {
        self.lines
            .iter()
            .enumerate()
            .rev()
            .find_map(|(class, line)| line.back().map(|waiting| (class, waiting.seq)))
    }
}

/// Everything behind the lock.
#[derive(Default)]
struct State {
    next_seq: u64,
    chats: HashMap<ChatId, ChatLine>,
    /// Chats whose head may be granted now, by (class, seq) of that head.
    ready: BTreeSet<(usize, u64, ChatId)>,
    /// Chats whose limiter is empty, by when it refills.
    resting: BTreeSet<(Instant, ChatId)>,
    /// Every waiting turn by class, for the global cap and the counts.
    by_class: [BTreeSet<(u64, ChatId)>; CLASSES],
    paused_until: Option<Instant>,
    closed: bool,
    dropped: [u64; CLASSES],
}

impl State {
    /// Puts `chat`'s ready entry in line with its head, busy flag and rest.
    fn refresh(&mut self, chat: ChatId) {
        let Some(line) = self.chats.get_mut(&chat) else {
            return;
        };
        if let Some((class, seq)) = line.ready_key.take() {
            self.ready.remove(&(class, seq, chat));
        }
        if line.busy || line.resting_until.is_some() {
            return;
        }
        match line.head() {
            Some((class, seq)) => {
                line.ready_key = Some((class, seq));
                self.ready.insert((class, seq, chat));
            }
            None => {
                self.chats.remove(&chat);
            }
        }
    }

    /// Removes the turn `seq` of `class` from `chat`'s line (front or back); answers it.
    fn remove(&mut self, chat: ChatId, class: usize, seq: u64, answer: Refusal) {
        self.by_class[class].remove(&(seq, chat));
        if let Some(line) = self.chats.get_mut(&chat) {
            let lane = &mut line.lines[class];
            if let Some(position) = lane.iter().position(|waiting| waiting.seq == seq)
                && let Some(waiting) = lane.remove(position)
            {
                let _ = waiting.grant.send(Err(answer));
            }
        }
        self.refresh(chat);
    }

    fn waiting(&self) -> usize {
        self.by_class.iter().map(BTreeSet::len).sum()
    }

    /// The newest turn of the lowest class in the whole queue.
    fn lowest(&self) -> Option<(usize, u64, ChatId)> {
        self.by_class
            .iter()
            .enumerate()
            .rev()
            .find_map(|(class, turns)| turns.last().map(|&(seq, chat)| (class, seq, chat)))
    }

    /// Makes room for a turn of `class` in `chat`; `false` when the incoming turn itself is
    /// the one to refuse.
    fn make_room(&mut self, chat: ChatId, class: usize, caps: Caps) -> bool {
        let chat_full = self
            .chats
            .get(&chat)
            .is_some_and(|line| line.len() >= caps.per_chat);
        if chat_full {
            let lowest = self.chats.get(&chat).and_then(ChatLine::lowest);
            match lowest {
                Some((victim, seq)) if victim > class => self.drop_turn(chat, victim, seq),
                _ => return false,
            }
        }
        if self.waiting() >= caps.total {
            match self.lowest() {
                Some((victim, seq, owner)) if victim > class => self.drop_turn(owner, victim, seq),
                _ => return false,
            }
        }
        true
    }

    fn drop_turn(&mut self, chat: ChatId, class: usize, seq: u64) {
        self.dropped[class] += 1;
        self.remove(chat, class, seq, Refusal::Dropped);
    }

    /// Pauses every grant until `until` (a longer pause already on stays) and refuses the
    /// turns that cannot wait that long.
    fn pause_until(&mut self, until: Instant) {
        self.paused_until = Some(self.paused_until.map_or(until, |at| at.max(until)));
        self.expire_before(until);
    }

    /// Refuses every waiting turn whose deadline comes before `until`.
    fn expire_before(&mut self, until: Instant) {
        let mut late = Vec::new();
        for (chat, line) in &self.chats {
            for (class, lane) in line.lines.iter().enumerate() {
                for waiting in lane.iter().filter(|waiting| waiting.deadline < until) {
                    late.push((*chat, class, waiting.seq));
                }
            }
        }
        for (chat, class, seq) in late {
            self.remove(chat, class, seq, Refusal::Expired);
        }
    }

    /// Moves chats whose rest is over back among the ready ones.
    fn wake_rested(&mut self, now: Instant) {
        while let Some(&(until, chat)) = self.resting.first() {
            if until > now {
                break;
            }
            self.resting.remove(&(until, chat));
            if let Some(line) = self.chats.get_mut(&chat) {
                line.resting_until = None;
            }
            self.refresh(chat);
        }
    }

    fn rest(&mut self, chat: ChatId, until: Instant) {
        if let Some(line) = self.chats.get_mut(&chat) {
            line.resting_until = Some(until);
            self.resting.insert((until, chat));
        }
        self.refresh(chat);
    }
}

/// What the scheduler does next.
enum Action {
    /// A turn could go now: take a bot-wide token and pick the best one (a lower class's
    /// only when `lower_paced`: their pace let one go).
    Grant { lower_paced: bool },
    /// Nothing can go before then (a pause, a resting chat).
    SleepUntil(Instant),
    /// Nothing waits.
    Idle,
    /// Shut down.
    Stop,
}

/// Counters and depths, for `/stats` and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueSnapshot {
    /// Turns waiting, by class (highest first).
    pub waiting: [usize; CLASSES],
    /// Turns refused for a full queue, by class, since start.
    pub dropped: [u64; CLASSES],
    /// Whether a 429 pause is on.
    pub paused: bool,
}

/// The queue and its limiters; shared by every sender and the scheduler task.
pub struct SendQueue {
    state: Mutex<State>,
    wake: Notify,
    per_chat: DefaultKeyedRateLimiter<ChatId>,
    global: DefaultDirectRateLimiter,
    /// Paces every class below replies, at less than the bot-wide rate and one at a time, so
    /// a burst of stories never empties the budget a reply needs.
    lower: DefaultDirectRateLimiter,
    caps: Caps,
    drop_warning: RateLimitedWarning,
}

impl SendQueue {
    /// A queue over these limiters (`lower` paces the classes below replies); run
    /// [`SendQueue::schedule`] in a task of its own.
    pub fn new(limiters: Limiters, caps: Caps) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::default(),
            wake: Notify::new(),
            per_chat: limiters.per_chat,
            global: limiters.global,
            lower: limiters.lower,
            caps,
            drop_warning: RateLimitedWarning::default(),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks for a turn of `class` for `chat`, to be granted before `deadline`.
    pub fn enqueue(self: &Arc<Self>, chat: ChatId, class: SendClass, deadline: Instant) -> Pending {
        let (grant, granted) = oneshot::channel();
        let index = class.index();
        let mut state = self.state();
        let dropped_before: u64 = state.dropped.iter().sum();
        let refused = if state.closed {
            Some(Refusal::Closed)
        } else if state.paused_until.is_some_and(|until| until > deadline) {
            Some(Refusal::Expired)
        } else if !state.make_room(chat, index, self.caps) {
            state.dropped[index] += 1;
            Some(Refusal::Dropped)
        } else {
            None
        };
        let seq = state.next_seq;
        state.next_seq += 1;
        match refused {
            Some(refusal) => {
                let _ = grant.send(Err(refusal));
            }
            None => Self::push(&mut state, chat, index, seq, deadline, grant, false),
        }
        let dropped = state.dropped.iter().sum::<u64>() - dropped_before;
        let waiting = state.waiting();
        drop(state);
        if dropped > 0
            && let Some(dropped) = self.drop_warning.record(dropped)
        {
            tracing::warn!(
                dropped,
                waiting,
                "send queue full: lowest-class messages dropped"
            );
        }
        self.wake.notify_one();
        Pending {
            queue: Arc::clone(self),
            chat,
            class,
            seq,
            deadline,
            granted,
            answered: false,
        }
    }

    fn push(
        state: &mut State,
        chat: ChatId,
        class: usize,
        seq: u64,
        deadline: Instant,
        grant: oneshot::Sender<Result<(), Refusal>>,
        front: bool,
    ) {
        let waiting = Waiting {
            seq,
            deadline,
            grant,
        };
        let line = state.chats.entry(chat).or_default();
        if front {
            line.lines[class].push_front(waiting);
        } else {
            line.lines[class].push_back(waiting);
        }
        state.by_class[class].insert((seq, chat));
        state.refresh(chat);
    }

    /// Gives a turn back: the chat may have its next one.
    fn release(&self, chat: ChatId) {
        let mut state = self.state();
        if let Some(line) = state.chats.get_mut(&chat) {
            line.busy = false;
        }
        state.refresh(chat);
        drop(state);
        self.wake.notify_one();
    }

    /// Pauses every grant for `pause` (a 429) and puts the turn back at the front of its
    /// chat's line, with its number.
    fn pause_and_requeue(self: &Arc<Self>, turn: Turn, pause: Duration) -> Pending {
        let (grant, granted) = oneshot::channel();
        let until = Instant::now() + pause;
        let index = turn.class.index();
        let mut state = self.state();
        state.pause_until(until);
        if turn.deadline < until {
            let _ = grant.send(Err(Refusal::Expired));
        } else {
            Self::push(
                &mut state,
                turn.chat,
                index,
                turn.seq,
                turn.deadline,
                grant,
                true,
            );
        }
        drop(state);
        let pending = Pending {
            queue: Arc::clone(self),
            chat: turn.chat,
            class: turn.class,
            seq: turn.seq,
            deadline: turn.deadline,
            granted,
            answered: false,
        };
        // Frees the chat (its turn is back in line), not a second release.
        drop(turn);
        pending
    }

    /// Pauses every grant for `pause`: a 429 answered to a call that held no turn (a draft).
    pub fn pause(&self, pause: Duration) {
        self.state().pause_until(Instant::now() + pause);
        self.wake.notify_one();
    }

    /// Whether a message for `chat` would go out at once: no pause, nothing waiting, no turn
    /// of this chat out. Cosmetic calls ("typing…") are sent only then.
    pub fn has_room(&self, chat: ChatId) -> bool {
        let state = self.state();
        let paused = state
            .paused_until
            .is_some_and(|until| until > Instant::now());
        !paused && state.waiting() == 0 && !state.chats.contains_key(&chat)
    }

    /// Takes a bot-wide token at the lower classes' pace if one is free this instant, for a
    /// cosmetic call that is worth sending only now (a story's draft): `false`, and nothing
    /// taken, when anything waits, a pause is on, `chat` has a turn out or the pace says wait.
    /// The chat's own bucket is left to its messages: a draft is not a message in the chat.
    pub fn try_now(&self, chat: ChatId) -> bool {
        self.has_room(chat) && self.lower.check().is_ok() && self.global.check().is_ok()
    }

    /// Refuses everything waiting and stops the scheduler.
    pub fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        let all: Vec<(usize, u64, ChatId)> = state
            .by_class
            .iter()
            .enumerate()
            .flat_map(|(class, turns)| turns.iter().map(move |&(seq, chat)| (class, seq, chat)))
            .collect();
        for (class, seq, chat) in all {
            state.remove(chat, class, seq, Refusal::Closed);
        }
        drop(state);
        self.wake.notify_one();
    }

    /// The queue's depths and counters.
    pub fn snapshot(&self) -> QueueSnapshot {
        let state = self.state();
        QueueSnapshot {
            waiting: std::array::from_fn(|class| state.by_class[class].len()),
            dropped: state.dropped,
            paused: state
                .paused_until
                .is_some_and(|until| until > Instant::now()),
        }
    }

    /// Forgets per-chat buckets that are full again, so the limiter does not grow forever.
    pub fn forget_idle_chats(&self) {
        self.per_chat.retain_recent();
        self.per_chat.shrink_to_fit();
    }

    /// Hands out turns until the queue is closed: waits until some turn could go, takes a
    /// token of the bot-wide budget, and only then picks the best turn waiting, so a reply
    /// that arrives while the scheduler waits for the token still goes first.
    pub async fn schedule(self: Arc<Self>) {
        loop {
            match self.next_action() {
                Action::Grant { lower_paced } => {
                    self.bot_wide_token().await;
                    if let Some((chat, grant)) = self.pick(lower_paced)
                        && grant.send(Ok(())).is_err()
                    {
                        // The sender stopped waiting (its deadline passed meanwhile).
                        self.release(chat);
                    }
                }
                Action::SleepUntil(until) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(until) => {}
                        () = self.wake.notified() => {}
                    }
                }
                Action::Idle => self.wake.notified().await,
                Action::Stop => return,
            }
        }
    }

    /// Waits for a token of the bot-wide budget and takes it. On tokio's timer, not with
    /// governor's `until_ready`, whose `futures-timer` runs a thread of its own for it.
    async fn bot_wide_token(&self) {
        while let Err(not_until) = self.global.check() {
            let wait = not_until.wait_time_from(self.global.clock().now());
            tokio::time::sleep(wait).await;
        }
    }

    /// What to do next: grant (some turn could go now), sleep or stop.
    fn next_action(&self) -> Action {
        let now = Instant::now();
        let mut state = self.state();
        if state.closed {
            return Action::Stop;
        }
        if let Some(until) = state.paused_until {
            if until > now {
                return Action::SleepUntil(until);
            }
            state.paused_until = None;
        }
        state.wake_rested(now);
        let Some(&(best, _, _)) = state.ready.first() else {
            return match state.resting.first() {
                Some(&(until, _)) => Action::SleepUntil(until),
                None => Action::Idle,
            };
        };
        if best == 0 {
            return Action::Grant { lower_paced: false };
        }
        // Only lower classes wait: their pace decides, before a bot-wide token is taken.
        match self.lower.check() {
            Ok(()) => Action::Grant { lower_paced: true },
            Err(not_until) => {
                let until = now + not_until.wait_time_from(self.lower.clock().now());
                let rested = state.resting.first().map(|r| r.0);
                Action::SleepUntil(rested.map_or(until, |rested| rested.min(until)))
            }
        }
    }

    /// The best turn that may go now, taken out of the queue: a reply, or a lower class's
    /// turn when `lower_paced` (their pace let one go); `None` when no chat's limiter lets one.
    fn pick(&self, lower_paced: bool) -> Option<(ChatId, oneshot::Sender<Result<(), Refusal>>)> {
        let now = Instant::now();
        let mut state = self.state();
        let candidates: Vec<(usize, u64, ChatId)> = state.ready.iter().copied().collect();
        for (class, seq, chat) in candidates {
            if class > 0 && !lower_paced {
                break;
            }
            let head = state
                .chats
                .get(&chat)
                .and_then(|line| line.lines[class].front());
            if head.is_none_or(|w| w.grant.is_closed() || w.deadline <= now) {
                state.remove(chat, class, seq, Refusal::Expired);
                continue;
            }
            if let Err(not_until) = self.per_chat.check_key(&chat) {
                let wait = not_until.wait_time_from(self.per_chat.clock().now());
                state.rest(chat, now + wait);
                continue;
            }
            state.by_class[class].remove(&(seq, chat));
            let line = state.chats.get_mut(&chat)?;
            let waiting = line.lines[class].pop_front()?;
            line.busy = true;
            state.refresh(chat);
            return Some((chat, waiting.grant));
        }
        None
    }
}

/// A turn asked for and not yet granted. Dropped while waiting (the sender gave up), it
/// gives back a turn granted meanwhile.
pub struct Pending {
    queue: Arc<SendQueue>,
    chat: ChatId,
    class: SendClass,
    seq: u64,
    deadline: Instant,
    granted: oneshot::Receiver<Result<(), Refusal>>,
    /// The answer was taken: nothing to give back on drop.
    answered: bool,
}

impl Pending {
    /// Waits for the turn, at most until its deadline.
    pub async fn granted(mut self) -> Result<Turn, Refusal> {
        let answer = tokio::time::timeout_at(self.deadline, &mut self.granted).await;
        let Ok(answer) = answer else {
            return Err(Refusal::Expired);
        };
        self.answered = true;
        match answer {
            Ok(Ok(())) => Ok(Turn {
                queue: Arc::clone(&self.queue),
                chat: self.chat,
                class: self.class,
                seq: self.seq,
                deadline: self.deadline,
            }),
            Ok(Err(refusal)) => Err(refusal),
            Err(_) => Err(Refusal::Closed),
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        // No grant can arrive after this; one that arrived unread is given back.
        self.granted.close();
        if let Ok(Ok(())) = self.granted.try_recv() {
            self.queue.release(self.chat);
        }
    }
}

/// The right to send one message to a chat now; given back when dropped.
pub struct Turn {
    queue: Arc<SendQueue>,
    chat: ChatId,
    class: SendClass,
    seq: u64,
    deadline: Instant,
}

impl Turn {
    /// Telegram answered 429: pause everything for `pause` and wait for this turn again.
    pub fn retry_after(self, pause: Duration) -> Pending {
        let queue = Arc::clone(&self.queue);
        queue.pause_and_requeue(self, pause)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.queue.release(self.chat);
    }
}
