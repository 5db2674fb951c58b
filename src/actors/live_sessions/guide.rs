//! What the tours actor asks of its guide ([`TellTourStory`], [`TourEnded`], reached through
//! the [`Guide`] recipients, so tests can put a stub there) and `TourGuide`, the production
//! guide: it tells tour stories through the [`Storyteller`] and sends end-of-tour summaries
//! through the outbox, each in a future of its own, so neither actor ever waits on the other.

use std::{panic::AssertUnwindSafe, sync::Arc};

use actix::prelude::*;
use futures::FutureExt;
use teloxide::{prelude::Requester, types::ChatId};

use super::{EndReason, TourSummary};
use crate::{
    actors::db_actor::{DbActor, RecordTour},
    db::queries::FinishedTour,
    facts::{
        Storyteller,
        tour::{TourOutcome, TourStoryRequest},
    },
    i18n::Lang,
    telegram::{Outbox, SendClass},
    users::UserStore,
};

/// Sent to the storyteller: tell this tour story and answer what happened.
#[derive(Debug, Message)]
#[rtype(result = "TourOutcome")]
pub struct TellTourStory(pub TourStoryRequest);

/// Sent when a tour ends, for the summary.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct TourEnded {
    /// Telegram user id.
    pub user_id: u64,
    /// Where the summary goes.
    pub chat_id: i64,
    /// The user's language.
    pub lang: Lang,
    /// Why it ended (no summary for [`EndReason::Blocked`]).
    pub reason: EndReason,
    /// Stories, distance, duration.
    pub summary: TourSummary,
    /// When the tour started (unix ms), e.g. for a row in the finished tours' table.
    pub started_at: i64,
    /// When it ended (unix ms).
    pub ended_at: i64,
}

/// Where the actor's stories and summaries go: the [`TourGuide`] in production, a stub in tests.
#[derive(Clone)]
pub struct Guide {
    /// Tells tour stories.
    pub stories: Recipient<TellTourStory>,
    /// Sends end-of-tour summaries.
    pub endings: Recipient<TourEnded>,
}

impl Guide {
    /// Both recipients from one actor.
    pub fn of<A>(addr: &Addr<A>) -> Self
    where
        A: Actor<Context = Context<A>> + Handler<TellTourStory> + Handler<TourEnded>,
    {
        Self {
            stories: addr.clone().recipient(),
            endings: addr.clone().recipient(),
        }
    }
}

/// Tells tour stories and summaries for real.
pub struct TourGuide {
    stories: Arc<Storyteller>,
    outbox: Outbox,
    /// For each story's radius and photo preferences (they may change during a tour).
    users: UserStore,
    /// Where finished tours are recorded (a user's distance walked).
    db: Addr<DbActor>,
}

impl TourGuide {
    /// A guide over the facts pipeline, the outbox, the users' preferences and the database.
    pub fn new(
        stories: Arc<Storyteller>,
        outbox: Outbox,
        users: UserStore,
        db: Addr<DbActor>,
    ) -> Self {
        Self {
            stories,
            outbox,
            users,
            db,
        }
    }
}

impl Actor for TourGuide {
    type Context = Context<Self>;
}

impl Supervised for TourGuide {}

impl Handler<TellTourStory> for TourGuide {
    type Result = ResponseFuture<TourOutcome>;

    fn handle(
        &mut self,
        TellTourStory(request): TellTourStory,
        _: &mut Self::Context,
    ) -> Self::Result {
        let (stories, users) = (Arc::clone(&self.stories), self.users.clone());
        Box::pin(async move {
            let preferences = users.preferences(request.user_id).await;
            let story = request.story_request(preferences.radius_m, preferences.photos);
            // A panic here would take the guide's thread down with every tour's story.
            let told = AssertUnwindSafe(stories.tell_tour_story(&story, &request)).catch_unwind();
            told.await.unwrap_or_else(|_| {
                tracing::error!("a tour story panicked");
                TourOutcome::Unavailable
            })
        })
    }
}

impl Handler<TourEnded> for TourGuide {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, ended: TourEnded, _: &mut Self::Context) -> Self::Result {
        self.db.do_send(RecordTour(FinishedTour {
            user_id: ended.user_id as i64,
            started_at: ended.started_at,
            ended_at: ended.ended_at,
            stories_told: ended.summary.stories,
            distance_walked_m: ended.summary.distance_m,
        }));
        let outbox = self.outbox.clone();
        Box::pin(async move {
            if ended.reason == EndReason::Blocked {
                return;
            }
            let chat = ChatId(ended.chat_id);
            let message = outbox
                .bot()
                .send_message(chat, ended.summary.text(ended.lang));
            if let Err(error) = outbox.send(chat, SendClass::Other, message).await {
                tracing::warn!(%error, "tour summary not delivered");
            }
        })
    }
}
