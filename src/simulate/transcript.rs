//! One user's chat as readable text: what the user sent and what the bot answered, with the
//! time since the user's first message. HTML tags are dropped and entities decoded, as a
//! Telegram client would show them.

use std::fmt::Write;

use super::{
    telegram::{Delivery, Method},
    walk::Line,
};

/// How a delivery reads in a transcript.
pub fn describe(delivery: &Delivery) -> String {
    let text = plain(&delivery.text);
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

/// Text without HTML tags, with the entities Telegram's HTML mode uses decoded.
fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
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
