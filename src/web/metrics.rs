//! `/metrics` in Prometheus' text format, for a scraper holding the metrics token
//! (`Authorization: Bearer …`): without a configured token the page does not exist (404), and
//! without the right one it is refused (401). What it reports: `http::metrics` (requests,
//! latency, request records) and, read now, the database pool and the outbox.

use crate::db::Db;
use crate::http::Site;
use crate::http::metrics::{Metrics, gauge};
use crate::service::outbox;
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

pub async fn metrics(
    req: HttpRequest,
    site: web::Data<Site>,
    metrics: web::Data<Metrics>,
    db: web::Data<Db>,
) -> HttpResponse {
    let Some(token) = site.metrics_token.as_deref() else { return HttpResponse::NotFound().finish() };
    let presented = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
        return HttpResponse::Unauthorized().insert_header(("WWW-Authenticate", "Bearer")).finish();
    }
    let mut out = String::new();
    metrics.render(&mut out);
    let (open, in_use) = db.pool_state();
    gauge(&mut out, "teamdeck_db_pool_connections", "Database connections the pool holds open.", open);
    gauge(&mut out, "teamdeck_db_pool_in_use", "Database connections in use.", in_use);
    match db.query(outbox::counts).await {
        Ok((due, leased, failed)) => {
            gauge(&mut out, "teamdeck_outbox_due", "Emails due to be sent and not being sent.", due);
            gauge(&mut out, "teamdeck_outbox_leased", "Emails being sent (claimed by a worker).", leased);
            gauge(&mut out, "teamdeck_outbox_failed", "Emails given up after their last attempt.", failed);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: could not count the outbox"),
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(out)
}
