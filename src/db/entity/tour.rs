//! A finished tour, for a user's distance walked.

use sea_orm::entity::prelude::*;

/// One row of `tours`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tours")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Telegram user id.
    pub user_id: i64,
    /// Tour start (Unix ms).
    pub started_at: i64,
    /// Tour end (Unix ms).
    pub ended_at: i64,
    /// Stories told.
    pub stories_told: i32,
    /// Metres walked.
    pub distance_walked_m: f64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
