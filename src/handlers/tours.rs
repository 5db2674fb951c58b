//! Live-location tours as the user sees them: a live location starts one (and asks for the
//! interval), its edits move it or stop it, `/stop` ends it, the interval buttons set it.
//! The tours themselves live in the `LiveLocationSessions` actor; this module only translates.

use std::time::Duration;

use teloxide::{
    payloads::{AnswerCallbackQuerySetters, EditMessageReplyMarkupSetters, SendMessageSetters},
    prelude::Requester,
    types::{
        CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Location, Message, User,
    },
};

use super::router::Router;
use crate::{
    actors::live_sessions::{LiveUpdate, PositionFix, SetInterval, Start, StartOutcome, Stop},
    config::LIVE_INTERVALS_MIN,
    facts::StoryRequest,
    geo::Coordinates,
    i18n::Lang,
};

/// Prefix of the interval buttons' callback data (`tour:10`).
pub const INTERVAL_BUTTON: &str = "tour";

/// The position a Telegram location describes, with its date.
fn fix(location: &Location, date: i64) -> Option<PositionFix> {
    Some(PositionFix {
        position: Coordinates::new(location.latitude, location.longitude)?,
        heading: location.heading,
        date,
    })
}

/// A location with `live_period` in a private chat: start (or refresh) the user's tour.
pub async fn on_live_location(
    router: &Router,
    message: &Message,
    user: &User,
    lang: Lang,
    location: &Location,
) {
    let chat = message.chat.id;
    let sent_at = message.date.timestamp();
    let Some(fix) = fix(location, sent_at) else {
        router.reply(chat, lang.texts().unusable_message).await;
        return;
    };
    let interval = router
        .users
        .live_interval_of(user.id.0)
        .unwrap_or(router.settings.live.default_interval);
    let start = Start {
        user_id: user.id.0,
        chat_id: chat.0,
        lang,
        fix,
        live_period_secs: location
            .live_period
            .and_then(|period| period.timeframe())
            .map(|s| s.seconds()),
        sent_at,
        interval,
    };
    match router.tours.send(start).await {
        Ok(StartOutcome::Started { interval }) => ask_interval(router, chat, lang, interval).await,
        Ok(StartOutcome::Refreshed) => tracing::debug!("tour refreshed by a new live location"),
        Ok(StartOutcome::Full { active, cap }) => {
            tracing::info!(active, cap, "tour refused at the cap; telling one place");
            router.reply(chat, lang.texts().tour_full).await;
            tell_once(router, chat, user, lang, fix.position).await;
        }
        Ok(StartOutcome::AlreadyOver) => tell_once(router, chat, user, lang, fix.position).await,
        Err(error) => {
            tracing::error!(%error, "the tours actor is unreachable");
            router.reply(chat, lang.texts().internal_error).await;
        }
    }
}

/// An edited message: a live location moved (or stopped, without `live_period`).
pub fn on_edited_message(router: &Router, message: &Message) {
    let (Some(location), Some(user)) = (message.location(), message.from.as_ref()) else {
        tracing::debug!("edited message ignored");
        return;
    };
    if !message.chat.is_private() {
        return;
    }
    let date = message.edit_date().unwrap_or(&message.date).timestamp();
    let Some(fix) = fix(location, date) else {
        tracing::warn!("live location out of range ignored");
        return;
    };
    router.tours.do_send(LiveUpdate {
        user_id: user.id.0,
        chat_id: message.chat.id.0,
        fix,
        sharing: location.live_period.is_some(),
    });
}

/// `/stop`: the actor sends the summary; without a tour the user hears there is none.
pub async fn on_stop(router: &Router, chat: ChatId, user: &User, lang: Lang) {
    let stopped = router
        .tours
        .send(Stop { user_id: user.id.0 })
        .await
        .unwrap_or(false);
    if !stopped {
        router.reply(chat, lang.texts().no_tour).await;
    }
}

/// An interval button (`tour:10`): set the interval, remember it, mark the chosen button.
pub async fn on_interval_button(router: &Router, query: &CallbackQuery, lang: Lang, minutes: &str) {
    let texts = lang.texts();
    let Some(minutes) = minutes
        .parse::<u64>()
        .ok()
        .filter(|m| LIVE_INTERVALS_MIN.contains(m))
    else {
        answer(router, query, texts.stale_button).await;
        return;
    };
    let interval = Duration::from_secs(minutes * 60);
    router.users.set_live_interval(query.from.id.0, interval);
    let running = router
        .tours
        .send(SetInterval {
            user_id: query.from.id.0,
            interval,
        })
        .await
        .unwrap_or(false);
    if !running {
        answer(router, query, texts.no_tour).await;
        return;
    }
    let chosen = texts
        .tour_interval_set
        .replace("{minutes}", &minutes.to_string());
    answer(router, query, &chosen).await;
    if let Some(message) = query.regular_message() {
        let edit = router
            .outbox
            .bot()
            .edit_message_reply_markup(message.chat.id, message.id)
            .reply_markup(interval_buttons(lang, interval));
        if router.send(message.chat.id, edit).await.is_err() {
            tracing::debug!("interval buttons not updated");
        }
    }
}

async fn ask_interval(router: &Router, chat: ChatId, lang: Lang, interval: Duration) {
    let request = router
        .outbox
        .bot()
        .send_message(chat, lang.texts().tour_started)
        .reply_markup(interval_buttons(lang, interval));
    if router.send(chat, request).await.is_err() {
        tracing::debug!("interval question not delivered");
    }
}

/// 5/10/30/60 min, the current one marked.
pub fn interval_buttons(lang: Lang, selected: Duration) -> InlineKeyboardMarkup {
    let unit = lang.texts().minutes;
    InlineKeyboardMarkup::new([LIVE_INTERVALS_MIN.map(|minutes| {
        let mark = if selected.as_secs() == minutes * 60 {
            "✅ "
        } else {
            ""
        };
        InlineKeyboardButton::callback(
            format!("{mark}{minutes} {unit}"),
            format!("{INTERVAL_BUTTON}:{minutes}"),
        )
    })])
}

async fn tell_once(router: &Router, chat: ChatId, user: &User, lang: Lang, point: Coordinates) {
    let request = StoryRequest {
        user_id: user.id.0,
        chat,
        point,
        lang,
    };
    router.stories.tell_nearby(request).await;
}

async fn answer(router: &Router, query: &CallbackQuery, text: &str) {
    let request = router
        .outbox
        .bot()
        .answer_callback_query(query.id.clone())
        .text(text);
    if let Err(error) = router.outbox.send(query.from.id.into(), request).await {
        tracing::debug!(%error, "callback query not answered");
    }
}
