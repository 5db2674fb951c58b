//! The `DbActor` handlers that go straight to the database (reads, preferences, resets,
//! blocked marks, finished tours): each returns a future over a clone of the pool, so the
//! mailbox never waits on a query.

use std::time::Duration;

use actix::prelude::*;

use super::{
    AdminStats, DbActor, FirstHint, LoadPreferences, LoadToldPlaces, MarkBlocked, OwnStats,
    RecordTour, ResetUser, SavePreferences,
};

use crate::actors::supervision::contained;
use crate::db::{
    DbError,
    entity::user_preferences,
    now_ms,
    queries::{self, DbStats, UserStats},
};

/// Tries to record a finished tour (the database may be down for a while): 0.5 s doubling
/// to 30 s between tries, about three and a half minutes in all.
const RECORD_TOUR_TRIES: u32 = 12;
/// The first pause after a failed try.
const RECORD_TOUR_RETRY_FIRST: Duration = Duration::from_millis(500);
/// The longest pause between tries.
const RECORD_TOUR_RETRY_MAX: Duration = Duration::from_secs(30);

impl Handler<MarkBlocked> for DbActor {
    type Result = ResponseFuture<()>;

    fn handle(
        &mut self,
        MarkBlocked { user_id }: MarkBlocked,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        let (db, errors) = (self.db.clone(), self.errors.clone());
        contained(ctx, async move {
            if let Err(error) = queries::mark_blocked(&db, user_id, now_ms()).await {
                errors.record();
                tracing::warn!(%error, "could not mark the user blocked");
            }
        })
    }
}

impl Handler<RecordTour> for DbActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, RecordTour(tour): RecordTour, ctx: &mut Self::Context) -> Self::Result {
        let (db, errors) = (self.db.clone(), self.errors.clone());
        contained(ctx, async move {
            let mut pause = RECORD_TOUR_RETRY_FIRST;
            for tries_left in (0..RECORD_TOUR_TRIES).rev() {
                let Err(error) = queries::insert_tour(&db, tour.clone()).await else {
                    return;
                };
                errors.record();
                if tries_left == 0 {
                    tracing::error!(%error, user_id = tour.user_id, "finished tour not recorded");
                    return;
                }
                tracing::warn!(%error, user_id = tour.user_id, "finished tour not recorded yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RECORD_TOUR_RETRY_MAX);
            }
        })
    }
}

impl Handler<LoadPreferences> for DbActor {
    type Result = ResponseFuture<Result<Option<user_preferences::Model>, DbError>>;

    fn handle(&mut self, msg: LoadPreferences, ctx: &mut Self::Context) -> Self::Result {
        let span = msg.sender.followed_by(tracing::info_span!(
            parent: None,
            "db.load_preferences"
        ));
        self.at_once_in(span, ctx, move |db| async move {
            queries::preferences(&db, msg.user_id).await
        })
    }
}

impl Handler<SavePreferences> for DbActor {
    type Result = ResponseFuture<Result<(), DbError>>;

    fn handle(
        &mut self,
        SavePreferences(row): SavePreferences,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        self.at_once(ctx, move |db| async move {
            queries::save_preferences(&db, row).await
        })
    }
}

impl Handler<LoadToldPlaces> for DbActor {
    type Result = ResponseFuture<Result<Vec<String>, DbError>>;

    fn handle(&mut self, msg: LoadToldPlaces, ctx: &mut Self::Context) -> Self::Result {
        // Rows still buffered count too, or a place could repeat right after a restart of
        // the cache.
        let buffered = self.buffer.told_places(msg.user_id);
        let span = msg.sender.followed_by(tracing::info_span!(
            parent: None,
            "db.load_told_places"
        ));
        self.at_once_in(span, ctx, move |db| async move {
            let mut places = queries::told_places(&db, msg.user_id, msg.since_ms).await?;
            places.extend(buffered);
            Ok(places)
        })
    }
}

impl Handler<FirstHint> for DbActor {
    type Result = ResponseFuture<Result<bool, DbError>>;

    fn handle(
        &mut self,
        FirstHint {
            user_id,
            hint,
            sender,
        }: FirstHint,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        let span = sender.followed_by(tracing::info_span!(parent: None, "db.first_hint"));
        self.at_once_in(span, ctx, move |db| async move {
            queries::first_hint(&db, user_id, hint, now_ms()).await
        })
    }
}

impl Handler<ResetUser> for DbActor {
    type Result = ResponseFuture<Result<(), DbError>>;

    fn handle(
        &mut self,
        ResetUser { user_id }: ResetUser,
        ctx: &mut Self::Context,
    ) -> Self::Result {
        self.buffer.forget_deliveries_of(user_id);
        self.at_once(ctx, move |db| async move {
            queries::reset_user(&db, user_id).await
        })
    }
}

impl Handler<AdminStats> for DbActor {
    type Result = ResponseFuture<Result<DbStats, DbError>>;

    fn handle(&mut self, _: AdminStats, ctx: &mut Self::Context) -> Self::Result {
        self.at_once(ctx, |db| async move { queries::stats(&db, now_ms()).await })
    }
}

impl Handler<OwnStats> for DbActor {
    type Result = ResponseFuture<Result<UserStats, DbError>>;

    fn handle(&mut self, OwnStats { user_id }: OwnStats, ctx: &mut Self::Context) -> Self::Result {
        self.at_once(ctx, move |db| async move {
            queries::user_stats(&db, user_id).await
        })
    }
}
