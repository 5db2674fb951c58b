//! sea-orm entities, one per table created in `migrations/`.

pub mod donation;
pub mod fact_delivery;
pub mod journal_entry;
pub mod live_session;
pub mod tour;
pub mod user;
pub mod user_hint;
pub mod user_preferences;
