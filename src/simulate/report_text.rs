//! The printed report ([`Report`]'s `Display`): one aligned line per figure, each saying
//! what it counts.

use std::fmt;

use super::{
    super::actors::live_sessions::TickOutcomes,
    exposition::{Digest, Exposition},
    openai::LlmFigures,
    report::{ANSWER_TARGET, FloodFigures, Report, ScenarioFigures, WalkFigures, show},
    telegram::CallLedger,
};

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.title)?;
        if let Some(figures) = &self.scenario {
            scenario(f, figures, &self.llm, self.permits)?;
        }
        if let Some(figures) = &self.walk {
            walk(f, figures, &self.llm, self.metrics.as_ref())?;
        }
        if let Some(figures) = &self.flood {
            flood(f, figures)?;
        }
        if let Some(kib) = self.rss_before_kib {
            writeln!(
                f,
                "memory       RSS before the load {:.1} MiB",
                kib as f64 / 1024.0
            )?;
        }
        telegram(f, &self.telegram)?;
        if let Some(metrics) = &self.metrics {
            write!(f, "{}", Digest(metrics))?;
        }
        match &self.process {
            Some(process) => writeln!(f, "{process}"),
            None => writeln!(f, "process      figures unavailable (no /proc)"),
        }
    }
}

/// The scenario's lines.
pub fn scenario(
    f: &mut fmt::Formatter<'_>,
    s: &ScenarioFigures,
    llm: &LlmFigures,
    permits: usize,
) -> fmt::Result {
    writeln!(
        f,
        "webhook ack  {}  ({} updates; {} accepted, {} refused)",
        s.acks.summary(50.0, 99.0),
        s.acks.len(),
        s.accepted,
        s.refused
    )?;
    writeln!(
        f,
        "/start      {}  end to end, all {} (unanswered {})",
        s.start.summary(50.0, 99.0),
        s.start.len(),
        s.start_unanswered
    )?;
    writeln!(
        f,
        "/start      {}  end to end, the {} sent while all {permits} LLM permits were busy",
        s.start_saturated.summary(50.0, 99.0),
        s.start_saturated.len()
    )?;
    let all = s.locations.all();
    writeln!(
        f,
        "locations    {} of {} answered within {} s: {} stories, {} summaries, {} notes, {} unanswered",
        all.within(ANSWER_TARGET),
        s.locations.asked(),
        ANSWER_TARGET.as_secs(),
        s.locations.story.len(),
        s.locations.fallback.len(),
        s.locations.note.len(),
        s.locations.unanswered
    )?;
    writeln!(
        f,
        "written      {} locations answered with a written story at once, {} by upgrade (the summary, then the story within 60 s of the location), {} with the summary only",
        s.locations.story.len(),
        s.locations.upgraded,
        s.locations
            .fallback
            .len()
            .saturating_sub(s.locations.upgraded)
    )?;
    writeln!(
        f,
        "story        {}  end to end",
        s.locations.story.summary(50.0, 95.0)
    )?;
    writeln!(
        f,
        "summary      {}  end to end",
        s.locations.fallback.summary(50.0, 95.0)
    )?;
    writeln!(f, "any answer   {}  end to end", all.summary(50.0, 95.0))?;
    writeln!(
        f,
        "first words  {}  of the story or summary (a draft being written, or the answer)",
        s.locations.first_words.summary(50.0, 95.0)
    )?;
    writeln!(
        f,
        "first sight  {}  of the place (a draft naming it, or the answer)",
        s.locations.first_sight.summary(50.0, 95.0)
    )?;
    writeln!(
        f,
        "tours        {} live-location edits sent; {} answers while walking ({} stories, {} summaries, {} notes)",
        s.tour_edits,
        s.tour_answers.asked() - s.tour_answers.unanswered,
        s.tour_answers.story.len(),
        s.tour_answers.fallback.len(),
        s.tour_answers.note.len()
    )?;
    let stories = s.locations.story.len() + s.tour_answers.story.len();
    let per_story = if stories == 0 {
        "n/a".to_owned()
    } else {
        format!("{:.2}", llm.calls as f64 / stories as f64)
    };
    writeln!(
        f,
        "LLM          {} calls for {} delivered stories ({per_story} per story); {} duplicate calls (same key twice); highest concurrency {} of {permits}",
        llm.calls, stories, llm.duplicates, llm.max_concurrency
    )?;
    writeln!(
        f,
        "prefetch     {} LLM calls for places nobody was told (prefetch waste: {:.1} % of the calls)",
        s.wasted_calls,
        100.0 * s.wasted_calls as f64 / (llm.calls as f64).max(1.0)
    )?;
    let seconds = s.elapsed.as_secs_f64().max(1e-9);
    writeln!(
        f,
        "throughput   {} updates accepted in {:.1} s ({:.1}/s)",
        s.accepted,
        seconds,
        s.accepted as f64 / seconds
    )
}

/// The walk scenario's lines: what the walkers saw, then the ticks as the bot counted them.
pub fn walk(
    f: &mut fmt::Formatter<'_>,
    w: &WalkFigures,
    llm: &LlmFigures,
    metrics: Option<&Exposition>,
) -> fmt::Result {
    writeln!(
        f,
        "walk         {} walkers, {} told a first story; {} live-location edits, {} updates refused; {:.1} s",
        w.walkers,
        w.started,
        w.edits,
        w.refused,
        w.elapsed.as_secs_f64()
    )?;
    writeln!(
        f,
        "walkers saw  {} tour stories (first ones included): {} written, {} summaries",
        w.stories.story.len() + w.stories.fallback.len(),
        w.stories.story.len(),
        w.stories.fallback.len()
    )?;
    let Some(m) = metrics else {
        return writeln!(f, "ticks        unknown: the bot's /metrics did not answer");
    };
    ticks(f, m, w.scale)?;
    let calls = |priority: &str| m.sum("excursobot_llm_calls_total", &[("priority", priority)]);
    let share = |part: f64, whole: f64| 100.0 * part / whole.max(1.0);
    writeln!(
        f,
        "LLM          {} calls (the bot: {} interactive, {} live, {} written ahead); {} for places nobody was told (prefetch waste: {:.1} % of the calls)",
        llm.calls,
        calls("interactive"),
        calls("live"),
        calls("background"),
        w.wasted_calls,
        share(w.wasted_calls as f64, llm.calls as f64)
    )
}

/// The ticks' lines, from the bot's `/metrics`.
fn ticks(f: &mut fmt::Formatter<'_>, m: &Exposition, scale: u32) -> fmt::Result {
    const STORY: &str = "excursobot_tour_story_seconds";
    let ticks = m.sum("excursobot_tour_ticks_total", &[]);
    let outcome = |name: &str| m.sum("excursobot_tour_tick_outcomes_total", &[("outcome", name)]);
    let source = |name: &str| m.sum(&format!("{STORY}_count"), &[("source", name)]);
    let (cached, fresh, summary) = (source("cache"), source("llm"), source("fallback"));
    let told = cached + fresh + summary;
    let counted: f64 = TickOutcomes::NAMES.iter().map(|name| outcome(name)).sum();
    writeln!(
        f,
        "ticks        {ticks}: {told} told a story ({} written: {cached} from the cache, {fresh} by the LLM at the tick; {summary} summaries), {} none ({} nothing new nearby, {} skipped while a story was written, {} no story to be had, {} other, {} ended before the answer)",
        cached + fresh,
        ticks - told,
        outcome("nothing_new"),
        outcome("skipped"),
        outcome("unavailable"),
        outcome("undelivered") + outcome("cancelled") + outcome("lost"),
        (ticks - counted).max(0.0)
    )?;
    let bound = |percent: f64| m.bucket_bound(STORY, &[], percent);
    let shown = |bound: Option<f64>, factor: f64| match bound {
        Some(bound) if bound.is_finite() => format!("<= {}", show_secs(bound * factor)),
        Some(_) => "over 120 s".to_owned(),
        None => "n/a".to_owned(),
    };
    let within = m.sum(&format!("{STORY}_bucket"), &[("le", "1")]);
    let scale = f64::from(scale);
    writeln!(
        f,
        "tick->story  p50 {}  p95 {}  wall time (bucket bounds; {:.1} % within 1 s); in tour time (x{scale}) p50 {}  p95 {}",
        shown(bound(50.0), 1.0),
        shown(bound(95.0), 1.0),
        100.0 * within / told.max(1.0),
        shown(bound(50.0), scale),
        shown(bound(95.0), scale)
    )?;
    writeln!(
        f,
        "written      {:.1} % of the ticks' stories were written stories, not summaries",
        100.0 * (cached + fresh) / told.max(1.0)
    )
}

/// Seconds as the report shows them.
fn show_secs(seconds: f64) -> String {
    show(std::time::Duration::from_secs_f64(seconds.max(0.0)))
}

/// The flood's lines.
pub fn flood(f: &mut fmt::Formatter<'_>, flood: &FloodFigures) -> fmt::Result {
    let seconds = flood.elapsed.as_secs_f64().max(1e-9);
    writeln!(
        f,
        "flood        {:.0} {} updates/s acknowledged ({} in {:.1} s over {} connections, {} client thread(s))",
        flood.accepted as f64 / seconds,
        flood.kind,
        flood.accepted,
        seconds,
        flood.connections,
        flood.client_threads
    )?;
    writeln!(
        f,
        "flood ack    {}  ({} busy 503, {} errors)",
        flood.acks.summary(50.0, 99.0),
        flood.busy,
        flood.errors
    )?;
    if flood.replies > 0 {
        writeln!(
            f,
            "flood sends  {} replies reached Telegram; the last {} after the load stopped",
            flood.replies,
            show(flood.drained_in)
        )?;
    }
    Ok(())
}

/// What the bot asked of Telegram.
pub fn telegram(f: &mut fmt::Formatter<'_>, ledger: &CallLedger) -> fmt::Result {
    let mut methods: Vec<(&String, &u64)> = ledger.by_method.iter().collect();
    methods.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let calls: u64 = methods.iter().map(|(_, n)| **n).sum();
    let by_method: Vec<String> = methods
        .iter()
        .map(|(method, n)| format!("{method} {n}"))
        .collect();
    writeln!(
        f,
        "telegram     {calls} calls ({}); {} counted messages; {} answered 429 Too Many Requests",
        by_method.join(", "),
        ledger.counted,
        ledger.rate_limited
    )?;
    let per_story = if ledger.stories == 0 {
        "n/a".to_owned()
    } else {
        format!("{:.2}", ledger.story_calls as f64 / ledger.stories as f64)
    };
    writeln!(
        f,
        "story calls  {per_story} Telegram calls per story told ({} calls: photos, story texts, pins, typing; {} stories)",
        ledger.story_calls, ledger.stories
    )
}
