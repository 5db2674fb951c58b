//! How a story reaches the chat: a photo with an HTML caption (or photo then text when the
//! caption would pass Telegram's 1024 characters, or text alone when there is no usable
//! image), a source link, inline buttons, and a venue pin at the place's own coordinates.

use teloxide::{
    payloads::{SendMessageSetters, SendPhotoSetters},
    prelude::Requester,
    types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ParseMode},
    utils::html,
};
use url::Url;

use super::buttons::ButtonToken;
use crate::{
    geo::{Coordinates, compass_direction},
    i18n::Lang,
    places::Place,
    telegram::{Outbox, TelegramError},
};

/// Telegram's limit on a photo caption, in characters after entity parsing.
pub const MAX_CAPTION_CHARS: usize = 1024;
/// Callback data prefix of "Tell me more".
pub const MORE_BUTTON: &str = "more";
/// Callback data prefix of "Another place".
pub const NEXT_BUTTON: &str = "next";

/// A story ready to send.
pub struct StoryReply<'a> {
    /// The place, with its title, link, image and coordinates.
    pub place: &'a Place,
    /// The story text (plain; escaped here).
    pub text: &'a str,
    /// The text is the place's own summary, not a written story.
    pub is_summary: bool,
    /// Where the user stands, for the pin's "350 m north of you".
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
        } else {
            String::new()
        };
        let html_body = format!(
            "<b>{title}</b>\n\n{marker}{text}\n\n<a href=\"{url}\">{label}</a>",
            title = html::escape(&self.place.title),
            marker = html::escape(&marker),
            text = html::escape(self.text),
            url = html::escape(&self.place.source_url),
            label = texts.source_label,
        );
        let visible = format!(
            "{}\n\n{marker}{}\n\n{}",
            self.place.title, self.text, texts.source_label
        );
        (html_body, visible.encode_utf16().count())
    }

    fn buttons(&self) -> InlineKeyboardMarkup {
        let texts = self.lang.texts();
        InlineKeyboardMarkup::new([[
            InlineKeyboardButton::callback(
                texts.tell_more_button,
                format!("{MORE_BUTTON}:{}", self.token),
            ),
            InlineKeyboardButton::callback(
                texts.another_place_button,
                format!("{NEXT_BUTTON}:{}", self.token),
            ),
        ]])
    }

    /// "350 m north of you" in the user's language.
    pub fn whereabouts(&self) -> String {
        let texts = self.lang.texts();
        let metres = self.from.distance_m(&self.place.coordinates);
        let distance = if metres < 1000.0 {
            format!("{} {}", (metres / 10.0).round() * 10.0, texts.units.0)
        } else {
            format!("{:.1} {}", metres / 1000.0, texts.units.1)
        };
        let direction = texts.compass
            [compass_direction(self.from.bearing_deg(&self.place.coordinates)).index()];
        texts
            .distance_template
            .replace("{distance}", &distance)
            .replace("{direction}", direction)
    }
}

/// Sends the story: photo and caption (or text), then the venue pin.
pub async fn send_story(
    outbox: &Outbox,
    chat: ChatId,
    story: &StoryReply<'_>,
) -> Result<(), TelegramError> {
    let (body, visible) = story.body();
    let image = story
        .place
        .image_url
        .as_deref()
        .filter(|_| story.photos)
        .and_then(|url| Url::parse(url).ok());
    let text_sent_with_photo = match image {
        Some(image) if visible <= MAX_CAPTION_CHARS => {
            send_photo(outbox, chat, image, &body, Some(story.buttons())).await?
        }
        Some(image) => {
            let title = format!("<b>{}</b>", html::escape(&story.place.title));
            send_photo(outbox, chat, image, &title, None).await?;
            false
        }
        None => false,
    };
    if !text_sent_with_photo {
        let message = outbox
            .bot()
            .send_message(chat, body)
            .parse_mode(ParseMode::Html)
            .reply_markup(story.buttons());
        outbox.send(chat, message).await?;
    }
    let pin = outbox.bot().send_venue(
        chat,
        story.place.coordinates.lat,
        story.place.coordinates.lon,
        story.place.title.clone(),
        story.whereabouts(),
    );
    outbox.send(chat, pin).await.map(|_| ())
}

/// Sends a photo; `Ok(false)` when Telegram rejected the image (the caller sends text instead).
async fn send_photo(
    outbox: &Outbox,
    chat: ChatId,
    image: Url,
    caption: &str,
    buttons: Option<InlineKeyboardMarkup>,
) -> Result<bool, TelegramError> {
    let mut photo = outbox
        .bot()
        .send_photo(chat, InputFile::url(image))
        .caption(caption)
        .parse_mode(ParseMode::Html);
    if let Some(buttons) = buttons {
        photo = photo.reply_markup(buttons);
    }
    match outbox.send(chat, photo).await {
        Ok(_) => Ok(true),
        Err(TelegramError::Api(error)) => {
            tracing::info!(%error, "Telegram rejected the image; sending text instead");
            Ok(false)
        }
        Err(error) => Err(error),
    }
}
