//! `GET /healthz` (the process is alive) and `GET /readyz` (ready to take updates).

use std::sync::Arc;

use actix_web::{HttpResponse, web};

use super::dispatch::Dispatcher;

/// Always 200 while the process can answer HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// 200 while updates are admitted; 503 once shutdown has begun.
pub async fn readyz(dispatcher: web::Data<Arc<Dispatcher>>) -> HttpResponse {
    if dispatcher.is_accepting() {
        HttpResponse::Ok().body("ready")
    } else {
        HttpResponse::ServiceUnavailable().body("shutting down")
    }
}
