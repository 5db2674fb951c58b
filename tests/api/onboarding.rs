//! What a new user sees: welcome, guide, language switch, hints.

use serde_json::Value;

use crate::helpers::{
    button_update, location_update, on_both_databases, sample, spawn_app, spawn_app_with,
    text_update,
};

on_both_databases!(the_first_one_off_story_is_followed_by_the_live_hint_once_per_user);

fn keyboard_button(message: &Value) -> &Value {
    &message["reply_markup"]["keyboard"][0][0]
}

#[actix_web::test]
async fn start_in_russian_gets_the_russian_welcome_and_a_location_keyboard() {
    let app = spawn_app().await;

    app.post_update(&text_update(1, 501, "ru", "/start")).await;

    let messages = app.telegram.wait_for_messages_to(501, 1).await;
    assert_eq!(messages.len(), 1);
    let text = messages[0]["text"].as_str().unwrap();
    assert!(text.starts_with("Привет!"), "{text}");
    assert!(
        text.contains("Транслировать геопозицию"),
        "live guide missing: {text}"
    );
    assert_eq!(messages[0]["parse_mode"], "HTML");
    let button = keyboard_button(&messages[0]);
    assert_eq!(button["text"], "📍 Отправить геопозицию");
    assert_eq!(button["request_location"], true);
}

#[actix_web::test]
async fn start_in_english_from_the_real_sample_gets_the_english_welcome() {
    let app = spawn_app().await;

    app.post_update(&sample("01_start_command_private.json"))
        .await;

    let messages = app.telegram.wait_for_messages_to(1443186301, 1).await;
    let text = messages[0]["text"].as_str().unwrap();
    assert!(text.starts_with("Hi!"), "{text}");
    assert!(text.contains("Share My Live Location"), "{text}");
    assert_eq!(keyboard_button(&messages[0])["text"], "📍 Send my location");
}

#[actix_web::test]
async fn ukrainian_and_belarusian_users_are_answered_in_russian() {
    let app = spawn_app().await;

    app.post_update(&text_update(1, 502, "uk", "/help")).await;
    app.post_update(&text_update(2, 503, "be", "/help")).await;

    for chat in [502, 503] {
        let messages = app.telegram.wait_for_messages_to(chat, 1).await;
        assert!(messages[0]["text"].as_str().unwrap().contains("Гуляете?"));
    }
}

#[actix_web::test]
async fn the_language_button_switches_the_language_of_later_replies() {
    let app = spawn_app().await;
    app.post_update(&text_update(1, 504, "en", "/language"))
        .await;
    let menu = app.telegram.wait_for_messages_to(504, 1).await;
    let buttons = &menu[0]["reply_markup"]["inline_keyboard"][0];
    assert_eq!(buttons[0]["callback_data"], "lang:ru");
    assert_eq!(buttons[1]["callback_data"], "lang:en");

    app.post_update(&button_update(2, 504, "lang:ru")).await;
    let answers = app.telegram.wait_for("answerCallbackQuery", 1).await;
    assert_eq!(answers[0]["callback_query_id"], "cb2");
    let edits = app.telegram.wait_for("editMessageText", 1).await;
    assert_eq!(edits[0]["text"], "Готово: буду говорить по-русски.");

    app.post_update(&text_update(3, 504, "en", "/start")).await;
    let messages = app.telegram.wait_for_messages_to(504, 2).await;
    assert!(messages[1]["text"].as_str().unwrap().starts_with("Привет!"));
}

#[actix_web::test]
async fn a_sticker_gets_a_one_line_hint_in_the_users_language() {
    let app = spawn_app().await;

    app.post_update(&sample("14_sticker_private_teloxide.json"))
        .await;
    app.post_update(&text_update(2, 505, "ru", "hello")).await;

    let english = app.telegram.wait_for_messages_to(250918540, 1).await;
    assert!(
        english[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("I can't use that.")
    );
    let russian = app.telegram.wait_for_messages_to(505, 1).await;
    assert!(
        russian[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Это я не понимаю.")
    );
}

#[actix_web::test]
async fn an_unknown_command_is_answered_not_ignored() {
    let app = spawn_app().await;

    app.post_update(&text_update(1, 506, "en", "/frobnicate"))
        .await;

    let messages = app.telegram.wait_for_messages_to(506, 1).await;
    assert!(messages[0]["text"].as_str().unwrap().contains("/help"));
}

#[actix_web::test]
async fn the_command_menu_is_published_in_english_and_russian() {
    let app = spawn_app().await;

    let calls = app.telegram.wait_for("setMyCommands", 2).await;

    let russian = calls
        .iter()
        .find(|call| call["language_code"] == "ru")
        .unwrap();
    let default = calls
        .iter()
        .find(|call| call.get("language_code").is_none())
        .unwrap();
    assert_eq!(russian["commands"][0]["command"], "start");
    assert_eq!(
        russian["commands"][0]["description"],
        "Начать: что умеет бот"
    );
    assert_eq!(default["commands"][2]["description"], "Switch language");
}

/// The messages to `chat` that are the live-location hint.
async fn live_hints(app: &crate::helpers::TestApp, chat: i64) -> Vec<Value> {
    let messages = app.telegram.messages_to(chat).await;
    messages
        .into_iter()
        .filter(|m| m["text"].as_str().is_some_and(|t| t.starts_with("💡")))
        .collect()
}

async fn the_first_one_off_story_is_followed_by_the_live_hint_once_per_user(url: String) {
    let app = spawn_app_with(&[("DATABASE_URL", &url)]).await;
    let (user, other) = (521, 522);
    app.post_update(&location_update(1, user, "en", 55.7539, 37.6208))
        .await;
    app.telegram.wait_for_stories(user, 1).await;
    let hints = crate::helpers::eventually(
        || live_hints(&app, user),
        |hints: &Vec<Value>| !hints.is_empty(),
    )
    .await;
    assert_eq!(hints.len(), 1, "{hints:?}");
    let text = hints[0]["text"].as_str().unwrap();
    assert!(text.contains("<b>live</b>"), "{text}");
    assert!(
        text.contains("Share My Live Location"),
        "the same steps as /start: {text}"
    );
    assert_eq!(hints[0]["parse_mode"], "HTML");

    // A second story, and one after a restart (same database): no second hint.
    app.post_update(&location_update(2, user, "en", 55.7539, 37.6208))
        .await;
    app.telegram.wait_for_stories(user, 2).await;
    let app = app.restart().await;
    app.post_update(&location_update(3, user, "en", 55.7539, 37.6208))
        .await;
    app.telegram.wait_for_stories(user, 3).await;
    // Another user's first story, sent last: once its hint is out, any second one would be too.
    app.post_update(&location_update(4, other, "ru", 55.7539, 37.6208))
        .await;
    let theirs = crate::helpers::eventually(
        || live_hints(&app, other),
        |hints: &Vec<Value>| !hints.is_empty(),
    )
    .await;
    assert!(
        theirs[0]["text"]
            .as_str()
            .unwrap()
            .contains("Транслировать геопозицию")
    );
    assert_eq!(
        live_hints(&app, user).await.len(),
        1,
        "the hint is shown once per user"
    );
}
