//! Live tours in the `live_sessions` table: the sea-orm [`SessionStore`], so a redeploy
//! restores every tour with its timers. One row per user, one column per field; `save` is an
//! upsert.

use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use sea_orm::{ActiveValue::Set, DatabaseConnection, DbErr, EntityTrait, sea_query::OnConflict};

use super::entity::live_session::{self, Column};
use crate::{
    geo::Coordinates,
    i18n::Lang,
    tour::{LiveSession, SessionStore, StoreError},
};

/// Tours persisted in the database.
#[derive(Clone)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    /// A store over the pool `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn backend(error: DbErr) -> StoreError {
    StoreError::Backend(Arc::new(error))
}

impl SessionStore for DbSessionStore {
    fn save(&self, session: LiveSession) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            let columns = every_column_but_the_key();
            live_session::Entity::insert(to_row(&session))
                .on_conflict(
                    OnConflict::column(Column::UserId)
                        .update_columns(columns)
                        .to_owned(),
                )
                .exec_without_returning(&self.db)
                .await
                .map(|_| ())
                .map_err(backend)
        }
        .boxed()
    }

    fn remove(&self, user_id: u64) -> BoxFuture<'_, Result<(), StoreError>> {
        async move {
            live_session::Entity::delete_by_id(user_id as i64)
                .exec(&self.db)
                .await
                .map(|_| ())
                .map_err(backend)
        }
        .boxed()
    }

    fn load_all(&self) -> BoxFuture<'_, Result<Vec<LiveSession>, StoreError>> {
        async move {
            let rows = live_session::Entity::find()
                .all(&self.db)
                .await
                .map_err(backend)?;
            Ok(rows.into_iter().filter_map(from_row).collect())
        }
        .boxed()
    }
}

fn every_column_but_the_key() -> Vec<Column> {
    use sea_orm::Iterable;
    Column::iter()
        .filter(|column| !matches!(column, Column::UserId))
        .collect()
}

fn to_row(session: &LiveSession) -> live_session::ActiveModel {
    let last_story = session.last_story_position;
    live_session::ActiveModel {
        user_id: Set(session.user_id as i64),
        chat_id: Set(session.chat_id),
        lang: Set(session.lang.code().to_owned()),
        interval_secs: Set(i32::try_from(session.interval_secs).unwrap_or(i32::MAX)),
        started_at: Set(session.started_at),
        expires_at: Set(session.expires_at),
        last_activity_at: Set(session.last_activity_at),
        next_tick_at: Set(session.next_tick_at),
        saved_at: Set(session.saved_at),
        lat: Set(session.position.lat),
        lon: Set(session.position.lon),
        position_date: Set(session.position_date),
        heading: Set(session.heading.map(i32::from)),
        last_story_lat: Set(last_story.map(|point| point.lat)),
        last_story_lon: Set(last_story.map(|point| point.lon)),
        last_place_distance_m: Set(session.last_place_distance_m),
        stories_told: Set(i32::try_from(session.stories_told).unwrap_or(i32::MAX)),
        distance_walked_m: Set(session.distance_walked_m),
        anchor_lat: Set(session.walk_anchor.lat),
        anchor_lon: Set(session.walk_anchor.lon),
    }
}

/// The session a row holds; `None` (logged) for a row that no longer makes sense.
fn from_row(row: live_session::Model) -> Option<LiveSession> {
    let point = |lat, lon| Coordinates::new(lat, lon);
    let last_story_position = match (row.last_story_lat, row.last_story_lon) {
        (Some(lat), Some(lon)) => point(lat, lon),
        _ => None,
    };
    let (Some(lang), Some(position), Some(walk_anchor)) = (
        Lang::from_code(&row.lang),
        point(row.lat, row.lon),
        point(row.anchor_lat, row.anchor_lon),
    ) else {
        tracing::warn!(user_id = row.user_id, "unreadable live session row skipped");
        return None;
    };
    Some(LiveSession {
        user_id: row.user_id as u64,
        chat_id: row.chat_id,
        lang,
        interval_secs: u32::try_from(row.interval_secs).unwrap_or(600),
        started_at: row.started_at,
        expires_at: row.expires_at,
        last_activity_at: row.last_activity_at,
        next_tick_at: row.next_tick_at,
        saved_at: row.saved_at,
        position,
        position_date: row.position_date,
        heading: row.heading.and_then(|degrees| u16::try_from(degrees).ok()),
        last_story_position,
        last_place_distance_m: row.last_place_distance_m,
        stories_told: u32::try_from(row.stories_told).unwrap_or(0),
        distance_walked_m: row.distance_walked_m,
        walk_anchor,
    })
}
