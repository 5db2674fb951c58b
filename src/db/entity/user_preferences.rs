//! What a user chose in /settings.

use sea_orm::entity::prelude::*;

/// One row of `user_preferences`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_preferences")]
pub struct Model {
    /// Telegram user id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// Chosen language code (`ru`, `en`); `None` follows Telegram's.
    pub language: Option<String>,
    /// Default minutes between tour stories.
    pub live_interval_min: i32,
    /// Search radius in metres.
    pub radius_m: i32,
    /// Whether stories come with the place's photo.
    pub photos: bool,
    /// Last change (Unix ms).
    pub updated_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
