//! `/stats`: operational figures for admins (by numeric user id, `ADMIN_USER_IDS`); for
//! anyone else only their own numbers. Only ever in a private chat: in a group the command
//! gets a note to ask in private (see `commands`). The in-process figures are the ones
//! `/metrics` shows ([`Figures`]).

use actix::MailboxError;
use teloxide::types::{ChatId, User};

use super::{context::Context, figures::Figures};
use crate::{
    actors::db_actor::{AdminStats, DonationFigures, DonorStars, OwnStats},
    db::{DbError, now_ms, queries::DbStats},
    i18n::Lang,
};

/// Answers `/stats` from `user` in `chat`.
pub async fn show(ctx: &Context, chat: ChatId, user: &User, lang: Lang) {
    let text = if ctx.settings.is_admin(user.id.0) {
        admin_text(ctx, lang).await
    } else {
        own_text(ctx, user.id.0, lang).await
    };
    ctx.reply(
        chat,
        &text.unwrap_or_else(|| lang.texts().stats_unavailable.to_owned()),
    );
}

async fn own_text(ctx: &Context, user_id: u64, lang: Lang) -> Option<String> {
    let asked = ctx.db.send(OwnStats {
        user_id: user_id as i64,
    });
    let stats = answered(ctx, asked.await)?;
    let given = ctx.db.send(DonorStars {
        user_id: user_id as i64,
        since_ms: 0,
    });
    let stars = answered(ctx, given.await)?;
    let units = lang.texts().units;
    let donations = if stars > 0 {
        let given = lang.texts().own_donations;
        given.replace("{stars}", &stars.to_string())
    } else {
        String::new()
    };
    let own = fill(
        lang.texts().own_stats,
        &[
            ("facts", stats.facts.to_string()),
            ("places", stats.places.to_string()),
            (
                "distance",
                format!("{:.1} {}", stats.distance_walked_m / 1000.0, units.1),
            ),
        ],
    );
    Some(own + &donations)
}

async fn admin_text(ctx: &Context, lang: Lang) -> Option<String> {
    let db: DbStats = answered(ctx, ctx.db.send(AdminStats).await)?;
    let day_ago_ms = now_ms() - 24 * 3600 * 1000;
    let gifts = answered(ctx, ctx.db.send(DonationFigures { day_ago_ms }).await)?;
    // The same snapshots `/metrics` reads: one source for both.
    let figures = Figures::gather(ctx).await;
    let (cache, gate) = (figures.cache.unwrap_or_default(), figures.gate);
    let lookups = cache.l1_hits + cache.l2_hits + cache.misses;
    let hits = cache.l1_hits + cache.l2_hits;
    let hit_ratio = if lookups == 0 {
        "—".to_owned()
    } else {
        format!("{:.0}%", 100.0 * hits as f64 / lookups as f64)
    };
    let ms = |value: Option<i64>| value.map_or("—".to_owned(), |ms| format!("{ms} ms"));
    let (queued, in_flight, permits, calls) = gate.map_or(([0; 3], 0, 0, 0), |g| {
        (g.queued, g.in_flight, g.permits, g.calls_started)
    });
    let uptime = ctx.started_at.elapsed().as_secs();
    let (live, live_cap) = figures
        .tours
        .map_or((0, 0), |tours| (tours.active, tours.cap));
    Some(fill(
        lang.texts().admin_stats,
        &[
            ("users_total", db.users_total.to_string()),
            ("users_active", db.users_active_24h.to_string()),
            ("users_new", db.users_new_24h.to_string()),
            ("facts_24h", db.facts_24h.total().to_string()),
            ("cache_24h", db.facts_24h.cache.to_string()),
            ("llm_24h", db.facts_24h.llm.to_string()),
            ("fallback_24h", db.facts_24h.fallback.to_string()),
            ("facts_total", db.facts_total.total().to_string()),
            ("cache_total", db.facts_total.cache.to_string()),
            ("llm_total", db.facts_total.llm.to_string()),
            ("fallback_total", db.facts_total.fallback.to_string()),
            ("hit_ratio", hit_ratio),
            ("llm_calls", calls.to_string()),
            ("p50", ms(db.latency_p50_ms)),
            ("p95", ms(db.latency_p95_ms)),
            ("queue_interactive", queued[0].to_string()),
            ("queue_live", queued[1].to_string()),
            ("queue_background", queued[2].to_string()),
            ("in_flight", in_flight.to_string()),
            ("permits", permits.to_string()),
            ("live", live.to_string()),
            ("live_cap", live_cap.to_string()),
            ("donations", gifts.count.to_string()),
            ("refunds", gifts.refunds.to_string()),
            ("stars_24h", gifts.stars_24h.to_string()),
            ("stars_total", gifts.stars_total.to_string()),
            ("errors", ctx.errors.last_24h().to_string()),
            (
                "uptime",
                format!("{}h {:02}m", uptime / 3600, uptime % 3600 / 60),
            ),
            ("version", env!("CARGO_PKG_VERSION").to_owned()),
        ],
    ))
}

/// The figures the database gave, or `None` after logging and counting why there are none.
fn answered<T>(ctx: &Context, answer: Result<Result<T, DbError>, MailboxError>) -> Option<T> {
    match answer {
        Ok(Ok(figures)) => Some(figures),
        Ok(Err(error)) => {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "figures unreadable"
            );
            None
        }
        Err(error) => {
            ctx.errors.record();
            tracing::error!(%error, "the database actor is unreachable; no figures");
            None
        }
    }
}

/// Replaces every `{name}` in `template`.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    values
        .iter()
        .fold(template.to_owned(), |text, (name, value)| {
            text.replace(&format!("{{{name}}}"), value)
        })
}
