//! Whether what the model wrote is a story we can tell: not empty, roughly the length asked
//! for, no talk about itself, the request or the reader (an OpenAI-compatible server that
//! ignores the prompt answers "Hello! How can I assist you today?"), and about the place.
//!
//! An answer that is not is `GateError::Unusable`: never retried (the same endpoint would
//! answer alike while the user waits), never cached, and counted like a failed call by the
//! breaker and `/stats`, because it says the model behind the endpoint does not follow the
//! prompt.

use super::GateError;
use crate::{
    places::names::{mentions, words},
    prompts::StoryShape,
};

/// Phrases of a model talking about itself, the request or the reader; no story has them.
const META_TALK: [&str; 28] = [
    "as an ai",
    "language model",
    "i can't",
    "i cannot",
    "i'm unable",
    "i am unable",
    "i'm sorry",
    "i am sorry",
    "i apologize",
    "how can i",
    "can i help",
    "let me know",
    "here is a story",
    "here's a story",
    "the summary",
    "provided summary",
    "как ии",
    "искусственный интеллект",
    "языковая модель",
    "языковой модели",
    "я не могу",
    "не могу помочь",
    "извините",
    "к сожалению, я",
    "чем могу помочь",
    "чем я могу",
    "дайте знать",
    "вот история",
];
/// First words of a greeting.
const GREETINGS: [&str; 12] = [
    "hello",
    "hi",
    "hey",
    "greetings",
    "good morning",
    "good afternoon",
    "good evening",
    "здравствуйте",
    "здравствуй",
    "привет",
    "добрый день",
    "доброе утро",
];
/// Words that make a closing question one put to the reader.
const SECOND_PERSON: [&str; 12] = [
    "you",
    "your",
    "вы",
    "вас",
    "вам",
    "ваш",
    "вашем",
    "ты",
    "тебя",
    "тебе",
    "хотите",
    "хочешь",
];

/// Why an answer is not a story we can tell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unusable {
    /// Nothing but whitespace.
    #[error("the answer is empty")]
    Empty,
    /// Far shorter than asked.
    #[error("{0} words, far fewer than asked")]
    TooShort(usize),
    /// Far longer than asked.
    #[error("{0} words, far more than asked")]
    TooLong(usize),
    /// A greeting, a question back, or talk about the model, the request or the summary.
    #[error("the answer talks to the reader or about itself")]
    MetaTalk,
    /// The place is not named.
    #[error("the answer does not name the place")]
    OffTopic,
}

/// `text` when it is a story of `shape`, else why not.
pub(super) fn judge(text: String, shape: &StoryShape) -> Result<String, GateError> {
    match unusable(&text, shape) {
        Some(why) => Err(GateError::Unusable(why)),
        None => Ok(text),
    }
}

fn unusable(text: &str, shape: &StoryShape) -> Option<Unusable> {
    let count = text.split_whitespace().count();
    if count == 0 {
        Some(Unusable::Empty)
    } else if count * 2 < *shape.words.start() {
        Some(Unusable::TooShort(count))
    } else if count > shape.words.end().saturating_mul(2) {
        Some(Unusable::TooLong(count))
    } else if is_meta_talk(text, shape.name.as_deref().unwrap_or_default()) {
        Some(Unusable::MetaTalk)
    } else if shape
        .name
        .as_ref()
        .is_some_and(|name| !mentions(text, name))
    {
        Some(Unusable::OffTopic)
    } else {
        None
    }
}

/// Whether `text` greets, talks about itself or the request, or questions the reader; a story
/// about a place called `name` may open with the name even when that is "Hi-Fi House".
fn is_meta_talk(text: &str, name: &str) -> bool {
    let lower = text.to_lowercase().replace('’', "'").replace('ё', "е");
    let greets = GREETINGS
        .iter()
        .any(|greeting| opens_with(&lower, greeting) && !opens_with(name, greeting));
    greets || META_TALK.iter().any(|phrase| lower.contains(phrase)) || asks_the_reader(&lower)
}

/// Whether the first words of `text` are `greeting` (one or two words).
fn opens_with(text: &str, greeting: &str) -> bool {
    let opening = words(text)
        .into_iter()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    opening == greeting || opening.starts_with(&format!("{greeting} "))
}

/// Whether the answer ends with a question put to the reader ("Would you like to know more?").
fn asks_the_reader(lower: &str) -> bool {
    let Some(body) = lower.trim_end().strip_suffix('?') else {
        return false;
    };
    let last = body.rsplit(['.', '!', '?']).next().unwrap_or(body);
    words(last)
        .iter()
        .any(|word| SECOND_PERSON.contains(&word.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_story_of(name: &str) -> StoryShape {
        StoryShape {
            words: 60..=90,
            name: Some(name.to_owned()),
        }
    }

    /// A 45-word story about the Old Church, opened by `opening`.
    fn story(opening: &str) -> String {
        format!(
            "{opening} Its bell was cast from the cannons of a lost battle, and for a century \
             the town rang it only when a ship came home. The last keeper wrote every arrival \
             in a ledger that now lies under glass beside the door of the Old Church."
        )
    }

    #[test]
    fn a_story_of_the_asked_length_about_the_place_is_usable() {
        let text = story("Few notice the crooked tower.");
        assert_eq!(judge(text.clone(), &first_story_of("Old Church")), Ok(text));
        let russian = "Колокол Старой церкви отлили из пушек проигранной битвы. ".repeat(5);
        assert!(judge(russian, &first_story_of("Старая церковь")).is_ok());
    }

    #[test]
    fn empty_short_and_long_answers_are_refused_with_their_length() {
        let shape = first_story_of("Old Church");
        let cases = [
            ("  \n".to_owned(), Unusable::Empty),
            ("The Old Church is old.".to_owned(), Unusable::TooShort(5)),
            ("Old Church ".repeat(91), Unusable::TooLong(182)),
        ];
        for (text, why) in cases {
            assert_eq!(judge(text, &shape), Err(GateError::Unusable(why)));
        }
    }

    #[test]
    fn greetings_questions_and_talk_about_the_request_are_refused() {
        let shape = first_story_of("Old Church");
        let answers = [
            story("Hello! Here is what I know."),
            story("Good morning, traveller."),
            story("As an AI, I only know the summary."),
            story("I’m sorry, I can’t check this."),
            format!(
                "{} Would you like to hear more?",
                story("Few notice the tower.")
            ),
            story("Здравствуйте! Вот история."),
            format!("{} Хотите узнать больше?", story("Мало кто знает.")),
        ];
        for text in answers {
            let verdict = judge(text.clone(), &shape);
            assert_eq!(
                verdict,
                Err(GateError::Unusable(Unusable::MetaTalk)),
                "{text}"
            );
        }
    }

    #[test]
    fn a_rhetorical_question_a_greeting_name_and_a_story_in_another_language_pass() {
        let shape = first_story_of("Old Church");
        assert!(judge(story("Who rang the bell at midnight?"), &shape).is_ok());
        let named = story("Hi-Fi House stands where a chapel was.");
        assert!(judge(named, &first_story_of("Hi-Fi House")).is_ok());
        let translated = StoryShape {
            name: None,
            ..first_story_of("Old Church")
        };
        let russian =
            "Колокол отлили из пушек проигранной битвы, и город звонил в него. ".repeat(4);
        assert!(judge(russian, &translated).is_ok());
    }

    #[test]
    fn a_story_about_something_else_is_refused() {
        let text = "The river here carried timber to the sea for a century. ".repeat(5);
        let verdict = judge(text, &first_story_of("Old Church"));
        assert_eq!(verdict, Err(GateError::Unusable(Unusable::OffTopic)));
    }
}
