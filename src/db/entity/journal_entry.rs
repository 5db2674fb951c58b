//! An acknowledged update whose work is not finished.

use sea_orm::entity::prelude::*;

/// One row of `journal`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal")]
pub struct Model {
    /// Telegram's `update_id`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub update_id: i64,
    /// The update as JSON.
    pub body: String,
    /// When it was acknowledged (Unix ms).
    pub received_at: i64,
    /// How many start-ups claimed it for replay.
    pub attempts: i32,
    /// When a start-up last claimed it (Unix ms).
    pub claimed_at: Option<i64>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
