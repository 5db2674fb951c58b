//! The buttons under a story ("Tell me more", "Another place"): what each refers to, kept
//! on the server (callback data holds only a token), and who may press it.
//!
//! A token is 128 random bits, so one user's token says nothing about another's, and the
//! context behind it is bound to the chat and the user the story was sent to: a press from
//! anyone else (a forged or copied token, another member of a group) is refused exactly as
//! an expired button is, and logged, so a stranger can neither read someone's story nor learn
//! where they are from the "350 m north of you" of its pin.

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use moka::sync::Cache;
use teloxide::types::ChatId;

use crate::{geo::Coordinates, places::Place};

/// How long the buttons under a story keep working.
const BUTTONS_LIVE_FOR: Duration = Duration::from_secs(24 * 3600);
/// Bytes of place data kept for the buttons under stories (~1-2 KiB a story, so several
/// thousand stories); an older button answers that it has expired.
const BUTTONS_BUDGET_BYTES: u64 = 8 * 1024 * 1024;

/// The server-side key a story's buttons carry in their callback data: 32 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ButtonToken(u128);

impl ButtonToken {
    /// A fresh, unguessable token (from the thread-local CSPRNG, seeded by the OS).
    pub fn random() -> Self {
        Self(rand::random())
    }
}

impl fmt::Display for ButtonToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Callback data that is not a token of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a story button token")]
pub struct NotAToken;

impl FromStr for ButtonToken {
    type Err = NotAToken;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.len() != 32 {
            return Err(NotAToken);
        }
        u128::from_str_radix(text, 16)
            .map(Self)
            .map_err(|_| NotAToken)
    }
}

/// What the buttons under one story refer to.
#[derive(Debug, Clone)]
pub struct StoryContext {
    /// The place the story was about.
    pub place: Place,
    /// Where the user stood when it was told.
    pub from: Coordinates,
    /// The user the story was told to: the only one who may press its buttons.
    pub user_id: u64,
    /// The chat it was sent to.
    pub chat: ChatId,
}

impl StoryContext {
    /// Roughly the bytes it holds, for the buttons' memory budget.
    fn weight(&self) -> u32 {
        let place = &self.place;
        let text = place.id.0.len()
            + place.title.len()
            + place.summary.len()
            + place.image_url.as_ref().map_or(0, String::len)
            + place.source_url.len()
            + place.lang.len();
        u32::try_from(text + std::mem::size_of::<Self>()).unwrap_or(u32::MAX)
    }
}

/// Why a press was not honoured; the presser hears "this button has expired" either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such token (expired, evicted, from before a restart, or made up).
    Unknown,
    /// The token is real but belongs to another user or chat.
    Foreign,
}

/// The contexts of recent stories' buttons: for [`BUTTONS_LIVE_FOR`], within
/// [`BUTTONS_BUDGET_BYTES`]. Cheap to clone: clones share the cache.
#[derive(Clone)]
pub struct StoryButtons {
    contexts: Cache<ButtonToken, Arc<StoryContext>>,
}

impl Default for StoryButtons {
    fn default() -> Self {
        Self::new()
    }
}

impl StoryButtons {
    /// An empty set. Least recently used first: the buttons a user may still press are the
    /// newest, which a frequency-based admission would refuse once the budget is full.
    pub fn new() -> Self {
        let contexts = Cache::builder()
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            .weigher(|_: &ButtonToken, context: &Arc<StoryContext>| context.weight())
            .max_capacity(BUTTONS_BUDGET_BYTES)
            .time_to_live(BUTTONS_LIVE_FOR)
            .build();
        Self { contexts }
    }

    /// Keeps `context` under a fresh token, for the buttons of the story about to be sent.
    pub fn issue(&self, context: StoryContext) -> ButtonToken {
        let token = ButtonToken::random();
        self.contexts.insert(token, Arc::new(context));
        token
    }

    /// The context behind `token`, if `user_id` pressed it in `chat`, the chat it was sent to.
    pub fn resolve(
        &self,
        token: ButtonToken,
        user_id: u64,
        chat: ChatId,
    ) -> Result<Arc<StoryContext>, Refused> {
        let context = self.contexts.get(&token).ok_or(Refused::Unknown)?;
        if context.user_id != user_id || context.chat != chat {
            tracing::warn!(
                user_id,
                chat_id = chat.0,
                "a story button pressed by someone it was not sent to; refused"
            );
            return Err(Refused::Foreign);
        }
        Ok(context)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::places::PlaceId;

    fn context(user_id: u64, summary: String) -> StoryContext {
        let point = Coordinates {
            lat: 55.0,
            lon: 37.0,
        };
        StoryContext {
            place: Place {
                id: PlaceId("en:1".into()),
                title: "Old Church".into(),
                coordinates: point,
                distance_m: 10.0,
                summary,
                image_url: None,
                source_url: "https://en.wikipedia.org/wiki/Old_Church".into(),
                lang: "en".into(),
            },
            from: point,
            user_id,
            chat: ChatId(user_id as i64),
        }
    }

    #[test]
    fn tokens_are_random_and_fit_callback_data() {
        let (a, b) = (ButtonToken::random(), ButtonToken::random());
        assert_ne!(a, b);
        let data = format!("more:{a}");
        assert!(data.len() <= 64, "{data}");
        assert_eq!(a.to_string().parse::<ButtonToken>(), Ok(a));
        for odd in ["", "12345", "zz", &"f".repeat(33)] {
            assert_eq!(odd.parse::<ButtonToken>(), Err(NotAToken), "{odd}");
        }
    }

    #[test]
    fn only_the_user_and_chat_a_story_went_to_may_press_its_buttons() {
        let buttons = StoryButtons::new();
        let token = buttons.issue(context(1, "Short.".into()));

        assert!(buttons.resolve(token, 1, ChatId(1)).is_ok());
        assert_eq!(
            buttons.resolve(token, 2, ChatId(2)).err(),
            Some(Refused::Foreign)
        );
        assert_eq!(
            buttons.resolve(token, 1, ChatId(-100)).err(),
            Some(Refused::Foreign),
            "the right user in another chat"
        );
        assert_eq!(
            buttons.resolve(ButtonToken::random(), 1, ChatId(1)).err(),
            Some(Refused::Unknown)
        );
    }

    #[test]
    fn buttons_keep_to_their_byte_budget_however_long_the_summaries() {
        let buttons = StoryButtons::new();
        let heavy = context(1, "A long intro. ".repeat(10_000));
        assert!(u64::from(heavy.weight()) > 140_000);
        let mut newest = None;
        for _ in 0..200 {
            newest = Some(buttons.issue(heavy.clone()));
        }
        buttons.contexts.run_pending_tasks();

        assert!(buttons.contexts.weighted_size() <= BUTTONS_BUDGET_BYTES);
        assert!(buttons.contexts.entry_count() < 200);
        assert!(
            buttons.resolve(newest.unwrap(), 1, ChatId(1)).is_ok(),
            "the newest button works"
        );
    }
}
