//! Every user-facing string, in Russian and English, in one place (`i18n/ru.rs`, `i18n/en.rs`).
//!
//! A [`Texts`] table per language: adding a string means adding a field, and the compiler then
//! refuses to build until both languages have it, so a user never meets a missing translation.

mod en;
mod ru;

/// A language the bot speaks (stored as its code, `"ru"` or `"en"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Russian, also used for Ukrainian and Belarusian speakers.
    Ru,
    /// English, for everyone else.
    En,
}

impl Lang {
    /// Every language, for menus.
    pub const ALL: [Lang; 2] = [Lang::Ru, Lang::En];

    /// The language for a Telegram `language_code` (IETF tag such as `ru`, `uk`, `en-US`).
    pub fn from_telegram(language_code: Option<&str>) -> Lang {
        let primary = language_code
            .and_then(|code| code.split(['-', '_']).next())
            .map(str::to_ascii_lowercase);
        match primary.as_deref() {
            Some("ru" | "uk" | "be") => Lang::Ru,
            _ => Lang::En,
        }
    }

    /// The ISO 639-1 code (also the Wikipedia subdomain).
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// Parses an ISO 639-1 code this bot speaks.
    pub fn from_code(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|lang| lang.code() == code)
    }

    /// The strings in this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Ru => &ru::RU,
            Lang::En => &en::EN,
        }
    }
}

/// The strings of one language. HTML where the message is sent with `parse_mode = HTML`.
#[derive(Debug)]
pub struct Texts {
    /// `/start`: what the bot does, in two lines.
    pub welcome: &'static str,
    /// How to share a live location (HTML).
    pub live_guide: &'static str,
    /// The one-time hint after a user's first one-off story: a live location makes a tour (HTML).
    pub live_hint: &'static str,
    /// The reply-keyboard button that sends the user's location.
    pub send_location_button: &'static str,
    /// `/language`: the prompt above the language buttons.
    pub choose_language: &'static str,
    /// The language was switched to this one.
    pub language_set: &'static str,
    /// Name of this language on its button.
    pub language_name: &'static str,
    /// Anything the bot cannot use (sticker, photo, text, ...).
    pub unusable_message: &'static str,
    /// After a restart, for a request that waited too long to be answered now.
    pub restart_apology: &'static str,
    /// A command the bot does not know.
    pub unknown_command: &'static str,
    /// Admin-only command sent by someone else.
    pub admin_only: &'static str,
    /// A button press the bot no longer knows about.
    pub stale_button: &'static str,
    /// Something failed on our side; the user should try again.
    pub internal_error: &'static str,
    /// Button under a story: a deeper story about the same place.
    pub tell_more_button: &'static str,
    /// Button under a story: sends the place's venue pin.
    pub on_the_map_button: &'static str,
    /// Button under a story: the next nearest untold place.
    pub another_place_button: &'static str,
    /// Link text of the source article.
    pub source_label: &'static str,
    /// Marks a story that is the place's own summary (the LLM was not available).
    pub from_wikipedia: &'static str,
    /// Marks a story that replaced the summary sent while it was being written.
    pub guide_story: &'static str,
    /// No untold place nearby; `{near}` is replaced by [`Texts::you_are_near`] or nothing.
    pub nothing_nearby: &'static str,
    /// Wikipedia could not be reached; `{near}` as above.
    pub sources_down: &'static str,
    /// "You are near {locality}." (`{locality}` is replaced).
    pub you_are_near: &'static str,
    /// Too many requests right now; try again shortly.
    pub busy: &'static str,
    /// "{distance} {direction}" of the user, e.g. "350 m north of you"; see [`Texts::compass`].
    pub distance_template: &'static str,
    /// Metres and kilometres units.
    pub units: (&'static str, &'static str),
    /// Direction phrases for N, NE, E, SE, S, SW, W, NW.
    pub compass: [&'static str; 8],
    /// The language's name in English, for the LLM prompt.
    pub prompt_language: &'static str,
    /// A tour started: the question above the interval buttons.
    pub tour_started: &'static str,
    /// Short "hours" in summaries.
    pub hours: &'static str,
    /// An interval was chosen; `{minutes}` is replaced.
    pub tour_interval_set: &'static str,
    /// Too many tours at once on this instance.
    pub tour_full: &'static str,
    /// End of a tour; `{stories}`, `{distance}`, `{duration}` are replaced.
    pub tour_summary: &'static str,
    /// `/stop` without a tour.
    pub no_tour: &'static str,
    /// Where to look, by the place's side relative to the walking direction:
    /// ahead, on the right, behind, on the left.
    pub heading_cues: [&'static str; 4],
    /// /settings: the heading and one line per setting (`{language}`, `{interval}`,
    /// `{radius}`, `{photos}` are replaced).
    pub settings_summary: &'static str,
    /// "min" after tour intervals (buttons, settings, summaries).
    pub minutes: &'static str,
    /// Photos on / off.
    pub on_off: (&'static str, &'static str),
    /// Answer to a settings button.
    pub settings_saved: &'static str,
    /// A preference could not be saved (database trouble).
    pub not_saved: &'static str,
    /// /reset: the question.
    pub reset_question: &'static str,
    /// /reset buttons: yes, cancel.
    pub reset_buttons: (&'static str, &'static str),
    /// /reset done.
    pub reset_done: &'static str,
    /// /reset cancelled.
    pub reset_cancelled: &'static str,
    /// /stats for a user (`{facts}`, `{places}`, `{distance}` are replaced).
    pub own_stats: &'static str,
    /// /stats for an admin; every `{name}` is replaced (see `handlers::stats`).
    pub admin_stats: &'static str,
    /// Figures are unavailable right now.
    pub stats_unavailable: &'static str,
    /// `/donate`: the prompt above the amount buttons.
    pub donate_prompt: &'static str,
    /// The button that opens the amounts ("⭐ Support").
    pub support_button: &'static str,
    /// The invoice's title.
    pub invoice_title: &'static str,
    /// The invoice's description; `{stars}` is replaced.
    pub invoice_description: &'static str,
    /// The invoice's one price line.
    pub invoice_label: &'static str,
    /// After a payment; `{stars}` is replaced.
    pub donation_thanks: &'static str,
    /// Pre-checkout refused: the invoice was made for someone else.
    pub payment_not_yours: &'static str,
    /// Pre-checkout refused: not one of our invoices, or tampered with.
    pub payment_invalid: &'static str,
    /// Pre-checkout refused: an amount we do not offer.
    pub payment_amount: &'static str,
    /// `/paysupport`: how to get help with a payment.
    pub pay_support: &'static str,
    /// `/refund` without a charge id.
    pub refund_usage: &'static str,
    /// A refund went through; `{stars}` and `{user}` are replaced.
    pub refund_done: &'static str,
    /// The charge had been refunded before.
    pub refund_already: &'static str,
    /// No donation with that charge id.
    pub refund_unknown: &'static str,
    /// Telegram refused the refund; `{reason}` is replaced.
    pub refund_failed: &'static str,
    /// Appended to a donor's own figures; `{stars}` is replaced.
    pub own_donations: &'static str,
    /// `/stats` sent in a group: figures are only shown in a private chat.
    pub stats_in_private: &'static str,
    /// Command descriptions for the menu.
    pub command_descriptions: CommandDescriptions,
}

/// Descriptions shown in Telegram's command menu.
#[derive(Debug)]
pub struct CommandDescriptions {
    /// `/start`
    pub start: &'static str,
    /// `/help`
    pub help: &'static str,
    /// `/language`
    pub language: &'static str,
    /// `/stop`
    pub stop: &'static str,
    /// `/settings`
    pub settings: &'static str,
    /// `/stats`
    pub stats: &'static str,
    /// `/donate`
    pub donate: &'static str,
    /// `/paysupport`
    pub paysupport: &'static str,
    /// `/reset`
    pub reset: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_for_ru_uk_be_english_otherwise() {
        for code in ["ru", "uk", "be", "ru-RU", "UK"] {
            assert_eq!(Lang::from_telegram(Some(code)), Lang::Ru, "{code}");
        }
        for code in [Some("en"), Some("de"), Some("en-US"), Some(""), None] {
            assert_eq!(Lang::from_telegram(code), Lang::En, "{code:?}");
        }
    }

    #[test]
    fn codes_round_trip() {
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
        }
        assert_eq!(Lang::from_code("de"), None);
    }
}
