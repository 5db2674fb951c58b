//! `/settings` (language, tour interval, radius, photos as inline buttons; the message
//! updates in place) and `/reset` (forget preferences and history after a confirmation).
//!
//! Button data: `set:lang:ru`, `set:int:10`, `set:rad:500`, `set:pho:1`, `reset:yes|no`.

use teloxide::{
    payloads::{EditMessageTextSetters, SendMessageSetters},
    prelude::Requester,
    types::{CallbackQuery, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, ParseMode, User},
};

use super::context::Context;
use crate::{
    i18n::Lang,
    users::{LIVE_INTERVALS_MIN, Preferences, RADII_M},
};

/// Callback data prefix of the settings buttons.
pub const SETTINGS_BUTTON: &str = "set";
/// Callback data prefix of the reset confirmation buttons.
pub const RESET_BUTTON: &str = "reset";

/// Sends the settings message.
pub async fn show(ctx: &Context, chat: ChatId, user: &User) {
    let preferences = ctx.users.preferences(user.id.0).await;
    let lang = preferences.language_for(user);
    let request = ctx
        .bot()
        .send_message(chat, summary(&preferences, lang))
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard(&preferences, lang));
    ctx.send(chat, request, "settings not delivered");
}

/// Applies a settings button (`lang:ru`, ...) and updates the message in place.
pub async fn on_choice(ctx: &Context, query: &CallbackQuery, choice: &str) -> Option<&'static str> {
    let Some(change) = Choice::parse(choice) else {
        return Some(ctx.language(&query.from).await.texts().stale_button);
    };
    let saved = ctx
        .users
        .update(query.from.id.0, |preferences| change.apply(preferences))
        .await;
    let preferences = match saved {
        Ok(preferences) => preferences,
        Err(error) => {
            tracing::warn!(%error, "preference not saved");
            return Some(ctx.language(&query.from).await.texts().not_saved);
        }
    };
    let lang = preferences.language_for(&query.from);
    if let Some(message) = query.regular_message() {
        let edit = ctx
            .bot()
            .edit_message_text(message.chat.id, message.id, summary(&preferences, lang))
            .parse_mode(ParseMode::Html)
            .reply_markup(keyboard(&preferences, lang));
        ctx.send(message.chat.id, edit, "settings message not updated");
    }
    Some(lang.texts().settings_saved)
}

/// One setting a button changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Language(Lang),
    Interval(u32),
    Radius(u32),
    Photos(bool),
}

impl Choice {
    /// Parses `lang:ru`, `int:10`, `rad:500`, `pho:1`; only values we offer.
    fn parse(choice: &str) -> Option<Choice> {
        let (kind, value) = choice.split_once(':')?;
        match kind {
            "lang" => Lang::from_code(value).map(Choice::Language),
            "int" => value
                .parse()
                .ok()
                .filter(|m| LIVE_INTERVALS_MIN.contains(m))
                .map(Choice::Interval),
            "rad" => value
                .parse()
                .ok()
                .filter(|m| RADII_M.contains(m))
                .map(Choice::Radius),
            "pho" => Some(Choice::Photos(value == "1")),
            _ => None,
        }
    }

    fn apply(self, preferences: &mut Preferences) {
        match self {
            Choice::Language(lang) => preferences.language = Some(lang),
            Choice::Interval(minutes) => preferences.live_interval_min = minutes,
            Choice::Radius(metres) => preferences.radius_m = metres,
            Choice::Photos(photos) => preferences.photos = photos,
        }
    }
}

fn summary(preferences: &Preferences, lang: Lang) -> String {
    let texts = lang.texts();
    let photos = if preferences.photos {
        texts.on_off.0
    } else {
        texts.on_off.1
    };
    texts
        .settings_summary
        .replace("{language}", texts.language_name)
        .replace(
            "{interval}",
            &format!("{} {}", preferences.live_interval_min, texts.minutes),
        )
        .replace("{radius}", &radius_label(preferences.radius_m, lang))
        .replace("{photos}", photos)
}

fn radius_label(metres: u32, lang: Lang) -> String {
    let units = lang.texts().units;
    if metres < 1000 {
        format!("{metres} {}", units.0)
    } else {
        format!("{} {}", metres / 1000, units.1)
    }
}

fn keyboard(preferences: &Preferences, lang: Lang) -> InlineKeyboardMarkup {
    let texts = lang.texts();
    let button = |chosen: bool, label: String, data: String| {
        let label = if chosen {
            format!("✓ {label}")
        } else {
            label
        };
        InlineKeyboardButton::callback(label, format!("{SETTINGS_BUTTON}:{data}"))
    };
    let languages = Lang::ALL.map(|option| {
        button(
            option == lang,
            option.texts().language_name.to_owned(),
            format!("lang:{}", option.code()),
        )
    });
    let intervals = LIVE_INTERVALS_MIN.map(|minutes| {
        let label = format!("{minutes} {}", texts.minutes);
        button(
            minutes == preferences.live_interval_min,
            label,
            format!("int:{minutes}"),
        )
    });
    let radii = RADII_M.map(|metres| {
        button(
            metres == preferences.radius_m,
            radius_label(metres, lang),
            format!("rad:{metres}"),
        )
    });
    let photos = [
        button(
            preferences.photos,
            format!("📷 {}", texts.on_off.0),
            "pho:1".into(),
        ),
        button(
            !preferences.photos,
            texts.on_off.1.to_owned(),
            "pho:0".into(),
        ),
    ];
    InlineKeyboardMarkup::new([
        languages.to_vec(),
        intervals.to_vec(),
        radii.to_vec(),
        photos.to_vec(),
    ])
}

/// Asks whether to forget the user's settings and history.
pub fn confirm_reset(ctx: &Context, chat: ChatId, lang: Lang) {
    let (yes, no) = lang.texts().reset_buttons;
    let buttons = InlineKeyboardMarkup::new([[
        InlineKeyboardButton::callback(yes, format!("{RESET_BUTTON}:yes")),
        InlineKeyboardButton::callback(no, format!("{RESET_BUTTON}:no")),
    ]]);
    let request = ctx
        .bot()
        .send_message(chat, lang.texts().reset_question)
        .reply_markup(buttons);
    ctx.send(chat, request, "reset question not delivered");
}

/// Carries out (or cancels) a reset and says so in place of the question.
pub async fn on_reset(ctx: &Context, query: &CallbackQuery, lang: Lang, confirmed: bool) {
    let texts = lang.texts();
    let outcome = if !confirmed {
        texts.reset_cancelled
    } else {
        let user_id = query.from.id.0;
        match ctx.users.reset(user_id).await {
            Ok(()) => {
                ctx.stories.forget(user_id).await;
                tracing::info!("user reset");
                // After a reset the user's language follows Telegram's again.
                ctx.language(&query.from).await.texts().reset_done
            }
            Err(error) => {
                tracing::warn!(%error, "reset failed");
                texts.not_saved
            }
        }
    };
    let chat = query
        .regular_message()
        .map_or(query.from.id.into(), |m| m.chat.id);
    match query.regular_message() {
        Some(message) => {
            let edit = ctx.bot().edit_message_text(chat, message.id, outcome);
            ctx.send(chat, edit, "reset outcome not shown");
        }
        None => {
            ctx.reply(chat, outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_offered_values_are_accepted() {
        assert_eq!(Choice::parse("int:30"), Some(Choice::Interval(30)));
        assert_eq!(Choice::parse("rad:3000"), Some(Choice::Radius(3000)));
        assert_eq!(Choice::parse("lang:ru"), Some(Choice::Language(Lang::Ru)));
        for odd in ["int:7", "rad:1", "lang:de", "x:1", "int", ""] {
            assert_eq!(Choice::parse(odd), None, "{odd}");
        }
    }
}
