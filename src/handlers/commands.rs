//! Commands (`/start`, `/help`, `/language`) and the inline buttons they send.
//!
//! Button data is a short `kind:value` string (well under Telegram's 64-byte limit).

use teloxide::{
    payloads::{AnswerCallbackQuerySetters, SendMessageSetters},
    prelude::Requester,
    types::{
        ButtonRequest, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,
        KeyboardMarkup, Message, ParseMode, ReplyMarkup, User,
    },
    utils::command::parse_command,
};

use super::router::Router;
use crate::i18n::Lang;

/// Prefix of the language buttons' callback data (`lang:ru`).
const LANGUAGE_BUTTON: &str = "lang";

/// Handles a message starting with `/`.
pub async fn on_command(router: &Router, message: &Message, user: &User, lang: Lang, text: &str) {
    let Some((name, _args)) = parse_command(text, router.bot_username.as_str()) else {
        // Addressed to another bot in a group (`/start@otherbot`): not ours to answer.
        return;
    };
    let chat = message.chat.id;
    let texts = lang.texts();
    tracing::info!(command = name, user_id = user.id.0, "command");
    match name.to_ascii_lowercase().as_str() {
        "start" => {
            let html = format!("{}\n\n{}", texts.welcome, texts.live_guide);
            send_with_keyboard(router, message, lang, html).await;
        }
        "help" => send_with_keyboard(router, message, lang, texts.live_guide.to_owned()).await,
        "language" => {
            let request = router
                .outbox
                .bot()
                .send_message(chat, texts.choose_language)
                .reply_markup(language_buttons());
            if router.send(chat, request).await.is_err() {
                tracing::debug!("language menu not delivered");
            }
        }
        _ => {
            router.reply(chat, texts.unknown_command).await;
        }
    }
}

/// Handles an inline button press.
pub async fn on_button(router: &Router, query: CallbackQuery) {
    let lang = router.language(&query.from);
    let data = query.data.as_deref().unwrap_or_default();
    let answer = match data.split_once(':') {
        Some((LANGUAGE_BUTTON, code)) => match Lang::from_code(code) {
            Some(chosen) => {
                choose_language(router, &query, chosen).await;
                chosen.texts().language_set
            }
            None => lang.texts().stale_button,
        },
        _ => lang.texts().stale_button,
    };
    // Always answer, or the user's button keeps spinning.
    let request = router
        .outbox
        .bot()
        .answer_callback_query(query.id.clone())
        .text(answer);
    if let Err(error) = router.outbox.send(query.from.id.into(), request).await {
        tracing::debug!(%error, "callback query not answered");
    }
}

async fn choose_language(router: &Router, query: &CallbackQuery, chosen: Lang) {
    router.users.set_language(query.from.id.0, chosen);
    tracing::info!(lang = chosen.code(), "language chosen");
    let Some(message) = query.regular_message() else {
        return;
    };
    let edit = router.outbox.bot().edit_message_text(
        message.chat.id,
        message.id,
        chosen.texts().language_set,
    );
    if router.send(message.chat.id, edit).await.is_err() {
        tracing::debug!("language message not updated");
    }
}

async fn send_with_keyboard(router: &Router, message: &Message, lang: Lang, html: String) {
    let keyboard = KeyboardMarkup::new([[
        KeyboardButton::new(lang.texts().send_location_button).request(ButtonRequest::Location)
    ]])
    .resize_keyboard();
    let request = router
        .outbox
        .bot()
        .send_message(message.chat.id, html)
        .parse_mode(ParseMode::Html)
        .reply_markup(ReplyMarkup::Keyboard(keyboard));
    if router.send(message.chat.id, request).await.is_err() {
        tracing::debug!("reply with keyboard not delivered");
    }
}

fn language_buttons() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([Lang::ALL.map(|lang| {
        InlineKeyboardButton::callback(
            lang.texts().language_name,
            format!("{LANGUAGE_BUTTON}:{}", lang.code()),
        )
    })])
}
