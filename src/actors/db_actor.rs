//! The `DbActor`: owns the sea-orm pool and the write-behind buffer.
//!
//! High-volume rows (users seen, stories delivered) are buffered and written as one multi-row
//! INSERT per table every [`FLUSH_EVERY`] or when [`FLUSH_AT_ROWS`] rows wait, and on
//! [`Flush`] at shutdown. A failed write puts its rows back and retries with back-off, so a
//! database outage loses nothing (up to [`MAX_BUFFERED_ROWS`]) and never blocks a reply.
//! Reads and preference changes run at once. No handler awaits the database inside the actor:
//! each returns a future over a clone of the pool, and flush results come back into the actor
//! through `ActorFuture::map`.

mod buffer;
mod donations;
mod queries_at_once;

use std::time::{Duration, Instant};

use actix::prelude::*;
use sea_orm::{ConnAcquireErr, DatabaseConnection, DbErr};

use crate::actors::supervision::contained;
use crate::telemetry::traces::SenderSpan;
use crate::{
    db::{
        DbError,
        entity::user_preferences,
        queries::{self, DbStats, Delivery, FinishedTour, UserSeen, UserStats},
        reachability::Reachability,
    },
    stats::{ErrorLog, Metrics, registry::names},
};
use buffer::{Batch, WriteBuffer};

pub use donations::{
    CreditDonation, DonationFigures, DonorStars, FindDonation, MarkRefunded, MarkThanked,
};

/// How often buffered rows are written.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Buffered rows that trigger a write at once.
pub const FLUSH_AT_ROWS: usize = 100;
/// Rows kept while the database is unreachable; past this the oldest deliveries are dropped.
pub const MAX_BUFFERED_ROWS: usize = 100_000;
/// First pause after a failed write; doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest pause between write attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Longest a readiness ping may take.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// A user wrote to the bot (buffered, coalesced per user).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SeenUser(pub UserSeen);

/// A story was delivered (buffered).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Delivered(pub Delivery);

/// A story was delivered for a journaled update: written at once, so the place is on record
/// before the update leaves the journal. When the write fails the row goes to the buffer
/// (retried like any other) and the error is returned.
#[derive(Message)]
#[rtype(result = "Result<(), DbError>")]
pub struct DeliveredNow(pub Delivery);

/// Telegram said this user blocked the bot (written at once, not awaited).
#[derive(Message)]
#[rtype(result = "()")]
pub struct MarkBlocked {
    /// Telegram user id.
    pub user_id: i64,
}

/// A tour ended (written at once, not awaited: one row per tour).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RecordTour(pub FinishedTour);

/// Reads a user's preferences.
#[derive(Message)]
#[rtype(result = "Result<Option<user_preferences::Model>, DbError>")]
pub struct LoadPreferences {
    /// Telegram user id.
    pub user_id: i64,
    /// The asker's span; the query's span follows from it.
    pub sender: SenderSpan,
}

/// Saves a user's preferences at once.
#[derive(Message)]
#[rtype(result = "Result<(), DbError>")]
pub struct SavePreferences(pub user_preferences::Model);

/// Reads the places told to a user since a time (Unix ms).
#[derive(Message)]
#[rtype(result = "Result<Vec<String>, DbError>")]
pub struct LoadToldPlaces {
    /// Telegram user id.
    pub user_id: i64,
    /// Oldest delivery that counts.
    pub since_ms: i64,
    /// The asker's span; the query's span follows from it.
    pub sender: SenderSpan,
}

/// Records that a user is shown a one-time hint; answers whether it is the first time.
#[derive(Message)]
#[rtype(result = "Result<bool, DbError>")]
pub struct FirstHint {
    /// Telegram user id.
    pub user_id: i64,
    /// Which hint.
    pub hint: &'static str,
    /// The asker's span; the query's span follows from it.
    pub sender: SenderSpan,
}

/// Forgets a user's preferences and history (including rows still buffered).
#[derive(Message)]
#[rtype(result = "Result<(), DbError>")]
pub struct ResetUser {
    /// Telegram user id.
    pub user_id: i64,
}

/// The admin's figures.
#[derive(Message)]
#[rtype(result = "Result<DbStats, DbError>")]
pub struct AdminStats;

/// A user's own figures.
#[derive(Message)]
#[rtype(result = "Result<UserStats, DbError>")]
pub struct OwnStats {
    /// Telegram user id.
    pub user_id: i64,
}

/// Writes everything buffered now (shutdown); `Err` if the database refused.
#[derive(Message)]
#[rtype(result = "Result<(), DbError>")]
pub struct Flush;

/// A write of buffered rows ended; carries the rows that were not written.
#[derive(Message)]
#[rtype(result = "()")]
struct Written {
    failed: Option<(Batch, DbError)>,
    /// A periodic write (at most one runs at a time), not a [`Flush`].
    periodic: bool,
    /// Rows it took out of the buffer.
    rows: usize,
    /// When it started.
    started: Instant,
}

/// Whether the database answers (readiness).
#[derive(Message)]
#[rtype(result = "bool")]
pub struct Ping;

/// Rows waiting to be written: in the buffer and in the writes in flight (for `/metrics`).
#[derive(Message)]
#[rtype(result = "usize")]
pub struct BufferedRows;

/// What the buffer's writes are measured with.
struct FlushFigures {
    duration: metrics::Histogram,
    failures: metrics::Counter,
}

/// Owner of the pool and the buffer.
pub struct DbActor {
    db: DatabaseConnection,
    /// Shared with the journal: queries fail at once while the database is unreachable.
    reach: Reachability,
    buffer: WriteBuffer,
    /// A periodic write is in flight (at most one at a time).
    flushing: bool,
    /// [`Flush`] was asked for (shutdown): no periodic write starts any more.
    closing: bool,
    /// Rows taken out of the buffer by the writes in flight: still waiting to be written.
    writing_rows: usize,
    /// [`Self::writing_rows`], watched by [`Flush`], which waits for the writes in flight.
    in_flight: tokio::sync::watch::Sender<usize>,
    /// Consecutive failed writes, for back-off.
    failures: u32,
    /// No periodic write before this.
    next_attempt: Instant,
    errors: ErrorLog,
    figures: FlushFigures,
}

impl DbActor {
    /// An actor over `db` (whose reachability `reach` tracks), reporting failures to
    /// `errors`.
    pub fn new(db: DatabaseConnection, reach: Reachability, errors: ErrorLog) -> Self {
        Self {
            db,
            reach,
            buffer: WriteBuffer::new(MAX_BUFFERED_ROWS),
            flushing: false,
            closing: false,
            writing_rows: 0,
            in_flight: tokio::sync::watch::Sender::new(0),
            failures: 0,
            next_attempt: Instant::now(),
            errors,
            figures: FlushFigures::new(&Metrics::default()),
        }
    }

    /// Measures the buffer's writes in `metrics`.
    pub fn with_metrics(mut self, metrics: &Metrics) -> Self {
        self.figures = FlushFigures::new(metrics);
        self
    }

    /// Runs the query `make` builds over a clone of the pool, in a future of its own (so the
    /// mailbox never waits on it), at once or, while the database is unreachable, not at all.
    fn at_once<T, F>(
        &self,
        ctx: &mut Context<Self>,
        make: impl FnOnce(DatabaseConnection) -> F,
    ) -> ResponseFuture<Result<T, DbError>>
    where
        T: 'static,
        F: Future<Output = Result<T, DbErr>> + 'static,
    {
        self.at_once_in(tracing::Span::none(), ctx, make)
    }

    /// [`Self::at_once`] inside `span`.
    fn at_once_in<T, F>(
        &self,
        span: tracing::Span,
        ctx: &mut Context<Self>,
        make: impl FnOnce(DatabaseConnection) -> F,
    ) -> ResponseFuture<Result<T, DbError>>
    where
        T: 'static,
        F: Future<Output = Result<T, DbErr>> + 'static,
    {
        let (reach, query) = (self.reach.clone(), make(self.db.clone()));
        contained(
            ctx,
            tracing::Instrument::instrument(async move { reach.query(query).await }, span),
        )
    }

    /// Starts a periodic write unless one runs, the buffer is empty, or we are backing off.
    fn flush(&mut self, ctx: &mut Context<Self>) {
        if self.flushing
            || self.closing
            || self.buffer.is_empty()
            || Instant::now() < self.next_attempt
        {
            return;
        }
        self.flushing = true;
        let batch = self.buffer.take();
        // Not awaited: the write runs anyway and reports back through `Written`.
        drop(self.write(batch, true, ctx));
    }

    /// Writes `batch` in a task of its own that reports back to the actor's address
    /// ([`Written`]), so a restart of the actor while it runs loses none of its rows (a
    /// future on the actor's context would be dropped with them). Completes with the
    /// write's outcome.
    fn write(
        &mut self,
        batch: Batch,
        periodic: bool,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), DbError>> + use<> {
        let (started, rows) = (Instant::now(), batch.len());
        self.writing_rows += rows;
        self.in_flight.send_replace(self.writing_rows);
        let (db, reach, actor) = (self.db.clone(), self.reach.clone(), ctx.address());
        let written = actix_rt::spawn(async move {
            let failed = write_batch(db, &reach, batch).await;
            let outcome = failed
                .as_ref()
                .map_or(Ok(()), |(_, error)| Err(error.clone()));
            actor.do_send(Written {
                failed,
                periodic,
                rows,
                started,
            });
            outcome
        });
        async move { written.await.unwrap_or(Err(DbError::Unavailable)) }
    }

    /// Puts back what failed and sets the back-off.
    fn settle(&mut self, failed: Option<(Batch, DbError)>) {
        match failed {
            None => self.failures = 0,
            // Not tried (the database is known unreachable): cheap to try again soon, and
            // the rows go as soon as the probe reaches the database.
            Some((batch, DbError::Unreachable)) => {
                self.next_attempt = Instant::now() + FIRST_BACKOFF;
                let dropped = self.buffer.put_back(batch);
                if dropped > 0 {
                    tracing::warn!(dropped, "database unreachable and the write buffer full");
                }
            }
            Some((batch, error)) => {
                self.failures += 1;
                let backoff = FIRST_BACKOFF * 2u32.pow(self.failures.min(6));
                self.next_attempt = Instant::now() + backoff.min(MAX_BACKOFF);
                let rows = batch.len();
                let dropped = self.buffer.put_back(batch);
                self.errors.record();
                tracing::warn!(%error, rows, dropped, "database write failed; will retry");
            }
        }
    }
}

impl FlushFigures {
    fn new(metrics: &Metrics) -> Self {
        Self {
            duration: metrics.histogram(names::DB_FLUSH_DURATION, &[]),
            failures: metrics.counter(names::DB_FLUSH_FAILURES, &[]),
        }
    }

    /// A write that began at `started` ended, failed or not.
    fn written(&self, started: Instant, failed: bool) {
        self.duration.record(started.elapsed().as_secs_f64());
        if failed {
            self.failures.increment(1);
        }
    }
}

/// Writes a batch; on failure returns the rows not written with the error.
async fn write_batch(
    db: DatabaseConnection,
    reach: &Reachability,
    mut batch: Batch,
) -> Option<(Batch, DbError)> {
    if !batch.users.is_empty() {
        let users: Vec<UserSeen> = batch.users.values().cloned().collect();
        if let Err(error) = reach.query(queries::upsert_users(&db, users)).await {
            return Some((batch, error));
        }
        batch.users.clear();
    }
    if !batch.deliveries.is_empty() {
        let rows = batch.deliveries.clone();
        if let Err(error) = reach.query(queries::insert_deliveries(&db, rows)).await {
            return Some((batch, error));
        }
    }
    None
}

impl Actor for DbActor {
    type Context = Context<Self>;

    /// Also after a restart: then what the buffer holds is written at once, so an actor that
    /// keeps restarting (its timer starting over each time) still writes.
    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(FLUSH_EVERY, |actor, ctx| actor.flush(ctx));
        self.flush(ctx);
    }
}

impl Supervised for DbActor {}

impl Handler<SeenUser> for DbActor {
    type Result = ();

    fn handle(&mut self, SeenUser(user): SeenUser, ctx: &mut Self::Context) {
        self.buffer.push_user(user);
        if self.buffer.len() >= FLUSH_AT_ROWS {
            self.flush(ctx);
        }
    }
}

impl Handler<Delivered> for DbActor {
    type Result = ();

    fn handle(&mut self, Delivered(row): Delivered, ctx: &mut Self::Context) {
        if self.buffer.push_delivery(row) {
            tracing::error!("write buffer full: dropped the oldest delivery row");
        }
        if self.buffer.len() >= FLUSH_AT_ROWS {
            self.flush(ctx);
        }
    }
}

impl Handler<DeliveredNow> for DbActor {
    type Result = ResponseFuture<Result<(), DbError>>;

    /// The write runs in a task of its own, not on the actor's context: a restart of the actor
    /// while it runs drops every future on the context, and the row with it (the caller saw
    /// the mailbox fail and the place went unrecorded). A failed write hands its row to the
    /// buffer through the actor's address.
    fn handle(&mut self, DeliveredNow(row): DeliveredNow, ctx: &mut Self::Context) -> Self::Result {
        let (db, reach, actor) = (self.db.clone(), self.reach.clone(), ctx.address());
        let errors = self.errors.clone();
        let written = actix_rt::spawn(async move {
            let written = reach
                .query(queries::insert_deliveries(&db, vec![row.clone()]))
                .await;
            if written.is_err() {
                errors.record();
                actor.do_send(Delivered(row));
            }
            written
        });
        Box::pin(async move { written.await.unwrap_or(Err(DbError::Unavailable)) })
    }
}

impl Handler<Flush> for DbActor {
    type Result = ResponseActFuture<Self, Result<(), DbError>>;

    /// Waits for the writes in flight first: their rows are out of the buffer, and a failed
    /// one puts its rows back. Before, the shutdown stopped the actors' thread right after
    /// this answered, and a periodic write still running was dropped with its rows.
    fn handle(&mut self, _: Flush, _: &mut Self::Context) -> Self::Result {
        self.closing = true;
        let mut in_flight = self.in_flight.subscribe();
        let settled = async move {
            let _ = in_flight.wait_for(|rows| *rows == 0).await;
        };
        Box::pin(settled.into_actor(self).then(|(), actor, ctx| {
            let batch = actor.buffer.take();
            let rows = batch.len();
            let written = actor.write(batch, false, ctx);
            async move {
                written.await?;
                tracing::info!(rows, "write buffer flushed");
                Ok(())
            }
            .into_actor(actor)
        }))
    }
}

impl Handler<Written> for DbActor {
    type Result = ();

    fn handle(&mut self, written: Written, ctx: &mut Self::Context) {
        let Written {
            failed,
            periodic,
            rows,
            started,
        } = written;
        if periodic {
            self.flushing = false;
        }
        self.writing_rows -= rows;
        self.figures.written(started, failed.is_some());
        self.settle(failed);
        self.in_flight.send_replace(self.writing_rows);
        if self.buffer.len() >= FLUSH_AT_ROWS {
            self.flush(ctx);
        }
    }
}

impl Handler<BufferedRows> for DbActor {
    type Result = usize;

    fn handle(&mut self, _: BufferedRows, _: &mut Self::Context) -> usize {
        self.buffer.len() + self.writing_rows
    }
}

impl Handler<Ping> for DbActor {
    type Result = ResponseFuture<bool>;

    fn handle(&mut self, _: Ping, ctx: &mut Self::Context) -> Self::Result {
        let (db, reach) = (self.db.clone(), self.reach.clone());
        contained(ctx, async move {
            let ping = reach.query(async {
                tokio::time::timeout(PING_TIMEOUT, db.ping())
                    .await
                    .unwrap_or(Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)))
            });
            ping.await.is_ok()
        })
    }
}
