//! `users` (who talks to the bot) and `user_preferences` (what they chose in /settings).
//!
//! No foreign key from preferences to users: user rows are written behind (batched), so a
//! preference may legitimately arrive first.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `users` and `user_preferences`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_integer(Users::Id).primary_key())
                    .col(text(Users::FirstName))
                    .col(text_null(Users::LastName))
                    .col(text_null(Users::Username))
                    .col(text_null(Users::LanguageCode))
                    .col(big_integer(Users::FirstSeenAt))
                    .col(big_integer(Users::LastSeenAt))
                    .col(big_integer_null(Users::BlockedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_users_last_seen_at", Users::LastSeenAt),
            ("idx_users_first_seen_at", Users::FirstSeenAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Users::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(UserPreferences::Table)
                    .if_not_exists()
                    .col(big_integer(UserPreferences::UserId).primary_key())
                    .col(text_null(UserPreferences::Language))
                    .col(integer(UserPreferences::LiveIntervalMin).default(10))
                    .col(integer(UserPreferences::RadiusM).default(1000))
                    .col(boolean(UserPreferences::Photos).default(true))
                    .col(big_integer(UserPreferences::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserPreferences::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    FirstName,
    LastName,
    Username,
    LanguageCode,
    FirstSeenAt,
    LastSeenAt,
    BlockedAt,
}

#[derive(DeriveIden)]
enum UserPreferences {
    Table,
    UserId,
    Language,
    LiveIntervalMin,
    RadiusM,
    Photos,
    UpdatedAt,
}
