//! The simulated Telegram Bot API: `POST /bot{token}/{method}` answers like the real API
//! (a full bot user for `getMe`, a `Message` for the send methods, `true` for the rest), and
//! hands every message the bot sends to the simulated user of that chat, stamped with the
//! moment it arrived; that stamp is what end-to-end latencies are measured against.
//!
//! Method names are matched case-insensitively (teloxide calls `SendMessage`); `sendPhoto`
//! arrives as `multipart/form-data`, everything else as JSON.
//!
//! Like the real one, it enforces Telegram's send limits (unless lifted): no more than
//! [`GLOBAL_PER_SECOND`] counted messages in any one second for the bot, and no more than
//! [`PER_CHAT_PER_SECOND`] in any one second to one chat (a short burst), answering
//! `429 Too Many Requests` with a `retry_after` past them; the refused call reaches no one.
//! Counted are the methods that put a message in a chat, and edits; callback answers and
//! chat actions are not.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicI32, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{local_listener, updates::unix_now};

/// The simulated bot's own user, as `getMe` returns it.
pub const BOT_USERNAME: &str = "excursobot_simulated_bot";
/// Counted messages the bot may send in any one second, to all chats.
pub const GLOBAL_PER_SECOND: usize = 30;
/// Counted messages one chat may get in any one second (Telegram's "about one a second",
/// with the short burst it tolerates).
pub const PER_CHAT_PER_SECOND: usize = 4;
/// The window both limits are counted over.
const LIMIT_WINDOW: Duration = Duration::from_secs(1);

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
    /// `sendMessageDraft`: a story being written.
    Draft,
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
    /// The send limits, when enforced.
    limits: Option<Mutex<SendWindows>>,
    /// What was called, what was refused, what stories cost.
    ledger: Mutex<CallLedger>,
}

/// When the counted messages of the last second were accepted, bot-wide and per chat.
#[derive(Default)]
struct SendWindows {
    global: VecDeque<Instant>,
    per_chat: HashMap<i64, VecDeque<Instant>>,
}

impl SendWindows {
    /// Accepts a counted message to `chat` at `now`, or says how long until it could go.
    fn admit(&mut self, chat: i64, now: Instant) -> Result<(), Duration> {
        let since = now.checked_sub(LIMIT_WINDOW).unwrap_or(now);
        let forget = |window: &mut VecDeque<Instant>| {
            while window.front().is_some_and(|at| *at <= since) {
                window.pop_front();
            }
        };
        forget(&mut self.global);
        let chat_window = self.per_chat.entry(chat).or_default();
        forget(chat_window);
        let full = |window: &VecDeque<Instant>, limit: usize| {
            (window.len() >= limit).then(|| window[window.len() - limit] + LIMIT_WINDOW - now)
        };
        if let Some(wait) =
            full(&self.global, GLOBAL_PER_SECOND).or(full(chat_window, PER_CHAT_PER_SECOND))
        {
            return Err(wait);
        }
        self.global.push_back(now);
        chat_window.push_back(now);
        if self.per_chat.len() > 10_000 {
            self.per_chat
                .retain(|_, window| window.back().is_some_and(|at| *at > since));
        }
        Ok(())
    }
}

/// Calls by method, 429s, and what stories cost in calls.
#[derive(Debug, Clone, Default)]
pub struct CallLedger {
    /// Calls by (lower-case) method name.
    pub by_method: HashMap<String, u64>,
    /// Counted messages accepted.
    pub counted: u64,
    /// Calls answered 429.
    pub rate_limited: u64,
    /// Messages carrying a story's buttons (a story told; photo-then-text counts once).
    pub stories: u64,
    /// Calls spent on stories: their photos and texts, venue pins, "typing…".
    pub story_calls: u64,
}

/// A running simulated Bot API.
pub struct SimTelegram {
    port: u16,
    handle: ServerHandle,
    inboxes: Arc<Inboxes>,
}

impl SimTelegram {
    /// Starts the server on 127.0.0.1 with `workers` threads, enforcing Telegram's send
    /// limits unless `lifted`.
    pub fn start(workers: usize, lifted: bool) -> anyhow::Result<Self> {
        let (listener, port) = local_listener()?;
        let inboxes = Arc::new(Inboxes {
            limits: (!lifted).then(Mutex::default),
            ..Inboxes::default()
        });
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

    /// Calls by method, 429s and story costs so far.
    pub fn ledger(&self) -> CallLedger {
        self.inboxes
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether Telegram's send limits are enforced.
    pub fn enforces_limits(&self) -> bool {
        self.inboxes.limits.is_some()
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
    if let Err(wait) = admit(&inboxes, &method, &fields, at) {
        return too_many_requests(wait);
    }
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

/// Checks a call against the send limits and books it in the ledger; `Err` with the wait
/// when it must be refused.
fn admit(inboxes: &Inboxes, method: &str, fields: &Value, at: Instant) -> Result<(), Duration> {
    let counted = is_counted(method);
    if counted && let Some(limits) = &inboxes.limits {
        let chat = fields["chat_id"].as_i64().unwrap_or_default();
        let admitted = limits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(chat, at);
        if let Err(wait) = admitted {
            let mut ledger = inboxes
                .ledger
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            ledger.rate_limited += 1;
            return Err(wait);
        }
    }
    let mut ledger = inboxes
        .ledger
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    *ledger.by_method.entry(method.to_owned()).or_default() += 1;
    ledger.counted += u64::from(counted);
    let story = has_story_buttons(&fields["reply_markup"]);
    ledger.stories += u64::from(story && matches!(method, "sendphoto" | "sendmessage"));
    let story_call = match method {
        "sendchataction" | "sendvenue" => true,
        "sendphoto" => true,
        "sendmessage" => story,
        _ => false,
    };
    ledger.story_calls += u64::from(story_call);
    Ok(())
}

/// Whether Telegram counts `method` against the send limits: what puts a message in a chat
/// (the Bot API marks these with `allow_paid_broadcast`), and edits.
fn is_counted(method: &str) -> bool {
    matches!(
        method,
        "sendmessage"
            | "sendphoto"
            | "sendvenue"
            | "sendlocation"
            | "sendinvoice"
            | "sendmediagroup"
            | "senddocument"
            | "copymessage"
    ) || method.starts_with("editmessage")
}

/// Whether a keyboard holds a story's buttons ("Tell me more").
fn has_story_buttons(markup: &Value) -> bool {
    markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .any(|button| {
            button["callback_data"]
                .as_str()
                .is_some_and(|data| data.starts_with("more:"))
        })
}

/// Telegram's answer past the limits: whole seconds to wait, at least one.
fn too_many_requests(wait: Duration) -> HttpResponse {
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let retry_after = retry_after.max(1);
    HttpResponse::TooManyRequests().json(json!({
        "ok": false,
        "error_code": 429,
        "description": format!("Too Many Requests: retry after {retry_after}"),
        "parameters": { "retry_after": retry_after }
    }))
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
        "sendmessagedraft" => Method::Draft,
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
    fn past_thirty_a_second_or_four_to_one_chat_the_answer_is_429() {
        let mut windows = SendWindows::default();
        let start = Instant::now();
        for i in 0..4 {
            assert!(windows.admit(1, start).is_ok(), "message {i} to chat 1");
        }
        let wait = windows.admit(1, start).unwrap_err();
        assert!(wait <= LIMIT_WINDOW && wait > Duration::ZERO);
        assert!(
            windows.admit(1, start + LIMIT_WINDOW).is_ok(),
            "a second later"
        );
        let mut windows = SendWindows::default();
        for chat in 0..30 {
            assert!(windows.admit(chat, start).is_ok());
        }
        assert!(windows.admit(99, start).is_err(), "the 31st in a second");
        assert!(windows.admit(99, start + LIMIT_WINDOW).is_ok());
    }

    #[test]
    fn a_venue_reads_as_title_and_address() {
        let fields = json!({ "chat_id": 1, "title": "Fountain", "address": "120 m north of you" });
        assert_eq!(text_of(&fields), "Fountain — 120 m north of you");
    }
}
