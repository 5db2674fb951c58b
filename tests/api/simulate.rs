//! `excursobot simulate` end to end: the real application against its built-in simulators,
//! with the flags a user would type.

use std::time::Duration;

use clap::Parser;
use excursobot::simulate::{self, SimulateArgs};

/// The `simulate` flags, parsed as the binary parses them.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: SimulateArgs,
}

fn args(flags: &[&str]) -> SimulateArgs {
    let argv = std::iter::once("simulate").chain(flags.iter().copied());
    Cli::try_parse_from(argv).expect("valid flags").args
}

#[actix_web::test]
async fn a_tiny_scenario_answers_every_location_without_duplicate_llm_calls() {
    let flags = [
        "--users",
        "6",
        "--edits",
        "2",
        "--llm-first-token-ms",
        "20",
        "--llm-tokens-per-sec",
        "5000",
        "--duration-secs",
        "4",
        "--no-write-ahead",
    ];

    let outcome = simulate::run(args(&flags))
        .await
        .expect("the simulation runs");

    let report = &outcome.report;
    let scenario = report.scenario.as_ref().expect("scenario figures");
    // 6 × (/start + location) + 3 walkers × (2 moves + the stop).
    assert_eq!((scenario.accepted, scenario.refused), (21, 0));
    assert_eq!(scenario.acks.len(), 21);
    assert_eq!((scenario.start.len(), scenario.start_unanswered), (6, 0));
    assert_eq!(scenario.locations.asked(), 6);
    assert_eq!(scenario.locations.unanswered, 0);
    let answers = scenario.locations.all();
    assert_eq!(answers.within(Duration::from_secs(10)), 6);
    assert_eq!(scenario.tour_edits, 9);
    assert_eq!(report.llm.duplicates, 0, "{report}");
    assert!(
        report.llm.calls >= 1 && report.llm.max_concurrency <= 3,
        "{report}"
    );
    let stories = scenario.locations.story.len() + scenario.tour_answers.story.len();
    assert!(report.llm.calls as usize <= stories, "{report}");
    assert!(report.process.as_ref().is_some_and(|p| p.peak_rss_kib > 0));
    assert!(outcome.transcript.is_none());
    assert!(report.title.contains("send limits production"), "{report}");
    let telegram = &report.telegram;
    assert_eq!(telegram.rate_limited, 0, "{report}");
    assert!(telegram.stories >= 6, "{report}");
    assert!(telegram.story_calls * 2 <= telegram.stories * 3, "{report}");
    let metrics = report
        .metrics
        .as_ref()
        .expect("the bot's /metrics read at the end");
    let accepted = metrics.sum("excursobot_updates_total", &[("outcome", "accepted")]);
    assert_eq!(accepted, 21.0, "the bot counted what the simulator sent");
    let first = metrics.sum("excursobot_first_answer_seconds_count", &[]);
    assert_eq!(first, 6.0, "one first answer per location: {report}");
    assert!(
        report
            .to_string()
            .contains("metrics      first answers: story"),
        "{report}"
    );
    let locations = &scenario.locations;
    assert!(locations.upgraded <= locations.fallback.len(), "{report}");
    assert!(
        scenario.told.len() >= 6,
        "every story's place is known: {report}"
    );
    // Without LLM_WRITE_AHEAD every call is for a place someone was told.
    assert_eq!(scenario.wasted_calls, 0, "{report}");
    let text = report.to_string();
    assert!(text.contains("locations answered with a written story at once"));
}

#[actix_web::test]
async fn the_simulated_telegram_refuses_a_bot_past_the_send_limits() {
    use excursobot::simulate::telegram::SimTelegram;
    let telegram = SimTelegram::start(1, false).unwrap();
    let client = reqwest::Client::new();
    let send = |chat: i64| {
        client
            .post(format!("{}/botTOKEN/sendMessage", telegram.url()))
            .json(&serde_json::json!({ "chat_id": chat, "text": "hi" }))
            .send()
    };

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(send(1).await.unwrap().status().as_u16());
    }
    let refused = send(1).await.unwrap();
    let answer: serde_json::Value = refused.json().await.unwrap();

    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429],
        "four a second to one chat"
    );
    assert_eq!(answer["error_code"], 429);
    assert_eq!(answer["parameters"]["retry_after"], 1);
    let typing = client
        .post(format!("{}/botTOKEN/sendChatAction", telegram.url()))
        .json(&serde_json::json!({ "chat_id": 1, "action": "typing" }))
        .send()
        .await
        .unwrap();
    assert_eq!(typing.status(), 200, "chat actions do not count");
    assert_eq!(telegram.ledger().rate_limited, 2);
    telegram.stop().await;
}

#[actix_web::test]
async fn one_user_gets_a_readable_transcript_of_the_chat() {
    let flags = [
        "--users",
        "1",
        "--transcript",
        "--llm-first-token-ms",
        "20",
        "--llm-tokens-per-sec",
        "5000",
        "--duration-secs",
        "3",
    ];

    let outcome = simulate::run(args(&flags))
        .await
        .expect("the simulation runs");

    let transcript = outcome.transcript.as_deref().expect("a transcript");
    let lines: Vec<&str> = transcript.lines().collect();
    assert!(lines[0].ends_with("user  /start"), "{transcript}");
    assert!(
        lines[1].contains("bot   Hi! I tell short, true stories"),
        "{transcript}"
    );
    assert!(
        transcript.contains("user  📡 live location"),
        "{transcript}"
    );
    assert!(
        transcript.contains("✍ A story the simulated LLM wrote about"),
        "{transcript}"
    );
    assert!(transcript.contains("of you"), "{transcript}");
    assert!(transcript.contains("[📍 On the map]"), "{transcript}");
    assert!(
        transcript.contains("user  ⏹ stopped sharing"),
        "{transcript}"
    );
    assert!(
        transcript.contains("🏁 Tour finished. Stories: "),
        "{transcript}"
    );
    assert!(
        transcript.contains(" · time: < 1 min."),
        "the summary reads as the user sees it: {transcript}"
    );
    let printed = outcome.to_string();
    assert!(printed.contains("1 of 1 answered within 10 s"), "{printed}");
}

#[actix_web::test]
async fn a_short_flood_of_ignored_updates_is_acknowledged() {
    let flags = [
        "--flood",
        "ignored",
        "--duration-secs",
        "1",
        "--connections",
        "4",
    ];

    let outcome = simulate::run(args(&flags))
        .await
        .expect("the simulation runs");

    let flood = outcome.report.flood.as_ref().expect("flood figures");
    assert!(flood.accepted > 100, "{}", outcome.report);
    assert_eq!((flood.busy, flood.errors), (0, 0), "{}", outcome.report);
    let metrics = outcome.report.metrics.as_ref().expect("the bot's /metrics");
    let counted = metrics.sum("excursobot_updates_total", &[("outcome", "accepted")]);
    assert_eq!(counted, flood.accepted as f64, "{}", outcome.report);
}

#[actix_web::test]
async fn after_a_flood_of_hostile_bodies_the_bot_gives_its_memory_back() {
    let binary = env!("CARGO_BIN_EXE_excursobot");
    let flags = [
        "--flood",
        "hostile",
        "--duration-secs",
        "3",
        "--bot-process",
        "--bot-binary",
        binary,
    ];

    let outcome = simulate::run(args(&flags))
        .await
        .expect("the simulation runs");

    let report = &outcome.report;
    let flood = report.flood.as_ref().expect("flood figures");
    assert!(flood.accepted > 50 && flood.errors == 0, "{report}");
    let before = report.rss_before_kib.expect("memory before") as f64;
    let process = report.process.as_ref().expect("process figures");
    let (peak, after) = (process.peak_rss_kib as f64, process.rss_kib as f64);
    // The flood really took memory, and most of it came back once it was over.
    assert!(peak - before > 32.0 * 1024.0, "{report}");
    assert!(peak - after >= 0.75 * (peak - before), "{report}");
}

#[actix_web::test]
async fn with_wikipedia_down_a_location_is_answered_from_the_gazetteer() {
    let flags = [
        "--users",
        "1",
        "--tour-share",
        "0",
        "--wikipedia-down",
        "--duration-secs",
        "2",
    ];

    let outcome = simulate::run(args(&flags))
        .await
        .expect("the simulation runs");

    let transcript = outcome.transcript.as_deref().expect("a transcript");
    assert!(transcript.contains("You are near Moscow"), "{transcript}");
}

#[actix_web::test]
async fn a_tiny_walk_gives_every_tick_a_story() {
    // Tours' time 300 times the clock: the 10-minute interval lasts 2 s, an edit a block
    // every 0.4 s; 7 s of walking is three ticks a walker.
    let flags = [
        "--scenario",
        "walk",
        "--walkers",
        "3",
        "--time-scale",
        "300",
        "--duration-secs",
        "7",
    ];

    let outcome = simulate::run(args(&flags))
        .await
        .expect("the simulation runs");

    let report = &outcome.report;
    let walk = report.walk.as_ref().expect("walk figures");
    assert_eq!(
        (walk.walkers, walk.started, walk.refused),
        (3, 3, 0),
        "{report}"
    );
    let metrics = report.metrics.as_ref().expect("the bot's /metrics");
    let ticks = metrics.sum("excursobot_tour_ticks_total", &[]);
    let told = metrics.sum(
        "excursobot_tour_tick_outcomes_total",
        &[("outcome", "told")],
    );
    assert!(ticks >= 6.0, "{report}");
    let at_ticks = metrics.sum("excursobot_tour_story_seconds_count", &[]);
    assert_eq!(told, at_ticks, "{report}");
    // A tick that fired as its walker stopped sharing may end with its tour; every other
    // tick told a story.
    assert!(told >= ticks - 3.0, "{report}");
    let ahead = metrics.sum("excursobot_llm_calls_total", &[("priority", "background")]);
    assert!(
        ahead >= 1.0,
        "the walkers' next places were written ahead: {report}"
    );
    let text = report.to_string();
    assert!(text.contains("tick->story  p50"), "{report}");
    assert!(text.contains("prefetch waste"), "{report}");
}
