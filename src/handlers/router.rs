//! Routes one update to what handles it: commands, locations, button presses, membership
//! changes, payments. Each update runs in a span carrying its `update_id` and chat id.

use std::{sync::Arc, time::Instant};

use actix::Addr;
use futures::future::BoxFuture;
use teloxide::{
    RequestError,
    payloads::{AnswerCallbackQuerySetters, AnswerPreCheckoutQuerySetters, SendMessageSetters},
    prelude::Requester,
    requests::{HasPayload, Payload, Request},
    types::{
        CallbackQuery, ChatId, ChatMemberUpdated, Location, Message, ParseMode, PreCheckoutQuery,
        Update, UpdateKind, User,
    },
};
use tracing::Instrument;

use super::{commands, lanes::spawn_work, tours};
use crate::{
    actors::{db_actor::DbActor, live_sessions::LiveLocationSessions},
    config::Settings,
    facts::{StoryRequest, Storyteller},
    geo::Coordinates,
    i18n::Lang,
    stats::ErrorLog,
    telegram::{Outbox, SendClass},
    users::{Preferences, UserStore},
};

/// Everything a handler needs to answer an update.
pub struct Router {
    /// The way replies leave.
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
    /// Recent errors, for `/stats`.
    pub errors: ErrorLog,
    /// When the process started, for `/stats`.
    pub started_at: Instant,
}

impl Router {
    /// Handles one update to the end; never panics on odd input.
    pub async fn route(&self, update: Box<Update>) {
        let chat_id = update.chat().map(|chat| chat.id.0);
        let span = tracing::info_span!("update", update_id = update.id.0, chat_id);
        let work = span.in_scope(|| self.dispatch(update.kind));
        if let Some(work) = work {
            work.instrument(span).await;
        }
    }

    /// Handles what needs no waiting at once; returns the work that does, boxed: the
    /// handlers' futures are several KiB, and an update that needs none of them (an edit, a
    /// kind we ignore) should not carry, copy and zero their space.
    fn dispatch(&self, kind: UpdateKind) -> Option<BoxFuture<'_, ()>> {
        match kind {
            UpdateKind::Message(message) => Some(Box::pin(self.on_message(message))),
            UpdateKind::CallbackQuery(query) => Some(Box::pin(commands::on_button(self, query))),
            UpdateKind::MyChatMember(change) => {
                self.on_membership(&change);
                None
            }
            UpdateKind::PreCheckoutQuery(query) => Some(Box::pin(self.on_pre_checkout(query))),
            UpdateKind::EditedMessage(message) => {
                tours::on_edited_message(self, &message);
                None
            }
            _ => {
                tracing::debug!("update kind not handled");
                None
            }
        }
    }

    async fn on_message(&self, message: Message) {
        let Some(user) = message.from.clone() else {
            tracing::debug!("message without a sender ignored");
            return;
        };
        if !message.chat.is_private() && !self.is_meant_for_us(&message) {
            // Group chatter, and commands for other bots, are not ours to answer.
            tracing::debug!("group message not meant for this bot ignored");
            return;
        }
        self.users.seen(&user);
        let preferences = self.users.preferences(user.id.0).await;
        let lang = preferences.language_for(&user);
        if let Some(text) = message.text().filter(|text| text.starts_with('/')) {
            commands::on_command(self, &message, &user, lang, text).await;
        } else if let Some(location) = message.location() {
            if location.live_period.is_some() && message.chat.is_private() {
                return tours::on_live_location(self, &message, &user, &preferences, location)
                    .await;
            }
            // A plain location (also during a tour): a one-off story; the tour goes on.
            self.tell_once(&message, &user, &preferences, location, None);
        } else if let Some(venue) = message.venue() {
            // A place picked from the attachment menu: a location, with a name to look for.
            let title = Some(venue.title.clone());
            self.tell_once(&message, &user, &preferences, &venue.location, title);
        } else {
            self.reply(message.chat.id, lang.texts().unusable_message);
        }
    }

    /// A one-off story at `location`, about the place called `venue` when it is found there;
    /// the story is written and sent outside the lane.
    fn tell_once(
        &self,
        message: &Message,
        user: &User,
        preferences: &Preferences,
        location: &Location,
        venue: Option<String>,
    ) {
        let Some(point) = Coordinates::new(location.latitude, location.longitude) else {
            tracing::warn!("location out of range");
            let lang = preferences.language_for(user);
            self.reply(message.chat.id, lang.texts().unusable_message);
            return;
        };
        let request = StoryRequest {
            venue,
            ..self.story_request(user, message.chat.id, point, preferences)
        };
        spawn_work(self.stories.tell_nearby(request));
    }

    /// In a group: a command addressed to this bot (`/cmd@ourbot`) or a reply to one of its
    /// messages. A bare `/cmd` there may be meant for any bot in the group.
    fn is_meant_for_us(&self, message: &Message) -> bool {
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
        }
    }

    fn on_membership(&self, change: &ChatMemberUpdated) {
        if !change.chat.is_private() {
            return;
        }
        if change.new_chat_member.is_present() {
            // Unblocked: a sighting clears `blocked_at`.
            self.users.seen(&change.from);
        } else {
            tracing::info!("the user blocked the bot");
            self.users.mark_blocked(change.chat.id);
        }
    }

    async fn on_pre_checkout(&self, query: PreCheckoutQuery) {
        let lang = self.language(&query.from).await;
        let answer = self
            .outbox
            .bot()
            .answer_pre_checkout_query(query.id, false)
            .error_message(lang.texts().payments_unavailable);
        let chat = ChatId(query.from.id.0 as i64);
        let outbox = self.outbox.clone();
        spawn_work(async move {
            if let Err(error) = outbox.send_uncounted(chat, answer).await {
                tracing::warn!(%error, "pre-checkout query not answered");
            }
        });
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
