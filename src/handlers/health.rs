//! `GET /healthz` (the process is alive) and `GET /readyz` (ready to take updates: accepting,
//! and the database answers).

use std::sync::Arc;

use actix::Addr;
use actix_web::{HttpResponse, web};

use super::dispatch::Dispatcher;
use crate::actors::db_actor::{DbActor, Ping};

/// Always 200 while the process can answer HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// 200 while updates are admitted and the database answers; 503 otherwise.
pub async fn readyz(
    dispatcher: web::Data<Arc<Dispatcher>>,
    db: web::Data<Addr<DbActor>>,
) -> HttpResponse {
    if !dispatcher.is_accepting() {
        return HttpResponse::ServiceUnavailable().body("shutting down");
    }
    match db.send(Ping).await {
        Ok(true) => HttpResponse::Ok().body("ready"),
        _ => HttpResponse::ServiceUnavailable().body("database unreachable"),
    }
}
