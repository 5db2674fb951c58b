//! Step three of a story: its text. The fact cache, else the LLM through the `OpenAiGate`
//! (single-flight, so a crowd at one spot costs one call), else the place's own summary,
//! marked as such.

use std::{sync::Arc, time::Duration};

use actix::Addr;
use tracing::Instrument;

use super::Depth;
use crate::{
    actors::{
        fact_cache::{FactCache, Get, Put},
        openai_gate::{
            DEFAULT_INTERACTIVE_QUEUE_WAIT, GateError, Generate, OpenAiGate, Priority,
            StoryProgress,
        },
    },
    cache::{fact_key, more_fact_key},
    geo::Coordinates,
    i18n::Lang,
    places::Place,
    prompts::{self, ChatPrompt},
    stats::ErrorLog,
    story::StorySource,
};

/// How long a person waits by default for their story to start being written before the
/// place's summary is sent instead (`LLM_START_WAIT_MS`): with the LLM's first words ~0.6 s
/// after the start, the first words about the place come within ~1.5 s either way.
pub const DEFAULT_START_WAIT: Duration = Duration::from_millis(800);

/// Sentences of the place's own summary used when the LLM cannot write.
const FALLBACK_SENTENCES: usize = 3;

/// The LLM gate shed a request or kept it queued too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateBusy;

/// Why the LLM wrote no story.
enum NoStory {
    /// Shed or waited too long in the queue: worth trying again later.
    Busy,
    /// Failed, refused or empty: tell the summary.
    Failed,
    /// Not written within the wait; the call goes on and may still bring it.
    Late(LateStory),
}

/// A story still being written when its listener was given the summary instead.
pub struct LateStory(tokio::task::JoinHandle<GateAnswer>);

/// What the gate's actor answered a call.
type GateAnswer = Result<Result<String, GateError>, actix::MailboxError>;

impl LateStory {
    /// The story, if it is written within `within` (and is a story).
    pub async fn arrive(self, within: Duration) -> Option<String> {
        match tokio::time::timeout(within, self.0).await {
            Ok(Ok(Ok(Ok(text)))) if !text.trim().is_empty() => Some(text),
            _ => None,
        }
    }
}

/// What a story is about: the place, in a language, for someone standing somewhere.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The place.
    pub place: &'a Place,
    /// Where the listener stands.
    pub from: Coordinates,
    /// The listener's language.
    pub lang: Lang,
    /// The first story or the deeper one.
    pub depth: Depth,
}

/// Writes stories. Cheap to clone.
#[derive(Clone)]
pub struct StoryWriter {
    cache: Addr<FactCache>,
    /// `None` when no `OPENAI_API_KEY` is set: every story is the summary.
    gate: Option<Addr<OpenAiGate>>,
    /// Longest a user waits for a written story before the summary is sent instead.
    llm_wait: Duration,
    /// Longest a user waits for the story to start being written (a free permit) before the
    /// summary is sent instead and the story, still written, replaces it later.
    start_wait: Duration,
    /// Whether idle permits write the next place's story ahead.
    write_ahead: bool,
    /// Where failed calls are counted.
    errors: ErrorLog,
}

impl StoryWriter {
    /// A writer over the fact cache and the LLM gate, if there is one.
    pub fn new(cache: Addr<FactCache>, gate: Option<Addr<OpenAiGate>>, errors: ErrorLog) -> Self {
        Self {
            cache,
            gate,
            llm_wait: DEFAULT_INTERACTIVE_QUEUE_WAIT,
            start_wait: DEFAULT_START_WAIT,
            write_ahead: false,
            errors,
        }
    }

    /// Sets how long a user waits for a written story (`LLM_QUEUE_WAIT_SECS`) before the
    /// place's summary is sent; the story is still cached when it comes.
    pub fn with_llm_wait(mut self, llm_wait: Duration) -> Self {
        self.llm_wait = llm_wait;
        self
    }

    /// Sets how long a user waits for the story to start being written (`LLM_START_WAIT_MS`)
    /// before the summary is sent; the story, written later, replaces it.
    pub fn with_start_wait(mut self, start_wait: Duration) -> Self {
        self.start_wait = start_wait;
        self
    }

    /// Whether idle permits write ahead: `LLM_WRITE_AHEAD` and an LLM to write with.
    pub fn writes_ahead(&self) -> bool {
        self.write_ahead && self.gate.is_some()
    }

    /// Sets whether idle permits write ahead (`LLM_WRITE_AHEAD`).
    pub fn with_write_ahead(mut self, write_ahead: bool) -> Self {
        self.write_ahead = write_ahead;
        self
    }

    /// The story: the cache, else the LLM (waiting at most `wait`, `None`: until the gate
    /// answers), else the summary; `Err(GateBusy)` when the gate shed the request or it
    /// waited too long in the queue. The text so far goes to `progress` while it is written.
    pub async fn story_or_busy(
        &self,
        subject: Subject<'_>,
        priority: Priority,
        wait: Option<Duration>,
        progress: Option<&StoryProgress>,
    ) -> Result<(String, StorySource), GateBusy> {
        let (text, source, _late) = self
            .attempt(subject, priority, wait, None, progress)
            .await?;
        Ok((text, source))
    }

    /// The story for a person waiting now: the cache, else the LLM, else the summary. The
    /// summary goes when the story has not started being written within `LLM_START_WAIT_MS`
    /// (no permit free) or is not written within `LLM_QUEUE_WAIT_SECS`; then the story still
    /// being written comes too ([`LateStory`]), to replace it. The text so far goes to
    /// `progress` while it is written.
    pub async fn story_or_late(
        &self,
        subject: Subject<'_>,
        priority: Priority,
        progress: Option<&StoryProgress>,
    ) -> (String, StorySource, Option<LateStory>) {
        let wait = Some(self.llm_wait);
        self.attempt(subject, priority, wait, Some(self.start_wait), progress)
            .await
            .unwrap_or_else(|GateBusy| {
                let (text, source) = summary(subject);
                (text, source, None)
            })
    }

    /// The cache, else the LLM (waiting at most `wait`, and at most `start_wait` for it to
    /// start), else the summary, with the story still being written when a wait ran out;
    /// `Err(GateBusy)` when the gate shed the request or it waited too long in the queue.
    async fn attempt(
        &self,
        subject: Subject<'_>,
        priority: Priority,
        wait: Option<Duration>,
        start_wait: Option<Duration>,
        progress: Option<&StoryProgress>,
    ) -> Result<(String, StorySource, Option<LateStory>), GateBusy> {
        let key = story_key(subject);
        if let Ok(Some(text)) = self.cache.send(Get::new(key.clone())).await {
            return Ok((text.to_string(), StorySource::Cache, None));
        }
        let summarised = |late| {
            let (text, source) = summary(subject);
            (text, source, late)
        };
        let Some(gate) = &self.gate else {
            return Ok(summarised(None));
        };
        let mut request = Generate::new(key, story_prompt(subject), priority);
        if let Some(progress) = progress {
            request = request.with_progress(progress.clone());
        }
        match self.written(gate, request, wait, start_wait).await {
            Ok(text) => Ok((text, StorySource::Llm, None)),
            Err(NoStory::Busy) => Err(GateBusy),
            Err(NoStory::Failed) => Ok(summarised(None)),
            Err(NoStory::Late(late)) => Ok(summarised(Some(late))),
        }
    }

    /// Whether the story about `subject` is in the fact cache (a failed read: no).
    pub async fn is_written(&self, subject: Subject<'_>) -> bool {
        matches!(
            self.cache.send(Get::new(story_key(subject))).await,
            Ok(Some(_))
        )
    }

    /// Writes the story about `subject` ahead, at `Background` priority, while LLM permits
    /// are idle, for the cache: someone is about to ask for it. Returns at once; nothing is
    /// asked when the story is cached already, there is no LLM or `LLM_WRITE_AHEAD` is off.
    /// The gate never gives such a call the last free permit and sheds it first; a person
    /// asking for the same story meanwhile joins the call.
    pub async fn write_ahead(&self, subject: Subject<'_>) {
        let Some(gate) = self.gate.as_ref().filter(|_| self.write_ahead) else {
            return;
        };
        let key = story_key(subject);
        if let Ok(Some(_)) = self.cache.send(Get::new(key.clone())).await {
            return;
        }
        let prompt = story_prompt(subject);
        let request = Generate::new(key.clone(), prompt, Priority::Background);
        let (gate, cache) = (gate.clone(), self.cache.clone());
        tokio::spawn(
            async move {
                match gate.send(request).await {
                    Ok(Ok(text)) if !text.trim().is_empty() => {
                        let value: Arc<str> = text.as_str().into();
                        cache.do_send(Put { key, value });
                    }
                    Ok(Err(error)) => tracing::debug!(%error, "no story written ahead"),
                    _ => {}
                }
            }
            .in_current_span(),
        );
    }

    /// Asks the gate for a story and waits at most `wait` for it, and at most `start_wait`
    /// for its call to start (the gate then keeps it queued a while longer, behind people
    /// with no answer yet). The call runs in a task of its own that caches the story when it
    /// comes, so a user is never kept waiting past a wait, a slow story still serves the next
    /// visitor, and no call is wasted (or made twice) because its first asker stopped waiting
    /// or sent a newer location.
    async fn written(
        &self,
        gate: &Addr<OpenAiGate>,
        request: Generate,
        wait: Option<Duration>,
        start_wait: Option<Duration>,
    ) -> Result<String, NoStory> {
        let deadline = wait.map(|wait| tokio::time::Instant::now() + wait);
        let (started, has_started) = tokio::sync::oneshot::channel();
        let request = match start_wait {
            Some(start_wait) => request.late_after(start_wait, started),
            None => request,
        };
        let key = request.key.clone();
        let (gate, cache) = (gate.clone(), self.cache.clone());
        let call = tokio::spawn(
            async move {
                let answer = gate.send(request).await;
                if let Ok(Ok(text)) = &answer
                    && !text.trim().is_empty()
                {
                    let value: Arc<str> = text.as_str().into();
                    cache.do_send(Put { key, value });
                }
                answer
            }
            .in_current_span(),
        );
        let mut call = call;
        if let Some(start_wait) = start_wait {
            tokio::select! {
                biased;
                // Started (or answered without a call: the answer comes next).
                _ = has_started => {}
                () = tokio::time::sleep(start_wait) => {
                    if !call.is_finished() {
                        tracing::info!("no LLM permit free in time; telling the summary, the story later");
                        return Err(NoStory::Late(LateStory(call)));
                    }
                }
            }
        }
        let waited = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, &mut call).await,
            None => Ok((&mut call).await),
        };
        let outcome = match waited {
            Ok(Ok(Ok(answer))) => answer,
            Ok(Ok(Err(error))) => {
                self.errors.record();
                tracing::error!(%error, "LLM gate unreachable; telling the summary");
                return Err(NoStory::Failed);
            }
            Ok(Err(error)) => {
                self.errors.record();
                tracing::error!(%error, "LLM task failed; telling the summary");
                return Err(NoStory::Failed);
            }
            Err(_) => {
                tracing::info!("no LLM story in time; telling the summary, caching it later");
                return Err(NoStory::Late(LateStory(call)));
            }
        };
        match outcome {
            Ok(text) if !text.trim().is_empty() => Ok(text),
            Ok(_) => Err(NoStory::Failed),
            Err(GateError::Shed(_) | GateError::QueueWait) => Err(NoStory::Busy),
            Err(error) => {
                if error.is_service_failure() {
                    self.errors.record();
                }
                tracing::info!(%error, "no LLM story; telling the summary");
                Err(NoStory::Failed)
            }
        }
    }
}

/// The fact cache's (and the gate's single-flight) key of a story.
fn story_key(subject: Subject<'_>) -> String {
    let (lang, place) = (subject.lang.code(), &subject.place.id);
    match subject.depth {
        Depth::First => fact_key(lang, place),
        Depth::More => more_fact_key(lang, place),
    }
}

/// What the LLM is asked for a story.
fn story_prompt(subject: Subject<'_>) -> ChatPrompt {
    let Subject {
        place, from, lang, ..
    } = subject;
    match subject.depth {
        Depth::First => prompts::story(place, from, lang),
        Depth::More => prompts::deeper_story(place, from, lang),
    }
}

/// The place's own summary, as the story.
pub fn summary(subject: Subject<'_>) -> (String, StorySource) {
    let text = fallback_text(&subject.place.summary, subject.depth);
    (text, StorySource::Fallback)
}

/// The first sentences of a summary (all of it, up to a limit, for "tell me more").
pub fn fallback_text(summary: &str, depth: Depth) -> String {
    let (sentences, limit) = match depth {
        Depth::First => (FALLBACK_SENTENCES, 700),
        Depth::More => (12, 2500),
    };
    let mut text = String::new();
    for sentence in summary
        .split_inclusive(['.', '!', '?', '。'])
        .take(sentences)
    {
        if !text.is_empty() && text.chars().count() + sentence.chars().count() > limit {
            break;
        }
        text.push_str(sentence);
    }
    let text = text.trim();
    if text.chars().count() > limit {
        let cut: String = text.chars().take(limit).collect();
        format!("{}…", cut.trim_end())
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_is_the_first_three_sentences() {
        let summary = "One. Two is here! Three? Four. Five.";
        assert_eq!(
            fallback_text(summary, Depth::First),
            "One. Two is here! Three?"
        );
        assert_eq!(fallback_text(summary, Depth::More), summary);
    }

    #[test]
    fn a_fallback_never_exceeds_its_limit() {
        let summary = "x".repeat(5000);
        assert!(fallback_text(&summary, Depth::First).chars().count() <= 701);
    }
}
