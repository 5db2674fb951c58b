//! Every user-facing string, in Russian and English, in one place.
//!
//! A [`Texts`] table per language: adding a string means adding a field, and the compiler then
//! refuses to build until both languages have it, so a user never meets a missing translation.

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
            Lang::Ru => &RU,
            Lang::En => &EN,
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
    /// A command the bot does not know.
    pub unknown_command: &'static str,
    /// Admin-only command sent by someone else.
    pub admin_only: &'static str,
    /// Payments are not offered.
    pub payments_unavailable: &'static str,
    /// A button press the bot no longer knows about.
    pub stale_button: &'static str,
    /// Something failed on our side; the user should try again.
    pub internal_error: &'static str,
    /// Button under a story: a deeper story about the same place.
    pub tell_more_button: &'static str,
    /// Button under a story: the next nearest untold place.
    pub another_place_button: &'static str,
    /// Link text of the source article.
    pub source_label: &'static str,
    /// Marks a story that is the place's own summary (the LLM was not available).
    pub from_wikipedia: &'static str,
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
    /// `/reset`
    pub reset: &'static str,
}

static EN: Texts = Texts {
    welcome: "Hi! I tell short, true stories about real places near you.\n\
              Send me your location and I will find a place nearby and tell you about it.",
    live_guide: "<b>Walking?</b> Share a live location and I will tell you about a new place \
                 every few minutes:\n📎 Attach → 📍 Location → <b>Share My Live Location</b>.\n\
                 Stop sharing or send /stop to end the tour.",
    send_location_button: "📍 Send my location",
    choose_language: "Choose a language:",
    language_set: "Done: I will speak English.",
    language_name: "English",
    unusable_message: "I can't use that. Send me a location (📎 → 📍) and I'll tell you about a place nearby.",
    unknown_command: "I don't know that command. /help shows what I can do.",
    admin_only: "This command is for the bot's administrators.",
    payments_unavailable: "Payments are not available right now.",
    stale_button: "This button has expired.",
    tell_more_button: "🔎 Tell me more",
    another_place_button: "➡️ Another place",
    source_label: "Wikipedia",
    from_wikipedia: "📖 From Wikipedia:",
    nothing_nearby: "I have no new place to tell you about right here.{near} Walk a little and send your location again.",
    sources_down: "My sources are out of reach right now.{near} Please try again in a minute.",
    you_are_near: " You are near {locality}.",
    busy: "Lots of people are exploring right now. Please try again in a minute.",
    distance_template: "{distance} {direction} of you",
    units: ("m", "km"),
    compass: [
        "north",
        "north-east",
        "east",
        "south-east",
        "south",
        "south-west",
        "west",
        "north-west",
    ],
    prompt_language: "English",
    settings_summary: "<b>Settings</b>\nLanguage: {language}\nTour interval: {interval}\nSearch radius: {radius}\nPhotos: {photos}",
    minutes: "min",
    on_off: ("on", "off"),
    settings_saved: "Saved",
    not_saved: "I couldn't save that right now. Please try again in a minute.",
    reset_question: "Forget your settings and the places I told you about? This cannot be undone.",
    reset_buttons: ("Yes, forget", "Cancel"),
    reset_done: "Done: I forgot your settings and history.",
    reset_cancelled: "Nothing changed.",
    own_stats: "<b>Your stats</b>\nStories received: {facts}\nPlaces: {places}\nDistance walked on tours: {distance}",
    stats_unavailable: "Figures are unavailable right now. Please try again in a minute.",
    admin_stats: "<b>Bot statistics</b>\n\
        Users: {users_total} total; {users_active} active, {users_new} new in 24 h\n\
        Stories in 24 h: {facts_24h} (cache {cache_24h}, LLM {llm_24h}, fallback {fallback_24h})\n\
        Stories in total: {facts_total} (cache {cache_total}, LLM {llm_total}, fallback {fallback_total})\n\
        Cache hit ratio: {hit_ratio}\n\
        LLM calls: {llm_calls}\n\
        Story latency, last hour: p50 {p50}, p95 {p95}\n\
        LLM queue: interactive {queue_interactive}, live {queue_live}, background {queue_background}; permits in use {in_flight} of {permits}\n\
        Live tours: {live} of {live_cap}\n\
        Errors in 24 h: {errors}\n\
        Uptime {uptime}, version {version}",
    internal_error: "Something went wrong on my side. Please try again in a minute.",
    tour_started: "🚶 Your tour has started! As you walk, I will tell you about a new place nearby. \
                   How often?",
    hours: "h",
    tour_interval_set: "A new place every {minutes} min.",
    tour_full: "So many people are walking with me right now that I can't start another tour. \
                Single locations still work: send one any time. Please try a tour again a little later.",
    tour_summary: "🏁 Tour finished. Stories: {stories} · walked: {distance} · time: {duration}.",
    no_tour: "No tour is running. Share your live location to start one.",
    heading_cues: [
        "👀 Straight ahead",
        "👀 On your right",
        "👀 Behind you",
        "👀 On your left",
    ],
    command_descriptions: CommandDescriptions {
        start: "Start: what this bot does",
        help: "How to share a live location",
        language: "Switch language",
        stop: "End the live tour",
        settings: "Language, tour interval, radius, photos",
        stats: "Your statistics",
        reset: "Forget my settings and history",
    },
};

static RU: Texts = Texts {
    welcome: "Привет! Я рассказываю короткие правдивые истории о настоящих местах рядом с вами.\n\
              Пришлите геопозицию, и я найду место поблизости и расскажу о нём.",
    live_guide: "<b>Гуляете?</b> Включите трансляцию геопозиции, и я буду рассказывать о новом \
                 месте каждые несколько минут:\n📎 Вложение → 📍 Геопозиция → \
                 <b>Транслировать геопозицию</b>.\n\
                 Чтобы закончить прогулку, остановите трансляцию или отправьте /stop.",
    send_location_button: "📍 Отправить геопозицию",
    choose_language: "Выберите язык:",
    language_set: "Готово: буду говорить по-русски.",
    language_name: "Русский",
    unusable_message: "Это я не понимаю. Пришлите геопозицию (📎 → 📍), и я расскажу о месте рядом.",
    unknown_command: "Такой команды я не знаю. /help покажет, что я умею.",
    admin_only: "Эта команда только для администраторов бота.",
    payments_unavailable: "Платежи сейчас недоступны.",
    stale_button: "Эта кнопка устарела.",
    tell_more_button: "🔎 Подробнее",
    another_place_button: "➡️ Другое место",
    source_label: "Википедия",
    from_wikipedia: "📖 Из Википедии:",
    nothing_nearby: "Здесь мне пока нечего рассказать вам нового.{near} Пройдите немного и пришлите геопозицию ещё раз.",
    sources_down: "Мои источники сейчас недоступны.{near} Попробуйте через минуту.",
    you_are_near: " Вы рядом с местом {locality}.",
    busy: "Сейчас очень много желающих. Попробуйте через минуту.",
    distance_template: "{distance} {direction} от вас",
    units: ("м", "км"),
    compass: [
        "к северу",
        "к северо-востоку",
        "к востоку",
        "к юго-востоку",
        "к югу",
        "к юго-западу",
        "к западу",
        "к северо-западу",
    ],
    prompt_language: "Russian",
    settings_summary: "<b>Настройки</b>\nЯзык: {language}\nИнтервал прогулки: {interval}\nРадиус поиска: {radius}\nФото: {photos}",
    minutes: "мин",
    on_off: ("вкл", "выкл"),
    settings_saved: "Сохранено",
    not_saved: "Не получилось сохранить. Попробуйте через минуту.",
    reset_question: "Забыть ваши настройки и места, о которых я рассказал? Это не отменить.",
    reset_buttons: ("Да, забыть", "Отмена"),
    reset_done: "Готово: я забыл ваши настройки и историю.",
    reset_cancelled: "Ничего не изменилось.",
    own_stats: "<b>Ваша статистика</b>\nИсторий получено: {facts}\nМест: {places}\nПройдено на прогулках: {distance}",
    stats_unavailable: "Статистика сейчас недоступна. Попробуйте через минуту.",
    admin_stats: "<b>Статистика бота</b>\n\
        Пользователи: всего {users_total}; за 24 ч активных {users_active}, новых {users_new}\n\
        Истории за 24 ч: {facts_24h} (кэш {cache_24h}, LLM {llm_24h}, резерв {fallback_24h})\n\
        Истории всего: {facts_total} (кэш {cache_total}, LLM {llm_total}, резерв {fallback_total})\n\
        Попадания в кэш: {hit_ratio}\n\
        Вызовы LLM: {llm_calls}\n\
        Задержка историй за час: p50 {p50}, p95 {p95}\n\
        Очередь LLM: интерактив {queue_interactive}, прогулки {queue_live}, фон {queue_background}; занято {in_flight} из {permits}\n\
        Прогулки: {live} из {live_cap}\n\
        Ошибок за 24 ч: {errors}\n\
        Работает {uptime}, версия {version}",
    internal_error: "У меня что-то сломалось. Попробуйте ещё раз через минуту.",
    tour_started: "🚶 Прогулка началась! Пока вы идёте, я буду рассказывать о новых местах рядом. \
                   Как часто?",
    hours: "ч",
    tour_interval_set: "Новое место каждые {minutes} мин.",
    tour_full: "Сейчас со мной гуляет слишком много людей, и новую прогулку я начать не могу. \
                Отдельные геопозиции работают как обычно: присылайте в любой момент. \
                Попробуйте начать прогулку чуть позже.",
    tour_summary: "🏁 Прогулка окончена. Историй: {stories} · пройдено: {distance} · время: {duration}.",
    no_tour: "Прогулка не идёт. Включите трансляцию геопозиции, чтобы начать.",
    heading_cues: [
        "👀 Прямо впереди",
        "👀 Справа от вас",
        "👀 Позади вас",
        "👀 Слева от вас",
    ],
    command_descriptions: CommandDescriptions {
        start: "Начать: что умеет бот",
        help: "Как включить трансляцию геопозиции",
        language: "Сменить язык",
        stop: "Закончить прогулку",
        settings: "Язык, интервал, радиус, фото",
        stats: "Ваша статистика",
        reset: "Забыть мои настройки и историю",
    },
};

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
