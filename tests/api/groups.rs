//! Groups: the bot answers only what is meant for it there, a command addressed to it
//! (`/cmd@ourbot`) or a reply to one of its messages; the rest of the chatter is not its business.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, group_message, sample, spawn_app, text_update};

/// The supergroup of the real sample `05_command_in_supergroup_reply_to_story_teloxide.json`.
const GROUP: i64 = -1001293752024;
/// The mock Telegram's bot user (`getMe`).
const BOT_ID: i64 = 7000001;

/// Texts sent to the group once what was posted has had time to be answered.
async fn texts_to_group(app: &TestApp, expected: usize) -> Vec<String> {
    app.telegram.wait_for_messages_to(GROUP, expected).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let messages = app.telegram.messages_to(GROUP).await;
    messages
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn commands_not_meant_for_the_bot_get_no_answer_in_a_group() {
    let app = spawn_app().await;

    app.post_update(&sample(
        "05_command_in_supergroup_reply_to_story_teloxide.json",
    ))
    .await;
    app.post_update(&group_message(2, GROUP, 801, "/start"))
        .await;
    app.post_update(&group_message(3, GROUP, 801, "/help@other_bot"))
        .await;
    app.post_update(&group_message(4, GROUP, 801, "hello all"))
        .await;
    app.post_update(&group_message(5, GROUP, 801, "/help@excursobot_test_bot"))
        .await;

    let texts = texts_to_group(&app, 1).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with("<b>Walking?</b>"), "{texts:?}");
}

#[actix_web::test]
async fn an_unknown_command_addressed_to_the_bot_in_a_group_gets_the_hint() {
    let app = spawn_app().await;

    app.post_update(&group_message(1, GROUP, 802, "/report@excursobot_test_bot"))
        .await;

    let texts = texts_to_group(&app, 1).await;
    assert_eq!(
        texts,
        ["I don't know that command. /help shows what I can do."]
    );
}

#[actix_web::test]
async fn a_reply_to_the_bot_in_a_group_is_answered() {
    let app = spawn_app().await;
    let mut reply = group_message(1, GROUP, 803, "/start");
    reply["message"]["reply_to_message"] = json!({
        "message_id": 40, "date": 1_700_000_000,
        "chat": { "id": GROUP, "type": "supergroup", "title": "Walkers" },
        "from": { "id": BOT_ID, "is_bot": true, "first_name": "Excursobot",
                  "username": "excursobot_test_bot" },
        "text": "I don't know that command."
    });

    app.post_update(&reply).await;

    let texts = texts_to_group(&app, 1).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].starts_with("Hi! I tell short"), "{texts:?}");
    let welcome = &app.telegram.messages_to(GROUP).await[0];
    assert!(
        welcome["reply_markup"].is_null(),
        "a location button works only in a private chat: {welcome}"
    );
}

#[actix_web::test]
async fn a_private_chat_still_gets_the_hint_for_any_command_or_text() {
    let app = spawn_app().await;

    app.post_update(&text_update(1, 804, "en", "/report")).await;
    app.post_update(&text_update(2, 804, "en", "hello")).await;

    let messages = app.telegram.wait_for_messages_to(804, 2).await;
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(texts.contains(&"I don't know that command. /help shows what I can do."));
    assert!(
        texts.iter().any(|t| t.starts_with("I can't use that.")),
        "{texts:?}"
    );
}
