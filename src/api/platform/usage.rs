//! `usage/events`: the gateways report metered usage in batches.

use super::{Platform, read_body};
use crate::api::error::{ApiError, ErrorBody};
use crate::db::Db;
use crate::http::AppError;
use crate::http::Site;
use crate::identity::Identity;
use crate::service::Change;
use crate::service::outbox::OutboxSignal;
use crate::service::usage::{self, EventIn};
use actix_web::{HttpRequest, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

const MAX_USAGE_BODY: usize = 2 * 1024 * 1024;

#[derive(Deserialize, ToSchema)]
pub struct UsageBatch {
    /// Up to 1,000 events: `{ id, account, key | user, product, quantity, unit, unit_price
    /// (micro-dollars per unit), at (RFC 3339) }`.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct RejectedOut {
    /// The event's position in the batch, from 0.
    pub index: usize,
    pub id: Option<String>,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct UsageReport {
    /// New events recorded.
    pub accepted: usize,
    /// Events recorded before (same id): nothing changed.
    pub duplicates: usize,
    /// Events refused; the others of the batch were kept.
    pub rejected: Vec<RejectedOut>,
}

/// Records a batch of metered usage. Idempotent by event id; each bad event is rejected with
/// its index and reason while the good ones are kept.
#[utoipa::path(post, path = "/api/v1/usage/events", tag = "super::platform", request_body = UsageBatch, security(("service_token" = [])),
    responses((status = 200, body = UsageReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn usage_events(
    req: HttpRequest,
    payload: web::Payload,
    platform: web::Data<Platform>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    signal: web::Data<OutboxSignal>,
    identity: web::Data<Identity>,
) -> Result<web::Json<UsageReport>, ApiError> {
    platform.require_service(&req)?;
    let body = read_body(payload, MAX_USAGE_BODY).await?;
    let batch: UsageBatch = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("The body must be {{\"events\": [...]}}: {e}")))?;
    if batch.events.len() > usage::MAX_BATCH {
        return Err(AppError::BadRequest(format!(
            "A batch holds at most {} events; this one has {}.",
            usage::MAX_BATCH,
            batch.events.len()
        ))
        .into());
    }
    let events: Vec<Result<EventIn, String>> = batch
        .events
        .into_iter()
        .map(|v| serde_json::from_value::<EventIn>(v).map_err(|e| format!("not a usage event: {e}")))
        .collect();
    let base_url = site.base_url.clone();
    let report = db.query(move |conn| usage::ingest(conn, &events, &base_url)).await?;
    if report.alerts_queued > 0 {
        signal.wake();
    }
    if report.capped > 0 {
        // A key or team reached its cap: this instance's kept introspection answers are
        // stale now (others hear it through the database, see `identity`).
        identity.heard(&[Change::SpendCapped]);
    }
    Ok(web::Json(UsageReport {
        accepted: report.accepted,
        duplicates: report.duplicates,
        rejected: report
            .rejected
            .into_iter()
            .map(|r| RejectedOut { index: r.index, id: r.id, reason: r.reason })
            .collect(),
    }))
}
