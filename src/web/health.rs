//! Liveness and readiness for orchestrators and load balancers.

use crate::db::Db;
use crate::identity::Identity;
use actix_web::{HttpResponse, web};
use diesel::RunQueryDsl;
use std::time::Duration;

/// How long readiness waits for the database before it says no.
const READY_WITHIN: Duration = Duration::from_secs(1);

/// The process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The process can reach its database, through the pool and through the connections of the
/// per-request lookups (which every signed-in request needs), each within a second.
pub async fn readyz(db: web::Data<Db>, identity: web::Data<Identity>) -> HttpResponse {
    let pool = tokio::time::timeout(READY_WITHIN, db.query(|conn| diesel::sql_query("SELECT 1").execute(conn)));
    // Nobody has id 0: the lookup answers "no one" once its connection answers.
    let lookups = tokio::time::timeout(READY_WITHIN, identity.person(0));
    let (pool, lookups) = tokio::join!(pool, lookups);
    let pool_ok = matches!(pool, Ok(Ok(_)));
    let lookups_ok = matches!(lookups, Ok(Ok(_)));
    if pool_ok && lookups_ok {
        return HttpResponse::Ok().content_type("text/plain").body("ready");
    }
    tracing::warn!(pool_ok, lookups_ok, "not ready: the database is not answering");
    HttpResponse::ServiceUnavailable()
        .content_type("text/plain")
        .insert_header(("Retry-After", crate::http::error::UNAVAILABLE_RETRY_AFTER_SECS.to_string()))
        .body(format!(
            "database: {}\nlookups: {}\n",
            if pool_ok { "ok" } else { "unavailable" },
            if lookups_ok { "ok" } else { "unavailable" }
        ))
}
