//! Liveness and readiness for orchestrators and load balancers.

use crate::db::Db;
use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The process can reach its database.
pub async fn readyz(db: web::Data<Db>) -> HttpResponse {
    match db.query(|conn| diesel::sql_query("SELECT 1").execute(conn)).await {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(e) => {
            tracing::warn!(error = %e, "database not reachable");
            HttpResponse::ServiceUnavailable().content_type("text/plain").body("database unavailable")
        }
    }
}
