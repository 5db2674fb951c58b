//! Webhook bodies exactly as Telegram sends them (compare `tests/fixtures/telegram_updates`):
//! a command, a one-off location, the start of a live location, its edits while the user
//! walks, the edit that stops sharing, and an update the bot ignores (an edited text).

use serde_json::{Value, json};

use crate::geo::Coordinates;

/// `live_period` of a shared live location: 15 minutes, a choice Telegram offers.
pub const LIVE_PERIOD_SECS: u32 = 900;

/// Who writes: a private chat whose id is the user's id.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// Telegram user id (and private chat id).
    pub user_id: i64,
    /// Telegram `language_code` of the user.
    pub language: &'a str,
}

impl Sender<'_> {
    fn from(&self) -> Value {
        json!({
            "id": self.user_id, "is_bot": false, "first_name": "Walker",
            "username": format!("walker_{}", self.user_id), "language_code": self.language
        })
    }

    fn chat(&self) -> Value {
        json!({
            "id": self.user_id, "first_name": "Walker",
            "username": format!("walker_{}", self.user_id), "type": "private"
        })
    }

    fn message(&self, message_id: u32, date: u64, content: Value) -> Value {
        let mut message = json!({
            "message_id": message_id, "from": self.from(), "chat": self.chat(), "date": date
        });
        if let (Some(message), Value::Object(content)) = (message.as_object_mut(), content) {
            message.extend(content);
        }
        message
    }
}

/// Now, in Unix seconds (the `date` of a message, the `edit_date` of an edit).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// A command such as `/start`, with its `bot_command` entity.
pub fn command(update_id: u32, sender: Sender, message_id: u32, date: u64, text: &str) -> Value {
    let length = text.split_whitespace().next().map_or(0, str::len);
    let content = json!({
        "text": text,
        "entities": [{ "offset": 0, "length": length, "type": "bot_command" }]
    });
    json!({ "update_id": update_id, "message": sender.message(message_id, date, content) })
}

/// A location message: one-off, or the start of a live location when `live` is set.
pub fn location(
    update_id: u32,
    sender: Sender,
    message_id: u32,
    date: u64,
    at: Coordinates,
    live: bool,
) -> Value {
    let mut location = json!({ "latitude": at.lat, "longitude": at.lon });
    if live {
        location["live_period"] = json!(LIVE_PERIOD_SECS);
    }
    let content = json!({ "location": location });
    json!({ "update_id": update_id, "message": sender.message(message_id, date, content) })
}

/// Where a walking user is now, as an edit of the live location message `message_id`.
pub struct LiveEdit {
    /// The original message's date.
    pub date: u64,
    /// When this position was taken.
    pub edit_date: u64,
    /// The new position.
    pub at: Coordinates,
    /// Direction of travel in degrees, 1-360.
    pub heading: u32,
}

/// An `edited_message` moving a live location (sharing goes on).
pub fn live_edit(update_id: u32, sender: Sender, message_id: u32, edit: &LiveEdit) -> Value {
    let location = json!({
        "latitude": edit.at.lat, "longitude": edit.at.lon, "live_period": LIVE_PERIOD_SECS,
        "heading": edit.heading, "horizontal_accuracy": 5.0
    });
    let content = json!({ "location": location, "edit_date": edit.edit_date });
    let message = sender.message(message_id, edit.date, content);
    json!({ "update_id": update_id, "edited_message": message })
}

/// The `edited_message` Telegram sends when the user stops sharing: no `live_period`.
pub fn live_stop(update_id: u32, sender: Sender, message_id: u32, edit: &LiveEdit) -> Value {
    let location = json!({ "latitude": edit.at.lat, "longitude": edit.at.lon });
    let content = json!({ "location": location, "edit_date": edit.edit_date });
    let message = sender.message(message_id, edit.date, content);
    json!({ "update_id": update_id, "edited_message": message })
}

/// An edited text message: a valid update the bot acknowledges and ignores.
pub fn ignored(update_id: u32, sender: Sender, message_id: u32, date: u64) -> Value {
    let content = json!({ "text": "Edited text", "edit_date": date });
    let message = sender.message(message_id, date, content);
    json!({ "update_id": update_id, "edited_message": message })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use teloxide::types::{Update, UpdateKind};

    const SENDER: Sender = Sender {
        user_id: 42,
        language: "en",
    };

    /// From text, as the webhook parses it (teloxide's `Update` does not read from a `Value`).
    fn parse(value: &Value) -> Update {
        serde_json::from_str(&value.to_string()).unwrap()
    }

    #[test]
    fn every_body_parses_as_the_update_telegram_would_send() {
        let at = Coordinates::new(55.75, 37.6).unwrap();
        let start = parse(&command(1, SENDER, 1, 1_700_000_000, "/start"));
        assert!(matches!(&start.kind, UpdateKind::Message(m) if m.text() == Some("/start")));
        let live = parse(&location(2, SENDER, 2, 1_700_000_000, at, true));
        let UpdateKind::Message(message) = live.kind else {
            panic!("not a message")
        };
        assert!(message.location().unwrap().live_period.is_some());
        let edit = LiveEdit {
            date: 1_700_000_000,
            edit_date: 1_700_000_005,
            at,
            heading: 90,
        };
        for body in [
            live_edit(3, SENDER, 2, &edit),
            live_stop(4, SENDER, 2, &edit),
            ignored(5, SENDER, 3, 1_700_000_000),
        ] {
            assert!(matches!(parse(&body).kind, UpdateKind::EditedMessage(_)));
        }
    }
}
