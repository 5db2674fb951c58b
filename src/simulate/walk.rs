//! One simulated user's conversation: `/start`, then a location (the start of a live location
//! for walkers on a tour), then the tour's edits and the edit that stops sharing. Every step
//! waits at most until the run's deadline; what the bot sends is read from the chat's inbox at
//! the simulated Telegram, stamped with the moment it arrived there.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use futures::future::join_all;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{
    openai::STORY_MARK,
    report::{AnswerKind, Answers, Samples, ScenarioFigures},
    scenario::{Stage, Walker},
    telegram::{Delivery, Method},
    transcript::Line,
    updates::{self, LiveEdit, Sender, unix_now},
};
use crate::i18n::Lang;

/// Longest a user waits for the answer to a location before giving up on it.
const ANSWER_PATIENCE: Duration = Duration::from_secs(15);
/// How long a walker keeps reading the chat after they stopped sharing (for the summary).
const SUMMARY_PATIENCE: Duration = Duration::from_secs(2);
/// How long after sending a location a user told the summary keeps reading the chat for its
/// upgrade to the story (a tour's walker too, after the tour): the target counts stories
/// written within a minute.
const UPGRADE_PATIENCE: Duration = Duration::from_secs(60);
/// Longest a user waits for the reply to `/start`.
const START_PATIENCE: Duration = Duration::from_secs(10);

/// What one user measured.
#[derive(Debug, Default)]
pub struct WalkLog {
    /// Acknowledgement latency of each update posted.
    pub acks: Samples,
    /// Updates answered 200.
    pub accepted: u64,
    /// Updates answered otherwise or not at all.
    pub refused: u64,
    /// `/start` end to end, and whether every LLM permit was busy meanwhile.
    pub start: Option<(Duration, bool)>,
    /// The location's answer.
    pub location: Answers,
    /// Answers while walking.
    pub tour: Answers,
    /// Live-location edits posted.
    pub tour_edits: u64,
    /// The places told (their titles).
    pub told: HashSet<String>,
    /// The location was answered with the summary, not yet turned into the story.
    awaiting_upgrade: bool,
    /// When the location was sent.
    location_at: Option<Instant>,
    /// The chat, in order of events.
    pub transcript: Vec<Line>,
}

/// Runs every walker to the end (or the deadline); returns the figures and every user's log.
pub async fn run(stage: &Stage, walkers: &[Walker]) -> (ScenarioFigures, Vec<Vec<Line>>) {
    let logs: Vec<WalkLog> = join_all(walkers.iter().map(|walker| walk(stage, walker))).await;
    let mut figures = ScenarioFigures {
        elapsed: stage.started.elapsed(),
        ..ScenarioFigures::default()
    };
    let mut transcripts = Vec::with_capacity(logs.len());
    for log in logs {
        figures.acks.extend(&log.acks);
        figures.accepted += log.accepted;
        figures.refused += log.refused;
        match log.start {
            Some((latency, saturated)) => {
                figures.start.push(latency);
                if saturated {
                    figures.start_saturated.push(latency);
                }
            }
            None => figures.start_unanswered += 1,
        }
        figures.locations.merge(&log.location);
        figures.tour_answers.merge(&log.tour);
        figures.tour_edits += log.tour_edits;
        figures.told.extend(log.told);
        transcripts.push(log.transcript);
    }
    (figures, transcripts)
}

/// Plays one user's part; returns what it measured.
pub async fn walk(stage: &Stage, walker: &Walker) -> WalkLog {
    let mut inbox = stage.telegram.open_chat(walker.user_id);
    let mut chat = Chat {
        stage,
        walker,
        inbox: &mut inbox,
        log: WalkLog::default(),
        message_id: 0,
        last_post: Instant::now(),
    };
    if !chat.pause_until(stage.started + walker.arrival).await {
        return chat.log;
    }
    chat.start().await;
    if chat.pause(stage.timing.think).await {
        chat.share_location().await;
        if walker.tour {
            chat.tour().await;
        }
        if chat.log.awaiting_upgrade
            && let Some(at) = chat.log.location_at
        {
            let left = (at + UPGRADE_PATIENCE).saturating_duration_since(Instant::now());
            chat.listen(left).await;
        }
    }
    chat.log
}

/// A user's side of the chat while it plays.
struct Chat<'a> {
    stage: &'a Stage,
    walker: &'a Walker,
    inbox: &'a mut UnboundedReceiver<Delivery>,
    log: WalkLog,
    message_id: u32,
    /// When the last update was posted (tour answers are timed from it).
    last_post: Instant,
}

impl Chat<'_> {
    fn sender(&self) -> Sender<'_> {
        Sender {
            user_id: self.walker.user_id,
            language: &self.walker.language,
        }
    }

    async fn start(&mut self) {
        let busy = self.stage.llm_saturated();
        let sent = self
            .post("/start", |id, sender, message_id, date| {
                updates::command(id, sender, message_id, date, "/start")
            })
            .await;
        let until = sent + START_PATIENCE;
        let reply = self.next(until, |d| d.method == Method::Message).await;
        self.log.start = reply.map(|reply| {
            let busy = busy && self.stage.llm_saturated();
            (reply.at.saturating_duration_since(sent), busy)
        });
    }

    async fn share_location(&mut self) {
        let (at, live) = (self.walker.start, self.walker.tour);
        let what = if live {
            format!("📡 live location {:.5}, {:.5}", at.lat, at.lon)
        } else {
            format!("📍 location {:.5}, {:.5}", at.lat, at.lon)
        };
        let sent = self
            .post(&what, |id, sender, message_id, date| {
                updates::location(id, sender, message_id, date, at, live)
            })
            .await;
        self.log.location_at = Some(sent);
        let lang = self.lang();
        let until = sent + ANSWER_PATIENCE;
        let writing = |d: &Delivery| d.method == Method::Draft && d.text.contains(STORY_MARK);
        let mut first = self
            .next(until, |d| {
                d.method == Method::Draft || answer_kind(d, lang).is_some()
            })
            .await;
        if let Some(sight) = &first {
            let seen = sight.at.saturating_duration_since(sent);
            self.log.location.first_sight.push(seen);
            if sight.method == Method::Draft && !writing(sight) {
                first = self
                    .next(until, |d| writing(d) || answer_kind(d, lang).is_some())
                    .await;
            }
        }
        let answer = match first {
            Some(draft) if writing(&draft) => {
                let words = draft.at.saturating_duration_since(sent);
                self.log.location.first_words.push(words);
                self.next(until, |d| answer_kind(d, lang).is_some()).await
            }
            answer => {
                let about_the_place = answer.as_ref().is_some_and(|d| {
                    matches!(
                        answer_kind(d, lang),
                        Some(AnswerKind::Story | AnswerKind::Fallback)
                    )
                });
                if let Some(d) = answer.as_ref().filter(|_| about_the_place) {
                    let words = d.at.saturating_duration_since(sent);
                    self.log.location.first_words.push(words);
                }
                answer
            }
        };
        let kind = answer.as_ref().and_then(|d| answer_kind(d, lang));
        let latency = answer.map_or(Duration::ZERO, |d| d.at.saturating_duration_since(sent));
        self.log.location.record(kind, latency);
        self.log.awaiting_upgrade = kind == Some(AnswerKind::Fallback);
    }

    /// Walks the route with edits of the live location, then stops sharing.
    async fn tour(&mut self) {
        let live_message = self.message_id;
        let date = unix_now();
        let legs = self.walker.route.len();
        for (leg, (at, heading)) in self.walker.route.clone().into_iter().enumerate() {
            if !self.listen(self.stage.timing.edit_every).await {
                return;
            }
            let edit = LiveEdit {
                date,
                edit_date: unix_now(),
                at,
                heading,
            };
            let last = leg + 1 == legs;
            let what = if last {
                "⏹ stopped sharing the live location".to_owned()
            } else {
                format!("📡 moved to {:.5}, {:.5}", at.lat, at.lon)
            };
            self.post(&what, |id, sender, _, _| {
                if last {
                    updates::live_stop(id, sender, live_message, &edit)
                } else {
                    updates::live_edit(id, sender, live_message, &edit)
                }
            })
            .await;
            self.log.tour_edits += 1;
        }
        // The summary comes after the stop, once the chat's send budget has room again.
        self.listen(self.stage.timing.edit_every.max(SUMMARY_PATIENCE))
            .await;
    }

    /// Posts an update built by `build(update_id, sender, message_id, unix date)`; returns
    /// when it was sent.
    async fn post(
        &mut self,
        what: &str,
        build: impl FnOnce(u32, Sender, u32, u64) -> serde_json::Value,
    ) -> Instant {
        self.message_id += 1;
        let body = build(
            self.stage.next_update_id(),
            self.sender(),
            self.message_id,
            unix_now(),
        );
        let sent = Instant::now();
        self.last_post = sent;
        self.log.transcript.push(Line {
            at: sent,
            from_user: true,
            text: what.to_owned(),
        });
        match self.stage.client.post(body.to_string().as_bytes()).await {
            Ok(ack) => {
                self.log.acks.push(ack.latency);
                match ack.status {
                    200 => self.log.accepted += 1,
                    _ => self.log.refused += 1,
                }
            }
            Err(error) => {
                tracing::warn!(%error, "webhook post failed");
                self.log.refused += 1;
            }
        }
        sent
    }

    /// The next delivery matching `wanted`, noting everything that arrives; `None` at `until`
    /// or the run's deadline.
    async fn next(
        &mut self,
        until: Instant,
        wanted: impl Fn(&Delivery) -> bool,
    ) -> Option<Delivery> {
        let until = until.min(self.stage.deadline);
        loop {
            let delivery = tokio::time::timeout_at(until.into(), self.inbox.recv()).await;
            let delivery = delivery.ok().flatten()?;
            self.note(&delivery);
            if wanted(&delivery) {
                return Some(delivery);
            }
        }
    }

    /// Reads the chat for `duration`, counting answers as tour answers; `false` when the
    /// run's deadline came first.
    async fn listen(&mut self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        let lang = self.lang();
        while let Some(delivery) = self.next(until, |d| answer_kind(d, lang).is_some()).await {
            let latency = delivery.at.saturating_duration_since(self.last_post);
            self.log.tour.record(answer_kind(&delivery, lang), latency);
        }
        Instant::now() < self.stage.deadline
    }

    /// Sleeps for `duration` unless the deadline comes first (then `false`).
    async fn pause(&mut self, duration: Duration) -> bool {
        self.pause_until(Instant::now() + duration).await
    }

    async fn pause_until(&mut self, until: Instant) -> bool {
        if until >= self.stage.deadline {
            return false;
        }
        tokio::time::sleep_until(until.into()).await;
        true
    }

    fn note(&mut self, delivery: &Delivery) {
        let lang = self.lang();
        if matches!(
            answer_kind(delivery, lang),
            Some(AnswerKind::Story | AnswerKind::Fallback)
        ) && let Some(title) = told_title(&delivery.text)
        {
            self.log.told.insert(title);
        }
        // The summary edited into the story, or the story as a reply to the summary's photo.
        let in_time = self
            .log
            .location_at
            .is_some_and(|at| delivery.at <= at + UPGRADE_PATIENCE);
        if self.log.awaiting_upgrade && in_time && is_upgrade(delivery, lang) {
            self.log.awaiting_upgrade = false;
            self.log.location.upgraded += 1;
        }
        self.log.transcript.push(Line {
            at: delivery.at,
            from_user: false,
            text: super::transcript::describe(delivery),
        });
    }

    fn lang(&self) -> Lang {
        Lang::from_telegram(Some(&self.walker.language))
    }
}

/// Whether `delivery` turns a summary told before into the written story.
fn is_upgrade(delivery: &Delivery, lang: Lang) -> bool {
    let text = delivery.text.as_str();
    matches!(delivery.method, Method::EditText | Method::Message)
        && text.contains(STORY_MARK)
        && text.contains(lang.texts().guide_story)
}

/// What kind of answer to a location `delivery` is, if it is one (a summary turned into the
/// story afterwards is not a new answer).
pub fn answer_kind(delivery: &Delivery, lang: Lang) -> Option<AnswerKind> {
    if !matches!(delivery.method, Method::Message | Method::Photo) || is_upgrade(delivery, lang) {
        return None;
    }
    let text = delivery.text.as_str();
    let texts = lang.texts();
    let starts = |template: &str| {
        let fixed = template.split('{').next().unwrap_or(template);
        !fixed.is_empty() && text.starts_with(fixed)
    };
    if text.contains(STORY_MARK) {
        Some(AnswerKind::Story)
    } else if text.contains(texts.from_wikipedia) {
        Some(AnswerKind::Fallback)
    } else if starts(texts.busy) {
        Some(AnswerKind::Busy)
    } else if starts(texts.nothing_nearby) {
        Some(AnswerKind::NothingNearby)
    } else if starts(texts.sources_down) {
        Some(AnswerKind::SourcesDown)
    } else {
        None
    }
}

/// The place's title in a story's header: `<b>Title</b>`, or `<b>#N · Title</b>` on a tour.
pub fn told_title(text: &str) -> Option<String> {
    let header = text.strip_prefix("<b>")?.split("</b>").next()?;
    let title = match header.strip_prefix('#') {
        Some(numbered) => numbered.split_once(" · ")?.1,
        None => header,
    };
    Some(
        title
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tour_storys_header_names_its_place() {
        let caption = "<b>#3 · Fountain, block 4-5</b>\n\n👀 Ahead\n\n✍ A story";
        assert_eq!(told_title(caption).as_deref(), Some("Fountain, block 4-5"));
        let one_off = told_title("<b>Fountain, block 4-5</b>\n\n✍ A story");
        assert_eq!(one_off.as_deref(), Some("Fountain, block 4-5"));
        assert_eq!(told_title("🚶 Your tour has started!"), None);
    }
}
