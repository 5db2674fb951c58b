//! One user's chat as readable text: what the user sent and what the bot answered, with the
//! time since the user's first message. Text sent as HTML reads as a Telegram client shows it
//! (tags dropped, entities decoded); text sent without a parse mode reads as it was sent.

use std::{fmt::Write, time::Instant};

use super::telegram::{Delivery, Method};

/// One line of a chat, for the transcript.
#[derive(Debug, Clone)]
pub struct Line {
    /// When it was sent (by the user) or reached Telegram (from the bot).
    pub at: Instant,
    /// Whether the user wrote it.
    pub from_user: bool,
    /// What it said.
    pub text: String,
}

/// How a delivery reads in a transcript.
pub fn describe(delivery: &Delivery) -> String {
    let text = if delivery.html {
        plain(&delivery.text)
    } else {
        delivery.text.clone()
    };
    let mut line = match delivery.method {
        Method::Message => text,
        Method::Photo => format!(
            "[photo {}] {text}",
            delivery.photo.as_deref().unwrap_or("?")
        ),
        Method::Venue => format!("[map pin] {text}"),
        Method::ChatAction => format!("({text}…)"),
        Method::EditText => format!("[edited] {text}"),
        Method::CallbackAnswer => "[button answered]".to_owned(),
        Method::Draft => format!("[draft, being written] {text}"),
        Method::Other => format!("[other call] {text}"),
    };
    if !delivery.buttons.is_empty() {
        let _ = write!(line, "\n    buttons: [{}]", delivery.buttons.join("] ["));
    }
    line
}

/// The chat, one entry per line, in time order.
pub fn render(lines: &[Line]) -> String {
    let mut lines = lines.to_vec();
    lines.sort_by_key(|line| line.at);
    let Some(first) = lines.first().map(|line| line.at) else {
        return "(nothing was said)\n".to_owned();
    };
    let mut out = String::new();
    for line in &lines {
        let seconds = line.at.saturating_duration_since(first).as_secs_f64();
        let who = if line.from_user { "user" } else { "bot " };
        let text = line.text.replace('\n', "\n                ");
        let _ = writeln!(out, "[{seconds:>7.3} s] {who}  {text}");
    }
    out
}

/// What a client shows for Telegram's HTML: tags dropped, entities decoded (`&lt;`, `&gt;`,
/// `&amp;`, `&quot;` and numeric ones, the only ones the Bot API knows), and a `<` that opens
/// no tag kept as it is.
fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let decoded = if rest.starts_with('<') {
            tag_len(rest).map(|len| (None, len))
        } else {
            entity(rest).map(|(shown, len)| (Some(shown), len))
        };
        match decoded {
            Some((shown, len)) => {
                out.extend(shown);
                rest = &rest[len..];
            }
            None => {
                // Neither a tag nor an entity: the character itself.
                out.push_str(&rest[..1]);
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The length of the tag `text` opens (`<b>`, `</a>`, `<a href="…">`); `None` when its `<`
/// opens none (`< 1 min`).
fn tag_len(text: &str) -> Option<usize> {
    let name = text[1..].strip_prefix('/').unwrap_or(&text[1..]);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    text.find('>').map(|end| end + 1)
}

/// The character an entity at the start of `text` stands for, and the entity's length.
fn entity(text: &str) -> Option<(char, usize)> {
    let (end, _) = text.char_indices().take(12).find(|&(_, c)| c == ';')?;
    let shown = match &text[1..end] {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "quot" => '"',
        code => {
            let number = code.strip_prefix('#')?;
            let value = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(value)?
        }
    };
    Some((shown, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn html_reads_as_a_client_shows_it() {
        assert_eq!(
            plain("<b>Caf&amp;é &lt;Noir&gt;</b>\n<a href=\"x\">Source</a>"),
            "Caf&é <Noir>\nSource"
        );
        assert_eq!(plain("&amp;lt; &#39;&#x41;&quot;"), "&lt; 'A\"");
    }

    #[test]
    fn what_is_neither_a_tag_nor_an_entity_stays() {
        assert_eq!(
            plain("time: < 1 min, 3 < 5 > 2"),
            "time: < 1 min, 3 < 5 > 2"
        );
        assert_eq!(plain("<i>a &b; & c</i> <"), "a &b; & c <");
    }

    #[test]
    fn text_sent_without_a_parse_mode_reads_as_sent() {
        let delivery = |html| Delivery {
            at: Instant::now(),
            method: Method::Message,
            text: "🏁 Tour finished. time: < 1 min. <b>x</b> &amp;".into(),
            html,
            buttons: Vec::new(),
            photo: None,
        };
        assert_eq!(
            describe(&delivery(false)),
            "🏁 Tour finished. time: < 1 min. <b>x</b> &amp;"
        );
        assert_eq!(
            describe(&delivery(true)),
            "🏁 Tour finished. time: < 1 min. x &"
        );
    }

    #[test]
    fn lines_are_timed_from_the_first_and_sorted() {
        let t0 = Instant::now();
        let lines = [
            Line {
                at: t0 + Duration::from_millis(1500),
                from_user: false,
                text: "hello".into(),
            },
            Line {
                at: t0,
                from_user: true,
                text: "/start".into(),
            },
        ];
        let text = render(&lines);
        assert_eq!(text, "[  0.000 s] user  /start\n[  1.500 s] bot   hello\n");
    }
}
