//! Place names as people write them: the same place may be "Old church" on a map pin and
//! "Old Church (Moscow)" on Wikipedia. Names are compared by their words, lowercased, without
//! punctuation and without a parenthesised qualifier.

/// The words of `text`: lowercased runs of letters and digits, "ё" read as "е".
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| word.to_lowercase().replace('ё', "е"))
        .collect()
}

/// The words of `name` (see [`words`]), with any parenthesised part left out
/// ("Trinity Church (Manhattan)" → `["trinity", "church"]`).
pub fn name_words(name: &str) -> Vec<String> {
    let mut depth = 0_u32;
    let unqualified: String = name
        .chars()
        .map(|c| match c {
            '(' => {
                depth += 1;
                ' '
            }
            ')' => {
                depth = depth.saturating_sub(1);
                ' '
            }
            _ if depth > 0 => ' ',
            _ => c,
        })
        .collect();
    words(&unqualified)
}

/// Whether two names name the same place: the shorter one's words stand together in the
/// longer one and make at least half of it ("Café Noir" is "Café <Noir> & Co", "Hermitage" is
/// "Hermitage Museum", but "Kyiv" is not "Kyiv Pechersk Lavra").
pub fn same_place(a: &str, b: &str) -> bool {
    let (a, b) = (name_words(a), name_words(b));
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let letters: usize = short.iter().map(|word| word.chars().count()).sum();
    letters >= 3
        && short.len() * 2 >= long.len()
        && long.windows(short.len()).any(|run| run == short.as_slice())
}

/// Whether `text` mentions the place called `name`, in any grammatical case and in part: one
/// of the name's words of four letters or more (all its words when it has none) begins a word
/// of the text, less the last letters an ending may change ("у Исаакиевского собора" mentions
/// "Исаакиевский собор", "the café" mentions "Café Noir").
pub fn mentions(text: &str, name: &str) -> bool {
    let name = name_words(name);
    let long: Vec<&String> = name
        .iter()
        .filter(|word| word.chars().count() >= 4)
        .collect();
    let wanted = if long.is_empty() {
        name.iter().collect()
    } else {
        long
    };
    let text = words(text);
    wanted.is_empty()
        || wanted.iter().any(|word| {
            let stem = stem(word);
            text.iter().any(|said| said.starts_with(stem.as_str()))
        })
}

/// `word` less the letters an ending may change: none of four letters or fewer, two of five
/// or six ("дворец" → "двор"), three of longer words ("церковь" → "церк").
fn stem(word: &str) -> String {
    let letters = word.chars().count();
    let keep = match letters {
        0..=4 => letters,
        5 | 6 => letters - 2,
        _ => letters - 3,
    };
    word.chars().take(keep).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_leave_out_case_punctuation_and_qualifiers() {
        assert_eq!(name_words("Café <Noir> & Co"), ["café", "noir", "co"]);
        assert_eq!(
            name_words("Trinity Church (Manhattan)"),
            ["trinity", "church"]
        );
        assert_eq!(name_words("Ёлкин сад"), ["елкин", "сад"]);
    }

    #[test]
    fn a_venue_names_a_place_when_its_words_make_most_of_the_title() {
        assert!(same_place("Old church", "Old Church"));
        assert!(same_place("Café Noir", "Café <Noir> & Co"));
        assert!(same_place("Hermitage", "Hermitage Museum"));
        assert!(same_place("Эрмитаж", "Государственный Эрмитаж"));
        assert!(same_place("Trinity Church", "Trinity Church (Manhattan)"));
    }

    #[test]
    fn a_word_in_common_is_not_the_same_place() {
        assert!(!same_place("Kyiv", "Kyiv Pechersk Lavra"));
        assert!(!same_place("Old Church", "Old Town Hall"));
        assert!(!same_place("Starbucks", "Old Church"));
        assert!(!same_place("", "Old Church"));
        assert!(!same_place("St", "St"));
    }

    #[test]
    fn a_story_mentions_a_place_in_any_case_or_in_part() {
        let mentioned = [
            (
                "Туристы любят ступени Исаакиевского собора.",
                "Исаакиевский собор",
            ),
            ("Во дворце жили цари.", "Зимний дворец"),
            ("У старой церкви растёт липа.", "Старая церковь"),
            ("The café opened in 1890.", "Café <Noir> & Co"),
            (
                "Its churches are older than the town.",
                "Old Church (Moscow)",
            ),
            ("ГУМ стоит на площади.", "ГУМ"),
        ];
        for (text, name) in mentioned {
            assert!(mentions(text, name), "{text} / {name}");
        }
    }

    #[test]
    fn a_story_about_something_else_does_not_mention_the_place() {
        assert!(!mentions(
            "Hello! How can I assist you today?",
            "Old Church"
        ));
        assert!(!mentions("Река несла лес к морю.", "Исаакиевский собор"));
        assert!(!mentions("A story.", "Café <Noir> & Co"));
    }
}
