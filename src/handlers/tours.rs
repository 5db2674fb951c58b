//! Live-location tours as the user sees them: a live location starts one (and asks for the
//! interval), its edits move it or stop it, `/stop` ends it, the interval buttons set it.
//! The tours themselves live in the `LiveLocationSessions` actor; this module only translates.

use std::time::Duration;

use teloxide::{
    payloads::{EditMessageReplyMarkupSetters, SendMessageSetters},
    prelude::Requester,
    types::{
        CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Location, Message, User,
    },
};

use super::{context::Context, work::spawn_work};
use crate::{
    actors::live_sessions::{LiveUpdate, SetInterval, Start, StartOutcome, Stop},
    geo::Coordinates,
    i18n::Lang,
    tour::PositionFix,
    users::{LIVE_INTERVALS_MIN, Preferences},
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
    ctx: &Context,
    message: &Message,
    user: &User,
    preferences: &Preferences,
    location: &Location,
) {
    let (chat, lang) = (message.chat.id, preferences.language_for(user));
    let sent_at = message.date.timestamp();
    let Some(fix) = fix(location, sent_at) else {
        ctx.reply(chat, lang.texts().unusable_message);
        return;
    };
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
        interval: minutes(preferences.live_interval_min),
    };
    let once = || ctx.story_request(user, chat, fix.position, preferences);
    match ctx.tours.send(start).await {
        Ok(StartOutcome::Started { interval }) => ask_interval(ctx, chat, lang, interval),
        Ok(StartOutcome::Refreshed) => tracing::debug!("tour refreshed by a new live location"),
        Ok(StartOutcome::Full { active, cap }) => {
            tracing::info!(active, cap, "tour refused at the cap; telling one place");
            ctx.reply(chat, lang.texts().tour_full);
            spawn_work(ctx.stories.tell_nearby(once()));
        }
        Ok(StartOutcome::AlreadyOver) => spawn_work(ctx.stories.tell_nearby(once())),
        Err(error) => {
            ctx.errors.record();
            tracing::error!(%error, "the tours actor is unreachable");
            ctx.reply(chat, lang.texts().internal_error);
        }
    }
}

fn minutes(count: u32) -> Duration {
    Duration::from_secs(u64::from(count) * 60)
}

/// An edited message: a live location moved (or stopped, without `live_period`).
pub fn on_edited_message(ctx: &Context, message: &Message) {
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
    ctx.tours.do_send(LiveUpdate {
        user_id: user.id.0,
        chat_id: message.chat.id.0,
        fix,
        sharing: location.live_period.is_some(),
    });
}

/// `/stop`: the actor sends the summary; without a tour the user hears there is none.
pub async fn on_stop(ctx: &Context, chat: ChatId, user: &User, lang: Lang) {
    match ctx.tours.send(Stop { user_id: user.id.0 }).await {
        Ok(true) => {}
        Ok(false) => ctx.reply(chat, lang.texts().no_tour),
        Err(error) => {
            ctx.errors.record();
            tracing::error!(%error, "the tours actor is unreachable");
            ctx.reply(chat, lang.texts().internal_error);
        }
    }
}

/// An interval button (`tour:10`): set the interval, remember it, mark the chosen button.
pub async fn on_interval_button(ctx: &Context, query: &CallbackQuery, lang: Lang, choice: &str) {
    let texts = lang.texts();
    let Some(chosen) = choice
        .parse::<u32>()
        .ok()
        .filter(|m| LIVE_INTERVALS_MIN.contains(m))
    else {
        ctx.answer_button(query, Some(texts.stale_button));
        return;
    };
    let user_id = query.from.id.0;
    let saved = ctx
        .users
        .update(user_id, |preferences| {
            preferences.live_interval_min = chosen
        })
        .await;
    if let Err(error) = saved {
        tracing::warn!(%error, "tour interval not remembered as the default");
    }
    let interval = minutes(chosen);
    match ctx.tours.send(SetInterval { user_id, interval }).await {
        Ok(true) => {}
        Ok(false) => return ctx.answer_button(query, Some(texts.no_tour)),
        Err(error) => {
            ctx.errors.record();
            tracing::error!(%error, "the tours actor is unreachable");
            return ctx.answer_button(query, Some(texts.internal_error));
        }
    }
    let chosen_text = texts
        .tour_interval_set
        .replace("{minutes}", &chosen.to_string());
    ctx.answer_button(query, Some(&chosen_text));
    if let Some(message) = query.regular_message() {
        let edit = ctx
            .bot()
            .edit_message_reply_markup(message.chat.id, message.id)
            .reply_markup(interval_buttons(lang, interval));
        ctx.send(message.chat.id, edit, "interval buttons not updated");
    }
}

fn ask_interval(ctx: &Context, chat: ChatId, lang: Lang, interval: Duration) {
    let request = ctx
        .bot()
        .send_message(chat, lang.texts().tour_started)
        .reply_markup(interval_buttons(lang, interval));
    ctx.send(chat, request, "interval question not delivered");
}

/// 5/10/30/60 min, the current one marked.
pub fn interval_buttons(lang: Lang, selected: Duration) -> InlineKeyboardMarkup {
    let unit = lang.texts().minutes;
    InlineKeyboardMarkup::new([LIVE_INTERVALS_MIN.map(|count| {
        let mark = if selected == minutes(count) {
            "✅ "
        } else {
            ""
        };
        InlineKeyboardButton::callback(
            format!("{mark}{count} {unit}"),
            format!("{INTERVAL_BUTTON}:{count}"),
        )
    })])
}
