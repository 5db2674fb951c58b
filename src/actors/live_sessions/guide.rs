//! `TourGuide`: the production [`Guide`](super::Guide) of the tours actor. It tells tour
//! stories through the [`Storyteller`] and sends end-of-tour summaries through the outbox,
//! each in a future of its own, so neither it nor the tours actor ever waits on the other.

use std::{panic::AssertUnwindSafe, sync::Arc};

use actix::prelude::*;
use futures::FutureExt;
use teloxide::{prelude::Requester, types::ChatId};

use super::{EndReason, TellTourStory, TourEnded};
use crate::{
    facts::{Storyteller, tour::TourOutcome},
    telegram::Outbox,
};

/// Tells tour stories and summaries for real.
pub struct TourGuide {
    stories: Arc<Storyteller>,
    outbox: Outbox,
}

impl TourGuide {
    /// A guide over the facts pipeline and the outbox.
    pub fn new(stories: Arc<Storyteller>, outbox: Outbox) -> Self {
        Self { stories, outbox }
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
        let stories = Arc::clone(&self.stories);
        Box::pin(async move {
            // A panic here would take the guide's thread down with every tour's story.
            let story = AssertUnwindSafe(stories.tell_tour_story(request)).catch_unwind();
            story.await.unwrap_or_else(|_| {
                tracing::error!("a tour story panicked");
                TourOutcome::Unavailable
            })
        })
    }
}

impl Handler<TourEnded> for TourGuide {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, ended: TourEnded, _: &mut Self::Context) -> Self::Result {
        let outbox = self.outbox.clone();
        Box::pin(async move {
            if ended.reason == EndReason::Blocked {
                return;
            }
            let chat = ChatId(ended.chat_id);
            let message = outbox
                .bot()
                .send_message(chat, ended.summary.text(ended.lang));
            if let Err(error) = outbox.send(chat, message).await {
                tracing::warn!(%error, "tour summary not delivered");
            }
        })
    }
}
