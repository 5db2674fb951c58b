//! What the LLM is asked ([`ChatPrompt`]) and what a usable answer looks like
//! ([`StoryShape`]). It *writes* about a place we found; it never chooses the place, the
//! coordinates or the links, and it may use nothing beyond the place's own summary.

use std::ops::RangeInclusive;

use crate::{
    geo::{Coordinates, compass_direction},
    i18n::Lang,
    places::Place,
};

/// The text sent to the LLM for one story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPrompt {
    /// System message: the writer's instructions.
    pub system: String,
    /// User message: the place and its summary.
    pub user: String,
    /// Upper bound on generated tokens (`max_completion_tokens`).
    pub max_tokens: u32,
    /// What a usable answer looks like; any other is refused.
    pub shape: StoryShape,
}

/// What a usable answer to a prompt looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryShape {
    /// The length the prompt asks for, in words; an answer under half the least or over twice
    /// the most is refused.
    pub words: RangeInclusive<usize>,
    /// The place's name, which the story must mention; `None` when the story is written in
    /// another language than the name (it may be translated).
    pub name: Option<String>,
}

/// Longest summary sent to the LLM, in characters (the intro of an article is plenty).
const MAX_SUMMARY_CHARS: usize = 3000;
/// Words the first story is asked for (the gate refuses an answer far outside them).
const FIRST_STORY_WORDS: RangeInclusive<usize> = 60..=90;
/// Words the deeper story behind "Tell me more" is asked for.
const DEEPER_STORY_WORDS: RangeInclusive<usize> = 120..=160;

const SYSTEM: &str = "You are a local guide who tells short, vivid, true stories about real places. \
Use only facts stated in the summary you are given; never invent names, dates, numbers, events or \
legends. No greeting, no introduction, no questions to the reader, no markdown, no remarks about \
the summary, the request or yourself.";

/// The prompt for the first story about `place`, told to someone standing at `from`.
pub fn story(place: &Place, from: Coordinates, lang: Lang) -> ChatPrompt {
    let words = FIRST_STORY_WORDS;
    let task = format!(
        "Write one surprising, concrete story of {}-{} words about this place.",
        words.start(),
        words.end()
    );
    ChatPrompt {
        system: SYSTEM.to_owned(),
        user: user_message(place, from, lang, &task),
        max_tokens: 300,
        shape: shape(place, lang, words),
    }
}

/// The prompt for "tell me more": a deeper story about the same place.
pub fn deeper_story(place: &Place, from: Coordinates, lang: Lang) -> ChatPrompt {
    let words = DEEPER_STORY_WORDS;
    let task = format!(
        "The listener wants to know more. Write a deeper story of {}-{} words about this \
         place: details, people and history from the summary that a first short story would skip.",
        words.start(),
        words.end()
    );
    ChatPrompt {
        system: SYSTEM.to_owned(),
        user: user_message(place, from, lang, &task),
        max_tokens: 500,
        shape: shape(place, lang, words),
    }
}

/// The answer expected: `words` long, naming the place when the story is written in the
/// language of its title (in another, the name may be translated).
fn shape(place: &Place, lang: Lang, words: RangeInclusive<usize>) -> StoryShape {
    StoryShape {
        words,
        name: (place.lang == lang.code()).then(|| place.title.clone()),
    }
}

fn user_message(place: &Place, from: Coordinates, lang: Lang, task: &str) -> String {
    let distance = from.distance_m(&place.coordinates).round();
    let direction = compass_direction(from.bearing_deg(&place.coordinates));
    let summary: String = place.summary.chars().take(MAX_SUMMARY_CHARS).collect();
    format!(
        "Place: {title}\nWhere: about {distance} m to the {direction:?} of the listener.\n\
         Summary (the only source of facts):\n{summary}\n\n{task} Write it in {language}.",
        title = place.title,
        language = lang.texts().prompt_language,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::places::PlaceId;

    fn place() -> Place {
        Place {
            id: PlaceId("en:1".into()),
            title: "Old Church".into(),
            coordinates: Coordinates {
                lat: 55.001,
                lon: 37.0,
            },
            distance_m: 111.0,
            summary: "The Old Church was built in 1712.".into(),
            image_url: None,
            source_url: "https://en.wikipedia.org/wiki/Old_Church".into(),
            lang: "en".into(),
        }
    }

    #[test]
    fn the_prompt_carries_title_summary_distance_direction_and_language() {
        let prompt = story(
            &place(),
            Coordinates {
                lat: 55.0,
                lon: 37.0,
            },
            Lang::Ru,
        );
        assert!(prompt.user.contains("Place: Old Church"));
        assert!(prompt.user.contains("built in 1712"));
        assert!(prompt.user.contains("about 111 m to the N"));
        assert!(prompt.user.contains("60-90 words"));
        assert!(prompt.user.ends_with("Write it in Russian."));
        assert!(prompt.system.contains("never invent"));
    }

    #[test]
    fn the_answer_must_name_the_place_only_in_the_language_of_its_title() {
        let here = Coordinates {
            lat: 55.0,
            lon: 37.0,
        };
        let english = story(&place(), here, Lang::En).shape;
        assert_eq!(english.words, 60..=90);
        assert_eq!(english.name.as_deref(), Some("Old Church"));
        let russian = deeper_story(&place(), here, Lang::Ru);
        assert!(russian.user.contains("deeper story of 120-160 words"));
        assert_eq!(russian.shape.name, None, "the title may be translated");
    }
}
