//! `journal`: updates acknowledged to Telegram whose work is not finished yet. A row is
//! written before the webhook answers 200 and deleted once the update's replies were sent; the
//! rows left at start-up are what a stop or a crash interrupted, and are handled again.

use sea_orm_migration::{prelude::*, schema::*};

/// Creates `journal`.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Journal::Table)
                    .if_not_exists()
                    .col(big_integer(Journal::UpdateId).primary_key())
                    .col(text(Journal::Body))
                    .col(big_integer(Journal::ReceivedAt))
                    .col(integer(Journal::Attempts).default(0))
                    .col(big_integer_null(Journal::ClaimedAt))
                    .to_owned(),
            )
            .await?;
        // The replay claims the oldest entries first, and the age gauge reads the oldest.
        manager
            .create_index(
                Index::create()
                    .name("idx_journal_received_at")
                    .table(Journal::Table)
                    .col(Journal::ReceivedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Journal::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Journal {
    Table,
    /// Telegram's `update_id`.
    UpdateId,
    /// The update as JSON.
    Body,
    /// When it was acknowledged (Unix ms).
    ReceivedAt,
    /// How many start-ups claimed it (a crash loop on one update ends after a few).
    Attempts,
    /// When a start-up last claimed it for replay (Unix ms).
    ClaimedAt,
}
