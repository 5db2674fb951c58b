//! A one-time hint a user was given.

use sea_orm::entity::prelude::*;

/// One row of `user_hints`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_hints")]
pub struct Model {
    /// Telegram user id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// Which hint.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hint: String,
    /// When it was shown (Unix ms).
    pub shown_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
