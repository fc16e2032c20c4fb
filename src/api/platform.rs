//! The control-plane interface for the platform's gateways and payment provider:
//! credential introspection, usage ingestion (both with `Authorization: Bearer <service
//! token>`, off unless `TEAMDECK_SERVICE_TOKEN` is set) and the payment webhook (HMAC-signed,
//! off unless `TEAMDECK_BILLING_WEBHOOK_SECRET` is set).

use super::v1::ErrorBody;
use crate::db::Db;
use crate::domain::now_ms;
use crate::http::AppError;
use crate::http::Site;
use crate::service::billing::{self, BillingError};
use crate::service::credentials::{self, CredentialCache, Epoch, Introspection};
use crate::service::outbox::OutboxSignal;
use crate::service::usage::{self, EventIn};
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

/// What the platform endpoints need, from the settings.
pub struct Platform {
    /// SHA-256 of the service token (compared in constant time); `None` turns the gateway
    /// endpoints off.
    service_token_hash: Option<[u8; 32]>,
    webhook_secret: Option<Vec<u8>>,
    pub cache: CredentialCache,
}

/// A webhook's timestamp may be this far from the server's clock.
const WEBHOOK_TOLERANCE_SECS: i64 = 300;
const MAX_USAGE_BODY: usize = 2 * 1024 * 1024;
/// Bodies of introspection and webhook calls: small JSON objects.
const MAX_WEBHOOK_BODY: usize = 64 * 1024;
pub const SIGNATURE_HEADER: &str = "Teamdeck-Signature";

impl Platform {
    pub fn new(service_token: Option<&str>, webhook_secret: Option<&str>, cache_ttl: std::time::Duration) -> Self {
        Self {
            service_token_hash: service_token.filter(|t| !t.is_empty()).map(|t| Sha256::digest(t.as_bytes()).into()),
            webhook_secret: webhook_secret.filter(|s| !s.is_empty()).map(|s| s.as_bytes().to_vec()),
            cache: CredentialCache::new(cache_ttl, 100_000, Epoch::global()),
        }
    }

    /// Refuses a call without the service token (404 when the endpoints are off: they do not
    /// exist on this deployment).
    fn require_service(&self, req: &HttpRequest) -> Result<(), AppError> {
        let Some(expected) = &self.service_token_hash else {
            return Err(AppError::NotFound);
        };
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| AppError::Unauthenticated("Send `Authorization: Bearer <service token>`.".into()))?;
        let hash: [u8; 32] = Sha256::digest(presented.trim().as_bytes()).into();
        if bool::from(hash.ct_eq(expected)) {
            Ok(())
        } else {
            Err(AppError::Unauthenticated("This service token is not valid.".into()))
        }
    }
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("Could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::BadRequest(format!("The request body is larger than {} KiB.", limit / 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[derive(Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// The caller's `Authorization` header value: `Key tdk_…` or `Bearer tdt_…`.
    pub credential: String,
    /// The team a login token acts for (the caller's `X-Teamdeck-Team`); without it, the
    /// member's personal account.
    pub team: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountOut {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// `personal` or `team`.
    pub kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntrospectUser {
    pub id: String,
    pub name: String,
    pub email: String,
    /// The member's role in the account.
    pub role: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct IntrospectKey {
    pub id: String,
    pub name: String,
    pub masked: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntrospectResponse {
    pub active: bool,
    /// Why not, when not active: `unknown`, `revoked`, `archived` or `not_a_member`.
    pub reason: Option<String>,
    /// Who is billed: report usage against this account's slug.
    pub account: Option<AccountOut>,
    /// For a login token: the member the call is attributed to (report usage with `user`).
    pub user: Option<IntrospectUser>,
    /// For a team key: the key the call is attributed to (report usage with `key`).
    pub key: Option<IntrospectKey>,
    /// A key's scope, `API` or `ADMIN`.
    pub scope: Option<String>,
    /// Seconds this answer may be reused by the caller.
    pub cache_seconds: u64,
}

fn response(answer: &Introspection, cache_seconds: u64) -> IntrospectResponse {
    match answer {
        Introspection::Inactive(reason) => IntrospectResponse {
            active: false,
            reason: Some((*reason).to_owned()),
            account: None,
            user: None,
            key: None,
            scope: None,
            cache_seconds: 0,
        },
        Introspection::Active(g) => IntrospectResponse {
            active: true,
            reason: None,
            account: Some(AccountOut {
                id: g.account.id.to_string(),
                slug: g.account.slug.clone(),
                name: g.account.name.clone(),
                kind: g.account.kind.as_str().to_owned(),
            }),
            user: g.user.as_ref().map(|u| IntrospectUser {
                id: u.id.to_string(),
                name: u.name.clone(),
                email: u.email.clone(),
                role: g.role.map(|r| r.as_str().to_owned()),
            }),
            key: g.key.as_ref().map(|k| IntrospectKey {
                id: k.id.to_string(),
                name: k.name.clone(),
                masked: k.masked(),
            }),
            scope: g.scope.map(|s| s.as_str().to_owned()),
            cache_seconds,
        },
    }
}

/// Who a credential belongs to and whether it may be used now (for the platform's gateways).
/// Answers may come from a cache for up to `cache_seconds`; a key revoked, a team archived or
/// a member removed on this instance is seen at once.
#[utoipa::path(post, path = "/api/v1/introspect", request_body = IntrospectRequest, security(("service_token" = [])),
    responses((status = 200, body = IntrospectResponse), (status = 401, body = ErrorBody)))]
pub async fn introspect(
    req: HttpRequest,
    payload: web::Payload,
    platform: web::Data<Platform>,
    db: web::Data<Db>,
) -> Result<web::Json<IntrospectResponse>, AppError> {
    platform.require_service(&req)?;
    let body = read_body(payload, MAX_WEBHOOK_BODY).await?;
    let IntrospectRequest { credential, team } = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("The body must be {{\"credential\": \"…\"}}: {e}")))?;
    let team = team.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let cache_key = credentials::cache_key(&credential, team.as_deref());
    // A gateway may reuse an answer only for what is left of its life here, so a change is
    // seen everywhere within one TTL.
    if let Some((answer, left)) = platform.cache.get(&cache_key) {
        return Ok(web::Json(response(&answer, left.as_millis().div_ceil(1000) as u64)));
    }
    let ttl = platform.cache.ttl().as_secs();
    let epoch = platform.cache.epoch();
    let answer =
        db.query(move |conn| crate::service::credentials::introspect(conn, &credential, team.as_deref())).await?;
    let answer = Arc::new(answer);
    platform.cache.put_active(cache_key, epoch, answer.clone());
    Ok(web::Json(response(&answer, ttl)))
}

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
#[utoipa::path(post, path = "/api/v1/usage/events", request_body = UsageBatch, security(("service_token" = [])),
    responses((status = 200, body = UsageReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn usage_events(
    req: HttpRequest,
    payload: web::Payload,
    platform: web::Data<Platform>,
    db: web::Data<Db>,
    site: web::Data<Site>,
    signal: web::Data<OutboxSignal>,
) -> Result<web::Json<UsageReport>, AppError> {
    platform.require_service(&req)?;
    let body = read_body(payload, MAX_USAGE_BODY).await?;
    let batch: UsageBatch = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("The body must be {{\"events\": [...]}}: {e}")))?;
    if batch.events.len() > usage::MAX_BATCH {
        return Err(AppError::BadRequest(format!(
            "A batch holds at most {} events; this one has {}.",
            usage::MAX_BATCH,
            batch.events.len()
        )));
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

#[derive(Deserialize, ToSchema)]
pub struct WebhookEvent {
    /// The provider's event id: each is processed once.
    pub id: String,
    /// `invoice.paid` (other types are acknowledged and ignored).
    #[serde(rename = "type")]
    pub kind: String,
    /// The invoice number, e.g. `TD-2026-000123`.
    pub invoice: String,
    /// Micro-dollars received; must match the invoice's total when given.
    pub amount: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookOutcome {
    pub received: bool,
    pub invoice: Option<String>,
    pub status: String,
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, within the tolerance.
pub fn verify_signature(secret: &[u8], header_value: &str, body: &[u8], now_secs: i64) -> Result<(), &'static str> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header_value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let t = timestamp.ok_or("the signature has no timestamp")?;
    if now_secs.abs_diff(t) > WEBHOOK_TOLERANCE_SECS as u64 {
        return Err("the signature's timestamp is too old or in the future");
    }
    for signature in signatures {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| "bad secret")?;
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        if mac.verify_slice(&signature).is_ok() {
            return Ok(());
        }
    }
    Err("the signature does not match")
}

/// The payment provider tells Teamdeck an invoice was paid. Signed with HMAC-SHA256 in the
/// `Teamdeck-Signature` header; a replayed event id is refused (409).
#[utoipa::path(post, path = "/api/v1/billing/webhook", request_body = WebhookEvent, security(()),
    responses((status = 200, body = WebhookOutcome), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn billing_webhook(
    req: HttpRequest,
    payload: web::Payload,
    platform: web::Data<Platform>,
    db: web::Data<Db>,
) -> Result<web::Json<WebhookOutcome>, AppError> {
    let Some(secret) = &platform.webhook_secret else {
        return Err(AppError::NotFound);
    };
    let body = read_body(payload, MAX_WEBHOOK_BODY).await?;
    let signature = req.headers().get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let Err(why) = verify_signature(secret, signature, &body, now_ms() / 1000) {
        tracing::warn!(why, "billing webhook refused");
        return Err(AppError::Unauthenticated(format!("Webhook signature refused: {why}.")));
    }
    let event: WebhookEvent =
        serde_json::from_slice(&body).map_err(|e| AppError::BadRequest(format!("Not a webhook event: {e}")))?;
    if event.kind != "invoice.paid" {
        return Ok(web::Json(WebhookOutcome { received: true, invoice: None, status: "ignored".into() }));
    }
    let WebhookEvent { id, invoice, amount, .. } = event;
    if id.trim().is_empty() || id.len() > 200 {
        return Err(AppError::BadRequest("The event needs an `id` of 1 to 200 characters.".into()));
    }
    let paid = db
        .run(move |conn| billing::webhook_paid(conn, id.trim(), &invoice, amount).map_err(WebhookError::from))
        .await
        .map_err(|e| match e {
            WebhookError::Billing(BillingError::Replayed) => {
                AppError::Conflict("This event id was already processed.".into())
            }
            WebhookError::Billing(BillingError::NotFound) => AppError::NotFound,
            WebhookError::Billing(e @ (BillingError::AlreadyPaid(_) | BillingError::Void(_))) => {
                AppError::Conflict(e.to_string())
            }
            WebhookError::Billing(e @ BillingError::WrongAmount { .. }) => AppError::BadRequest(e.to_string()),
            WebhookError::Billing(e) => AppError::internal(e),
            WebhookError::Db(e) => AppError::from(e),
        })?;
    tracing::info!(invoice = %paid.number, "invoice paid by the payment provider");
    Ok(web::Json(WebhookOutcome { received: true, invoice: Some(paid.number), status: "paid".into() }))
}

#[derive(Debug, thiserror::Error)]
enum WebhookError {
    #[error(transparent)]
    Billing(#[from] BillingError),
    #[error(transparent)]
    Db(#[from] crate::db::DbError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn only_a_fresh_signature_of_this_body_with_this_secret_passes() {
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        assert_eq!(verify_signature(b"s3cret", &sign(b"s3cret", now, body), body, now), Ok(()));
        assert!(verify_signature(b"s3cret", &sign(b"other", now, body), body, now).is_err());
        assert!(verify_signature(b"s3cret", &sign(b"s3cret", now, body), br#"{"id":"evt_2"}"#, now).is_err());
        assert!(verify_signature(b"s3cret", &sign(b"s3cret", now - 301, body), body, now).is_err());
        assert!(verify_signature(b"s3cret", "v1=00", body, now).is_err());
        assert!(verify_signature(b"s3cret", "", body, now).is_err());
    }
}
