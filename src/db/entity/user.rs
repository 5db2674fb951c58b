//! A Telegram user who wrote to the bot (times in Unix milliseconds).

use sea_orm::entity::prelude::*;

/// One row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Telegram user id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    /// First name as Telegram gave it.
    pub first_name: String,
    /// Last name, if any.
    pub last_name: Option<String>,
    /// @username, if any.
    pub username: Option<String>,
    /// Telegram's IETF language tag.
    pub language_code: Option<String>,
    /// First update from this user.
    pub first_seen_at: i64,
    /// Latest update from this user.
    pub last_seen_at: i64,
    /// When Telegram said the user blocked the bot; cleared when they write again.
    pub blocked_at: Option<i64>,
}

/// No relations: rows are written behind, in batches.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
