//! A mock Telegram Bot API: answers like the real one (bodies from the captured samples in
//! `tests/fixtures/telegram_responses`) and records every call through wiremock.
//!
//! Method names are matched case-insensitively, because teloxide calls `/bot<token>/SendMessage`.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use wiremock::{
    Match, Mock, MockServer, Request, Respond, ResponseTemplate,
    matchers::{method, path_regex},
};

/// Priority of the default answers; a test's own mounts (priority 5 by default) win.
const DEFAULT_PRIORITY: u8 = 10;

/// A recording mock of the Bot API.
pub struct MockTelegram {
    pub server: MockServer,
    /// The calls answered with a scripted failure (each body with its `method`), so that
    /// what was delivered can be told from what was only tried.
    failed: Arc<Mutex<Vec<Value>>>,
}

/// Matches calls addressed to one chat (JSON or multipart bodies).
struct ToChat(i64);

impl Match for ToChat {
    fn matches(&self, request: &Request) -> bool {
        body_as_json(request)["chat_id"] == json!(self.0)
    }
}

/// Answers with a scripted failure and records the call it refused.
struct Failure {
    method: String,
    answer: ResponseTemplate,
    failed: Arc<Mutex<Vec<Value>>>,
}

impl Respond for Failure {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut body = body_as_json(request);
        body["method"] = json!(self.method.to_ascii_lowercase());
        self.failed.lock().unwrap().push(body);
        self.answer.clone()
    }
}

/// A Bot API error answer, as Telegram words them (`parameters` for a 429).
pub fn api_error(status: u16, description: &str) -> ResponseTemplate {
    let mut body = json!({ "ok": false, "error_code": status, "description": description });
    if status == 429 {
        body["parameters"] = json!({ "retry_after": 1 });
    }
    ResponseTemplate::new(status).set_body_json(body)
}

/// Matches calls to one Bot API method, whatever its case.
pub fn api_method(name: &str) -> wiremock::matchers::PathRegexMatcher {
    path_regex(format!("(?i)^/bot[^/]+/{name}$"))
}

/// A successful Bot API answer.
pub fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "ok": true, "result": result }))
}

/// Telegram's 429 `Too Many Requests`: every send pauses for `retry_after` seconds.
pub fn too_many_requests(retry_after: u64) -> ResponseTemplate {
    ResponseTemplate::new(429).set_body_json(json!({
        "ok": false,
        "error_code": 429,
        "description": format!("Too Many Requests: retry after {retry_after}"),
        "parameters": { "retry_after": retry_after }
    }))
}

/// The real `sendMessage` answer from the samples.
pub fn sent_message() -> Value {
    let raw = include_str!("../../fixtures/telegram_responses/sendMessage_200_real.json");
    let response: Value = serde_json::from_str(raw).expect("sample is JSON");
    response["result"].clone()
}

impl MockTelegram {
    /// Starts the mock with sensible answers for every method the bot calls.
    pub async fn start() -> Self {
        let server = MockServer::builder().start().await;
        let me = json!({
            "id": 7000001, "is_bot": true, "first_name": "Excursobot",
            "username": "excursobot_test_bot", "can_join_groups": true,
            "can_read_all_group_messages": false, "supports_inline_queries": false,
            "has_main_web_app": false
        });
        let webhook_info =
            json!({ "url": "", "has_custom_certificate": false, "pending_update_count": 0 });
        let answers = [
            ("getMe", ok(me)),
            ("getWebhookInfo", ok(webhook_info)),
            (
                "getUpdates",
                ok(json!([])).set_delay(Duration::from_millis(200)),
            ),
            ("sendMessage", ok(sent_message())),
            ("editMessageText", ok(sent_message())),
            ("sendPhoto", ok(sent_message())),
            ("sendVenue", ok(sent_message())),
        ];
        for (name, answer) in answers {
            Self::mount_on(&server, name, answer, DEFAULT_PRIORITY).await;
        }
        Mock::given(method("POST"))
            .and(path_regex("^/bot[^/]+/[A-Za-z]+$"))
            .respond_with(ok(json!(true)))
            .with_priority(DEFAULT_PRIORITY + 1)
            .mount(&server)
            .await;
        Self {
            server,
            failed: Arc::default(),
        }
    }

    async fn mount_on(server: &MockServer, name: &str, answer: ResponseTemplate, priority: u8) {
        Mock::given(method("POST"))
            .and(api_method(name))
            .respond_with(answer)
            .with_priority(priority)
            .mount(server)
            .await;
    }

    /// Base URL to put in `TELEGRAM_API_URL`.
    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// Answers the next `times` calls to `name` with `answer` (before the defaults).
    pub async fn answer_next(&self, name: &str, answer: ResponseTemplate, times: u64) {
        Mock::given(method("POST"))
            .and(api_method(name))
            .respond_with(answer)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// Answers every call to `name` with `answer` (before the defaults).
    pub async fn answer_always(&self, name: &str, answer: ResponseTemplate) {
        Self::mount_on(&self.server, name, answer, 2).await;
    }

    /// Answers the next `times` calls to `name` addressed to `chat_id` with the failure
    /// `answer` (before every other answer), recording each refused call.
    pub async fn fail_next_to(
        &self,
        name: &str,
        chat_id: i64,
        answer: ResponseTemplate,
        times: u64,
    ) {
        let failure = Failure {
            method: name.to_owned(),
            answer,
            failed: Arc::clone(&self.failed),
        };
        self.answer_next_to(name, chat_id, failure, times).await;
    }

    /// Answers the next `times` calls to `name` addressed to `chat_id` with `answer` (before
    /// every other answer).
    pub async fn answer_next_to(
        &self,
        name: &str,
        chat_id: i64,
        answer: impl Respond + 'static,
        times: u64,
    ) {
        Mock::given(method("POST"))
            .and(api_method(name))
            .and(ToChat(chat_id))
            .respond_with(answer)
            .up_to_n_times(times)
            .with_priority(1)
            .mount(&self.server)
            .await;
    }

    /// The photos and messages that reached `chat_id` (answered without a scripted
    /// failure), in the order they were sent; each body has its `method`.
    pub async fn delivered_to(&self, chat_id: i64) -> Vec<Value> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        let mut failed = self.failed.lock().unwrap().clone();
        let mut delivered = Vec::new();
        for request in &requests {
            let path = request.url.path().to_ascii_lowercase();
            let Some(name) = ["sendphoto", "sendmessage"]
                .into_iter()
                .find(|name| path.ends_with(&format!("/{name}")))
            else {
                continue;
            };
            let mut body = body_as_json(request);
            body["method"] = json!(name);
            if body["chat_id"] != json!(chat_id) {
                continue;
            }
            match failed.iter().position(|refused| *refused == body) {
                Some(refused) => {
                    failed.remove(refused);
                }
                None => delivered.push(body),
            }
        }
        delivered
    }

    /// Bodies of the calls made to `name` so far, as JSON (multipart forms become objects).
    pub async fn calls(&self, name: &str) -> Vec<Value> {
        let wanted = format!("/{}", name.to_ascii_lowercase());
        let requests = self.server.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter(|request| request.url.path().to_ascii_lowercase().ends_with(&wanted))
            .map(body_as_json)
            .collect()
    }

    /// Waits (up to 10 s) until at least `count` calls to `name` were made; returns them all.
    pub async fn wait_for(&self, name: &str, count: usize) -> Vec<Value> {
        eventually(count, || self.calls(name)).await
    }

    /// Bodies of the calls to `name` addressed to `chat_id` so far.
    pub async fn calls_to(&self, name: &str, chat_id: i64) -> Vec<Value> {
        let mut calls = self.calls(name).await;
        calls.retain(|body| body["chat_id"] == json!(chat_id));
        calls
    }

    /// Waits (up to 10 s) for `count` calls to `name` addressed to `chat_id`.
    pub async fn wait_for_calls_to(&self, name: &str, chat_id: i64, count: usize) -> Vec<Value> {
        eventually(count, || self.calls_to(name, chat_id)).await
    }

    /// Every call addressed to `chat_id` so far, in the order received: (method, body), the
    /// method in lower case.
    pub async fn calls_in_order_to(&self, chat_id: i64) -> Vec<(String, Value)> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter_map(|request| {
                let path = request.url.path().to_ascii_lowercase();
                let method = path.rsplit('/').next()?.to_owned();
                let body = body_as_json(request);
                (body["chat_id"] == json!(chat_id)).then_some((method, body))
            })
            .collect()
    }

    /// The stories sent to `chat_id` so far, in order: photos and texts carrying a story's
    /// buttons. Each gets a `title` field: its bold title, as the user reads it.
    pub async fn stories_to(&self, chat_id: i64) -> Vec<Value> {
        let requests = self.server.received_requests().await.unwrap_or_default();
        requests
            .iter()
            .filter(|request| {
                let path = request.url.path().to_ascii_lowercase();
                path.ends_with("/sendphoto") || path.ends_with("/sendmessage")
            })
            .map(body_as_json)
            .filter(|body| body["chat_id"] == json!(chat_id) && is_story(body))
            .map(|mut body| {
                let html = body["caption"]
                    .as_str()
                    .or(body["text"].as_str())
                    .unwrap_or_default();
                body["title"] = json!(title_of(html));
                body
            })
            .collect()
    }

    /// Waits (up to 10 s) for `count` stories to `chat_id`; returns them all.
    pub async fn wait_for_stories(&self, chat_id: i64, count: usize) -> Vec<Value> {
        eventually(count, || self.stories_to(chat_id)).await
    }

    /// `sendMessage` bodies addressed to `chat_id` so far.
    pub async fn messages_to(&self, chat_id: i64) -> Vec<Value> {
        self.calls("sendMessage")
            .await
            .into_iter()
            .filter(|body| body["chat_id"] == json!(chat_id))
            .collect()
    }

    /// Waits (up to 10 s) for a message to `chat_id` whose text starts with `prefix`.
    pub async fn wait_for_text_to(&self, chat_id: i64, prefix: &str) -> Option<Value> {
        let starts = |message: &Value| {
            message["text"]
                .as_str()
                .is_some_and(|text| text.starts_with(prefix))
        };
        let messages = eventually(1, || async {
            let mut messages = self.messages_to(chat_id).await;
            messages.retain(starts);
            messages
        })
        .await;
        messages.into_iter().next()
    }

    /// Waits (up to 10 s) for `count` messages to `chat_id`.
    pub async fn wait_for_messages_to(&self, chat_id: i64, count: usize) -> Vec<Value> {
        eventually(count, || self.messages_to(chat_id)).await
    }
}

/// Polls `read` until it returns at least `count` items or 10 s pass; returns the last read.
async fn eventually<F, Fut>(count: usize, read: F) -> Vec<Value>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let items = read().await;
        if items.len() >= count || Instant::now() > deadline {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A request body as JSON (a multipart form becomes an object of its fields).
fn body_as_json(request: &wiremock::Request) -> Value {
    let content_type = request
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    excursobot::simulate::telegram::fields(content_type, &request.body)
}

/// Whether a sent message carries a story's buttons ("Tell me more" and the others).
pub fn is_story(body: &Value) -> bool {
    body["reply_markup"]["inline_keyboard"]
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

/// The text of the first `<b>…</b>` of an HTML message, unescaped.
pub fn title_of(html: &str) -> String {
    let bold = html
        .split_once("<b>")
        .and_then(|(_, rest)| rest.split_once("</b>"))
        .map_or("", |(title, _)| title);
    bold.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The callback data of the story button whose data starts with `kind` (`more`, `next`,
/// `map`) under `story`.
pub fn story_button(story: &Value, kind: &str) -> String {
    let prefix = format!("{kind}:");
    story["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| button["callback_data"].as_str())
        .find(|data| data.starts_with(&prefix))
        .unwrap_or_default()
        .to_owned()
}
