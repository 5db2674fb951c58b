//! `GET /healthz` (the process is alive) and `GET /readyz` (ready to take updates: accepting,
//! every actor running within its restart limit and answering, and the database answers).

use std::sync::Arc;

use actix::Addr;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::dispatch::Dispatcher;
use crate::actors::{
    db_actor::{DbActor, Ping},
    supervision::{ActorState, Supervision},
};

/// What `/readyz` asks.
pub struct Readiness {
    /// Whether updates are admitted (not shutting down).
    pub dispatcher: Arc<Dispatcher>,
    /// The database, pinged through its actor.
    pub db: Addr<DbActor>,
    /// Every actor's state and restarts.
    pub supervision: Supervision,
}

/// Always 200 while the process can answer HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// 200 while updates are admitted, every actor runs within its restart limit and answers a
/// probe within a second, and the database answers; 503 otherwise. The JSON body names each part's state, e.g.
/// `{"ready":false,"accepting":true,"database":"reachable","actors":{"cache":{"state":
/// "failing","restarts":6,"recent_restarts":6},...}}`.
pub async fn readyz(readiness: web::Data<Readiness>) -> HttpResponse {
    let accepting = readiness.dispatcher.is_accepting();
    let database = matches!(readiness.db.send(Ping).await, Ok(true));
    let actors = readiness.supervision.check().await;
    let actors_ready = actors
        .iter()
        .all(|actor| actor.state == ActorState::Running);
    let ready = accepting && database && actors_ready;
    let by_name: serde_json::Map<String, serde_json::Value> = actors
        .iter()
        .map(|actor| {
            let report = json!({
                "state": actor.state,
                "restarts": actor.restarts,
                "recent_restarts": actor.recent_restarts,
            });
            (actor.name.to_owned(), report)
        })
        .collect();
    let body = json!({
        "ready": ready,
        "accepting": accepting,
        "database": if database { "reachable" } else { "unreachable" },
        "actors": by_name,
    });
    let mut response = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response.json(body)
}
