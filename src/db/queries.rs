//! Every query the bot runs, as plain async functions over a connection, so the `DbActor`
//! stays a thin owner of the pool and the buffers.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, TransactionTrait,
    sea_query::{Expr, OnConflict},
};

use super::entity::{fact_delivery, tour, user, user_hint, user_preferences};

/// A user as last seen in an update (written behind, coalesced per user).
#[derive(Debug, Clone, PartialEq)]
pub struct UserSeen {
    /// Telegram user id.
    pub id: i64,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// @username.
    pub username: Option<String>,
    /// Telegram language tag.
    pub language_code: Option<String>,
    /// When (Unix ms).
    pub at: i64,
}

/// A story delivered (written behind).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Telegram user id.
    pub user_id: i64,
    /// Stable place id.
    pub place_id: String,
    /// Place title.
    pub place_title: String,
    /// Place latitude.
    pub lat: f64,
    /// Place longitude.
    pub lon: f64,
    /// `cache`, `llm` or `fallback`.
    pub source: &'static str,
    /// Milliseconds from request to story sent.
    pub latency_ms: i64,
    /// When (Unix ms).
    pub at: i64,
}

/// Stories counted by where they came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceCounts {
    /// From the fact cache.
    pub cache: u64,
    /// Freshly written by the LLM.
    pub llm: u64,
    /// The place's own summary.
    pub fallback: u64,
}

impl SourceCounts {
    /// All stories.
    pub fn total(&self) -> u64 {
        self.cache + self.llm + self.fallback
    }
}

/// Figures for the admin's `/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    /// Users ever seen.
    pub users_total: u64,
    /// Users seen in the last 24 hours.
    pub users_active_24h: u64,
    /// Users first seen in the last 24 hours.
    pub users_new_24h: u64,
    /// Stories in the last 24 hours.
    pub facts_24h: SourceCounts,
    /// Stories ever.
    pub facts_total: SourceCounts,
    /// Median story latency over the last hour (ms).
    pub latency_p50_ms: Option<i64>,
    /// 95th percentile story latency over the last hour (ms).
    pub latency_p95_ms: Option<i64>,
}

/// A user's own figures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct UserStats {
    /// Stories received.
    pub facts: u64,
    /// Distinct places heard about.
    pub places: u64,
    /// Metres walked on finished tours.
    pub distance_walked_m: f64,
}

const DAY_MS: i64 = 24 * 3600 * 1000;
const HOUR_MS: i64 = 3600 * 1000;

/// A sighting clears a block only when it is newer: a sighting written behind (up to a
/// second late) must not undo a 403 that came after it.
const CLEAR_AN_OLDER_BLOCK: &str = "CASE WHEN users.blocked_at > excluded.last_seen_at \
    THEN users.blocked_at ELSE NULL END";

/// Inserts or refreshes users, one multi-row statement.
pub async fn upsert_users(db: &DatabaseConnection, users: Vec<UserSeen>) -> Result<(), DbErr> {
    let rows = users.into_iter().map(|seen| user::ActiveModel {
        id: Set(seen.id),
        first_name: Set(seen.first_name),
        last_name: Set(seen.last_name),
        username: Set(seen.username),
        language_code: Set(seen.language_code),
        first_seen_at: Set(seen.at),
        last_seen_at: Set(seen.at),
        blocked_at: Set(None),
    });
    let refresh = OnConflict::column(user::Column::Id)
        .update_columns([
            user::Column::FirstName,
            user::Column::LastName,
            user::Column::Username,
            user::Column::LanguageCode,
            user::Column::LastSeenAt,
        ])
        .value(user::Column::BlockedAt, Expr::cust(CLEAR_AN_OLDER_BLOCK))
        .to_owned();
    user::Entity::insert_many(rows)
        .on_conflict(refresh)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Inserts deliveries, one multi-row statement.
pub async fn insert_deliveries(db: &DatabaseConnection, rows: Vec<Delivery>) -> Result<(), DbErr> {
    let rows = rows.into_iter().map(|row| fact_delivery::ActiveModel {
        user_id: Set(row.user_id),
        place_id: Set(row.place_id),
        place_title: Set(row.place_title),
        lat: Set(row.lat),
        lon: Set(row.lon),
        source: Set(row.source.to_owned()),
        latency_ms: Set(row.latency_ms),
        delivered_at: Set(row.at),
        ..Default::default()
    });
    // A retry of a write the database committed but whose answer was lost adds nothing.
    let once = OnConflict::columns([
        fact_delivery::Column::UserId,
        fact_delivery::Column::DeliveredAt,
        fact_delivery::Column::PlaceId,
    ])
    .do_nothing()
    .to_owned();
    fact_delivery::Entity::insert_many(rows)
        .on_conflict(once)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// A finished tour.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedTour {
    /// Telegram user id.
    pub user_id: i64,
    /// Start (Unix ms).
    pub started_at: i64,
    /// End (Unix ms).
    pub ended_at: i64,
    /// Stories told.
    pub stories_told: u32,
    /// Metres walked.
    pub distance_walked_m: f64,
}

/// Records a finished tour, once: a tour already recorded (same user and start) is left as
/// it is, so the write may be retried.
pub async fn insert_tour(db: &DatabaseConnection, finished: FinishedTour) -> Result<(), DbErr> {
    let row = tour::ActiveModel {
        user_id: Set(finished.user_id),
        started_at: Set(finished.started_at),
        ended_at: Set(finished.ended_at),
        stories_told: Set(i32::try_from(finished.stories_told).unwrap_or(i32::MAX)),
        distance_walked_m: Set(finished.distance_walked_m),
        ..Default::default()
    };
    let once = OnConflict::columns([tour::Column::UserId, tour::Column::StartedAt])
        .do_nothing()
        .to_owned();
    tour::Entity::insert(row)
        .on_conflict(once)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Marks a user as having blocked the bot. Their row may not be written yet (sightings are
/// written behind): then it is created with the block, and the sighting fills in the names.
pub async fn mark_blocked(db: &DatabaseConnection, user_id: i64, at: i64) -> Result<(), DbErr> {
    let row = user::ActiveModel {
        id: Set(user_id),
        first_name: Set(String::new()),
        last_name: Set(None),
        username: Set(None),
        language_code: Set(None),
        first_seen_at: Set(at),
        last_seen_at: Set(at),
        blocked_at: Set(Some(at)),
    };
    let block = OnConflict::column(user::Column::Id)
        .update_column(user::Column::BlockedAt)
        .to_owned();
    user::Entity::insert(row)
        .on_conflict(block)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// A user's saved preferences, if any.
pub async fn preferences(
    db: &DatabaseConnection,
    user_id: i64,
) -> Result<Option<user_preferences::Model>, DbErr> {
    user_preferences::Entity::find_by_id(user_id).one(db).await
}

/// Saves a user's preferences (insert or replace).
pub async fn save_preferences(
    db: &DatabaseConnection,
    row: user_preferences::Model,
) -> Result<(), DbErr> {
    let active = user_preferences::ActiveModel {
        user_id: Set(row.user_id),
        language: Set(row.language),
        live_interval_min: Set(row.live_interval_min),
        radius_m: Set(row.radius_m),
        photos: Set(row.photos),
        updated_at: Set(row.updated_at),
    };
    let replace = OnConflict::column(user_preferences::Column::UserId)
        .update_columns([
            user_preferences::Column::Language,
            user_preferences::Column::LiveIntervalMin,
            user_preferences::Column::RadiusM,
            user_preferences::Column::Photos,
            user_preferences::Column::UpdatedAt,
        ])
        .to_owned();
    user_preferences::Entity::insert(active)
        .on_conflict(replace)
        .exec_without_returning(db)
        .await
        .map(|_| ())
}

/// Places told to `user_id` since `since_ms` (the indexed no-repeat query).
pub async fn told_places(
    db: &DatabaseConnection,
    user_id: i64,
    since_ms: i64,
) -> Result<Vec<String>, DbErr> {
    fact_delivery::Entity::find()
        .select_only()
        .column(fact_delivery::Column::PlaceId)
        .distinct()
        .filter(fact_delivery::Column::UserId.eq(user_id))
        .filter(fact_delivery::Column::DeliveredAt.gte(since_ms))
        .into_tuple()
        .all(db)
        .await
}

/// Forgets a user's preferences and history: the places told and the tours walked.
pub async fn reset_user(db: &DatabaseConnection, user_id: i64) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    user_preferences::Entity::delete_by_id(user_id)
        .exec(&txn)
        .await?;
    fact_delivery::Entity::delete_many()
        .filter(fact_delivery::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    user_hint::Entity::delete_many()
        .filter(user_hint::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    tour::Entity::delete_many()
        .filter(tour::Column::UserId.eq(user_id))
        .exec(&txn)
        .await?;
    txn.commit().await
}

/// Records that `user_id` is shown `hint` now; `true` only the first time (the row's insert
/// decides, so two stories at once still show it once).
pub async fn first_hint(
    db: &DatabaseConnection,
    user_id: i64,
    hint: &str,
    at: i64,
) -> Result<bool, DbErr> {
    let row = user_hint::ActiveModel {
        user_id: Set(user_id),
        hint: Set(hint.to_owned()),
        shown_at: Set(at),
    };
    let inserted = user_hint::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([user_hint::Column::UserId, user_hint::Column::Hint])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// The admin's figures at `now_ms`.
pub async fn stats(db: &DatabaseConnection, now_ms: i64) -> Result<DbStats, DbErr> {
    let day_ago = now_ms - DAY_MS;
    let users_total = user::Entity::find().count(db).await?;
    let users_active_24h = user::Entity::find()
        .filter(user::Column::LastSeenAt.gte(day_ago))
        .count(db)
        .await?;
    let users_new_24h = user::Entity::find()
        .filter(user::Column::FirstSeenAt.gte(day_ago))
        .count(db)
        .await?;
    let mut latencies: Vec<i64> = fact_delivery::Entity::find()
        .select_only()
        .column(fact_delivery::Column::LatencyMs)
        .filter(fact_delivery::Column::DeliveredAt.gte(now_ms - HOUR_MS))
        .into_tuple()
        .all(db)
        .await?;
    latencies.sort_unstable();
    Ok(DbStats {
        users_total,
        users_active_24h,
        users_new_24h,
        facts_24h: source_counts(db, Some(day_ago)).await?,
        facts_total: source_counts(db, None).await?,
        latency_p50_ms: percentile(&latencies, 50),
        latency_p95_ms: percentile(&latencies, 95),
    })
}

async fn source_counts(
    db: &impl ConnectionTrait,
    since: Option<i64>,
) -> Result<SourceCounts, DbErr> {
    let mut query = fact_delivery::Entity::find()
        .select_only()
        .column(fact_delivery::Column::Source)
        .column_as(fact_delivery::Column::Id.count(), "n")
        .group_by(fact_delivery::Column::Source);
    if let Some(since) = since {
        query = query.filter(fact_delivery::Column::DeliveredAt.gte(since));
    }
    let rows: Vec<(String, i64)> = query.into_tuple().all(db).await?;
    let mut counts = SourceCounts::default();
    for (source, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match source.as_str() {
            "cache" => counts.cache += n,
            "llm" => counts.llm += n,
            _ => counts.fallback += n,
        }
    }
    Ok(counts)
}

/// A user's own figures.
pub async fn user_stats(db: &DatabaseConnection, user_id: i64) -> Result<UserStats, DbErr> {
    let facts = fact_delivery::Entity::find()
        .filter(fact_delivery::Column::UserId.eq(user_id))
        .count(db)
        .await?;
    let places = told_places(db, user_id, 0).await?.len();
    let walked: Option<Option<f64>> = tour::Entity::find()
        .select_only()
        .column_as(tour::Column::DistanceWalkedM.sum(), "walked")
        .filter(tour::Column::UserId.eq(user_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(UserStats {
        facts,
        places: u64::try_from(places).unwrap_or(0),
        distance_walked_m: walked.flatten().unwrap_or(0.0),
    })
}

/// The `pct`th percentile of sorted values (nearest rank).
pub fn percentile(sorted: &[i64], pct: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50), Some(50));
        assert_eq!(percentile(&values, 95), Some(95));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }
}
