//! A delivery is recorded once: `fact_deliveries` gets a unique index on (`user_id`,
//! `delivered_at`, `place_id`), so a write retried after a failure the database may still
//! have committed (a connection cut mid-answer) finds its row instead of adding a second one.
//! Rows such retries already doubled are removed first (the oldest of each is kept).

use sea_orm_migration::prelude::*;

/// Replaces `idx_fact_deliveries_user_time` with the unique `idx_fact_deliveries_once` (its
/// leading columns serve the same per-user, per-time queries).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "DELETE FROM fact_deliveries WHERE id NOT IN \
                 (SELECT MIN(id) FROM fact_deliveries GROUP BY user_id, delivered_at, place_id)",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_fact_deliveries_once")
                    .table(FactDeliveries::Table)
                    .col(FactDeliveries::UserId)
                    .col(FactDeliveries::DeliveredAt)
                    .col(FactDeliveries::PlaceId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_fact_deliveries_user_time")
                    .table(FactDeliveries::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_fact_deliveries_user_time")
                    .table(FactDeliveries::Table)
                    .col(FactDeliveries::UserId)
                    .col(FactDeliveries::DeliveredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_fact_deliveries_once")
                    .table(FactDeliveries::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum FactDeliveries {
    Table,
    /// Telegram user id.
    UserId,
    /// The place's id.
    PlaceId,
    /// When it was told (Unix ms).
    DeliveredAt,
}
