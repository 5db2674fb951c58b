//! A story shows while it is written: drafts (`sendMessageDraft`) with the text so far, then
//! the story itself, whole. A Bot API server without drafts is found out once; a stream that
//! breaks midway gives the place's summary, never half a story.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::helpers::{
    Mocks, Reply, TestApp, button_update, location_update,
    mock_telegram::{story_button, title_of},
    paced_openai::PacedOpenAi,
};

const LAT: f64 = 55.7539;
const LON: f64 = 37.6208;

/// The drafts among `calls`, and the position of the first story (a call with buttons).
fn drafts_and_story(calls: &[(String, Value)]) -> (Vec<Value>, Option<usize>) {
    let drafts = calls
        .iter()
        .filter(|(method, _)| method == "sendmessagedraft")
        .map(|(_, body)| body.clone())
        .collect();
    let story = calls
        .iter()
        .position(|(_, body)| body["reply_markup"]["inline_keyboard"].is_array());
    (drafts, story)
}

/// An app whose LLM writes its first words after 300 ms, then a word every 40 ms (~70
/// words: about three seconds a story).
async fn paced_app() -> (PacedOpenAi, TestApp) {
    paced_app_at(Duration::from_millis(300), Duration::from_millis(40)).await
}

/// An app whose LLM writes its first words after `first`, then a word every `word`.
async fn paced_app_at(first: Duration, word: Duration) -> (PacedOpenAi, TestApp) {
    let llm = PacedOpenAi::start(first, word);
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    let app = mocks
        .spawn(&[("OPENAI_BASE_URL", llm.base_url().as_str())])
        .await;
    (llm, app)
}

#[actix_web::test]
async fn a_story_grows_as_drafts_of_one_id_then_goes_out_whole() {
    let (llm, app) = paced_app().await;
    let user = 7101;

    let asked = Instant::now();
    app.post_update(&location_update(1, user, "en", LAT, LON))
        .await;
    let stories = app.telegram.wait_for_stories(user, 1).await;
    let writing = asked.elapsed();

    assert_eq!(stories.len(), 1, "the story itself goes out");
    let caption = stories[0]["caption"].as_str().unwrap();
    assert!(caption.contains("A story about"), "{caption}");
    assert!(!caption.contains("From Wikipedia"), "{caption}");
    let calls = app.telegram.calls_in_order_to(user).await;
    let (drafts, story_at) = drafts_and_story(&calls);
    assert!(
        drafts.len() >= 2,
        "the story showed while written: {drafts:?}"
    );
    let draft_count = calls[..story_at.unwrap()]
        .iter()
        .filter(|(method, _)| method == "sendmessagedraft")
        .count();
    assert_eq!(
        draft_count,
        drafts.len(),
        "every draft came before the story"
    );
    // At most one a second, plus the opening one.
    let most = usize::try_from(writing.as_secs()).unwrap() + 2;
    assert!(
        drafts.len() <= most,
        "{} drafts in {writing:?}",
        drafts.len()
    );

    let id = &drafts[0]["draft_id"];
    assert!(id.as_i64().is_some_and(|id| id != 0), "draft_id {id}");
    let title = stories[0]["title"].as_str().unwrap();
    let mut shown = 0;
    for (at, draft) in drafts.iter().enumerate() {
        assert_eq!(&draft["draft_id"], id, "one draft, animated: {draft}");
        assert_eq!(draft["parse_mode"], "HTML");
        let text = draft["text"].as_str().unwrap();
        assert_eq!(title_of(text), title, "every draft shows the place: {text}");
        // The opening draft is the title and "…"; the text written so far only grows.
        if at == 0 {
            assert!(text.ends_with('…'), "{text}");
            continue;
        }
        assert!(text.len() >= shown, "drafts only grow: {drafts:?}");
        shown = text.len();
    }
    let last = drafts.last().unwrap()["text"].as_str().unwrap();
    assert!(last.contains("A story about"), "the text so far: {last}");
    assert_eq!(llm.request_count(), 1);

    // "Tell me more" streams too, as a draft of its own.
    let more = story_button(&stories[0], "more");
    app.post_update(&button_update(2, user, &more)).await;
    app.telegram.wait_for_stories(user, 2).await;
    let calls = app.telegram.calls_in_order_to(user).await;
    let (all_drafts, _) = drafts_and_story(&calls);
    let deeper: Vec<&Value> = all_drafts
        .iter()
        .filter(|draft| &draft["draft_id"] != id)
        .collect();
    assert!(!deeper.is_empty(), "the deeper story showed while written");
    assert!(
        deeper
            .iter()
            .all(|d| d["draft_id"] == deeper[0]["draft_id"])
    );
    assert_eq!(llm.request_count(), 2);
}

#[actix_web::test]
async fn a_bot_api_without_drafts_is_found_out_once_and_stories_go_out_whole() {
    let llm = PacedOpenAi::start(Duration::from_millis(600), Duration::from_millis(10));
    let mocks = Mocks::start().await;
    // A place of its own for each user, so the second story is written too.
    mocks.wikipedia.serve_distinct_places("en").await;
    let not_found = json!({ "ok": false, "error_code": 404, "description": "Not Found" });
    mocks
        .telegram
        .answer_always(
            "sendMessageDraft",
            ResponseTemplate::new(404).set_body_json(not_found),
        )
        .await;
    let app = mocks
        .spawn(&[("OPENAI_BASE_URL", llm.base_url().as_str())])
        .await;

    // Far enough apart that the second place is not the first one's from the cache.
    for (update_id, user, lat) in [(1, 7201, LAT), (2, 7202, LAT + 0.1)] {
        app.post_update(&location_update(update_id, user, "en", lat, LON))
            .await;
        let stories = app.telegram.wait_for_stories(user, 1).await;
        assert_eq!(stories.len(), 1, "user {user} got the story whole");
        let caption = stories[0]["caption"].as_str().unwrap();
        assert!(caption.contains("A story about"), "{caption}");
    }
    assert_eq!(llm.request_count(), 2, "both stories were written");
    let drafts = app.telegram.calls("sendMessageDraft").await;
    assert_eq!(drafts.len(), 1, "tried once, then remembered: {drafts:?}");
}

#[actix_web::test]
async fn a_stream_broken_midway_gives_the_summary_never_half_a_story() {
    let mocks = Mocks::start().await;
    mocks.wikipedia.serve_places("en").await;
    mocks.openai.always(Reply::BrokenStream);
    let app = mocks.spawn(&[]).await;
    let user = 7301;

    app.post_update(&location_update(1, user, "en", LAT, LON))
        .await;
    let stories = app.telegram.wait_for_stories(user, 1).await;

    let caption = stories[0]["caption"].as_str().unwrap();
    assert!(caption.contains("📖 From Wikipedia:"), "{caption}");
    assert!(caption.contains("is a place used in tests."), "{caption}");
    assert_eq!(
        app.openai.request_count(),
        1,
        "a broken stream is not retried"
    );
}

#[actix_web::test]
async fn a_group_gets_no_drafts() {
    let pace = paced_app_at(Duration::from_millis(600), Duration::from_millis(10));
    let (_llm, app) = pace.await;
    let group = -100_7401;
    let chat = json!({ "id": group, "type": "supergroup", "title": "Walkers" });
    let mut update = location_update(1, 7401, "en", LAT, LON);
    update["message"]["chat"] = chat.clone();
    // In a group the bot answers what is meant for it: a reply to one of its messages.
    update["message"]["reply_to_message"] = json!({
        "message_id": 40, "date": 1_700_000_000, "chat": chat,
        "from": { "id": 7000001, "is_bot": true, "first_name": "Excursobot",
                  "username": "excursobot_test_bot" },
        "text": "Send me a location."
    });

    app.post_update(&update).await;
    let stories = app.telegram.wait_for_stories(group, 1).await;

    assert_eq!(stories.len(), 1, "the group got the story");
    assert!(app.telegram.calls("sendMessageDraft").await.is_empty());
}

#[actix_web::test]
async fn the_first_words_show_as_soon_as_they_are_written() {
    let (_llm, app) = paced_app().await;
    let user = 7105;

    let asked = Instant::now();
    app.post_update(&location_update(1, user, "en", LAT, LON))
        .await;
    // The opening draft (the title, "…") after 0.4 s; then the first words, not held back
    // until a second after it.
    let words = loop {
        let calls = app.telegram.calls_in_order_to(user).await;
        let (drafts, _) = drafts_and_story(&calls);
        if let Some(words) = drafts
            .iter()
            .find(|draft| !draft["text"].as_str().unwrap().ends_with('…'))
        {
            break words.clone();
        }
        assert!(asked.elapsed() < Duration::from_secs(5), "{calls:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let seen = asked.elapsed();

    assert!(seen < Duration::from_millis(1000), "{seen:?}: {words}");
    app.telegram.wait_for_stories(user, 1).await;
}

#[actix_web::test]
async fn first_words_written_while_the_budget_is_idle_show_as_a_draft() {
    // The title's draft goes at 0.4 s; the first words come at 1.5 s, the budget long idle.
    let pace = paced_app_at(Duration::from_millis(1500), Duration::from_millis(40));
    let (_llm, app) = pace.await;
    let user = 7106;

    app.post_update(&location_update(1, user, "en", LAT, LON))
        .await;
    app.telegram.wait_for_stories(user, 1).await;

    let calls = app.telegram.calls_in_order_to(user).await;
    let (drafts, _) = drafts_and_story(&calls);
    let words = drafts
        .iter()
        .filter(|draft| !draft["text"].as_str().unwrap().ends_with('…'));
    assert!(words.count() >= 1, "the words written showed: {drafts:?}");
}
