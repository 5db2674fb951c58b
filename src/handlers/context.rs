//! What every handler works with: the [`Context`] of the bot (its services, settings and
//! actors) and the few ways an answer leaves: a reply in order with the user's others, an
//! edit, a callback answer, all sent outside the user's lane.

use std::{sync::Arc, time::Instant};

use actix::Addr;
use teloxide::{
    Bot, RequestError,
    payloads::{AnswerCallbackQuerySetters, SendMessageSetters},
    prelude::Requester,
    requests::{HasPayload, Payload, Request},
    types::{CallbackQuery, ChatId, Message, ParseMode, User},
};

use super::work::spawn_work;
use crate::{
    actors::{
        db_actor::DbActor, fact_cache::FactCache, live_sessions::LiveLocationSessions,
        openai_gate::OpenAiGate,
    },
    config::Settings,
    facts::{StoryRequest, Storyteller},
    geo::Coordinates,
    i18n::Lang,
    payments::PaymentKey,
    stats::ErrorLog,
    telegram::{Outbox, SendClass},
    users::{Preferences, UserStore},
};

/// Everything a handler needs to answer an update.
pub struct Context {
    /// The way replies leave (through [`Context::reply`] and its siblings).
    pub outbox: Outbox,
    /// Per-user memory (language, blocked).
    pub users: UserStore,
    /// Start-up settings (admin ids, ...).
    pub settings: Arc<Settings>,
    /// Our own @username, to recognise `/command@ourbot` in groups.
    pub bot_username: String,
    /// The facts pipeline.
    pub stories: Arc<Storyteller>,
    /// Live-location tours.
    pub tours: Addr<LiveLocationSessions>,
    /// Users' memory, for `/stats`.
    pub db: Addr<DbActor>,
    /// The fact cache, for `/stats`.
    pub cache: Addr<FactCache>,
    /// The LLM gate, if configured, for `/stats`.
    pub gate: Option<Addr<OpenAiGate>>,
    /// Recent errors, for `/stats`.
    pub errors: ErrorLog,
    /// When the process started, for `/stats`.
    pub started_at: Instant,
    /// What invoice payloads are signed with.
    pub payment_key: PaymentKey,
}

impl Context {
    /// The Bot API client, to build requests with.
    pub fn bot(&self) -> &Bot {
        self.outbox.bot()
    }

    /// In a group: a command addressed to this bot (`/cmd@ourbot`) or a reply to one of its
    /// messages. A bare `/cmd` there may be meant for any bot in the group.
    pub fn is_meant_for_us(&self, message: &Message) -> bool {
        let ours = |name: &str| name.eq_ignore_ascii_case(&self.bot_username);
        let replies_to_us = message
            .reply_to_message()
            .and_then(|replied| replied.from.as_ref())
            .is_some_and(|from| from.is_bot && from.username.as_deref().is_some_and(ours));
        let addressed_to_us = message
            .text()
            .filter(|text| text.starts_with('/'))
            .and_then(|text| text.split_whitespace().next())
            .and_then(|command| command.split_once('@'))
            .is_some_and(|(_, name)| ours(name));
        replies_to_us || addressed_to_us
    }

    /// A story request for `user` in `chat` at `point`, with their preferences.
    pub fn story_request(
        &self,
        user: &User,
        chat: ChatId,
        point: Coordinates,
        preferences: &Preferences,
    ) -> StoryRequest {
        StoryRequest {
            user_id: user.id.0,
            chat,
            point,
            lang: preferences.language_for(user),
            radius_m: preferences.radius_m,
            photos: preferences.photos,
            venue: None,
            started: Instant::now(),
            offer_live_hint: false,
        }
    }

    /// The language to answer `user` in.
    pub async fn language(&self, user: &User) -> Lang {
        self.users.language_of(user).await
    }

    /// Sends an HTML text to `chat` as a reply to what the user just did. It takes its place
    /// in the send queue now and is sent outside the lane; failures are logged by the outbox.
    pub fn reply(&self, chat: ChatId, html: &str) {
        let request = self
            .outbox
            .bot()
            .send_message(chat, html.to_owned())
            .parse_mode(ParseMode::Html);
        self.send(chat, request, "reply");
    }

    /// Sends a prepared message (or edit) to `chat` as a reply to what the user just did,
    /// in order with the user's other replies, outside the lane; `what` names it in the log
    /// when it is not delivered.
    pub fn send<R>(&self, chat: ChatId, request: R, what: &'static str)
    where
        R: Request<Err = RequestError> + HasPayload + Send + Sync + 'static,
        <R::Payload as Payload>::Output: Send,
    {
        let sent = self.outbox.send(chat, SendClass::Reply, request);
        spawn_work(async move {
            if let Err(error) = sent.await {
                tracing::debug!(%error, what, "reply not delivered");
            }
        });
    }

    /// Answers a button press: not counted against the send budget, never queued, sent
    /// outside the lane.
    pub fn answer_button(&self, query: &CallbackQuery, text: Option<&str>) {
        let mut request = self.outbox.bot().answer_callback_query(query.id.clone());
        if let Some(text) = text {
            request = request.text(text.to_owned());
        }
        let (outbox, chat) = (self.outbox.clone(), ChatId::from(query.from.id));
        spawn_work(async move {
            if let Err(error) = outbox.send_uncounted(chat, request).await {
                tracing::debug!(%error, "callback query not answered");
            }
        });
    }
}
