//! `user_hints`: the one-time hints a user was given (one row per user and hint), so a hint
//! is shown once, across restarts and instances: the insert that finds its row tells.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `user_hints`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserHints::Table)
                    .if_not_exists()
                    .col(big_integer(UserHints::UserId))
                    .col(text(UserHints::Hint))
                    .col(big_integer(UserHints::ShownAt))
                    .primary_key(Index::create().col(UserHints::UserId).col(UserHints::Hint))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserHints::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum UserHints {
    Table,
    /// Telegram user id.
    UserId,
    /// Which hint (`live_location`).
    Hint,
    /// When it was shown (Unix ms).
    ShownAt,
}
