//! What the bot remembers about users between updates, in memory for now (bounded): the
//! language a user chose with `/language`, the tour interval they last chose, and which chats
//! blocked the bot.
//!
//! Cheap to clone: every clone shares the same maps.

use std::time::Duration;

use moka::sync::Cache;
use teloxide::types::{ChatId, User};

use crate::i18n::Lang;

/// How many users' choices are kept in memory before the least recently used are forgotten.
const MAX_REMEMBERED_USERS: u64 = 100_000;
/// How long a blocked chat stays marked if nothing else happens.
const BLOCKED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Per-user state shared by the router and the Telegram client.
#[derive(Clone)]
pub struct UserStore {
    /// Explicit choices from `/language`; users without one get their Telegram language.
    languages: Cache<u64, Lang>,
    /// The tour interval each user chose last (their default for the next tour).
    live_intervals: Cache<u64, Duration>,
    /// Chats where Telegram said the bot is blocked; cleared when the user writes again.
    blocked: Cache<ChatId, ()>,
}

impl Default for UserStore {
    fn default() -> Self {
        Self {
            languages: Cache::new(MAX_REMEMBERED_USERS),
            live_intervals: Cache::new(MAX_REMEMBERED_USERS),
            blocked: Cache::builder()
                .max_capacity(MAX_REMEMBERED_USERS)
                .time_to_live(BLOCKED_TTL)
                .build(),
        }
    }
}

impl UserStore {
    /// The language to answer `user` in: their choice, else their Telegram language.
    pub fn language_of(&self, user: &User) -> Lang {
        self.languages
            .get(&user.id.0)
            .unwrap_or_else(|| Lang::from_telegram(user.language_code.as_deref()))
    }

    /// Remembers the language `user_id` chose.
    pub fn set_language(&self, user_id: u64, lang: Lang) {
        self.languages.insert(user_id, lang);
    }

    /// The tour interval `user_id` chose last, if any.
    pub fn live_interval_of(&self, user_id: u64) -> Option<Duration> {
        self.live_intervals.get(&user_id)
    }

    /// Remembers the tour interval `user_id` chose.
    pub fn set_live_interval(&self, user_id: u64, interval: Duration) {
        self.live_intervals.insert(user_id, interval);
    }

    /// Marks `chat` as having blocked the bot.
    pub fn mark_blocked(&self, chat: ChatId) {
        self.blocked.insert(chat, ());
    }

    /// The user wrote to us again, so they no longer block the bot.
    pub fn mark_reachable(&self, chat: ChatId) {
        self.blocked.invalidate(&chat);
    }

    /// Whether Telegram told us `chat` blocked the bot.
    pub fn is_blocked(&self, chat: ChatId) -> bool {
        self.blocked.contains_key(&chat)
    }
}
