//! A donation in Telegram Stars.

use sea_orm::entity::prelude::*;

/// One row of `donations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "donations")]
pub struct Model {
    /// Telegram's unique `telegram_payment_charge_id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub charge_id: String,
    /// The donor's Telegram user id.
    pub user_id: i64,
    /// Stars paid.
    pub stars: i32,
    /// When the payment arrived (Unix ms).
    pub paid_at: i64,
    /// When the thank-you was sent (Unix ms).
    pub thanked_at: Option<i64>,
    /// When it was refunded (Unix ms).
    pub refunded_at: Option<i64>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
