//! `fact_deliveries`: who was told which place, when, from where the story came, how fast.
//! Indexed for the no-repeat check (user, time) and for `/stats` (time).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `fact_deliveries`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FactDeliveries::Table)
                    .if_not_exists()
                    .col(big_pk_auto(FactDeliveries::Id))
                    .col(big_integer(FactDeliveries::UserId))
                    .col(text(FactDeliveries::PlaceId))
                    .col(text(FactDeliveries::PlaceTitle))
                    .col(double(FactDeliveries::Lat))
                    .col(double(FactDeliveries::Lon))
                    .col(text(FactDeliveries::Source))
                    .col(big_integer(FactDeliveries::LatencyMs))
                    .col(big_integer(FactDeliveries::DeliveredAt))
                    .to_owned(),
            )
            .await?;
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
            .create_index(
                Index::create()
                    .name("idx_fact_deliveries_time")
                    .table(FactDeliveries::Table)
                    .col(FactDeliveries::DeliveredAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FactDeliveries::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum FactDeliveries {
    Table,
    Id,
    UserId,
    PlaceId,
    PlaceTitle,
    Lat,
    Lon,
    Source,
    LatencyMs,
    DeliveredAt,
}
