//! How a story reaches the chat: one message where Telegram allows it. A photo with an HTML
//! caption (title, distance and direction, the story, the source link) and the buttons; photo
//! then text only when the caption would pass Telegram's 1024 characters; text alone when
//! there is no usable image or Telegram refuses the photo for any reason but a block or the
//! send budget. The map pin costs nothing until asked for: "📍 On the map" sends it.

use teloxide::{
    payloads::{EditMessageTextSetters, SendMessageSetters, SendPhotoSetters},
    prelude::Requester,
    types::{
        ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, MessageId, ParseMode,
        ReplyParameters,
    },
    utils::html,
};
use url::Url;

use super::buttons::ButtonToken;
use crate::{
    geo::{Coordinates, compass_direction},
    i18n::Lang,
    places::Place,
    telegram::{Outbox, SendClass, TelegramError},
};

/// Telegram's limit on a photo caption, in characters after entity parsing.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Callback data prefix of "Tell me more".
pub const MORE_BUTTON: &str = "more";
/// Callback data prefix of "Another place".
pub const NEXT_BUTTON: &str = "next";
/// Callback data prefix of "On the map" (sends the venue pin).
pub const MAP_BUTTON: &str = "map";

/// A story ready to send.
pub struct StoryReply<'a> {
    /// The place, with its title, link, image and coordinates.
    pub place: &'a Place,
    /// The story text (plain; escaped here).
    pub text: &'a str,
    /// The text is the place's own summary, not a written story.
    pub is_summary: bool,
    /// The story replaces the summary sent while it was being written.
    pub upgrade: bool,
    /// Where the user stands, for "350 m north of you".
    pub from: Coordinates,
    /// The user's language.
    pub lang: Lang,
    /// Whether to send the photo.
    pub photos: bool,
    /// Server-side key the buttons refer to.
    pub token: ButtonToken,
}

impl StoryReply<'_> {
    /// The HTML body and its visible length (what Telegram counts against the caption limit).
    pub fn body(&self) -> (String, usize) {
        let texts = self.lang.texts();
        let marker = if self.is_summary {
            format!("{}\n", texts.from_wikipedia)
        } else if self.upgrade {
            format!("{}\n", texts.guide_story)
        } else {
            String::new()
        };
        let whereabouts = whereabouts(self.lang, self.from, self.place.coordinates);
        let html_body = format!(
            "{header}{marker}{text}\n\n<a href=\"{url}\">{label}</a>",
            header = header(self.place, self.lang, self.from),
            marker = html::escape(&marker),
            text = html::escape(self.text),
            url = html::escape(&self.place.source_url),
            label = texts.source_label,
        );
        let visible = format!(
            "{}\n📍 {whereabouts}\n\n{marker}{}\n\n{}",
            self.place.title, self.text, texts.source_label
        );
        (html_body, visible.encode_utf16().count())
    }

    fn buttons(&self) -> InlineKeyboardMarkup {
        let texts = self.lang.texts();
        let button = |label: &str, kind: &str| {
            InlineKeyboardButton::callback(label, format!("{kind}:{}", self.token))
        };
        InlineKeyboardMarkup::new([
            vec![
                button(texts.tell_more_button, MORE_BUTTON),
                button(texts.another_place_button, NEXT_BUTTON),
            ],
            vec![button(texts.on_the_map_button, MAP_BUTTON)],
        ])
    }
}

/// The HTML a story starts with, and its draft while it is written: the title in bold and
/// where the place is, seen from `from`.
pub fn header(place: &Place, lang: Lang, from: Coordinates) -> String {
    let whereabouts = whereabouts(lang, from, place.coordinates);
    format!(
        "<b>{}</b>\n📍 {}\n\n",
        html::escape(&place.title),
        html::escape(&whereabouts)
    )
}

/// "350 m north of you" in `lang`: where `place` is, seen from `from`.
pub fn whereabouts(lang: Lang, from: Coordinates, place: Coordinates) -> String {
    let texts = lang.texts();
    let metres = from.distance_m(&place);
    let distance = if metres < 1000.0 {
        format!("{} {}", (metres / 10.0).round() * 10.0, texts.units.0)
    } else {
        format!("{:.1} {}", metres / 1000.0, texts.units.1)
    };
    let direction = texts.compass[compass_direction(from.bearing_deg(&place)).index()];
    texts
        .distance_template
        .replace("{distance}", &distance)
        .replace("{direction}", direction)
}

/// The message that carries a story's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentStory {
    /// Its id in the chat.
    pub message_id: MessageId,
    /// The text is a photo's caption (it cannot become a longer text by an edit).
    pub caption: bool,
}

/// Sends the story as `class`: one message (photo with caption and buttons) where it fits.
pub async fn send_story(
    outbox: &Outbox,
    chat: ChatId,
    class: SendClass,
    story: &StoryReply<'_>,
) -> Result<SentStory, TelegramError> {
    let (body, visible) = story.body();
    let image = story
        .place
        .image_url
        .as_deref()
        .filter(|_| story.photos)
        .and_then(|url| Url::parse(url).ok());
    if let Some(image) = image {
        let fits = visible <= MAX_CAPTION_CHARS;
        let (caption, buttons) = if fits {
            (body.clone(), Some(story.buttons()))
        } else {
            (format!("<b>{}</b>", html::escape(&story.place.title)), None)
        };
        match send_photo(outbox, chat, class, image, caption, buttons).await {
            Ok(message_id) if fits => {
                let caption = true;
                return Ok(SentStory {
                    message_id,
                    caption,
                });
            }
            Ok(_) => {}
            // Not sent for the budget or a block, or perhaps sent (its answer was lost): the
            // text would not go either, or might make two.
            Err(error)
                if error.is_budget()
                    || matches!(
                        error,
                        TelegramError::Blocked | TelegramError::Unconfirmed(_)
                    ) =>
            {
                return Err(error);
            }
            Err(error) => tracing::info!(%error, "the photo was not sent; sending text instead"),
        }
    }
    let message = outbox
        .bot()
        .send_message(chat, body)
        .parse_mode(ParseMode::Html)
        .reply_markup(story.buttons());
    let sent = outbox.send(chat, class, message).await?;
    Ok(SentStory {
        message_id: sent.id,
        caption: false,
    })
}

/// Turns the summary sent as `sent` into the story now written (`story`, marked as the
/// guide's): the text message is edited, buttons kept; a photo's caption is answered with the
/// story as a reply (a caption cannot hold it).
pub async fn upgrade_story(
    outbox: &Outbox,
    chat: ChatId,
    sent: SentStory,
    story: &StoryReply<'_>,
) -> Result<(), TelegramError> {
    let (body, _) = story.body();
    if sent.caption {
        let reply = outbox
            .bot()
            .send_message(chat, body)
            .parse_mode(ParseMode::Html)
            .reply_parameters(ReplyParameters::new(sent.message_id));
        return outbox.send(chat, SendClass::Story, reply).await.map(|_| ());
    }
    let edit = outbox
        .bot()
        .edit_message_text(chat, sent.message_id, body)
        .parse_mode(ParseMode::Html)
        .reply_markup(story.buttons());
    outbox.send(chat, SendClass::Story, edit).await.map(|_| ())
}

async fn send_photo(
    outbox: &Outbox,
    chat: ChatId,
    class: SendClass,
    image: Url,
    caption: String,
    buttons: Option<InlineKeyboardMarkup>,
) -> Result<MessageId, TelegramError> {
    let mut photo = outbox
        .bot()
        .send_photo(chat, InputFile::url(image))
        .caption(caption)
        .parse_mode(ParseMode::Html);
    if let Some(buttons) = buttons {
        photo = photo.reply_markup(buttons);
    }
    outbox.send(chat, class, photo).await.map(|sent| sent.id)
}

/// Sends the venue pin of `place` ("📍 On the map"), with its distance and direction from
/// `from`, as the answer to the button.
pub async fn send_pin(
    outbox: &Outbox,
    chat: ChatId,
    place: &Place,
    from: Coordinates,
    lang: Lang,
) -> Result<(), TelegramError> {
    let pin = outbox.bot().send_venue(
        chat,
        place.coordinates.lat,
        place.coordinates.lon,
        place.title.clone(),
        whereabouts(lang, from, place.coordinates),
    );
    outbox.send(chat, SendClass::Reply, pin).await.map(|_| ())
}
