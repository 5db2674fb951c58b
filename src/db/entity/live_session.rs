//! A tour in progress, one row per user (times in Unix milliseconds).

use sea_orm::entity::prelude::*;

/// One row of `live_sessions`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "live_sessions")]
pub struct Model {
    /// Telegram user id (one tour per user).
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// The private chat the tour talks in.
    pub chat_id: i64,
    /// Language code of the tour.
    pub lang: String,
    /// Seconds between ticks.
    pub interval_secs: i32,
    /// Tour start.
    pub started_at: i64,
    /// When Telegram stops the live location; `None` until stopped.
    pub expires_at: Option<i64>,
    /// Last live update, moved forward by story-writing time and downtime.
    pub last_activity_at: i64,
    /// Next tick.
    pub next_tick_at: i64,
    /// When the row was written (measures downtime on restore).
    pub saved_at: i64,
    /// Latest latitude.
    pub lat: f64,
    /// Latest longitude.
    pub lon: f64,
    /// Telegram's date of that position (Unix seconds).
    pub position_date: i64,
    /// Direction of movement, degrees.
    pub heading: Option<i32>,
    /// Where the last story was told (latitude).
    pub last_story_lat: Option<f64>,
    /// Where the last story was told (longitude).
    pub last_story_lon: Option<f64>,
    /// How far the last story's place was.
    pub last_place_distance_m: Option<f64>,
    /// Stories sent in this tour.
    pub stories_told: i32,
    /// Metres walked.
    pub distance_walked_m: f64,
    /// Where the distance walked was last measured from (latitude).
    pub anchor_lat: f64,
    /// Where the distance walked was last measured from (longitude).
    pub anchor_lon: f64,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
