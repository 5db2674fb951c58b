//! Donations in Telegram Stars: credited once per Telegram charge, thanked once, refunded
//! once. Every write here runs at once, in a transaction, never write-behind: a star must
//! never be lost or counted twice.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect, TransactionTrait, sea_query::OnConflict,
};

use super::entity::donation;

/// A payment as Telegram reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// Telegram's unique `telegram_payment_charge_id`.
    pub charge_id: String,
    /// The donor.
    pub user_id: i64,
    /// Stars paid.
    pub stars: u32,
    /// When it arrived (Unix ms).
    pub paid_at: i64,
}

/// What crediting a payment found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credit {
    /// Credited now, or credited before and never thanked: thank the donor.
    Thank,
    /// Credited and thanked before (a repeated delivery): nothing to do.
    AlreadyThanked,
}

/// Donation figures for `/stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DonationStats {
    /// Donations ever (refunded ones included).
    pub count: u64,
    /// Stars in the last 24 hours, refunds excluded.
    pub stars_24h: u64,
    /// Stars ever, refunds excluded.
    pub stars_total: u64,
    /// Donations refunded.
    pub refunds: u64,
}

/// Credits `payment` once: a second delivery of the same charge finds its row.
pub async fn credit(db: &DatabaseConnection, payment: Payment) -> Result<Credit, DbErr> {
    let txn = db.begin().await?;
    let row = donation::ActiveModel {
        charge_id: Set(payment.charge_id.clone()),
        user_id: Set(payment.user_id),
        stars: Set(i32::try_from(payment.stars).unwrap_or(i32::MAX)),
        paid_at: Set(payment.paid_at),
        thanked_at: Set(None),
        refunded_at: Set(None),
    };
    donation::Entity::insert(row)
        .on_conflict(
            OnConflict::column(donation::Column::ChargeId)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let stored = donation::Entity::find_by_id(payment.charge_id)
        .one(&txn)
        .await?;
    txn.commit().await?;
    Ok(match stored.and_then(|row| row.thanked_at) {
        Some(_) => Credit::AlreadyThanked,
        None => Credit::Thank,
    })
}

/// Records that the donor was thanked for `charge_id`.
pub async fn mark_thanked(db: &DatabaseConnection, charge_id: &str, at: i64) -> Result<(), DbErr> {
    donation::Entity::update_many()
        .col_expr(donation::Column::ThankedAt, at.into())
        .filter(donation::Column::ChargeId.eq(charge_id))
        .exec(db)
        .await
        .map(|_| ())
}

/// The donation of `charge_id`, if we know it.
pub async fn find(
    db: &DatabaseConnection,
    charge_id: &str,
) -> Result<Option<donation::Model>, DbErr> {
    donation::Entity::find_by_id(charge_id.to_owned())
        .one(db)
        .await
}

/// Records that `charge_id` was refunded (once: a second refund keeps the first time).
pub async fn mark_refunded(db: &DatabaseConnection, charge_id: &str, at: i64) -> Result<(), DbErr> {
    donation::Entity::update_many()
        .col_expr(donation::Column::RefundedAt, at.into())
        .filter(donation::Column::ChargeId.eq(charge_id))
        .filter(donation::Column::RefundedAt.is_null())
        .exec(db)
        .await
        .map(|_| ())
}

/// Stars `user_id` gave since `since_ms` (Unix ms), refunds excluded.
pub async fn stars_since(
    db: &DatabaseConnection,
    user_id: i64,
    since_ms: i64,
) -> Result<u64, DbErr> {
    let sum: Option<Option<i64>> = donation::Entity::find()
        .select_only()
        .column_as(donation::Column::Stars.sum(), "stars")
        .filter(donation::Column::UserId.eq(user_id))
        .filter(donation::Column::PaidAt.gte(since_ms))
        .filter(donation::Column::RefundedAt.is_null())
        .into_tuple()
        .one(db)
        .await?;
    Ok(sum
        .flatten()
        .map_or(0, |stars| u64::try_from(stars).unwrap_or(0)))
}

/// The figures of every donation, the last 24 hours' from `day_ago_ms`.
pub async fn stats(db: &DatabaseConnection, day_ago_ms: i64) -> Result<DonationStats, DbErr> {
    let count = donation::Entity::find().count(db).await?;
    let refunds = donation::Entity::find()
        .filter(donation::Column::RefundedAt.is_not_null())
        .count(db)
        .await?;
    let stars = |since: i64| async move {
        let sum: Option<Option<i64>> = donation::Entity::find()
            .select_only()
            .column_as(donation::Column::Stars.sum(), "stars")
            .filter(donation::Column::PaidAt.gte(since))
            .filter(donation::Column::RefundedAt.is_null())
            .into_tuple()
            .one(db)
            .await?;
        Ok::<_, DbErr>(
            sum.flatten()
                .map_or(0, |stars| u64::try_from(stars).unwrap_or(0)),
        )
    };
    Ok(DonationStats {
        count,
        stars_24h: stars(day_ago_ms).await?,
        stars_total: stars(0).await?,
        refunds,
    })
}
