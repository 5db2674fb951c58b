//! An OpenAI-compatible `POST /v1/chat/completions` that streams for real: a server-sent
//! event stream whose words arrive one by one, paced, so a test can see what the bot does
//! while a story is being written. (wiremock sends a body all at once.) Every answer is
//! [`story_about`] the prompt's place.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, dev::ServerHandle, web};
use excursobot::actors::openai_gate::OpenAiConfig;
use serde_json::{Value, json};

use super::mock_openai::{API_KEY, story_about};

/// How the stream is paced and cut.
#[derive(Debug, Clone, Copy)]
struct Pace {
    first_word: Duration,
    per_word: Duration,
}

/// The running server.
pub struct PacedOpenAi {
    port: u16,
    handle: ServerHandle,
    requests: Arc<AtomicUsize>,
}

impl PacedOpenAi {
    /// Streams each story's first word after `first_word`, then one word every `per_word`.
    pub fn start(first_word: Duration, per_word: Duration) -> Self {
        Self::serve(Pace {
            first_word,
            per_word,
        })
    }

    fn serve(pace: Pace) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(AtomicUsize::new(0));
        let state = web::Data::new((pace, Arc::clone(&requests)));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .route("/v1/chat/completions", web::post().to(complete))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            port,
            handle,
            requests,
        }
    }

    /// The app's LLM settings pointing here.
    pub fn config(&self) -> OpenAiConfig {
        OpenAiConfig {
            base_url: self.base_url(),
            api_key: API_KEY.into(),
            model: "gpt-test".into(),
        }
    }

    /// The `OPENAI_BASE_URL` pointing here.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Requests received so far.
    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for PacedOpenAi {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn complete(
    state: web::Data<(Pace, Arc<AtomicUsize>)>,
    body: web::Json<Value>,
) -> HttpResponse {
    let (pace, requests) = (state.0, &state.1);
    requests.fetch_add(1, Ordering::SeqCst);
    let user = body["messages"][1]["content"].as_str().unwrap_or_default();
    let title = user
        .lines()
        .find_map(|line| line.strip_prefix("Place: "))
        .unwrap_or(user);
    let words: Vec<String> = story_about(title)
        .split_inclusive(' ')
        .map(str::to_owned)
        .collect();
    let mut events: Vec<(Duration, String)> = words
        .into_iter()
        .enumerate()
        .map(|(i, word)| {
            let wait = if i == 0 {
                pace.first_word
            } else {
                pace.per_word
            };
            (wait, event(json!({ "content": word }), Value::Null))
        })
        .collect();
    events.push((Duration::ZERO, event(json!({}), json!("stop"))));
    events.push((Duration::ZERO, "data: [DONE]\n\n".to_owned()));
    let stream = futures::stream::unfold(events.into_iter(), |mut events| async move {
        let (wait, data) = events.next()?;
        tokio::time::sleep(wait).await;
        Some((Ok::<_, actix_web::Error>(web::Bytes::from(data)), events))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(stream)
}

/// One `chat.completion.chunk` event.
fn event(delta: Value, finish: Value) -> String {
    let chunk = json!({
        "id": "chatcmpl-paced", "object": "chat.completion.chunk", "created": 1727346142,
        "model": "gpt-test",
        "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]
    });
    format!("data: {chunk}\n\n")
}
