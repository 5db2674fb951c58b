//! Commands (`/start`, `/help`, `/language`, `/stop`) and the inline buttons they send.
//!
//! Button data is a short `kind:value` string (well under Telegram's 64-byte limit).

use teloxide::{
    payloads::SendMessageSetters,
    prelude::Requester,
    types::{
        ButtonRequest, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton,
        KeyboardMarkup, Message, ParseMode, ReplyMarkup, User,
    },
    utils::command::parse_command,
};

use super::{
    context::Context,
    donations, settings, stats,
    tours::{self, INTERVAL_BUTTON},
    work::spawn_work,
};
use crate::{
    facts::{
        StoryButton,
        buttons::{ButtonToken, Refused},
        reply::{MAP_BUTTON, MORE_BUTTON, NEXT_BUTTON},
    },
    geo::Coordinates,
    i18n::Lang,
};

/// Prefix of the language buttons' callback data (`lang:ru`).
const LANGUAGE_BUTTON: &str = "lang";

/// Handles a message starting with `/`.
pub async fn on_command(ctx: &Context, message: &Message, user: &User, lang: Lang, text: &str) {
    let Some((name, args)) = parse_command(text, ctx.bot_username.as_str()) else {
        // Addressed to another bot (`/start@otherbot`), in a reply to us: not ours to answer.
        return;
    };
    let chat = message.chat.id;
    let texts = lang.texts();
    // What was typed is logged only when it can be a command name: "/…" may be 4096
    // characters of anything, a message the log must not keep.
    let logged = if is_command_name(name) {
        name
    } else {
        "(not a command name)"
    };
    tracing::info!(command = logged, user_id = user.id.0, "command");
    match name.to_ascii_lowercase().as_str() {
        "start" => {
            let html = format!("{}\n\n{}", texts.welcome, texts.live_guide);
            send_with_keyboard(ctx, message, lang, html);
        }
        "help" => {
            let support = InlineKeyboardMarkup::new([[crate::payments::support_button(lang)]]);
            let request = ctx
                .bot()
                .send_message(chat, texts.live_guide)
                .parse_mode(ParseMode::Html)
                .reply_markup(support);
            ctx.send(chat, request, "help");
        }
        "donate" => donations::offer(ctx, chat, lang),
        "paysupport" => donations::pay_support(ctx, chat, lang),
        "refund" if !ctx.settings.is_admin(user.id.0) => ctx.reply(chat, texts.admin_only),
        "refund" if !message.chat.is_private() => ctx.reply(chat, texts.stats_in_private),
        "refund" => donations::refund(ctx, chat, lang, &args.join(" ")).await,
        "settings" => settings::show(ctx, message.chat.id, user).await,
        "reset" => settings::confirm_reset(ctx, message.chat.id, lang),
        "stats" if !message.chat.is_private() => {
            // Figures (the bot's, or the user's own) are never posted to a whole group.
            ctx.reply(chat, texts.stats_in_private);
        }
        "stats" => stats::show(ctx, message.chat.id, user, lang).await,
        "stop" => tours::on_stop(ctx, chat, user, lang).await,
        "language" => {
            let request = ctx
                .bot()
                .send_message(chat, texts.choose_language)
                .reply_markup(language_buttons());
            ctx.send(chat, request, "language menu not delivered");
        }
        _ => {
            ctx.reply(chat, texts.unknown_command);
        }
    }
}

/// Whether `name` has the form of a Telegram command: 1-32 of `a-z 0-9 _`, any case.
fn is_command_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

/// Handles an inline button press.
pub async fn on_button(ctx: &Context, query: CallbackQuery) {
    let lang = ctx.language(&query.from).await;
    let data = query.data.as_deref().unwrap_or_default();
    match data.split_once(':') {
        Some((LANGUAGE_BUTTON, code)) => match Lang::from_code(code) {
            Some(chosen) => {
                choose_language(ctx, &query, chosen).await;
                ctx.answer_button(&query, Some(chosen.texts().language_set));
            }
            None => ctx.answer_button(&query, Some(lang.texts().stale_button)),
        },
        Some((INTERVAL_BUTTON, minutes)) => {
            tours::on_interval_button(ctx, &query, lang, minutes).await;
        }
        Some((kind @ (MORE_BUTTON | NEXT_BUTTON | MAP_BUTTON), token)) => {
            // Answer first: the story may take seconds and the button must stop spinning.
            ctx.answer_button(&query, None);
            let pressed = match token.parse() {
                Ok(token) => story_button(ctx, &query, kind, token).await,
                Err(_) => Err(Refused::Unknown),
            };
            if pressed.is_err() {
                ctx.reply(query.from.id.into(), lang.texts().stale_button);
            }
        }
        Some((settings::SETTINGS_BUTTON, choice)) => {
            let answer = settings::on_choice(ctx, &query, choice).await;
            ctx.answer_button(&query, answer);
        }
        Some((crate::payments::DONATE_BUTTON, amount)) => {
            donations::on_button(ctx, &query, lang, Some(amount));
        }
        None if data == crate::payments::DONATE_BUTTON => {
            donations::on_button(ctx, &query, lang, None);
        }
        Some((settings::RESET_BUTTON, answer)) => {
            settings::on_reset(ctx, &query, lang, answer == "yes").await;
            ctx.answer_button(&query, None);
        }
        _ => ctx.answer_button(&query, Some(lang.texts().stale_button)),
    }
}

async fn story_button(
    ctx: &Context,
    query: &CallbackQuery,
    kind: &str,
    token: ButtonToken,
) -> Result<(), Refused> {
    let chat = query
        .regular_message()
        .map_or(query.from.id.into(), |message| message.chat.id);
    let preferences = ctx.users.preferences(query.from.id.0).await;
    // The point is replaced by the story's own; any valid one will do here.
    let origin = Coordinates { lat: 0.0, lon: 0.0 };
    let request = ctx.story_request(&query.from, chat, origin, &preferences);
    let button = match kind {
        MORE_BUTTON => StoryButton::More,
        NEXT_BUTTON => StoryButton::Next,
        _ => StoryButton::Map,
    };
    spawn_work(ctx.stories.press(button, request, token)?);
    Ok(())
}

async fn choose_language(ctx: &Context, query: &CallbackQuery, chosen: Lang) {
    let saved = ctx
        .users
        .update(query.from.id.0, |preferences| {
            preferences.language = Some(chosen)
        })
        .await;
    if let Err(error) = saved {
        tracing::warn!(%error, "language not saved");
    }
    tracing::info!(lang = chosen.code(), "language chosen");
    let Some(message) = query.regular_message() else {
        return;
    };
    let edit =
        ctx.bot()
            .edit_message_text(message.chat.id, message.id, chosen.texts().language_set);
    ctx.send(message.chat.id, edit, "language message not updated");
}

/// Sends `html` with the "send my location" keyboard; in a group without it (Telegram takes
/// location buttons in private chats only, and they would pop up for every member).
fn send_with_keyboard(ctx: &Context, message: &Message, lang: Lang, html: String) {
    let mut request = ctx
        .bot()
        .send_message(message.chat.id, html)
        .parse_mode(ParseMode::Html);
    if message.chat.is_private() {
        let keyboard =
            KeyboardMarkup::new([[KeyboardButton::new(lang.texts().send_location_button)
                .request(ButtonRequest::Location)]])
            .resize_keyboard();
        request = request.reply_markup(ReplyMarkup::Keyboard(keyboard));
    }
    ctx.send(message.chat.id, request, "reply with keyboard");
}

fn language_buttons() -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new([Lang::ALL.map(|lang| {
        InlineKeyboardButton::callback(
            lang.texts().language_name,
            format!("{LANGUAGE_BUTTON}:{}", lang.code()),
        )
    })])
}
