//! What the bot remembers about users: preferences (read through an in-process cache from
//! the `DbActor`, written at once), and sightings (written behind; a sighting newer than a block clears it).
//!
//! Cheap to clone: every clone shares the same caches and actor.

use std::time::Duration;

use actix::Addr;
use moka::future::Cache;
use teloxide::types::User;

use crate::telemetry::traces::SenderSpan;
use crate::{
    actors::db_actor::{DbActor, LoadPreferences, ResetUser, SavePreferences, SeenUser},
    db::{DbError, entity::user_preferences, now_ms, queries::UserSeen},
    i18n::Lang,
};

/// Users whose preferences are kept in memory.
const CACHED_USERS: u64 = 100_000;
/// How long cached preferences are trusted (another instance may have changed them).
const PREFERENCES_TTL: Duration = Duration::from_secs(600);
/// Tour intervals a user may choose, in minutes.
pub const LIVE_INTERVALS_MIN: [u32; 4] = [5, 10, 30, 60];
/// Search radii a user may choose, in metres.
pub const RADII_M: [u32; 3] = [500, 1000, 3000];
/// The tour interval of a user who chose none, in minutes.
pub const DEFAULT_INTERVAL_MIN: u32 = 10;
/// The search radius of a user who chose none, in metres.
pub const DEFAULT_RADIUS_M: u32 = 1000;

/// A user's choices, with their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    /// Chosen language; `None` follows Telegram's language.
    pub language: Option<Lang>,
    /// Default minutes between tour stories.
    pub live_interval_min: u32,
    /// Search radius in metres.
    pub radius_m: u32,
    /// Whether stories come with photos.
    pub photos: bool,
}

impl Default for Preferences {
    fn default() -> Self {
        Self {
            language: None,
            live_interval_min: DEFAULT_INTERVAL_MIN,
            radius_m: DEFAULT_RADIUS_M,
            photos: true,
        }
    }
}

impl Preferences {
    fn from_row(row: user_preferences::Model) -> Self {
        Self {
            language: row.language.as_deref().and_then(Lang::from_code),
            live_interval_min: u32::try_from(row.live_interval_min).unwrap_or(DEFAULT_INTERVAL_MIN),
            radius_m: u32::try_from(row.radius_m).unwrap_or(DEFAULT_RADIUS_M),
            photos: row.photos,
        }
    }

    fn to_row(self, user_id: u64) -> user_preferences::Model {
        user_preferences::Model {
            user_id: user_id as i64,
            language: self.language.map(|lang| lang.code().to_owned()),
            live_interval_min: i32::try_from(self.live_interval_min).unwrap_or(10),
            radius_m: i32::try_from(self.radius_m).unwrap_or(1000),
            photos: self.photos,
            updated_at: now_ms(),
        }
    }

    /// The language to answer in, given the user's Telegram language.
    pub fn language_for(&self, user: &User) -> Lang {
        self.language
            .unwrap_or_else(|| Lang::from_telegram(user.language_code.as_deref()))
    }
}

/// Per-user state shared by the router, the storyteller and the Telegram client.
#[derive(Clone)]
pub struct UserStore {
    preferences: Cache<u64, Preferences>,
    db: Addr<DbActor>,
}

impl UserStore {
    /// A store over the `DbActor`.
    pub fn new(db: Addr<DbActor>) -> Self {
        Self {
            preferences: Cache::builder()
                .max_capacity(CACHED_USERS)
                .time_to_live(PREFERENCES_TTL)
                .build(),
            db,
        }
    }

    /// The database's actor behind this store.
    pub fn db(&self) -> Addr<DbActor> {
        self.db.clone()
    }

    /// A user's preferences; defaults when none are saved or the database is down.
    pub async fn preferences(&self, user_id: u64) -> Preferences {
        if let Some(preferences) = self.preferences.get(&user_id).await {
            return preferences;
        }
        let loaded = self
            .db
            .send(LoadPreferences {
                user_id: user_id as i64,
                sender: SenderSpan::current(),
            })
            .await;
        match loaded {
            Ok(Ok(row)) => {
                let preferences = row.map(Preferences::from_row).unwrap_or_default();
                self.preferences.insert(user_id, preferences).await;
                preferences
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, user_id, "preferences unreadable; the defaults for now");
                Preferences::default()
            }
            Err(error) => {
                tracing::error!(%error, user_id, "the database actor is gone; the defaults for now");
                Preferences::default()
            }
        }
    }

    /// The language to answer `user` in.
    pub async fn language_of(&self, user: &User) -> Lang {
        self.preferences(user.id.0).await.language_for(user)
    }

    /// Changes a user's preferences and saves them at once.
    pub async fn update(
        &self,
        user_id: u64,
        change: impl FnOnce(&mut Preferences),
    ) -> Result<Preferences, DbError> {
        let mut preferences = self.preferences(user_id).await;
        change(&mut preferences);
        let saved = self
            .db
            .send(SavePreferences(preferences.to_row(user_id)))
            .await;
        saved.map_err(|_| DbError::Unavailable)??;
        self.preferences.insert(user_id, preferences).await;
        Ok(preferences)
    }

    /// Forgets a user's preferences and history.
    pub async fn reset(&self, user_id: u64) -> Result<(), DbError> {
        let reset = self
            .db
            .send(ResetUser {
                user_id: user_id as i64,
            })
            .await;
        reset.map_err(|_| DbError::Unavailable)??;
        self.preferences.invalidate(&user_id).await;
        Ok(())
    }

    /// Records that `user` wrote to us (written behind); the upsert clears `blocked_at`, since
    /// they no longer block the bot.
    pub fn seen(&self, user: &User) {
        self.db.do_send(SeenUser(UserSeen {
            id: user.id.0 as i64,
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            username: user.username.clone(),
            language_code: user.language_code.clone(),
            at: now_ms(),
        }));
    }
}
