//! The journal's queries: one transaction per group of writes and removals, and the claim
//! of what an earlier run left.

use std::collections::HashSet;

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait, TryInsertResult,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};

use crate::db::entity::journal_entry::{self, Column};

/// An update to write down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Telegram's `update_id`.
    pub update_id: u32,
    /// The update as JSON.
    pub body: String,
    /// When it was acknowledged (Unix ms).
    pub received_at: i64,
}

/// Writes `entries` and deletes `removals` in one transaction; returns the ids of the entries
/// that were new (an id already journaled is left as it is).
pub async fn commit(
    db: &DatabaseConnection,
    entries: &[NewEntry],
    removals: &[u32],
) -> Result<HashSet<u32>, DbErr> {
    let txn = db.begin().await?;
    let mut inserted = HashSet::new();
    if !entries.is_empty() {
        let rows = entries.iter().map(|entry| journal_entry::ActiveModel {
            update_id: Set(i64::from(entry.update_id)),
            body: Set(entry.body.clone()),
            received_at: Set(entry.received_at),
            attempts: Set(0),
            claimed_at: Set(None),
        });
        let result = journal_entry::Entity::insert_many(rows)
            .on_conflict_do_nothing()
            .exec_with_returning_keys(&txn)
            .await?;
        if let TryInsertResult::Inserted(keys) = result {
            inserted.extend(keys.into_iter().filter_map(|id| u32::try_from(id).ok()));
        }
    }
    if !removals.is_empty() {
        journal_entry::Entity::delete_many()
            .filter(Column::UpdateId.is_in(removals.iter().map(|id| i64::from(*id))))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(inserted)
}

/// Claims up to `limit` entries acknowledged before `started_at` (Unix ms) and not claimed
/// since, oldest first: they are what an earlier run left unfinished. On PostgreSQL the rows
/// are read `FOR UPDATE SKIP LOCKED`, so two instances starting together never claim the same
/// entry; each claim counts an attempt.
pub async fn claim(
    db: &DatabaseConnection,
    started_at: i64,
    limit: u64,
) -> Result<Vec<journal_entry::Model>, DbErr> {
    let txn = db.begin().await?;
    let mut rows = journal_entry::Entity::find()
        .filter(Column::ReceivedAt.lt(started_at))
        .filter(
            Column::ClaimedAt
                .is_null()
                .or(Column::ClaimedAt.lt(started_at)),
        )
        .order_by_asc(Column::ReceivedAt)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if !rows.is_empty() {
        let ids: Vec<i64> = rows.iter().map(|row| row.update_id).collect();
        journal_entry::Entity::update_many()
            .col_expr(Column::ClaimedAt, Expr::value(super::super::now_ms()))
            .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
            .filter(Column::UpdateId.is_in(ids))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    for row in &mut rows {
        row.attempts += 1;
    }
    Ok(rows)
}

/// How many entries there are and when the oldest was acknowledged (Unix ms).
pub async fn size(db: &DatabaseConnection) -> Result<(u64, Option<i64>), DbErr> {
    use sea_orm::PaginatorTrait;
    let count = journal_entry::Entity::find().count(db).await?;
    let oldest = journal_entry::Entity::find()
        .order_by_asc(Column::ReceivedAt)
        .one(db)
        .await?
        .map(|row| row.received_at);
    Ok((count, oldest))
}
