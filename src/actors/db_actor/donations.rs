//! The `DbActor`'s donation messages: each runs at once (never write-behind), in a future
//! over a clone of the pool, so the mailbox never waits on a query.

use actix::prelude::*;

use super::DbActor;
use crate::db::{
    DbError,
    donations::{self, Credit, DonationStats, Payment},
    entity::donation,
};

/// Credits a payment (once per charge); answers whether the donor is still to be thanked.
#[derive(Message)]
#[rtype(result = "Result<Credit, DbError>")]
pub struct CreditDonation(pub Payment);

/// The donor of `charge_id` was thanked.
#[derive(Message)]
#[rtype(result = "Result<(), DbError>")]
pub struct MarkThanked {
    /// Telegram's charge id.
    pub charge_id: String,
    /// When (Unix ms).
    pub at: i64,
}

/// The donation of a charge, if known.
#[derive(Message)]
#[rtype(result = "Result<Option<donation::Model>, DbError>")]
pub struct FindDonation(pub String);

/// A charge was refunded.
#[derive(Message)]
#[rtype(result = "Result<(), DbError>")]
pub struct MarkRefunded {
    /// Telegram's charge id.
    pub charge_id: String,
    /// When (Unix ms).
    pub at: i64,
}

/// Stars a user gave since a time (Unix ms), refunds excluded.
#[derive(Message)]
#[rtype(result = "Result<u64, DbError>")]
pub struct DonorStars {
    /// Telegram user id.
    pub user_id: i64,
    /// Oldest donation that counts.
    pub since_ms: i64,
}

/// Donation figures for `/stats`, the last 24 hours' counted from a time (Unix ms).
#[derive(Message)]
#[rtype(result = "Result<DonationStats, DbError>")]
pub struct DonationFigures {
    /// A day before now.
    pub day_ago_ms: i64,
}

/// Runs `query` over the pool in a future of its own, mapping its error.
macro_rules! at_once {
    ($actor:expr, $ctx:expr, |$db:ident| $query:expr) => {{ $actor.at_once($ctx, move |$db| async move { $query.await }) }};
}

impl Handler<CreditDonation> for DbActor {
    type Result = ResponseFuture<Result<Credit, DbError>>;

    fn handle(
        &mut self,
        CreditDonation(payment): CreditDonation,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        at_once!(self, ctx, |db| donations::credit(&db, payment))
    }
}

impl Handler<MarkThanked> for DbActor {
    type Result = ResponseFuture<Result<(), DbError>>;

    fn handle(&mut self, msg: MarkThanked, ctx: &mut Context<Self>) -> Self::Result {
        at_once!(self, ctx, |db| donations::mark_thanked(
            &db,
            &msg.charge_id,
            msg.at
        ))
    }
}

impl Handler<FindDonation> for DbActor {
    type Result = ResponseFuture<Result<Option<donation::Model>, DbError>>;

    fn handle(
        &mut self,
        FindDonation(charge_id): FindDonation,
        ctx: &mut Context<Self>,
    ) -> Self::Result {
        at_once!(self, ctx, |db| donations::find(&db, &charge_id))
    }
}

impl Handler<MarkRefunded> for DbActor {
    type Result = ResponseFuture<Result<(), DbError>>;

    fn handle(&mut self, msg: MarkRefunded, ctx: &mut Context<Self>) -> Self::Result {
        at_once!(self, ctx, |db| donations::mark_refunded(
            &db,
            &msg.charge_id,
            msg.at
        ))
    }
}

impl Handler<DonorStars> for DbActor {
    type Result = ResponseFuture<Result<u64, DbError>>;

    fn handle(&mut self, msg: DonorStars, ctx: &mut Context<Self>) -> Self::Result {
        at_once!(self, ctx, |db| donations::stars_since(
            &db,
            msg.user_id,
            msg.since_ms
        ))
    }
}

impl Handler<DonationFigures> for DbActor {
    type Result = ResponseFuture<Result<DonationStats, DbError>>;

    fn handle(&mut self, msg: DonationFigures, ctx: &mut Context<Self>) -> Self::Result {
        at_once!(self, ctx, |db| donations::stats(&db, msg.day_ago_ms))
    }
}
