//! A finished tour is recorded once: `tours` gets a unique index on (`user_id`,
//! `started_at`), so a write retried after a failure the database may still have committed
//! (a connection cut mid-answer) finds its row instead of adding a second one.

use sea_orm_migration::prelude::*;

/// Replaces `idx_tours_user` with the unique `idx_tours_user_start` (it serves the same
/// per-user queries).
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_tours_user_start")
                    .table(Tours::Table)
                    .col(Tours::UserId)
                    .col(Tours::StartedAt)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tours_user")
                    .table(Tours::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_tours_user")
                    .table(Tours::Table)
                    .col(Tours::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_tours_user_start")
                    .table(Tours::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tours {
    Table,
    /// Telegram user id.
    UserId,
    /// When the tour started (Unix ms).
    StartedAt,
}
