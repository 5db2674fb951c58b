//! Writing ahead (`LLM_WRITE_AHEAD`, on by default): after a story, idle LLM permits write the next
//! place's story for the cache, so "Another place" is answered at once without a call of its
//! own; on a tour, the place a tick is about to tell is written ahead shortly before it, so
//! the tick tells it from the cache. Off, nothing is written that nobody asked for.
//! (The test app turns it off unless a test turns it on: see `helpers`.)

use crate::{
    helpers::{
        Mocks, button_update, eventually, live_location_update, location_update,
        mock_openai::Reply, mock_telegram::story_button, spawn_app_with,
    },
    metrics::{scrape, value},
    tours::live_edit,
};

use std::time::Duration;

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

#[actix_web::test]
async fn another_place_is_told_from_the_story_written_ahead() {
    let app = spawn_app_with(&[("LLM_WRITE_AHEAD", "true")]).await;
    let user = 7501;

    app.post_update(&location_update(1, user, "en", LAT, LON))
        .await;
    let stories = app.telegram.wait_for_stories(user, 1).await;
    // The next place's story is being written ahead, with the permits idle.
    let calls = eventually(|| async { app.openai.request_count() }, |n| *n >= 2).await;
    assert_eq!(calls, 2);
    let ahead = format!("{:?}", app.openai.requests()[1]);
    assert!(ahead.contains("Quiet Garden"), "{ahead}");
    // Once written (and cached), "Another place" tells it without a call of its own.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let next = story_button(&stories[0], "next");
    app.post_update(&button_update(2, user, &next)).await;
    let stories = app.telegram.wait_for_stories(user, 2).await;

    assert_eq!(stories[1]["title"], "Quiet Garden");
    let story = &stories[1];
    let caption = story["caption"]
        .as_str()
        .or(story["text"].as_str())
        .unwrap();
    assert!(caption.contains("A story about"), "{caption}");
    let asked: Vec<String> = app
        .openai
        .requests()
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    let for_garden = asked.iter().filter(|r| r.contains("Quiet Garden")).count();
    assert_eq!(for_garden, 1, "told from the cache: {asked:?}");
    // ... and the place after it is being written ahead in turn.
    assert!(asked.len() <= 3, "{asked:?}");
}

#[actix_web::test]
async fn off_nothing_is_written_that_nobody_asked_for() {
    let app = spawn_app_with(&[("LLM_WRITE_AHEAD", "false")]).await;
    let user = 7502;

    app.post_update(&location_update(1, user, "en", LAT, LON))
        .await;
    app.telegram.wait_for_stories(user, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    assert_eq!(app.openai.request_count(), 1);
}

/// Tours' time compressed 60 times (`TOUR_TIME_SCALE`): a 5-minute interval lasts 5 s, and
/// the tick's patience (30 s of tour time) half a second.
#[actix_web::test]
async fn a_walkers_next_tick_is_told_from_the_story_written_ahead_in_the_background() {
    let overrides = [
        ("LLM_WRITE_AHEAD", "true"),
        ("TOUR_TIME_SCALE", "60"),
        ("METRICS_PORT", "0"),
    ];
    let app = spawn_app_with(&overrides).await;
    let walker = 7511;
    app.post_update(&live_location_update(1, walker, LAT, LON, 3600))
        .await;
    app.telegram.wait_for_stories(walker, 1).await;
    app.post_update(&button_update(2, walker, "tour:5")).await;
    let interval_set = std::time::Instant::now();
    app.post_update(&live_edit(3, walker, 120.0, Some(3600)))
        .await;

    let stories = app.telegram.wait_for_stories(walker, 2).await;

    assert_written_story(&stories[1], "#2 · Quiet Garden");
    let asked = app.openai.requests();
    let for_garden: Vec<_> = asked
        .iter()
        .filter(|r| r.user.contains("Quiet Garden"))
        .collect();
    assert_eq!(for_garden.len(), 1, "told from the cache: {asked:?}");
    // Written ahead half a second (the tick's patience) before the tick, at ~5 s.
    let ahead_at = for_garden[0].at.duration_since(interval_set);
    assert!(
        (Duration::from_secs(4)..Duration::from_millis(4900)).contains(&ahead_at),
        "{ahead_at:?}"
    );
    // The tour hears the tick's outcome just after the story went out.
    let told = r#"excursobot_tour_tick_outcomes_total{outcome="told"}"#;
    let text = eventually(|| scrape(&app), |text| value(text, told) == Some(1.0)).await;
    let background = r#"excursobot_llm_calls_total{priority="background",outcome="ok"}"#;
    assert_eq!(value(&text, background), Some(1.0), "{text}");
    let live = r#"excursobot_llm_calls_total{priority="live",outcome="ok"}"#;
    assert_eq!(
        value(&text, live),
        Some(0.0),
        "no call at tick time: {text}"
    );
    assert_eq!(value(&text, told), Some(1.0), "{text}");
    let from_cache = r#"excursobot_tour_story_seconds_count{source="cache"}"#;
    assert_eq!(value(&text, from_cache), Some(1.0), "{text}");
    let at_once = r#"excursobot_tour_story_seconds_bucket{source="cache",le="1"}"#;
    assert_eq!(value(&text, at_once), Some(1.0), "within a second: {text}");
}

/// A walker whose last fix before the tick moved them on, too late for the new nearest
/// place's story to be written, is told the place written ahead a block back, at once from
/// the cache, not kept waiting for the LLM. Tours' time 30 times the clock: the 5-minute
/// interval lasts 10 s, the tick's patience (30 s) one second.
#[actix_web::test]
async fn a_walker_who_moved_on_just_before_the_tick_is_told_the_place_written_ahead() {
    let mocks = Mocks::start().await;
    // Café 120 m north of the start, Quiet Garden 431 m, Old Church 850 m, standing still.
    mocks
        .wikipedia
        .serve_places_standing_at("en", LAT, LON)
        .await;
    // The first story, the garden's written ahead; the church's never comes.
    let script = [Reply::AboutThePlace, Reply::AboutThePlace, Reply::Hang];
    mocks.openai.then(script);
    let overrides = [
        ("LLM_WRITE_AHEAD", "true"),
        ("TOUR_TIME_SCALE", "30"),
        ("LIVE_BATCH_FLUSH_MS", "20"),
        ("METRICS_PORT", "0"),
    ];
    let app = mocks.spawn(&overrides).await;
    let walker = 7512;
    app.post_update(&live_location_update(1, walker, LAT, LON, 3600))
        .await;
    app.telegram.wait_for_stories(walker, 1).await;
    app.post_update(&button_update(2, walker, "tour:5")).await;
    // 300 m north: the garden (131 m on) is the place the tick will tell.
    app.post_update(&live_edit(3, walker, 300.0, Some(3600)))
        .await;
    let garden = |n: &usize| {
        let asked = app.openai.requests();
        asked.len() >= *n && asked[*n - 1].user.contains("Quiet Garden")
    };
    eventually(|| async { app.openai.request_count() }, |n| garden(n)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Then 700 m north, just before the tick: the church (150 m) is nearest now, the garden
    // 269 m back; the church's story is asked for ahead and never written.
    app.post_update(&live_edit(4, walker, 700.0, Some(3600)))
        .await;

    let stories = app.telegram.wait_for_stories(walker, 2).await;

    assert_written_story(&stories[1], "#2 · Quiet Garden");
    let asked = app.openai.requests();
    let church = asked
        .iter()
        .filter(|r| r.user.contains("Old Church"))
        .count();
    assert_eq!(church, 1, "asked for ahead after the last fix: {asked:?}");
    let told = r#"excursobot_tour_tick_outcomes_total{outcome="told"}"#;
    let text = eventually(|| scrape(&app), |text| value(text, told) == Some(1.0)).await;
    let from_cache = r#"excursobot_tour_story_seconds_count{source="cache"}"#;
    assert_eq!(value(&text, from_cache), Some(1.0), "{text}");
}

/// `story` is titled `title` and is a written story, not the place's summary.
fn assert_written_story(story: &serde_json::Value, title: &str) {
    assert_eq!(story["title"], title);
    let caption = story["caption"].as_str().or(story["text"].as_str());
    let caption = caption.unwrap_or_default();
    assert!(caption.contains("A story about"), "written: {caption}");
}
