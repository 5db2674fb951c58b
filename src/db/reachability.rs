//! Whether the database answered lately, shared by everything that queries it.
//!
//! While the database is unreachable the pool retries a refused connection until its acquire
//! timeout (3 s), so every query would hold its caller that long: a location's preferences,
//! told places and hint reads and its journal entry one after another kept a user waiting
//! 9-12 s, and the webhook's answer 3 s. After one query fails to reach the database, queries
//! fail at once ([`DbError::Unreachable`]) until a probe (a ping every [`PROBE_EVERY`], each
//! given [`PROBE_PATIENCE`]) reaches it again.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use sea_orm::{ConnAcquireErr, DatabaseConnection, DbErr, RuntimeErr};

use super::DbError;

/// How often the probe pings while the database is unreachable.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// Longest one probe waits for its ping.
const PROBE_PATIENCE: Duration = Duration::from_millis(750);

/// The shared reachability of one pool. Cheap to clone.
#[derive(Clone)]
pub struct Reachability {
    db: DatabaseConnection,
    down: Arc<AtomicBool>,
}

impl Reachability {
    /// Reachable until a query says otherwise.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            down: Arc::default(),
        }
    }

    /// Whether queries fail at once now.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// Runs `query` unless the database is known unreachable; a failure to reach it marks it so
    /// and starts the probe.
    pub async fn query<T>(
        &self,
        query: impl Future<Output = Result<T, DbErr>>,
    ) -> Result<T, DbError> {
        if self.is_down() {
            return Err(DbError::Unreachable);
        }
        let result = query.await;
        if let Err(error) = &result {
            self.saw(error);
        }
        result.map_err(DbError::from)
    }

    /// Takes note of an error from a query run without [`Self::query`].
    pub fn saw(&self, error: &DbErr) {
        if unreachable(error) {
            self.went_down();
        }
    }

    fn went_down(&self) {
        if self.down.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("the database is unreachable: queries fail at once until it answers");
        let (db, down) = (self.db.clone(), Arc::clone(&self.down));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                match tokio::time::timeout(PROBE_PATIENCE, db.ping()).await {
                    Ok(Ok(())) => break,
                    // Closed at shutdown: nothing will query it again.
                    Ok(Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))) => return,
                    _ => {}
                }
            }
            down.store(false, Ordering::Release);
            tracing::info!("the database answers again");
        });
    }
}

/// Whether `error` says the database could not be reached (rather than refusing a query).
fn unreachable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(error)) | DbErr::Query(RuntimeErr::SqlxError(error)) => {
            matches!(
                error.as_ref(),
                sea_orm::sqlx::Error::Io(_)
                    | sea_orm::sqlx::Error::PoolTimedOut
                    | sea_orm::sqlx::Error::Tls(_)
            )
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn after_a_query_fails_to_reach_the_database_the_next_fails_at_once_until_it_answers() {
        let db = crate::db::connect("sqlite::memory:", 1).await.unwrap();
        let reach = Reachability::new(db);
        let unreachable = DbErr::ConnectionAcquire(ConnAcquireErr::Timeout);

        let first = reach.query(async { Err::<(), _>(unreachable) }).await;
        assert!(matches!(first, Err(DbError::Query(_))));
        let mut ran = false;
        let second = reach
            .query(async {
                ran = true;
                Ok(())
            })
            .await;
        assert!(matches!(second, Err(DbError::Unreachable)));
        assert!(!ran, "not tried while unreachable");

        // The probe's ping reaches the (in-memory) database.
        tokio::time::timeout(Duration::from_secs(5), async {
            while reach.is_down() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap();
        assert!(reach.query(async { Ok(()) }).await.is_ok());
    }

    #[tokio::test]
    async fn a_refused_query_does_not_mark_the_database_unreachable() {
        let db = crate::db::connect("sqlite::memory:", 1).await.unwrap();
        let reach = Reachability::new(db);

        let refused = reach
            .query(async { Err::<(), _>(DbErr::RecordNotInserted) })
            .await;
        assert!(matches!(refused, Err(DbError::Query(_))));
        assert!(!reach.is_down());
    }
}
