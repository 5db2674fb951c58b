//! Routes one update to what handles it: commands, locations, button presses, membership
//! changes, payments. Each update runs in its span from admission on
//! ([`super::dispatch::update_span`]), carrying its `update_id`, user and chat.

use futures::future::BoxFuture;
use teloxide::types::{ChatMemberUpdated, Location, Message, Update, UpdateKind, User};

use super::{commands, context::Context, donations, tours, work::spawn_work};
use crate::{
    actors::live_sessions::HasTour, facts::StoryRequest, geo::Coordinates, users::Preferences,
};

/// Handles one update to the end; never panics on odd input.
pub async fn route(ctx: &Context, update: Box<Update>) {
    if let Some(chat) = update.chat().filter(|chat| chat.is_private()) {
        // An update from the user: they do not block the bot (a block in this very update,
        // a `my_chat_member` one, is marked again below).
        ctx.outbox.heard_from(chat.id);
    }
    if let Some(work) = dispatch(ctx, update.kind) {
        work.await;
    }
}

/// Handles what needs no waiting at once; returns the work that does, boxed: the handlers'
/// futures are several KiB, and an update that needs none of them (an edit, a kind we
/// ignore) should not carry, copy and zero their space.
fn dispatch(ctx: &Context, kind: UpdateKind) -> Option<BoxFuture<'_, ()>> {
    match kind {
        UpdateKind::Message(message) => Some(Box::pin(on_message(ctx, message))),
        UpdateKind::CallbackQuery(query) => Some(Box::pin(commands::on_button(ctx, query))),
        UpdateKind::MyChatMember(change) => {
            on_membership(ctx, &change);
            None
        }
        UpdateKind::PreCheckoutQuery(query) => {
            Some(Box::pin(donations::on_pre_checkout(ctx, query)))
        }
        UpdateKind::EditedMessage(message) => {
            tours::on_edited_message(ctx, &message);
            None
        }
        _ => {
            tracing::debug!("update kind not handled");
            None
        }
    }
}

/// Tells the sender of `update` (which an earlier run acknowledged and left unanswered for
/// too long) that it was not answered, in their language.
pub async fn apologise(ctx: &Context, update: &Update) {
    let (Some(user), Some(chat)) = (update.from(), update.chat()) else {
        return;
    };
    tracing::info!(
        update_id = update.id.0,
        "journaled update too old: apologising"
    );
    let lang = ctx.language(user).await;
    ctx.reply(chat.id, lang.texts().restart_apology);
}

async fn on_message(ctx: &Context, message: Message) {
    let Some(user) = message.from.clone() else {
        tracing::debug!("message without a sender ignored");
        return;
    };
    if let Some(payment) = message.successful_payment() {
        // Money was taken: credit it wherever the message comes from.
        return donations::on_payment(ctx, &message, &user, payment).await;
    }
    if !message.chat.is_private() && !ctx.is_meant_for_us(&message) {
        // Group chatter, and commands for other bots, are not ours to answer.
        tracing::debug!("group message not meant for this bot ignored");
        return;
    }
    ctx.users.seen(&user);
    let preferences = ctx.users.preferences(user.id.0).await;
    let lang = preferences.language_for(&user);
    if let Some(text) = message.text().filter(|text| text.starts_with('/')) {
        commands::on_command(ctx, &message, &user, lang, text).await;
    } else if let Some(location) = message.location() {
        if location.live_period.is_some() && message.chat.is_private() {
            return tours::on_live_location(ctx, &message, &user, &preferences, location).await;
        }
        // A plain location (also during a tour): a one-off story; the tour goes on.
        tell_once(ctx, &message, &user, &preferences, location, None).await;
    } else if let Some(venue) = message.venue() {
        // A place picked from the attachment menu: a location, with a name to look for.
        let title = Some(venue.title.clone());
        tell_once(ctx, &message, &user, &preferences, &venue.location, title).await;
    } else {
        ctx.reply(message.chat.id, lang.texts().unusable_message);
    }
}

/// A one-off story at `location`, about the place called `venue` when it is found there; the
/// story is written and sent outside the lane. A private chat's first one-off story is followed
/// by the hint that a live location makes a tour, unless a tour is already running.
async fn tell_once(
    ctx: &Context,
    message: &Message,
    user: &User,
    preferences: &Preferences,
    location: &Location,
    venue: Option<String>,
) {
    let Some(point) = Coordinates::new(location.latitude, location.longitude) else {
        tracing::warn!("location out of range");
        let lang = preferences.language_for(user);
        ctx.reply(message.chat.id, lang.texts().unusable_message);
        return;
    };
    let offer_live_hint = message.chat.is_private() && !on_tour(ctx, user.id.0).await;
    let request = StoryRequest {
        venue,
        offer_live_hint,
        ..ctx.story_request(user, message.chat.id, point, preferences)
    };
    spawn_work(ctx.stories.tell_nearby(request));
}

/// Whether `user_id` has a tour running (when the tours cannot say: yes, so no hint is sent).
async fn on_tour(ctx: &Context, user_id: u64) -> bool {
    ctx.tours.send(HasTour { user_id }).await.unwrap_or(true)
}

fn on_membership(ctx: &Context, change: &ChatMemberUpdated) {
    if !change.chat.is_private() {
        return;
    }
    if change.new_chat_member.is_present() {
        // Unblocked: a sighting clears `blocked_at`.
        ctx.users.seen(&change.from);
    } else {
        ctx.outbox.mark_blocked(change.chat.id);
    }
}
