//! One story delivered to one user.

use sea_orm::entity::prelude::*;

/// One row of `fact_deliveries`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "fact_deliveries")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Telegram user id.
    pub user_id: i64,
    /// Stable place id (`en:12345`).
    pub place_id: String,
    /// Place title at the time.
    pub place_title: String,
    /// Place latitude.
    pub lat: f64,
    /// Place longitude.
    pub lon: f64,
    /// `cache`, `llm` or `fallback`.
    pub source: String,
    /// From the location arriving to the story sent, in milliseconds.
    pub latency_ms: i64,
    /// When it was sent (Unix ms).
    pub delivered_at: i64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
