//! The simulated Telegram Bot API: `POST /bot{token}/{method}` answers like the real API
//! (a full bot user for `getMe`, a `Message` for the send methods, `true` for the rest), and
//! hands every message the bot sends to the simulated user of that chat, stamped with the
//! moment it arrived; that stamp is what end-to-end latencies are measured against.
//!
//! Method names are matched case-insensitively (teloxide calls `SendMessage`); `sendPhoto`
//! arrives as `multipart/form-data`, everything else as JSON.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicI32, AtomicU64, Ordering},
    },
    time::Instant,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::local_listener;

/// The simulated bot's own user, as `getMe` returns it.
pub const BOT_USERNAME: &str = "excursobot_simulated_bot";

/// What the bot sent to a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `sendMessage`.
    Message,
    /// `sendPhoto`.
    Photo,
    /// `sendVenue`.
    Venue,
    /// `sendChatAction` ("typing…").
    ChatAction,
    /// `editMessageText`.
    EditText,
    /// `answerCallbackQuery`.
    CallbackAnswer,
    /// Anything else addressed to a chat.
    Other,
}

/// One call the bot made for a chat, as the simulated user sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// When the call reached the simulated Telegram.
    pub at: Instant,
    /// Which method.
    pub method: Method,
    /// Text, caption, or venue title and address.
    pub text: String,
    /// Whether `text` is in Telegram's HTML (`parse_mode: HTML`); otherwise it shows as is.
    pub html: bool,
    /// Labels of the buttons under it (inline or reply keyboard).
    pub buttons: Vec<String>,
    /// The photo URL of a `sendPhoto`.
    pub photo: Option<String>,
}

/// Every chat's inbox: the simulated user of a chat registers to receive its deliveries.
#[derive(Default)]
struct Inboxes {
    chats: Mutex<HashMap<i64, mpsc::UnboundedSender<Delivery>>>,
    /// Send calls (messages, photos, venues) for any chat, registered or not.
    sent: AtomicU64,
    /// Every Bot API call.
    calls: AtomicU64,
    next_message_id: AtomicI32,
}

/// A running simulated Bot API.
pub struct SimTelegram {
    port: u16,
    handle: ServerHandle,
    inboxes: Arc<Inboxes>,
}

impl SimTelegram {
    /// Starts the server on 127.0.0.1 with `workers` threads.
    pub fn start(workers: usize) -> anyhow::Result<Self> {
        let (listener, port) = local_listener()?;
        let inboxes = Arc::new(Inboxes::default());
        let state = web::Data::from(Arc::clone(&inboxes));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .route("/bot{token}/{method}", web::post().to(call))
        })
        .workers(workers.max(1))
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Ok(Self {
            port,
            handle,
            inboxes,
        })
    }

    /// The `TELEGRAM_API_URL` pointing here.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on, what the bot sends to `chat_id` arrives on the returned receiver.
    pub fn open_chat(&self, chat_id: i64) -> mpsc::UnboundedReceiver<Delivery> {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.inboxes
            .chats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(chat_id, sender);
        receiver
    }

    /// Messages, photos and venues sent so far, to any chat.
    pub fn sent(&self) -> u64 {
        self.inboxes.sent.load(Ordering::Relaxed)
    }

    /// Bot API calls so far.
    pub fn calls(&self) -> u64 {
        self.inboxes.calls.load(Ordering::Relaxed)
    }

    /// Stops the server.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn call(
    path: web::Path<(String, String)>,
    request: HttpRequest,
    body: web::Bytes,
    inboxes: web::Data<Inboxes>,
) -> HttpResponse {
    let at = Instant::now();
    inboxes.calls.fetch_add(1, Ordering::Relaxed);
    let method = path.1.to_ascii_lowercase();
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let fields = fields(content_type, &body);
    let result = match method.as_str() {
        "getme" => bot_user(),
        "getwebhookinfo" => {
            json!({ "url": "", "has_custom_certificate": false, "pending_update_count": 0 })
        }
        "sendmessage" | "sendphoto" | "sendvenue" | "editmessagetext" => message(&inboxes, &fields),
        _ => json!(true),
    };
    deliver(&inboxes, at, &method, &fields);
    HttpResponse::Ok().json(json!({ "ok": true, "result": result }))
}

fn bot_user() -> Value {
    json!({
        "id": 7_000_001, "is_bot": true, "first_name": "Excursobot (simulated)",
        "username": BOT_USERNAME, "can_join_groups": true,
        "can_read_all_group_messages": false, "supports_inline_queries": false,
        "can_connect_to_business": false, "has_main_web_app": false
    })
}

/// The `Message` a send method returns.
fn message(inboxes: &Inboxes, fields: &Value) -> Value {
    let chat_id = fields["chat_id"].as_i64().unwrap_or_default();
    json!({
        "message_id": inboxes.next_message_id.fetch_add(1, Ordering::Relaxed) + 1,
        "date": unix_now(),
        "chat": { "id": chat_id, "type": "private", "first_name": "Simulated" },
        "from": bot_user(),
        "text": text_of(fields),
    })
}

/// Hands the call to the chat's simulated user, if it concerns a registered chat.
fn deliver(inboxes: &Inboxes, at: Instant, method: &str, fields: &Value) {
    let method = match method {
        "sendmessage" => Method::Message,
        "sendphoto" => Method::Photo,
        "sendvenue" => Method::Venue,
        "sendchataction" => Method::ChatAction,
        "editmessagetext" => Method::EditText,
        "answercallbackquery" => Method::CallbackAnswer,
        _ => Method::Other,
    };
    if matches!(method, Method::Message | Method::Photo | Method::Venue) {
        inboxes.sent.fetch_add(1, Ordering::Relaxed);
    }
    let Some(chat_id) = fields["chat_id"].as_i64() else {
        return;
    };
    let chats = inboxes.chats.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(inbox) = chats.get(&chat_id) else {
        return;
    };
    let delivery = Delivery {
        at,
        method,
        text: text_of(fields),
        html: fields["parse_mode"]
            .as_str()
            .is_some_and(|mode| mode.eq_ignore_ascii_case("html")),
        buttons: buttons(&fields["reply_markup"]),
        photo: fields["photo"].as_str().map(str::to_owned),
    };
    // A user that finished listening has dropped its receiver; nothing to do then.
    let _ = inbox.send(delivery);
}

/// The human-readable part of a call: text, caption, venue title and address, or action.
fn text_of(fields: &Value) -> String {
    if let Some(text) = fields["text"].as_str().or(fields["caption"].as_str()) {
        return text.to_owned();
    }
    match (fields["title"].as_str(), fields["address"].as_str()) {
        (Some(title), Some(address)) => format!("{title} — {address}"),
        _ => fields["action"].as_str().unwrap_or_default().to_owned(),
    }
}

/// Button labels of an inline or reply keyboard.
fn buttons(markup: &Value) -> Vec<String> {
    let rows = markup["inline_keyboard"]
        .as_array()
        .or(markup["keyboard"].as_array());
    rows.into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| button["text"].as_str().map(str::to_owned))
        .collect()
}

/// A Bot API request body as a JSON object: JSON as is, a multipart form (teloxide sends
/// `sendPhoto` so) as its fields, each parsed as JSON when it is JSON (`chat_id`,
/// `reply_markup`). Shared with the tests' mock Telegram.
pub fn fields(content_type: &str, body: &[u8]) -> Value {
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return serde_json::from_slice(body).unwrap_or(Value::Null);
    };
    let boundary = format!("--{}", boundary.trim_matches('"'));
    let body = String::from_utf8_lossy(body);
    let mut fields = serde_json::Map::new();
    for part in body.split(boundary.as_str()) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next());
        let Some(name) = name else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let parsed =
            serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
        fields.insert(name.to_owned(), parsed);
    }
    Value::Object(fields)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_photo_gives_its_chat_caption_and_buttons() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n<b>Hi</b>\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"reply_markup\"\r\n\r\n\
                    {\"inline_keyboard\":[[{\"text\":\"More\",\"callback_data\":\"more:1\"}]]}\r\n\
                    --XyZ--\r\n";
        let fields = fields("multipart/form-data; boundary=XyZ", body.as_bytes());
        assert_eq!(fields["chat_id"], json!(42));
        assert_eq!(text_of(&fields), "<b>Hi</b>");
        assert_eq!(buttons(&fields["reply_markup"]), vec!["More".to_owned()]);
    }

    #[test]
    fn a_venue_reads_as_title_and_address() {
        let fields = json!({ "chat_id": 1, "title": "Fountain", "address": "120 m north of you" });
        assert_eq!(text_of(&fields), "Fountain — 120 m north of you");
    }
}
