//! The database: connecting (SQLite by default, PostgreSQL in production), migrating, and the
//! queries the `DbActor` runs. Times are Unix milliseconds.

pub mod donations;
pub mod entity;
pub mod journal;
pub mod queries;
pub mod reachability;
pub mod sessions;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

/// SQLite waits this long for a lock instead of failing at once.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// SQLite page cache per connection, in KiB (SQLite's default is 2,000; the bot's working set
/// is small, and memory is budgeted).
const SQLITE_CACHE_KIB: i64 = 1024;
/// Longest wait for a pooled connection or a new one.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Why a database operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DbError {
    /// The database answered with an error or could not be reached.
    #[error("database query failed")]
    Query(#[from] DbErr),
    /// The `DbActor` is gone (shutting down).
    #[error("database actor unavailable")]
    Unavailable,
    /// Not tried: the database could not be reached lately ([`reachability`]).
    #[error("database unreachable")]
    Unreachable,
}

/// Opens the pool for `url` with at most `pool_max` connections (SQLite: WAL, busy timeout).
pub async fn connect(url: &str, pool_max: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(pool_max)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false);
    if crate::config::is_sqlite(url) {
        options.map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
        });
    }
    Database::connect(options).await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
