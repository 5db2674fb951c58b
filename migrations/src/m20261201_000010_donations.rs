//! `donations`: Telegram Stars given to the bot, one row per payment, keyed by Telegram's
//! unique `telegram_payment_charge_id`, so a payment delivered twice is credited once.
//! Indexed for `/stats` (the last 24 hours) and for a donor's total and their perk (their
//! donations of the last 30 days).

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `donations`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Donations::Table)
                    .if_not_exists()
                    .col(text(Donations::ChargeId).primary_key())
                    .col(big_integer(Donations::UserId))
                    .col(integer(Donations::Stars))
                    .col(big_integer(Donations::PaidAt))
                    .col(big_integer_null(Donations::ThankedAt))
                    .col(big_integer_null(Donations::RefundedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_donations_paid_at")
                    .table(Donations::Table)
                    .col(Donations::PaidAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_donations_user_paid_at")
                    .table(Donations::Table)
                    .col(Donations::UserId)
                    .col(Donations::PaidAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Donations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Donations {
    Table,
    /// Telegram's `telegram_payment_charge_id`.
    ChargeId,
    /// The donor.
    UserId,
    /// Stars paid.
    Stars,
    /// When the payment arrived (Unix ms).
    PaidAt,
    /// When the thank-you was sent (Unix ms); null until then.
    ThankedAt,
    /// When the payment was refunded (Unix ms); null unless refunded.
    RefundedAt,
}
