//! excursobot's schema, as sea-orm migrations. The same [`Migrator`] runs on SQLite (the
//! embedded default) and PostgreSQL (production); every query `/stats` and the no-repeat check
//! run has an index here.
//!
//! Times are stored as Unix milliseconds (`BIGINT`), identical on both databases and compared
//! with plain integer ranges.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_users;
mod m20261122_000002_fact_deliveries;
mod m20261122_000003_live_sessions;
mod m20261201_000010_donations;
mod m20261201_000011_user_hints;
mod m20261201_000012_journal;
mod m20261201_000013_tours_once;
mod m20261201_000014_deliveries_once;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_users::Migration),
            Box::new(m20261122_000002_fact_deliveries::Migration),
            Box::new(m20261122_000003_live_sessions::Migration),
            Box::new(m20261201_000010_donations::Migration),
            Box::new(m20261201_000011_user_hints::Migration),
            Box::new(m20261201_000012_journal::Migration),
            Box::new(m20261201_000013_tours_once::Migration),
            Box::new(m20261201_000014_deliveries_once::Migration),
        ]
    }
}
