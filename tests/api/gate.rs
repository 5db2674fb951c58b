//! The `OpenAiGate` actor against a wiremock OpenAI.

use std::time::Duration;

use crate::helpers::mock_openai::{MockOpenAi, Reply, story, story_about};
use crate::helpers::paced_openai::PacedOpenAi;
use actix::{Actor, Addr};
use excursobot::{
    actors::openai_gate::{
        GateConfig, GateError, GateSnapshot, GateStats, Generate, OpenAiGate, Priority, ShedReason,
        Unusable,
    },
    prompts::{ChatPrompt, StoryShape},
};
use futures::future::join_all;
use tokio::time::Instant;

use Priority::{Interactive, Live};

/// Small timings so the whole file runs in seconds.
fn test_config() -> GateConfig {
    GateConfig {
        call_timeout: Duration::from_secs(5),
        max_retry_after: Duration::from_secs(2),
        retry_backoff: Duration::from_millis(50),
        breaker_cooldown: Duration::from_millis(400),
        ..GateConfig::default()
    }
}

fn start_gate(mock: &MockOpenAi, config: GateConfig) -> Addr<OpenAiGate> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    OpenAiGate::new(config, mock.config()).unwrap().start()
}

/// A prompt whose user text is `user`; its answer must be as long as the bot's first story.
fn prompt(user: &str) -> ChatPrompt {
    ChatPrompt {
        system: "You tell short true stories about places.".into(),
        user: user.into(),
        max_tokens: 200,
        shape: StoryShape {
            words: 60..=90,
            name: None,
        },
    }
}

/// Sends a request whose user text is `key`, so the mock can tell requests apart. The message
/// is posted at once; the returned future awaits the answer.
fn generate(
    gate: &Addr<OpenAiGate>,
    key: &str,
    priority: Priority,
) -> impl Future<Output = Result<String, GateError>> + use<> {
    let request = gate.send(Generate::new(key, prompt(key), priority));
    async move { request.await.unwrap() }
}

/// Starts a request in the background (the future is polled by the arbiter).
fn spawn_generate(
    gate: &Addr<OpenAiGate>,
    key: &str,
    priority: Priority,
) -> tokio::task::JoinHandle<Result<String, GateError>> {
    actix::spawn(generate(gate, key, priority))
}

async fn stats(gate: &Addr<OpenAiGate>) -> GateSnapshot {
    gate.send(GateStats).await.unwrap()
}

/// Polls the gate's stats until `ready` holds (at most 3 s).
async fn wait_for(gate: &Addr<OpenAiGate>, ready: impl Fn(&GateSnapshot) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let snapshot = stats(gate).await;
        if ready(&snapshot) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gate never reached the state: {snapshot:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[actix_rt::test]
async fn never_more_than_permits_calls_run_at_once() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(60));
    let gate = start_gate(&mock, test_config());

    let requests = (0..50).map(|i| generate(&gate, &format!("place-{i}"), Live));
    let answers = join_all(requests).await;

    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(*answer, Ok(story_about(&format!("place-{i}"))));
    }
    assert_eq!(mock.request_count(), 50);
    assert_eq!(mock.max_concurrent_requests(), 3);
    let snapshot = stats(&gate).await;
    assert_eq!(snapshot.max_in_flight_seen, 3);
    assert_eq!(snapshot.calls_started, 50);
}

#[actix_rt::test]
async fn interactive_overtakes_live() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(150));
    let gate = start_gate(
        &mock,
        GateConfig {
            permits: 1,
            ..test_config()
        },
    );

    let hold = spawn_generate(&gate, "hold", Live);
    wait_for(&gate, |s| s.in_flight == 1).await;
    let live = [
        spawn_generate(&gate, "live-1", Live),
        spawn_generate(&gate, "live-2", Live),
    ];
    wait_for(&gate, |s| s.queued == [0, 2, 0]).await;
    let interactive = spawn_generate(&gate, "interactive-1", Interactive);
    wait_for(&gate, |s| s.queued == [1, 2, 0]).await;

    assert!(hold.await.unwrap().is_ok() && interactive.await.unwrap().is_ok());
    for request in live {
        assert!(request.await.unwrap().is_ok());
    }
    let order: Vec<String> = mock.requests().into_iter().map(|r| r.user).collect();
    assert_eq!(order, ["hold", "interactive-1", "live-1", "live-2"]);
}

#[actix_rt::test]
async fn overflow_sheds_the_newest_live_request_first() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(100));
    let config = GateConfig {
        permits: 1,
        total_queue_cap: 3,
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    let hold = spawn_generate(&gate, "hold", Live);
    wait_for(&gate, |s| s.in_flight == 1).await;
    let live: Vec<_> = (1..=3)
        .map(|i| spawn_generate(&gate, &format!("live-{i}"), Live))
        .collect();
    wait_for(&gate, |s| s.queued == [0, 3, 0]).await;

    let interactive = spawn_generate(&gate, "interactive", Interactive);
    let late_live = generate(&gate, "live-4", Live).await;

    assert_eq!(late_live, Err(GateError::Shed(ShedReason::QueueFull)));
    assert!(interactive.await.unwrap().is_ok() && hold.await.unwrap().is_ok());
    let answers: Vec<_> = join_all(live)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(answers[0].is_ok() && answers[1].is_ok());
    assert_eq!(answers[2], Err(GateError::Shed(ShedReason::Displaced)));
    assert_eq!(stats(&gate).await.shed, 2);
    let order: Vec<String> = mock.requests().into_iter().map(|r| r.user).collect();
    assert_eq!(order, ["hold", "interactive", "live-1", "live-2"]);
}

#[actix_rt::test]
async fn twenty_requests_for_one_key_make_one_call() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(200));
    let told = story("The old mill ground flour for 300 years.");
    mock.always(Reply::Story(format!("  {told}\n")));
    let gate = start_gate(&mock, test_config());

    let requests = (0..20).map(|_| generate(&gate, "fact:v1:en:en:12345", Live));
    let answers = join_all(requests).await;

    assert_eq!(mock.request_count(), 1, "{answers:?}");
    let expected = Ok(told);
    assert!(answers.iter().all(|a| *a == expected), "{answers:?}");
}

#[actix_rt::test]
async fn a_higher_priority_waiter_promotes_a_queued_job() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(100));
    let gate = start_gate(
        &mock,
        GateConfig {
            permits: 1,
            ..test_config()
        },
    );
    let hold = spawn_generate(&gate, "hold", Live);
    wait_for(&gate, |s| s.in_flight == 1).await;

    let live = spawn_generate(&gate, "shared", Live);
    wait_for(&gate, |s| s.queued == [0, 1, 0]).await;
    let interactive = spawn_generate(&gate, "shared", Interactive);
    wait_for(&gate, |s| s.queued == [1, 0, 0]).await;

    assert!(hold.await.unwrap().is_ok());
    assert_eq!(live.await.unwrap(), interactive.await.unwrap());
    assert_eq!(mock.request_count(), 2);
}

#[actix_rt::test]
async fn rate_limit_is_retried_after_retry_after() {
    let mock = MockOpenAi::start().await;
    mock.then([Reply::RateLimited {
        retry_after_secs: Some(1),
    }]);
    let gate = start_gate(&mock, test_config());

    let answer = generate(&gate, "place", Interactive).await;

    assert!(answer.is_ok(), "{answer:?}");
    let requests = mock.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(1800),
        "retried after {waited:?}"
    );
}

#[actix_rt::test]
async fn insufficient_quota_is_not_retried() {
    let mock = MockOpenAi::start().await;
    mock.always(Reply::InsufficientQuota);
    let gate = start_gate(&mock, test_config());

    let answer = generate(&gate, "place", Interactive).await;

    assert_eq!(answer, Err(GateError::QuotaExceeded));
    assert_eq!(mock.request_count(), 1);
}

#[actix_rt::test]
async fn a_hanging_llm_times_out_after_bounded_retries() {
    let mock = MockOpenAi::start().await;
    mock.always(Reply::Hang);
    let config = GateConfig {
        call_timeout: Duration::from_millis(250),
        ..test_config()
    };
    let gate = start_gate(&mock, config);

    let started = Instant::now();
    let answer = generate(&gate, "place", Live).await;

    assert_eq!(answer, Err(GateError::Timeout));
    assert_eq!(mock.request_count(), 3, "one attempt and two retries");
    // 3 x 250 ms attempts + 50 ms + 100 ms back-off, plus slack.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
}

#[actix_rt::test]
async fn two_server_errors_then_success_succeeds() {
    let mock = MockOpenAi::start().await;
    mock.then([Reply::ServerError, Reply::ServerError]);
    let gate = start_gate(&mock, test_config());

    let answer = generate(&gate, "place", Live).await;

    assert_eq!(answer, Ok(story_about("place")));
    assert_eq!(mock.request_count(), 3);
}

#[actix_rt::test]
async fn refusal_length_and_content_filter_map_to_their_errors() {
    let mock = MockOpenAi::start().await;
    let gate = start_gate(&mock, test_config());
    let cases = [
        (Reply::Refusal, GateError::Refused),
        (Reply::Length, GateError::Truncated),
        (Reply::ContentFilter, GateError::ContentFilter),
        (Reply::ContentFilter400, GateError::ContentFilter),
    ];

    for (i, (reply, expected)) in cases.into_iter().enumerate() {
        mock.always(reply);
        let answer = generate(&gate, &format!("place-{i}"), Interactive).await;
        assert_eq!(answer, Err(expected));
    }
    assert_eq!(mock.request_count(), 4, "none of them is retried");
    assert!(
        !stats(&gate).await.breaker_open,
        "healthy answers do not trip the breaker"
    );
}

#[actix_rt::test]
async fn unusable_answers_are_not_retried_and_open_the_breaker_like_failures() {
    let mock = MockOpenAi::start().await;
    mock.then([Reply::Story(String::new())]);
    mock.always(Reply::Story(story("Hello! How are you today?")));
    let config = GateConfig {
        breaker_failures: 2,
        ..test_config()
    };
    let gate = start_gate(&mock, config);

    let empty = generate(&gate, "empty", Live).await;
    let greeting = generate(&gate, "greeting", Live).await;
    let after = generate(&gate, "after", Interactive).await;

    assert_eq!(empty, Err(GateError::Unusable(Unusable::Empty)));
    assert_eq!(greeting, Err(GateError::Unusable(Unusable::MetaTalk)));
    assert_eq!(after, Err(GateError::CircuitOpen));
    assert_eq!(mock.request_count(), 2, "neither is retried");
    assert!(stats(&gate).await.breaker_open);
}

#[actix_rt::test]
async fn the_breaker_opens_after_failures_and_closes_after_cool_down() {
    let mock = MockOpenAi::start().await;
    mock.always(Reply::ServerError);
    let config = GateConfig {
        max_retries: 0,
        breaker_failures: 3,
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    for i in 0..3 {
        let answer = generate(&gate, &format!("failing-{i}"), Live).await;
        assert!(matches!(answer, Err(GateError::Upstream(_))), "{answer:?}");
    }

    let started = Instant::now();
    let answer = generate(&gate, "while-open", Interactive).await;
    assert_eq!(answer, Err(GateError::CircuitOpen));
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!(mock.request_count(), 3);
    assert!(stats(&gate).await.breaker_open);

    mock.always(Reply::Story(story("Back again.")));
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        generate(&gate, "probe", Live).await,
        Ok(story("Back again."))
    );
    assert!(!stats(&gate).await.breaker_open);
}

#[actix_rt::test]
async fn queued_requests_fail_fast_when_the_breaker_opens() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(100));
    mock.always(Reply::ServerError);
    let config = GateConfig {
        permits: 1,
        max_retries: 0,
        breaker_failures: 1,
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    let failing = spawn_generate(&gate, "failing", Live);
    wait_for(&gate, |s| s.in_flight == 1).await;

    let queued = generate(&gate, "queued", Interactive).await;

    assert_eq!(queued, Err(GateError::CircuitOpen));
    assert!(matches!(
        failing.await.unwrap(),
        Err(GateError::Upstream(_))
    ));
    assert_eq!(mock.request_count(), 1);
}

#[actix_rt::test]
async fn an_interactive_request_gets_queue_wait_while_permits_are_held() {
    let mock = MockOpenAi::start().await;
    mock.always(Reply::Hang);
    let config = GateConfig {
        permits: 1,
        call_timeout: Duration::from_secs(3600),
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    let _hold = spawn_generate(&gate, "hold", Live);
    wait_for(&gate, |s| s.in_flight == 1).await;
    while mock.request_count() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // The held call now only waits on the socket: the paused clock jumps to the queue wait.
    tokio::time::pause();
    let started = Instant::now();
    let answer = generate(&gate, "interactive", Interactive).await;
    let waited = started.elapsed();
    tokio::time::resume();

    assert_eq!(answer, Err(GateError::QueueWait));
    let expected = GateConfig::default().interactive_queue_wait;
    assert!(
        waited >= expected && waited < expected + Duration::from_millis(100),
        "{waited:?}"
    );
    assert_eq!(stats(&gate).await.queued, [0, 0, 0]);
}

#[actix_rt::test]
async fn an_interactive_request_the_queue_cannot_reach_in_time_is_answered_at_once() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(400));
    let config = GateConfig {
        permits: 1,
        interactive_queue_wait: Duration::from_secs(1),
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    // One finished call teaches the gate that a call takes ~0.4 s.
    assert!(generate(&gate, "warm-up", Interactive).await.is_ok());
    let hold = spawn_generate(&gate, "hold", Live);
    wait_for(&gate, |s| s.in_flight == 1).await;

    // The permit frees at ~0.4 s: the first queued job starts then, the second at ~0.8 s,
    // both within the 1 s wait; a third would start at ~1.2 s.
    let first = spawn_generate(&gate, "first", Interactive);
    wait_for(&gate, |s| s.queued == [1, 0, 0]).await;
    let second = spawn_generate(&gate, "second", Interactive);
    wait_for(&gate, |s| s.queued == [2, 0, 0]).await;
    let started = Instant::now();
    let third = generate(&gate, "third", Interactive).await;
    let waited = started.elapsed();

    assert_eq!(third, Err(GateError::QueueWait));
    assert!(waited < Duration::from_millis(200), "{waited:?}");
    assert_eq!(stats(&gate).await.queued, [2, 0, 0]);
    for (request, key) in [(hold, "hold"), (first, "first"), (second, "second")] {
        assert_eq!(request.await.unwrap(), Ok(story_about(key)));
    }
    let order: Vec<String> = mock.requests().into_iter().map(|r| r.user).collect();
    assert_eq!(order, ["warm-up", "hold", "first", "second"]);
}

#[actix_rt::test]
async fn the_gate_answers_stats_while_every_permit_hangs() {
    let mock = MockOpenAi::start().await;
    mock.always(Reply::Hang);
    let config = GateConfig {
        call_timeout: Duration::from_secs(3600),
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    let _calls: Vec<_> = (0..13)
        .map(|i| spawn_generate(&gate, &format!("p-{i}"), Live))
        .collect();
    wait_for(&gate, |s| s.in_flight == 3 && s.queued == [0, 10, 0]).await;

    for _ in 0..10 {
        let started = Instant::now();
        let snapshot = stats(&gate).await;
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(snapshot.in_flight, 3);
    }
}

#[actix_rt::test]
async fn a_panicking_call_is_answered_and_frees_its_permit() {
    let mock = MockOpenAi::start().await;
    let mut openai = mock.config();
    // async-openai unwraps the Authorization header value; a newline makes it panic.
    openai.api_key = "bad\nkey".into();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gate = OpenAiGate::new(
        GateConfig {
            permits: 1,
            ..test_config()
        },
        openai,
    )
    .unwrap()
    .start();

    let first = generate(&gate, "first", Interactive).await;
    let second = generate(&gate, "second", Interactive).await;

    assert_eq!(first, Err(GateError::Upstream("panic".into())));
    assert_eq!(second, Err(GateError::Upstream("panic".into())));
    assert_eq!(stats(&gate).await.in_flight, 0);
}

#[actix_rt::test]
async fn a_stream_that_breaks_midway_is_a_failed_call_never_retried_nor_half_told() {
    let mock = MockOpenAi::start().await;
    mock.then([Reply::BrokenStream]);
    let gate = start_gate(&mock, test_config());

    let answer = generate(&gate, "place", Interactive).await;

    match answer {
        Err(GateError::Upstream(why)) => assert!(why.contains("unfinished"), "{why}"),
        other => panic!("a broken stream is no story: {other:?}"),
    }
    assert_eq!(mock.request_count(), 1, "text had come: not tried again");
}

#[actix_rt::test]
async fn the_text_so_far_reaches_every_waiter_that_asked_including_one_that_joined_late() {
    let llm = PacedOpenAi::start(Duration::from_millis(100), Duration::from_millis(20));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let gate = OpenAiGate::new(test_config(), llm.config())
        .unwrap()
        .start();
    let progress = || tokio::sync::watch::channel(std::sync::Arc::<str>::from(""));
    let ((first_tx, mut first_rx), (late_tx, mut late_rx)) = (progress(), progress());
    let first = Generate::new("place", prompt("place"), Interactive).with_progress(first_tx);
    let first = actix::spawn(gate.send(first));

    first_rx
        .changed()
        .await
        .expect("the first waiter hears the text start");
    let heard = first_rx.borrow_and_update().clone();
    assert!(story_about("place").starts_with(&*heard), "{heard}");
    assert!(
        heard.len() < story_about("place").len(),
        "heard while written: {heard}"
    );
    let late = Generate::new("place", prompt("place"), Interactive).with_progress(late_tx);
    let late = actix::spawn(gate.send(late));
    late_rx
        .changed()
        .await
        .expect("the late waiter hears the text so far at once");
    let so_far = late_rx.borrow_and_update().clone();
    assert!(story_about("place").starts_with(&*so_far), "{so_far}");

    assert_eq!(late.await.unwrap().unwrap(), Ok(story_about("place")));
    assert_eq!(first.await.unwrap().unwrap(), Ok(story_about("place")));
    assert_eq!(
        llm.request_count(),
        1,
        "the late waiter joined the call in flight"
    );
    let last = first_rx.borrow().clone();
    assert!(last.len() > heard.len(), "the text kept coming: {last}");
}

#[actix_rt::test]
async fn writing_ahead_never_takes_the_last_free_permit_and_yields_to_people() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(300));
    let gate = start_gate(&mock, test_config());

    // One permit taken: writing ahead may use one more, never the third.
    let person = spawn_generate(&gate, "person-1", Interactive);
    wait_for(&gate, |s| s.in_flight == 1).await;
    let ahead: Vec<_> = (1..=3)
        .map(|i| spawn_generate(&gate, &format!("ahead-{i}"), Priority::Background))
        .collect();
    wait_for(&gate, |s| s.in_flight == 2 && s.queued == [0, 0, 2]).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        stats(&gate).await.in_flight,
        2,
        "the last permit stays free"
    );

    // A person finds the free permit at once, and a walker goes before what is written ahead.
    let asked = Instant::now();
    let second = generate(&gate, "person-2", Interactive);
    let walker = spawn_generate(&gate, "walker", Live);
    assert!(second.await.is_ok());
    assert!(
        asked.elapsed() < Duration::from_millis(550),
        "a person never waits for writing ahead: {:?}",
        asked.elapsed()
    );
    assert!(person.await.unwrap().is_ok() && walker.await.unwrap().is_ok());
    for request in ahead {
        assert!(request.await.unwrap().is_ok());
    }
    let order: Vec<String> = mock.requests().into_iter().map(|r| r.user).collect();
    let position = |name: &str| order.iter().position(|user| user == name).unwrap();
    assert!(position("walker") < position("ahead-2"), "{order:?}");
    assert_eq!(stats(&gate).await.max_in_flight_seen, 3);
}

#[actix_rt::test]
async fn a_person_asking_for_a_story_being_written_ahead_joins_it() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(200));
    let config = GateConfig {
        permits: 2,
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    let hold = spawn_generate(&gate, "hold", Interactive);
    wait_for(&gate, |s| s.in_flight == 1).await;
    // Queued, not started: it would take the last permit.
    let ahead = spawn_generate(&gate, "next-place", Priority::Background);
    wait_for(&gate, |s| s.queued == [0, 0, 1]).await;

    let asked = generate(&gate, "next-place", Interactive).await;

    assert_eq!(asked, Ok(story_about("next-place")));
    assert_eq!(ahead.await.unwrap(), asked);
    assert!(hold.await.unwrap().is_ok());
    assert_eq!(
        mock.request_count(),
        2,
        "one call for the story asked twice"
    );
}

#[actix_rt::test]
async fn writing_ahead_is_shed_first_when_the_queue_is_full() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(150));
    let config = GateConfig {
        permits: 1,
        total_queue_cap: 2,
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    let hold = spawn_generate(&gate, "hold", Live);
    wait_for(&gate, |s| s.in_flight == 1).await;
    let ahead = spawn_generate(&gate, "ahead", Priority::Background);
    let live = spawn_generate(&gate, "live", Live);
    wait_for(&gate, |s| s.queued == [0, 1, 1]).await;

    let person = spawn_generate(&gate, "person", Interactive);

    assert_eq!(
        ahead.await.unwrap(),
        Err(GateError::Shed(ShedReason::Displaced))
    );
    for request in [hold, live, person] {
        assert!(request.await.unwrap().is_ok());
    }
}

#[actix_rt::test]
async fn a_request_told_late_waits_on_behind_fresh_people_and_is_still_written() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(600));
    let config = GateConfig {
        permits: 1,
        interactive_queue_wait: Duration::from_secs(1),
        late_queue_wait: Duration::from_secs(5),
        ..test_config()
    };
    let gate = start_gate(&mock, config);
    let hold = spawn_generate(&gate, "hold", Interactive);
    wait_for(&gate, |s| s.in_flight == 1).await;

    // Its caller gives up on a start within 50 ms (and tells a fallback meanwhile): the
    // request moves to the Live queue, and a fresh person's request goes ahead of it.
    let (started, has_started) = tokio::sync::oneshot::channel();
    let late = Generate::new("late", prompt("late"), Interactive)
        .late_after(Duration::from_millis(50), started);
    let late = actix::spawn(gate.send(late));
    wait_for(&gate, |s| s.queued == [0, 1, 0]).await;
    let fresh = spawn_generate(&gate, "fresh", Interactive);
    wait_for(&gate, |s| s.queued == [1, 1, 0]).await;

    assert_eq!(hold.await.unwrap(), Ok(story_about("hold")));
    assert_eq!(fresh.await.unwrap(), Ok(story_about("fresh")));
    has_started.await.expect("told when its call started");
    // Started at ~1.2 s, past the Interactive wait (1 s), and still written.
    assert_eq!(late.await.unwrap().unwrap(), Ok(story_about("late")));
    let order: Vec<String> = mock.requests().into_iter().map(|r| r.user).collect();
    assert_eq!(order, ["hold", "fresh", "late"]);
}

#[actix_rt::test]
async fn a_request_joining_a_running_call_hears_at_once_that_it_started() {
    let mock = MockOpenAi::start().await;
    mock.set_latency(Duration::from_millis(300));
    let gate = start_gate(&mock, test_config());
    let first = spawn_generate(&gate, "shared", Interactive);
    wait_for(&gate, |s| s.in_flight == 1).await;

    let (started, has_started) = tokio::sync::oneshot::channel();
    let joining = Generate::new("shared", prompt("shared"), Interactive)
        .late_after(Duration::from_secs(5), started);
    let joining = actix::spawn(gate.send(joining));
    let heard = tokio::time::timeout(Duration::from_millis(100), has_started).await;

    assert!(matches!(heard, Ok(Ok(()))), "{heard:?}");
    assert_eq!(first.await.unwrap(), Ok(story_about("shared")));
    assert_eq!(joining.await.unwrap().unwrap(), Ok(story_about("shared")));
    assert_eq!(mock.request_count(), 1);
}
