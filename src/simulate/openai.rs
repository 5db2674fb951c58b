//! The simulated OpenAI-compatible API: `POST /v1/chat/completions` answers a recognisable
//! story after a fixed latency. It reads the place, the depth of the story and its language
//! from the prompt, so it can count calls per key (a key asked twice is a duplicate call the
//! cache or single-flight should have saved), and it tracks how many calls overlap.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use serde_json::{Value, json};

use super::local_listener;

/// Marks text written by this simulator, so the simulated Telegram can tell a written story
/// from the place's own summary.
pub const STORY_MARK: &str = "✍";
/// What follows the opening of a simulated story, so it is as long as the bot asks for (the
/// gate refuses an answer far shorter); a deeper story has it twice.
const STORY_BODY: &str = "Its first stones were laid by masons who walked here from three \
    villages upstream, and for a century the square in front of it held the only market for a \
    day's ride around. Travellers still stop to read the worn inscription above the door, which \
    names every family that paid for the roof.";

/// What the simulated LLM has seen.
#[derive(Debug, Default)]
pub struct LlmLedger {
    /// Calls by key (place title, story depth, language).
    calls: Mutex<HashMap<String, u32>>,
    /// Calls being answered now.
    in_flight: AtomicUsize,
    /// Most calls ever answered at once.
    max_in_flight: AtomicUsize,
    /// Every call so far.
    total: AtomicU64,
}

/// The ledger's figures at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmFigures {
    /// Calls made.
    pub calls: u64,
    /// Distinct keys asked.
    pub keys: u64,
    /// Calls for a key that was asked before.
    pub duplicates: u64,
    /// Most calls in flight at one moment.
    pub max_concurrency: usize,
}

impl LlmLedger {
    /// Calls in flight right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The figures so far.
    pub fn figures(&self) -> LlmFigures {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        LlmFigures {
            calls: self.total.load(Ordering::Relaxed),
            keys: calls.len() as u64,
            duplicates: calls.values().map(|n| u64::from(n.saturating_sub(1))).sum(),
            max_concurrency: self.max_in_flight.load(Ordering::Relaxed),
        }
    }

    /// Calls for the first story of a place `told` says nobody was told about: stories
    /// written that no one read (a tour's story written ahead for a walker who turned away).
    pub fn calls_untold(&self, told: impl Fn(&str) -> bool) -> u64 {
        let calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let untold = calls.iter().filter_map(|(key, calls)| {
            let mut parts = key.split('|');
            let title = parts.next()?;
            (parts.next() == Some("first") && !told(title)).then_some(u64::from(*calls))
        });
        untold.sum()
    }

    fn begin(self: &Arc<Self>, key: String) -> CallGuard {
        *self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
        self.total.fetch_add(1, Ordering::Relaxed);
        let now = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        self.max_in_flight.fetch_max(now, Ordering::AcqRel);
        CallGuard(Arc::clone(self))
    }
}

/// Counts a call as in flight until dropped (also when the client hangs up mid-answer).
struct CallGuard(Arc<LlmLedger>);

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How fast the simulated LLM writes: its first token after `first_token`, then
/// `tokens_per_sec`, so a story's time grows with its length (a word is 4/3 of a token, as
/// in English on average).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LlmPace {
    /// Until the first token.
    pub first_token: Duration,
    /// Tokens a second after it.
    pub tokens_per_sec: f64,
}

impl LlmPace {
    /// How long one word takes after the first.
    fn per_word(self) -> Duration {
        Duration::from_secs_f64(4.0 / 3.0 / self.tokens_per_sec.max(0.001))
    }

    /// How long a whole answer of `words` words takes.
    pub fn answer_time(self, words: usize) -> Duration {
        let rest = u32::try_from(words.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first_token + self.per_word() * rest
    }
}

/// The server's shared state.
struct State {
    ledger: Arc<LlmLedger>,
    pace: LlmPace,
}

/// A running simulated LLM endpoint.
pub struct SimOpenAi {
    port: u16,
    handle: ServerHandle,
    ledger: Arc<LlmLedger>,
}

impl SimOpenAi {
    /// Starts the server on 127.0.0.1, writing at `pace`.
    pub fn start(pace: LlmPace) -> anyhow::Result<Self> {
        let (listener, port) = local_listener()?;
        let ledger = Arc::new(LlmLedger::default());
        let state = web::Data::new(State {
            ledger: Arc::clone(&ledger),
            pace,
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(web::JsonConfig::default().limit(1 << 20))
                .route("/v1/chat/completions", web::post().to(complete))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Ok(Self {
            port,
            handle,
            ledger,
        })
    }

    /// The `OPENAI_BASE_URL` pointing here.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Calls seen so far.
    pub fn ledger(&self) -> &Arc<LlmLedger> {
        &self.ledger
    }

    /// Stops the server.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn complete(body: web::Json<Value>, state: web::Data<State>) -> HttpResponse {
    let streamed = body["stream"] == Value::Bool(true);
    let prompt = user_prompt(&body);
    let (title, key) = call_key(prompt);
    let call = state.ledger.begin(key);
    let text = answer_text(prompt, title);
    let words: Vec<String> = text.split_inclusive(' ').map(str::to_owned).collect();
    let pace = state.pace;
    if !streamed {
        tokio::time::sleep(pace.answer_time(words.len())).await;
        drop(call);
        return HttpResponse::Ok().json(completion(&text));
    }
    // One event a word, paced; the call counts as in flight until the stream ends.
    let events = words.into_iter().enumerate().map(move |(i, word)| {
        let wait = if i == 0 {
            pace.first_token
        } else {
            pace.per_word()
        };
        let delta = if i == 0 {
            json!({ "role": "assistant", "content": word })
        } else {
            json!({ "content": word })
        };
        (wait, chunk(delta, Value::Null))
    });
    let closing = [
        (Duration::ZERO, chunk(json!({}), json!("stop"))),
        (Duration::ZERO, "data: [DONE]\n\n".to_owned()),
    ];
    let events = events.chain(closing);
    // Each event is due at its time from the start, not a wait after the one before: the
    // timer's millisecond grain would otherwise add up over the words (a compressed story of
    // 80 words at 0.9 ms a word took 60 % longer than its pace).
    let start = tokio::time::Instant::now();
    let paced = (events, Some(call), start);
    let stream = futures::stream::unfold(paced, |(mut events, mut call, due)| async move {
        let Some((wait, data)) = events.next() else {
            call.take();
            return None;
        };
        let due = due + wait;
        tokio::time::sleep_until(due).await;
        let bytes = web::Bytes::from(data);
        Some((
            Ok::<_, std::convert::Infallible>(bytes),
            (events, call, due),
        ))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(stream)
}

/// The story the simulated LLM writes about `title` (twice as long for a deeper one).
fn answer_text(prompt: &str, title: &str) -> String {
    let body = if prompt.contains("deeper story") {
        format!("{STORY_BODY} {STORY_BODY}")
    } else {
        STORY_BODY.to_owned()
    };
    format!("{STORY_MARK} A story the simulated LLM wrote about {title}. {body}")
}

/// One `chat.completion.chunk` server-sent event.
fn chunk(delta: Value, finish: Value) -> String {
    let chunk = json!({
        "id": "chatcmpl-simulated", "object": "chat.completion.chunk",
        "created": 1_727_346_142, "model": "simulated",
        "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]
    });
    format!("data: {chunk}\n\n")
}

/// The user message of a chat-completions request.
fn user_prompt(body: &Value) -> &str {
    body["messages"]
        .as_array()
        .and_then(|messages| messages.iter().find(|m| m["role"] == "user"))
        .and_then(|message| message["content"].as_str())
        .unwrap_or_default()
}

/// The place title and the call's key: title, depth (the task's word count) and language.
fn call_key(prompt: &str) -> (&str, String) {
    let line = |prefix: &str| {
        prompt
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or("?")
    };
    let title = line("Place: ");
    let depth = if prompt.contains("deeper story") {
        "more"
    } else {
        "first"
    };
    let language = prompt
        .rsplit_once("Write it in ")
        .map_or("?", |(_, language)| language.trim_end_matches('.'));
    (title, format!("{title}|{depth}|{language}"))
}

/// A chat completion with `text` as the answer, shaped like OpenAI's recorded answers.
fn completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-simulated",
        "object": "chat.completion",
        "created": 1_727_346_142,
        "model": "simulated",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": text, "refusal": null },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": { "prompt_tokens": 200, "completion_tokens": 90, "total_tokens": 290 }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_title_depth_and_language() {
        let prompt = "Place: Fountain, block 1-2\nWhere: about 10 m to the N of the listener.\n\
                      Summary (the only source of facts):\nIt is old.\n\n\
                      Write one surprising story. Write it in Russian.";
        assert_eq!(
            call_key(prompt),
            (
                "Fountain, block 1-2",
                "Fountain, block 1-2|first|Russian".into()
            )
        );
    }

    /// Compressed sixty times, a word takes 0.9 ms: a stream paced word after word by the
    /// timer's millisecond took ~60 % longer than the pace says.
    #[actix_web::test]
    async fn a_compressed_stream_takes_the_time_its_pace_says() {
        let pace = LlmPace {
            first_token: Duration::from_millis(10),
            tokens_per_sec: 1500.0,
        };
        let llm = SimOpenAi::start(pace).unwrap();
        let prompt = "Place: Fountain, block 1-2\nWrite a deeper story.";
        let words = answer_text(prompt, "Fountain, block 1-2")
            .split(' ')
            .count();
        let due = pace.answer_time(words);
        let body = serde_json::json!({
            "model": "m", "stream": true,
            "messages": [{ "role": "user", "content": prompt }],
        });
        crate::install_tls_provider();
        let client = reqwest::Client::new();
        let url = format!("{}/chat/completions", llm.base_url());

        let started = std::time::Instant::now();
        let answer = client.post(url).json(&body).send().await.unwrap();
        let text = answer.text().await.unwrap();
        let took = started.elapsed();

        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
        assert!(words > 100, "{words}");
        assert!(took >= due, "{took:?} < {due:?}");
        assert!(
            took < due + Duration::from_millis(60),
            "{took:?}, due {due:?}"
        );
        llm.stop().await;
    }

    #[test]
    fn a_repeated_key_counts_as_a_duplicate() {
        let ledger = Arc::new(LlmLedger::default());
        let mut calls: Vec<CallGuard> = ["a", "b", "a", "a"]
            .into_iter()
            .map(|key| ledger.begin(key.into()))
            .collect();
        calls.pop();
        let figures = ledger.figures();
        assert_eq!((figures.calls, figures.keys, figures.duplicates), (4, 2, 2));
        assert_eq!((figures.max_concurrency, ledger.in_flight()), (4, 3));
    }
}
