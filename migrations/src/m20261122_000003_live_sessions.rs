//! `live_sessions` (tours in progress, restored with their timers at start-up) and `tours`
//! (finished tours, for a user's distance walked in `/stats`).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `live_sessions` and `tours`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LiveSessions::Table)
                    .if_not_exists()
                    .col(big_integer(LiveSessions::UserId).primary_key())
                    .col(big_integer(LiveSessions::ChatId))
                    .col(text(LiveSessions::Lang))
                    .col(integer(LiveSessions::IntervalSecs))
                    .col(big_integer(LiveSessions::StartedAt))
                    .col(big_integer_null(LiveSessions::ExpiresAt))
                    .col(big_integer(LiveSessions::LastActivityAt))
                    .col(big_integer(LiveSessions::NextTickAt))
                    .col(big_integer(LiveSessions::SavedAt))
                    .col(double(LiveSessions::Lat))
                    .col(double(LiveSessions::Lon))
                    .col(big_integer(LiveSessions::PositionDate))
                    .col(integer_null(LiveSessions::Heading))
                    .col(double_null(LiveSessions::LastStoryLat))
                    .col(double_null(LiveSessions::LastStoryLon))
                    .col(double_null(LiveSessions::LastPlaceDistanceM))
                    .col(integer(LiveSessions::StoriesTold))
                    .col(double(LiveSessions::DistanceWalkedM))
                    .col(double(LiveSessions::AnchorLat))
                    .col(double(LiveSessions::AnchorLon))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tours::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Tours::Id))
                    .col(big_integer(Tours::UserId))
                    .col(big_integer(Tours::StartedAt))
                    .col(big_integer(Tours::EndedAt))
                    .col(integer(Tours::StoriesTold))
                    .col(double(Tours::DistanceWalkedM))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tours_user")
                    .table(Tours::Table)
                    .col(Tours::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tours::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LiveSessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LiveSessions {
    Table,
    UserId,
    ChatId,
    Lang,
    IntervalSecs,
    StartedAt,
    ExpiresAt,
    LastActivityAt,
    NextTickAt,
    SavedAt,
    Lat,
    Lon,
    PositionDate,
    Heading,
    LastStoryLat,
    LastStoryLon,
    LastPlaceDistanceM,
    StoriesTold,
    DistanceWalkedM,
    AnchorLat,
    AnchorLon,
}

#[derive(DeriveIden)]
enum Tours {
    Table,
    Id,
    UserId,
    StartedAt,
    EndedAt,
    StoriesTold,
    DistanceWalkedM,
}
