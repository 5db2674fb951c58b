//! A wiremock stand-in for OpenAI's `POST /chat/completions`, answering with the real samples
//! in `tests/fixtures/openai/` (as a server-sent event stream of `chat.completion.chunk`s,
//! built from the recorded answer, when the request asks for `stream: true`). Knobs: latency, a script of replies consumed first, then a
//! fallback reply (by default a story of the asked length about the place in the prompt). It
//! records every request (user text and timing) so tests can check order and count concurrent
//! requests.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use excursobot::actors::openai_gate::OpenAiConfig;
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The key the gate must send as `Authorization: Bearer ...`.
pub const API_KEY: &str = "test-key";
/// How long a "hanging" LLM takes to answer: longer than any test.
const HANG: Duration = Duration::from_secs(3600);

const STOP: &str = include_str!("../../fixtures/openai/chat_completion_200_stop_recorded.json");
const REFUSAL: &str =
    include_str!("../../fixtures/openai/chat_completion_200_refusal_recorded.json");
const LENGTH: &str =
    include_str!("../../fixtures/openai/chat_completion_200_length_truncated_recorded.json");
const FILTERED: &str =
    include_str!("../../fixtures/openai/chat_completion_200_finish_content_filter_azure.json");
const FILTER_400: &str = include_str!("../../fixtures/openai/error_400_content_filter_azure.json");
const QUOTA_429: &str = include_str!("../../fixtures/openai/error_429_insufficient_quota.json");
const RATE_429: &str =
    include_str!("../../fixtures/openai/error_429_rate_limit_exceeded_tokens.json");
const SERVER_500: &str = include_str!("../../fixtures/openai/error_500_server_error.json");

/// What follows a mock story's opening: enough words for the length the bot asks (60-90),
/// and nothing a real guide would not say.
const STORY_TAIL: &str = "In the hard winter of 1709 the whole parish sheltered behind its \
    walls for eleven days, burning pews to stay warm, and the scorch marks can still be seen \
    on the oak beams. A carpenter's son who survived that winter later paid to have the beams \
    kept as they were.";

/// A story of a sensible length that opens with `opening`.
pub fn story(opening: &str) -> String {
    format!("{opening} {STORY_TAIL}")
}

/// The default answer for a prompt about `title`.
pub fn story_about(title: &str) -> String {
    story(&format!("A story about {title}."))
}

/// One answer of the mock.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// 200, `finish_reason: stop`, [`story_about`] the prompt's place (its `Place:` line, or
    /// the whole user message when it has none), twice as long for a deeper story.
    AboutThePlace,
    /// 200, `finish_reason: stop`, with this text as the content.
    Story(String),
    /// 200 with `message.refusal` set and null content.
    Refusal,
    /// 200, `finish_reason: length`.
    Length,
    /// 200, `finish_reason: content_filter`, null content (Azure).
    ContentFilter,
    /// 400 with error code `content_filter` (Azure).
    ContentFilter400,
    /// 429 `rate_limit_exceeded`, with `Retry-After` seconds if given.
    RateLimited { retry_after_secs: Option<u64> },
    /// 429 `insufficient_quota`.
    InsufficientQuota,
    /// 500 `server_error`.
    ServerError,
    /// Never answers within a test.
    Hang,
    /// 200, a stream that stops midway: the first words of a story, no `finish_reason`, no
    /// `[DONE]` (the connection closes).
    BrokenStream,
}

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Text of the user message.
    pub user: String,
    /// When it arrived.
    pub at: Instant,
    /// When its answer was due (arrival + delay).
    pub until: Instant,
}

#[derive(Debug)]
struct State {
    script: VecDeque<Reply>,
    fallback: Reply,
    latency: Duration,
    received: Vec<Received>,
}

/// The mock server and its knobs.
pub struct MockOpenAi {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

impl MockOpenAi {
    /// Starts a mock answering `Reply::AboutThePlace` at once.
    pub async fn start() -> Self {
        let server = MockServer::builder().start().await;
        let state = Arc::new(Mutex::new(State {
            script: VecDeque::new(),
            fallback: Reply::AboutThePlace,
            latency: Duration::ZERO,
            received: Vec::new(),
        }));
        Mock::given(method("POST"))
            .and(path("/chat/completions"))
            .and(header(
                "authorization",
                format!("Bearer {API_KEY}").as_str(),
            ))
            .respond_with(Responder(state.clone()))
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// Gate settings pointing at this mock.
    pub fn config(&self) -> OpenAiConfig {
        OpenAiConfig {
            base_url: self.server.uri(),
            api_key: API_KEY.into(),
            model: "gpt-4o-mini".into(),
        }
    }

    /// Delay before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The reply once the script is used up.
    pub fn always(&self, reply: Reply) {
        self.lock().fallback = reply;
    }

    /// Replies used first, one per request, in order.
    pub fn then(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    /// Everything received so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// How many requests arrived.
    pub fn request_count(&self) -> usize {
        self.lock().received.len()
    }

    /// Most requests whose answer windows overlapped at one moment.
    pub fn max_concurrent_requests(&self) -> usize {
        let received = self.requests();
        let overlapping = |r: &Received| {
            received
                .iter()
                .filter(|o| o.at <= r.at && r.at < o.until)
                .count()
        };
        received.iter().map(overlapping).max().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

struct Responder(Arc<Mutex<State>>);

impl Respond for Responder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = self.0.lock().unwrap();
        let reply = state.script.pop_front().unwrap_or(state.fallback.clone());
        let delay = if reply == Reply::Hang {
            HANG
        } else {
            state.latency
        };
        let at = Instant::now();
        let body: Value = request.body_json().unwrap();
        let streamed = body["stream"] == Value::Bool(true);
        let user = user_text(&body);
        let reply = match reply {
            Reply::AboutThePlace if user.contains("deeper story") => {
                Reply::Story(format!("{} {STORY_TAIL}", story_about(place_title(&user))))
            }
            Reply::AboutThePlace => Reply::Story(story_about(place_title(&user))),
            other => other,
        };
        state.received.push(Received {
            user,
            at,
            until: at + delay,
        });
        let template = match &reply {
            Reply::BrokenStream => sse(&broken_stream()),
            reply if streamed => streamed_template(reply),
            reply => template(reply),
        };
        template.set_delay(delay)
    }
}

/// The place a prompt is about: its `Place:` line, else the whole text.
fn place_title(user: &str) -> &str {
    user.lines()
        .find_map(|line| line.strip_prefix("Place: "))
        .unwrap_or(user)
}

fn user_text(body: &Value) -> String {
    let messages = body["messages"].as_array().unwrap();
    let user = messages.iter().find(|m| m["role"] == "user").unwrap();
    user["content"].as_str().unwrap().to_owned()
}

fn template(reply: &Reply) -> ResponseTemplate {
    match reply {
        Reply::Story(text) => json(200, &completion(text)),
        Reply::AboutThePlace => json(200, &completion(&story_about("?"))),
        Reply::Refusal => json(200, REFUSAL),
        Reply::Length => json(200, LENGTH),
        Reply::ContentFilter => json(200, FILTERED),
        Reply::ContentFilter400 => json(400, FILTER_400),
        Reply::RateLimited { retry_after_secs } => {
            let template = json(429, RATE_429);
            match retry_after_secs {
                Some(secs) => template.insert_header("retry-after", secs.to_string().as_str()),
                None => template,
            }
        }
        Reply::InsufficientQuota => json(429, QUOTA_429),
        Reply::ServerError => json(500, SERVER_500),
        Reply::Hang | Reply::BrokenStream => json(200, STOP),
    }
}

/// `reply` as a stream when it is a 200 answer (its chunks, then `[DONE]`); errors are the
/// same JSON either way, as OpenAI answers them before any event.
fn streamed_template(reply: &Reply) -> ResponseTemplate {
    let body = match reply {
        Reply::Story(text) => completion(text),
        Reply::AboutThePlace => completion(&story_about("?")),
        Reply::Refusal => REFUSAL.to_owned(),
        Reply::Length => LENGTH.to_owned(),
        Reply::ContentFilter => FILTERED.to_owned(),
        Reply::Hang => STOP.to_owned(),
        errors => return template(errors),
    };
    let mut events = chunks(&serde_json::from_str(&body).unwrap());
    events.push("[DONE]".to_owned());
    sse(&events)
}

/// The `chat.completion.chunk`s OpenAI streams for `completion`: the role, the content word
/// by word (or the refusal), then the finish reason.
fn chunks(completion: &Value) -> Vec<String> {
    let choice = &completion["choices"][0];
    let chunk = |delta: Value, finish: Value| {
        serde_json::json!({
            "id": completion["id"], "object": "chat.completion.chunk",
            "created": completion["created"], "model": completion["model"],
            "system_fingerprint": completion["system_fingerprint"],
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]
        })
        .to_string()
    };
    let mut events = vec![chunk(
        serde_json::json!({ "role": "assistant", "content": "", "refusal": null }),
        Value::Null,
    )];
    if let Some(refusal) = choice["message"]["refusal"].as_str() {
        events.push(chunk(
            serde_json::json!({ "refusal": refusal }),
            Value::Null,
        ));
    }
    let content = choice["message"]["content"].as_str().unwrap_or_default();
    for word in content.split_inclusive(' ') {
        events.push(chunk(serde_json::json!({ "content": word }), Value::Null));
    }
    events.push(chunk(
        serde_json::json!({}),
        choice["finish_reason"].clone(),
    ));
    events
}

/// A stream cut after its first words.
fn broken_stream() -> Vec<String> {
    let completion: Value = serde_json::from_str(&completion(&story_about("?"))).unwrap();
    let mut events = chunks(&completion);
    events.truncate(6);
    events
}

/// A server-sent event body of `events`' data.
fn sse(events: &[String]) -> ResponseTemplate {
    let body: String = events
        .iter()
        .map(|data| format!("data: {data}\n\n"))
        .collect();
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

/// The recorded `stop` answer with its content replaced.
fn completion(text: &str) -> String {
    let mut body: Value = serde_json::from_str(STOP).unwrap();
    body["choices"][0]["message"]["content"] = Value::String(text.to_owned());
    body.to_string()
}

fn json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_owned(), "application/json")
}
