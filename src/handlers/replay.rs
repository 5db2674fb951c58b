//! The journal replayed at start-up: what an earlier run acknowledged and did not finish (a
//! stop past its grace, a crash, a kill) is claimed and handled again. An entry younger than
//! [`REPLAY_WINDOW`] is handled as if it had just arrived (a payment whatever its age: money
//! was taken); an older one, or one that already took [`MAX_ATTEMPTS`] start-ups, gets a short
//! apology in the user's language instead. Either way its entry goes once that is done.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use teloxide::types::{Update, UpdateKind};

use super::dispatch::{Admission, Dispatcher};
use crate::db::{entity::journal_entry, journal::Journal, now_ms};

/// Entries younger than this are handled again; older ones get an apology.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(10 * 60);
/// Start-ups an entry may be claimed by before it gets the apology (an update that crashes
/// the bot must not crash every start).
pub const MAX_ATTEMPTS: i32 = 3;
/// Entries claimed per transaction.
const CLAIM_BATCH: u64 = 500;
/// Tries of a claim that failed (SQLite refuses a transaction whose snapshot another writer
/// overtook: the webhook is already writing while the replay starts).
const CLAIM_TRIES: u32 = 3;
/// Pause between those tries.
const CLAIM_PAUSE: Duration = Duration::from_millis(200);

/// What a replay did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Replayed {
    /// Entries handled again.
    pub handled: usize,
    /// Entries answered with an apology.
    pub apologised: usize,
    /// Entries that could not be read (removed).
    pub unreadable: usize,
}

/// Claims and handles every entry an earlier run left; returns what it did.
pub async fn run(
    dispatcher: Arc<Dispatcher>,
    journal: Journal,
    db: DatabaseConnection,
) -> Replayed {
    let mut replayed = Replayed::default();
    loop {
        let Some(rows) = claim(&journal, &db).await else {
            break;
        };
        let claimed = rows.len();
        for row in rows {
            if !one(&dispatcher, &journal, row, &mut replayed).await {
                return report(replayed);
            }
        }
        if (claimed as u64) < CLAIM_BATCH {
            break;
        }
    }
    report(replayed)
}

/// One batch of entries, tried [`CLAIM_TRIES`] times; `None` when the journal cannot be read
/// (its entries stay for the next start).
async fn claim(journal: &Journal, db: &DatabaseConnection) -> Option<Vec<journal_entry::Model>> {
    let mut tries = 0;
    loop {
        tries += 1;
        match journal.claim(db, CLAIM_BATCH).await {
            Ok(rows) => return Some(rows),
            Err(error) if tries < CLAIM_TRIES => {
                tracing::warn!(%error, "claiming journal entries failed; trying again");
                tokio::time::sleep(CLAIM_PAUSE).await;
            }
            Err(error) => {
                tracing::error!(%error, "the journal could not be read: nothing replayed");
                return None;
            }
        }
    }
}

fn report(replayed: Replayed) -> Replayed {
    if replayed != Replayed::default() {
        tracing::info!(
            handled = replayed.handled,
            apologised = replayed.apologised,
            unreadable = replayed.unreadable,
            "journal replayed"
        );
    }
    replayed
}

/// Handles one claimed entry; `false` when shutdown began (the rest stay journaled).
async fn one(
    dispatcher: &Dispatcher,
    journal: &Journal,
    row: journal_entry::Model,
    replayed: &mut Replayed,
) -> bool {
    let Ok(update_id) = u32::try_from(row.update_id) else {
        return true;
    };
    let ticket = journal.adopt(update_id);
    let Some(update) = dispatcher.parse(row.body.as_bytes()) else {
        // Dropping the ticket removes an entry no run could use.
        replayed.unreadable += 1;
        return true;
    };
    let age = Duration::from_millis(u64::try_from(now_ms() - row.received_at).unwrap_or(0));
    let fresh = age < REPLAY_WINDOW || is_payment(&update);
    let again = fresh && row.attempts <= MAX_ATTEMPTS;
    if again {
        replayed.handled += 1;
        tracing::info!(
            update_id,
            ?age,
            attempt = row.attempts,
            "replaying a journaled update"
        );
    } else {
        replayed.apologised += 1;
    }
    dispatcher.replay(update, ticket, !again).await != Admission::Closed
}

fn is_payment(update: &Update) -> bool {
    matches!(&update.kind, UpdateKind::Message(message) if message.successful_payment().is_some())
}
